"""The journey runtime with fakes: steps become records, failures are classified and end the
iteration, and nothing here opens a socket."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel

from harness import ConnectionFailed, journey
from harness.errors import ErrorKind, UsageError
from harness.records import Outcome, Touchpoint
from harness.runtime import OUTSIDE_STEP, JourneyContext
from harness.testing import FakeTransport, json_response, run_once
from harness.touchpoints.http import HttpRequest, RawResponse


class Order(BaseModel):
    id: int
    total: float


def shop(request: HttpRequest) -> RawResponse:
    if request.url.endswith("/api/v1/orders/7"):
        return json_response(200, {"id": 7, "total": 12.5})
    if request.url.endswith("/api/v1/broken"):
        return json_response(200, {"id": 7, "total": "twelve"})
    if request.url.endswith("/api/v1/missing"):
        return json_response(404, {"error": "not_found"})
    raise ConnectionFailed(f"no route to {request.url}")


def test_each_step_becomes_one_record_in_order() -> None:
    @journey
    def two_steps(j):
        with j.step("read order", on="api"):
            j.vars["order"] = j.api.get("/orders/7").json(Order)
        with j.step("read again", on="api"):
            assert j.api.get("/orders/7").json(Order) == j.vars["order"]

    record, sink = run_once(two_steps, transport=FakeTransport(shop))

    assert record.outcome is Outcome.PASSED
    assert (record.steps_passed, record.steps_total) == (2, 2)
    assert [s.step for s in sink.steps] == ["read order", "read again"]
    assert [s.index for s in sink.steps] == [0, 1]
    assert all(s.touchpoint is Touchpoint.API for s in sink.steps)
    assert sink.steps[0].requests[0].url == "http://shop.test/api/v1/orders/7"
    assert sink.steps[0].requests[0].status == 200
    assert sink.iterations == [record]


def test_contract_failure_names_the_field_and_ends_the_iteration() -> None:
    @journey
    def contract(j):
        with j.step("read broken order", on="api"):
            j.api.get("/broken").json(Order)
        with j.step("never runs", on="api"):
            raise AssertionError("unreachable")

    record, sink = run_once(contract, transport=FakeTransport(shop))

    assert record.outcome is Outcome.FAILED
    assert record.failed_step == "read broken order"
    assert record.failed_touchpoint is Touchpoint.API
    assert record.error_kind is ErrorKind.CONTRACT
    assert "`total`" in (record.message or "") and "'twelve'" in (record.message or "")
    assert [s.step for s in sink.steps] == ["read broken order"]


@pytest.mark.parametrize(
    ("body", "kind", "needle"),
    [
        (lambda j: j.api.get("/missing"), ErrorKind.HTTP_STATUS, "answered 404"),
        (lambda j: j.api.get("/nowhere"), ErrorKind.CONNECTION, "no route"),
        (lambda j: j.api.get("/missing", expect=200), ErrorKind.HTTP_STATUS, "expected 200"),
        (lambda j: 1 / 0, ErrorKind.JOURNEY, "ZeroDivisionError"),
    ],
)
def test_failures_are_classified(body, kind, needle) -> None:
    @journey
    def failing(j):
        with j.step("the step", on="mobile" if kind is ErrorKind.JOURNEY else "api"):
            body(j)

    record, _ = run_once(failing, transport=FakeTransport(shop))

    assert record.error_kind is kind
    assert needle in (record.message or "")


def test_expected_error_status_passes() -> None:
    @journey
    def expects_404(j):
        with j.step("missing order", on="api"):
            j.api.get("/missing", expect=404)

    record, _ = run_once(expects_404, transport=FakeTransport(shop))
    assert record.outcome is Outcome.PASSED


def test_plain_assert_is_an_assertion_failure_with_its_message() -> None:
    @journey
    def asserting(j):
        with j.step("check", on="api"):
            assert 1 == 2, "one is not two"

    record, _ = run_once(asserting, transport=FakeTransport(shop))
    assert record.error_kind is ErrorKind.ASSERTION
    assert (record.message or "").startswith("one is not two")


def test_error_outside_a_step_is_the_journeys_failure_not_a_crash() -> None:
    @journey
    def outside(j):
        raise KeyError("cart")

    record, sink = run_once(outside, transport=FakeTransport(shop))
    assert record.outcome is Outcome.FAILED
    assert record.failed_step == OUTSIDE_STEP
    assert record.error_kind is ErrorKind.JOURNEY
    assert "error in journey `outside`" in (record.message or "")
    assert "test_runtime.py:" in (record.message or "")
    assert sink.steps == []


def test_unknown_touchpoint_is_a_usage_error() -> None:
    @journey
    def wrong(j):
        with j.step("x", on="desktop"):
            pass

    with pytest.raises(UsageError, match="on='web'"):
        run_once(wrong, transport=FakeTransport(shop))


def test_nested_steps_are_refused() -> None:
    @journey
    def nested(j):
        with j.step("outer", on="api"), j.step("inner", on="api"):
            pass

    with pytest.raises(UsageError, match="cannot be nested"):
        run_once(nested, transport=FakeTransport(shop))


def test_transport_is_reused_across_steps_and_closed_at_the_end() -> None:
    transport = FakeTransport(shop)

    @journey
    def reuse(j):
        with j.step("a", on="api"):
            j.api.get("/orders/7")
        with j.step("b", on="api"):
            j.api.get("/orders/7")

    run_once(reuse, transport=transport)
    assert len(transport.requests) == 2
    assert transport.closed


def test_the_api_client_is_renewed_for_each_iteration_of_a_virtual_user() -> None:
    """One client per virtual user, but nothing an iteration set reaches the next one."""
    from harness.journey import journeys_in
    from harness.runtime import RunSettings
    from harness.targets import Target
    from harness.testing import RecordingSink
    from harness.virtual_user import VirtualUser

    seen: list[dict[str, str]] = []
    clients: list[object] = []

    def handler(request: HttpRequest) -> RawResponse:
        seen.append(dict(request.headers))
        return json_response(200, {"token": "t0k"})

    @journey
    def signs_in_once(j):
        with j.step("call", on="api"):
            if j.iteration == 0:
                j.api.bearer("first")
                j.api.headers["x-only-first"] = "1"
            j.api.get("/me")
            clients.append(j.api)

    transport = FakeTransport(handler)
    sink = RecordingSink()
    user = VirtualUser(
        index=0,
        settings=RunSettings(
            run_id="r", target=Target.from_base_url("http://shop.test"), artifacts_dir=Path(".")
        ),
        sink=sink,
        browser=lambda: None,  # type: ignore[arg-type,return-value]
        transport_factory=lambda: transport,
    )
    (spec,) = journeys_in({"f": signs_in_once})
    for i in range(2):
        user.run_iteration(spec, i)
    assert [r.outcome for r in sink.iterations] == [Outcome.PASSED, Outcome.PASSED]
    assert seen[0]["authorization"] == "Bearer first" and seen[0]["x-only-first"] == "1"
    assert "authorization" not in seen[1] and "x-only-first" not in seen[1]
    assert seen[1]["accept"] == "application/json"
    assert [len(r.requests) for r in sink.steps] == [1, 1]  # each step saw only its request
    assert clients[0] is clients[1]  # built once per virtual user


def test_bearer_token_is_sent_after_sign_in() -> None:
    def handler(request: HttpRequest) -> RawResponse:
        if request.url.endswith("/tokens"):
            return json_response(201, {"token": "t0k"})
        return json_response(200, {"auth": request.headers.get("authorization")})

    @journey
    def signs_in(j):
        with j.step("sign in", on="api"):
            j.api.sign_in("/tokens", {"email": "a@example.test", "password": "x"})
            j.vars["auth"] = j.api.get("/me").json()["auth"]
            assert j.vars["auth"] == "Bearer t0k"

    record, _ = run_once(signs_in, transport=FakeTransport(handler))
    assert record.outcome is Outcome.PASSED


def test_run_once_leaves_no_empty_artifacts_folder_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Every call made a `harness-artifacts-*` folder in the temporary folder and left it: a
    unit-test session left about a thousand."""
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))

    @journey
    def read(j: JourneyContext) -> None:
        with j.step("read order", on="api"):
            j.api.get("/orders/7")

    record, _ = run_once(read, transport=FakeTransport(shop))
    assert record.outcome is Outcome.PASSED
    assert not list(tmp_path.glob("harness-artifacts-*"))
