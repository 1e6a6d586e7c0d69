"""One grammar for a share written in a spec, as `harness.durations` is for durations: a fault's
`errors:api=2%` and `@10%` (`harness.faults.spec`) and a regression's `errors:ROUTE=5%` and
`@10%` (the sandbox's `--regression`) read it with `percent`; each caller keeps its own error
message (which names the spec). Gate configs also take `5pp` and fractions
(`harness.gates.values.parse_share`)."""

from __future__ import annotations

import re

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%", re.ASCII)
#: how the grammar is shown in error messages
EXAMPLES = "e.g. 5%, 0.5% or 100%"


def percent(text: str) -> float | None:
    """The fraction a percentage from 0% to 100% means (`5%` → 0.05), or None when `text` is
    not one."""
    match = _PERCENT.fullmatch(text.strip())
    if match is None:
        return None
    value = float(match.group(1))
    return value / 100.0 if value <= 100.0 else None
