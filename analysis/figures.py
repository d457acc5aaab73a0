"""The report's figures: transfer matrix, learning curves, AFS/APS, forgetting (PNG, atomic)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from analysis.cells import (
    BASELINE,
    SENSITIVITY_LAYERS,
    SENSITIVITY_NAMES,
    AgentSummary,
    CellResult,
    Sensitivity,
    cell_text,
    heat_value,
    mean_curve,
)
from analysis.paper import AGENT_ORDER
from analysis.verdicts import scratch_learned

__all__ = ["matrix_figure", "curves", "sensitivity_figures", "forgetting_figure", "summary_figure"]


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


# text that overlaps other text in a figure saved by this process: {file name: pairs}
OVERLAPS: dict[str, list[tuple[str, str]]] = {}


def text_overlaps(fig: Any) -> list[tuple[str, str]]:
    """Pairs of visible, non-empty texts of ``fig`` (titles, labels, tick labels, cell
    and legend texts) whose drawn boxes overlap, as their strings."""
    from matplotlib.text import Text

    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    # tick labels of ticks outside an axis's limits exist but are not drawn
    undrawn = set()
    for ax in fig.axes:
        for labels, limits, k in (
            (ax.get_xticklabels(which="both"), ax.get_xlim(), 0),
            (ax.get_yticklabels(which="both"), ax.get_ylim(), 1),
        ):
            lo, hi = sorted(limits)
            span = 1e-9 * max(1.0, hi - lo)
            undrawn |= {id(t) for t in labels if not lo - span <= t.get_position()[k] <= hi + span}
    boxes = []
    for t in fig.findobj(Text):
        if id(t) in undrawn:
            continue
        if t.get_visible() and t.get_text().strip() and t.figure is fig:
            box = t.get_window_extent(renderer)
            if box.width > 0 and box.height > 0:
                boxes.append((t.get_text(), box))
    found = []
    for i, (a, box_a) in enumerate(boxes):
        for b, box_b in boxes[i + 1 :]:
            w = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
            h = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
            if w > 1 and h > 1:  # more than a pixel each way
                found.append((a, b))
    return found


def annotate_apart(ax: Any, points: list[tuple[float, float, str]], fontsize: int = 7) -> None:
    """Label each point ``(x, y, text)`` beside it, moving a label that would overlap one
    already placed to the next of a few offsets (right, below, above, left, further
    down, further up); the last offset stays if all overlap, for :func:`_save` to flag."""
    fig = ax.figure
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    offsets = [(4, 2, "left"), (4, -9, "left"), (4, 9, "left"), (-4, 2, "right")]
    offsets += [(4, -18, "left"), (4, 18, "left")]
    placed: list[Any] = []
    for xv, yv, text in points:
        for dx, dy, ha in offsets:
            label = ax.annotate(
                text, (xv, yv), xytext=(dx, dy), textcoords="offset points", ha=ha,
                fontsize=fontsize,
            )  # fmt: skip
            box = label.get_window_extent(renderer)
            if not any(box.overlaps(b) for b in placed) or (dx, dy) == offsets[-1][:2]:
                placed.append(box)
                break
            label.remove()


def _save(fig: Any, out_dir: Path, name: str) -> str:
    from runstore.atomic import atomic_write

    overlaps = text_overlaps(fig)
    if overlaps:
        OVERLAPS[name] = overlaps
    else:
        OVERLAPS.pop(name, None)

    atomic_write(
        out_dir / name, lambda tmp: fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight")
    )
    _plt().close(fig)
    return name


def _short(task: str) -> str:
    return task.split("/", 1)[-1]


def target_tick(cells: list[CellResult], target: str) -> str:
    """A matrix column's label: the target's short name, flagged where scratch did not
    learn it within the budget (there FT measures an earlier take-off, not transfer)."""
    base = next((c for c in cells if c.target == target and c.label == BASELINE), None)
    # lines of at most 16 characters: a column is 1.9 inches wide at the tick's 10 pt
    flag = "\n(scratch did not\nlearn: FT is\ntake-off)" if scratch_learned(base) is False else ""
    return _short(target) + flag


def matrix_figure(cells: list[CellResult], out_dir: Path) -> list[str]:
    """The transfer matrix as one grid: a row per agent and source chain, a column per
    target; each cell prints its measure with its interval and n, coloured by transfer
    against scratch (blue above, red below). Scratch itself is the reference, not a row."""
    from matplotlib.colors import TwoSlopeNorm

    shown = [c for c in cells if c.label != BASELINE]
    if not shown:
        return []
    plt = _plt()
    targets = sorted({c.target for c in shown})
    order = {lab: i for i, lab in enumerate(AGENT_ORDER)}
    rows = sorted({(c.label, c.sources) for c in shown}, key=lambda r: (order.get(r[0], 99), r))
    grid = np.full((len(rows), len(targets)), np.nan)
    fig, ax = plt.subplots(figsize=(2.0 + 1.9 * len(targets), 0.8 + 0.75 * len(rows)))
    for c in shown:
        i, j = rows.index((c.label, c.sources)), targets.index(c.target)
        grid[i, j] = heat_value(c)
        dark = math.isfinite(grid[i, j]) and abs(min(max(grid[i, j], 0), 200) - 100) > 60
        ax.text(
            j,
            i,
            cell_text(c, sep="\n"),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if dark else "black",
        )
    cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")
    im = ax.imshow(
        np.ma.masked_invalid(np.clip(grid, 0, 200)),
        cmap=cmap,
        norm=TwoSlopeNorm(vmin=0, vcenter=100, vmax=200),
        aspect="auto",
    )
    ax.set_xticks(range(len(targets)), [target_tick(cells, t) for t in targets])
    ax.set_yticks(
        range(len(rows)),
        [
            f"{lab}\n" + (f"from {' > '.join(map(_short, src))}" if src else "(no source)")
            for lab, src in rows
        ],
        fontsize=8,
    )
    ax.set_xlabel("target")
    bar = fig.colorbar(im, ax=ax, fraction=0.04)
    bar.set_label("against scratch (100 = as scratch)", fontsize=8)
    return [_save(fig, out_dir, "matrix.png")]


def curves(cells: list[CellResult], out_dir: Path) -> list[str]:
    """Per target: each cell's mean curve over its seeds with a shaded 95% band; the
    legend beside the axes, never over the curves."""
    plt = _plt()
    names = []
    for target in sorted({c.target for c in cells}):
        fig, ax = plt.subplots(figsize=(9.5, 4))
        for c in cells:
            if c.target != target or not c.counted:
                continue
            measured = [
                ([p["env_steps"] for p in r.curve], [p["episode_return_mean"] for p in r.curve])
                for r in c.counted
                if any(math.isfinite(p["episode_return_mean"]) for p in r.curve)
            ]
            if not measured:  # a damaged or empty curve: nothing to draw
                continue
            band = mean_curve(measured)
            (line,) = ax.plot(
                band["steps"], band["mean"], label=f"{c.label} ({c.source_label}, n={c.n})", lw=1.2
            )
            ax.fill_between(
                band["steps"], band["lo"], band["hi"], color=line.get_color(), alpha=0.2
            )
        floor = next(c.floor for c in cells if c.target == target)
        ax.axhline(floor, color="grey", ls=":", label="random policy (floor)")
        ax.set_xlabel("env (agent) steps")
        ax.set_ylabel("mean episode score")
        ax.set_title(
            f"learning curves on {target}: mean over seeds, shaded 95% bootstrap band", fontsize=9
        )
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0), borderaxespad=0)
        names.append(_save(fig, out_dir, f"curves_{target.replace('/', '-')}.png"))
    return names


def sensitivity_figures(found: dict[str, list[Sensitivity]], out_dir: Path) -> list[str]:
    """Per cell with an analysis: the newest column's AFS and APS share per layer, the
    mean over runs with its 95% interval as an error bar (none for one run), n in the
    legend; and each cell's transfer against its mean AFS share over layers."""
    plt = _plt()
    by_cell: dict[int, dict[str, Sensitivity]] = {}
    order: list[CellResult] = []
    for kind, items in found.items():
        for item in items:
            if id(item.cell) not in by_cell:
                by_cell[id(item.cell)] = {}
                order.append(item.cell)
            by_cell[id(item.cell)][kind] = item
    if not order:
        return []
    names = []
    kinds = [k for k in ("afs", "aps") if found.get(k)]
    n = len(order)
    fig, axes = plt.subplots(1, n, figsize=(3.4 * n, 3.2), squeeze=False)
    x = np.arange(len(SENSITIVITY_LAYERS))
    width = 0.8 / max(len(kinds), 1)
    for ax, cell in zip(axes[0], order, strict=True):
        for j, kind in enumerate(kinds):
            item = by_cell[id(cell)].get(kind)
            if item is None:
                continue
            ests = [item.layers[lay] for lay in SENSITIVITY_LAYERS]
            vals = np.array([e.value for e in ests])
            err = np.array(
                [[e.value - e.lo, e.hi - e.value] if e.has_interval else [0.0, 0.0] for e in ests]
            ).T
            n_runs = max(e.n for e in ests)
            ax.bar(
                x + (j - (len(kinds) - 1) / 2) * width,
                vals,
                width,
                yerr=err,
                capsize=2,
                label=f"{SENSITIVITY_NAMES[kind]} (n={n_runs})",
            )
        ax.set_xticks(x, SENSITIVITY_LAYERS, fontsize=7)
        ax.set_ylim(0, 1)
        ax.axhline(0.5, color="grey", ls=":", lw=0.8)
        ax.set_title(f"{cell.label}\n{cell.source_label} -> {_short(cell.target)}", fontsize=8)
        ax.legend(fontsize=6)
    axes[0][0].set_ylabel("newest column's share (mean, 95% CI)")
    names.append(_save(fig, out_dir, "sensitivity_per_layer.png"))
    afs = found.get("afs") or []
    points = [
        (float(np.nanmean([s.layers[lay].value for lay in SENSITIVITY_LAYERS])), s.cell)
        for s in afs
    ]
    points = [(xv, c) for xv, c in points if math.isfinite(xv) and math.isfinite(heat_value(c))]
    if points:
        fig, ax = plt.subplots(figsize=(5, 4))
        xs = [p[0] for p in points]
        ys = [min(heat_value(c), 400) for _, c in points]
        ax.scatter(xs, ys)
        ax.set_xlabel("newest column's AFS share, mean over layers and runs")
        ax.set_ylabel("transfer % (FT as 100 + 100 FT; clipped at 400)")
        ax.axhline(100, color="grey", ls=":")
        labels = [f"{_short(c.target)} (n={c.n})" for _, c in points]
        annotate_apart(ax, list(zip(xs, ys, labels, strict=True)))
        names.append(_save(fig, out_dir, "transfer_vs_afs.png"))
    return names


def forgetting_figure(rows: list[dict], out_dir: Path) -> list[str]:
    """Per cell, the mean source score lost over its runs, written above its bar, with
    the 95% interval as an error bar where there is one (n >= 2)."""
    if not rows:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(8, 1.0 + 0.42 * len(rows)))
    labels = [f"{r['label']} on {_short(r['target'])} (n={r['n']})" for r in rows]
    means = np.array([r["absolute"] for r in rows])
    lo = np.array(
        [
            r["absolute_ci"].lo if r["absolute_ci"].has_interval else m
            for r, m in zip(rows, means, strict=True)
        ]
    )
    hi = np.array(
        [
            r["absolute_ci"].hi if r["absolute_ci"].has_interval else m
            for r, m in zip(rows, means, strict=True)
        ]
    )
    ys = np.arange(len(rows))[::-1]
    ax.barh(ys, means, xerr=np.vstack([means - lo, hi - means]), capsize=3, height=0.6)
    ax.set_yticks(ys, labels, fontsize=8)
    # every bar says its value, so a measured 0 (a progressive net cannot forget) does
    # not read as a missing bar
    for y, m, top in zip(ys, means, hi, strict=True):
        ax.annotate(
            f"{m:.2f}",
            (max(top, m, 0.0), y),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=7,
        )
    ax.margins(x=0.15)
    ax.set_xlabel("source score lost after training on the target (before - after)", fontsize=8)
    ax.axvline(0, color="black", lw=0.8)
    ax.set_title("forgetting of the source task: mean over runs, 95% interval", fontsize=9)
    return [_save(fig, out_dir, "forgetting.png")]


def summary_figure(summaries: list[AgentSummary], out_dir: Path) -> list[str]:
    """Table 1's aggregates as an interval plot: per agent, forward transfer's mean and
    IQM and the probability of beating baseline 1, each with its interval."""
    rows = [s for s in summaries if s.ft_mean is not None]
    if not rows:
        return []
    plt = _plt()
    panels = (
        ("FT mean", lambda s: s.ft_mean, 0.0),
        ("FT IQM", lambda s: s.ft_iqm, 0.0),
        ("P(a run beats baseline 1)", lambda s: s.p_improve, 0.5),
    )
    fig, axes = plt.subplots(1, 3, figsize=(11, 0.6 + 0.45 * len(rows)), sharey=True)
    ys = np.arange(len(rows))[::-1]
    for ax, (title, get, reference) in zip(axes, panels, strict=True):
        for y, s in zip(ys, rows, strict=True):
            est = get(s)
            ax.plot([est.value], [y], "o", color="black", ms=4)
            if est.has_interval:
                ax.hlines(y, est.lo, est.hi, color="tab:blue", lw=4, alpha=0.6)
        ax.axvline(reference, color="grey", ls=":")
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xlabel(title), fontsize=8)
    axes[0].set_yticks(ys, [f"{s.label} (n={s.seeds})" for s in rows], fontsize=8)
    fig.tight_layout()
    return [_save(fig, out_dir, "summary_intervals.png")]


def xlabel(title: str) -> str:
    """The x-axis label of a summary panel."""
    if title.startswith("P("):
        return "probability (0.5 = no difference)"
    return "forward transfer (0 = as scratch)"


def caption(name: str) -> str:
    """What a report figure shows, in words (the HTML's captions)."""
    if name == "summary_intervals.png":
        return (
            "Per agent over its targets: each estimate (dot) with its interval (bar); FT "
            "mean and P use the calibrated intervals, the IQM a 95% percentile bootstrap. "
            "Dotted: no difference from scratch."
        )
    if name == "matrix.png":
        return (
            "Transfer matrix: each agent (row, with its source) on each target (column); "
            "the measure against scratch with its interval and n. Blue: better than "
            "scratch; red: worse; grey: undefined."
        )
    if name.startswith("curves_"):
        return f"Learning curves on {name[7:-4]}: mean over seeds, shaded band."
    if name == "forgetting.png":
        return "Forgetting: the source task's score lost after training on the target."
    if name.startswith("sensitivity") or name.startswith("transfer_vs"):
        return "Sensitivity of the new column per layer (AFS, APS): mean over seeds."
    return name
