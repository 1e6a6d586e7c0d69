"""Wiring the OpenTelemetry SDK, at the CLI or pytest-plugin edge only.

Spans go to `traces.jsonl` in the run folder (always) and to an OTLP/HTTP endpoint when one is
given. `JourneySampler` keeps a share of journey traces (`--trace-sample`) but always every
failed one and the slowest ones. With an endpoint, step and journey durations also go out as
OTel exponential histograms, with iteration and error counters.
"""

from __future__ import annotations

import os
import threading
from collections import defaultdict, deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter
from opentelemetry.trace import StatusCode

from harness.records import IterationRecord, Outcome, StepRecord
from harness.telemetry import spans
from harness.telemetry.otlp_json import OtlpJsonLinesExporter

ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
MAX_PENDING_TRACES = 20_000
SLOW_WINDOW = 200


class JourneySampler(SpanProcessor):
    """Holds a trace's spans until its `journey` root ends, then keeps or drops the whole trace:
    kept when sampled by trace id, when the journey failed, or when it is among the slowest
    (at or above the 95th percentile of that journey's recent iterations)."""

    def __init__(self, delegate: SpanProcessor, rate: float) -> None:
        self.delegate = delegate
        self.rate = rate
        self._pending: dict[int, list[ReadableSpan]] = defaultdict(list)
        self._recent: dict[str, deque[float]] = defaultdict(lambda: deque(maxlen=SLOW_WINDOW))
        self._lock = threading.Lock()
        self.kept = 0
        self.dropped = 0

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        """Nothing to do until spans end."""

    def on_end(self, span: ReadableSpan) -> None:
        """Buffer a child span, or decide the fate of a finished journey trace."""
        if self.rate >= 1.0:
            self.delegate.on_end(span)
            return
        trace_id = span.context.trace_id if span.context else 0
        is_root = span.parent is None and span.name.startswith("journey ")
        with self._lock:
            if not is_root:
                if len(self._pending) >= MAX_PENDING_TRACES and trace_id not in self._pending:
                    self._pending.pop(next(iter(self._pending)))  # an orphan; keep memory bounded
                self._pending[trace_id].append(span)
                return
            held = self._pending.pop(trace_id, [])
            keep = self._keep(span, trace_id)
        if keep:
            self.kept += 1
            for child in (*held, span):
                self.delegate.on_end(child)
        else:
            self.dropped += 1

    def _keep(self, root: ReadableSpan, trace_id: int) -> bool:
        journey = str((root.attributes or {}).get("harness.journey", root.name))
        duration = (root.end_time or 0) - (root.start_time or 0)
        recent = self._recent[journey]
        slow = len(recent) >= 20 and duration >= sorted(recent)[int(0.95 * len(recent))]
        recent.append(duration)
        failed = root.status.status_code is StatusCode.ERROR
        sampled = (trace_id & 0xFFFFFFFF) / 0xFFFFFFFF < self.rate
        return sampled or failed or slow

    def shutdown(self) -> None:
        """Shut the delegate down (pending orphans are dropped)."""
        self.delegate.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        """Flush the delegate."""
        return self.delegate.force_flush(timeout_millis)


@dataclass
class Telemetry:
    """The wired SDK of one process; `shutdown()` flushes everything."""

    provider: TracerProvider | None  #: None when tracing is switched off (`--no-traces`)
    samplers: list[JourneySampler] = field(default_factory=list)
    metrics: MetricsSink | None = None
    meter_provider: Any = None

    def shutdown(self) -> None:
        """Flush and close the exporters, and stop routing harness spans here."""
        spans.use_provider(None)
        if self.provider is not None:
            self.provider.shutdown()
        if self.meter_provider is not None:
            self.meter_provider.shutdown()


def setup(
    *,
    trace_file: Path,
    run_id: str,
    endpoint: str | None = None,
    sample_rate: float = 1.0,
    service_name: str = "journey-harness",
    worker: int = 0,
) -> Telemetry:
    """Wire tracing (and metrics, with an endpoint) for this process."""
    endpoint = endpoint or os.environ.get(ENDPOINT_ENV) or None
    resource = Resource.create(
        {
            "service.name": service_name,
            "service.instance.id": f"{run_id}-{worker}-{os.getpid()}",
            "harness.run_id": run_id,
        }
    )
    provider = TracerProvider(resource=resource)
    exporters: list[SpanExporter] = [OtlpJsonLinesExporter(trace_file)]
    if endpoint:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        exporters.append(OTLPSpanExporter(endpoint=_signal_url(endpoint, "traces")))
    telemetry = Telemetry(provider=provider)
    for exporter in exporters:
        batch = BatchSpanProcessor(exporter, schedule_delay_millis=500, max_queue_size=65_536)
        sampler = JourneySampler(batch, sample_rate)
        telemetry.samplers.append(sampler)
        provider.add_span_processor(sampler)
    if endpoint:
        telemetry.meter_provider, telemetry.metrics = _metrics(resource, endpoint)
    spans.use_provider(provider)
    return telemetry


def _signal_url(endpoint: str, signal: str) -> str:
    base = endpoint.rstrip("/")
    return base if base.endswith(f"/v1/{signal}") else f"{base}/v1/{signal}"


def _metrics(resource: Resource, endpoint: str) -> tuple[Any, MetricsSink]:
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import Histogram, MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=_signal_url(endpoint, "metrics")), export_interval_millis=5000
    )
    provider = MeterProvider(
        resource=resource,
        metric_readers=[reader],
        views=[
            View(instrument_type=Histogram, aggregation=ExponentialBucketHistogramAggregation())
        ],
    )
    return provider, MetricsSink(provider.get_meter(spans.TRACER_NAME))


class MetricsSink:
    """A `RunSink` that records step and journey durations as OTel (exponential) histograms,
    and counts iterations and errors."""

    def __init__(self, meter: Any) -> None:
        self.steps = meter.create_histogram(
            "harness.step.duration", unit="s", description="Duration of journey steps"
        )
        self.journeys = meter.create_histogram(
            "harness.journey.duration", unit="s", description="Duration of journey iterations"
        )
        self.iterations = meter.create_counter("harness.iterations", description="Iterations run")
        self.errors = meter.create_counter("harness.errors", description="Failed steps")

    def step_finished(self, record: StepRecord) -> None:
        """Record one step."""
        attributes = {
            "harness.target": record.target,
            "harness.journey": record.journey,
            "harness.step": record.step,
            "harness.touchpoint": record.touchpoint.value,
            "harness.outcome": record.outcome.value,
        }
        self.steps.record(record.duration_ms / 1000.0, attributes)
        if record.outcome is Outcome.FAILED:
            kind = record.error_kind.value if record.error_kind else "unknown"
            self.errors.add(1, {**attributes, "error.type": kind})

    def iteration_finished(self, record: IterationRecord) -> None:
        """Record one iteration."""
        attributes = {
            "harness.target": record.target,
            "harness.journey": record.journey,
            "harness.outcome": record.outcome.value,
        }
        self.journeys.record(record.duration_ms / 1000.0, attributes)
        self.iterations.add(1, attributes)


def merge_trace_parts(run_dir: Path) -> int:
    """Append the span files of other processes (`traces/*.jsonl`: workers, the sandbox) to
    `traces.jsonl` and remove them; returns how many lines were merged."""
    parts_dir = run_dir / "traces"
    if not parts_dir.is_dir():
        return 0
    merged = 0
    with open(run_dir / "traces.jsonl", "a", encoding="utf-8") as target:
        for part in sorted(parts_dir.glob("*.jsonl")):
            with open(part, encoding="utf-8") as source:
                for line in source:
                    if line.endswith("\n"):
                        target.write(line)
                        merged += 1
            part.unlink()
    if not any(parts_dir.iterdir()):
        parts_dir.rmdir()
    return merged
