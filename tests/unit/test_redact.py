"""Secrets never reach what a run writes: the redaction rules, and the records and spans of a
failed journey whose request and response carry secrets (JUnit and the report are built from
those records and spans)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from harness import journey
from harness.errors import HttpStatusError
from harness.redact import REDACTED, command_line, redact, redact_url, stored
from harness.telemetry import spans
from harness.telemetry.recorder import LightTracerProvider
from harness.telemetry.sidecar import SpoolExport
from harness.telemetry.spool import SpanSpool
from harness.testing import FakeTransport, json_response, run_once

CARD = "4111 1111 1111 1111"
SECRETS = ("s3cr3t-tok", "hunter2", "4111111111111111", CARD, "sess-XYZ", "abcdef123456")


@pytest.mark.parametrize(
    ("text", "kept", "gone"),
    [
        ("Authorization: Bearer abcdef123456", "Authorization: ", "abcdef123456"),
        ("sent bearer abcdef123456 to /x", "sent bearer", "abcdef123456"),
        ('{"password": "hunter2", "name": "Ann"}', '"name": "Ann"', "hunter2"),
        ('{"card_number":"4111111111111111"}', '"card_number"', "4111111111111111"),
        ("token=s3cr3t-tok&page=2", "page=2", "s3cr3t-tok"),
        ("Cookie: session=sess-XYZ; theme=dark", "Cookie: ", "sess-XYZ"),
        (f"card {CARD} declined", "••••1111 declined", CARD),
        ("api_key: abc-def-ghi", "api_key: ", "abc-def-ghi"),
        ('{"new_password": "hunter2", "id": 7}', '"id": 7', "hunter2"),
        ('{"secret_key": "s3cr3t-tok"}', '"secret_key"', "s3cr3t-tok"),
        ('{"privateKey": "abcdef123456"}', '"privateKey"', "abcdef123456"),
        ("x-api-key: abcdef123456", "x-api-key: ", "abcdef123456"),
        ("X-Auth-Token: s3cr3t-tok", "X-Auth-Token: ", "s3cr3t-tok"),
        ("key=abcdef123456&page=2", "page=2", "abcdef123456"),
        ("sig=abcdef123456&signature=s3cr3t-tok", "sig=", "abcdef123456"),
        ("otp=123456&email=a@b.c", "email=a@b.c", "123456"),
        ("wrong password Hunter2 for ann", "for ann", "Hunter2"),
    ],
)
def test_redact_removes_the_secret_and_keeps_the_rest(text: str, kept: str, gone: str) -> None:
    cleaned = redact(text)
    assert gone not in cleaned and kept in cleaned


def test_redact_leaves_words_that_only_contain_a_short_name_alone() -> None:
    text = "monkey=3&keyboard=us&author=Ann&pinned=yes"
    assert redact(text) == text


def test_a_secret_split_by_the_excerpt_cut_is_still_redacted() -> None:
    """Redact the whole body, then cut: a token that crossed the 160-character cut used to leak
    all but its last characters."""
    from harness.touchpoints.http import Response

    token = "tok_" + "A1b2C3d4" * 6 + "xyz"  # 55 characters
    body = ('{"padding": "' + "p" * 100 + '", "access_token": "' + token + '"}').encode()
    reply = Response(
        method="GET", url="http://t/x", status=500, headers={}, content=body, elapsed_ms=1.0
    )
    with pytest.raises(HttpStatusError) as caught:
        reply.expect(200)
    message = str(caught.value)
    assert "access_token" in message and "A1b2C3d4" not in message


def test_redact_leaves_ordinary_numbers_and_ids_alone() -> None:
    text = "order 1234567890123 of 2026-11-29 took 1234 ms; trace 4bf92f3577b34da6a3ce929d0e0e4736"
    assert redact(text) == text  # 13 digits but not a Luhn-valid card; ids are hex


def test_redact_url_masks_sensitive_query_values_only() -> None:
    url = "http://shop.test/api/v1/orders?page=2&access_token=s3cr3t-tok&sort=asc#top"
    assert (
        redact_url(url)
        == f"http://shop.test/api/v1/orders?page=2&access_token={REDACTED}&sort=asc#top"
    )
    assert redact_url("http://shop.test/products/42") == "http://shop.test/products/42"


def leaky(request):  # a server that echoes secrets in a 500
    body = {"error": f"card {CARD} declined", "password": "hunter2", "session": "sess-XYZ"}
    return json_response(500, body)


@journey
def pay_with_secrets(j):
    with j.step("pay", on="api"):
        j.api.bearer("abcdef123456")
        j.api.post("/payments?token=s3cr3t-tok", json={"card_number": CARD.replace(" ", "")})


def test_records_and_spans_of_a_failed_step_hold_no_secret(tmp_path: Path) -> None:
    spool = SpanSpool(tmp_path / "spans.spool")
    spans.use_provider(LightTracerProvider(spool))
    try:
        record, sink = run_once(pay_with_secrets, transport=FakeTransport(leaky))
    finally:
        spans.use_provider(None)
        spool.close()
    export = SpoolExport(tmp_path / "traces.jsonl", {"service.name": "t"})
    with open(spool.path, "rb") as handle:
        export.follow(handle)
    export.shutdown()
    written = {
        "steps": "\n".join(s.model_dump_json() for s in sink.steps),
        "iteration": record.model_dump_json(),
        "traces": (tmp_path / "traces.jsonl").read_text(),
    }
    assert record.outcome == "failed" and "declined" in record.message
    for name, text in written.items():
        for secret in SECRETS:
            assert secret not in text, f"{secret!r} leaked into {name}"
    assert "••••1111" in written["iteration"]
    request = json.loads(written["steps"])["requests"][0]
    assert request["url"].endswith(f"/payments?token={REDACTED}")


def test_a_message_from_the_target_loses_its_control_characters() -> None:
    """ANSI escapes and control characters a target sends reach neither the terminal nor
    junit.xml (where they made the XML invalid)."""
    import xml.etree.ElementTree as ET

    def hostile(request):
        raw = json_response(500, {})
        body = b"\x1b[2J\x1b]0;pwned\x07boom\x00\x08\x1b[31mred"
        return dataclasses.replace(raw, body=body)

    @journey
    def poke(j):
        with j.step("poke", on="api"):
            j.api.get("/x")

    record, _ = run_once(poke, transport=FakeTransport(hostile))
    message = record.message or ""
    assert "boom" in message and "red" in message
    assert not any(ord(c) < 32 and c not in "\t\n" for c in message), repr(message)
    assert "pwned" not in message  # the terminal-title sequence went whole
    element = ET.Element("failure", message=message)
    ET.fromstring(ET.tostring(element))  # valid XML


def test_a_stored_command_line_keeps_no_secret() -> None:
    argv = [
        "harness", "load", "--otlp-endpoint", "http://otel:hunter2@127.0.0.1:4318/?token=abc&x=1",
        "--cluster-key", "s3cr3t", "--api-token=zzz", "-k", "monkey", "--users", "5",
    ]  # fmt: skip
    shown = command_line(argv)
    assert "hunter2" not in str(shown) and "s3cr3t" not in str(shown) and "zzz" not in str(shown)
    assert "abc" not in str(shown)
    assert shown[3] == "http://127.0.0.1:4318/?token=[redacted]&x=1"
    assert shown[5] == "[redacted]" and shown[6] == "--api-token=[redacted]"
    assert shown[7:] == ["-k", "monkey", "--users", "5"]


def test_stored_values_lose_url_credentials_and_sensitive_names_only() -> None:
    kept = stored(
        {
            "targets": {"candidate": {"web": "https://bob:pw@shop.test/"}},
            "hooks": [{"url": "https://hooks.test/x?sig=1&env=prod", "secret": "abc"}],
            "run_id": "20261206-173648-load-94cc",
            "seed": 4111111111111111,
        }
    )
    assert kept["targets"]["candidate"]["web"] == "https://shop.test/"
    assert kept["hooks"] == [
        {"url": "https://hooks.test/x?sig=[redacted]&env=prod", "secret": REDACTED}
    ]
    assert kept["run_id"] == "20261206-173648-load-94cc" and kept["seed"] == 4111111111111111


def test_a_message_naming_a_url_loses_its_password() -> None:
    assert (
        redact("http://bob:hunter2@127.0.0.1:9/ did not answer")
        == "http://127.0.0.1:9/ did not answer"
    )
