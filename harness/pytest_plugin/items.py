"""Journey modules as pytest collectors, and each journey as one `journey[<name>]` item.

An item runs its journey once through `VirtualUser.run_iteration`, exactly as `harness smoke`
does; a failed iteration is reported with its journey, step, touchpoint, error kind, message,
artifacts and trace id instead of a Python traceback.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

# pytest's own failure parts: xdist serialises these (and only these) whole
from _pytest._code.code import (
    ReprExceptionInfo,
    ReprFileLocation,
    ReprTracebackNative,
    TerminalRepr,
)
from _pytest._io import TerminalWriter

from harness.errors import HarnessError, JourneyLoadError
from harness.pytest_plugin.tags import marker_problem

if TYPE_CHECKING:
    from harness.journey import Journey
    from harness.pytest_plugin.state import HarnessSession
    from harness.records import IterationRecord, StepRecord

MARKER = "harness_journey"


class JourneyFailed(Exception):
    """A journey iteration failed; carries its records for the report (control flow only)."""

    def __init__(self, record: IterationRecord, steps: list[StepRecord]) -> None:
        super().__init__(record.message)
        self.record = record
        self.steps = steps


class JourneyFile(pytest.File):
    """A journey module: imported with the harness's own loader, never as a test module."""

    def collect(self) -> Iterable[JourneyItem]:
        """One item per journey (per `--harness-device` for browser journeys)."""
        from harness.journey import discover
        from harness.pytest_plugin.state import STATE, variant

        state = self.config.stash[STATE]
        for journey in discover([self.path]):
            known = state.journey_names.get(journey.name)
            if known is not None and known != journey.location:
                raise JourneyLoadError(
                    f"two journeys are named {journey.name!r}: {known} and {journey.location}; "
                    "pass name= to @journey to tell them apart"
                )
            state.journey_names[journey.name] = journey.location
            variants = (
                [variant(journey, d) for d in state.devices]
                if state.devices and journey.uses_browser
                else [journey]
            )
            for spec in variants:
                yield JourneyItem.from_parent(self, name=f"journey[{spec.name}]", journey=spec)

    def repr_failure(  # type: ignore[override]  # pytest's signature has a style argument
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        """A journey module that does not import: the loader's one-paragraph message."""
        if isinstance(excinfo.value, HarnessError):
            return str(excinfo.value)
        return super().repr_failure(excinfo)


class JourneyItem(pytest.Item):
    """One journey, run once."""

    def __init__(self, *, journey: Journey, **kwargs: object) -> None:
        parent_id = getattr(kwargs.get("parent"), "id", None)
        if parent_id is not None:
            # pytest 9.2 parses a stored id `f.py::journey[x]` (the --lf/--ff cache) into name
            # `journey` and params `x`; an id built from the whole name would never match it
            kwargs["nodeid"] = parent_id.child("journey").with_params(journey.name)
        super().__init__(**kwargs)  # type: ignore[arg-type]  # pytest's node keywords
        self.journey = journey
        self.record: IterationRecord | None = None
        self.add_marker(MARKER)
        self.extra_keyword_matches.update(journey.tags)  # `-k api` selects by tag
        for tag in sorted(journey.tags):
            if marker_problem(tag) is not None:  # `-m` naming it is refused, saying why
                continue
            # `-m api` too: registered first, so --strict-markers (and -m's check) know it
            self.config.addinivalue_line("markers", f"{tag}: journey tag")
            self.add_marker(tag)

    @property
    def state(self) -> HarnessSession:
        """The session state the plugin stashed."""
        from harness.pytest_plugin.state import STATE

        return self.config.stash[STATE]

    def runtest(self) -> None:
        """Run the journey; raise `JourneyFailed` when the iteration failed."""
        record, steps = self.state.run_journey(self.journey)
        self.record = record
        self.user_properties.extend(properties(record, steps))
        if record.outcome.value == "failed":
            raise JourneyFailed(record, steps)

    def repr_failure(  # type: ignore[override]  # pytest's signature has a style argument
        self, excinfo: pytest.ExceptionInfo[BaseException]
    ) -> str | TerminalRepr:
        """Journey, step, touchpoint, error kind, message, artifacts and trace id."""
        if isinstance(excinfo.value, JourneyFailed):
            path, line, _ = self.reportinfo()
            style = str(self.config.getoption("tbstyle", "auto"))
            failed = excinfo.value
            return JourneyFailureRepr(failed.record, failed.steps, (path, (line or 0) + 1), style)
        if isinstance(excinfo.value, HarnessError):
            return f"journey `{self.journey.name}`: {excinfo.value}"
        return super().repr_failure(excinfo)

    def reportinfo(self) -> tuple[str, int | None, str]:
        """Where the journey function is, for `-v` and the failure header."""
        code = getattr(self.journey.func, "__code__", None)
        line = code.co_firstlineno - 1 if code is not None else None
        return str(self.path), line, f"journey {self.journey.name}"


def properties(record: IterationRecord, steps: list[StepRecord]) -> Iterator[tuple[str, str]]:
    """JUnit properties of an iteration: one per step (milliseconds), trace id, artifacts."""
    for step in steps:
        yield (f"step {step.step} [{step.touchpoint.value}] ms", f"{step.duration_ms:.1f}")
    yield ("journey ms", f"{record.duration_ms:.1f}")
    if record.trace_id:
        yield ("trace_id", record.trace_id)
    for artifact in record.artifacts:
        yield ("artifact", artifact)


class JourneyFailureRepr(ReprExceptionInfo):
    """How a failed journey iteration reads in pytest's output.

    Built from pytest's own parts (a native-style traceback of the lines below, the headline at
    the journey's file and line as the crash location), so that xdist carries it to the
    controller whole: `--tb=line`, `-rA` and JUnit's `message` read the headline, with or
    without `-n`. In this process the lines are coloured; `--tb=line` shows only the headline.
    """

    def __init__(
        self,
        record: IterationRecord,
        steps: list[StepRecord],
        location: tuple[str, int],
        style: str,
    ) -> None:
        self.lines = [] if style == "line" else list(failure_lines(record, steps))
        super().__init__(
            reprtraceback=ReprTracebackNative([f"{text}\n" for text, _ in self.lines]),
            reprcrash=ReprFileLocation(location[0], location[1], headline(record)),
        )

    def toterminal(self, tw: TerminalWriter) -> None:
        """Write the failure: where, why, artifacts, trace id, and every step's timing."""
        for text, markup in self.lines:
            tw.line(text, **markup)


def failure_lines(
    record: IterationRecord, steps: list[StepRecord]
) -> Iterator[tuple[str, dict[str, bool]]]:
    """The failure's lines, each with its terminal markup."""
    yield f"{where(record)} failed", {"red": True, "bold": True}
    yield f"  error kind: {record.error_kind.value if record.error_kind else '?'}", {}
    yield f"  message:    {record.message}", {}
    for artifact in record.artifacts:
        kind = "screenshot:" if artifact.endswith(".png") else "browser trace:"
        yield f"  {kind:<11} {artifact}", {}
    if record.trace_id:
        yield f"  trace id:   {record.trace_id}", {}
    if record.person:
        yield f"  person:     {record.person}", {}
    if steps:
        yield "  steps:", {}
        width = max(len(s.step) for s in steps)
        for step in steps:
            ok = step.outcome.value == "passed"
            yield (
                f"    {'✓' if ok else '✗'} {step.step:<{width}}  {step.touchpoint.value:<6} "
                f"{step.duration_ms:>9,.1f} ms",
                {"red": not ok},
            )


def where(record: IterationRecord) -> str:
    """`browse_and_buy › checkout [web]` (the console's labels)."""
    label = f"{record.journey} › {record.failed_step}"
    if record.failed_touchpoint is not None:
        label += f" [{record.failed_touchpoint.value}]"
    return label


def headline(record: IterationRecord) -> str:
    """`browse_and_buy › checkout [web] failed: assertion: ...`."""
    kind = record.error_kind.value if record.error_kind else "error"
    return f"{where(record)} failed: {kind}: {record.message}"
