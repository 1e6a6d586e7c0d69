"""`VirtualUser`: one simulated person-slot that runs iterations of journeys one after another
through the runtime (`harness.runtime`), keeping its HTTP connections and synthetic-data source
across them; the only place an `IterationRecord` is made. `browser_host_for` gives a process its
one lazily started Chromium."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from harness.errors import ErrorKind, UsageError
from harness.journey import Journey
from harness.records import IterationRecord, Outcome, RequestRecord, StepRecord
from harness.runtime import OUTSIDE_STEP, JourneyContext, RunSettings, RunSink, StepFailed, classify
from harness.telemetry import spans

if TYPE_CHECKING:
    from harness.http.transport import HttpTransport
    from harness.target_http import TouchpointHttp
    from harness.touchpoints.api import ApiClient
    from harness.touchpoints.web import BrowserHost
    from harness.touchpoints.web_session import WebSession
    from synth import SynthSource

RequestHook = Callable[[JourneyContext, RequestRecord], None]


#: iterations one reused browser context serves before it is closed and another opened: what
#: Playwright keeps of a context's requests (`VirtualUser.release_web`) stays under ~4 MB a
#: context, for one fresh context's cost every 25 iterations (a few % of Chromium's CPU);
#: both sides of a rehearsal replace theirs at the same iterations
REUSE_LIMIT = 25


@dataclass
class VirtualUser:
    """One simulated person-slot: runs iterations one after another, keeps HTTP connections."""

    index: int
    settings: RunSettings
    sink: RunSink
    browser: Callable[[], BrowserHost]
    transport_factory: Callable[[], HttpTransport] | None = None
    request_hooks: list[RequestHook] = field(default_factory=list)
    _transports: dict[str | None, HttpTransport] = field(default_factory=dict)
    _touchpoint_http: dict[str, TouchpointHttp] = field(default_factory=dict)
    _web_headers: dict[str, str] | None = None
    _synth_source: SynthSource | None = None
    _api: ApiClient | None = None  #: renewed by each iteration's `j.api`
    _web: WebSession | None = None  #: `--browser-context reuse`: kept across iterations
    _web_device: str | None = None
    _web_uses: int = 0  #: iterations the kept context has served

    @property
    def synth_source(self) -> SynthSource:
        """This run's seeded synthetic-data source for this worker."""
        if self._synth_source is None:
            from synth import SynthSource

            self._synth_source = SynthSource(
                seed=self.settings.seed,
                worker=self.settings.worker,
                profile=self.settings.profile,
                locale=self.settings.locale,
            )
        return self._synth_source

    def transport(self, touchpoint: str | None = None) -> HttpTransport:
        """The HTTP transport this virtual user reuses across iterations for `touchpoint`'s
        requests: one per distinct connection settings (`settings_for`), so the API and mobile
        touchpoints share one unless the target sets them apart."""
        found = self._transports.get(touchpoint)
        if found is not None:
            return found
        made: HttpTransport | None
        if self.transport_factory is not None:  # one, whatever the touchpoint
            made = next(iter(self._transports.values()), None) or self.transport_factory()
        else:
            from harness.http.transport import open_transport, settings_for

            settings = settings_for(self.settings.target, touchpoint)
            same = (t for t in self._transports.values() if getattr(t, "settings", 0) == settings)
            made = next(same, None) or open_transport(settings)
        self._transports[touchpoint] = made
        return made

    def web_headers(self, extra: dict[str, str] | None = None) -> dict[str, str] | None:
        """What the browser adds to every request: the target's headers for the web (their
        variables read once), then `extra` (the iteration's feature flags); None for none."""
        if self._web_headers is None:
            from harness.target_http import expand

            target = self.settings.target
            where = f"targets.{target.name}.http.web.headers"
            given = target.http.web_headers().items()
            self._web_headers = {k: expand(v, f"{where}.{k}") for k, v in given}
        return {**self._web_headers, **(extra or {})} or None

    def touchpoint_http(self, touchpoint: str) -> TouchpointHttp:
        """The target's settings in force for `touchpoint` (`api`, `mobile`), made once."""
        found = self._touchpoint_http.get(touchpoint)
        if found is None:
            found = self._touchpoint_http[touchpoint] = self.settings.target.http.touchpoint(
                touchpoint
            )
        return found

    def run_iteration(
        self, journey: Journey, iteration: int, *, scheduled: float | None = None
    ) -> IterationRecord:
        """Run one iteration of `journey`; never raises for a failure of the journey.

        `scheduled` is the `time.perf_counter()` instant an open-model plan meant the iteration to
        start: its duration is then measured from that instant, so waiting for a free user (a
        stalled target) shows as latency instead of silently fewer iterations.
        """
        context = JourneyContext(self, journey, iteration)
        _ = self.synth_source  # loads word lists once, outside any measured step
        root = context.start_trace()
        started_at = time.time()
        t0 = time.perf_counter()
        late_ms = None if scheduled is None else round(max(0.0, t0 - scheduled) * 1000.0, 3)
        origin = t0 if scheduled is None else min(t0, scheduled)
        failure: StepRecord | None = None
        outside: tuple[ErrorKind, str] | None = None
        try:
            journey.func(context)
        except StepFailed as failed:
            failure = failed.record
        except UsageError as exc:
            spans.end_span(root, type(exc).__name__)
            raise
        except Exception as exc:
            outside = classify(exc, journey)
        except BaseException:
            spans.end_span(root, "interrupted")
            raise
        finally:
            context.close()
        passed = sum(1 for r in context.records if r.outcome is Outcome.PASSED)
        record = IterationRecord(
            run_id=self.settings.run_id,
            target=self.settings.target.name,
            journey=journey.name,
            worker=self.settings.worker,
            user=self.index,
            iteration=iteration,
            started_at=started_at,
            duration_ms=round((time.perf_counter() - origin) * 1000.0, 3),
            outcome=Outcome.PASSED if failure is None and outside is None else Outcome.FAILED,
            steps_passed=passed,
            steps_total=len(context.records),
            failed_step=failure.step if failure else (OUTSIDE_STEP if outside else None),
            failed_touchpoint=failure.touchpoint if failure else None,
            error_kind=failure.error_kind if failure else (outside[0] if outside else None),
            message=failure.message if failure else (outside[1] if outside else None),
            artifacts=failure.artifacts if failure else (),
            person=context._person_id(),
            late_ms=late_ms,
            trace_id=context._trace_id,
        )
        if record.person is not None:
            root.set_attribute("harness.person", record.person)
        root.set_attribute("harness.outcome", record.outcome.value)
        spans.end_span(root, record.error_kind.value if record.error_kind else None, record.message)
        self.sink.iteration_finished(record)
        return record

    def open_web(
        self, *, device: str | None, extra_headers: dict[str, str] | None, **options: Any
    ) -> WebSession:
        """An iteration's browser context: a new one (`fresh`), or this user's own (`reuse`),
        opened anew when its device differs or its Chromium went away."""
        reuse = self.settings.browser_context == "reuse"
        kept = self._web
        if reuse and kept is not None:
            if kept.usable and self._web_device == device:
                kept.begin(extra_headers or {})
                return kept
            self._drop_web()
        session = self.browser().new_session(
            device=device,
            extra_headers=extra_headers,
            reuse=reuse,
            trace_origins=self.target_origins(),
            **options,
        )
        if reuse:
            self._web, self._web_device, self._web_uses = session, device, 0
        return session

    def target_origins(self) -> tuple[str, ...]:
        """The origins of the target's touchpoints: where the browser sends trace headers."""
        from harness.touchpoints.web_context import origin_of

        found = (origin_of(url) for url in self.settings.target.urls.values())
        return tuple(sorted({o for o in found if o is not None}))

    def release_web(self, session: WebSession) -> None:
        """The iteration is over: close its context, or clear this user's for the next one (a
        context that cannot be cleared is closed, and the next iteration opens another). A
        reused context is closed after `REUSE_LIMIT` iterations: Playwright keeps every
        request and response of a context in the driver's client until the context closes
        (about 150 kB a `browse_and_buy` iteration), so a kept one grows without end. It is
        closed too after an iteration that changed it for good through `j.web.page` (a
        listener, a route, an init script, emulation: `session.lasting`)."""
        if session is not self._web:
            session.close()
            return
        self._web_uses += 1
        if self._web_uses >= REUSE_LIMIT or session.lasting:
            # a listener, route or emulation the journey set through j.web.page would carry
            # into the next iteration: no clearing undoes it, so the next opens a new context
            self._drop_web()
            return
        try:
            session.reset()
        except Exception:
            self._drop_web()

    def _drop_web(self) -> None:
        kept, self._web = self._web, None
        if kept is not None:
            with contextlib.suppress(Exception):  # its Chromium is gone; so is the context
                kept.close()

    def close(self) -> None:
        """Close this user's HTTP connections and browser context."""
        self._drop_web()
        for transport in {id(t): t for t in self._transports.values()}.values():
            transport.close()
        self._transports.clear()
        self._api = None


@contextmanager
def browser_host_for(headless: bool = True) -> Iterator[Callable[[], BrowserHost]]:
    """A lazily started per-process `BrowserHost`, closed on exit."""
    host: BrowserHost | None = None

    def get() -> BrowserHost:
        nonlocal host
        if host is None:
            from harness.touchpoints.web import BrowserHost

            host = BrowserHost(headless=headless)
        return host

    try:
        yield get
    finally:
        if host is not None:
            host.close()
