"""The pytest plugin (`pytest11` entry point `harness`): CI smoke journeys as pytest items.

`pytest --harness --harness-sandbox journeys/` collects every journey as an item
`journey[<name>]` and runs it once through the journey runtime (`VirtualUser.run_iteration`),
as `harness smoke` does; the session writes one run folder `results/<run>/` (mode `pytest`).
Without `--harness` the plugin only registers its options, marker and fixtures: importing it
loads no harness module, and none of locust, gevent, Playwright or the OpenTelemetry SDK.
"""

from __future__ import annotations

from collections.abc import Generator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from harness.pytest_plugin.fixtures import (
    api,
    harness_run,
    harness_target,
    journey_context,
    journey_runner,
    mobile,
    synth,
    web,
)
from harness.text import plural

if TYPE_CHECKING:
    from harness.pytest_plugin.state import HarnessSession

__all__ = [
    "api",
    "harness_run",
    "harness_target",
    "journey_context",
    "journey_runner",
    "mobile",
    "synth",
    "web",
]


def pytest_addoption(parser: pytest.Parser) -> None:
    """The `--harness*` options."""
    group = parser.getgroup("harness", "journey-harness (CI smoke journeys)")
    group.addoption(
        "--harness",
        action="store_true",
        default=False,
        help="collect and run every journey once (under the journey paths) as a test item",
    )
    group.addoption(
        "--harness-journeys",
        action="append",
        default=[],
        metavar="PATH",
        help="journey file or folder (repeatable; default: `journeys` of harness.toml)",
    )
    group.addoption("--harness-target", metavar="T", help="target name from harness.toml, or a URL")
    group.addoption(
        "--harness-sandbox",
        action="store_true",
        default=False,
        help="start the bundled sandbox shop for the session and stop it afterwards",
    )
    group.addoption(
        "--harness-regression",
        action="append",
        default=[],
        metavar="SPEC",
        help="with --harness-sandbox: a regression knob, e.g. ui:place-order (repeatable)",
    )
    group.addoption("--harness-config", type=Path, metavar="FILE", help="harness.toml to use")
    group.addoption(
        "--harness-device",
        action="append",
        default=[],
        metavar="NAME",
        help="run each browser journey once per device, e.g. 'iPhone 13' or desktop "
        "(repeatable); items are named journey[<name>-<device>]",
    )
    group.addoption(
        "--harness-gates",
        action="append",
        default=[],
        metavar="EXPR",
        help="threshold judged at session end, e.g. 'p95(step=pay)<=800ms' or "
        "'error_rate<=1%%' (repeatable); a breach fails the session",
    )
    group.addoption("--harness-seed", type=int, metavar="N", help="synthetic-data seed")
    group.addoption("--harness-results", type=Path, metavar="DIR", help="where run folders go")
    group.addoption("--harness-headed", action="store_true", default=False, help="show the browser")


def _runs_items(config: pytest.Config) -> bool:
    """False for `--collect-only`, `--fixtures` and `--fixtures-per-test`: they list, run nothing,
    and need neither the target nor a run folder."""
    option = config.option
    listing = ("collectonly", "showfixtures", "show_fixtures_per_test")
    return not any(getattr(option, name, False) for name in listing)


def _state(config: pytest.Config) -> HarnessSession | None:
    if not config.option.harness:
        return None  # and import nothing more
    from harness.pytest_plugin.state import STATE

    return config.stash.get(STATE, None)


def pytest_configure(config: pytest.Config) -> None:
    """Register the marker; with `--harness`, validate the options and set up the state."""
    config.addinivalue_line("markers", "harness_journey: a journey item of `pytest --harness`")
    if not config.option.harness:
        return
    from harness.pytest_plugin.state import STATE, HarnessSession

    state = HarnessSession(config)
    config.stash[STATE] = state
    if config.args_source is not pytest.Config.ArgsSource.ARGS:
        # `pytest --harness` alone runs the journeys, not the project's testpaths
        config.args = [str(root) for root in state.roots]
    if not state.is_worker and config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_XdistController(state), "harness-xdist")


def pytest_unconfigure(config: pytest.Config) -> None:
    """Safety net: stop the sandbox and flush spans if the session never finished."""
    state = _state(config)
    if state is not None:
        state.close()


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    """A journey module that pytest's Python plugin would not collect itself."""
    state = _state(parent.config)
    if state is None or not state.is_journey_file(file_path):
        return None
    from _pytest.python import path_matches_patterns

    explicit = parent.session.isinitpath(file_path)
    if explicit or path_matches_patterns(file_path, parent.config.getini("python_files")):
        return None  # the Python plugin collects it, through pytest_pycollect_makemodule
    from harness.pytest_plugin.items import JourneyFile

    return JourneyFile.from_parent(parent, path=file_path)


@pytest.hookimpl(tryfirst=True)
def pytest_pycollect_makemodule(module_path: Path, parent: pytest.Collector) -> Any:
    """A journey module the Python plugin would collect (named on the command line, or
    matching `python_files`): collect it as journeys, never import it as a test module."""
    state = _state(parent.config)
    if state is None or not state.is_journey_file(module_path):
        return None
    from harness.pytest_plugin.items import JourneyFile

    return JourneyFile.from_parent(parent, path=module_path)


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Before pytest's `-m` reads its expression: refuse one that names a journey tag no
    marker can carry, saying what to write instead (pytest's own error named no tag)."""
    expression = config.option.markexpr
    if _state(config) is None or not expression:
        return
    from harness.pytest_plugin.items import JourneyItem
    from harness.pytest_plugin.tags import check_mark_expression

    journeys = {i.journey.name: i.journey for i in items if isinstance(i, JourneyItem)}
    check_mark_expression(expression, ((j.name, t) for j in journeys.values() for t in j.tags))


@pytest.hookimpl(tryfirst=True)
def pytest_sessionstart(session: pytest.Session) -> None:
    """Resolve the target (start the sandbox), open the run folder, wire tracing."""
    state = _state(session.config)
    if state is None or not _runs_items(session.config):
        return
    from harness.errors import HarnessError, UsageError

    try:
        state.start()
    except UsageError as exc:
        state.close()
        raise pytest.UsageError(str(exc)) from None
    except HarnessError as exc:
        state.close()
        pytest.exit(f"harness: {exc}", returncode=3)


def pytest_report_header(config: pytest.Config) -> list[str] | None:
    """Target, seed and run folder of the session."""
    state = _state(config)
    if state is None or state.is_worker or not _runs_items(config):
        return None
    return state.header()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """On an xdist worker, send the records of this test phase with its report."""
    report = yield
    state = _state(item.config)
    if state is not None and state.is_worker:
        from harness.pytest_plugin.state import RECORDS_ATTRIBUTE

        setattr(report, RECORDS_ATTRIBUTE, state.outbox.take())
    return report


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Judge the gates, write summary.md and run.json, stop the sandbox."""
    state = _state(session.config)
    if state is None:
        return
    session.exitstatus = state.finish(exitstatus)


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    """The gates' outcomes and where the run folder is."""
    state = _state(config)
    if state is None or state.run_path is None or state.is_worker:
        return
    tr = terminalreporter
    if state.gate_results:
        tr.write_sep("=", "harness gates")
        for result in state.gate_results:
            tr.write_line(result.line(), green=result.passed, red=not result.passed)
        breached = sum(1 for r in state.gate_results if not r.passed)
        if breached:
            tr.write_line(f"{breached} of {len(state.gate_results)} gates breached", red=True)
    iterations = state.ledger.iterations
    failed = sum(1 for i in iterations if i.outcome.value == "failed")
    tr.write_line(
        f"harness: {len(iterations) - failed}/{plural(len(iterations), 'journey')} passed · "
        f"results in {state.run_path}"
    )


class _XdistController:
    """Hooks of the xdist controller (registered only when xdist is installed)."""

    def __init__(self, state: HarnessSession) -> None:
        self.state = state

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        """Hand each worker the run id, folder, seed and target."""
        from harness.pytest_plugin.state import WORKER_INPUT

        if self.state.settings is not None:
            node.workerinput[WORKER_INPUT] = self.state.worker_input()

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        """Write the records a worker sent with its report into the run folder."""
        from harness.pytest_plugin.state import RECORDS_ATTRIBUTE

        lines = getattr(report, RECORDS_ATTRIBUTE, None)
        if lines and self.state.is_controller:
            self.state.receive(lines)
