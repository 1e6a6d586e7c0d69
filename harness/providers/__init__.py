"""Metric providers: where a `metric` gate's query is sent, per side, over a run's (or a
stage's) window. `MetricProvider` is the interface (`fetch` one query's points, or raise
`ProviderError` with the provider's message); `harness.providers.prometheus` implements it over
Prometheus' HTTP API through the harness's one HTTP stack. `fetch_metrics` fetches every metric
gate's query on each side and never raises: a failure is kept as the side's `error`, which the
gate turns into its `error` outcome."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from harness.config import HarnessConfig, ProviderConfig
from harness.errors import SpecError
from harness.gates.metric import MetricGate, expand_query
from harness.gates.metric_series import FetchedMetric, FetchedSide
from harness.targets import Target

__all__ = [
    "Answer",
    "MetricProvider",
    "ProviderError",
    "check_providers",
    "fetch_metrics",
    "metric_gates",
    "open_provider",
    "side_labels",
]


class ProviderError(Exception):
    """A provider could not answer a query: unreachable, an HTTP error, or its own error."""


@dataclass(frozen=True)
class Answer:
    """One query's points (epoch seconds, value; NaN and ±Inf included) and what the provider
    said with them: `warnings` (Prometheus': the data may be partial, e.g. a remote store
    failed) and `infos` (notes on the query)."""

    points: list[tuple[float, float]]
    warnings: list[str] = field(default_factory=list)
    infos: list[str] = field(default_factory=list)


class MetricProvider(Protocol):
    """Fetches one query's points between `start` and `end`."""

    def fetch(self, query: str, start: float, end: float, step_s: float) -> Answer: ...


def metric_gates(gates: Sequence[object]) -> list[MetricGate]:
    """The metric gates among `gates`."""
    return [g for g in gates if isinstance(g, MetricGate)]


def check_providers(gates: Sequence[object], config: HarnessConfig) -> None:
    """Raise `SpecError` (exit 2, before the run) when a metric gate names a provider that
    `[providers]` does not configure."""
    for gate in metric_gates(gates):
        if gate.provider not in config.providers:
            known = ", ".join(sorted(config.providers)) or "none configured"
            raise SpecError(
                f"gate {gate.title()!r}: provider {gate.provider!r} is not configured "
                f"(providers: {known}); add e.g. [providers.{gate.provider}] "
                'url = "http://127.0.0.1:9090"'
            )


def open_provider(name: str, config: ProviderConfig, *, retry: bool = True) -> MetricProvider:
    """The provider `[providers.NAME]` describes; with `retry`, a request it did not serve
    (unreachable, 502/503/504) is asked again a few times before it is an error."""
    from harness.providers.prometheus import RETRY_PAUSES_S, PrometheusProvider

    return PrometheusProvider(name, config, pauses=RETRY_PAUSES_S if retry else ())


def side_labels(target: Target, role: str) -> dict[str, str]:
    """What a query's placeholders expand to on one side: `{target}` and `{side}`, then the
    target's own `labels` (which win)."""
    return {"target": target.name, "side": role, **target.labels}


def fetch_metrics(
    gates: Sequence[object],
    config: HarnessConfig,
    sides: dict[str, Target],
    start: float,
    end: float,
    *,
    retry: bool = True,
) -> list[FetchedMetric]:
    """Every metric gate's query fetched on each side (`{"baseline": t, "candidate": t}`, or
    `{"target": t}`) over [start, end]; one fetch per distinct (provider, query, resolution).
    `retry=False` for a live look that the next look follows anyway."""
    found: dict[tuple[str, str, float], FetchedMetric] = {}
    for gate in metric_gates(gates):
        key = (gate.provider, gate.query, gate.resolution_s)
        if key in found:
            continue
        settings = config.providers.get(gate.provider)
        fetched: dict[str, FetchedSide] = {}
        for role, target in sides.items():
            fetched[role] = _fetch_side(gate, settings, target, role, (start, end), retry)
        found[key] = FetchedMetric(
            provider=gate.provider,
            kind=settings.kind if settings is not None else "unknown",
            query=gate.query,
            resolution_s=gate.resolution_s,
            start=start,
            end=end,
            sides=fetched,
        )
    return list(found.values())


def _fetch_side(
    gate: MetricGate,
    settings: ProviderConfig | None,
    target: Target,
    role: str,
    window: tuple[float, float],
    retry: bool,
) -> FetchedSide:
    try:
        query = expand_query(gate.query, side_labels(target, role))
    except SpecError as exc:
        return FetchedSide(target=target.name, query=gate.query, error=str(exc))
    if settings is None:
        error = f"no [providers.{gate.provider}] in harness.toml"
        return FetchedSide(target=target.name, query=query, error=error)
    try:
        provider = open_provider(gate.provider, settings, retry=retry)
        answer = provider.fetch(query, *window, gate.resolution_s)
    except ProviderError as exc:
        return FetchedSide(target=target.name, query=query, error=str(exc))
    side = FetchedSide.of(target.name, query, answer.points)
    return side.model_copy(update={"warnings": answer.warnings, "infos": answer.infos})
