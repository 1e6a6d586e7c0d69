"""`synth KIND ...`: byte-identical output across processes, exit 2 on bad input, cheap import."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import synth
from synth.cli import flatten, main
from synth.models import MobileDevice

ROOT = Path(__file__).resolve().parents[2]
ARGS = ["person", "--count", "1000", "--seed", "7", "--format", "jsonl"]


def _run(args: list[str], hashseed: str) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONHASHSEED": hashseed, "LC_ALL": "C"}
    return subprocess.run(
        [sys.executable, "-m", "synth", *args], cwd=ROOT, env=env, capture_output=True, timeout=60
    )


def test_output_is_byte_identical_across_processes(
    capsysbinary: pytest.CaptureFixture[bytes],
) -> None:
    first, second = _run(ARGS, "1"), _run(ARGS, "2")
    assert first.returncode == second.returncode == 0
    assert first.stdout == second.stdout
    assert main(ARGS) == 0
    assert capsysbinary.readouterr().out == first.stdout  # in-process too
    lines = first.stdout.decode("utf-8").splitlines()
    assert len(lines) == 1000
    assert len({json.loads(line)["email"] for line in lines}) == 1000
    other = _run([*ARGS[:4], "8", *ARGS[5:]], "1")
    assert hashlib.sha256(other.stdout).digest() != hashlib.sha256(first.stdout).digest()


def test_edge_csv_is_identical_and_utf8(tmp_path: Path) -> None:
    out = tmp_path / "people.csv"
    args = ["person", "--count", "50", "--profile", "edge", "--format", "csv", "--output"]
    assert main([*args, str(out)]) == 0
    via_process = _run([*args, str(tmp_path / "again.csv")], "3")
    assert via_process.returncode == 0
    assert out.read_bytes() == (tmp_path / "again.csv").read_bytes()
    rows = list(csv.DictReader(io.StringIO(out.read_text(encoding="utf-8"))))
    assert len(rows) == 50 and "address.line1" in rows[0] and "\r" not in out.read_text("utf-8")


@pytest.mark.parametrize("kind", ["address", "card", "device", "order", "product"])
def test_every_kind_writes_jsonl(kind: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([kind, "--count", "3", "--seed", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 3 and all(json.loads(line) for line in lines)


def test_unsupported_share_flag(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["device", "--count", "50", "--unsupported-share", "1"]) == 0
    devices = [
        MobileDevice.model_validate_json(line) for line in capsys.readouterr().out.splitlines()
    ]
    assert len(devices) == 50 and not any(d.supported for d in devices)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["persn", "--count", "1"], "invalid choice: 'persn'"),
        (["person"], "--count"),
        (["person", "--count", "x"], "invalid int value"),
        (["person", "--count", "-1"], "--count must be >= 0"),
        (["person", "--count", "1", "--locale", "en_UX"], "did you mean"),
        (["person", "--count", "1", "--format", "xml"], "invalid choice: 'xml'"),
        (["person", "--count", "1", "--worker", "-2"], "worker must be in"),
        (["device", "--count", "1", "--unsupported-share", "2"], "between 0 and 1"),
        (["person", "--count", "1", "--output", "/nonexistent/dir/x"], "cannot write"),
    ],
)
def test_bad_input_exits_2_without_traceback(
    args: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(args) == 2
    captured = capsys.readouterr()
    assert message in captured.err
    assert "Traceback" not in captured.err and captured.out == ""


def test_bad_input_in_a_real_process() -> None:
    result = _run(["person", "--count", "1", "--profile", "edgy"], "0")
    assert result.returncode == 2
    assert b"invalid choice: 'edgy'" in result.stderr and b"Traceback" not in result.stderr


def test_prog_names_the_command_in_errors(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["person", "--count", "-3"], prog="harness synth") == 2
    assert capsys.readouterr().err.startswith("harness synth: error: --count")


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "--count" in capsys.readouterr().out


def test_flatten_nests_with_dots_and_lists_as_json() -> None:
    row = flatten({"a": {"b": 1, "c": None}, "d": [{"e": "é"}], "f": True})
    assert row == {"a.b": "1", "a.c": "", "d": '[{"e":"é"}]', "f": "True"}


def test_import_synth_is_cheap_and_lazy() -> None:
    code = (
        "import sys, synth, synth.cli; "
        "assert 'faker' not in sys.modules and 'pydantic' not in sys.modules, 'eager'; "
        "synth.Person; assert 'faker' not in sys.modules, 'models pulled faker'; print('ok')"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert result.stdout.strip() == "ok", result.stderr


def test_public_api_is_pinned_and_sorted() -> None:
    assert synth.__all__ == sorted(synth.__all__, key=lambda n: (not n.isupper(), n))
    assert synth.__all__ == [
        "KINDS",
        "Address",
        "Cart",
        "CartLine",
        "DeviceMix",
        "Feeder",
        "FeederExhausted",
        "IterationData",
        "MobileDevice",
        "Order",
        "PaymentCard",
        "Person",
        "Product",
        "SynthSource",
        "SynthUsageError",
        "generate",
        "luhn_valid",
        "pick",
    ]
    for name in synth.__all__:
        assert getattr(synth, name) is not None
    with pytest.raises(AttributeError):
        synth.nope  # noqa: B018
