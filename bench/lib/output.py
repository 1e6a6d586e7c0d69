"""Human output (stdout, or stderr under `--json`), result rows, the table and the JSON line."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TextIO


class _Out:
    stream: TextIO = sys.stdout


def to_stderr(on: bool = True) -> None:
    """Send `say` to stderr (under `--json`, stdout carries only the JSON line)."""
    _Out.stream = sys.stderr if on else sys.stdout


def stream() -> TextIO:
    return _Out.stream


def say(text: str = "") -> None:
    print(text, file=_Out.stream, flush=True)


@dataclass
class Row:
    measurement: str
    value: str
    goal: str
    ok: bool | None  # None: informational
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def status(self) -> str:
        return "—" if self.ok is None else ("OK" if self.ok else "MISS")


def guarded(name: str, part: Callable[[], list[Row]]) -> list[Row]:
    """Run one part; a failure (e.g. a hung child, stopped) becomes a MISS row, not a crash."""
    try:
        return part()
    except Exception as exc:
        say(f"  {name} failed: {type(exc).__name__}: {exc}")
        return [
            Row(
                f"{name} did not complete",
                f"{type(exc).__name__}",
                "completes",
                False,
                {"error": str(exc)},
            )
        ]


def print_table(rows: Sequence[Row], elapsed_s: float) -> None:
    widths = [
        max(len(r.measurement) for r in rows),
        max(len(r.value) for r in rows),
        max(len(r.goal) for r in rows),
    ]
    say(f"\nresults ({elapsed_s / 60:.1f} min):")
    say(f"  {'measurement':<{widths[0]}}  {'value':<{widths[1]}}  {'goal':<{widths[2]}}  status")
    for r in rows:
        say(
            f"  {r.measurement:<{widths[0]}}  {r.value:<{widths[1]}}  {r.goal:<{widths[2]}}  "
            f"{r.status}"
        )


def print_json(rows: Sequence[Row], **fields: Any) -> None:
    """The one JSON line on stdout: `fields`, the rows and whether every goal was met."""
    missed = [r for r in rows if r.ok is False]
    record = {
        **fields,
        "rows": [
            {
                "measurement": r.measurement,
                "value": r.value,
                "goal": r.goal,
                "status": None if r.ok is None else r.status,
                "data": jsonable(r.data),
            }
            for r in rows
        ],
        "meets_goals": not missed,
    }
    print(json.dumps(record), flush=True)


def jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
