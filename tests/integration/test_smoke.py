"""`harness smoke` end to end: the real CLI, the real sandbox, real Chromium."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import only_run_dir, run_cli

pytestmark = pytest.mark.integration


def records(run_dir: Path) -> list[dict]:
    return [json.loads(line) for line in (run_dir / "steps.jsonl").read_text().splitlines()]


def test_every_sample_journey_passes_against_the_sandbox(
    sandbox: SandboxUrls, tmp_path: Path
) -> None:
    result = run_cli("smoke", "--target", sandbox.base, "--results", str(tmp_path))

    assert result.code == 0, result.out + result.err
    run_dir = only_run_dir(tmp_path)
    lines = records(run_dir)
    iterations = {r["journey"]: r for r in lines if r["kind"] == "iteration"}
    assert set(iterations) == {
        "browse_and_buy",
        "mobile_reorder",
        "api_catalog_and_orders",
        "web_mobile_api_order",
    }
    assert all(r["outcome"] == "passed" for r in iterations.values())
    touchpoints = {r["touchpoint"] for r in lines if r["kind"] == "step"}
    assert touchpoints == {"web", "api", "mobile"}
    cross = [r for r in lines if r["kind"] == "step" and r["journey"] == "web_mobile_api_order"]
    assert [r["touchpoint"] for r in cross] == ["web", "mobile", "api", "web"]
    assert len({r["person"] for r in cross}) == 1  # one synthetic person across touchpoints
    run = json.loads((run_dir / "run.json").read_text())
    assert run["status"] == "passed" and run["mode"] == "smoke"
    assert "4 of 4 journeys passed" in (run_dir / "summary.md").read_text()
    assert "PASS: 4/4 journeys passed" in result.out
    assert "✓ web_mobile_api_order › see the order on the web" in result.out


def test_missing_checkout_button_fails_the_web_checkout_step_with_a_screenshot(
    tmp_path: Path,
) -> None:
    result = run_cli(
        "smoke",
        "--sandbox",
        "--regression",
        "ui:place-order",
        "-k",
        "browse_and_buy",
        "--results",
        str(tmp_path),
    )

    assert result.code == 1, result.out + result.err
    assert "FAIL at `checkout` [web] assertion" in result.out
    assert "[data-testid=place-order]" in result.out
    run_dir = only_run_dir(tmp_path)
    failed = [r for r in records(run_dir) if r["kind"] == "step" and r["outcome"] == "failed"]
    assert [(r["journey"], r["step"], r["touchpoint"]) for r in failed] == [
        ("browse_and_buy", "checkout", "web")
    ]
    screenshot = Path(failed[0]["artifacts"][0])
    assert screenshot.suffix == ".png" and screenshot.stat().st_size > 1000
    assert f"screenshot: {screenshot}" in result.out
    assert any(a.endswith("-trace.zip") for a in failed[0]["artifacts"])


@pytest.mark.parametrize(
    ("spec", "step", "kind", "needle"),
    [
        ("contract:order.total=string", "pay", "contract", "`total`"),
        ("errors:api.orders.create=100%", "pay", "http_status", "answered 500"),
        ("funnel:checkout=100%", "pay", "http_status", "answered 503"),
    ],
)
def test_api_regressions_fail_the_step_they_hit(
    spec: str, step: str, kind: str, needle: str, tmp_path: Path
) -> None:
    result = run_cli(
        "smoke",
        "--sandbox",
        "--regression",
        spec,
        "-k",
        "api_catalog",
        "--results",
        str(tmp_path),
    )

    assert result.code == 1, result.out + result.err
    failed = [r for r in records(only_run_dir(tmp_path)) if r.get("outcome") == "failed"]
    step_record = next(r for r in failed if r["kind"] == "step")
    assert (step_record["step"], step_record["error_kind"]) == (step, kind)
    assert needle in step_record["message"]


def test_latency_regression_shows_in_the_step_duration(tmp_path: Path) -> None:
    result = run_cli(
        "smoke",
        "--sandbox",
        "--regression",
        "latency:api.orders.create=+400ms",
        "-k",
        "api_catalog",
        "--results",
        str(tmp_path),
    )

    assert result.code == 0, result.out + result.err
    steps = {r["step"]: r for r in records(only_run_dir(tmp_path)) if r["kind"] == "step"}
    assert steps["pay"]["duration_ms"] >= 400
    assert steps["list products"]["duration_ms"] < 400


def test_mobile_contract_regression_fails_the_mobile_journey(tmp_path: Path) -> None:
    result = run_cli(
        "smoke",
        "--sandbox",
        "--regression",
        "contract:order.total=string",
        "-k",
        "mobile_reorder",
        "--results",
        str(tmp_path),
    )
    assert result.code == 1, result.out + result.err
    assert "FAIL at `place order` [mobile] contract" in result.out


def test_target_down_is_exit_3_before_any_journey(tmp_path: Path) -> None:
    result = run_cli("smoke", "--target", "http://127.0.0.1:9", "--results", str(tmp_path))
    assert result.code == 3
    assert "did not answer" in result.err and "Traceback" not in result.err
    assert not tmp_path.exists() or not any(tmp_path.iterdir())


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--sandbox", "-k", "no_such_journey"], "no journeys found"),
        (
            ["--target", "http://127.0.0.1:9", "--regression", "ui:x"],
            "--regression needs --sandbox",
        ),
        (["--sandbox", "--regression", "latency:checkout"], "latency:checkout"),
        (["--target", "staging"], "not a URL or a configured target"),
    ],
)
def test_usage_errors_exit_2_without_traceback(
    args: list[str], needle: str, tmp_path: Path
) -> None:
    result = run_cli("smoke", *args, "--results", str(tmp_path))
    assert result.code == 2, result.out + result.err
    assert needle in result.err
    assert "Traceback" not in result.err
