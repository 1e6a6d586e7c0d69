"""The seam between seeding and the target's JSON API: `ApiTransport` (one `call` method, faked
in tests) and `HttpApiTransport`, a keep-alive `http.client` connection to the API."""

from __future__ import annotations

import http.client
import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol
from urllib.parse import urlsplit

from harness.errors import TargetUnavailable

__all__ = [
    "ApiReply",
    "ApiTransport",
    "HttpApiTransport",
]


_USER_AGENT: Final = "journey-harness-synth"


@dataclass(frozen=True)
class ApiReply:
    """One answer of the target's JSON API: the status and the decoded body (None if not JSON)."""

    status: int
    body: Any

    @property
    def error(self) -> str:
        """The `error` code of an error body, else an empty string."""
        code = self.body.get("error") if isinstance(self.body, dict) else None
        return f" {code}" if isinstance(code, str) else ""


class ApiTransport(Protocol):
    """Sends one JSON request to the API; raises `TargetUnavailable` when it cannot."""

    def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, token: str = ""
    ) -> ApiReply: ...


class HttpApiTransport:
    """A keep-alive `http.client` connection to one API base URL (`http://host:port/api/v1`).

    A connection the server closed while idle is reopened once; a refused, unreachable or
    silent target raises `TargetUnavailable`.
    """

    def __init__(self, api_url: str, *, timeout: float = 10.0) -> None:
        parts = urlsplit(api_url)
        self.api_url = api_url.rstrip("/")
        self.timeout = timeout
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._prefix = parts.path.rstrip("/")
        self._conn: http.client.HTTPConnection | None = None

    def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, token: str = ""
    ) -> ApiReply:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = {"Accept": "application/json", "User-Agent": _USER_AGENT}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if token:
            headers["Authorization"] = f"Bearer {token}"
        what = f"{method} {self.api_url}{path}"
        for attempt in range(2):
            reused = self._conn is not None
            conn = self._connection()
            try:
                conn.request(method, self._prefix + path, body=data, headers=headers)
                response = conn.getresponse()
                raw = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError) as exc:
                self.close()
                if reused and attempt == 0:
                    continue  # the server closed an idle keep-alive connection: reconnect
                raise TargetUnavailable(f"{what}: the connection was closed ({exc})") from None
            except TimeoutError:
                self.close()
                raise TargetUnavailable(f"{what}: no answer within {self.timeout:g}s") from None
            except OSError as exc:  # refused, unreachable, unknown host
                self.close()
                raise TargetUnavailable(f"{what}: {exc.strerror or exc}") from None
            except http.client.HTTPException as exc:
                self.close()
                raise TargetUnavailable(f"{what}: not an HTTP answer ({exc!r})") from None
            if response.will_close:
                self.close()
            return ApiReply(response.status, _json_or_none(raw))
        raise AssertionError("unreachable")  # pragma: no cover - the loop returns or raises

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            cls = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
            self._conn = cls(self._host, self._port, timeout=self.timeout)
        return self._conn

    def close(self) -> None:
        """Close the connection (the next call opens a new one)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def __enter__(self) -> HttpApiTransport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _json_or_none(raw: bytes) -> Any:
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return None
