"""The one journey runtime: every mode runs iterations through `VirtualUser.run_iteration`
(`harness.virtual_user`).

A journey receives a `JourneyContext` (`j`). Each `with j.step(...)` block is timed, classified
and turned into exactly one `StepRecord` (in `Step.__exit__`); a failed step ends the iteration.
Drivers (smoke, Locust) differ only in how they create virtual users and when they call them.
"""

from __future__ import annotations

import re
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol

from opentelemetry.context import Context, attach, detach
from opentelemetry.trace import INVALID_SPAN, Span

from harness.errors import ErrorKind, StepError, UsageError
from harness.journey import Journey
from harness.records import IterationRecord, Outcome, RequestRecord, StepRecord, Touchpoint
from harness.redact import plain
from harness.targets import Target
from harness.telemetry import spans
from harness.think import Pauses, ThinkTime, iteration_rng

if TYPE_CHECKING:
    from harness.flags import IterationFlags
    from harness.touchpoints.api import ApiClient
    from harness.touchpoints.mobile import MobileClient
    from harness.touchpoints.web_session import WebSession
    from harness.virtual_user import VirtualUser
    from synth import IterationData, Person

OUTSIDE_STEP = "(outside any step)"
_PACKAGE_DIR = str(Path(__file__).resolve().parent)


class RunSink(Protocol):
    """Receives the records of a run as they happen."""

    def step_finished(self, record: StepRecord) -> None: ...

    def iteration_finished(self, record: IterationRecord) -> None: ...


@dataclass
class RunSettings:
    """What every iteration of a run shares: identity, target, where artifacts go, timeouts."""

    run_id: str
    target: Target
    artifacts_dir: Path
    seed: int = 1
    worker: int = 0
    profile: str = "default"
    locale: str = "en_US"
    request_timeout: float = 10.0
    action_timeout: float = 5.0
    navigation_timeout: float = 15.0
    record_browser_trace: bool = True
    browser_context: str = "fresh"  #: `reuse`: the virtual user's context, cleared per iteration
    flags: dict[str, str] = field(default_factory=dict)  #: feature-flag values (`--flags`)
    think: bool = False  #: pause between steps as journeys declare (load modes; never smoke)
    #: think times per journey step (`harness.think.step_key`) of a `--workload` model
    workload_think: dict[str, ThinkTime] = field(default_factory=dict)


class StepFailed(Exception):
    """Control flow only: a step failed and was recorded; the iteration ends."""

    def __init__(self, record: StepRecord) -> None:
        super().__init__(record.message)
        self.record = record


class Step:
    """`with j.step(name, on=...)`: times, classifies and records one step."""

    def __init__(self, context: JourneyContext, name: str, touchpoint: Touchpoint) -> None:
        self.context = context
        self.name = name
        self.touchpoint = touchpoint
        self.requests: list[RequestRecord] = []
        self._started_at = 0.0
        self._t0 = 0.0
        self._token: object = None

    def __enter__(self) -> Step:
        if self.context._current_step is not None:
            raise UsageError(
                f"journey `{self.context.journey.name}`: step `{self.name}` is nested inside "
                f"step `{self.context._current_step.name}`; steps cannot be nested"
            )
        if self.context._step_count > 0 and not self.context._thought:
            self.context._pauses.before(self.name)
        context = self.context
        context._thought, context._current_step = False, self
        self._span, context._active_trace = spans.start_step(
            context._trace,
            step=self.name,
            touchpoint=self.touchpoint.value,
            target=context.settings.target.name,
            iteration=context.iteration,
            run_id=context.settings.run_id,
            journey=context.journey.name,
        )
        if self._span is not INVALID_SPAN:  # current, so that a journey's own spans join it
            self._token = attach(context._active_trace)
        self._started_at, self._t0 = time.time(), time.perf_counter()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        duration_ms = round((time.perf_counter() - self._t0) * 1000.0, 3)
        if self._token is not None:
            detach(self._token)  # type: ignore[arg-type]
        context = self.context
        context._current_step = None
        context._active_trace = context._trace
        web = context._web
        if web is not None and not web.closed:
            self.requests.extend(web.drain_requests())
        if exc is not None and (not isinstance(exc, Exception) or isinstance(exc, UsageError)):
            # KeyboardInterrupt or GreenletExit: the run is stopping, not failing. UsageError:
            # the journey is written wrong, which stops the run with exit code 2.
            spans.end_span(self._span, type(exc).__name__)
            return
        kind, message = (None, None) if exc is None else classify(exc, context.journey)
        artifacts: tuple[str, ...] = ()
        if exc is not None and self.touchpoint is Touchpoint.WEB and web is not None:
            stem = _slug(
                f"{context.journey.name}-u{context.user_index}-i{context.iteration}-{self.name}"
            )
            artifacts = tuple(str(p) for p in web.capture_failure(stem))
        vitals, pages = web.step_vitals(self) if web is not None and exc is None else (None, None)
        self._span.set_attribute("harness.outcome", "failed" if exc else "passed")
        spans.end_span(self._span, kind.value if kind else None, message)
        record = StepRecord(
            run_id=context.settings.run_id,
            target=context.settings.target.name,
            journey=context.journey.name,
            step=self.name,
            index=context._step_count,
            touchpoint=self.touchpoint,
            worker=context.settings.worker,
            user=context.user_index,
            iteration=context.iteration,
            started_at=self._started_at,
            duration_ms=duration_ms,
            outcome=Outcome.PASSED if exc is None else Outcome.FAILED,
            error_kind=kind,
            message=message,
            artifacts=artifacts,
            requests=tuple(self.requests),
            vitals=vitals,
            vital_pages=pages,
            person=context._person_id(),
            trace_id=context._trace_id,  # the step's span is in its iteration's trace
        )
        context._step_count += 1
        context.records.append(record)
        context.sink.step_finished(record)
        if exc is not None:
            raise StepFailed(record) from exc


def classify(exc: BaseException, journey: Journey) -> tuple[ErrorKind, str]:
    """The error kind and message (secrets redacted, control characters removed) for an
    exception raised inside a step."""
    if isinstance(exc, StepError):
        return exc.kind, plain(str(exc))
    if isinstance(exc, AssertionError):
        return ErrorKind.ASSERTION, plain(str(exc)) or f"assertion failed at {_journey_frame(exc)}"
    return (
        ErrorKind.JOURNEY,
        plain(
            f"error in journey `{journey.name}` at {_journey_frame(exc)}: "
            f"{type(exc).__name__}: {exc}"
        ),
    )


def _journey_frame(exc: BaseException) -> str:
    """`file:line` of the deepest frame outside the harness, i.e. in the journey's own code."""
    frames = traceback.extract_tb(exc.__traceback__)
    own = [f for f in frames if not f.filename.startswith(_PACKAGE_DIR)]
    chosen = own or frames
    if not chosen:
        return "?"
    return f"{Path(chosen[-1].filename).name}:{chosen[-1].lineno}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-")[:120]


class JourneyContext:
    """`j`, the one object a journey receives. Touchpoint clients are created on first use."""

    def __init__(self, user: VirtualUser, journey: Journey, iteration: int) -> None:
        self.virtual_user = user
        self.settings = user.settings
        self.journey = journey
        self.iteration = iteration
        self.user_index = user.index
        self.sink = user.sink
        self.vars: dict[str, Any] = {}
        self.records: list[StepRecord] = []
        self._current_step: Step | None = None
        self._step_count = 0
        self._web: WebSession | None = None
        self._api: ApiClient | None = None
        self._mobile: MobileClient | None = None
        self._synth: IterationData | None = None
        self._flags: IterationFlags | None = None
        self._trace: Context = Context()
        self._active_trace: Context = self._trace
        self._trace_id: str | None = None
        self._thought = False
        self._pauser: Pauses | None = None

    def think(self, duration: str | float | None = None) -> None:
        """Pause as a person would, between two steps: `duration` (seconds or `"1.5s"`), or a
        draw of the journey's `think=`. Only in load modes (smoke never pauses); the next step
        then takes no automatic pause of its own."""
        if self._current_step is not None:
            raise UsageError(
                f"journey `{self.journey.name}`: j.think() inside step "
                f"`{self._current_step.name}` would count the pause as the step's latency; "
                "call it between steps"
            )
        self._thought = True
        self._pauses.before(None, duration)

    @property
    def _pauses(self) -> Pauses:
        if self._pauser is None:
            settings = self.settings
            self._pauser = Pauses(
                settings.think,
                self.journey.name,
                self.journey.think,
                settings.workload_think,
                iteration_rng(settings.seed, settings.worker, self.user_index, self.iteration),
            )
        return self._pauser

    def start_trace(self) -> Span:
        """Start this iteration's root span: its context becomes the parent of every step, and
        its trace id that of every record. Returns the root span, for the caller to end."""
        root, self._trace = spans.start_iteration(
            run_id=self.settings.run_id,
            journey=self.journey.name,
            target=self.settings.target.name,
            worker=self.settings.worker,
            user=self.user_index,
            iteration=self.iteration,
        )
        self._active_trace = self._trace
        self._trace_id = spans.trace_id_of(root)
        return root

    def step(self, name: str, *, on: str | Touchpoint) -> Step:
        """A measured step on touchpoint `on` (`web`, `api` or `mobile`)."""
        try:
            touchpoint = Touchpoint(on)
        except ValueError:
            raise UsageError(
                f"journey `{self.journey.name}` step `{name}`: on={on!r} is not a touchpoint; "
                "use on='web', on='api' or on='mobile'"
            ) from None
        return Step(self, name, touchpoint)

    @property
    def target(self) -> Target:
        """The deployment this iteration runs against."""
        return self.settings.target

    @property
    def synth(self) -> IterationData:
        """Synthetic data fixed by (seed, worker, user, iteration)."""
        if self._synth is None:
            self._synth = self.virtual_user.synth_source.scope(self.user_index, self.iteration)
        return self._synth

    @property
    def flags(self) -> IterationFlags:
        """This iteration's feature flags (`--flags`, `--flag-matrix`), evaluated through
        OpenFeature with the synthetic person as targeting key; sent with every request."""
        if self._flags is None:
            from harness.flags import iteration_flags

            self._flags = iteration_flags(
                self.settings.target.name, self.settings.flags, self.user.id
            )
        return self._flags

    @property
    def user(self) -> Person:
        """The synthetic person of this iteration, the same on every touchpoint."""
        return self.synth.person

    @property
    def web(self) -> WebSession:
        """This iteration's browser context (Chromium through Playwright): a new one, or with
        `--browser-context reuse` the virtual user's, cleared since its last iteration."""
        if self._web is None:
            span = spans.start_action(
                self._active_trace, "web new browser context", {"harness.web.action": "open"}
            )
            try:
                self._web = self.virtual_user.open_web(
                    base_url=self.target.web,
                    artifacts_dir=self.settings.artifacts_dir,
                    device=self.journey.device,
                    **self.target.web_timeouts(self.settings),
                    record_trace=self.settings.record_browser_trace,
                    extra_headers=self.virtual_user.web_headers(
                        self.flags.header() if self.settings.flags else None
                    ),
                    block=self.target.block,
                )
            except Exception as exc:
                spans.end_span(span, type(exc).__name__, str(exc))
                raise
            spans.end_span(span)
            self._web.trace_parent = self._trace_parent
        return self._web

    @property
    def api(self) -> ApiClient:
        """The JSON API client, at the target's API base URL."""
        if self._api is None:
            # One client per virtual user, renewed for each iteration (no headers or token
            # carried over): building one per iteration was a measurable share of a short
            # API journey's cost at load.
            client = self.virtual_user._api
            if client is None:
                from harness.touchpoints.api import ApiClient

                client = self.virtual_user._api = ApiClient(
                    self.target.api,
                    self.virtual_user.transport("api"),
                    observer=self._observe,
                    timeout=self.settings.request_timeout,
                    trace_parent=self._trace_parent,
                    config=self.virtual_user.touchpoint_http("api"),
                    config_key=f"targets.{self.target.name}.http.api",
                )
            else:
                client.renew(self._observe, self._trace_parent)
            self._api = client
            if self.settings.flags:
                self._api.headers.update(self.flags.header())
        return self._api

    @property
    def mobile(self) -> MobileClient:
        """The mobile API client, playing this iteration's synthetic device."""
        if self._mobile is None:
            from harness.touchpoints.mobile import MobileClient

            self._mobile = MobileClient(
                self.target.mobile,
                self.virtual_user.transport("mobile"),
                device=self.synth.device,
                observer=self._observe,
                timeout=self.settings.request_timeout,
                trace_parent=self._trace_parent,
                config=self.virtual_user.touchpoint_http("mobile"),
                config_key=f"targets.{self.target.name}.http.mobile",
            )
            if self.settings.flags:
                self._mobile.headers.update(self.flags.header())
        return self._mobile

    def _trace_parent(self) -> Context:
        return self._active_trace

    def _observe(self, request: RequestRecord) -> None:
        if self._current_step is not None:
            self._current_step.requests.append(request)
        for hook in self.virtual_user.request_hooks:
            hook(self, request)

    def _person_id(self) -> str | None:
        return self._synth.person.id if self._synth is not None else None

    def close(self) -> None:
        """Release what this iteration opened (the browser context)."""
        if self._web is not None:
            self.virtual_user.release_web(self._web)
