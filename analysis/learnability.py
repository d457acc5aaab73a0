"""Learnability: does training from scratch leave a task's random floor, when, and how far.

A laptop matrix is only worth running on tasks that scratch learns within the budget
this machine can afford; otherwise every agent sits at the floor and the transfer
numbers measure noise. For every finished scratch run (no sources) under one or more
results roots, this reads its learning curve and its task's random-policy floor
(``floors.json``) and gives:

- **margin**: ``max(2 * sd, 1)``, where sd is the standard deviation of the random
  policy's episode returns: two random episodes' spread, and at least one reward unit
  (one point of Pong, one apple of Labyrinth, one catch of Catch).
- **cleared at**: the first curve point from which ``CLEAR_WINDOWS`` (3) consecutive
  measured points all reach ``floor + margin`` (a point is one curve window's mean
  episode return; windows in which no episode ended are skipped, never filled in). A
  single lucky window does not count. ``inf`` when the run never does.
- **final**: the mean of the measured points in the last 10% of the curve's steps
  (:func:`analysis.metrics.asymptotic_score`), and **learned**: final >= floor + margin.
- **plateau gain**: what the last 20% of the curve's steps gained over the 20% before
  them (mean of the measured points of each), as a share of what the run gained over
  the floor at its best; **plateaued**: learned, and that share is below 5%. A source column is
  trained until it has plateaued by this rule (``zoo/README.md``).

``xfer learnability ROOT... --out docs/learnability.md --figure docs/learnability.png``
writes the table and a figure of every curve against its floor and floor + margin.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.cells import BASELINE
from analysis.floors import Floor, load_floors
from analysis.metrics import asymptotic_score
from analysis.paper import agent_label
from analysis.results import collect_runs

__all__ = [
    "CLEAR_WINDOWS",
    "clear_margin",
    "steps_to_clear",
    "plateau_gain",
    "LearnabilityRow",
    "learnability_row",
    "learnability_rows",
    "learnability_markdown",
    "learnability_plot",
    "learnability_figure",
]

CLEAR_WINDOWS = 3  # consecutive measured curve points at or above floor + margin
MIN_MARGIN = 1.0  # one reward unit
PLATEAU_FRACTION = 0.2  # the last fifth of the steps against the fifth before
PLATEAU_TOLERANCE = 0.05  # of the gain over the floor at the best point


def clear_margin(floor_sd: float | None) -> float:
    """How far above the floor a curve must be to have left it: two random episodes'
    standard deviation, at least one reward unit.

    Example:
        >>> clear_margin(0.4), clear_margin(30.0), clear_margin(None)
        (1.0, 60.0, 1.0)
    """
    if floor_sd is None or not math.isfinite(floor_sd):
        return MIN_MARGIN
    return max(2.0 * float(floor_sd), MIN_MARGIN)


def steps_to_clear(
    steps: Sequence[float], scores: Sequence[float], level: float, windows: int = CLEAR_WINDOWS
) -> float:
    """The step of the first measured point from which ``windows`` consecutive measured
    points are all at or above ``level``; ``inf`` if there is none. Unmeasured points
    (NaN: no episode ended in that window) are dropped first.

    Example:
        >>> steps_to_clear([0, 10, 20, 30, 40, 50], [-20, -18.5, -19.5, -18, -18, -17], -19)
        30.0
        >>> steps_to_clear([0, 10, 20], [-20, -18, -18], -19)
        inf
    """
    if windows < 1:
        raise ValueError(f"windows must be >= 1, got {windows}")
    x = np.asarray(steps, dtype=float)
    y = np.asarray(scores, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    above = y >= level
    for i in range(len(y) - windows + 1):
        if above[i : i + windows].all():
            return float(x[i])
    return math.inf


def plateau_gain(
    steps: Sequence[float],
    scores: Sequence[float],
    floor: float,
    fraction: float = PLATEAU_FRACTION,
) -> float:
    """Mean of the measured points in the last ``fraction`` of the curve's steps minus
    the mean of those in the ``fraction`` before, over (best point - floor). NaN where
    either part has no measured point or the run never rose above its floor.

    Example:
        >>> x = list(range(0, 101, 10))
        >>> flat = [-21, -15, -8, 0, 8, 14, 18.5, 18.5, 19, 19, 19.5]
        >>> round(plateau_gain(x, flat, floor=-21), 4)  # (19.1667 - 18.5) / 40.5
        0.0165
        >>> plateau_gain(x, [-21, -18, -15, -12, -9, -6, -3, 0, 3, 6, 9], floor=-21)
        0.25
    """
    x = np.asarray(steps, dtype=float)
    y = np.asarray(scores, dtype=float)
    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 2 or not np.max(y) > floor:
        return math.nan
    span = x[-1] - x[0]
    last = x >= x[-1] - fraction * span
    before = (x >= x[-1] - 2 * fraction * span) & ~last
    if not last.any() or not before.any():
        return math.nan
    return float((np.mean(y[last]) - np.mean(y[before])) / (np.max(y) - floor))


@dataclass(frozen=True)
class LearnabilityRow:
    """One scratch run's learnability (see the module text for each field)."""

    task: str
    seed: int
    run: str
    steps: float  # agent steps of the curve's last point
    floor: float
    floor_sd: float | None
    floor_source: str
    margin: float
    cleared_at: float
    final: float
    best: float
    plateau: float = math.nan  # plateau_gain
    curve: tuple[tuple[float, float], ...] = field(default=(), repr=False)  # (steps, return)

    @property
    def learned(self) -> bool:
        return math.isfinite(self.final) and self.final >= self.floor + self.margin

    @property
    def plateaued(self) -> bool:
        """Learned, and no longer gaining (a run at its floor has not plateaued: it has
        not started)."""
        return self.learned and math.isfinite(self.plateau) and self.plateau < PLATEAU_TOLERANCE


def learnability_rows(roots: Sequence[str | Path]) -> list[LearnabilityRow]:
    """A row for every finished scratch run without sources under ``roots``, sorted by
    task and seed. A root without ``floors.json`` entries for its tasks raises
    :class:`analysis.floors.MissingFloorError` (naming the command that measures them)."""
    rows = []
    for root in map(Path, roots):
        if not root.is_dir():
            raise FileNotFoundError(f"no results directory at {root}")
        runs = [
            r
            for r in collect_runs(root)
            if r.state == "done"
            and not r.config.get("sources")
            and agent_label(r.config.get("agent", ""), ()) == BASELINE  # baseline 1: scratch
            and r.curve
        ]
        floors = load_floors(root, {r.config["task"] for r in runs})
        for r in runs:
            task = r.config["task"]
            seed = int(r.config.get("seed", 0))
            rows.append(learnability_row(task, seed, str(r.path), r.curve, floors[task]))
    return sorted(rows, key=lambda r: (r.task, r.seed, r.run))


def learnability_row(
    task: str, seed: int, run: str, curve: Sequence[dict[str, float]], floor: Floor
) -> LearnabilityRow:
    """One run's row from its curve points (``env_steps``, ``episode_return_mean``, as
    ``curve.csv`` holds them) and its task's floor. Shipping a zoo column
    (:func:`benchmarks.zoo.ship_column`) asks the same row whether it has plateaued.

    Example:
        >>> from analysis.floors import Floor
        >>> pts = [{"env_steps": 10 * i, "episode_return_mean": v}
        ...        for i, v in enumerate([-1, -1, 0, 1, 1, 1, 1, 1, 1, 1, 1])]
        >>> floor = Floor(-0.8, "random policy", 10, 0.1, 0.3)
        >>> row = learnability_row("catch_soup/pong", 0, "run", pts, floor)
        >>> row.margin, row.cleared_at, row.final, row.learned, row.plateaued
        (1.0, 30.0, 1.0, True, True)
    """
    if not curve:
        raise ValueError(f"{run}: no curve points")
    margin = clear_margin(floor.sd)
    x = [float(p["env_steps"]) for p in curve]
    y = [float(p["episode_return_mean"]) for p in curve]
    measured = [v for v in y if math.isfinite(v)]
    return LearnabilityRow(
        task=task,
        seed=seed,
        run=run,
        steps=x[-1],
        floor=floor.value,
        floor_sd=floor.sd,
        floor_source=floor.describe(),
        margin=margin,
        cleared_at=steps_to_clear(x, y, floor.value + margin),
        final=asymptotic_score(x, y),
        best=max(measured) if measured else math.nan,
        plateau=plateau_gain(x, y, floor.value),
        curve=tuple(zip(x, y, strict=True)),
    )


def _steps(x: float) -> str:
    if not math.isfinite(x):
        return "not cleared"
    return f"{x / 1e6:.2f}M" if x >= 1e6 else f"{x / 1e3:.0f}k"


def learnability_markdown(rows: list[LearnabilityRow]) -> str:
    """The learnability table in Markdown, with the rule it applies above it."""
    head = (
        f"Margin: max(2 x the random policy's episode standard deviation, 1). Cleared at: "
        f"the first curve point from which {CLEAR_WINDOWS} consecutive measured points are "
        "all at or above floor + margin. Final: mean of the measured points in the last "
        "10% of the run's steps. Learned: final >= floor + margin. Plateau: what the last "
        "20% of the steps gained over the 20% before, as a share of (best - floor); "
        "plateaued: learned and below 5%.\n\n"
    )
    header = (
        "| task | seed | steps | floor (sd) | margin | cleared at | final | best | learned "
        "| plateau |"
    )
    lines = [header, "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        sd = "n/a" if r.floor_sd is None else f"{r.floor_sd:.2f}"
        lines.append(
            f"| {r.task} | {r.seed} | {_steps(r.steps)} | {r.floor:.2f} ({sd}) | "
            f"{r.margin:.2f} | {_steps(r.cleared_at)} | {r.final:.2f} | {r.best:.2f} | "
            f"{'yes' if r.learned else 'no'} | "
            + ("n/a" if not math.isfinite(r.plateau) else f"{100 * r.plateau:+.1f}%")
            + (" (plateaued)" if r.plateaued else "")
            + " |"
        )
    return head + "\n".join(lines) + "\n"


def learnability_plot(rows: list[LearnabilityRow]) -> Any:
    """A matplotlib figure with one panel per row: its curve (measured points only), the
    random floor, floor + margin, and a vertical line where it cleared."""
    from analysis.figures import _plt

    plt = _plt()
    if not rows:
        raise ValueError("no learnability rows to draw")
    n = len(rows)
    cols = min(3, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.0 * nrows), squeeze=False)
    for ax, r in zip(axes.flat, rows, strict=False):
        pts = [(x, y) for x, y in r.curve if math.isfinite(y)]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(np.array(xs) / 1e6, ys, color="C0", lw=1.2, label="scratch")
        ax.axhline(r.floor, color="grey", ls="--", lw=1, label="random floor")
        ax.axhline(r.floor + r.margin, color="C3", ls=":", lw=1, label="floor + margin")
        if math.isfinite(r.cleared_at):
            ax.axvline(r.cleared_at / 1e6, color="C2", lw=1, label="cleared")
        ax.set_title(f"{r.task} (seed {r.seed})", fontsize=9)
        ax.set_xlabel("agent steps (M)", fontsize=8)
        ax.set_ylabel("episode return", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=7, loc="best")
    fig.tight_layout()
    return fig


def learnability_figure(rows: list[LearnabilityRow], path: str | Path) -> Path:
    """:func:`learnability_plot` written atomically as a PNG at ``path`` (the report's
    figure writer, :func:`analysis.figures._save`)."""
    from analysis.figures import _save

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    _save(learnability_plot(rows), path.parent, path.name)
    return path
