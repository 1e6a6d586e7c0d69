"""The one supervisor of the harness's own child processes (the sandbox, the drill proxy).

A child is `python -m harness.<something>`, started with this very copy of the package on its
path, its stdout read for one ready line, its stderr kept in a log so that a failure can be
reported with its last words. It dies with the harness (`lifetime.child_env`), even when the
harness is killed with SIGKILL, and `stop` ends it the same way every time: SIGTERM (so it
flushes what it holds), then SIGKILL after a grace period. The files it shares with the harness
(its log, its stats, its settings) are `Scratch` files: nameless, so that a harness killed with
SIGKILL leaves none behind in the temporary folder.
"""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

from harness.errors import TargetUnavailable
from harness.lifetime import child_env

__all__ = ["Child", "Scratch"]

STOP_GRACE_S = 5.0
STDERR_TAIL_CHARS = 2000
# The directory holding the `harness` package, so the child imports this very copy of it.
_PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Child:
    """One child process: `start` it, `wait_ready` for its ready line, `stop` it."""

    def __init__(
        self,
        what: str,
        command: Sequence[str],
        log: Path | Scratch,
        *,
        scratch: Sequence[Scratch] = (),
    ) -> None:
        """`scratch`: the `Scratch` files the child reaches by their `path` (passed down)."""
        self.what = what  #: how errors name it: "the sandbox", "the drill proxy for …"
        self.command = list(command)
        self.log = log
        self.scratch = tuple(scratch)
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int:
        """The child's process id; raises `RuntimeError` before `start`."""
        if self.proc is None:
            raise RuntimeError(f"{self.what} has not been started")
        return self.proc.pid

    @property
    def returncode(self) -> int | None:
        """The child's exit code once it has ended, else None."""
        return None if self.proc is None else self.proc.poll()

    def start(self) -> None:
        """Spawn the child, its stderr appended to the log."""
        if self.proc is not None:
            raise RuntimeError(f"{self.what} is already started")
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(
            p for p in (str(_PROJECT_ROOT), env.get("PYTHONPATH", "")) if p
        )
        env["PYTHONUNBUFFERED"] = "1"
        with self.log.open("ab") as stderr:
            self.proc = subprocess.Popen(
                self.command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=stderr,
                env=child_env(env),  # it dies with this process, even by SIGKILL
                pass_fds=tuple(file.fd for file in self.scratch),
            )

    def wait_ready(self, ready: re.Pattern[str], timeout: float) -> re.Match[str]:
        """The first stdout line matching `ready`. Raises `TargetUnavailable`, with the tail of
        the child's stderr, when it exits or does not print it within `timeout` seconds."""
        assert self.proc is not None and self.proc.stdout is not None
        stdout = self.proc.stdout
        deadline = time.monotonic() + timeout
        buffer = b""
        with selectors.DefaultSelector() as selector:
            selector.register(stdout, selectors.EVENT_READ)
            while (remaining := deadline - time.monotonic()) > 0:
                if not selector.select(timeout=min(remaining, 0.25)):
                    continue
                chunk = os.read(stdout.fileno(), 65536)
                if not chunk:
                    code = self.proc.wait(timeout=STOP_GRACE_S)
                    raise TargetUnavailable(
                        f"{self.what} exited with code {code} before it was ready"
                        f"{self.stderr_tail()}"
                    )
                buffer += chunk
                for line in buffer.decode("utf-8", "replace").splitlines():
                    match = ready.match(line.strip())
                    if match:
                        return match
        raise TargetUnavailable(
            f"{self.what} was not ready within {timeout:g}s{self.stderr_tail()}"
        )

    def stderr_tail(self) -> str:
        """`; its stderr ends with: …` (the log's last characters), or nothing."""
        try:
            text = self.log.read_text("utf-8", "replace").strip()
        except OSError:
            return ""
        return f"; its stderr ends with:\n{text[-STDERR_TAIL_CHARS:]}" if text else ""

    def stop(self, grace_s: float = STOP_GRACE_S) -> bool:
        """SIGTERM the child, wait up to `grace_s`, then SIGKILL it; True when it had to be
        killed. Safe to call more than once."""
        proc, killed = self.proc, False
        if proc is not None and proc.poll() is None:
            try:
                os.kill(proc.pid, signal.SIGTERM)
                proc.wait(timeout=grace_s)
            except ProcessLookupError:
                pass
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
                killed = True
        if proc is not None and proc.stdout is not None:
            proc.stdout.close()
        return killed


class Scratch:
    """A file the harness shares with a child (its log, its stats, its settings), made without
    a name (`O_TMPFILE`, or unlinked at once): nothing is left in the temporary folder when the
    harness ends, even killed with SIGKILL. The child reaches it by `path`, `/proc/self/fd/N`,
    for it inherits the descriptor under the same number (`Child(..., scratch=...)`); this
    process reads and writes it through `read_text`, `write_text` and `open`. Only its user can
    reach it (mode 0600, and no name to find it by)."""

    def __init__(self, prefix: str) -> None:
        self._file = tempfile.TemporaryFile(prefix=prefix)  # noqa: SIM115  # closed by close()
        self.fd = self._file.fileno()
        self.path = Path(f"/proc/self/fd/{self.fd}")

    def open(self, mode: str) -> IO[Any]:
        """A new handle on the file (`"ab"`: a child's stderr, appended)."""
        self._check()
        return self.path.open(mode)

    def read_text(self, encoding: str = "utf-8", errors: str = "strict") -> str:
        """What the file holds."""
        self._check()
        size = os.fstat(self.fd).st_size
        return os.pread(self.fd, size, 0).decode(encoding, errors)

    def write_text(self, text: str, encoding: str = "utf-8") -> None:
        """Replace what the file holds with `text`."""
        self._check()
        data = text.encode(encoding)
        os.ftruncate(self.fd, 0)
        os.pwrite(self.fd, data, 0)

    def close(self) -> None:
        """Let the file go (its space is freed once the child has closed it too)."""
        self._file.close()

    def _check(self) -> None:
        if self._file.closed:  # its number may name another file of this process by now
            raise OSError(f"{self.path} is closed")
