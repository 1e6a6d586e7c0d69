"""HTTP JSON clients for the `api` and `mobile` touchpoints.

They send through the harness's one HTTP transport (`harness.http`: the `HttpTransport` seam,
`GeventTransport` on gevent sockets); tests use `harness.testing.FakeTransport`.
"""

from __future__ import annotations

import json as jsonlib
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from opentelemetry.context import Context
from pydantic import TypeAdapter, ValidationError

from harness.errors import (
    ConnectionFailed,
    ContractError,
    ExpectationFailed,
    HttpStatusError,
    StepTimeout,
)
from harness.http.cookies import Jar
from harness.http.headers import Headers, charset_of
from harness.http.network import ACCEPT_ENCODING
from harness.http.redirects import REDIRECTS, next_request
from harness.http.transport import HttpRequest, HttpTransport, RawResponse
from harness.http.urls import is_absolute, join_url, same_origin, url_path
from harness.records import RequestRecord
from harness.redact import redact, redact_url
from harness.target_http import TouchpointHttp, sent_headers
from harness.target_http import credentials as configured_credentials
from harness.targets import basic_authorization, split_userinfo
from harness.telemetry import spans
from harness.touchpoints.bodies import FileValue, Params, encode_body, with_params

__all__ = [
    "DEFAULT_TIMEOUT",
    "HttpClient",
    "HttpRequest",
    "HttpTransport",
    "RawResponse",
    "RequestObserver",
    "Response",
]

T = TypeVar("T")

DEFAULT_TIMEOUT = 10.0


RequestObserver = Callable[[RequestRecord], None]


@dataclass
class Response:
    """A response with the expectation helpers journeys use."""

    method: str
    url: str
    status: int
    headers: Mapping[str, str]
    content: bytes
    elapsed_ms: float

    @property
    def text(self) -> str:
        """The body decoded with the `charset` of its `Content-Type`, else as UTF-8 (as httpx
        does), invalid bytes replaced."""
        charset = charset_of(self.headers.get("content-type"))
        if charset is not None:
            try:
                return self.content.decode(charset, errors="replace")
            except LookupError:  # a charset Python does not know
                pass
        return self.content.decode("utf-8", errors="replace")

    def expect(self, *statuses: int) -> Response:
        """Return self when the status is one of `statuses`; raises `HttpStatusError`."""
        if self.status not in statuses:
            wanted = " or ".join(str(s) for s in statuses)
            raise HttpStatusError(
                f"{self.method} {url_path(self.url)} answered {self.status}, expected {wanted}"
                f"{_excerpt(self.content)}",
                status=self.status,
                method=self.method,
                url=self.url,
            )
        return self

    @overload
    def json(self) -> Any: ...

    @overload
    def json(self, model: type[T]) -> T: ...

    def json(self, model: type[T] | None = None) -> Any:
        """The decoded JSON body, validated against `model` when given.

        Raises `ContractError` naming the fields that do not match, or when the body is not JSON.
        """
        where = f"{self.method} {url_path(self.url)}"
        if model is None:
            try:
                return jsonlib.loads(self.content)
            except ValueError:
                raise ContractError(
                    f"{where} did not answer JSON{_excerpt(self.content)}"
                ) from None
        try:
            return _adapter(model).validate_json(self.content)
        except ValidationError as exc:
            raise ContractError(
                f"{where} broke the contract {_type_name(model)}: {_describe(exc)}"
            ) from None

    def expect_json(self, model: type[T], *statuses: int) -> T:
        """`expect(*statuses)` (default 200) then `json(model)`."""
        return self.expect(*(statuses or (200,))).json(model)

    def expect_text(self, text: str) -> Response:
        """Return self when the body contains `text`; raises `ExpectationFailed`."""
        if text not in self.text:
            raise ExpectationFailed(
                f"{self.method} {url_path(self.url)}: body does not contain {text!r}"
                f"{_excerpt(self.content)}"
            )
        return self


class HttpClient:
    """A JSON-over-HTTP client bound to one base URL.

    By default any status of 400 or more fails the step; pass `expect=` to accept others.
    """

    touchpoint_name = "api"

    def __init__(
        self,
        base_url: str,
        transport: HttpTransport,
        *,
        observer: RequestObserver | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        trace_parent: Callable[[], Context | None] | None = None,
        config: TouchpointHttp | None = None,
        config_key: str = "",
    ) -> None:
        # `http://user:password@host/` sends HTTP basic authentication, as curl, requests and
        # k6 do; the password never appears in a URL the client records
        bare, credentials = split_userinfo(base_url)
        self.base_url = bare.rstrip("/") + "/"
        self.transport = transport
        self.observer = observer
        self.trace_parent = trace_parent
        if config is not None:  # the target's `[targets.NAME.http.<touchpoint>]`
            headers = {**sent_headers(config, config_key), **(headers or {})}
            credentials = configured_credentials(config, config_key) or credentials
        self._basic = basic_authorization(credentials) if credentials is not None else None
        self._initial_headers: dict[str, str] = {
            "accept": "application/json",
            "accept-encoding": ACCEPT_ENCODING,
            "user-agent": "journey-harness",
            **({"authorization": self._basic} if self._basic is not None else {}),
            **{k.lower(): v for k, v in (headers or {}).items()},
        }
        self.headers = dict(self._initial_headers)
        self.timeout = timeout
        self.token: str | None = None
        self.cookies = Jar()  #: this virtual user's cookies, emptied by `renew`
        self.max_redirects = 20

    def renew(
        self,
        observer: RequestObserver | None,
        trace_parent: Callable[[], Context | None] | None,
    ) -> None:
        """Make this client as new for another iteration (its headers as first given, no
        token), keeping its transport: cheaper than building one per iteration."""
        self.observer = observer
        self.trace_parent = trace_parent
        self.headers = dict(self._initial_headers)
        self.token = None
        self.cookies.clear()

    def bearer(self, token: str | None) -> None:
        """Send `Authorization: Bearer <token>` with every later request (None removes it, and
        puts back the basic authentication of the base URL's credentials, if it has them)."""
        self.token = token
        if token is None:
            if self._basic is not None:
                self.headers["authorization"] = self._basic
            else:
                self.headers.pop("authorization", None)
        else:
            self.headers["authorization"] = f"Bearer {token}"

    def sign_in(self, path: str, json: Any, *, token_field: str = "token") -> Any:
        """POST credentials to `path`, keep the token from `token_field`, return the body."""
        body = self.post(path, json=json).json()
        token = body.get(token_field) if isinstance(body, dict) else None
        if not isinstance(token, str):
            raise ContractError(f"POST {path} answered no string field {token_field!r}")
        self.bearer(token)
        return body

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        data: Params | bytes | str | None = None,
        files: Mapping[str, FileValue] | None = None,
        content: bytes | str | None = None,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        auth: tuple[str, str] | None = None,
        expect: int | tuple[int, ...] | None = None,
        timeout: float | None = None,
        follow_redirects: bool | None = None,
    ) -> Response:
        """Send one request relative to the base URL and check its status.

        Redirects are followed for GET and HEAD unless `follow_redirects=False`, for other
        methods when `follow_redirects=True` (a 302 or 303, and a 301 to a POST, go on as GET,
        as requests and httpx do); each hop is a request of the step, with the cookies the jar
        has for its URL."""
        method = method.upper()
        absolute = is_absolute(path)  # `/login?next=https://...` is still a path
        url = path if absolute else join_url(self.base_url, path)
        if params:
            url = with_params(url, params)
        final_headers = dict(self.headers)
        body = None
        if json is not None or data is not None or files or content is not None:
            body, content_type = encode_body(json=json, data=data, files=files, content=content)
            if content_type is not None:
                final_headers["content-type"] = content_type
        if absolute and "@" in url.partition("?")[0]:  # credentials in an absolute URL
            url, credentials = split_userinfo(url)
            auth = auth or credentials
        if auth is not None:
            final_headers["authorization"] = basic_authorization(auth)
        if headers:
            final_headers.update({k.lower(): v for k, v in headers.items()})
        # the target's credentials go to the target only (requests drops them on a redirect)
        if absolute and not same_origin(url, self.base_url):
            self._drop_target_credentials(final_headers)
        follow = method in ("GET", "HEAD") if follow_redirects is None else follow_redirects
        hops = 0
        while True:
            response = self._send(method, url, final_headers, body, timeout or self.timeout)
            location = response.headers.get("location")
            if not follow or response.status not in REDIRECTS or not location:
                break
            hops += 1
            if hops > self.max_redirects:
                raise HttpStatusError(
                    f"{method} {url_path(url)} redirected more than {self.max_redirects} times",
                    status=response.status,
                    method=method,
                    url=url,
                )
            method, url, final_headers, body = next_request(
                method, url, final_headers, body, response.status, location
            )
        if expect is None:
            if response.status >= 400:
                raise HttpStatusError(
                    f"{response.method} {url_path(url)} answered {response.status}, expected a "
                    f"status below 400{_excerpt(response.content)}",
                    status=response.status,
                    method=response.method,
                    url=url,
                )
        else:
            response.expect(*((expect,) if isinstance(expect, int) else expect))
        return response

    def _drop_target_credentials(self, headers: dict[str, str]) -> None:
        if self._basic is not None and headers.get("authorization") == self._basic:
            del headers["authorization"]

    def _send(
        self, method: str, url: str, headers: dict[str, str], body: bytes | None, timeout: float
    ) -> Response:
        """One exchange: the jar's cookies sent and kept, a span and a request record."""
        sent = headers
        cookie = self.cookies.header_for(method, url) if "cookie" not in headers else None
        if cookie is not None:
            sent = {**headers, "cookie": cookie}
        parent = self.trace_parent() if self.trace_parent is not None else None
        span = spans.start_request(parent, method, url, sent)
        request = HttpRequest(method, url, sent, body, timeout)
        started = time.perf_counter()
        try:
            raw = self.transport.send(request)
        except (StepTimeout, ConnectionFailed) as exc:
            spans.end_request(span, None, exc.kind.value)
            self._observe(request, None, started, f"{type(exc).__name__}: {exc}")
            raise
        spans.end_request(span, raw.status, None)
        if raw.set_cookies:
            self.cookies.keep(method, url, raw.set_cookies)
        headers = raw.headers if type(raw.headers) is Headers else Headers.of(raw.headers)
        response = Response(method, url, raw.status, headers, raw.body, _ms_since(started))
        self._observe(request, raw.status, started, None)
        return response

    def get(self, path: str, **kwargs: Any) -> Response:
        """`request("GET", ...)`."""
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Response:
        """`request("POST", ...)`."""
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Response:
        """`request("PUT", ...)`."""
        return self.request("PUT", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Response:
        """`request("PATCH", ...)`."""
        return self.request("PATCH", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Response:
        """`request("DELETE", ...)`."""
        return self.request("DELETE", path, **kwargs)

    def _observe(
        self, request: HttpRequest, status: int | None, started: float, error: str | None
    ) -> None:
        if self.observer is not None:
            self.observer(
                RequestRecord(
                    method=request.method,
                    url=redact_url(request.url),
                    status=status,
                    duration_ms=_ms_since(started),
                    error=redact(error) if error else None,
                )
            )


def _ms_since(started: float) -> float:
    return round((time.perf_counter() - started) * 1000.0, 3)


#: how much of a body is redacted before its excerpt is cut: far more than the excerpt, so that
#: a secret that starts inside the excerpt is whole when redacted
_REDACT_WINDOW = 65536


def _excerpt(content: bytes, limit: int = 160) -> str:
    """The start of a body for an error message: redacted whole first, then cut (cutting first
    left a token split by the cut unrecognised, and 53 of its 55 characters were kept)."""
    if not content:
        return ""
    text = redact(content[:_REDACT_WINDOW].decode("utf-8", errors="replace")).replace("\n", " ")
    cut = len(text) > limit or len(content) > _REDACT_WINDOW
    return f" (body: {text[:limit]}{'…' if cut else ''})"


_ADAPTERS: dict[Any, TypeAdapter[Any]] = {}


def _adapter(model: Any) -> TypeAdapter[Any]:
    adapter = _ADAPTERS.get(model)
    if adapter is None:
        adapter = _ADAPTERS[model] = TypeAdapter(model)
    return adapter


def _type_name(model: Any) -> str:
    return getattr(model, "__name__", None) or str(model)


def _describe(exc: ValidationError, limit: int = 3) -> str:
    parts = []
    for error in exc.errors()[:limit]:
        where = ".".join(str(p) for p in error["loc"]) or "(body)"
        got = error.get("input")
        shown = "missing" if error["type"] == "missing" else f"got {got!r:.60}"
        parts.append(f"field `{where}`: {error['msg']} ({shown})")
    more = len(exc.errors()) - limit
    return "; ".join(parts) + (f"; and {more} more" if more > 0 else "")
