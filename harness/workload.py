"""A workload model, `workload.toml`: the journey mix, the arrival curve and the think times
learned from access logs (`harness import access-log`), which `harness load --workload` runs.

Written and read here only; the TOML is written by hand (the standard library reads TOML but
does not write it), in a fixed order, so one log gives the same bytes every time.
"""

from __future__ import annotations

import math
import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from harness.errors import UsageError

#: a `--workload` run's comparison of the workload it used with the recorded one
RUN_FILE = "workload.json"
QUANTILES = tuple(i / 10 for i in range(11))  #: the think-time quantiles kept: p0, p10 … p100


class UnmatchedRoute(BaseModel):
    """A route that no journey declares, and how many requests went to it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    route: str
    requests: int = Field(ge=0)


class Workload(BaseModel):
    """What real traffic looked like, in the terms of the journeys that replay it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    sources: list[str] = Field(default_factory=list)
    format: str = "combined"
    session_key: str = "ip+ua"
    inactivity_s: float = Field(default=1800.0, gt=0)
    lines: int = Field(default=0, ge=0)
    requests: int = Field(default=0, ge=0)
    sessions: int = Field(default=0, ge=0)
    matched_sessions: int = Field(default=0, ge=0)
    start: str = ""  #: the first request's time, ISO 8601 UTC
    span_s: float = Field(default=0.0, ge=0)
    bucket_s: float = Field(default=60.0, gt=0)  #: the arrival curve's bucket
    rate_per_minute: float = Field(default=0.0, ge=0)  #: matched sessions starting, on average
    arrivals: list[int] = Field(default_factory=list)  #: matched sessions starting per bucket
    mix: dict[str, float] = Field(default_factory=dict)  #: journey -> share, percent
    touchpoints: dict[str, float] = Field(default_factory=dict)  #: web/api/mobile -> percent
    think: dict[str, list[float]] = Field(default_factory=dict)  #: key -> quantiles, seconds
    unmatched_share: float = Field(default=0.0, ge=0, le=100)  #: sessions, percent
    unmatched_routes: list[UnmatchedRoute] = Field(default_factory=list)

    def think_specs(self) -> dict[str, str]:
        """The think times as `harness.think` specs (`quantiles(...)`), by journey or step."""
        return {
            key: "quantiles(" + ", ".join(f"{v:g}s" for v in values) + ")"
            for key, values in self.think.items()
            if values
        }

    def weights(self, journeys: list[str]) -> dict[str, int]:
        """Integer weights (per mille of the mix) for the named journeys it has a share of."""
        return {name: max(1, round(self.mix[name] * 10)) for name in journeys if self.mix.get(name)}


def load_workload(path: Path) -> Workload:
    """The workload at `path`; `UsageError` (exit 2) naming what is wrong with it."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise UsageError(f"cannot read the workload {path}: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path} is not a workload model: not TOML ({exc})") from None
    body = data.get("workload")
    if not isinstance(body, dict):
        raise UsageError(
            f"{path} is not a workload model: it has no [workload] table; make one with "
            "`harness import access-log`"
        )
    try:
        return Workload.model_validate(body)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error["loc"])
        raise UsageError(f"{path}: workload.{where}: {error['msg']}") from None


def dump_workload(workload: Workload, comment: str = "") -> str:
    """`workload` as TOML text, keys in a fixed order."""
    lines = [f"# {line}" for line in comment.splitlines()]
    lines.append("[workload]")
    for key in [
        "sources",
        "format",
        "session_key",
        "inactivity_s",
        "lines",
        "requests",
        "sessions",
        "matched_sessions",
        "start",
        "span_s",
        "bucket_s",
        "rate_per_minute",
        "arrivals",
        "unmatched_share",
    ]:
        lines.append(f"{key} = {_value(getattr(workload, key))}")
    for table in ("mix", "touchpoints", "think"):
        lines.append("")
        lines.append(f"[workload.{table}]")
        for key, value in getattr(workload, table).items():
            lines.append(f"{_value(key)} = {_value(value)}")
    for route in workload.unmatched_routes:
        lines.extend(["", "[[workload.unmatched_routes]]"])
        lines.append(f"route = {_value(route.route)}")
        lines.append(f"requests = {route.requests}")
    return "\n".join(lines) + "\n"


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return repr(round(value, 6)) if math.isfinite(value) else "0.0"
    if isinstance(value, list):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    text = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return '"' + "".join(c if c >= " " else f"\\u{ord(c):04x}" for c in text) + '"'
