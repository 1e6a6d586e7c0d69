"""One grammar for durations, wherever the harness reads or writes one.

`500ms`, `30s`, `2m`, `1h30m`, `7d`, `2w`, or a plain number of seconds: `--duration`,
`--stage-duration`, `--master-wait`, a `--steps` stage, a fault's `after=` / `for=` and delay,
a regression's delay, a gate's `for`, and `harness results prune --older-than` all read it with
`seconds` (a delay with `unit=True`: `+30` alone is refused); each caller
keeps its own bounds and its own error message (which names the option).
"""

from __future__ import annotations

import re

from harness.errors import SpecError

_PART = re.compile(r"(\d+(?:\.\d+)?)(ms|w|d|h|m|s)", re.ASCII)
UNIT_S = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3_600.0, "d": 86_400.0, "w": 604_800.0}
#: how the grammar is shown in error messages
EXAMPLES = "e.g. 500ms, 30s, 2m or 1h30m"


def seconds(text: str, *, unit: bool = False) -> float | None:
    """The seconds `text` means, or None when it is not a duration (negative numbers, NaN and
    infinity are not). With `unit`, a bare number is not one either: a delay of `+30` could
    mean milliseconds as well as seconds, so delays name their unit."""
    raw = text.strip().lower()
    if raw.isascii() and raw.replace(".", "", 1).isdigit():
        return None if unit else float(raw)
    pos, total = 0, 0.0
    for match in _PART.finditer(raw):
        if match.start() != pos:
            return None
        total += float(match.group(1)) * UNIT_S[match.group(2)]
        pos = match.end()
    return total if raw and pos == len(raw) else None


def format_duration(value: float) -> str:
    """A duration to give back as an option, rounded up to the next 5 s: `45s`, `4m10s`,
    `1h5m`."""
    whole = int(-(-value // 5) * 5)
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    parts = [
        f"{hours}h" if hours else "",
        f"{minutes}m" if minutes else "",
        f"{secs}s" if secs else "",
    ]
    return "".join(parts) or "5s"


MAX_DURATION_S = 24 * 3600.0


def parse_duration(text: str, *, what: str = "duration") -> float:
    """Seconds in a duration like `30s`, `2m`, `1h30m`, `500ms` or a plain number of seconds.

    Raises `SpecError` naming the value and showing valid examples.
    """
    value = seconds(text)
    if value is None:
        raise SpecError(
            f"{what} {text!r} is not a duration: use a number with a unit, "
            "e.g. 30s, 2m, 1h30m or 500ms"
        )
    if value <= 0 or value > MAX_DURATION_S:
        raise SpecError(f"{what} {text!r} must be more than 0 and at most 24h")
    return value
