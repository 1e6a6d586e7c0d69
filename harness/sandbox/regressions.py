"""Regression specs: the knobs that make a sandbox release slower, flakier or subtly broken.

Grammar (one spec per `--regression`):

    latency:ROUTE=+DURATION[@SHARE%]   add DURATION (`200ms`, `1.5s`) to matched requests,
                                       or only to SHARE% of them (tail latency)
    errors:ROUTE=SHARE%                SHARE% of matched requests answer 500
    contract:FIELD=string|missing|null change one field of JSON payloads (`order.total`)
    ui:TESTID                          remove elements with that data-testid from web pages
    funnel:STEP=SHARE%                 block STEP (signup|cart|checkout) for SHARE% of users
    render:ROUTE=+DURATION             matched web pages keep their content (`<main>`) hidden
                                       for DURATION after they load: the browser paints it
                                       later (LCP moves) while the server answers as fast
    contention:ROUTE=+DURATION         lock contention: each matched request holds a lock for
                                       DURATION after it arrives (a background job of the new
                                       code); a request arriving while it is held waits, so it
                                       shows only when requests come closer than DURATION apart
                                       and grows sharply with load
    cpu:ROUTE=+DURATION                each matched request burns DURATION of CPU in a worker
                                       thread after it is answered: its response time does not
                                       change until the cores saturate; only the server's own
                                       metrics (process CPU on /metrics) show it

Any latency, errors, contention or cpu spec may end with `;flag=new_checkout`: it then applies only
to the candidate's new checkout path, i.e. to requests that carry the flag on (see
`harness.sandbox.flags`). It may also carry a window, as a drill's faults do: `,after=D` (it
starts D after the sandbox started) and `,for=D` (it stops D later), e.g.
`errors:api.products.list=100%,after=4s,for=6s`: a regression that starts and stops part-way.

ROUTE is an fnmatch glob over route names (`api.orders.create`, `*.orders.create`, `web.*`) or
over path templates when it starts with `/` (`/api/v1/orders`). Parsing never touches the web
stack, so specs are validated before a sandbox process is started.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from harness import durations, shares
from harness.errors import SpecError
from harness.sandbox.contract import CONTRACT_FIELDS, NUMERIC_FIELDS, ContractMode, ContractRule
from harness.sandbox.pages import TESTIDS
from harness.shop_routes import ROUTE_NAMES, ROUTES, match_routes

__all__ = [
    "FUNNEL_STEPS",
    "MAX_DELAY_SECONDS",
    "SANDBOX_FLAGS",
    "Regression",
    "RegressionKind",
    "parse_regression",
    "parse_regressions",
]

MAX_DELAY_SECONDS = 60.0
FUNNEL_STEPS: tuple[str, ...] = ("signup", "cart", "checkout")
#: Feature flags the sandbox's candidate knows (each guards a code path regressions can target).
SANDBOX_FLAGS: tuple[str, ...] = ("new_checkout",)


class RegressionKind(StrEnum):
    """The kinds of regression a sandbox release can carry."""

    LATENCY = "latency"
    ERRORS = "errors"
    CONTRACT = "contract"
    UI = "ui"
    FUNNEL = "funnel"
    RENDER = "render"
    CONTENTION = "contention"
    CPU = "cpu"


_WINDOW_EXAMPLE = "errors:api.products.list=100%,after=4s,for=6s"
_FLAGGABLE = (
    RegressionKind.LATENCY,
    RegressionKind.ERRORS,
    RegressionKind.CONTENTION,
    RegressionKind.CPU,
)

_EXAMPLES: dict[RegressionKind, str] = {
    RegressionKind.LATENCY: "latency:api.orders.create=+200ms or latency:web.*=+300ms@10%",
    RegressionKind.ERRORS: "errors:*.orders.create=5%",
    RegressionKind.CONTRACT: "contract:order.total=string",
    RegressionKind.UI: "ui:place-order",
    RegressionKind.FUNNEL: "funnel:checkout=20%",
    RegressionKind.RENDER: "render:web.product=+400ms",
    RegressionKind.CONTENTION: "contention:*.orders.create=+40ms;flag=new_checkout",
    RegressionKind.CPU: "cpu:*.orders.create=+20ms",
}


@dataclass(frozen=True)
class Regression:
    """One parsed regression spec.

    `routes` holds the route names a latency, errors or funnel regression applies to; `delay`
    is in seconds; `share` is a fraction in [0, 1] (tail share for latency, error rate, share
    of blocked users for funnel); `contract` is set for contract regressions and `target`
    keeps the ROUTE pattern, FIELD, TESTID or STEP as written. `flag` names the feature flag
    whose code path the regression is attached to (None: every request of the routes).
    """

    spec: str
    kind: RegressionKind
    target: str
    routes: tuple[str, ...] = ()
    delay: float = 0.0
    share: float = 1.0
    contract: ContractRule | None = None
    flag: str | None = None
    after_s: float = 0.0  #: seconds after the sandbox started that it starts acting
    for_s: float | None = None  #: seconds it acts for (None: to the end)

    def active(self, elapsed_s: float) -> bool:
        """Whether it acts `elapsed_s` seconds after the sandbox started."""
        if elapsed_s < self.after_s:
            return False
        return self.for_s is None or elapsed_s < self.after_s + self.for_s


def parse_regressions(specs: Iterable[str]) -> tuple[Regression, ...]:
    """Parse several specs; raises `SpecError` for the first malformed one."""
    return tuple(parse_regression(spec) for spec in specs)


def parse_regression(spec: str) -> Regression:
    """Parse one `KIND:...` spec into a `Regression`; raises `SpecError` when it is malformed."""
    body, semicolon, qualifier = spec.strip().partition(";")
    body, after_s, for_s = _window(spec.strip(), body.strip())
    regression = replace(_parse_body(spec.strip(), body), after_s=after_s, for_s=for_s)
    if (after_s or for_s is not None) and regression.kind not in _FLAGGABLE:
        raise SpecError(
            f"regression spec {spec!r}: only {', '.join(k.value for k in _FLAGGABLE)} specs take "
            f"a window (after=, for=). Example: {_WINDOW_EXAMPLE}"
        )
    if not semicolon:
        return regression
    return replace(regression, flag=_parse_flag(spec, regression.kind, qualifier.strip()))


def _window(spec: str, body: str) -> tuple[str, float, float | None]:
    """The body without its `,after=D` and `,for=D` parts, and those in seconds (0 and None
    when not given)."""
    kept: list[str] = []
    window: dict[str, float] = {}
    for part in body.split(","):
        key, eq, value = (p.strip() for p in part.partition("="))
        if eq and key in ("after", "for") and kept:
            seconds = durations.seconds(value, unit=True)
            if seconds is None or seconds < 0 or (key == "for" and seconds == 0):
                raise SpecError(
                    f"regression spec {spec!r} has an invalid {key}={value!r}: a duration with a "
                    f"unit (after=4s, for=6s). Example: {_WINDOW_EXAMPLE}"
                )
            window[f"{key}_s"] = seconds
        else:
            kept.append(part)
    return ",".join(kept).strip(), window.get("after_s", 0.0), window.get("for_s")


def _parse_flag(spec: str, kind: RegressionKind, qualifier: str) -> str:
    name, eq, flag = (part.strip() for part in qualifier.partition("="))
    example = _EXAMPLES[RegressionKind.CONTENTION]
    if kind not in _FLAGGABLE:
        raise SpecError(
            f"regression spec {spec!r}: only {', '.join(k.value for k in _FLAGGABLE)} specs can "
            f"be attached to a flag with ;flag=NAME. Example: {example}"
        )
    if name != "flag" or not eq or flag not in SANDBOX_FLAGS:
        raise SpecError(
            f"regression spec {spec!r} has an invalid qualifier {qualifier!r}"
            f"{_did_you_mean(flag, SANDBOX_FLAGS) if name == 'flag' else ''}: after ';' write "
            f"flag=NAME, where NAME is one of the sandbox's flags ({', '.join(SANDBOX_FLAGS)}). "
            f"Example: {example}"
        )
    return flag


def _parse_body(spec: str, text: str) -> Regression:
    kind_text, sep, rest = text.partition(":")
    kinds = ", ".join(kind.value for kind in RegressionKind)
    if not sep or not kind_text:
        raise SpecError(
            f"regression spec {spec!r} has no kind: a spec is KIND:..., where KIND is one of "
            f"{kinds}. Example: {_EXAMPLES[RegressionKind.LATENCY]}"
        )
    try:
        kind = RegressionKind(kind_text.strip().lower())
    except ValueError:
        raise SpecError(
            f"regression spec {spec!r} has unknown kind {kind_text!r}"
            f"{_did_you_mean(kind_text, [k.value for k in RegressionKind])}; allowed kinds: "
            f"{kinds}. Example: {_EXAMPLES[RegressionKind.LATENCY]}"
        ) from None
    rest = rest.strip()
    if kind is RegressionKind.UI:
        return _parse_ui(spec, rest)
    target, eq, value = (part.strip() for part in rest.partition("="))
    if not eq or not target or not value:
        shape = {
            RegressionKind.LATENCY: "latency:ROUTE=+DURATION[@SHARE%]",
            RegressionKind.ERRORS: "errors:ROUTE=SHARE%",
            RegressionKind.CONTRACT: "contract:FIELD=string|missing|null",
            RegressionKind.FUNNEL: "funnel:STEP=SHARE%",
            RegressionKind.RENDER: "render:ROUTE=+DURATION",
            RegressionKind.CONTENTION: "contention:ROUTE=+DURATION",
            RegressionKind.CPU: "cpu:ROUTE=+DURATION",
        }[kind]
        raise SpecError(
            f"regression spec {spec!r} is incomplete: a {kind} spec has the form {shape}. "
            f"Example: {_EXAMPLES[kind]}"
        )
    if kind is RegressionKind.LATENCY:
        return _parse_latency(spec, target, value)
    if kind in (RegressionKind.CONTENTION, RegressionKind.CPU):
        return _parse_contention(spec, target, value, kind)
    if kind is RegressionKind.ERRORS:
        share = _percent(spec, kind, value, "the share of failing requests")
        return Regression(spec, kind, target, routes=_routes(spec, kind, target), share=share)
    if kind is RegressionKind.RENDER:
        return _parse_render(spec, target, value)
    if kind is RegressionKind.CONTRACT:
        return _parse_contract(spec, target, value)
    return _parse_funnel(spec, target, value)


def _parse_latency(spec: str, target: str, value: str) -> Regression:
    kind = RegressionKind.LATENCY
    routes = _routes(spec, kind, target)
    amount, at, tail = value.partition("@")
    delay = _delay(amount)
    if delay is None:
        raise SpecError(
            f"regression spec {spec!r} has an invalid delay {amount!r}: the delay is a "
            f"number with a unit such as ms or s, optionally with a leading + (+200ms, +1.5s), "
            f"optionally followed by @SHARE% for tail-only latency. Example: {_EXAMPLES[kind]}"
        )
    if not 0.0 < delay <= MAX_DELAY_SECONDS:
        raise SpecError(
            f"regression spec {spec!r} has a delay of {delay:g}s: the delay must be more than "
            f"0 and at most {MAX_DELAY_SECONDS:g}s. Example: {_EXAMPLES[kind]}"
        )
    share = _percent(spec, kind, tail.strip(), "the share of delayed requests") if at else 1.0
    return Regression(spec, kind, target, routes=routes, delay=delay, share=share)


def _parse_contention(spec: str, target: str, value: str, kind: RegressionKind) -> Regression:
    """A contention spec's hold, or a cpu spec's CPU time per request."""
    routes = _routes(spec, kind, target)
    delay = _delay(value) or 0.0
    if not 0.0 < delay <= MAX_DELAY_SECONDS:
        raise SpecError(
            f"regression spec {spec!r} has an invalid {_AMOUNT[kind]} {value!r}: it is a "
            f"duration with a unit such as ms or s, more than 0 and at most "
            f"{MAX_DELAY_SECONDS:g}s (+40ms). Example: {_EXAMPLES[kind]}"
        )
    return Regression(spec, kind, target, routes=routes, delay=delay)


def _parse_render(spec: str, target: str, value: str) -> Regression:
    kind = RegressionKind.RENDER
    routes = _routes(spec, kind, target)
    delay = _delay(value) or 0.0
    if not 0.0 < delay <= MAX_DELAY_SECONDS:
        raise SpecError(
            f"regression spec {spec!r} has an invalid render delay {value!r}: how long each "
            f"page keeps its content hidden is a duration with a unit such as ms or s, more "
            f"than 0 and at most {MAX_DELAY_SECONDS:g}s (+400ms). Example: {_EXAMPLES[kind]}"
        )
    return Regression(spec, kind, target, routes=routes, delay=delay)


_AMOUNT = {RegressionKind.CONTENTION: "hold", RegressionKind.CPU: "CPU time"}


def _parse_contract(spec: str, target: str, value: str) -> Regression:
    kind = RegressionKind.CONTRACT
    entity, _, key = target.partition(".")
    fields = [f"{e}.{k}" for e, keys in CONTRACT_FIELDS.items() for k in keys]
    if key not in CONTRACT_FIELDS.get(entity, ()):
        raise SpecError(
            f"regression spec {spec!r} names unknown field {target!r}"
            f"{_did_you_mean(target, fields)}; allowed fields: {', '.join(fields)}. "
            f"Example: {_EXAMPLES[kind]}"
        )
    try:
        mode = ContractMode(value.lower())
    except ValueError:
        raise SpecError(
            f"regression spec {spec!r} has unknown mode {value!r}; allowed modes: string "
            f"(a number becomes a string), missing (the key is removed), null. "
            f"Example: {_EXAMPLES[kind]}"
        ) from None
    if mode is ContractMode.STRING and target not in NUMERIC_FIELDS:
        raise SpecError(
            f"regression spec {spec!r} asks for mode string on {target!r}, which is not a "
            f"number; string applies to: {', '.join(sorted(NUMERIC_FIELDS))}; use missing or "
            f"null for other fields. Example: {_EXAMPLES[kind]}"
        )
    return Regression(spec, kind, target, contract=ContractRule(entity, key, mode))


def _parse_ui(spec: str, testid: str) -> Regression:
    kind = RegressionKind.UI
    if testid not in TESTIDS:
        raise SpecError(
            f"regression spec {spec!r} names unknown data-testid {testid!r}"
            f"{_did_you_mean(testid, sorted(TESTIDS))}; allowed test ids: "
            f"{', '.join(sorted(TESTIDS))}. Example: {_EXAMPLES[kind]}"
        )
    return Regression(spec, kind, testid)


def _parse_funnel(spec: str, step: str, value: str) -> Regression:
    kind = RegressionKind.FUNNEL
    if step not in FUNNEL_STEPS:
        raise SpecError(
            f"regression spec {spec!r} names unknown funnel step {step!r}"
            f"{_did_you_mean(step, FUNNEL_STEPS)}; allowed steps: {', '.join(FUNNEL_STEPS)}. "
            f"Example: {_EXAMPLES[kind]}"
        )
    share = _percent(spec, kind, value, "the share of users for whom the step is blocked")
    routes = tuple(route.name for route in ROUTES if route.funnel_step == step)
    return Regression(spec, kind, step, routes=routes, share=share)


def _routes(spec: str, kind: RegressionKind, pattern: str) -> tuple[str, ...]:
    routes = match_routes(pattern)
    if not routes:
        raise SpecError(
            f"regression spec {spec!r}: ROUTE {pattern!r} matches no route"
            f"{_did_you_mean(pattern, ROUTE_NAMES)}. ROUTE is an fnmatch glob over route names "
            f"or, starting with '/', over path templates; route names: "
            f"{', '.join(ROUTE_NAMES)}. Example: {_EXAMPLES[kind]}"
        )
    return routes


def _percent(spec: str, kind: RegressionKind, value: str, meaning: str) -> float:
    share = shares.percent(value)
    if share is None:
        raise SpecError(
            f"regression spec {spec!r} has an invalid share {value!r}: {meaning} is a "
            f"percentage from 0% to 100% ({shares.EXAMPLES}). Example: {_EXAMPLES[kind]}"
        )
    return share


def _delay(amount: str) -> float | None:
    """Seconds of a `+DURATION` in the one duration grammar (`harness.durations`)."""
    return durations.seconds(amount.strip().removeprefix("+"), unit=True)


def _did_you_mean(value: str, choices: Iterable[str]) -> str:
    close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
