"""Transfer metrics as pure functions over arrays (no torch, no Ray, no training).

Conventions (the paper leaves them open; the report restates them):

- AUC is the area under the learning curve over env steps (trapezoids, uneven spacing
  allowed) divided by the steps it spans: the mean score over training. Points without
  a score (NaN: no episode finished yet) are dropped.
- Scores are shifted by a *floor*, the mean score of a uniformly random policy on the
  target task, so Pong's negative scores make sense:
  ``transfer = (AUC(agent) - floor) / (AUC(baseline 1) - floor)`` in percent.
- When ``AUC(baseline 1) - floor`` is within ``min_denominator`` of zero (baseline 1 did
  no better than random), the ratio is undefined: :func:`transfer_score` returns NaN and
  the report shows the cell as "undefined", never as a huge number.
- Positive transfer: score > 100 + ``band``; negative: < 100 - ``band`` (band 10 points
  by default: the paper counts 8 positive and 2 negative of 12 Atari targets, so some
  cells are neither).
- Where baseline 1 barely leaves the floor the ratio is noise divided by noise. There
  :func:`normalized_auc` and Continual World's :func:`forward_transfer` stay defined:
  scores are mapped to [0, 1] between the floor and a top score (the game's maximum
  where it has one), and FT = (AUC - AUC_b1) / (1 - AUC_b1) (0 = as baseline 1, 1 =
  solved from the first step, negative = worse than baseline 1).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

import numpy as np

__all__ = [
    "area_under_curve",
    "transfer_score",
    "top_k_mean",
    "summarize_transfer",
    "count_transfer_signs",
    "forgetting",
    "forward_transfer",
    "normalized_auc",
    "steps_to_threshold",
    "speed_up",
    "speed_up_of_times",
    "jumpstart_score",
    "asymptotic_score",
    "time_to_threshold",
    "THRESHOLD_FRACTION",
    "ASYMPTOTE_FRACTION",
]

# Taylor and Stone (2009)'s measures, as the report computes them (our choices where they
# leave the rule open): time to threshold counts the env steps until the curve first
# reaches THRESHOLD_FRACTION of the way from the floor to the top (normalised score 0.5);
# the asymptotic score is the mean curve point over the last ASYMPTOTE_FRACTION of the
# steps a run spans.
THRESHOLD_FRACTION = 0.5
ASYMPTOTE_FRACTION = 0.1


def _clean(steps: Sequence[float], scores: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    x = np.asarray(steps, dtype=float)
    y = np.asarray(scores, dtype=float)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError(f"steps and scores must be 1-D of equal length, got {x.shape}, {y.shape}")
    keep = ~np.isnan(y)
    x, y = x[keep], y[keep]
    if np.any(np.diff(x) <= 0):
        raise ValueError("steps must be strictly increasing")
    return x, y


def area_under_curve(steps: Sequence[float], scores: Sequence[float]) -> float:
    """Mean score over training: trapezoid area over env steps / steps spanned.

    A single point gives its score; no scored point gives NaN.

    Example:
        >>> area_under_curve([0, 10, 30], [0.0, 1.0, 1.0])
        0.8333333333333334
    """
    x, y = _clean(steps, scores)
    if len(x) == 0:
        return math.nan
    if len(x) == 1:
        return float(y[0])
    area = float(np.sum((y[1:] + y[:-1]) * np.diff(x) / 2.0))
    return area / float(x[-1] - x[0])


def transfer_score(
    auc_agent: float, auc_baseline: float, floor: float = 0.0, min_denominator: float = 1e-6
) -> float:
    """``100 * (auc_agent - floor) / (auc_baseline - floor)``; NaN when undefined.

    Example:
        >>> transfer_score(-5.0, -13.0, floor=-21.0)
        200.0
    """
    denominator = auc_baseline - floor
    if not math.isfinite(denominator) or abs(denominator) < min_denominator:
        return math.nan
    return 100.0 * (auc_agent - floor) / denominator


def top_k_mean(values: Iterable[float], k: int = 3) -> float:
    """Mean of the ``k`` largest finite values (all of them if fewer); NaN if none.

    The paper averages the top 3 of 25 jobs by AUC.

    Example:
        >>> top_k_mean([1.0, 5.0, 3.0, 4.0], k=2)
        4.5
    """
    if k < 1:
        raise ValueError(f"k must be positive, got {k}")
    finite = sorted((v for v in values if math.isfinite(v)), reverse=True)
    return float(np.mean(finite[:k])) if finite else math.nan


def summarize_transfer(scores: Iterable[float]) -> dict[str, float]:
    """Mean and median of the finite transfer scores (Table 1), with their count."""
    finite = [s for s in scores if math.isfinite(s)]
    if not finite:
        return {"mean": math.nan, "median": math.nan, "n": 0}
    return {"mean": float(np.mean(finite)), "median": float(np.median(finite)), "n": len(finite)}


def count_transfer_signs(scores: Iterable[float], band: float = 10.0) -> dict[str, int]:
    """Counts of positive (> 100 + band), negative (< 100 - band), neutral, undefined."""
    out = {"positive": 0, "negative": 0, "neutral": 0, "undefined": 0}
    for s in scores:
        if not math.isfinite(s):
            out["undefined"] += 1
        elif s > 100.0 + band:
            out["positive"] += 1
        elif s < 100.0 - band:
            out["negative"] += 1
        else:
            out["neutral"] += 1
    return out


def forgetting(source_score: float, score_after: float, floor: float = 0.0) -> dict[str, float]:
    """How much of the source task was lost after training on the target.

    Args:
        source_score: the source run's own final score on the source task.
        score_after: the transferred agent's score on the source task.
        floor: the source task's random-policy score.

    Returns:
        ``absolute`` = source_score - score_after (positive = forgotten), and
        ``relative`` = absolute / (source_score - floor): the share of what the source
        run had gained over a random policy. NaN where it gained nothing (source_score at
        or below the floor): a share of nothing is undefined.

    Example:
        >>> forgetting(17.0, 5.0, floor=-21.0)["relative"]
        0.3157894736842105
        >>> forgetting(-0.9, -0.76, floor=-0.756)["relative"]
        nan
    """
    absolute = source_score - score_after
    span = source_score - floor
    relative = absolute / span if span > 1e-9 else math.nan
    return {"absolute": float(absolute), "relative": float(relative)}


def forward_transfer(auc_agent: float, auc_reference: float) -> float:
    """Continual World's forward transfer ``(AUC - AUC_ref) / (1 - AUC_ref)``.

    Both AUCs must be normalised to [0, 1] (Continual World uses success rates; for
    scores, normalise by (score - floor) / (max - floor) first). NaN if AUC_ref == 1.
    """
    for v in (auc_agent, auc_reference):
        if not -1e-9 <= v <= 1 + 1e-9:
            raise ValueError(f"forward transfer needs AUCs normalised to [0, 1], got {v}")
    if abs(1.0 - auc_reference) < 1e-12:
        return math.nan
    return (auc_agent - auc_reference) / (1.0 - auc_reference)


def normalized_auc(
    steps: Sequence[float], scores: Sequence[float], floor: float, top: float
) -> float:
    """AUC of the curve normalised to [0, 1]: ``clip((score - floor) / (top - floor), 0, 1)``.

    Each point is normalised and clipped first, then integrated as in
    :func:`area_under_curve`. NaN when ``top`` is not above ``floor``.

    Example:
        >>> normalized_auc([0, 10, 20], [-21.0, 0.0, 21.0], floor=-21.0, top=21.0)
        0.5
    """
    if not (math.isfinite(top) and math.isfinite(floor)) or top - floor <= 1e-12:
        return math.nan
    y = np.clip((np.asarray(scores, dtype=float) - floor) / (top - floor), 0.0, 1.0)
    return area_under_curve(steps, y)


def steps_to_threshold(steps: Sequence[float], scores: Sequence[float], threshold: float) -> float:
    """First env step at which the curve reaches ``threshold`` (linear interpolation).

    NaN if it never does.
    """
    x, y = _clean(steps, scores)
    hits = np.nonzero(y >= threshold)[0]
    if len(hits) == 0:
        return math.nan
    i = int(hits[0])
    if i == 0:
        return float(x[0])
    x0, x1, y0, y1 = x[i - 1], x[i], y[i - 1], y[i]
    return float(x0 + (threshold - y0) * (x1 - x0) / (y1 - y0))


def speed_up(
    baseline: tuple[Sequence[float], Sequence[float]],
    agent: tuple[Sequence[float], Sequence[float]],
    floor: float = 0.0,
    fraction: float = 0.75,
) -> dict[str, float]:
    """PathNet's speed-up: baseline 1's steps to a threshold / the agent's steps.

    Threshold rule (the PathNet paper does not state one): ``floor + fraction * (best
    score of baseline 1's curve - floor)``, i.e. 75% of the way from random to baseline
    1's best. NaN when either curve never reaches it.
    """
    best = float(np.nanmax(np.asarray(baseline[1], dtype=float)))
    threshold = floor + fraction * (best - floor)
    base_steps = steps_to_threshold(*baseline, threshold)
    agent_steps = steps_to_threshold(*agent, threshold)
    ratio = base_steps / agent_steps if agent_steps and math.isfinite(agent_steps) else math.nan
    return {
        "threshold": threshold,
        "baseline_steps": base_steps,
        "agent_steps": agent_steps,
        "speed_up": ratio,
    }


def _median_with_inf(times: Sequence[float]) -> float:
    x = np.sort(np.asarray(times, dtype=float))
    if x.size == 0:
        return math.nan
    mid = x.size // 2
    return float(x[mid]) if x.size % 2 else float(np.mean(x[mid - 1 : mid + 1]))


def speed_up_of_times(baseline_times: Sequence[float], agent_times: Sequence[float]) -> float:
    """PathNet's speed-up over seeds: baseline 1's median steps to the threshold over the
    agent's (Fernando et al. 2017 divide the control's time to a threshold by PathNet's).

    Times are :func:`time_to_threshold`'s, ``inf`` for a run that never got there (it
    sorts last, so a median can be ``inf``). ``inf`` when only the agent's median is
    finite (baseline 1 never got there: the agent is faster by more than the budget
    shows), 0 when only baseline 1's is, NaN when neither is or a side has no runs.

    Example:
        >>> speed_up_of_times([400.0, 600.0, float("inf")], [100.0, 200.0, 300.0])
        3.0
        >>> speed_up_of_times([400.0], [float("inf")])
        0.0
    """
    base, agent = _median_with_inf(baseline_times), _median_with_inf(agent_times)
    if math.isnan(base) or math.isnan(agent) or (math.isinf(base) and math.isinf(agent)):
        return math.nan
    if math.isinf(agent):
        return 0.0
    if math.isinf(base) or agent == 0:
        return math.inf
    return base / agent


def jumpstart_score(steps: Sequence[float], scores: Sequence[float]) -> float:
    """The first measured curve point's score (the initial performance; a cell's
    jumpstart is its mean minus baseline 1's). NaN for a curve with no measured point.

    Example:
        >>> jumpstart_score([10, 20, 30], [float("nan"), -19.0, -12.0])
        -19.0
    """
    _, y = _clean(steps, scores)
    return float(y[0]) if len(y) else math.nan


def asymptotic_score(
    steps: Sequence[float], scores: Sequence[float], fraction: float = ASYMPTOTE_FRACTION
) -> float:
    """The mean of the measured curve points in the last ``fraction`` of the steps the
    curve spans (at least its last point). NaN without a measured point.

    Example:
        >>> asymptotic_score([0, 50, 90, 95, 100], [-21, -10, 3.0, 5.0, 7.0])
        5.0
    """
    x, y = _clean(steps, scores)
    if not len(y):
        return math.nan
    start = x[-1] - fraction * (x[-1] - x[0])
    return float(np.mean(y[x >= start]))


def time_to_threshold(
    steps: Sequence[float], scores: Sequence[float], floor: float, top: float
) -> float:
    """Env steps until the curve first reaches ``floor + THRESHOLD_FRACTION * (top -
    floor)`` (linear interpolation); ``inf`` when it never does within the run (a
    censored time: the run did not get there in its budget). NaN without a top.

    Example:
        >>> time_to_threshold([0, 100, 200], [-21.0, -21.0, 21.0], floor=-21.0, top=21.0)
        150.0
        >>> time_to_threshold([0, 100], [-21.0, -20.0], floor=-21.0, top=21.0)
        inf
    """
    if not (math.isfinite(top) and math.isfinite(floor)) or top <= floor:
        return math.nan
    reached = steps_to_threshold(steps, scores, floor + THRESHOLD_FRACTION * (top - floor))
    return reached if math.isfinite(reached) else math.inf
