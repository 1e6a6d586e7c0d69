"""Metric gates against a real Prometheus scraping, every second, the sandboxes the harness
starts on random ports (it lists them in Prometheus' `file_sd` folder, `[providers.prometheus]
file_sd`): a candidate burning CPU off its requests' path (a drill's `cpu:` fault, listed with
its time to detect) fails the CPU gate while no latency gate fails; one answering 2% of its
orders with 500 fails the 5xx-ratio gate; an identical one fails no metric gate; and a provider
that is down makes only its own gate `error`, with a one-line reason, without hanging the run.

The journey orders twenty times per account, so that 2% of orders is evidence in ten seconds
(a few hundred orders a side instead of a few dozen)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.conftest import REPO, CliResult, only_run_dir, run_cli
from tests.integration.prometheus_server import Prometheus, start_prometheus

pytestmark = [pytest.mark.integration]

CPU = 'sum(rate(process_cpu_seconds_total{harness_run="{harness_run}",side="{side}"}[3s]))'
ORDERS = 'http_requests_total{harness_run="{harness_run}",side="{side}",route="api.orders.create"'
RATIO = f'(sum(rate({ORDERS},code=~"5.."}}[3s])) or vector(0)) / sum(rate({ORDERS}}}[3s]))'
OTHERS = (
    f'\n[[gates]]\nkind = "metric"\nname = "CPU, provider down"\nprovider = "down"\n'
    f"query = '{CPU}'\n\n"
    '[[gates]]\nkind = "paired"\nname = "typical latency per step (paired)"\n'
)
SHORT = 'margin = "{margin}"\ndrift = "short"\nwarmup = "3s"\nmin_points = 5\n'

JOURNEY = '''
from harness import journey

CARD = {"number": "4242424242424242", "expiry": "12/30", "cvc": "123"}


@journey(tags={"orders"})
def many_orders(j):
    """One account, then twenty orders of one product each."""
    with j.step("create account", on="api"):
        credentials = {"email": j.user.email, "password": j.user.password}
        j.api.post("/users", json={**credentials, "name": j.user.name}, expect=201)
        j.api.sign_in("/tokens", credentials)
        product = j.api.get("/products", params={"limit": 1}).json()["items"][0]["id"]
    for _ in range(20):
        with j.step("add to cart", on="api"):
            j.api.post("/cart/items", json={"product_id": product, "quantity": 1}, expect=201)
        with j.step("pay", on="api"):
            j.api.post("/orders", json={"card": CARD}, expect=201)
'''


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, Path]]:
    """One Prometheus reading the harness's file_sd folder every second."""
    folder = tmp_path_factory.mktemp("prometheus")
    server = start_prometheus(folder / "server", file_sd=folder / "sd")
    try:
        yield server, folder
    finally:
        server.stop()


def _config(folder: Path, prometheus: Prometheus, *, others: bool = True) -> Path:
    """The two metric gates, and with `others` a gate on a provider that is down and the
    paired latency gate (each comparing gate takes a share of the false-FAIL rate: the 5xx
    and identical runs judge the metric gates alone, at 97.5% rather than 98.75%)."""
    journeys = folder / "journeys"
    journeys.mkdir(exist_ok=True)
    (journeys / "orders.py").write_text(JOURNEY, encoding="utf-8")
    path = folder / "harness.toml"
    path.write_text(
        f'journeys = ["{REPO / "journeys"}", "{journeys}"]\n\n'
        f'[providers.prometheus]\nurl = "{prometheus.url}"\nfile_sd = "{folder / "sd"}"\n\n'
        '[providers.down]\nurl = "http://127.0.0.1:9"\ntimeout = 2\n\n'
        f'[[gates]]\nkind = "metric"\nname = "process CPU"\nquery = \'{CPU}\'\n'
        + SHORT.format(margin="30%")
        + f'\n[[gates]]\nkind = "metric"\nname = "server 5xx ratio"\nquery = \'{RATIO}\'\n'
        + SHORT.format(margin="0.25pp")
        + (OTHERS if others else ""),
        encoding="utf-8",
    )
    return path


def _rehearse(
    prometheus: Prometheus,
    folder: Path,
    tmp_path: Path,
    *regressions: str,
    journey: str,
    others: bool = False,
) -> tuple[dict[str, dict], CliResult]:
    config = _config(folder, prometheus, others=others)
    results = tmp_path / "runs"
    knobs = [arg for spec in regressions for arg in ("--regression", spec)]
    result = run_cli(
        "rehearse", "--sandbox", *knobs, "--config", str(config), "--results", str(results),
        "-k", journey,
        # 14 s, not 10: Prometheus finds a side through file_sd and scrapes it each second, and
        # a 3 s rate needs two scrapes, so beside a CPU hog 10 s left 4 points, short of 5
        "--browser-users", "0", "--users", "3", "--duration", "14s", "--no-traces", timeout=120,
    )  # fmt: skip
    verdict = json.loads((only_run_dir(results) / "verdict.json").read_text())
    assert not list((folder / "sd").glob("*.json")), "file_sd entries outlive their run"
    return {g["name"]: g for g in verdict["gates"]}, result


@pytest.mark.alone
def test_two_percent_of_orders_failing_fails_the_5xx_ratio_gate(
    prometheus: tuple[Prometheus, Path], tmp_path: Path
) -> None:
    server, folder = prometheus
    gates, result = _rehearse(
        server, folder, tmp_path, "errors:api.orders.create=2%", journey="many_orders"
    )
    output = result.out + result.err
    assert gates["server 5xx ratio"]["decision"] == "fail", output
    assert gates["process CPU"]["decision"] != "fail", output


@pytest.mark.alone
def test_an_identical_candidate_fails_no_metric_gate(
    prometheus: tuple[Prometheus, Path], tmp_path: Path
) -> None:
    server, folder = prometheus
    gates, result = _rehearse(server, folder, tmp_path, journey="many_orders")
    output = result.out + result.err
    for name in ("process CPU", "server 5xx ratio"):
        gate = gates[name]
        # PASS is expected: both 5xx ratios are exactly 0 (a zero-width interval) and both sides
        # do the same work. Never FAIL; INCONCLUSIVE is right when a starved machine leaves
        # fewer than min_points, or CPU drifting apart by more than 8 points can rule out, and
        # then the summary names which
        assert gate["decision"] in ("pass", "inconclusive"), output
        if gate["decision"] == "inconclusive":
            assert "points needed" in gate["summary"] or "CI" in gate["summary"], output
    assert result.code in (0, 4), output  # passed, or inconclusive: never a fail
    assert "✗" not in result.out.split("metrics:", 1)[-1], output


@pytest.mark.alone
def test_a_drill_of_a_cpu_fault_lists_the_cpu_gate_with_its_time_to_detect(
    prometheus: tuple[Prometheus, Path], tmp_path: Path
) -> None:
    """No proxy can burn the target's CPU: the drill makes the fault the candidate sandbox's
    knob, and only the metric gate sees it. 14 s: the replay's looks spend the gate's alpha
    over the run, so at 10 s (7 points, CPU rising with the ramp on both sides) the last look
    could be caught by the whole run's verdict but not by a look, leaving no time to detect."""
    server, folder = prometheus
    config = _config(folder, server)
    results = tmp_path / "drills"
    result = run_cli(
        "drill", "--sandbox", "--fault", "cpu:*.orders.create=+20ms", "--expect", "process CPU",
        "--config", str(config), "--results", str(results), "-k", "api_catalog",
        "--browser-users", "0", "--users", "3", "--duration", "14s", "--no-traces", timeout=120,
    )  # fmt: skip
    output = result.out + result.err
    assert "as its sandbox's knob cpu:*.orders.create=+20ms" in result.out, output
    proxy = next(line for line in result.out.splitlines() if line.startswith("candidate: http"))
    assert "no proxy fault: cpu:*.orders.create=+20ms is the sandbox's knob" in proxy, output
    record = json.loads(only_run_dir(results).joinpath("drill.json").read_text())
    (finding,) = record["faults"]
    assert finding["caught"] and finding["caught_by"] == ["process CPU"], output
    hits = {h["name"]: h for h in finding["gates"]}
    assert hits["process CPU"]["kind"] == "metric"
    detected = hits["process CPU"]["detected_after_s"]
    assert detected is not None and 0 < detected <= finding["run_s"] + 1, output
    assert hits["typical latency per step (paired)"]["decision"] != "fail", output
    matrix = result.out[result.out.index("coverage:") :]
    assert f"✗ {detected:g} s" in matrix, output
    assert result.code == 0, output
    # The drill's rehearsal, judged as `harness rehearse` judges it (one run for both: the
    # burn's own rehearsal cost as much again): the CPU gate fails on what Prometheus recorded
    (rehearsal,) = (p for p in only_run_dir(results).iterdir() if p.is_dir())
    verdict = json.loads((rehearsal / "verdict.json").read_text())
    gates = {g["name"]: g for g in verdict["gates"]}
    cpu = gates["process CPU"]
    assert cpu["decision"] == "fail", output
    recorded = cpu["metric"]
    assert recorded["provider"] == "prometheus" and recorded["query"] == CPU
    assert 'side="candidate"' in recorded["sides"]["candidate"]["query"]
    assert len(recorded["sides"]["baseline"]["points"]) >= 5
    # the burn is off the request's path: latency may be judged inconclusive on a busy machine
    # (too few paired seconds), and saturation of two shared cores could slow it, but the
    # burn alone must not make it fail
    assert gates["typical latency per step (paired)"]["decision"] != "fail", output
    assert gates["server 5xx ratio"]["decision"] != "fail", output
    down = gates["CPU, provider down"]
    assert down["decision"] == "error"
    assert "down on the baseline: prometheus at http://127.0.0.1:9 unreachable" in down["summary"]
    assert "\n" not in down["summary"]
    assert verdict["decision"] == "error", output  # the error outranks the fail
    assert not list((folder / "sd").glob("*.json")), "file_sd entries outlive their run"


def test_a_cpu_fault_without_the_sandbox_is_refused(tmp_path: Path) -> None:
    result = run_cli(
        "drill", "--target", "http://127.0.0.1:9", "--fault", "cpu:api=+20ms",
        "--results", str(tmp_path / "runs"), timeout=60,
    )  # fmt: skip
    assert result.code == 2, result.out + result.err
    assert "the drill proxy cannot burn the target's CPU" in result.err


def test_a_metric_gate_on_an_unconfigured_provider_is_refused_before_the_run(
    tmp_path: Path,
) -> None:
    config = tmp_path / "harness.toml"
    config.write_text(
        f'journeys = ["{REPO / "journeys"}"]\n\n'
        f'[[gates]]\nkind = "metric"\nname = "cpu"\nquery = \'{CPU}\'\n',
        encoding="utf-8",
    )
    results = tmp_path / "runs"
    result = run_cli(
        "rehearse", "--sandbox", "--config", str(config), "--results", str(results),
        "--duration", "5s", timeout=60,
    )  # fmt: skip
    assert result.code == 2, result.out + result.err
    assert "provider 'prometheus' is not configured" in result.err
    assert "[providers.prometheus]" in result.err
    assert not results.exists() or not any(results.iterdir())  # no run was started
