"""A load run of a workload model (`harness load --workload FILE [--shape replay --speed 10x]`):
the recorded mix, arrival rate or curve and think times, as the request's shape and the plan's
fields; and the workload used against the one recorded, for the run's summary."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.engine.collector import LoadAggregator
from harness.engine.plan import LoadPlan, ShapeKind
from harness.errors import UsageError
from harness.journey import Journey
from harness.markdown import md_text
from harness.results import RunDirectory
from harness.run.request import RunRequest, Shape
from harness.think import WORKLOAD, ThinkTime, parse_think
from harness.workload import RUN_FILE, Workload

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


def compare_workload(
    plan: LoadPlan, workload: Workload, journeys: Sequence[Journey], aggregator: LoadAggregator
) -> dict[str, Any]:
    """The workload a run used against the one recorded: the journey mix (percent of
    iterations), the arrivals per recorded bucket (the run's, in recorded time: a replay's
    buckets are `speed` times shorter) and each journey's think time (p50, p95 seconds)."""
    counts: dict[str, int] = {}
    for (_, name), tally in aggregator.journeys.items():
        counts[name] = counts.get(name, 0) + tally.iterations
    total = sum(counts.values()) or 1
    width = workload.bucket_s / plan.speed
    seconds = sorted(aggregator.seconds.items(), key=lambda kv: kv[0][1])
    first = seconds[0][0][1] if seconds else 0
    used_arrivals: list[int] = []
    for (_, second), tally in seconds:
        bucket = int((second - first) // width)
        used_arrivals.extend([0] * (bucket + 1 - len(used_arrivals)))
        used_arrivals[bucket] += tally.iterations
    targets = max(1, len({target for target, _ in aggregator.journeys}))
    specs = {key: parse_think(spec) for key, spec in plan.workload_think.items()}
    think: dict[str, dict[str, list[float] | None]] = {}
    for journey in journeys:
        recorded = specs.get(journey.name)
        used = journey.think if plan.think else None
        if used is not None and used.kind == WORKLOAD:
            used = recorded
        think[journey.name] = {
            "recorded": _p50_p95(recorded),
            "used": _p50_p95(used),
        }
    return {
        "mix": {
            name: {
                "recorded": workload.mix.get(name, 0.0),
                "used": round(100.0 * counts.get(name, 0) / total, 2),
            }
            for name in sorted({*workload.mix, *counts})
        },
        "bucket_s": workload.bucket_s,
        "speed": plan.speed,
        "arrivals": {
            "recorded": list(workload.arrivals),
            "used": [round(n / targets) for n in used_arrivals],
        },
        "rate_per_minute": {
            "recorded": workload.rate_per_minute
            if plan.shape is not ShapeKind.REPLAY
            else round(
                sum(workload.arrivals) / (len(workload.arrivals) * width * plan.speed) * 60, 3
            ),
            "used": round(total / targets / max(plan.duration_s, 1e-9) * 60.0 / plan.speed, 3),
        },
        "think": think,
    }


def _p50_p95(spec: ThinkTime | None) -> list[float] | None:
    return None if spec is None else [round(spec.quantile(0.5), 3), round(spec.quantile(0.95), 3)]


def workload_markdown(compared: dict[str, Any]) -> str:
    """The comparison as a summary.md section."""
    lines = ["", "## Workload: used against recorded", ""]
    lines += [
        "| journey | recorded mix | used mix | think p50/p95 recorded | used |",
        "|---|---|---|---|---|",
    ]
    for name, mix in compared["mix"].items():
        think = compared["think"].get(name, {})
        lines.append(
            f"| {md_text(name)} | {mix['recorded']:.1f}% | {mix['used']:.1f}% | "
            f"{_pair(think.get('recorded'))} | {_pair(think.get('used'))} |"
        )
    rate = compared["rate_per_minute"]
    arrivals = compared["arrivals"]
    lines += [
        "",
        f"Arrivals a minute (recorded time): recorded {rate['recorded']:g}, used {rate['used']:g} "
        f"at {compared['speed']:g}x. Per {compared['bucket_s']:g} s bucket: recorded "
        f"{arrivals['recorded']}, used {arrivals['used']}.",
        "",
    ]
    return "\n".join(lines)


def _pair(values: list[float] | None) -> str:
    return "none" if not values else f"{values[0]:g} s / {values[1]:g} s"


def report_workload(
    run: RunDirectory,
    plan: LoadPlan,
    request: RunRequest,
    journeys: Sequence[Journey],
    aggregator: LoadAggregator,
) -> None:
    """With `--workload`: `workload.json` and a summary.md section comparing what the run used
    with what was recorded, and the mix on the terminal."""
    workload = request.shape.workload
    if workload is None:
        return
    compared = compare_workload(plan, workload, journeys, aggregator)
    try:
        run.write_json(RUN_FILE, compared)
        summary = run.path / "summary.md"
        if summary.is_file():
            run.write_text(
                "summary.md", summary.read_text(encoding="utf-8") + workload_markdown(compared)
            )
    except OSError as exc:
        run.failed_to_write("the workload comparison", exc)
    print("\n  workload      recorded mix  used mix")
    for name, mix in compared["mix"].items():
        print(f"  {name:<14} {mix['recorded']:10.1f}% {mix['used']:8.1f}%")
