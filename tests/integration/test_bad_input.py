"""Bad input through the real command line: each mistake is one short message naming the file,
line or key, what is allowed and an example, with exit 2 and no traceback — before any target is
started or reached. A journey's own exception is that journey's failure (exit 1)."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.exitcodes import ExitCode
from harness.sandbox.process import SandboxUrls
from tests.integration.conftest import REPO, run_cli

JOURNEYS = str(REPO / "journeys")
NOWHERE = "http://127.0.0.1:9"  # the discard port: nothing is listening, nothing must be sent

CASES = {
    "invalid toml": (
        '[targets.a]\nurl = "http://127.0.0.1:1"\nallow_load = tru\n',
        ["smoke", "--target", "a"],
        ["harness.toml is not valid TOML", "line 3"],
    ),
    "unknown config key": (
        'resutls = "out"\n',
        ["smoke", "--target", NOWHERE],
        ["resutls", "did you mean", "results"],
    ),
    "unknown gate kind": (
        '[[gates]]\nkind = "tail_shfit"\n',
        ["rehearse", "--baseline", NOWHERE, "--candidate", "http://127.0.0.1:7"],
        ["gate #1", "did you mean 'tail_shift'", "Example"],
    ),
    "unknown gate key": (
        '[[gates]]\nkind = "tail_shift"\nquantile = [0.95]\n',
        ["rehearse", "--baseline", NOWHERE, "--candidate", "http://127.0.0.1:7"],
        ["unknown key `quantile`", "did you mean `quantiles`"],
    ),
    "malformed regression": (
        "",
        ["smoke", "--sandbox", "--regression", "latency:api.orders.create=fast"],
        ["regression spec", "'fast'", "Example"],
    ),
    "malformed fault": (
        "",
        ["drill", "--target", NOWHERE, "--fault", "bogus:api=1"],
        ["fault spec", "unknown kind 'bogus'", "Example"],
    ),
    "bad duration": (
        "",
        ["load", "--target", NOWHERE, "--duration", "5x"],
        ["duration '5x'", "e.g. 30s"],
    ),
    "too few users for every journey": (
        "",
        ["load", "--sandbox", "--users", "2", "--duration", "10s"],
        ["`api_catalog_and_orders` would never run", "--users 3 or more"],
    ),
    "no browser slot for browser journeys": (
        "",
        ["rehearse", "--sandbox", "--browser-users", "0"],
        ["`web_mobile_api_order`, `browse_and_buy` unrun", "--browser-users 1"],
    ),
    "master and worker at once": (
        "",
        ["load", "--target", NOWHERE, "--master", "--worker"],
        ["--master and --worker together"],
    ),
    "too many local processes": (
        "",
        ["load", "--target", NOWHERE, "--processes", "500"],
        ["--processes 500", "0 to 64"],
    ),
    "unbounded concurrency": (
        "",
        [
            "load",
            "--target",
            NOWHERE,
            "--shape",
            "arrival",
            "--rate",
            "5",
            "--max-users",
            "10000000",
        ],
        ["--max-users 10000000", "100,000"],
    ),
    "replay step of zero": (
        "",
        ["drill", "--target", NOWHERE, "--fault", "latency:api=+1ms", "--replay-step", "0"],
        ["--replay-step 0", "0.1 to 60"],
    ),
    "request timeout not a number": (
        "request_timeout = nan\n",
        ["smoke", "--target", NOWHERE],
        ["request_timeout", "finite number"],
    ),
    "results folder that cannot be made": (
        "",
        ["smoke", "--target", NOWHERE, "--results", "/proc/harness-results"],
        ["cannot use the results folder /proc/harness-results", "--results DIR"],
    ),
    "bad stages": (
        "",
        ["load", "--target", NOWHERE, "--shape", "steps", "--steps", "10 for 30s"],
        ["--steps", "e.g."],
    ),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_input_is_one_message_with_exit_2(case: str, tmp_path: Path) -> None:
    config, args, expected = CASES[case]
    if config:
        (tmp_path / "harness.toml").write_text(config)
    result = run_cli(*args, "--journeys", JOURNEYS, cwd=tmp_path, timeout=60)
    text = result.out + result.err
    assert result.code == ExitCode.USAGE, text
    assert "Traceback" not in text and "internal error" not in text
    for fragment in expected:
        assert fragment in text, (fragment, text)
    assert not list(tmp_path.glob("results/*")), "nothing may run after bad input"


def test_a_journey_module_with_a_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "bad.py").write_text(
        "from harness import journey\n@journey\ndef broken(j)\n    pass\n"
    )
    result = run_cli("smoke", "--target", NOWHERE, "--journeys", "j", cwd=tmp_path, timeout=60)
    assert result.code == ExitCode.USAGE
    assert "bad.py:3 has a syntax error" in result.err and "Traceback" not in result.err


def test_a_journey_that_raises_fails_that_journey_not_the_harness(
    tmp_path: Path, sandbox: SandboxUrls
) -> None:
    (tmp_path / "j").mkdir()
    (tmp_path / "j" / "boom.py").write_text(
        "from harness import journey\n\n\n@journey\ndef boom(j):\n"
        '    with j.step("look up", on="api"):\n'
        '        j.api.get("/products")\n'
        '        {}["missing"]\n'
    )
    result = run_cli("smoke", "--target", sandbox.base, "--journeys", "j", cwd=tmp_path)
    assert result.code == ExitCode.FAILED, result.out + result.err
    assert "error in journey `boom` at boom.py:8: KeyError: 'missing'" in result.out
    assert "Traceback" not in result.out + result.err
