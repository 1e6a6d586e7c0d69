"""Fault specs: what the drill proxy does to the requests it forwards, and when.

Grammar (one spec per `--fault`), shaped like the sandbox's regression specs:

    latency:SCOPE=+DURATION[@SHARE%]   add DURATION (`150ms`, `1.5s`) to matched responses, or
                                       only to SHARE% of them (tail latency)
    latency:SCOPE=+PERCENT%[@SHARE%]   add PERCENT of the upstream's own response time (+20%)
    jitter:SCOPE=DURATION              add a uniform random delay between 0 and DURATION
    errors:SCOPE=SHARE%                SHARE% of matched requests answer 500 (`,status=503`)
    reset:SCOPE=SHARE%                 SHARE% of matched requests get a TCP reset, no answer
    bandwidth:SCOPE=RATE               response bodies trickle at RATE (`16KB/s`, `1MB/s`)
    funnel:STEP=SHARE%                 block a funnel step (signup|cart|checkout) with 403 for
                                       SHARE% of users (the same users every time)
    traceparent:SCOPE=drop[@SHARE%]    remove `traceparent` (and `tracestate`) from requests
    cpu:SCOPE=+DURATION                each matched request burns DURATION of CPU on the target;
                                       no proxy can: `harness drill --sandbox` applies it as
                                       the candidate sandbox's `cpu:` knob (only its metrics see it)

Options follow the value, comma-separated: `after=DURATION` (the fault starts that long after
the proxy does), `for=DURATION` (and lasts that long; default: to the end), `status=CODE`
(errors and funnel). A DURATION is read as `--duration` reads it (`harness.durations`: `90`,
`500ms`, `2m`, `1h30m`). SCOPE is a touchpoint (`web`, `api`, `mobile`), `*` for everything, an
fnmatch glob over the bundled shop's route names (`api.orders.create`, `*.orders.create`; the
table is `harness.shop_routes`), or a glob over request paths when it starts with `/`
(`/api/v1/orders*`).
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Iterable
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from harness import durations, shares
from harness.errors import SpecError
from harness.records import TOUCHPOINTS
from harness.shop_routes import ROUTE_NAMES, ROUTES, match_routes, route_by_name

__all__ = ["TOUCHPOINTS", "Fault", "FaultKind", "parse_fault", "parse_faults"]

MAX_DELAY_SECONDS = 60.0
FUNNEL_STEPS: tuple[str, ...] = ("signup", "cart", "checkout")

#: a latency in proportion to the upstream's own time (`+20%`); not a share
_PERCENT = re.compile(r"^\+?(\d+(?:\.\d+)?)%$")
_RATE = re.compile(r"^(\d+(?:\.\d+)?)(B|KB|kB|MB)/s$")
_RATE_UNITS = {"B": 1, "KB": 1024, "kB": 1024, "MB": 1024 * 1024}


class FaultKind(StrEnum):
    """The faults the drill proxy can inject."""

    LATENCY = "latency"
    JITTER = "jitter"
    ERRORS = "errors"
    RESET = "reset"
    BANDWIDTH = "bandwidth"
    FUNNEL = "funnel"
    TRACEPARENT = "traceparent"
    CPU = "cpu"


_FORMS: dict[FaultKind, str] = {
    FaultKind.LATENCY: "latency:SCOPE=+DURATION[@SHARE%] or latency:SCOPE=+PERCENT%",
    FaultKind.JITTER: "jitter:SCOPE=DURATION",
    FaultKind.ERRORS: "errors:SCOPE=SHARE%",
    FaultKind.RESET: "reset:SCOPE=SHARE%",
    FaultKind.BANDWIDTH: "bandwidth:SCOPE=RATE",
    FaultKind.FUNNEL: "funnel:STEP=SHARE%",
    FaultKind.TRACEPARENT: "traceparent:SCOPE=drop[@SHARE%]",
    FaultKind.CPU: "cpu:SCOPE=+DURATION",
}
_EXAMPLES: dict[FaultKind, str] = {
    FaultKind.LATENCY: "latency:api.orders.create=+300ms@10% or latency:api.orders.create=+20%",
    FaultKind.JITTER: "jitter:api=50ms",
    FaultKind.ERRORS: "errors:api.orders.create=2%,status=503",
    FaultKind.RESET: "reset:mobile=1%",
    FaultKind.BANDWIDTH: "bandwidth:web=64KB/s",
    FaultKind.FUNNEL: "funnel:checkout=20%",
    FaultKind.TRACEPARENT: "traceparent:*=drop",
    FaultKind.CPU: "cpu:*.orders.create=+20ms",
}
_OPTIONS = ("after", "for", "status")


class Fault(BaseModel):
    """One parsed fault spec.

    `scope` is as written; `delay_s` a fixed delay, `delay_ratio` a delay in proportion to the
    upstream's time, `jitter_s` the top of a uniform random delay; `share` the fraction of
    matched requests (or users, for funnel) affected; `bandwidth` bytes per second; `after_s`
    and `for_s` the window from the proxy's start (`for_s` None: to the end).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    spec: str
    kind: FaultKind
    scope: str
    delay_s: float = 0.0
    delay_ratio: float = 0.0
    jitter_s: float = 0.0
    share: float = 1.0
    status: int = 500
    bandwidth: float = 0.0
    after_s: float = 0.0
    for_s: float | None = None

    def active(self, elapsed_s: float) -> bool:
        """Whether the fault is on `elapsed_s` seconds after the proxy started."""
        if elapsed_s < self.after_s:
            return False
        return self.for_s is None or elapsed_s < self.after_s + self.for_s

    @property
    def ends_s(self) -> float | None:
        """When the window closes (seconds from the proxy's start), None for never."""
        return None if self.for_s is None else self.after_s + self.for_s

    def matches(self, method: str, path: str, touchpoint: str) -> bool:
        """Whether a request is in this fault's scope (see the module's grammar)."""
        return scope_matches(self.scope, self.kind, method, path, touchpoint)


def parse_faults(specs: Iterable[str]) -> tuple[Fault, ...]:
    """Parse several specs; raises `SpecError` for the first malformed one."""
    return tuple(parse_fault(spec) for spec in specs)


def parse_fault(spec: str) -> Fault:
    """Parse one `KIND:SCOPE=VALUE[,OPTION=VALUE...]` spec; raises `SpecError` naming what is
    wrong, what is allowed and an example."""
    text = spec.strip()
    kinds = ", ".join(k.value for k in FaultKind)
    kind_text, sep, rest = text.partition(":")
    if not sep or not kind_text.strip():
        raise SpecError(
            f"fault spec {spec!r} has no kind: a spec is KIND:SCOPE=VALUE, where KIND is one of "
            f"{kinds}. Example: {_EXAMPLES[FaultKind.LATENCY]}"
        )
    try:
        kind = FaultKind(kind_text.strip().lower())
    except ValueError:
        raise SpecError(
            f"fault spec {spec!r} has unknown kind {kind_text!r}"
            f"{_did_you_mean(kind_text, [k.value for k in FaultKind])}; allowed kinds: {kinds}. "
            f"Example: {_EXAMPLES[FaultKind.LATENCY]}"
        ) from None
    body, *option_texts = rest.split(",")
    scope, eq, value = (part.strip() for part in body.partition("="))
    if not eq or not scope or not value:
        raise SpecError(
            f"fault spec {spec!r} is incomplete: a {kind} fault has the form {_FORMS[kind]}"
            f"[,after=DURATION][,for=DURATION]. Example: {_EXAMPLES[kind]}"
        )
    fields: dict[str, object] = {"spec": text, "kind": kind, "scope": scope}
    fields.update(_options(text, kind, option_texts))
    _check_scope(text, kind, scope)
    fields.update(_value(text, kind, value))
    return Fault.model_validate(fields)


def _value(spec: str, kind: FaultKind, value: str) -> dict[str, object]:
    amount, at, tail = value.partition("@")
    if at and kind not in (FaultKind.LATENCY, FaultKind.TRACEPARENT):
        raise _bad(spec, kind, f"@SHARE% is only for latency and traceparent faults, not {kind}")
    share = _percent(spec, kind, tail.strip(), "the share of affected requests") if at else 1.0
    amount = amount.strip()
    if kind is FaultKind.LATENCY:
        percent = _PERCENT.match(amount)
        if percent is not None:
            ratio = float(percent.group(1)) / 100.0
            if not 0.0 < ratio <= 100.0:
                raise _bad(spec, kind, f"a proportional delay must be above 0% (got {amount!r})")
            return {"delay_ratio": ratio, "share": share}
        return {"delay_s": _duration(spec, kind, amount, "the delay"), "share": share}
    if kind is FaultKind.CPU:
        return {"delay_s": _duration(spec, kind, amount, "the CPU time")}
    if kind is FaultKind.JITTER:
        return {"jitter_s": _duration(spec, kind, amount, "the largest random delay")}
    if kind in (FaultKind.ERRORS, FaultKind.RESET, FaultKind.FUNNEL):
        return {"share": _percent(spec, kind, amount, f"the share of {_WHO[kind]}")}
    if kind is FaultKind.BANDWIDTH:
        match = _RATE.match(amount)
        if match is None or float(match.group(1)) <= 0:
            raise _bad(
                spec, kind, f"the rate {amount!r} is not a positive number of B, KB or MB per s"
            )
        return {"bandwidth": float(match.group(1)) * _RATE_UNITS[match.group(2)]}
    if amount.lower() != "drop":
        raise _bad(spec, kind, f"the only action on traceparent is drop (got {amount!r})")
    return {"share": share}


_WHO = {
    FaultKind.ERRORS: "failing requests",
    FaultKind.RESET: "reset requests",
    FaultKind.FUNNEL: "users for whom the step is blocked",
}


def _options(spec: str, kind: FaultKind, texts: list[str]) -> dict[str, object]:
    found: dict[str, object] = {}
    for text in texts:
        key, eq, value = (part.strip() for part in text.partition("="))
        if key not in _OPTIONS or not eq or not value:
            raise _bad(
                spec,
                kind,
                f"unknown option {text.strip()!r}{_did_you_mean(key, _OPTIONS)}; options are "
                "after=DURATION, for=DURATION and status=CODE",
            )
        if key == "status":
            if kind not in (FaultKind.ERRORS, FaultKind.FUNNEL):
                raise _bad(spec, kind, "status= is only for errors and funnel faults")
            if not value.isdigit() or not 400 <= int(value) <= 599:
                raise _bad(spec, kind, f"status={value} is not an HTTP error status (400-599)")
            found["status"] = int(value)
        elif key == "after":
            found["after_s"] = _duration(spec, kind, value, "after", allow_zero=True)
        else:
            found["for_s"] = _duration(spec, kind, value, "for")
    if kind is FaultKind.FUNNEL:
        found.setdefault("status", 403)
    return found


def _check_scope(spec: str, kind: FaultKind, scope: str) -> None:
    if kind is FaultKind.FUNNEL:
        if scope not in FUNNEL_STEPS:
            raise _bad(
                spec,
                kind,
                f"unknown funnel step {scope!r}{_did_you_mean(scope, FUNNEL_STEPS)}; allowed "
                f"steps: {', '.join(FUNNEL_STEPS)}",
            )
        return
    if scope == "*" or scope in TOUCHPOINTS or scope.startswith("/"):
        return
    if not match_routes(scope):
        raise _bad(
            spec,
            kind,
            f"SCOPE {scope!r} is not a touchpoint ({', '.join(TOUCHPOINTS)}), '*', a path glob "
            f"starting with '/', nor a glob matching a route name"
            f"{_did_you_mean(scope, [*TOUCHPOINTS, *ROUTE_NAMES])}; route names: "
            f"{', '.join(ROUTE_NAMES)}",
        )


def scope_matches(scope: str, kind: FaultKind, method: str, path: str, touchpoint: str) -> bool:
    """Whether a request (method, path without query, touchpoint) is in `scope`."""
    if scope == "*":
        return True
    if scope in TOUCHPOINTS:
        return touchpoint == scope
    if scope.startswith("/"):
        return fnmatch.fnmatchcase(path, scope)
    return any(route_matches(name, method, path) for name in _scope_routes(scope, kind))


def _scope_routes(scope: str, kind: FaultKind) -> tuple[str, ...]:
    if kind is FaultKind.FUNNEL:
        return tuple(r.name for r in ROUTES if r.funnel_step == scope)
    return match_routes(scope)


_TEMPLATES: dict[str, tuple[tuple[str, ...], re.Pattern[str]]] = {}


def route_matches(name: str, method: str, path: str) -> bool:
    """Whether a request is one of the shop's route `name` (method and path template)."""
    compiled = _TEMPLATES.get(name)
    if compiled is None:
        route = route_by_name(name)
        pattern = re.sub(r"\\\{[^}]+\\\}", "[^/]+", re.escape(route.path))
        compiled = (route.methods, re.compile(f"^{pattern}/?$"))
        _TEMPLATES[name] = compiled
    methods, regex = compiled
    return method in methods and regex.match(path) is not None


def _duration(
    spec: str, kind: FaultKind, value: str, what: str, *, allow_zero: bool = False
) -> float:
    """A duration in the one grammar (`harness.durations`); a window (`after`, `for`) may be as
    long as a run's `--duration`, a delay at most `MAX_DELAY_SECONDS`."""
    window = what in ("after", "for")
    seconds = durations.seconds(value.strip().removeprefix("+"), unit=not window)
    if seconds is None:
        seconds = -1.0
    low_ok = seconds >= 0.0 if allow_zero else seconds > 0.0
    if not low_ok or seconds > (durations.MAX_DURATION_S if window else MAX_DELAY_SECONDS):
        limit = "24h" if window else f"{MAX_DELAY_SECONDS:g}s"
        raise _bad(
            spec,
            kind,
            f"{what} {value!r} is not a duration: a number with a unit "
            f"({durations.EXAMPLES}), {'at least 0' if allow_zero else 'above 0'} and at most "
            f"{limit}",
        )
    return seconds


def _percent(spec: str, kind: FaultKind, value: str, meaning: str) -> float:
    share = shares.percent(value)
    if share is None:
        raise _bad(
            spec,
            kind,
            f"invalid share {value!r}: {meaning} is a percentage from 0% to 100% "
            f"({shares.EXAMPLES})",
        )
    return share


def _bad(spec: str, kind: FaultKind, what: str) -> SpecError:
    return SpecError(
        f"fault spec {spec!r}: {what}. A {kind} fault has the form {_FORMS[kind]}"
        f"[,after=DURATION][,for=DURATION]. Example: {_EXAMPLES[kind]}"
    )


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
