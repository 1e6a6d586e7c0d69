"""`pytest --harness`: journeys as items, their failures, collection errors, and no effect
without `--harness`."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest

from tests.plugin.conftest import (
    BROKEN_JOURNEY,
    OK_JOURNEY,
    STRICT_INI,
    only_run,
    records,
    write_journeys,
)


def test_a_passing_journey_writes_one_run_folder(project: pytest.Pytester, shop_url: str) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess("--harness", f"--harness-target={shop_url}", "-v")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*journeys/shop.py::journey[[]ok_flow[]] PASSED*"])
    run = only_run(project)
    meta = json.loads((run / "run.json").read_text())
    assert (meta["mode"], meta["status"], meta["journeys"]) == ("pytest", "passed", 1)
    assert [s["step"] for s in records(run, "step")] == ["fetch", "again"]
    assert "`ok_flow` | 2/2" in (run / "summary.md").read_text()


def test_a_failing_journey_names_step_touchpoint_kind_and_trace(
    project: pytest.Pytester, shop_url: str
) -> None:
    write_journeys(project, shop=OK_JOURNEY, broken=BROKEN_JOURNEY)

    result = project.runpytest_subprocess(
        "--harness", f"--harness-target={shop_url}", "--junitxml=junit.xml"
    )

    result.assert_outcomes(passed=1, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(
        [
            "broken_flow › fetch broken [[]api[]] failed",
            "  error kind: http_status",
            "  message:    GET /api/v1/broken answered 500*",
            "  trace id:   [0-9a-f]*",
            "    ✓ fetch ok *api*ms",
            "    ✗ fetch broken *api*ms",
        ]
    )
    assert "Traceback" not in result.stdout.str()
    case = ET.parse(project.path / "junit.xml").find(".//testcase[@name='journey[broken_flow]']")
    assert case is not None
    failure = case.find("failure")
    assert failure is not None and "fetch broken [api]" in failure.get("message", "")
    names = {p.get("name") for p in case.iter("property")}
    assert {"step fetch ok [api] ms", "step fetch broken [api] ms", "trace_id"} <= names
    assert json.loads((only_run(project) / "run.json").read_text())["status"] == "failed"


@pytest.mark.parametrize("workers", [(), ("-n", "2")], ids=["in-process", "xdist"])
def test_a_failure_is_one_line_in_tb_line_and_junit_message(
    project: pytest.Pytester, shop_url: str, workers: tuple[str, ...]
) -> None:
    write_journeys(project, shop=OK_JOURNEY, broken=BROKEN_JOURNEY)

    result = project.runpytest_subprocess(
        "--harness", f"--harness-target={shop_url}", "--tb=line", "--junitxml=junit.xml", *workers
    )

    result.assert_outcomes(passed=1, failed=1)
    headline = (
        "broken_flow › fetch broken [api] failed: http_status: GET /api/v1/broken answered 500"
    )
    # pytest's `path:line: message`, as an assertion's crash line reads; no repr, no block
    result.stdout.fnmatch_lines([f"*/journeys/broken.py:4: {headline.replace('[', '[[]')}*"])
    assert "CrashLine" not in result.stdout.str()
    assert "  error kind:" not in result.stdout.str()
    case = ET.parse(project.path / "junit.xml").find(".//testcase[@name='journey[broken_flow]']")
    failure = case.find("failure") if case is not None else None
    assert failure is not None
    assert failure.get("message", "").startswith(headline)
    assert "\n" not in failure.get("message", "")


def test_a_journey_module_with_a_syntax_error_is_a_clear_collection_error(
    project: pytest.Pytester, shop_url: str
) -> None:
    write_journeys(project, shop=OK_JOURNEY, broken="from harness import journey\n\ndef (:\n")

    result = project.runpytest_subprocess("--harness", f"--harness-target={shop_url}")

    assert result.ret == pytest.ExitCode.INTERRUPTED
    result.stdout.fnmatch_lines(
        ["*ERROR collecting journeys/broken.py*", "journey module *broken.py:3 has a syntax error*"]
    )
    assert "Traceback" not in result.stdout.str()


def test_device_variants_and_explicit_files_are_collected_once(project: pytest.Pytester) -> None:
    web = """\
        from harness import journey

        @journey
        def web_flow(j):
            with j.step("home", on="web"):
                j.web.goto("/")
        """
    write_journeys(project, shop=OK_JOURNEY, site=web)

    result = project.runpytest_subprocess(
        "--harness",
        "--harness-target=http://127.0.0.1:9",
        "--harness-device=desktop",
        "--harness-device=iPhone 13",
        "--collect-only",
        "-q",
        "journeys/",
        "journeys/site.py",
    )

    assert result.ret == pytest.ExitCode.OK
    listed = sorted(line for line in result.outlines if "::" in line)
    assert listed == [
        "journeys/shop.py::journey[ok_flow]",
        "journeys/site.py::journey[web_flow-desktop]",
        "journeys/site.py::journey[web_flow-iPhone_13]",
    ]


def test_tags_are_keywords(project: pytest.Pytester, shop_url: str) -> None:
    write_journeys(project, shop=OK_JOURNEY, broken=BROKEN_JOURNEY)

    result = project.runpytest_subprocess("--harness", f"--harness-target={shop_url}", "-k", "api")

    result.assert_outcomes(passed=1, deselected=1)


def test_tags_are_markers(project: pytest.Pytester, shop_url: str) -> None:
    write_journeys(project, shop=OK_JOURNEY, broken=BROKEN_JOURNEY)

    # the project's ini has --strict-markers: an unknown marker in -m is a usage error
    result = project.runpytest_subprocess("--harness", f"--harness-target={shop_url}", "-m", "api")

    result.assert_outcomes(passed=1, deselected=1)
    result = project.runpytest_subprocess(
        "--harness", f"--harness-target={shop_url}", "-m", "not api", "-v"
    )
    result.stdout.fnmatch_lines(["*::journey[[]broken_flow[]] FAILED*"])
    result.assert_outcomes(failed=1, deselected=1)


def test_last_failed_and_failed_first_find_the_failed_journey(
    pytester: pytest.Pytester, shop_url: str
) -> None:
    # the project's strict ini, but with pytest's cache (--lf/--ff) left on
    pytester.makeini(STRICT_INI.replace(" -p no:cacheprovider", ""))
    write_journeys(pytester, shop=OK_JOURNEY, broken=BROKEN_JOURNEY)
    target = f"--harness-target={shop_url}"
    pytester.runpytest_subprocess("--harness", target).assert_outcomes(passed=1, failed=1)

    last_failed = pytester.runpytest_subprocess("--harness", target, "--lf", "-v")

    last_failed.assert_outcomes(failed=1)  # shop.py, with no failure, is not even collected
    last_failed.stdout.fnmatch_lines(["run-last-failure: rerun previous 1 failure*"])
    failed_first = pytester.runpytest_subprocess("--harness", target, "--ff", "-v")
    failed_first.stdout.fnmatch_lines(
        ["*::journey[[]broken_flow[]] FAILED*", "*::journey[[]ok_flow[]] PASSED*"]
    )


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((), "*--harness needs a target: --harness-target NAME|URL*"),
        (("--harness-target=staging",), "*'staging' is not a URL or a configured target name*"),
        (
            ("--harness-target=http://x.test", "--harness-regression=ui:place-order"),
            "*--harness-regression needs --harness-sandbox*",
        ),
    ],
)
def test_usage_errors_are_one_line(
    project: pytest.Pytester, args: tuple[str, ...], message: str
) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess("--harness", *args)

    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])


def test_a_target_that_does_not_answer_stops_the_session(project: pytest.Pytester) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess("--harness", "--harness-target=http://127.0.0.1:9")

    assert result.ret == 3
    result.stdout.fnmatch_lines(["*harness: target * did not answer*"])


@pytest.mark.parametrize("listing", ["--fixtures", "--fixtures-per-test"])
def test_listing_fixtures_needs_no_target(project: pytest.Pytester, listing: str) -> None:
    write_journeys(project, shop=OK_JOURNEY)

    result = project.runpytest_subprocess(
        "--harness", "--harness-target=http://127.0.0.1:9", listing
    )

    assert result.ret == pytest.ExitCode.OK, result.stdout.str()
    assert "did not answer" not in result.stdout.str()
    assert not (project.path / "results").exists()


def test_without_harness_the_plugin_changes_nothing(project: pytest.Pytester) -> None:
    write_journeys(project, shop=OK_JOURNEY)
    project.makepyfile(
        test_plain="""
        import sys

        def test_plain():
            loaded = {m.split(".")[0] for m in sys.modules}
            # (Faker's own pytest plugin loads faker: not ours to judge)
            assert not loaded & {"gevent", "geventhttpclient", "playwright", "locust"}
            assert "harness.pytest_plugin.state" not in sys.modules
            assert "harness.runtime" not in sys.modules
        """
    )

    result = project.runpytest_subprocess("-v", ".")

    result.assert_outcomes(passed=1)
    assert "journey[" not in result.stdout.str()
    assert "harness:" not in result.stdout.str()
    assert not (project.path / "results").exists()


TAGGED = """\
from harness import journey


@journey(tags={TAGS})
def {NAME}(j):
    pass
"""


def test_every_tag_pytest_can_name_selects_with_m_and_the_rest_say_what_to_write(
    project: pytest.Pytester, shop_url: str
) -> None:
    """pytest's -m reads `smoke-test`, `v1.2`, `ütf` and `a/b` as names, so they are markers
    under --strict-markers. `team:checkout` cannot be one (the markers option ends a name at
    ':'): it made its module a collection error ("not found in `markers` configuration
    option"), which stopped every -m; now -m naming it is refused with what to write."""
    write_journeys(
        project,
        plain=TAGGED.format(TAGS='{"smoke-test", "v1.2"}', NAME="plain"),
        odd=TAGGED.format(TAGS='{"ütf", "a/b"}', NAME="odd"),
        colon=TAGGED.format(TAGS='{"team:checkout"}', NAME="colon"),
        spaced=TAGGED.format(TAGS='{"two words"}', NAME="spaced"),
    )
    target = f"--harness-target={shop_url}"

    def collect(*args: str) -> pytest.RunResult:
        return project.runpytest_subprocess("--harness", target, "--collect-only", "-q", *args)

    result = collect("-m", "smoke-test and v1.2")
    result.stdout.fnmatch_lines(["journeys/plain.py::journey[[]plain[]]", "1/4 tests collected*"])
    result = collect("-m", "ütf or a/b")
    result.stdout.fnmatch_lines(["journeys/odd.py::journey[[]odd[]]", "1/4 tests collected*"])
    result = collect("-k", "team:checkout")
    result.stdout.fnmatch_lines(["journeys/colon.py::journey[[]colon[]]", "1/4 tests collected*"])

    result = collect("-m", "team:checkout")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        [
            "ERROR: journey tag 'team:checkout' of journey `colon` is not a pytest marker, so "
            "-m cannot select it: pytest's `markers` option ends a marker's name at ':'*; "
            "select it with -k 'team:checkout', or write the tag as 'team-checkout' to select "
            "it with -m"
        ]
    )
    result = collect("-m", "two words")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["ERROR: journey tag 'two words'*cannot spell ' '*write the tag as 'two-words'*"]
    )
