"""Chromium's sandbox: kept for an ordinary user with user namespaces, dropped as root or when
the kernel gives unprivileged users none, and the reason recorded."""

from __future__ import annotations

from pathlib import Path

import pytest

from harness.touchpoints.chromium_sandbox import (
    SandboxChoice,
    decide,
    looks_like_sandbox_failure,
    sandbox_failed,
    summarise,
    user_namespaces,
)


def test_an_ordinary_user_with_user_namespaces_keeps_the_sandbox() -> None:
    assert decide(1000, user_namespaces=True).sandbox is True


def test_root_runs_without_the_sandbox_whatever_the_kernel_allows() -> None:
    for namespaces in (True, False):
        choice = decide(0, user_namespaces=namespaces)
        assert choice.sandbox is False and "root" in choice.reason


def test_no_user_namespaces_drops_the_sandbox_and_says_why() -> None:
    choice = decide(1000, user_namespaces=False)
    assert choice.sandbox is False and "user namespaces" in choice.reason


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({}, True),  # no switch at all: namespaces are on
        ({"kernel/unprivileged_userns_clone": "1", "user/max_user_namespaces": "96367"}, True),
        ({"kernel/unprivileged_userns_clone": "0"}, False),
        ({"user/max_user_namespaces": "0\n"}, False),
    ],
)
def test_user_namespaces_are_read_from_the_kernel_switches(
    tmp_path: Path, files: dict[str, str], expected: bool
) -> None:
    for name, value in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(value)
    assert user_namespaces(tmp_path) is expected


def test_a_failed_sandboxed_launch_quotes_chromiums_line() -> None:
    message = (
        "BrowserType.launch: Target page, context or browser has been closed\n"
        "Browser logs:\n\nChromium sandboxing failed!\n================"
    )
    assert looks_like_sandbox_failure(message)
    assert not looks_like_sandbox_failure("BrowserType.launch: Executable doesn't exist")
    choice = sandbox_failed(message)
    assert choice.sandbox is False and "(Chromium sandboxing failed!)" in choice.reason


def test_run_json_says_off_when_any_process_ran_without_it() -> None:
    on = SandboxChoice(True, "an ordinary user").as_dict()
    off = SandboxChoice(False, "running as root").as_dict()
    assert summarise([]) is None
    assert summarise([on, on]) == on
    assert summarise([on, off]) == off
