"""Targets: the base URLs of one deployment of the product (web, api, mobile)."""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit, urlunsplit

from pydantic import BaseModel, ConfigDict, Field

from harness.errors import UsageError
from harness.records import Touchpoint
from harness.shop_routes import API_PREFIX, MOBILE_PREFIX
from harness.target_http import TargetHttp

# re-exported: callers have imported it from here since URL credentials became basic auth
from harness.target_http import basic_authorization as basic_authorization


class Target(BaseModel):
    """Where each touchpoint of one deployment lives."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    web: str
    api: str
    mobile: str
    action_timeout: float | None = None  #: web timeouts of this target (None: the run's)
    navigation_timeout: float | None = None
    allow_load: bool = False
    production: bool = False
    http: TargetHttp = TargetHttp()  #: proxy, CA, headers, ... (`[targets.NAME.http]`)
    #: requests the browser refuses (`harness.block_patterns`): hosts, URL globs, fonts/images
    block: tuple[str, ...] = ()
    #: what a metric gate's `{name}` placeholders expand to (`[targets.NAME] labels`)
    labels: dict[str, str] = Field(default_factory=dict)

    def web_timeouts(self, run: Any) -> dict[str, float]:
        """This target's `action_timeout` and `navigation_timeout`, else the run's."""
        return {
            "action_timeout": self.action_timeout or run.action_timeout,
            "navigation_timeout": self.navigation_timeout or run.navigation_timeout,
        }

    @classmethod
    def from_base_url(cls, url: str, *, name: str | None = None) -> Target:
        """A target whose touchpoints share one origin, laid out as the sandbox is:
        web at `/`, the API at `/api/v1`, the mobile API at `/mobile/v2`."""
        check_url(url, "target")
        base = url.rstrip("/")
        return cls(
            name=name or without_userinfo(base),  # a name is printed and stored: no password
            web=base + "/",
            api=base + API_PREFIX,
            mobile=base + MOBILE_PREFIX,
        )

    @property
    def urls(self) -> dict[Touchpoint, str]:
        """Each touchpoint's base URL, in the order the harness shows them."""
        return {Touchpoint.WEB: self.web, Touchpoint.API: self.api, Touchpoint.MOBILE: self.mobile}

    @property
    def hosts(self) -> set[str]:
        """The host names this target's touchpoints point at."""
        return {urlsplit(u).hostname or "" for u in self.urls.values()}


def check_url(url: str, what: str) -> None:
    """Raise `UsageError` unless `url` is an absolute http(s) URL."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UsageError(
            f"{what} {url!r} is not a URL or a configured target name: give an http(s) URL "
            "such as http://127.0.0.1:8800, or a name from [targets] in harness.toml"
        )


def without_userinfo(url: str) -> str:
    """`url` without its `user:password@` part (unchanged when it has none)."""
    return split_userinfo(url)[0]


def split_userinfo(url: str) -> tuple[str, tuple[str, str] | None]:
    """(`url` without `user:password@`, the percent-decoded (user, password) it carried or None),
    as curl, requests and k6 read the credentials of a URL."""
    parts = urlsplit(url)
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    bare = urlunsplit((parts.scheme, hostport, parts.path, parts.query, parts.fragment))
    return bare, (unquote(user), unquote(password))
