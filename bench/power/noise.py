"""The noise the power bench replays: per-second step latencies of both sides of a recorded
sandbox rehearsal (an identical candidate), kept as a compact JSON file, and three ways to draw
new runs from it (i.i.d., with the recorded per-second shared effect plus arm drift, plus strong
arm drift)."""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

DATA = Path(__file__).resolve().parents[1] / "data" / "gates_noise.json"
#: stationary standard deviation (log scale) of each arm's own AR(1) drift, per noise model
DRIFT = {"iid": 0.0, "drift": 0.05, "strong": 0.15}
#: AR(1) coefficient per second of the arm drift (a slow wander, about 10 s memory)
PHI = 0.9


def derive(run_dir: Path, out: Path = DATA) -> dict[str, Any]:
    """Write the compact noise file from a rehearsal folder's steps.jsonl: per step series, the
    (second, duration ms) of every passed step on each side."""
    series: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(list))
    start = None
    with (run_dir / "steps.jsonl").open(encoding="utf-8") as lines:
        rows = [json.loads(line) for line in lines if line.strip()]
    start = min(r["started_at"] for r in rows if r.get("kind") == "step")
    for r in rows:
        if r.get("kind") != "step" or r.get("outcome") != "passed":
            continue
        key = f"{r['journey']}|{r['index']:02d}|{r['step']}|{r['touchpoint']}"
        second = int(r["started_at"] - start)
        series[key][r["target"]].append([second, round(r["duration_ms"], 2)])
    found = {"source": run_dir.name, "series": {k: dict(v) for k, v in sorted(series.items())}}
    out.write_text(json.dumps(found, separators=(",", ":")), encoding="utf-8")
    return found


@dataclass(frozen=True)
class Series:
    """One step's recorded noise: its level, per-value residuals around the per-second level
    shared by both sides, and those shared per-second effects."""

    journey: str
    index: int
    step: str
    touchpoint: str
    level: float  #: mean log duration
    pooled: np.ndarray  #: every log duration minus the level (the i.i.d. model draws these)
    residuals: np.ndarray  #: log duration minus its second's mean over both sides
    shared: np.ndarray  #: per-second mean over both sides minus the level
    n: int  #: recorded values over both sides


def load(path: Path = DATA, *, minimum: int = 20) -> list[Series]:
    """The series of the noise file with at least `minimum` values over both sides."""
    raw = json.loads(path.read_text(encoding="utf-8"))
    found = []
    for key, sides in raw["series"].items():
        journey, index, step, touchpoint = key.split("|")
        pairs = [p for side in sides.values() for p in side]
        if len(pairs) < minimum:
            continue
        seconds = np.array([p[0] for p in pairs], dtype=np.int64)
        logs = np.log(np.array([p[1] for p in pairs], dtype=np.float64))
        level = float(logs.mean())
        means = {s: float(logs[seconds == s].mean()) for s in np.unique(seconds)}
        per_value = np.array([means[int(s)] for s in seconds])
        found.append(
            Series(
                journey=journey,
                index=int(index),
                step=step,
                touchpoint=touchpoint,
                level=level,
                pooled=logs - level,
                residuals=logs - per_value,
                shared=np.array(list(means.values())) - level,
                n=len(pairs),
            )
        )
    return found


def drift(rng: np.random.Generator, seconds: int, sd: float) -> np.ndarray:
    """An AR(1) wander of `seconds` steps with stationary standard deviation `sd`."""
    if sd <= 0:
        return np.zeros(seconds)
    shocks = rng.normal(0.0, sd * np.sqrt(1 - PHI**2), seconds)
    out = np.empty(seconds)
    out[0] = rng.normal(0.0, sd)
    for t in range(1, seconds):
        out[t] = PHI * out[t - 1] + shocks[t]
    return out


def draw(
    rng: np.random.Generator, series: Series, n: int, seconds: int, model: str
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`n` durations (ms) per side over `seconds`, both sides running the same iterations in the
    same seconds: returns (second of each value, baseline ms, candidate ms)."""
    second = np.sort(rng.integers(0, seconds, n))
    if model == "iid":
        base = series.pooled[rng.integers(0, series.pooled.size, n)]
        cand = series.pooled[rng.integers(0, series.pooled.size, n)]
        return second, np.exp(series.level + base), np.exp(series.level + cand)
    shared = series.shared[rng.integers(0, series.shared.size, seconds)][second]
    sd = DRIFT[model]
    sides = []
    for _ in range(2):
        own = drift(rng, seconds, sd)[second]
        noise = series.residuals[rng.integers(0, series.residuals.size, n)]
        sides.append(np.exp(series.level + shared + own + noise))
    return second, sides[0], sides[1]
