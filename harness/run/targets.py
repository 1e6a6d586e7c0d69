"""Where a run sends its journeys: a target by name or URL, or the bundled sandbox started for
it; refused before any request when it is outside the load guard or does not answer."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path

from harness.config import HarnessConfig
from harness.errors import TargetUnavailable, UsageError
from harness.targets import Target, basic_authorization, split_userinfo

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
        return Target(
            name="sandbox", web=urls.web, api=urls.api, mobile=urls.mobile, allow_load=True
        )
    if target is None:
        raise UsageError("give a target: --target NAME|URL, or --sandbox for the bundled shop")
    return resolve_named_target(target, config)


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

    Any status is an answer, a redirect too: it is not followed, so the check sends nothing to
    a host outside the target (a redirect to another host would escape the loopback guard).
    Credentials in the target's URL go as HTTP basic authentication, never in the URL."""
    url, credentials = split_userinfo(target.web)
    request = urllib.request.Request(url)
    if credentials is not None:
        request.add_unredirected_header("Authorization", basic_authorization(credentials))
    opener = urllib.request.build_opener(_NoRedirect)
    try:
        with opener.open(request, timeout=timeout):  # http(s) checked in Target
            return
    except urllib.error.HTTPError as answer:
        answer.close()
        return  # it answered (a 3xx not followed; a 4xx/5xx on / is the journeys' business)
    except (urllib.error.URLError, OSError, ValueError) as exc:
        reason = getattr(exc, "reason", exc)
        raise TargetUnavailable(
            f"target {target.name!r} at {url} did not answer ({reason}); "
            "is it running? Nothing was run."
        ) from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """Answers a redirect with the 3xx itself (raised as `HTTPError`), never following it."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None
