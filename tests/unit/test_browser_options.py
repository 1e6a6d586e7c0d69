"""`--browser-context`, `--browser-trace` and per-target `block` patterns: from flags and
harness.toml into the load plan, and the patterns' one regular expression."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from harness.block_patterns import block_regex
from harness.cli import _parser
from harness.commands.requests import request_from_options
from harness.config import load_config
from harness.errors import UsageError
from harness.run.load_plan import build_plan


def _plan(tmp_path: Path, toml: str, *argv: str):  # type: ignore[no-untyped-def]
    (tmp_path / "harness.toml").write_text(toml + '\n[targets.t]\nurl = "http://127.0.0.1:9"\n')
    options = _parser().parse_args(
        ["load", "--target", "t", *argv, "--config", str(tmp_path / "harness.toml")]
    )
    request = request_from_options(options, options.command)
    target = request.config.targets["t"].resolve("t")
    return build_plan(request, [target], "run-1")


def test_browser_context_is_fresh_by_default_then_the_config_then_the_flag(
    tmp_path: Path,
) -> None:
    assert _plan(tmp_path, "").browser_context == "fresh"
    assert _plan(tmp_path, 'browser_context = "reuse"').browser_context == "reuse"
    flagged = _plan(tmp_path, 'browser_context = "reuse"', "--browser-context", "fresh")
    assert flagged.browser_context == "fresh"


def test_the_playwright_trace_is_recorded_at_load_only_when_asked(tmp_path: Path) -> None:
    assert _plan(tmp_path, "").record_browser_trace is False
    assert _plan(tmp_path, "", "--browser-trace").record_browser_trace is True


def test_block_patterns_reach_the_target_and_are_checked(tmp_path: Path) -> None:
    (tmp_path / "harness.toml").write_text(
        '[targets.t]\nurl = "http://127.0.0.1:9"\nblock = ["*.doubleclick.net", "fonts"]\n'
    )
    target = load_config(start=tmp_path).config.targets["t"].resolve("t")
    assert target.block == ("*.doubleclick.net", "fonts")
    (tmp_path / "harness.toml").write_text(
        '[targets.t]\nurl = "http://127.0.0.1:9"\nblock = ["a b"]\n'
    )
    with pytest.raises(UsageError, match=r"targets\.t\.block: 'a b' is not a block pattern"):
        load_config(start=tmp_path).config.targets["t"].resolve("t")


@pytest.mark.parametrize(
    ("url", "blocked"),
    [
        ("https://www.google-analytics.com/collect?v=1", True),
        ("http://google-analytics.com:8080/", True),
        ("https://notgoogle-analytics.com/", False),
        ("https://ad.doubleclick.net/x", True),
        ("https://doubleclick.net.example.org/", False),
        ("http://127.0.0.1:9/static/font.woff2?v=3", True),
        ("http://127.0.0.1:9/fonts.css", False),
        ("http://127.0.0.1:9/a/b/tracker.js", True),
        ("http://127.0.0.1:9/tracker.json", False),
        ("http://127.0.0.1:9/?next=google-analytics.com", False),
    ],
)
def test_block_patterns_match_hosts_kinds_and_globs(url: str, blocked: bool) -> None:
    pattern = block_regex(["google-analytics.com", "*.doubleclick.net", "fonts", "**/tracker.js"])
    assert pattern is not None
    assert bool(pattern.search(url)) is blocked
    assert block_regex([" ", ""]) is None


def test_blocked_requests_add_up_each_process_last_running_total() -> None:
    from harness.engine.collector import LoadCollector
    from harness.run.measurements import blocked_requests

    collector = LoadCollector(sample_rate=1.0, late_after_ms=10.0, seed=1)
    collector.health({"cpu": 1.0, "browser_blocked": 3})
    shipped = collector.take_delta()["health"]
    collector.browser_blocked(5)  # at stop, after the last sample was shipped: a copy carries it
    final = collector.take_delta()["health"]
    assert final == [{"cpu": 1.0, "browser_blocked": 5}] and shipped[0]["browser_blocked"] == 3
    samples = [{**s, "source": "a"} for s in shipped + final]
    samples += [{"source": "b", "browser_blocked": 2}, {"source": "b"}]
    assert blocked_requests(samples) == 7
    assert blocked_requests([{"source": "a", "cpu": 1.0}]) == 0


class _Session:
    def __init__(self, device: str | None, fail_reset: bool = False) -> None:
        self.device, self.fail_reset = device, fail_reset
        self.usable, self.closed, self.resets, self.begun = True, False, 0, []
        self.lasting: list[str] = []

    def begin(self, headers: dict[str, str]) -> None:
        self.begun.append(headers)

    def reset(self) -> None:
        if self.fail_reset:
            raise RuntimeError("Chromium went away")
        self.resets += 1

    def close(self) -> None:
        self.closed = True


class _Host:
    def __init__(self) -> None:
        self.opened: list[_Session] = []
        self.fail_reset = False

    def new_session(self, *, device: str | None, reuse: bool, **_: object) -> _Session:
        session = _Session(device, self.fail_reset)
        session.reuse = reuse
        self.opened.append(session)
        return session


def _virtual_user(context: str) -> tuple[Any, _Host]:
    from harness.runtime import RunSettings
    from harness.targets import Target
    from harness.testing import RecordingSink
    from harness.virtual_user import VirtualUser

    host = _Host()
    settings = RunSettings(
        run_id="r",
        target=Target.from_base_url("http://shop.test"),
        artifacts_dir=Path("."),
        browser_context=context,
    )
    user = VirtualUser(index=0, settings=settings, sink=RecordingSink(), browser=lambda: host)
    return user, host


def test_reuse_keeps_one_context_per_user_and_replaces_one_it_cannot_use() -> None:
    user, host = _virtual_user("reuse")
    first = user.open_web(device=None, extra_headers=None)
    user.release_web(first)
    again = user.open_web(device=None, extra_headers={"X-Feature-Flags": "a=on"})
    assert again is first and first.resets == 1 and first.begun == [{"X-Feature-Flags": "a=on"}]
    user.release_web(again)
    phone = user.open_web(device="iPhone 13", extra_headers=None)
    assert phone is not first and first.closed  # another device: another context
    phone.usable = False  # its Chromium crashed
    user.release_web(phone)
    host.fail_reset = True
    crashed = user.open_web(device="iPhone 13", extra_headers=None)
    assert crashed is not phone and phone.closed
    user.release_web(crashed)  # cannot be cleared: closed, forgotten
    assert crashed.closed and user._web is None
    assert all(s.reuse for s in host.opened)


def test_fresh_opens_and_closes_a_context_per_iteration() -> None:
    user, host = _virtual_user("fresh")
    for _ in range(2):
        session = user.open_web(device=None, extra_headers=None)
        user.release_web(session)
        assert session.closed and session.resets == 0
    assert len(host.opened) == 2 and not any(s.reuse for s in host.opened)
