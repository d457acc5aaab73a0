"""Statistics over seeds, as the field reports them (Agarwal et al. 2021, ``rliable``).

Scores are arrays of shape ``(runs, tasks)``: one row per seed (run), one column per
task (a matrix cell). Every estimator here is a small pure function; intervals come from
the stratified bootstrap: runs are resampled with replacement *within* each task, the
statistic is computed on every resample, and the 95% interval is the 2.5th and 97.5th
percentiles of those values (rliable's default, the "percentile" method). The interval
method is named in every :class:`Estimate`.

- :func:`aggregate_mean`, :func:`aggregate_median`, :func:`aggregate_iqm`: rliable's
  aggregates (mean and median over tasks of each task's mean over runs; the interquartile
  mean of all scores);
- :func:`probability_of_improvement`: P(X > Y), averaged over tasks (ties count half);
- :func:`interval`: any of these with its stratified bootstrap interval;
  :func:`paired_interval` for two samples, :func:`grouped_interval` for ragged groups
  (cells with different seed counts, each beside its baseline's cell).

A cell with one seed has no interval: :func:`interval` returns its estimate with
``lo = hi = nan`` and ``n = 1``, and the report says so instead of printing a false one.

Example:
    >>> scores = np.array([[1.0, 2.0], [3.0, 4.0]])
    >>> aggregate_mean(scores), aggregate_median(scores), aggregate_iqm(scores)
    (2.5, 2.5, 2.5)
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

__all__ = [
    "Estimate",
    "aggregate_mean",
    "aggregate_median",
    "aggregate_iqm",
    "probability_of_improvement",
    "stratified_bootstrap",
    "interval",
    "paired_interval",
    "grouped_interval",
    "CONFIDENCE",
    "REPS",
]

CONFIDENCE = 0.95
REPS = 2_000  # bootstrap resamples (rliable's default)


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its interval over ``n`` runs per task.

    ``lo`` and ``hi`` are NaN when no interval exists (one run per task).
    """

    value: float
    lo: float
    hi: float
    n: int
    method: str = "stratified bootstrap, percentile, 95%"

    @property
    def has_interval(self) -> bool:
        return not (math.isnan(self.lo) or math.isnan(self.hi))

    def text(self, digits: int = 2, scale: float = 1.0, unit: str = "") -> str:
        """``"0.12 [0.05, 0.20] (n=5)"``; ``"0.12 (n=1, no interval)"`` for one run."""
        if not math.isfinite(self.value):
            return f"n/a (n={self.n})"
        v = f"{self.value * scale:.{digits}f}{unit}"
        if not self.has_interval:
            return f"{v} (n={self.n}, no interval)"
        return f"{v} [{self.lo * scale:.{digits}f}, {self.hi * scale:.{digits}f}] (n={self.n})"


def _as_scores(scores: np.ndarray | list) -> np.ndarray:
    a = np.asarray(scores, dtype=float)
    if a.ndim == 1:
        a = a[:, None]
    if a.ndim != 2 or a.shape[0] < 1 or a.shape[1] < 1:
        raise ValueError(f"scores must be (runs, tasks) with both >= 1, got shape {a.shape}")
    return a


def aggregate_mean(scores: np.ndarray) -> float:
    """The mean over tasks of each task's mean over runs."""
    return float(np.mean(np.mean(_as_scores(scores), axis=0)))


def aggregate_median(scores: np.ndarray) -> float:
    """The median over tasks of each task's mean over runs (rliable's median)."""
    return float(np.median(np.mean(_as_scores(scores), axis=0)))


def aggregate_iqm(scores: np.ndarray) -> float:
    """The interquartile mean of all scores: the mean of the middle 50% (25% trimmed
    from each end; scipy's ``trim_mean(x, 0.25)``, which rliable uses).

    Example:
        >>> aggregate_iqm(np.array([[0.0], [1.0], [2.0], [3.0], [4.0], [5.0], [6.0], [100.0]]))
        3.5
    """
    x = np.sort(_as_scores(scores).ravel())
    cut = int(0.25 * len(x))
    return float(np.mean(x[cut : len(x) - cut]))


def probability_of_improvement(x: np.ndarray, y: np.ndarray) -> float:
    """P(X > Y) + P(X = Y) / 2 for a run of X and a run of Y on the same task, averaged
    over tasks (the Mann-Whitney U statistic over ``n_x * n_y``, per task).

    Example:
        >>> probability_of_improvement(np.array([[2.0], [3.0]]), np.array([[1.0], [2.0]]))
        0.875
    """
    x, y = _as_scores(x), _as_scores(y)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y need the same tasks, got {x.shape[1]} and {y.shape[1]}")
    per_task = [
        float(np.mean((x[:, t, None] > y[None, :, t]) + 0.5 * (x[:, t, None] == y[None, :, t])))
        for t in range(x.shape[1])
    ]
    return float(np.mean(per_task))


def stratified_bootstrap(scores: np.ndarray, reps: int = REPS, seed: int = 0) -> np.ndarray:
    """``(reps, runs, tasks)``: each resample draws, per task, ``runs`` runs with
    replacement from that task's own runs."""
    a = _as_scores(scores)
    rng = np.random.default_rng(seed)
    runs, tasks = a.shape
    idx = rng.integers(0, runs, size=(reps, runs, tasks))
    return np.take_along_axis(np.broadcast_to(a, (reps, runs, tasks)), idx, axis=1)


def _percentiles(values: np.ndarray) -> tuple[float, float]:
    tail = 100 * (1 - CONFIDENCE) / 2
    lo, hi = np.percentile(values, [tail, 100 - tail])
    return float(lo), float(hi)


def interval(
    scores: np.ndarray,
    statistic: Callable[[np.ndarray], float] = aggregate_mean,
    reps: int = REPS,
    seed: int = 0,
) -> Estimate:
    """``statistic(scores)`` with its 95% stratified bootstrap interval (none for one run)."""
    a = _as_scores(scores)
    value = statistic(a)
    if a.shape[0] < 2:
        return Estimate(value, math.nan, math.nan, int(a.shape[0]))
    boots = np.array([statistic(b) for b in stratified_bootstrap(a, reps, seed)])
    return Estimate(value, *_percentiles(boots), int(a.shape[0]))


def paired_interval(
    x: np.ndarray,
    y: np.ndarray,
    statistic: Callable[[np.ndarray, np.ndarray], float] = probability_of_improvement,
    reps: int = REPS,
    seed: int = 0,
) -> Estimate:
    """A two-sample ``statistic(x, y)`` (probability of improvement) with its interval:
    x's and y's runs are resampled independently, each within its tasks. ``n`` is the
    smaller run count (no interval when either has one run)."""
    x, y = _as_scores(x), _as_scores(y)
    value = statistic(x, y)
    n = int(min(x.shape[0], y.shape[0]))
    if n < 2:
        return Estimate(value, math.nan, math.nan, n)
    bx = stratified_bootstrap(x, reps, seed)
    by = stratified_bootstrap(y, reps, seed + 1)
    boots = np.array([statistic(a, b) for a, b in zip(bx, by, strict=True)])
    return Estimate(value, *_percentiles(boots), n)


def grouped_interval(
    groups: list[tuple[np.ndarray, ...]],
    statistic: Callable[[list[tuple[np.ndarray, ...]]], float],
    reps: int = REPS,
    seed: int = 0,
    allow_inf: bool = False,
) -> Estimate:
    """``statistic(groups)`` with a stratified bootstrap interval over ragged groups.

    Each group (a task: an agent's cell with its baseline's cell, say) is a tuple of 1-D
    arrays of per-run values; every array is resampled with replacement on its own, so
    each task keeps its runs and every side its own run count. ``n`` is the smallest
    array's size; with one run anywhere there is no interval. ``allow_inf``: infinite
    values are results (a censored time: never reached), kept, and the bounds are
    nearest-rank percentiles (an upper bound may be ``inf``).

    Example:
        >>> g = [(np.array([1.0, 3.0]), np.array([0.0, 0.0]))]
        >>> grouped_interval(g, lambda gs: float(np.mean(gs[0][0]) - np.mean(gs[0][1]))).value
        2.0
    """
    arrays = [np.asarray(a, dtype=float) for group in groups for a in group]
    if not arrays or min(a.size for a in arrays) < 1:
        raise ValueError("every group needs at least one run on every side")
    value = statistic(groups)
    n = int(min(a.size for a in arrays))
    if n < 2:
        return Estimate(value, math.nan, math.nan, n)
    rng = np.random.default_rng(seed)
    boots = np.empty(reps)
    for r in range(reps):
        resampled = [
            tuple(np.asarray(a)[rng.integers(0, len(a), len(a))] for a in group) for group in groups
        ]
        boots[r] = statistic(resampled)
    kept = boots[~np.isnan(boots)] if allow_inf else boots[np.isfinite(boots)]
    if kept.size < reps * 0.9:  # the statistic is undefined in too many resamples
        return Estimate(value, math.nan, math.nan, n)
    if allow_inf:
        tail = 100 * (1 - CONFIDENCE) / 2
        lo = float(np.percentile(kept, tail, method="lower"))
        hi = float(np.percentile(kept, 100 - tail, method="higher"))
        return Estimate(value, lo, hi, n)
    return Estimate(value, *_percentiles(kept), n)
