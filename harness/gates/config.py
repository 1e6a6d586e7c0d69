"""`[[gates]]` in harness.toml: parsed into gate models with did-you-mean errors; the defaults
used when none are configured."""

from __future__ import annotations

import difflib
from typing import Annotated, Any, Literal

from pydantic import Field, TypeAdapter, ValidationError

from harness.errors import SpecError
from harness.gates.base import GateBase
from harness.gates.kayenta_gate import MannWhitneyGate
from harness.gates.metric import MetricGate
from harness.gates.paired import PairedGate
from harness.gates.rates import BurnRateGate, FunnelGate, SequentialGate
from harness.gates.rules import (
    RelativeGate,
    TailShiftGate,
    ThresholdGate,
)
from harness.gates.traces import TraceCompletenessGate


class ScoreGate(GateBase):
    """Kayenta-style scoring over the other gates: each gate counts in its `group`; a group's
    score is the share of its gates that passed; the weighted sum decides pass / marginal / fail.
    Critical gates that fail sink the score to 0."""

    kind: Literal["score"] = "score"
    groups: dict[str, float] = Field(default_factory=dict)
    pass_score: float = Field(default=95.0, alias="pass")
    marginal_score: float = Field(default=75.0, alias="marginal")


Gate = Annotated[
    ThresholdGate
    | RelativeGate
    | TailShiftGate
    | MannWhitneyGate
    | PairedGate
    | FunnelGate
    | BurnRateGate
    | SequentialGate
    | TraceCompletenessGate
    | MetricGate
    | ScoreGate,
    Field(discriminator="kind"),
]
KINDS: dict[str, type[GateBase]] = {
    "threshold": ThresholdGate,
    "relative": RelativeGate,
    "tail_shift": TailShiftGate,
    "mann_whitney": MannWhitneyGate,
    "paired": PairedGate,
    "funnel": FunnelGate,
    "burn_rate": BurnRateGate,
    "sequential": SequentialGate,
    "trace_completeness": TraceCompletenessGate,
    "metric": MetricGate,
    "score": ScoreGate,
}
_ADAPTER: TypeAdapter[Gate] = TypeAdapter(Gate)

#: Used by rehearsals when harness.toml configures no gates. Each comparing gate's `alpha` is
#: its pre-set share of the verdict's 2.5% false-FAIL rate (a weighted Bonferroni split): most
#: to typical latency, whose one-step slowdowns are the regressions a release most often
#: carries and which needs it most (13 steps share it); then the error rate, whose end-of-run
#: test (each journey and their pooled series) and the anytime-valid error split test the same
#: hypothesis, so the end-of-run test, the more powerful, takes most (0.5% → 1.5% at 1,000 a
#: side on 2 journeys: caught 0.60 at 0.6%, 0.44 at 0.2%) and the live abort a little, enough
#: for a gross rise; little to the funnel and trace gates, whose 5 pp limits are large. Web
#: pages get an LCP gate, with 0.5% of the 1.3% typical latency had (its per-step threshold
#: rises 4%, z 3.09 → 3.23 at 13 steps): a slow page among a step's three moves the step a
#: few percent and its own LCP by all of it (+300 ms: checkout +24%, its page +168%, 39
#: iterations, bench/README.md); the 20% margin is 50 ms of a 250 ms paint.
DEFAULT_GATES: list[dict[str, Any]] = [
    {
        "kind": "relative",
        "name": "error rate vs baseline",
        "metric": "error_rate",
        "margin": "1pp",
        "fail_margin": "0pp",  # significantly worse and not shown within 1 pp: FAIL
        "critical": True,
        "group": "errors",
        "alpha": 0.006,
    },
    {
        "kind": "sequential",
        "name": "error split (anytime-valid)",
        "group": "errors",
        "abort": True,
        "alpha": 0.001,
    },
    {
        "kind": "tail_shift",
        "name": "tail latency per step (p95, p99)",
        "margin": "20%",
        "group": "latency",
        "alpha": 0.004,
    },
    {
        "kind": "paired",
        "name": "typical latency per step (paired)",
        "group": "latency",
        "alpha": 0.008,
        "stop_early": 0.2,  # a fifth of it for the live test that stops a rehearsal early
    },
    {
        "kind": "paired",
        "name": "LCP per page (paired)",
        "metric": "lcp",
        "page": "*",
        "margin": "20%",
        "group": "latency",
        "alpha": 0.005,
        "optional": True,  # a run without web steps has no pages: left out of its verdict
    },
    {
        "kind": "funnel",
        "name": "conversion vs baseline",
        "max_drop": "5pp",
        "group": "conversion",
        "alpha": 0.0005,
    },
    {"kind": "burn_rate", "name": "SLO burn rate (99.5%)", "slo": 0.995, "group": "errors"},
    {
        "kind": "trace_completeness",
        "name": "trace completeness vs baseline",
        "max_drop": "5pp",
        "group": "observability",
        "alpha": 0.0005,
    },
]


def parse_gates(raw: list[dict[str, Any]], *, where: str = "harness.toml") -> list[Gate]:
    """Validate gate tables; raises `SpecError` naming the gate, the key and what is allowed."""
    gates = []
    for index, table in enumerate(raw, start=1):
        label = f"{where}: gate #{index}" + (f" ({table['name']!r})" if "name" in table else "")
        kind = table.get("kind")
        if not isinstance(kind, str) or kind not in KINDS:
            close = difflib.get_close_matches(str(kind), KINDS, n=1)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            raise SpecError(
                f"{label}: kind = {kind!r} is not a gate kind{hint} Allowed: {', '.join(KINDS)}. "
                'Example: [[gates]] kind = "threshold" metric = "p95" step = "pay" value = "800ms"'
            )
        try:
            gates.append(_ADAPTER.validate_python(table))
        except ValidationError as exc:
            raise SpecError(_explain(label, kind, exc)) from None
    return gates


def _explain(label: str, kind: str, exc: ValidationError) -> str:
    error = exc.errors()[0]
    loc = [str(p) for p in error["loc"] if str(p) != kind]
    key = ".".join(loc) or "(table)"
    if error["type"] == "extra_forbidden":
        fields = sorted((f.alias or name) for name, f in KINDS[kind].model_fields.items())
        close = difflib.get_close_matches(loc[-1], fields, n=1)
        hint = f"; did you mean `{close[0]}`?" if close else ""
        return f"{label}: unknown key `{key}` for a {kind} gate{hint} Allowed: {', '.join(fields)}."
    message = str(error["msg"]).removeprefix("Value error, ")
    if not loc:  # a rule across keys (e.g. `journey` and `journeys` both given)
        return f"{label}: {message}."
    return f"{label}: `{key}` = {error.get('input')!r} is invalid: {message}."
