"""Fault specs: every kind parses to what it says; malformed specs name what is allowed."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from harness.errors import SpecError
from harness.faults.spec import FaultKind, parse_fault, parse_faults, scope_matches


def test_latency_fixed_tail_and_proportional() -> None:
    fixed = parse_fault("latency:api.orders.create=+150ms")
    assert (fixed.kind, fixed.delay_s, fixed.share, fixed.delay_ratio) == (
        FaultKind.LATENCY,
        0.15,
        1.0,
        0.0,
    )
    tail = parse_fault("latency:api.orders.create=+300ms@10%")
    assert (tail.delay_s, tail.share) == (0.3, 0.1)
    ratio = parse_fault("latency:*.orders.create=+20%")
    assert (ratio.delay_ratio, ratio.delay_s) == (0.2, 0.0)


def test_every_other_kind() -> None:
    assert parse_fault("jitter:api=50ms").jitter_s == 0.05
    errors = parse_fault("errors:api.orders.create=2%,status=503")
    assert (errors.share, errors.status) == (0.02, 503)
    assert parse_fault("errors:api=2%").status == 500
    assert parse_fault("reset:mobile=1%").share == 0.01
    assert parse_fault("bandwidth:web=64KB/s").bandwidth == 64 * 1024
    funnel = parse_fault("funnel:checkout=20%")
    assert (funnel.share, funnel.status) == (0.2, 403)
    trace = parse_fault("traceparent:*=drop")
    assert (trace.kind, trace.share) == (FaultKind.TRACEPARENT, 1.0)
    assert parse_fault("traceparent:api=drop@50%").share == 0.5


def test_window_options() -> None:
    fault = parse_fault("errors:api=5%,after=10s,for=5s")
    assert (fault.after_s, fault.for_s, fault.ends_s) == (10.0, 5.0, 15.0)
    assert [fault.active(t) for t in (0, 9.9, 10, 14.9, 15, 100)] == [
        False,
        False,
        True,
        True,
        False,
        False,
    ]
    forever = parse_fault("errors:api=5%,after=2s")
    assert forever.ends_s is None and forever.active(1e6) and not forever.active(1.0)


def test_fault_windows_read_the_same_durations_as_duration() -> None:
    """`--duration 1m` worked but a fault's `after=1m` was refused: one grammar now."""
    from harness.durations import parse_duration
    from harness.prune import parse_age

    fault = parse_fault("errors:api=5%,after=1m,for=1m30s")
    assert (fault.after_s, fault.for_s) == (60.0, 90.0) == (parse_duration("1m"), 90.0)
    assert parse_fault("latency:api=+1.5s").delay_s == 1.5
    assert parse_age("1d12h") == 129_600 and parse_duration("1h30m") == 5400


def test_a_fault_window_may_be_as_long_as_a_run() -> None:
    """`--duration 1h30m` ran, but `after=1h30m` was refused (windows stopped at 1h); a window
    now takes any duration `--duration` takes, in the same grammar."""
    from harness.durations import parse_duration

    for text in ("90", "500ms", "1h30m", "24h"):
        fault = parse_fault(f"errors:api=5%,after={text},for={text}")
        assert fault.after_s == fault.for_s == parse_duration(text)
    with pytest.raises(SpecError, match="at most 24h"):
        parse_fault("errors:api=5%,after=25h")


def test_the_proxy_and_targets_share_one_layout_and_one_touchpoint_enum() -> None:
    from harness.faults.proxy import DEFAULT_TOUCHPOINTS
    from harness.records import TOUCHPOINTS, Touchpoint
    from harness.targets import Target

    target = Target.from_base_url("http://shop.test")
    assert list(target.urls) == list(Touchpoint) and tuple(target.urls) == TOUCHPOINTS
    for prefix, touchpoint in DEFAULT_TOUCHPOINTS.items():
        assert target.urls[Touchpoint(touchpoint)] == "http://shop.test" + prefix


@pytest.mark.parametrize(
    ("spec", "words"),
    [
        ("latency", "has no kind"),
        ("slow:api=1s", "unknown kind 'slow'"),
        ("latncy:api=+1s", "did you mean 'latency'"),
        ("latency:api", "is incomplete"),
        ("latency:api=fast", "is not a duration"),
        ("latency:api=+0ms", "above 0"),
        ("latency:api=+300ms@150%", "percentage from 0% to 100%"),
        ("errors:api=2", "percentage"),
        ("errors:api=2%@5%", "only for latency and traceparent"),
        ("errors:api=2%,status=200", "not an HTTP error status"),
        ("latency:api=+1s,status=503", "only for errors and funnel"),
        ("errors:api=2%,aftr=1s", "did you mean 'after'"),
        ("bandwidth:web=fast", "not a positive number"),
        ("funnel:pay=20%", "unknown funnel step"),
        ("traceparent:*=keep", "only action on traceparent is drop"),
        ("errors:api.ordres.create=2%", "did you mean 'api.orders.create'"),
    ],
)
def test_malformed_specs_say_what_is_allowed_with_an_example(spec: str, words: str) -> None:
    with pytest.raises(SpecError) as caught:
        parse_fault(spec)
    message = str(caught.value)
    assert words in message
    assert "Example:" in message


def test_parse_faults_stops_at_the_first_bad_one() -> None:
    assert len(parse_faults(["jitter:api=5ms", "reset:web=1%"])) == 2
    with pytest.raises(SpecError, match="'nope'"):
        parse_faults(["jitter:api=5ms", "nope:api=1%"])


def test_scopes_touchpoint_route_path_and_funnel() -> None:
    latency = FaultKind.LATENCY
    assert scope_matches("*", latency, "GET", "/x", "web")
    assert scope_matches("api", latency, "GET", "/api/v1/x", "api")
    assert not scope_matches("api", latency, "GET", "/mobile/v2/x", "mobile")
    assert scope_matches("api.orders.create", latency, "POST", "/api/v1/orders", "api")
    assert not scope_matches("api.orders.create", latency, "GET", "/api/v1/orders", "api")
    assert scope_matches("*.orders.get", latency, "GET", "/api/v1/orders/42", "api")
    assert not scope_matches("*.orders.get", latency, "GET", "/api/v1/orders/42/x", "api")
    assert scope_matches("/api/v1/orders*", latency, "GET", "/api/v1/orders/7", "api")
    funnel = FaultKind.FUNNEL
    assert scope_matches("checkout", funnel, "POST", "/mobile/v2/orders", "mobile")
    assert not scope_matches("checkout", funnel, "GET", "/api/v1/products", "api")


@settings(max_examples=300, deadline=None)
@given(
    st.text(max_size=60)
    | st.from_regex(r"[a-z]{0,12}:[a-z.*/]{0,20}=[+0-9.]{0,6}(ms|s|%)?[@,]?.{0,12}")
)
def test_only_spec_errors_escape_the_parser(text: str) -> None:
    try:
        fault = parse_fault(text)
    except SpecError as exc:
        assert "Example:" in str(exc)
    else:
        assert fault.kind in FaultKind


def test_public_api_is_pinned() -> None:
    import harness.faults

    assert harness.faults.__all__ == [
        "Fault",
        "FaultKind",
        "FaultProxy",
        "ProxyProcess",
        "parse_fault",
        "parse_faults",
    ]
    assert all(hasattr(harness.faults, name) for name in harness.faults.__all__)
