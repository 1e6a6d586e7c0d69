"""A target's HTTP settings in `harness.toml` (`[targets.NAME.http]`): how the harness reaches
it (proxy, CA bundle, `verify`, client certificate: one per target, since a virtual user's
connections serve the API and mobile touchpoints alike) and what each HTTP touchpoint sends
(`[targets.NAME.http.api]`, `[targets.NAME.http.mobile]`: headers, basic auth, a user agent,
the mobile app's identity).

Any value may name environment variables, `"${STAGING_TOKEN}"`: they are read when a run
starts (a missing one is a usage error), their values are redacted from everything the run
writes, and the settings are stored and printed as written, never expanded."""

from __future__ import annotations

import os
import re
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from harness.errors import UsageError

if TYPE_CHECKING:
    from harness.targets import Target

__all__ = [
    "AppIdentity",
    "TargetHttp",
    "TouchpointHttp",
    "announce_http",
    "check",
    "credentials",
    "describe",
    "expand",
    "sent_headers",
]

_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class AppIdentity(BaseModel):
    """The mobile app the mobile touchpoint plays: its user agent and `X-App-Version`."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    version: str
    platform: str | None = None


class TouchpointHttp(BaseModel):
    """What one HTTP touchpoint sends with every request."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    headers: dict[str, str] = {}
    auth: tuple[str, str] | None = None  #: basic authentication (user, password)
    user_agent: str | None = None
    app: AppIdentity | None = None  #: the mobile touchpoint only


class TargetHttp(BaseModel):
    """`[targets.NAME.http]`: how to reach a target, and what each touchpoint sends."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    proxy: str | None = None  #: an http:// forward proxy for http and https; "" for none
    no_proxy: str | None = None  #: hosts reached directly, as NO_PROXY
    verify: bool = True
    ca: str | None = None  #: a CA file or folder to verify the target against
    client_cert: str | None = None  #: certificate (and key, unless `client_key`) for mTLS
    client_key: str | None = None
    api: TouchpointHttp = TouchpointHttp()
    mobile: TouchpointHttp = TouchpointHttp()


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


def credentials(touchpoint: TouchpointHttp, where: str) -> tuple[str, str] | None:
    """The touchpoint's basic-auth (user, password), variables expanded."""
    if touchpoint.auth is None:
        return None
    user, password = touchpoint.auth
    return expand(user, f"{where}.auth"), expand(password, f"{where}.auth")


def check(settings: TargetHttp, name: str) -> None:
    """Read every variable the settings name now, so that a missing one stops the run before
    any journey (`UsageError`), and their values are redacted from the start."""
    where = f"targets.{name}.http"
    for key in ("proxy", "no_proxy", "ca", "client_cert", "client_key"):
        value = getattr(settings, key)
        if value:
            expand(value, f"{where}.{key}")
    for touchpoint in ("api", "mobile"):
        sent_headers(getattr(settings, touchpoint), f"{where}.{touchpoint}")
        credentials(getattr(settings, touchpoint), f"{where}.{touchpoint}")


def announce_http(target: Target) -> None:
    """Check the target's HTTP settings (`check`) and print those applied, under a run's
    header."""
    check(target.http, target.name)
    lines = describe(target.http)
    if lines:
        print(f"  http settings of {target.name}: " + "; ".join(lines), flush=True)


def describe(settings: TargetHttp) -> list[str]:
    """The applied settings, one short line each, as written (variables not expanded, header
    values and passwords never shown)."""
    lines = []
    if settings.proxy is not None:
        lines.append(f"proxy {settings.proxy or 'none'}")
    if settings.no_proxy:
        lines.append(f"no proxy for {settings.no_proxy}")
    if settings.ca:
        lines.append(f"CA {settings.ca}")
    if not settings.verify:
        lines.append("TLS certificates not verified")
    if settings.client_cert:
        lines.append(f"client certificate {settings.client_cert}")
    for name, touchpoint in (("api", settings.api), ("mobile", settings.mobile)):
        parts = [f"header {h}" for h in touchpoint.headers]
        if touchpoint.auth is not None:
            parts.append(f"basic auth as {touchpoint.auth[0]}")
        if touchpoint.user_agent:
            parts.append(f"user agent {touchpoint.user_agent!r}")
        if touchpoint.app is not None:
            parts.append(f"app {touchpoint.app.name} {touchpoint.app.version}")
        if parts:
            lines.append(f"{name}: " + ", ".join(parts))
    return lines
