"""Think time: its grammar, its distributions, and where the runtime pauses (between steps, at
load only, never inside a step)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from harness import journey
from harness import think as think_module
from harness.errors import JourneyLoadError, SpecError, UsageError
from harness.journey import Journey
from harness.records import Outcome
from harness.runtime import RunSettings
from harness.targets import Target
from harness.testing import RecordingSink
from harness.think import parse_think
from harness.virtual_user import VirtualUser


def test_grammar_constant_lognormal_uniform_quantiles() -> None:
    assert parse_think("2s").sample(random.Random(1)) == 2.0
    assert parse_think("500ms").points == (0.5,)
    spec = parse_think("lognormal(median=2s, p95=8s)")
    assert spec.quantile(0.5) == pytest.approx(2.0)
    assert spec.quantile(0.95) == pytest.approx(8.0, rel=1e-6)
    rng = random.Random(7)
    draws = sorted(spec.sample(rng) for _ in range(20_000))
    assert draws[10_000] == pytest.approx(2.0, rel=0.05)
    assert draws[19_000] == pytest.approx(8.0, rel=0.08)
    uniform = parse_think("uniform(1s, 3s)")
    assert all(1.0 <= uniform.sample(rng) <= 3.0 for _ in range(100))
    empirical = parse_think("quantiles(0s, 1s, 4s)")
    assert empirical.quantile(0.5) == 1.0
    assert empirical.quantile(0.75) == pytest.approx(2.5)
    assert all(0.0 <= empirical.sample(rng) <= 4.0 for _ in range(100))
    assert parse_think("workload").kind == "workload"


@pytest.mark.parametrize(
    "spec",
    [
        "soon",
        "lognormal(median=8s, p95=2s)",
        "lognormal(mean=2s)",
        "uniform(3s, 1s)",
        "quantiles(2s, 1s)",
        "2h",
        "gamma(1s)",
    ],
)
def test_bad_think_times_are_refused_with_the_grammar(spec: str) -> None:
    with pytest.raises(SpecError, match="think="):
        parse_think(spec)


def test_a_journey_with_a_bad_think_time_does_not_load() -> None:
    with pytest.raises(JourneyLoadError, match="lognormal"):

        @journey(think="lognormal(median=2s)")
        def bad(j):  # pragma: no cover - never runs
            pass


def _run(spec: Journey, *, think: bool, monkeypatch: pytest.MonkeyPatch) -> list[float]:
    pauses: list[float] = []
    monkeypatch.setattr(think_module, "pause", pauses.append)
    settings = RunSettings(
        run_id="t",
        target=Target.from_base_url("http://shop.test", name="fake"),
        artifacts_dir=Path("/nonexistent"),
        think=think,
    )
    sink = RecordingSink()
    user = VirtualUser(index=0, settings=settings, sink=sink, browser=lambda: None)  # type: ignore[arg-type,return-value]
    record = user.run_iteration(spec, 0)
    assert record.outcome is Outcome.PASSED, record.message
    return pauses


def _three_steps() -> Journey:
    @journey(think="2s")
    def three(j):
        for name in ("a", "b", "c"):
            with j.step(name, on="api"):
                pass

    return three.__harness_journey__  # type: ignore[attr-defined,no-any-return]


def test_load_pauses_between_steps_not_before_the_first(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(_three_steps(), think=True, monkeypatch=monkeypatch) == [2.0, 2.0]


def test_smoke_never_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _run(_three_steps(), think=False, monkeypatch=monkeypatch) == []


def test_an_explicit_think_replaces_the_automatic_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    @journey(think="2s")
    def explicit(j):
        with j.step("a", on="api"):
            pass
        j.think("300ms")
        with j.step("b", on="api"):
            pass
        j.think()
        with j.step("c", on="api"):
            pass

    spec = explicit.__harness_journey__  # type: ignore[attr-defined]
    assert _run(spec, think=True, monkeypatch=monkeypatch) == [0.3, 2.0]


def test_think_inside_a_step_is_a_usage_error(monkeypatch: pytest.MonkeyPatch) -> None:
    @journey
    def inside(j):
        with j.step("a", on="api"):
            j.think("1s")

    with pytest.raises(UsageError, match="inside step"):
        _run(inside.__harness_journey__, think=True, monkeypatch=monkeypatch)  # type: ignore[attr-defined]


def test_pauses_are_fixed_by_seed_and_iteration(monkeypatch: pytest.MonkeyPatch) -> None:
    @journey(think="lognormal(median=1s, p95=4s)")
    def drawn(j):
        for name in ("a", "b", "c", "d"):
            with j.step(name, on="api"):
                pass

    spec = drawn.__harness_journey__  # type: ignore[attr-defined]
    first = _run(spec, think=True, monkeypatch=monkeypatch)
    assert first == _run(spec, think=True, monkeypatch=monkeypatch)
    assert len(set(first)) == 3


def test_workload_think_is_per_step(monkeypatch: pytest.MonkeyPatch) -> None:
    @journey(think="workload")
    def learned(j):
        for name in ("a", "b"):
            with j.step(name, on="api"):
                pass

    pauses: list[float] = []
    monkeypatch.setattr(think_module, "pause", pauses.append)
    settings = RunSettings(
        run_id="t",
        target=Target.from_base_url("http://shop.test", name="fake"),
        artifacts_dir=Path("/nonexistent"),
        think=True,
        workload_think={"learned › b": parse_think("1.5s")},
    )
    user = VirtualUser(index=0, settings=settings, sink=RecordingSink(), browser=lambda: None)  # type: ignore[arg-type,return-value]
    user.run_iteration(learned.__harness_journey__, 0)  # type: ignore[attr-defined]
    assert pauses == [1.5]


def test_a_closed_model_user_pauses_between_iterations_an_open_one_does_not() -> None:
    """In its own process (it imports Locust): Locust's `wait_time`, constant 0 before think
    time, is the journey's think time for a closed-model user, after the iteration it ran."""
    import subprocess
    import sys

    code = (
        "from locust.env import Environment\n"
        "from harness import journey\n"
        "from harness.engine import locust_users\n"
        "from harness.engine.plan import LoadPlan\n"
        "@journey(think='2s')\n"
        "def paced(j):\n"
        "    pass\n"
        "spec = paced.__harness_journey__\n"
        "target = {'name': 't', 'web': 'http://x/', 'api': 'http://x/api', 'mobile': 'http://x/m'}\n"
        "for think in (True, False):\n"
        "    plan = LoadPlan(run_id='r', targets=[target], results_root='/tmp', think=think)\n"
        "    env = Environment()\n"
        "    locust_users.prepare(plan, [spec], 0, env)\n"
        "    cls = locust_users.user_classes([spec], plan)[0]\n"
        "    user = cls(env)\n"
        "    first = user.wait_time()\n"
        "    user.last = spec\n"
        "    print(first, user.wait_time(), locust_users.ArrivalUser(env).wait_time())\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["0.0 2.0 0", "0.0 0.0 0"]
