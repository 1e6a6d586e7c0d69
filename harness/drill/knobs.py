"""Faults no drill proxy can inject, made knobs of the candidate sandbox: `cpu:` burns the
target's own CPU, which only its metrics show (`harness.sandbox.burn`)."""

from __future__ import annotations

from harness.errors import UsageError
from harness.faults.spec import Fault, FaultKind

__all__ = ["check_knob", "knob"]


def check_knob(fault: Fault, *, sandbox: bool) -> None:
    """A `cpu:` fault is a knob of the candidate sandbox (no proxy can burn the target's CPU):
    refused without `--sandbox`, and without windows (the knob is on from the sandbox's start)."""
    if fault.kind is not FaultKind.CPU:
        return
    if not sandbox:
        raise UsageError(
            f"--fault {fault.spec!r}: the drill proxy cannot burn the target's CPU; drill a cpu: "
            "fault on the bundled shop, where it is the candidate sandbox's knob: harness drill "
            f"--sandbox --fault '{fault.spec}'"
        )
    if fault.after_s or fault.for_s is not None:
        raise UsageError(
            f"--fault {fault.spec!r}: a cpu: fault is on for the whole run (no after=/for=)"
        )


def knob(fault: Fault | None) -> tuple[str, ...]:
    """The candidate sandbox's regression for a `cpu:` fault (its own grammar), else none."""
    if fault is None or fault.kind is not FaultKind.CPU:
        return ()
    return (f"cpu:{fault.scope}=+{fault.delay_s * 1000:g}ms",)
