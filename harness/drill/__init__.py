"""Failure drills: the harness drills its own gates by injecting known faults (through
`harness.faults`) and reports which gates caught which fault, how fast, and how often the gates
cry wolf on an A/A run. `harness drill` is the command; this package holds the analysis
(`replay`), the records (`findings`) and the coverage matrix (`report`)."""

from __future__ import annotations

__all__: list[str] = []
