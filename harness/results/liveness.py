"""Whether the process of a run whose run.json still says `running` lives: run.json records the
host and pid of the run's process, and a run killed outright (SIGKILL, the out-of-memory killer,
a crash) never gets to mark itself, so a reader that trusted the word would call it running for
ever."""

from __future__ import annotations

import os
import platform
from collections.abc import Mapping

__all__ = ["KILLED", "gone_words", "process_alive"]

#: the status a reader gives a run whose run.json says `running` and whose process is gone
KILLED = "killed"


def process_alive(meta: Mapping[str, object]) -> bool:
    """True while a run whose run.json says `running` may still be going: its process lives on
    this host, or it ran on another host (which cannot be checked from here). False for every
    other status and for a `running` run whose process is gone."""
    if meta.get("status") != "running":
        return False
    host, pid = meta.get("host"), meta.get("pid")
    if host is not None and host != platform.node():
        return True
    if not isinstance(pid, int) or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, someone else's
        return True
    return True


def gone_words(meta: Mapping[str, object]) -> str:
    """Why a `killed` run ended, in the words a report gives."""
    pid = meta.get("pid")
    who = f"its process (pid {pid})" if isinstance(pid, int) else "its process"
    return (
        f"{who} ended without finishing run.json: killed (SIGKILL, out of memory) or crashed; "
        "what it wrote before is shown"
    )
