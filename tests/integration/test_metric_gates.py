"""Metric gates against a real Prometheus scraping real sandboxes every second: a candidate
that burns CPU off its requests' path and answers half its orders with 500 fails the CPU and
5xx-ratio gates while no latency gate fails, and a provider that is down makes only its own
gate `error`, with a one-line reason, without hanging the run."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxProcess
from tests.integration.conftest import REPO, only_run_dir, run_cli
from tests.integration.prometheus_server import Prometheus, start_prometheus

pytestmark = [pytest.mark.integration]

DEPLOYMENTS = {
    "base": ("baseline", ()),
    "hot": ("candidate", ("cpu:*=+20ms", "errors:*.orders.create=50%")),
}
CPU = 'sum(rate(process_cpu_seconds_total{deployment="{deployment}"}[3s]))'
RATIO = (
    '(sum(rate(http_requests_total{deployment="{deployment}",code=~"5.."}[3s])) or vector(0))'
    ' / sum(rate(http_requests_total{deployment="{deployment}"}[3s]))'
)


@pytest.fixture(scope="module")
def shop(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Prometheus, dict[str, str]]]:
    """Two sandboxes and one Prometheus scraping both every second."""
    folder = tmp_path_factory.mktemp("prometheus")
    with ExitStack() as stack:
        urls = {}
        for name, (release, regressions) in DEPLOYMENTS.items():
            process = stack.enter_context(SandboxProcess(release, regressions))
            urls[name] = process.urls.base
        scraped = {name: url.removeprefix("http://") for name, url in urls.items()}
        prometheus = start_prometheus(folder, scraped)
        stack.callback(prometheus.stop)
        yield prometheus, urls


def _config(path: Path, prometheus: Prometheus, urls: dict[str, str]) -> Path:
    targets = "".join(
        f'[targets.{name}]\nurl = "{url}"\nallow_load = true\n'
        f'labels = {{ deployment = "{name}" }}\n'
        for name, url in urls.items()
    )
    path.write_text(
        f'journeys = ["{REPO / "journeys"}"]\n\n'
        f'[providers.prometheus]\nurl = "{prometheus.url}"\n\n'
        '[providers.down]\nurl = "http://127.0.0.1:9"\ntimeout = 2\n\n'
        f"{targets}\n"
        f'[[gates]]\nkind = "metric"\nname = "process CPU"\nquery = \'{CPU}\'\n'
        'margin = "20%"\ndrift = "short"\nwarmup = "3s"\nmin_points = 5\n\n'
        f'[[gates]]\nkind = "metric"\nname = "server 5xx ratio"\nquery = \'{RATIO}\'\n'
        'margin = "0.5pp"\ndrift = "short"\nwarmup = "3s"\nmin_points = 5\n\n'
        f'[[gates]]\nkind = "metric"\nname = "CPU, provider down"\nprovider = "down"\n'
        f"query = '{CPU}'\n\n"
        '[[gates]]\nkind = "paired"\nname = "typical latency per step (paired)"\n',
        encoding="utf-8",
    )
    return path


@pytest.mark.alone
def test_metric_gates_fail_on_the_servers_own_telemetry(
    shop: tuple[Prometheus, dict[str, str]], tmp_path: Path
) -> None:
    prometheus, urls = shop
    config = _config(tmp_path / "harness.toml", prometheus, urls)
    results = tmp_path / "runs"
    result = run_cli(
        "rehearse", "--config", str(config), "--baseline", "base", "--candidate", "hot",
        "--results", str(results), "-k", "api_catalog", "--browser-users", "0",
        "--users", "3", "--duration", "10s", "--no-traces", timeout=120,
    )  # fmt: skip
    run_dir = only_run_dir(results)
    verdict = json.loads((run_dir / "verdict.json").read_text())
    gates = {g["name"]: g for g in verdict["gates"]}
    output = result.out + result.err

    cpu = gates["process CPU"]
    assert cpu["decision"] == "fail", output
    recorded = cpu["metric"]
    assert recorded["provider"] == "prometheus" and recorded["query"] == CPU
    assert 'deployment="hot"' in recorded["sides"]["candidate"]["query"]
    assert len(recorded["sides"]["baseline"]["points"]) >= 5
    assert gates["server 5xx ratio"]["decision"] == "fail", output
    assert gates["typical latency per step (paired)"]["decision"] != "fail", output
    down = gates["CPU, provider down"]
    assert down["decision"] == "error"
    assert "down on the baseline: prometheus at http://127.0.0.1:9 unreachable" in down["summary"]
    assert "\n" not in down["summary"]
    assert verdict["decision"] == "error" and result.code == 3


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
