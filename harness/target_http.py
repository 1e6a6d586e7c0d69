"""A target's HTTP settings in `harness.toml` (`[targets.NAME.http]`): how the harness reaches
it (proxy, CA bundle, `verify`, client certificate) and what every request carries (headers,
basic auth, a user agent), for all its touchpoints; and, on top, per touchpoint
(`[targets.NAME.http.api]`, `[targets.NAME.http.mobile]`: any of those, and the mobile app's
identity; `[targets.NAME.http.web]`: the browser's headers and user agent). A touchpoint's
headers are added to the target's (its own win); any other key it sets replaces the target's.

Any value may name environment variables, `"${STAGING_TOKEN}"`: they are read when a run
starts (a missing one is a usage error), their values are redacted from everything the run
writes, and the settings are stored and printed as written, never expanded."""

from __future__ import annotations

import base64
import os
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict, model_validator

from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.targets import Target

__all__ = [
    "CONNECTION_KEYS",
    "AppIdentity",
    "TargetHttp",
    "TouchpointHttp",
    "WebHttp",
    "announce_http",
    "basic_authorization",
    "check",
    "credentials",
    "describe",
    "expand",
    "request_headers",
    "sent_headers",
]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
#: the keys that say how to connect (the rest say what a request carries)
CONNECTION_KEYS = ("proxy", "no_proxy", "verify", "ca", "client_cert", "client_key")
_SENT_KEYS = ("auth", "user_agent")


class AppIdentity(BaseModel):
    """The mobile app the mobile touchpoint plays: its user agent and `X-App-Version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    platform: str | None = None


class TouchpointHttp(BaseModel):
    """`[targets.NAME.http.api]` or `.mobile`: what one HTTP touchpoint sends with every request
    and, where it differs from the target's, how it connects (None: as the target says)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    headers: dict[str, str] = {}
    auth: tuple[str, str] | None = None  #: basic authentication (user, password)
    user_agent: str | None = None
    app: AppIdentity | None = None  #: the mobile touchpoint only
    proxy: str | None = None
    no_proxy: str | None = None
    verify: bool | None = None
    ca: str | None = None
    client_cert: str | None = None
    client_key: str | None = None


class WebHttp(BaseModel):
    """`[targets.NAME.http.web]`: what the browser sends with every request. Chromium takes no
    CA file, client certificate or basic auth of these settings (README: left out)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    headers: dict[str, str] = {}
    user_agent: str | None = None


class TargetHttp(BaseModel):
    """`[targets.NAME.http]`: how to reach a target and what every request to it carries, then
    each touchpoint's own settings on top (`touchpoint`)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proxy: str | None = None  #: an http:// forward proxy for http and https; "" for none
    no_proxy: str | None = None  #: hosts reached directly, as NO_PROXY
    verify: bool = True
    ca: str | None = None  #: a CA file or folder to verify the target against
    client_cert: str | None = None  #: certificate (and key, unless `client_key`) for mTLS
    client_key: str | None = None
    headers: dict[str, str] = {}  #: sent by every touchpoint (the browser's too)
    auth: tuple[str, str] | None = None  #: basic authentication of the API and mobile requests
    user_agent: str | None = None
    web: WebHttp = WebHttp()
    api: TouchpointHttp = TouchpointHttp()
    mobile: TouchpointHttp = TouchpointHttp()

    @model_validator(mode="after")
    def _app_is_mobile(self) -> TargetHttp:
        if self.api.app is not None:
            raise ValueError("`app` is the mobile touchpoint's identity: put it under http.mobile")
        return self

    def touchpoint(self, name: str) -> TouchpointHttp:
        """The settings in force for the `api` or `mobile` touchpoint: the target's, with the
        touchpoint's own on top (headers merged, any other key it sets replacing)."""
        own: TouchpointHttp = getattr(self, name)
        update: dict[str, object] = {}
        for key in (*CONNECTION_KEYS, *_SENT_KEYS):
            if key == "user_agent" and own.app is not None:
                continue  # the app's identity is the mobile user agent, unless its own is set
            if getattr(own, key) is None:
                update[key] = getattr(self, key)
        update["headers"] = _merged(self.headers, own.headers)
        return own.model_copy(update=update)

    def reached_directly(self) -> TargetHttp:
        """These settings for a target behind local proxies (the drill's): the proxies connect
        as these say, the journeys reach the proxies directly (headers, auth and user agents
        kept: they pass through)."""
        cleared: dict[str, object] = dict.fromkeys(CONNECTION_KEYS)
        return self.model_copy(
            update={
                **cleared,
                "proxy": "",
                "verify": True,
                "api": self.api.model_copy(update=cleared),
                "mobile": self.mobile.model_copy(update=cleared),
            }
        )

    def web_headers(self) -> dict[str, str]:
        """The headers the browser adds to every request (names as written, values not yet
        expanded): the target's and the web touchpoint's, its user agent as `User-Agent`."""
        headers = _merged(self.headers, self.web.headers)
        agent = self.web.user_agent or self.user_agent
        if agent:
            headers = _merged(headers, {"User-Agent": agent})
        return headers


def _merged(base: dict[str, str], over: dict[str, str]) -> dict[str, str]:
    """`base` with `over` on top, names compared without case."""
    lowered = {k.lower() for k in over}
    return {**{k: v for k, v in base.items() if k.lower() not in lowered}, **over}


def expand(value: str, where: str) -> str:
    """`value` with each `${NAME}` replaced by the environment's value, which is from then on
    redacted from all the harness writes. Raises `UsageError` when one is not set."""

    def one(match: re.Match[str]) -> str:
        name = match.group(1)
        found = os.environ.get(name)
        if found is None:
            raise UsageError(f"{where} names ${{{name}}}, but the environment does not set {name}")
        from harness.redact import add_secret

        add_secret(found)
        return found

    return _VARIABLE.sub(one, value) if "${" in value else value


def sent_headers(touchpoint: TouchpointHttp, where: str) -> dict[str, str]:
    """The headers (lower-case names) a touchpoint's settings add to every request, variables
    expanded; basic auth is the client's (`credentials`)."""
    headers = {k.lower(): expand(v, f"{where}.headers.{k}") for k, v in touchpoint.headers.items()}
    if touchpoint.user_agent:
        headers["user-agent"] = expand(touchpoint.user_agent, f"{where}.user_agent")
    return headers


def request_headers(settings: TargetHttp, name: str, touchpoint: str) -> dict[str, str]:
    """Every header (lower-case names) the target's settings add to a request of `touchpoint`
    (`api`, `mobile`), basic auth as `authorization`, variables expanded: for senders other
    than the touchpoints' clients (seeding, webhooks)."""
    where = f"targets.{name}.http.{touchpoint}"
    given = settings.touchpoint(touchpoint)
    headers = sent_headers(given, where)
    found = credentials(given, where)
    if found is not None:
        headers["authorization"] = basic_authorization(found)
    return headers


def basic_authorization(credentials: tuple[str, str]) -> str:
    """The `Authorization` header value for HTTP basic authentication (RFC 7617, UTF-8)."""
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def credentials(touchpoint: TouchpointHttp, where: str) -> tuple[str, str] | None:
    """The touchpoint's basic-auth (user, password), variables expanded."""
    if touchpoint.auth is None:
        return None
    user, password = touchpoint.auth
    return expand(user, f"{where}.auth"), expand(password, f"{where}.auth")


def check(settings: TargetHttp, name: str) -> None:
    """Read every variable the settings name now, so that a missing one stops the run before
    any journey (`UsageError`, naming the key where it is written), and their values are
    redacted from the start."""
    where = f"targets.{name}.http"
    blocks: list[tuple[str, TargetHttp | TouchpointHttp | WebHttp]] = [(where, settings)]
    blocks += [(f"{where}.{t}", getattr(settings, t)) for t in ("web", "api", "mobile")]
    for at, block in blocks:
        for key in (*CONNECTION_KEYS, "user_agent"):
            value = getattr(block, key, None)
            if isinstance(value, str) and value:
                expand(value, f"{at}.{key}")
        for header, value in block.headers.items():
            expand(value, f"{at}.headers.{header}")
        auth = getattr(block, "auth", None)
        if auth is not None:
            expand(auth[0], f"{at}.auth")
            expand(auth[1], f"{at}.auth")


def announce_http(target: Target) -> None:
    """Check the target's HTTP settings (`check`) and print those applied, under a run's
    header."""
    check(target.http, target.name)
    lines = describe(target.http)
    if lines:
        print(f"  http settings of {target.name}: " + "; ".join(lines), flush=True)


def describe(settings: TargetHttp) -> list[str]:
    """The applied settings, one short line each, as written (variables not expanded, header
    values and passwords never shown): the target's, then each touchpoint's own."""
    lines = _described(settings)
    for name in ("web", "api", "mobile"):
        parts = _described(getattr(settings, name))
        if parts:
            lines.append(f"{name}: " + ", ".join(parts))
    return lines


def _described(block: TargetHttp | TouchpointHttp | WebHttp) -> list[str]:
    given = block.model_dump(exclude={"web", "api", "mobile"})
    parts = []
    if given.get("proxy") is not None:
        parts.append(f"proxy {given['proxy'] or 'none'}")
    if given.get("no_proxy"):
        parts.append(f"no proxy for {given['no_proxy']}")
    if given.get("ca"):
        parts.append(f"CA {given['ca']}")
    if given.get("verify") is False:
        parts.append("TLS certificates not verified")
    if given.get("client_cert"):
        parts.append(f"client certificate {given['client_cert']}")
    parts += [f"header {h}" for h in given["headers"]]
    if given.get("auth") is not None:
        parts.append(f"basic auth as {given['auth'][0]}")
    if given.get("user_agent"):
        parts.append(f"user agent {given['user_agent']!r}")
    if (app := given.get("app")) is not None:
        platform = f" ({app['platform']})" if app["platform"] else ""
        parts.append(f"app {app['name']} {app['version']}{platform}")
    return parts
