"""Fakes for testing journeys and the harness itself without a network.

`FakeTransport` answers API and mobile requests from a handler function; `RecordingSink` keeps
the records a run produces; `run_once` runs one journey iteration against them.
"""

from __future__ import annotations

import contextlib
import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from harness.http.transport import HttpRequest, RawResponse
from harness.journey import Journey, journeys_in
from harness.records import IterationRecord, StepRecord
from harness.runtime import RunSettings
from harness.targets import Target
from harness.virtual_user import VirtualUser, browser_host_for

Handler = Callable[[HttpRequest], RawResponse]


def json_response(status: int, body: Any, headers: dict[str, str] | None = None) -> RawResponse:
    """A `RawResponse` carrying `body` as JSON."""
    return RawResponse(
        status, {"content-type": "application/json", **(headers or {})}, json.dumps(body).encode()
    )


@dataclass
class FakeTransport:
    """An `HttpTransport` that answers every request with `handler(request)` and keeps them."""

    handler: Handler
    requests: list[HttpRequest] = field(default_factory=list)
    closed: bool = False

    def send(self, request: HttpRequest) -> RawResponse:
        """Record `request` and return the handler's answer (its exceptions propagate)."""
        self.requests.append(request)
        return self.handler(request)

    def close(self) -> None:
        """Mark the transport closed."""
        self.closed = True


@dataclass
class RecordingSink:
    """A `RunSink` that keeps every record in memory."""

    steps: list[StepRecord] = field(default_factory=list)
    iterations: list[IterationRecord] = field(default_factory=list)

    def step_finished(self, record: StepRecord) -> None:
        """Keep a step record."""
        self.steps.append(record)

    def iteration_finished(self, record: IterationRecord) -> None:
        """Keep an iteration record."""
        self.iterations.append(record)


def run_once(
    journey: Journey | Callable[..., None],
    *,
    transport: FakeTransport | None = None,
    target: Target | None = None,
    seed: int = 1,
    user: int = 0,
    iteration: int = 0,
    artifacts_dir: Path | None = None,
    flags: dict[str, str] | None = None,
) -> tuple[IterationRecord, RecordingSink]:
    """Run one iteration of `journey` with fakes; web steps start a real Chromium if used.
    `flags` sets feature-flag values (`j.flags`, sent as `X-Feature-Flags`). Without
    `artifacts_dir`, a temporary folder is used and removed unless it holds a screenshot."""
    spec = journey if isinstance(journey, Journey) else _spec_of(journey)
    sink = RecordingSink()
    own_artifacts = artifacts_dir is None
    settings = RunSettings(
        run_id="test-run",
        target=target or Target.from_base_url("http://shop.test", name="fake"),
        artifacts_dir=artifacts_dir or Path(tempfile.mkdtemp(prefix="harness-artifacts-")),
        seed=seed,
        flags=dict(flags or {}),
    )
    with browser_host_for() as browser:
        virtual_user = VirtualUser(
            index=user,
            settings=settings,
            sink=sink,
            browser=browser,
            transport_factory=(lambda: transport) if transport is not None else None,
        )
        try:
            record = virtual_user.run_iteration(spec, iteration)
        finally:
            virtual_user.close()
            if own_artifacts:  # a folder of its own is kept only when it holds a screenshot
                with contextlib.suppress(OSError):
                    settings.artifacts_dir.rmdir()
    return record, sink


def _spec_of(func: Callable[..., None]) -> Journey:
    found = journeys_in({"f": func})
    if found:
        return found[0]
    return Journey(name=getattr(func, "__name__", "journey"), func=func)
