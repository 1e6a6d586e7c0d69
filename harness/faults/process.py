"""Start and stop the drill proxy as a child process (`python -m harness.faults`).

The proxy runs on its own event loop in its own process: the harness's load generator is
gevent-patched and busy, and a proxy sharing its core would add its own stalls to the latency
it is meant to leave alone.
"""

from __future__ import annotations

import json
import os
import re
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType

from harness.errors import TargetUnavailable
from harness.faults.spec import parse_faults
from harness.lifetime import child_env

__all__ = ["ProxyProcess"]

_READY = re.compile(r"^fault proxy ready at (?P<url>http://\S+) \(clock (?P<clock>[\d.]+)\)$")
_PROJECT_ROOT = Path(__file__).resolve().parents[2]


class ProxyProcess:
    """A drill proxy in front of `upstream`; use as a context manager or `start` / `stop`.

    After `start`, `url` is where it listens and `clock` the epoch its fault windows count
    from; after `stop`, `counts` holds how many requests it forwarded and how often each fault
    was applied.
    """

    def __init__(
        self,
        upstream: str,
        faults: Sequence[str] = (),
        *,
        touchpoints: Mapping[str, str] | None = None,
        seed: int | None = None,
        ready_timeout: float = 10.0,
    ) -> None:
        self.upstream = upstream
        self.faults = tuple(faults)
        self.touchpoints = dict(touchpoints or {})
        self.seed = seed
        self.ready_timeout = ready_timeout
        self.url = ""
        self.clock = 0.0
        self.counts: dict[str, int] = {}
        self._proc: subprocess.Popen[bytes] | None = None
        self._stats = _temp_file(".json")
        self._log = _temp_file(".log")

    @property
    def pid(self) -> int:
        """The child's process id; raises `RuntimeError` before `start`."""
        if self._proc is None:
            raise RuntimeError("the proxy has not been started")
        return self._proc.pid

    def command(self) -> list[str]:
        """The child's command line."""
        cmd = [sys.executable, "-m", "harness.faults", "--upstream", self.upstream]
        for spec in self.faults:
            cmd += ["--fault", spec]
        for prefix, name in self.touchpoints.items():
            cmd += ["--touchpoint", f"{prefix}={name}"]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        return [*cmd, "--stats-file", str(self._stats), "--port", "0"]

    def start(self) -> str:
        """Spawn the proxy and wait for its ready line; returns its URL. Raises `SpecError` for
        a malformed fault (before spawning) and `TargetUnavailable` when it does not start."""
        parse_faults(self.faults)
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        with self._log.open("ab") as log:
            self._proc = subprocess.Popen(
                self.command(),
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=log,
                env=child_env(env),  # it dies with this process, even by SIGKILL
            )
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self.url

    def _wait_ready(self) -> None:
        assert self._proc is not None and self._proc.stdout is not None
        deadline = time.monotonic() + self.ready_timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(self._proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not selector.select(timeout=0.25):
                    continue
                chunk = os.read(self._proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    match = _READY.match(line.strip())
                    if match:
                        self.url, self.clock = match["url"], float(match["clock"])
                        return
        stderr = self._log.read_bytes()[-2000:]
        raise TargetUnavailable(
            f"the drill proxy for {self.upstream} did not start within {self.ready_timeout:g}s"
            + (f": {stderr.decode('utf-8', 'replace').strip()}" if stderr else "")
        )

    def stop(self) -> None:
        """SIGTERM the proxy (it writes its counts), wait up to 5 s, then SIGKILL it."""
        proc = self._proc
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=5.0)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        try:
            text = self._stats.read_text(encoding="utf-8")
            self.counts = json.loads(text) if text.strip() else self.counts
        except (OSError, ValueError):
            pass
        self._stats.unlink(missing_ok=True)
        self._log.unlink(missing_ok=True)

    def __enter__(self) -> ProxyProcess:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def _temp_file(suffix: str) -> Path:
    fd, name = tempfile.mkstemp(prefix="harness-proxy-", suffix=suffix)
    os.close(fd)
    return Path(name)
