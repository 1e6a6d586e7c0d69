"""A load run of a workload model (`harness load --workload FILE [--shape replay --speed 10x]`):
the recorded mix, arrival rate or curve and think times, as the request's shape and the plan's
fields; and the workload used against the one recorded, for the run's summary."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.engine.plan import ShapeKind
from harness.errors import UsageError
from harness.run.request import Shape

MAX_SPEED = 1000.0


def parse_speed(text: str) -> float:
    """`10x`, `2.5x` or `10`: how much faster than recorded; `UsageError` otherwise."""
    raw = text.strip().lower().removesuffix("x")
    try:
        speed = float(raw)
    except ValueError:
        speed = 0.0
    if not 0 < speed <= MAX_SPEED:
        raise UsageError(f"--speed {text!r}: give a factor above 0 and up to 1000, e.g. 10x")
    return speed


def with_workload(
    shape: Shape, path: Path | None, speed: str | None, *, rate_given: bool = False
) -> Shape:
    """`shape` running the workload at `path`: its mix; the open model at its recorded rate
    (a ramp asked for becomes one, unless --rate is given), or its curve (`--shape replay`)."""
    factor = parse_speed(speed) if speed else 1.0
    if path is None:
        if shape.kind is ShapeKind.REPLAY:
            raise UsageError(
                "--shape replay needs --workload FILE (a model from `harness import access-log`)"
            )
        return shape
    from harness.workload import load_workload

    workload = load_workload(path)
    update: dict[str, Any] = {"workload": workload, "speed": factor}
    if shape.kind is ShapeKind.REPLAY:
        if not any(workload.arrivals):
            raise UsageError(f"{path}: the workload has no recorded arrivals to replay")
        span = len(workload.arrivals) * workload.bucket_s / factor
        update["duration_s"] = span
        update["rate"] = sum(workload.arrivals) / span
    elif shape.kind in (ShapeKind.RAMP, ShapeKind.ARRIVAL):
        update["kind"] = ShapeKind.ARRIVAL
        if not rate_given:
            update["rate"] = workload.rate_per_minute / 60.0 * factor
        if update.get("rate", shape.rate) <= 0:
            raise UsageError(f"{path}: the workload's arrival rate is 0; give --rate N")
    return shape.model_copy(update=update)


def workload_plan(shape: Shape) -> dict[str, Any]:
    """The plan's fields for the shape's workload (none without one)."""
    workload = shape.workload
    if workload is None:
        return {}
    return {
        "weights": workload.weights(list(workload.mix)),
        "curve": list(workload.arrivals) if shape.kind is ShapeKind.REPLAY else [],
        "curve_bucket_s": workload.bucket_s,
        "speed": shape.speed,
        "workload_think": workload.think_specs(),
    }
