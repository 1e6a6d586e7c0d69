"""Where a run sends its journeys: a target by name or URL, or the bundled sandbox started for
it; refused before any request when it is outside the load guard or does not answer."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

from harness.config import HarnessConfig
from harness.errors import ConnectionFailed, StepTimeout, TargetUnavailable, UsageError
from harness.http.transport import HttpRequest, send_once, settings_for
from harness.target_http import TargetHttp
from harness.target_http import check as check_http_settings
from harness.targets import Target, basic_authorization, split_userinfo

if TYPE_CHECKING:
    from harness.sandbox.process import SandboxUrls

#: hosts load may go to without `allow_load = true`
LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def resolve_target(
    config: HarnessConfig,
    stack: ExitStack,
    *,
    sandbox: bool,
    target: str | None,
    regressions: Sequence[str] = (),
    sandbox_traces: Path | None = None,
    announce: Callable[[str], None] | None = print,
) -> Target:
    """The target named `target` (name or URL), or with `sandbox` a sandbox started (and
    stopped when `stack` closes) with `regressions`, writing its own spans to `sandbox_traces`
    to be merged into the run's traces.jsonl; `announce` says where it started."""
    if sandbox:
        from harness.sandbox.process import SandboxProcess

        process = SandboxProcess(regressions=regressions, trace_file=sandbox_traces)
        urls = process.start()
        stack.callback(process.stop)
        if announce is not None:
            knobs = f" with {', '.join(regressions)}" if regressions else ""
            announce(f"sandbox started at {urls.base}{knobs}")
        return sandbox_target(urls, "sandbox")
    if target is None:
        raise UsageError("give a target: --target NAME|URL, or --sandbox for the bundled shop")
    return resolve_named_target(target, config)


def sandbox_target(urls: SandboxUrls, name: str) -> Target:
    """The bundled sandbox as a target: on loopback, started by this run, so reached directly
    whatever `HTTP_PROXY` says (a proxy for the package registries must not carry it)."""
    return Target(
        name=name,
        web=urls.web,
        api=urls.api,
        mobile=urls.mobile,
        allow_load=True,
        http=TargetHttp(proxy=""),
    )


def resolve_named_target(name: str, config: HarnessConfig, *, role: str = "target") -> Target:
    """A target from harness.toml by name, or one laid out like the sandbox from a URL."""
    if name in config.targets:
        return config.targets[name].resolve(name)
    if "://" not in name:
        known = ", ".join(sorted(config.targets)) or "none configured"
        raise UsageError(
            f"{role} {name!r} is not a URL or a configured target name "
            f"(configured: {known}); e.g. --{role} http://127.0.0.1:8800"
        )
    return Target.from_base_url(name, name=role if role != "target" else None)


def check_allowed(target: Target, allow_production: Sequence[str] = ()) -> None:
    """Load goes to loopback, or to targets marked `allow_load = true` in harness.toml; a target
    marked `production = true` also needs `--allow-production NAME`."""
    if target.production and target.name not in allow_production:
        raise UsageError(
            f"refusing to send load to {target.name!r}: it is marked production in harness.toml. "
            f"If you mean it, name it: --allow-production {target.name}"
        )
    if target.allow_load:
        return
    outside = sorted(h for h in target.hosts if h not in LOOPBACK)
    if outside:
        name = target.name if "://" not in target.name else "staging"
        raise UsageError(
            f"refusing to send load to {', '.join(outside)}: only loopback is allowed by default. "
            f"Mark the target in harness.toml, e.g. [targets.{name}] allow_load = true"
            + (f' with url = "{target.name}", then --target {name}' if name != target.name else "")
        )


def check_reachable(target: Target, timeout: float = 5.0) -> None:
    """Fail fast, before any journey, when the target's web origin does not answer at all.

    The request goes through the harness's one HTTP transport (`harness.http`), as journeys'
    do. Any status is an answer, a redirect too: the transport follows none, so the check sends
    nothing to a host outside the target (a redirect to another host would escape the loopback
    guard). Credentials in the target's URL go as HTTP basic authentication, never in the URL."""
    check_http_settings(target.http, target.name)  # a `${VARIABLE}` not set: exit 2 first
    url, credentials = split_userinfo(target.web)
    headers = {"user-agent": "journey-harness"}
    if credentials is not None:
        headers["authorization"] = basic_authorization(credentials)
    try:  # http(s) checked in Target
        send_once(HttpRequest("GET", url, headers, None, timeout), settings_for(target))
    except (StepTimeout, ConnectionFailed) as exc:
        raise TargetUnavailable(
            f"target {target.name!r} at {url} did not answer ({exc}); "
            "is it running? Nothing was run."
        ) from None
