"""Wiring OpenTelemetry, at the CLI or pytest-plugin edge only.

The journey process records spans with the light tracer of `harness.telemetry.recorder` (the
code above it sees only the OpenTelemetry API) into a spool; a sidecar process samples the
spans and exports them to `traces.jsonl` in the run folder (always) and, through the SDK's
exporter, to an OTLP endpoint when one is given (and `OTEL_TRACES_EXPORTER` is not `none`). Its
`RowSampler` keeps a share of journey traces (`--trace-sample`) but always every failed one and
the slowest ones. With an endpoint (and `OTEL_METRICS_EXPORTER` not `none`), step and journey
durations also go out as OTel exponential histograms, with iteration and error counters.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource

from harness.records import IterationRecord, Outcome, StepRecord
from harness.telemetry import otel_env, spans
from harness.telemetry.otlp_shipper import OTLP_TIMEOUT_S, grace_for
from harness.telemetry.recorder import LightTracerProvider
from harness.telemetry.spool import SpanSpool

SIDECAR_WAIT_S = 120.0  #: the longest a run waits for its spans to be written, after its load
NOTICE_S = 5.0
#: one metrics export to the endpoint, unless OTEL_EXPORTER_OTLP_[METRICS_]TIMEOUT says
METRICS_TIMEOUT_S = 5.0


@dataclass
class Telemetry:
    """The wired tracing of one process; `shutdown()` flushes everything."""

    provider: trace.TracerProvider | None  #: None when tracing is switched off (`--no-traces`)
    sidecar: SpanSidecar | None = None
    metrics: MetricsSink | None = None
    meter_provider: Any = None
    counts: dict[str, Any] = field(default_factory=dict)  #: the sidecar's span counts
    missing: list[str] = field(default_factory=list)  #: evidence that could not be completed
    applied: str = ""  #: the tracing settings in one line (service, where spans go, sampling)
    metrics_wait_s: float = METRICS_TIMEOUT_S  #: the longest the end waits for the last metrics

    def shutdown(self) -> None:
        """Stop routing harness spans here, close the spool and wait for the sidecar to have
        exported it (`counts`, or a line in `missing`); flush the metrics."""
        spans.use_provider(None)
        if self.provider is not None and hasattr(self.provider, "shutdown"):
            self.provider.shutdown()
        metrics = None
        if self.meter_provider is not None:  # its last export runs while the spans are written
            metrics = threading.Thread(
                target=self.meter_provider.shutdown,
                kwargs={"timeout_millis": self.metrics_wait_s * 1000},
                daemon=True,
            )
            metrics.start()
        spool = getattr(self.provider, "spool", None)
        if self.sidecar is not None and spool is not None and spool.error is not None:
            # No end mark on a full disk: the sidecar writes what it has and exits on SIGTERM.
            self.sidecar.process.stop(grace_s=0)
            self.missing.append(f"the harness's spans ({spool.lost:,} not spooled: {spool.error})")
        elif self.sidecar is not None:
            self.counts = self.sidecar.finish()
            if not self.counts:
                self.missing.append(f"the harness's spans ({self.sidecar.problem})")
        if metrics is not None:
            metrics.join(self.metrics_wait_s + 1.0)


class SpanSidecar:
    """The `harness.telemetry.sidecar` process that exports this process's span spool."""

    def __init__(
        self,
        spool: Path,
        *,
        out: Path,
        resource: dict[str, Any],
        endpoint: otel_env.OtlpTarget | None,
        sample_rate: float,
        timeout_s: float = OTLP_TIMEOUT_S,
    ) -> None:
        """`timeout_s` is each export's deadline at `endpoint`."""
        from harness.children import SpawnedProcess

        self.spool = spool
        self.stats = spool.with_suffix(".stats.json")
        argv = [
            sys.executable,
            "-m",
            "harness.telemetry.sidecar",
            str(spool),
            "--out",
            str(out),
            "--resource",
            json.dumps(resource),
            "--sample",
            repr(sample_rate),
            "--parent",
            str(os.getpid()),
            "--stats",
            str(self.stats),
            "--index",
            str(out.parent / "traces" / f"journeys-{os.getpid()}.tsv")
            if out.parent.name != "traces"
            else str(out.parent / f"journeys-{os.getpid()}.tsv"),
        ]
        if endpoint is not None:
            argv += ["--endpoint", endpoint.url, "--protocol", endpoint.protocol]
            argv += ["--otlp-timeout", repr(timeout_s)]
        self.process = SpawnedProcess(argv, dict(os.environ))
        self.problem = ""

    def finish(self, timeout_s: float = SIDECAR_WAIT_S) -> dict[str, Any]:
        """Wait for the sidecar to write the closed spool to the trace file, saying so every few
        seconds; returns its span counts. A sidecar that does not finish in time is stopped
        (SIGTERM: it writes what it has, then SIGKILL), the spool kept for a look, `problem`
        says why, and {} is returned."""
        waited = 0.0
        while self.process.wait(min(NOTICE_S, timeout_s - waited)) is None:
            waited += NOTICE_S
            if waited >= timeout_s:
                self.process.stop(grace_s=0)
                self.problem = f"not all written within {timeout_s:g} s; spool kept: {self.spool}"
                print(f"traces: {self.problem}", flush=True)
                return {}
            left = _size(self.spool)
            print(
                f"waiting for evidence: the harness's spans ({waited:.0f} s of at most "
                f"{timeout_s:g} s{f', {left / 2**20:.0f} MB spooled' if left else ''})…",
                flush=True,
            )
        try:
            counts: dict[str, Any] = json.loads(self.stats.read_text())
        except (OSError, ValueError):
            self.problem = f"the span exporter failed (exit {self.process.returncode})"
            print(f"traces: {self.problem}", flush=True)
            return {}
        self.stats.unlink()
        return counts


def _size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0


def switched_off() -> Telemetry:
    """`--no-traces`: no spans and no trace headers in this process until `shutdown()`."""
    spans.use_provider(trace.NoOpTracerProvider())
    return Telemetry(provider=None)


def setup(
    *,
    trace_file: Path,
    run_id: str,
    endpoint: str | None = None,
    sample_rate: float | None = None,
    service_name: str = otel_env.DEFAULT_SERVICE_NAME,
    worker: int = 0,
) -> Telemetry:
    """Wire tracing (and metrics, with an endpoint) for this process: spans are recorded by
    the light tracer into a spool next to `trace_file`, and exported by a sidecar process.

    The `OTEL_*` environment applies where no argument says otherwise (`harness.telemetry.
    otel_env`): `OTEL_SDK_DISABLED=true` switches tracing off; `OTEL_TRACES_EXPORTER` and
    `OTEL_METRICS_EXPORTER` (`none`) keep a signal off the endpoint; the endpoints, protocol,
    export deadlines, headers and resource come from it; `sample_rate` None reads
    `OTEL_TRACES_SAMPLER` (else 1). Raises `UsageError` for an exporter, OTLP protocol, timeout
    or sampler the harness cannot apply."""
    if otel_env.sdk_disabled():
        return switched_off()
    rate = otel_env.sample_rate(sample_rate, 1.0)[0]
    otel_env.check_propagators()
    traces_to = otel_env.otlp_target("traces", endpoint)
    metrics_to = otel_env.otlp_target("metrics", endpoint)
    traces_timeout = otel_env.export_timeout("traces", OTLP_TIMEOUT_S)
    metrics_timeout = otel_env.export_timeout("metrics", METRICS_TIMEOUT_S)[0]
    resource = otel_env.resource_attributes(
        {"service.instance.id": f"{run_id}-{worker}-{os.getpid()}", "harness.run_id": run_id},
        service_name,
    )
    spool = trace_file.with_name(f"{trace_file.stem}-{os.getpid()}.spool")
    span_spool = SpanSpool(spool)
    provider = LightTracerProvider(span_spool, otel_env.ratio_bound(rate))
    sidecar = SpanSidecar(
        spool,
        out=trace_file,
        resource=resource,
        endpoint=traces_to,
        sample_rate=rate,
        timeout_s=traces_timeout[0],
    )
    applied = _applied(resource, traces_to, rate, traces_timeout, endpoint)
    telemetry = Telemetry(
        provider=provider,
        sidecar=sidecar,
        applied=applied,
        metrics_wait_s=grace_for(metrics_timeout),
    )
    if metrics_to is not None:
        telemetry.meter_provider, telemetry.metrics = _metrics(
            Resource(resource), metrics_to, metrics_timeout
        )
    spans.use_provider(provider)
    return telemetry


def _applied(
    resource: dict[str, str],
    to: otel_env.OtlpTarget | None,
    rate: float,
    timeout: tuple[float, str],
    flag: str | None,
) -> str:
    """The tracing settings in one line: service, where spans (and metrics) go, sampling."""
    from harness.redact import redact_url

    if to is not None:
        where = f"OTLP {to.protocol} to {redact_url(to.url)}"
        deadline, source = timeout
        if source != "default":
            within = (
                "without a deadline"
                if deadline == otel_env.INDEFINITE_S
                else f"within {deadline:g} s"
            )
            where += f" (exports {within}, {source})"
    elif otel_env.selected_exporter("traces") == otel_env.NONE:
        where = "no spans sent over OTLP (OTEL_TRACES_EXPORTER=none; traces.jsonl has them)"
    else:
        where = "no OTLP endpoint"
    if not flag and otel_env.selected_exporter("metrics") == otel_env.NONE:
        where += ", no OTLP metrics (OTEL_METRICS_EXPORTER=none)"
    return (
        f"service {resource.get('service.name', '')}, {where}, "
        f"{rate:g} of the traces sampled at the root"
    )


def _metrics(
    resource: Resource, to: otel_env.OtlpTarget, timeout_s: float
) -> tuple[Any, MetricsSink]:
    from opentelemetry.sdk.metrics import Histogram, MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from opentelemetry.sdk.metrics.view import ExponentialBucketHistogramAggregation, View

    # The SDK logs every retry; a collector that is down is said once, by the sidecar's count.
    logging.getLogger("opentelemetry.exporter.otlp").setLevel(logging.CRITICAL)

    reader = PeriodicExportingMetricReader(
        otel_env.otlp_exporter(to, "metrics", timeout_s),
        export_interval_millis=5000,
        export_timeout_millis=timeout_s * 1000,
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


def merge_trace_parts(
    run_dir: Path, missing: list[str] | None = None, sample_rate: float = 1.0
) -> int:
    """Count every journey trace's join (`joins.settle`: before the target's spans are cut to
    the sampled traces), then append the span files of other processes (`traces/*.jsonl`:
    workers, the sandbox) to `traces.jsonl` and remove them; returns how many lines were
    merged. A part's process that could not finish writing left a marker saying why: its words
    go to `missing`."""
    from harness.telemetry.joins import settle

    parts_dir = run_dir / "traces"
    if not parts_dir.is_dir():
        return 0
    settle(run_dir, sample_rate)
    merged = 0
    for marker in sorted(parts_dir.glob("*.incomplete")):
        with contextlib.suppress(OSError):
            if missing is not None:
                missing.append(marker.read_text(encoding="utf-8", errors="replace").strip())
            marker.unlink()
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
