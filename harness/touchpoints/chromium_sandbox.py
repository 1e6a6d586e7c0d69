"""Whether Chromium runs with its sandbox: kept wherever the kernel and the user allow it.

Chromium's Linux sandbox needs an ordinary user and unprivileged user namespaces (or a setuid
helper, which the Debian package does not ship). As root it refuses to start sandboxed
("Running as root without --no-sandbox is not supported"), whatever the kernel allows; checked
here with Chromium 156 as root, user namespaces on. So the sandbox is dropped only as root, or
when the kernel turns user namespaces off for unprivileged users; and, should a sandboxed
launch still fail (an AppArmor policy, a seccomp-filtered container), the launch is retried
without it. Which one happened goes to run.json (`browser`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROC_SYS = Path("/proc/sys")
#: a value of "0" in any of these turns user namespaces off for unprivileged users
_SWITCHES = ("kernel/unprivileged_userns_clone", "user/max_user_namespaces")


@dataclass(frozen=True)
class SandboxChoice:
    """Chromium's sandbox on or off, and why."""

    sandbox: bool
    reason: str

    def as_dict(self) -> dict[str, Any]:
        """JSON form for run.json's `browser`."""
        return {"sandbox": self.sandbox, "reason": self.reason}


def decide(euid: int, user_namespaces: bool) -> SandboxChoice:
    """The sandbox for a process of effective user `euid` on a kernel that does (or does not)
    give unprivileged users namespaces."""
    if euid == 0:
        return SandboxChoice(False, "running as root: Chromium starts its sandbox only as a user")
    if not user_namespaces:
        return SandboxChoice(
            False,
            "the kernel gives unprivileged users no user namespaces "
            "(kernel.unprivileged_userns_clone or user.max_user_namespaces is 0)",
        )
    return SandboxChoice(True, "an ordinary user with user namespaces")


def user_namespaces(proc_sys: Path = PROC_SYS) -> bool:
    """False when a kernel switch turns unprivileged user namespaces off (an absent switch
    leaves them on, as on kernels without Debian's `unprivileged_userns_clone`)."""
    for name in _SWITCHES:
        try:
            value = (proc_sys / name).read_text().strip()
        except OSError:
            continue
        if value == "0":
            return False
    return True


def for_this_process() -> SandboxChoice:
    """`decide` for this process on this machine."""
    return decide(os.geteuid(), user_namespaces())


def sandbox_failed(message: str) -> SandboxChoice:
    """The choice after a sandboxed launch failed with `message` (quoting its line that names
    the sandbox: Playwright puts Chromium's own words among the browser's logs)."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    named = [line for line in lines if looks_like_sandbox_failure(line)]
    said = (named or lines or ["no message"])[0]
    return SandboxChoice(False, f"Chromium could not start its sandbox here ({said})")


def looks_like_sandbox_failure(message: str) -> bool:
    """True for a launch error that names the sandbox (then a launch without it is tried)."""
    lowered = message.lower()
    return "sandbox" in lowered or "namespace" in lowered


def summarise(choices: list[dict[str, Any]]) -> dict[str, Any] | None:
    """One `browser` entry for run.json from each process's: off if any process ran without
    it (with that process's reason), None when no browser was launched."""
    if not choices:
        return None
    off = [c for c in choices if not c.get("sandbox")]
    return dict(off[0] if off else choices[0])
