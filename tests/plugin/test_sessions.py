"""Session-level behaviour: gates, xdist workers, the fixtures, and the real sandbox."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.plugin.conftest import BROKEN_JOURNEY, OK_JOURNEY, only_run, records, write_journeys

REPO = Path(__file__).resolve().parents[2]


def test_gates_that_hold_pass_and_are_printed(project: pytest.Pytester, shop_url: str) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess(
        "--harness",
        f"--harness-target={shop_url}",
        "--harness-gates=p95(step=fetch)<=5s",
        "--harness-gates=error_rate<=1%",
    )

    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(
        [
            "*= harness gates =*",
            "✓ p95(step=fetch)<=5s: * ms (n = 1)",
            "✓ error_rate<=1%: 0.00% (0 of 1 journeys failed)",
        ]
    )
    meta = json.loads((only_run(project) / "run.json").read_text())
    assert [g["passed"] for g in meta["gates"]] == [True, True]
    # the session's settings are one RunRequest, recorded whole
    request = meta["request"]
    assert (request["mode"], request["sides"]["target"]) == ("pytest", shop_url)
    assert request["seed"] == meta["seed"] and len(request["config_hash"]) == 16


def test_a_breached_gate_fails_the_session_even_when_every_journey_passed(
    project: pytest.Pytester, shop_url: str
) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess(
        "--harness",
        f"--harness-target={shop_url}",
        "--harness-gates=max(journey=ok_flow)<0.001ms",
        "--harness-gates=p50(step=no such step)<=1s",
    )

    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "✗ max(journey=ok_flow)<0.001ms: * ms (n = 1)",
            "✗ p50(step=no such step)<=1s: no steps in scope ran",
            "2 of 2 gates breached",
        ]
    )
    assert json.loads((only_run(project) / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize(
    ("gate", "why"),
    [
        ("p95(step=pay)=>800ms", "'=>': a gate is an upper limit, write <= or <"),
        ("p95(step=pay)", "expected METRIC[(SCOPE)] <= LIMIT"),
        ("p95(step)<=1s", "scope 'step' is not KEY=NAME"),
        ("p95<=fast", "the limit = 'fast' is not a latency"),
        ("p97(step=pay)<=800ms", "unknown metric 'p97'"),
        ("p95(stage=pay)<=800ms", "unknown scope key 'stage'"),
        ("p95<=5%", "p95 is a latency"),
        ("error_rate>=1%", "'>=': a gate is an upper limit"),
    ],
)
def test_a_malformed_gate_is_a_usage_error(project: pytest.Pytester, gate: str, why: str) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess(
        "--harness", "--harness-target=http://127.0.0.1:9", f"--harness-gates={gate}"
    )

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stderr.str()
    assert f"--harness-gates {gate!r} is not a gate: {why}" in text
    assert "Example: --harness-gates" in text


def test_two_xdist_workers_share_one_run_folder_without_collisions(
    project: pytest.Pytester, shop_url: str
) -> None:
    modules = {
        f"flow{n}": OK_JOURNEY.replace("ok_flow", f"flow{n}") + BROKEN_JOURNEY.split("\n", 2)[2]
        for n in range(3)
    }
    for n, name in enumerate(modules):
        modules[name] = modules[name].replace("broken_flow", f"broken{n}")
    write_journeys(project, **modules)

    result = project.runpytest_subprocess(
        "--harness", f"--harness-target={shop_url}", "-n", "2", "--junitxml=junit.xml"
    )

    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines(
        ["broken? › fetch broken [[]api[]] failed", "  error kind: http_status"]
    )
    run = only_run(project)
    iterations = records(run, "iteration")
    assert len(iterations) == 6 and len(records(run, "step")) == 12
    assert {r["worker"] for r in iterations} == {0, 1}
    people = [r["person"] for r in iterations if r.get("person")]  # (broken? use no person)
    assert len(set(people)) == len(people) == 3, people  # unique across workers
    assert not (run / "traces").exists()  # workers' span files were merged into traces.jsonl
    assert (run / "traces.jsonl").stat().st_size > 0
    meta = json.loads((run / "run.json").read_text())
    assert (meta["status"], meta["journeys"], meta["failed"]) == ("failed", 6, 3)


def test_fixtures_run_steps_and_journeys_through_the_runtime(
    project: pytest.Pytester, shop_url: str
) -> None:
    write_journeys(project)
    project.makepyfile(
        test_mine=f"""
        from harness import journey

        @journey
        def one_call(j):
            with j.step("call", on="api"):
                j.api.get("/ok")

        def test_runner(journey_runner, harness_target):
            assert harness_target.api == "{shop_url}/api/v1"
            record = journey_runner(one_call)
            assert record.outcome == "passed" and record.steps_total == 1
            assert [s.step for s in journey_runner.steps] == ["call"]

        def test_touchpoints(journey_context, api, synth):
            assert "@" in synth.person.email
            with journey_context.step("ping", on="api"):
                assert api.get("/ok").json()["ok"] is True
        """
    )

    result = project.runpytest_subprocess(
        "--harness", f"--harness-target={shop_url}", "test_mine.py"
    )

    result.assert_outcomes(passed=2)
    steps = records(only_run(project), "step")
    assert sorted((s["journey"], s["step"]) for s in steps) == [
        ("one_call", "call"),
        ("test_touchpoints", "ping"),
    ]


def test_the_fixtures_explain_that_they_need_harness(project: pytest.Pytester) -> None:
    project.makepyfile(test_mine="def test_it(api):\n    pass\n")

    result = project.runpytest_subprocess("test_mine.py")

    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*the harness fixtures need `pytest --harness`*"])


@pytest.mark.integration
@pytest.mark.browser
def test_journeys_against_the_real_sandbox(project: pytest.Pytester) -> None:
    # with the journey recorded by `playwright codegen`, `page` read as `j.web.page`
    # and Playwright's sync API as its docs write it (handlers, expect.set_options)
    codegen = REPO / "tests" / "integration" / "codegen_journeys"
    write_journeys(
        project,
        codegen_shop=(codegen / "codegen_shop.py").read_text(),
        playwright_idioms=(codegen / "playwright_idioms.py").read_text(),
        catalog="""\
        from harness import journey

        @journey
        def catalog(j):
            with j.step("list products", on="api"):
                page = j.api.get("/products", params={"limit": 5}).json()
                assert page["items"], "no products"
            with j.step("mobile catalog", on="mobile"):
                assert j.mobile.get("/catalog").json()["items"]
        """,
    )

    result = project.runpytest_subprocess("--harness", "--harness-sandbox", "-v")

    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["harness: target sandbox (http://127.0.0.1:*/)*"])
    run = only_run(project)
    steps = records(run, "step")
    assert [s["touchpoint"] for s in steps if s["journey"] == "catalog"] == ["api", "mobile"]
    web = [s for s in steps if s["journey"] == "codegen_buy"]
    assert [s["outcome"] for s in web] == ["passed"] * 3
    idioms = [s["outcome"] for s in steps if s["journey"] == "playwright_idioms"]
    assert idioms == ["passed"]
    assert all("lcp" in s["vitals"] for s in web)  # type: ignore[operator]
    assert '"shop-sandbox"' in (run / "traces.jsonl").read_text()  # the sandbox's own spans


@pytest.mark.integration
@pytest.mark.browser
def test_the_sample_journeys_catch_a_ui_regression(project: pytest.Pytester) -> None:
    for source in (REPO / "journeys").glob("*.py"):
        (project.path / "journeys").mkdir(exist_ok=True)
        (project.path / "journeys" / source.name).write_text(source.read_text())

    result = project.runpytest_subprocess(
        "--harness", "--harness-sandbox", "--harness-regression=ui:place-order"
    )

    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(
        [
            "browse_and_buy › checkout [[]web[]] failed",
            "  error kind: assertion",
            "  message:    *place-order*",
            "  screenshot: */artifacts/browse_and_buy-*-checkout.png",
        ]
    )
    shot = next((only_run(project) / "artifacts").glob("browse_and_buy-*-checkout.png"))
    assert shot.stat().st_size > 0
