"""The curve check's replay statistic, and how often it errs on real runs' scores.

After training, the final weights play ``n`` episodes through the training pipeline with
learning off (the replay) and ``n`` more through an independent loop without RLlib
(``benchmarks.evaluate``). Both are samples of one policy's scores, so the check fails
only when their means differ by more than :data:`REPLAY_Z` combined standard errors.

:func:`error_rates` measures, for one run, how often that rule raises a false alarm
and how often it catches a pipeline whose every score is ``offset`` points off: both
sides are drawn with replacement from the run's own committed final-weights scores
(``eval_<task>.json``), the replay side shifted by ``offset``. ``python -m
analysis.curvecheck`` prints both for every committed run.

Example:
    >>> disagrees(3.0, 2.0, 20, 0.0, 2.0, 20)
    True
    >>> disagrees(1.0, 2.0, 20, 0.0, 2.0, 20)
    False
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np

from runstore.rundir import RunDir

__all__ = ["REPLAY_Z", "disagrees", "tolerance", "error_rates", "committed_scores"]

REPLAY_Z = 3.0


def disagrees(
    replay_mean: float,
    replay_std: float,
    replay_n: float,
    eval_mean: float,
    eval_std: float,
    eval_n: float,
    z: float = REPLAY_Z,
) -> bool:
    """True when the two means differ by more than ``z`` combined standard errors."""
    tol = tolerance(replay_std, replay_n, eval_std, eval_n, z)
    return abs(replay_mean - eval_mean) > tol + 1e-9


def tolerance(
    replay_std: float, replay_n: float, eval_std: float, eval_n: float, z: float = REPLAY_Z
) -> float:
    """``z`` combined standard errors of the two means: the largest allowed difference."""
    return z * math.sqrt(replay_std**2 / replay_n + eval_std**2 / eval_n)


def error_rates(
    scores: list[float] | np.ndarray,
    n: int = 20,
    offset: float = 3.0,
    reps: int = 4000,
    seed: int = 0,
    z: float = REPLAY_Z,
) -> tuple[float, float]:
    """(false-alarm rate, rate of catching an ``offset``) of the replay check with ``n``
    episodes a side drawn from ``scores``."""
    x = np.asarray(scores, dtype=float)
    rng = np.random.default_rng(seed)
    a = x[rng.integers(0, x.size, (reps, n))]
    b = x[rng.integers(0, x.size, (reps, n))]
    se = np.sqrt(a.var(axis=1) / n + b.var(axis=1) / n)
    diff = a.mean(axis=1) - b.mean(axis=1)
    false_alarm = float(np.mean(np.abs(diff) > z * se + 1e-9))
    caught = float(np.mean(np.abs(diff + offset) > z * se + 1e-9))
    return false_alarm, caught


def committed_scores(root: Path) -> dict[str, list[float]]:
    """Every committed run's final-weights scores on its own task (``eval_<task>.json``
    beside its curve), by run directory, under ``root``."""
    out = {}
    for path in sorted(root.glob("**/eval_*.json")):
        if "forgetting" in path.name or "greedy" in path.name:
            continue
        data = json.loads(path.read_text())
        task = RunDir(path.parent).read_run_config().get("task", "")
        if data.get("task") == task and data.get("scores") and not data.get("greedy"):
            out[str(path.parent.relative_to(root))] = [float(s) for s in data["scores"]]
    return out


def main() -> int:
    root = Path(__file__).resolve().parents[1]
    for folder in ("docs/results", "docs/tuning", "zoo"):
        for run, scores in committed_scores(root / folder).items():
            fa, caught = error_rates(scores)
            print(
                f"{folder}/{run}: sd {np.std(scores):5.2f}  false alarm {fa:.3f}  "
                f"3-point offset caught {caught:.3f}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
