"""The numeric pieces of Kayenta's judge (`harness.gates.kayenta`): the pooled ranks and the
tie-corrected sigma of the rank-sum statistic, the outlier fences, and the two effect sizes."""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]


def ranks_and_sigma(shifted: Array, y: Array) -> tuple[float, float]:
    """Rank sum of `shifted` in the pooled ranking (ties averaged), and the tie-corrected σ of
    the rank-sum statistic. One sort serves both; this runs at every step of the root search."""
    pooled = np.concatenate([shifted, y])
    order = np.argsort(pooled, kind="stable")
    ordered = pooled[order]
    starts = np.flatnonzero(np.concatenate([[True], ordered[1:] != ordered[:-1]]))
    ties = np.diff(np.append(starts, pooled.size)).astype(np.float64)
    average_rank = starts + (ties + 1.0) / 2.0
    ranks = np.repeat(average_rank, ties.astype(np.int64))
    nx, ny = float(shifted.size), float(y.size)
    tie_term = float(np.sum(ties**3 - ties)) / ((nx + ny) * (nx + ny - 1))
    sigma = math.sqrt(max(0.0, (nx * ny / 12.0) * ((nx + ny + 1) - tie_term)))
    return float(np.sum(ranks[order < shifted.size])), sigma


def drop_outliers(values: Array, factor: float) -> Array:
    """Kayenta's IQR detector with `reduceSensitivity`: fences widened to P1 and P99."""
    if values.size == 0:
        return values
    p1, q1, q3, p99 = (float(v) for v in np.quantile(values, [0.01, 0.25, 0.75, 0.99]))
    iqr = q3 - q1
    lower = min(p1, q1 - factor * iqr)
    upper = max(p99, q3 + factor * iqr)
    kept: Array = values[(values >= lower) & (values <= upper)]
    return kept


def mean_ratio(experiment: Array, control: Array) -> float:
    mean_exp, mean_ctrl = float(np.mean(experiment)), float(np.mean(control))
    if mean_exp == 0.0 or mean_ctrl == 0.0:
        return math.nan
    return mean_exp / mean_ctrl


def cles(experiment: Array, control: Array) -> float:
    """P(experiment > control) + P(tie)/2, from the experiment's pooled rank sum."""
    from scipy import stats as sps  # 0.6 s to import: only when Kayenta's judge runs

    m, n = experiment.size, control.size
    ranks = sps.rankdata(np.concatenate([experiment, control]), method="average")
    return float((2.0 * np.sum(ranks[:m]) - m * (m + 1)) / (2.0 * n * m))
