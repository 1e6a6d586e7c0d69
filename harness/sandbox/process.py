"""Start and stop the sandbox as a child process (used by the CLI, the pytest plugin and tests).

The child is `python -m harness.sandbox --port 0 ...`; it binds its own socket and announces the
real URL on stdout, which `start` waits for. Its stderr goes to a log file so that a failure can
be reported with the child's last words.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from harness.sandbox.regressions import parse_regressions
from harness.supervisor import STOP_GRACE_S, Child, Scratch

__all__ = ["SandboxProcess", "SandboxUrls"]

_READY = re.compile(r"^sandbox ready at (?P<base>http://\S+) \(release (?P<release>\S+)\)$")


@dataclass(frozen=True)
class SandboxUrls:
    """Where a running sandbox answers: its base URL and one URL per surface."""

    base: str
    web: str
    api: str
    mobile: str

    @classmethod
    def from_base(cls, base: str) -> SandboxUrls:
        base = base.rstrip("/")
        return cls(base=base, web=f"{base}/", api=f"{base}/api/v1", mobile=f"{base}/mobile/v2")


class SandboxProcess:
    """A sandbox child process; use as a context manager, or call `start` and `stop`.

    With `trace_file` and/or `otlp_endpoint` the child traces every request (see
    docs/sandbox.md, "Tracing"); `stop` lets it flush its spans before it exits.
    """

    def __init__(
        self,
        release: str = "baseline",
        regressions: Sequence[str] = (),
        *,
        port: int = 0,
        ready_timeout: float = 15.0,
        log_path: Path | None = None,
        trace_file: Path | None = None,
        otlp_endpoint: str | None = None,
        cpus: frozenset[int] | None = None,
    ) -> None:
        """`cpus`: the cores the child may run on (None: this process's)."""
        self.release = release
        self.regressions = tuple(regressions)
        self.port = port
        self.ready_timeout = ready_timeout
        self.log_path = log_path
        self.trace_file = trace_file
        self.otlp_endpoint = otlp_endpoint
        self.cpus = cpus
        self._child: Child | None = None
        self._urls: SandboxUrls | None = None
        self._own_log: Scratch | None = None

    @property
    def urls(self) -> SandboxUrls:
        """The URLs of the running sandbox; raises `RuntimeError` before `start`."""
        if self._urls is None:
            raise RuntimeError("the sandbox has not been started")
        return self._urls

    @property
    def pid(self) -> int:
        """The child's process id; raises `RuntimeError` before `start`."""
        if self._child is None:
            raise RuntimeError("the sandbox has not been started")
        return self._child.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit code once it has ended, else None."""
        return None if self._child is None else self._child.returncode

    def command(self) -> list[str]:
        """The child's command line."""
        cmd = [sys.executable, "-m", "harness.sandbox", "--release", self.release]
        for spec in self.regressions:
            cmd += ["--regression", spec]
        if self.trace_file is not None:
            cmd += ["--trace-file", str(self.trace_file)]
        if self.otlp_endpoint is not None:
            cmd += ["--otlp-endpoint", self.otlp_endpoint]
        return [*cmd, "--port", str(self.port)]

    def start(self) -> SandboxUrls:
        """Spawn the sandbox and wait for its ready line.

        Raises `SpecError` (before spawning) for a malformed regression spec, `UsageError` for
        an `otlp_endpoint` that is not an http(s) URL, and
        `TargetUnavailable`, with the tail of the child's stderr, when the child exits or is
        not ready within `ready_timeout` seconds. Starting a started sandbox is an error.
        """
        if self._child is not None:
            raise RuntimeError("the sandbox is already started")
        parse_regressions(self.regressions)
        if self.otlp_endpoint is not None:
            from harness.sandbox.tracing import otlp_traces_url

            otlp_traces_url(self.otlp_endpoint)
        log: Path | Scratch
        if self.log_path is None:
            log = self._own_log = Scratch("harness-sandbox-log-")
        else:
            log = self.log_path
        self._child = Child("the sandbox", self.command(), log)
        self._child.start()
        if self.cpus and hasattr(os, "sched_setaffinity"):
            with contextlib.suppress(OSError):  # cores it may not have: it keeps its own
                os.sched_setaffinity(self._child.pid, self.cpus)
        try:
            base = self._child.wait_ready(_READY, self.ready_timeout).group("base")
        except BaseException:
            self.stop()
            raise
        self._urls = SandboxUrls.from_base(base)
        return self._urls

    def stop(self) -> None:
        """SIGTERM the child, wait up to 5 s, then SIGKILL it. Safe to call more than once."""
        if self._child is not None and self._child.stop() and self.trace_file is not None:
            from harness.results import incomplete_marker  # its last spans died with it: say so

            with contextlib.suppress(OSError):
                incomplete_marker(self.trace_file).write_text(
                    f"the sandbox at {self._urls.base if self._urls else '?'} did not "
                    f"stop within {STOP_GRACE_S:g} s and was killed; its last "
                    "spans were lost\n",
                    encoding="utf-8",
                )
        if self._own_log is not None:
            self._own_log.close()
            self._own_log = None

    def __enter__(self) -> SandboxProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
