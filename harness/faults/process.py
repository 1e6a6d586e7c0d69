"""Start and stop the drill proxy as a child process (`python -m harness.faults`).

The proxy runs on its own event loop in its own process: the harness's load generator is
gevent-patched and busy, and a proxy sharing its core would add its own stalls to the latency
it is meant to leave alone.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Mapping, Sequence
from types import TracebackType

from harness.faults.spec import parse_faults
from harness.supervisor import Child, Scratch
from harness.target_http import TargetHttp

__all__ = ["ProxyProcess"]

_READY = re.compile(r"^fault proxy ready at (?P<url>http://\S+) \(clock (?P<clock>[\d.]+)\)$")


class ProxyProcess:
    """A drill proxy in front of `upstream`; use as a context manager or `start` / `stop`.

    After `start`, `url` is where it listens and `clock` the epoch its fault windows count
    from; after `stop`, `counts` holds how many requests it forwarded and how often each fault
    was applied. `http` (with the target's `name`) is the target's `[targets.NAME.http]`: the
    proxy reaches the upstream with its proxy, CA, `verify` and client certificate, as the
    journeys would (None: the environment's). It goes to the child in a file only its user
    reads, as written: `${VARIABLES}` are read by the child from the environment it inherits.
    """

    def __init__(
        self,
        upstream: str,
        faults: Sequence[str] = (),
        *,
        touchpoints: Mapping[str, str] | None = None,
        seed: int | None = None,
        ready_timeout: float = 10.0,
        preserve_host: bool = False,
        http: TargetHttp | None = None,
        name: str = "target",
    ) -> None:
        self.upstream = upstream
        self.http = http
        self.name = name
        self.preserve_host = preserve_host
        self.faults = tuple(faults)
        self.touchpoints = dict(touchpoints or {})
        self.seed = seed
        self.ready_timeout = ready_timeout
        self.url = ""
        self.clock = 0.0
        self.counts: dict[str, int] = {}
        self._child: Child | None = None
        self._stats = Scratch("harness-proxy-stats-")
        self._log = Scratch("harness-proxy-log-")
        self._settings = Scratch("harness-proxy-settings-")  # mode 0600, and nameless

    @property
    def pid(self) -> int:
        """The child's process id; raises `RuntimeError` before `start`."""
        if self._child is None:
            raise RuntimeError("the proxy has not been started")
        return self._child.pid

    def command(self) -> list[str]:
        """The child's command line."""
        cmd = [sys.executable, "-m", "harness.faults", "--upstream", self.upstream]
        for spec in self.faults:
            cmd += ["--fault", spec]
        for prefix, name in self.touchpoints.items():
            cmd += ["--touchpoint", f"{prefix}={name}"]
        if self.seed is not None:
            cmd += ["--seed", str(self.seed)]
        if self.preserve_host:
            cmd.append("--preserve-host")
        if self.http is not None:
            cmd += ["--http-settings", str(self._settings.path)]
        return [*cmd, "--stats-file", str(self._stats.path), "--port", "0"]

    def start(self) -> str:
        """Spawn the proxy and wait for its ready line; returns its URL. Raises `SpecError` for
        a malformed fault (before spawning) and `TargetUnavailable` when it does not start."""
        parse_faults(self.faults)
        if self.http is not None:
            document = {"name": self.name, "http": self.http.model_dump(mode="json")}
            self._settings.write_text(json.dumps(document), encoding="utf-8")
        self._child = Child(
            f"the drill proxy for {self.upstream}",
            self.command(),
            self._log,
            scratch=(self._stats, self._settings),
        )
        self._child.start()
        try:
            ready = self._child.wait_ready(_READY, self.ready_timeout)
        except BaseException:
            self.stop()
            raise
        self.url, self.clock = ready["url"], float(ready["clock"])
        return self.url

    def stop(self) -> None:
        """SIGTERM the proxy (it writes its counts), wait up to 5 s, then SIGKILL it."""
        if self._child is not None:
            self._child.stop()
        try:
            text = self._stats.read_text(encoding="utf-8")
            self.counts = json.loads(text) if text.strip() else self.counts
        except (OSError, ValueError):
            pass
        for scratch in (self._stats, self._settings, self._log):
            scratch.close()

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
