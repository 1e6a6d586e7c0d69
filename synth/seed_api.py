"""The seam between seeding and the target's JSON API: `ApiTransport` (one `call` method, faked
in tests) and `HttpApiTransport`, JSON calls over the harness's one HTTP transport."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Final, Protocol

from harness.errors import ConnectionFailed, StepTimeout, TargetUnavailable
from harness.http import transport as http_transport
from harness.http.transport import HttpRequest, HttpSettings, HttpTransport

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
    """Calls to one API base URL (`http://host:port/api/v1`) over the harness's one HTTP
    transport (`harness.http`): one keep-alive connection, reopened once when the server closed
    it while idle. A refused, unreachable or silent target raises `TargetUnavailable` naming the
    request. `http` is the transport to send on (default: a new one with `settings`, closed
    with this)."""

    def __init__(
        self,
        api_url: str,
        *,
        timeout: float = 10.0,
        settings: HttpSettings | None = None,
        http: HttpTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.api_url = api_url.rstrip("/")
        #: the target's own headers for its API (`request_headers`), on every request
        self.headers = {"accept": "application/json", "user-agent": _USER_AGENT, **(headers or {})}
        self.timeout = timeout
        self._owned = http is None
        self.http = http_transport.open_transport(settings) if http is None else http

    def call(
        self, method: str, path: str, body: Mapping[str, object] | None = None, *, token: str = ""
    ) -> ApiReply:
        data = None if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        headers = dict(self.headers)
        if data is not None:
            headers["content-type"] = "application/json"
        if token:
            headers["authorization"] = f"Bearer {token}"
        url = self.api_url + path
        try:
            raw = self.http.send(HttpRequest(method, url, headers, data, self.timeout))
        except StepTimeout:
            raise TargetUnavailable(
                f"{method} {url}: no answer within {self.timeout:g} s"
            ) from None
        except ConnectionFailed as exc:
            raise TargetUnavailable(str(exc)) from None
        return ApiReply(raw.status, _json_or_none(raw.body))

    def close(self) -> None:
        """Close the transport's connections when this made it (the next call reopens)."""
        if self._owned:
            self.http.close()

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
