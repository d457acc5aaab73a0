"""The transfer-matrix report, built from a results directory alone (no Ray, no training).

``build_report(root)`` writes ``root/report/``: ``index.html`` (self-contained, figures
inlined), ``report.md``, the figures as PNG, ``transfer_matrix.csv`` (columns
``agent,source,target,transfer,auc,auc_baseline,floor,jobs``) and ``table1.txt``.
Missing, running and failed runs are listed as such and their cells drawn as missing.
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analysis.floors import load_floors
from analysis.metrics import (
    area_under_curve,
    count_transfer_signs,
    forgetting,
    forward_transfer,
    normalized_auc,
    summarize_transfer,
    top_k_mean,
    transfer_score,
)
from analysis.paper import AGENT_ORDER, PAPER_TABLE1, agent_label
from benchmarks.config import source_agent
from benchmarks.rundir import (
    DamagedFileError,
    RunDir,
    read_curve_file,
    run_liveness,
)

__all__ = ["build_report", "collect_runs", "CellResult"]

# Highest possible score per domain: the top of the normalised scores (other domains use
# the best curve point any run reached on the target).
GAME_MAXIMUM = {"catch_soup": 1.0, "pong_soup": 21.0}
# The paper's ratio is shown where baseline 1's normalised AUC reaches this (it covered at
# least 10% of the way from the floor to the top on average); elsewhere forward transfer.
RATIO_MIN_BASELINE = 0.1
DEN_NOTE = (
    "Units per layer: the feature maps (conv) and units (fc) each task of a DEN run's network "
    "computes with (task 0 is the first source). Added: units that dynamic expansion added "
    "at that task and group sparsity kept. Split: units whose incoming weights drifted more "
    "than sigma while retraining, duplicated for that task (the earlier tasks keep the "
    "originals, so they do not forget). Near-zero weights: the share of the incoming "
    "weights of the task's units below zero_eps (about 14% at initialisation); the L1 of "
    "the first task drives it up, and near 100% almost every weight of the layer is gone "
    "(a first task on Pong after 600k steps: fc 98%). See docs/den.md."
)
FORGETTING_NOTE = (
    "Before: the source run's score on the source task; after: the target run's, played by "
    "the part of its network trained on the source (the source column, path or head). Both "
    "play the same episodes (same count, same seed), so a network that still computes what "
    "the source computed scores the same in every episode: progressive nets and DEN must "
    "show 0 episodes scored differently. Relative: lost / (before - the source's floor), "
    "not shown where the source run never rose above its floor."
)
MATRIX_FIELDS = (
    "agent",
    "source",
    "target",
    "transfer",
    "auc",
    "auc_baseline",
    "floor",
    "jobs",
    "measure",
    "forward_transfer",
    "auc_normalized",
    "auc_normalized_baseline",
    "top",
    "transfer_raw",
)


@dataclass
class Run:
    path: Path
    config: dict[str, Any]
    status: dict[str, Any]
    curve: list[dict[str, float]]

    @property
    def state(self) -> str:
        return self.status.get("state", "missing")

    @property
    def auc(self) -> float:
        if not self.curve:
            return math.nan
        return area_under_curve(
            [r["env_steps"] for r in self.curve], [r["episode_return_mean"] for r in self.curve]
        )


@dataclass
class CellResult:
    label: str
    sources: tuple[str, ...]
    target: str
    runs: list[Run] = field(default_factory=list)
    expected_jobs: int = 0
    auc: float = math.nan
    auc_baseline: float = math.nan
    floor: float = math.nan
    transfer: float = math.nan
    top: float = math.nan
    auc_norm: float = math.nan
    auc_norm_baseline: float = math.nan
    forward_transfer: float = math.nan
    min_score: float = math.nan
    transfer_raw: float = math.nan

    @property
    def measure(self) -> str:
        """``ratio`` (the paper's %) where baseline 1 clearly left the floor, else ``ft``."""
        if math.isfinite(self.auc_norm_baseline) and (self.auc_norm_baseline >= RATIO_MIN_BASELINE):
            return "ratio"
        return "ft"

    @property
    def shown_transfer(self) -> float:
        """The paper's ratio where it is the measure, else NaN (for Table 1)."""
        return self.transfer if self.measure == "ratio" else math.nan

    @property
    def finished(self) -> list[Run]:
        return [r for r in self.runs if r.state == "done"]

    @property
    def source_label(self) -> str:
        return " > ".join(s.split("/", 1)[-1] for s in self.sources) or "-"


class DamagedResultsError(ValueError):
    """Result files that exist but cannot be read (named, with why)."""


# damaged files met while building one report (reset by build_report)
_DAMAGED: list[str] = []


def _damaged(path: Path, why: str) -> None:
    entry = f"{path} ({why})"
    if entry not in _DAMAGED:
        _DAMAGED.append(entry)


def _read_json(path: Path) -> Any:
    """The parsed file; None when it does not exist or is damaged (then recorded)."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        return None
    except OSError as err:
        _damaged(path, f"unreadable: {err.strerror}")
        return None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        _damaged(path, f"not valid JSON: {err.msg} at line {err.lineno}")
        return None


def _read_curve(path: Path) -> list[dict[str, float]]:
    """The curve's rows; [] when it does not exist or is damaged (then recorded)."""
    try:
        return read_curve_file(path)
    except DamagedFileError as err:
        _damaged(path, str(err).removeprefix(f"{path}: "))
    except OSError as err:
        _damaged(path, f"unreadable: {err.strerror}")
    return []


def scan_damage(root: Path) -> list[str]:
    """Every result file under ``root`` that exists but cannot be read, with why."""
    _DAMAGED.clear()
    for path in sorted([*root.glob("*.json"), *root.glob("*/*/*/*.json")]):
        _read_json(path)
    for path in sorted(root.glob(f"*/*/*/{RunDir.CURVE}")):
        _read_curve(path)
    return list(_DAMAGED)


def collect_runs(root: Path) -> list[Run]:
    """Every run directory (a ``config.json`` three levels down) under ``root``."""
    runs = []
    for cfg_file in sorted(root.glob(f"*/*/*/{RunDir.CONFIG}")):
        data = _read_json(cfg_file) or {}
        if "run" not in data:
            continue
        run_dir = RunDir(cfg_file.parent)
        runs.append(
            Run(
                run_dir.path,
                data["run"],
                _read_json(run_dir.status) or {"state": "missing"},
                _read_curve(run_dir.curve),
            )
        )
    return runs


def _floors(root: Path, tasks: set[str]) -> tuple[dict[str, float], dict[str, str]]:
    floors = load_floors(root, tasks)
    return {t: f.value for t, f in floors.items()}, {t: f.describe() for t, f in floors.items()}


def _cells(root: Path, runs: list[Run], top_k: int) -> list[CellResult]:
    plan = _read_json(root / "plan.json") or {}
    cells: dict[tuple, CellResult] = {}
    for entry in plan.get("cells", []):
        key = (entry["label"], tuple(entry["sources"]), entry["target"])
        cell = cells.setdefault(key, CellResult(*key))
        cell.expected_jobs += 1
    for run in runs:
        cfg = run.config
        key = (agent_label(cfg["agent"], cfg["sources"]), tuple(cfg["sources"]), cfg["task"])
        if plan and key not in cells:
            continue  # a source-only run (e.g. a chain's middle link) outside the matrix
        cells.setdefault(key, CellResult(*key)).runs.append(run)
    floors, _ = _floors(root, {c.target for c in cells.values()})
    tops = _tops(cells.values())
    for cell in cells.values():
        cell.floor = floors[cell.target]
        cell.top = tops[cell.target]
        by_auc = sorted(
            cell.finished, key=lambda r: r.auc if math.isfinite(r.auc) else -math.inf, reverse=True
        )
        best = by_auc[:top_k]
        cell.auc = top_k_mean([r.auc for r in best], top_k)
        points = [
            p["episode_return_mean"]
            for r in best
            for p in r.curve
            if math.isfinite(p["episode_return_mean"])
        ]
        cell.min_score = min(points, default=math.nan)
        cell.auc_norm = top_k_mean(
            [
                normalized_auc(
                    [p["env_steps"] for p in r.curve],
                    [p["episode_return_mean"] for p in r.curve],
                    cell.floor,
                    cell.top,
                )
                for r in best
            ],
            top_k,
        )
    for cell in cells.values():
        base = cells.get(("baseline1-scratch", (), cell.target))
        cell.auc_baseline = base.auc if base else math.nan
        cell.auc_norm_baseline = base.auc_norm if base else math.nan
        cell.transfer = transfer_score(cell.auc, cell.auc_baseline, cell.floor)
        # the paper's own ratio is raw AUC over raw AUC (no floor); it means the same
        # only where scores cannot go negative, so it is shown only there
        if base and cell.floor >= 0 and min(cell.min_score, base.min_score) >= 0:
            cell.transfer_raw = transfer_score(cell.auc, cell.auc_baseline, 0.0)
        if math.isfinite(cell.auc_norm) and math.isfinite(cell.auc_norm_baseline):
            cell.forward_transfer = forward_transfer(cell.auc_norm, cell.auc_norm_baseline)
    order = {label: i for i, label in enumerate(AGENT_ORDER)}
    return sorted(cells.values(), key=lambda c: (order.get(c.label, 99), c.sources, c.target))


def _tops(cells: Any) -> dict[str, float]:
    """The top of the normalised score per target: the game's maximum, else the best point."""
    tops: dict[str, float] = {}
    for cell in cells:
        domain = cell.target.split("/", 1)[0]
        if domain in GAME_MAXIMUM:
            tops[cell.target] = GAME_MAXIMUM[domain]
            continue
        points = [
            p["episode_return_mean"]
            for r in cell.finished
            for p in r.curve
            if math.isfinite(p["episode_return_mean"])
        ]
        best = max(points, default=math.nan)
        tops[cell.target] = max(tops.get(cell.target, -math.inf), best)
    return tops


def _fmt(x: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def _cell_text(cell: CellResult) -> str:
    if not cell.finished:
        states = sorted({r.state for r in cell.runs}) or ["missing"]
        return "/".join(states)
    if cell.measure == "ratio" and math.isfinite(cell.transfer):
        return f"{cell.transfer:.0f}%"
    if math.isfinite(cell.forward_transfer):
        return f"FT {cell.forward_transfer:+.2f}"
    return "undefined"


def _heat_value(cell: CellResult) -> float:
    """Colour scale of a cell: the ratio in %, or FT mapped onto it as 100 + 100 * FT."""
    if cell.measure == "ratio":
        return cell.transfer
    return 100.0 + 100.0 * cell.forward_transfer


def _shown_state(run: Run) -> str:
    """The run's state; a "running" run that no live process trains is marked dead."""
    if run.state != "running":
        return run.state
    liveness = run_liveness(run.path)
    if liveness == "dead":
        return "dead (status says running, but no live process holds it: rerun to resume)"
    return "running" if liveness == "live" else "running (liveness unknown)"


def _run_note(run: Run) -> str:
    """Why a run failed, whether it came from the zoo, and its curve check."""
    notes = []
    if run.status.get("reason"):
        notes.append(str(run.status["reason"]))
    zoo = _read_json(RunDir(run.path).zoo_marker)
    if zoo:
        name = Path(zoo.get("zoo_run", "")).parts[-4:]
        notes.append("shipped zoo column (" + "/".join(name) + "), not trained here")
    check = _read_json(RunDir(run.path).curve_check)
    if check and check.get("ok") is not None:
        verdict = "agrees" if check["ok"] else "DISAGREES"
        notes.append(
            f"curve check: last point {check['curve_mean']:.2f} {verdict} with "
            f"{check['eval_episodes']} evaluation episodes {check['eval_mean']:.2f}"
        )
    return "; ".join(notes)


# -- figures ----------------------------------------------------------------------------


def _plt() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig: Any, out_dir: Path, name: str) -> str:
    path = out_dir / name
    fd, tmp = tempfile.mkstemp(prefix=f".{name}.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    fig.savefig(tmp, dpi=100, format="png", bbox_inches="tight")
    os.replace(tmp, path)
    _plt().close(fig)
    return name


def _short(task: str) -> str:
    return task.split("/", 1)[-1]


def _heatmaps(cells: list[CellResult], out_dir: Path) -> list[str]:
    from matplotlib.colors import TwoSlopeNorm

    plt = _plt()
    names = []
    targets = sorted({c.target for c in cells})
    for label in [lab for lab in AGENT_ORDER if any(c.label == lab for c in cells)]:
        rows = sorted({c.sources for c in cells if c.label == label})
        grid = np.full((len(rows), len(targets)), np.nan)
        text = [["" for _ in targets] for _ in rows]
        for c in cells:
            if c.label != label:
                continue
            i, j = rows.index(c.sources), targets.index(c.target)
            grid[i, j] = _heat_value(c)
            text[i][j] = _cell_text(c)
        fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(targets), 0.9 + 0.6 * len(rows)))
        shown = np.clip(grid, 0, 200)
        cmap = plt.get_cmap("RdBu").with_extremes(bad="#dddddd")
        im = ax.imshow(
            np.ma.masked_invalid(shown), cmap=cmap, norm=TwoSlopeNorm(vmin=0, vcenter=100, vmax=200)
        )
        ax.set_xticks(range(len(targets)), [_short(t) for t in targets], rotation=45, ha="right")
        ax.set_yticks(
            range(len(rows)), [" > ".join(_short(s) for s in r) or "(none)" for r in rows]
        )
        for i in range(len(rows)):
            for j in range(len(targets)):
                ax.text(j, i, text[i][j] or "", ha="center", va="center", fontsize=8)
        ax.set_xlabel("target")
        ax.set_ylabel("source (column order)")
        ax.set_title(
            f"{label}: transfer % or FT (colour: % clipped at 200, FT as 100+100*FT)",
            fontsize=9,
        )
        fig.colorbar(im, ax=ax, fraction=0.04)
        names.append(_save(fig, out_dir, f"heatmap_{label}.png"))
    return names


def _curves(cells: list[CellResult], out_dir: Path) -> list[str]:
    plt = _plt()
    names = []
    for target in sorted({c.target for c in cells}):
        fig, ax = plt.subplots(figsize=(7, 4))
        for c in cells:
            if c.target != target or not c.finished:
                continue
            best = max(c.finished, key=lambda r: r.auc if math.isfinite(r.auc) else -1e18)
            x = [r["env_steps"] for r in best.curve]
            y = [r["episode_return_mean"] for r in best.curve]
            ax.plot(x, y, label=f"{c.label} ({c.source_label})", lw=1.2)
        floor = next(c.floor for c in cells if c.target == target)
        ax.axhline(floor, color="grey", ls=":", label="random policy (floor)")
        ax.set_xlabel("env (agent) steps")
        ax.set_ylabel("mean episode score")
        ax.set_title(f"learning curves on {target} (best job per cell)", fontsize=10)
        ax.legend(fontsize=7, loc="best")
        names.append(_save(fig, out_dir, f"curves_{target.replace('/', '-')}.png"))
    return names


def _afs_figures(cells: list[CellResult], out_dir: Path) -> tuple[list[str], list[dict]]:
    plt = _plt()
    rows, names = [], []
    for c in cells:
        for r in c.finished:
            afs = _read_json(r.path / "afs.json")
            if afs and "layers" in afs:
                layers = afs["layers"]
                new = float(np.mean([layers[lay]["columns"][-1] for lay in layers]))
                rows.append({"cell": c, "afs": layers, "mean_new": new})
                break
    if not rows:
        return names, rows
    n = len(rows)
    fig, axes = plt.subplots(1, n, figsize=(3.2 * n, 3), squeeze=False)
    for ax, row in zip(axes[0], rows, strict=True):
        layers = list(row["afs"])
        k = len(row["afs"][layers[0]]["columns"])
        bottom = np.zeros(len(layers))
        for col in range(k):
            vals = np.array([row["afs"][lay]["columns"][col] for lay in layers])
            ax.bar(layers, vals, bottom=bottom, label=f"column {col + 1}")
            bottom += vals
        c = row["cell"]
        ax.set_title(f"{c.label}\n{c.source_label} -> {_short(c.target)}", fontsize=8)
        ax.set_ylim(0, 1)
    axes[0][0].set_ylabel("AFS share per layer")
    axes[0][-1].legend(fontsize=7)
    names.append(_save(fig, out_dir, "afs_per_layer.png"))
    fig, ax = plt.subplots(figsize=(5, 4))
    xs = [row["mean_new"] for row in rows]
    ys = [min(row["cell"].transfer, 400) for row in rows]
    ax.scatter(xs, ys)
    for row, x, y in zip(rows, xs, ys, strict=True):
        ax.annotate(_short(row["cell"].target), (x, y), fontsize=7)
    ax.set_xlabel("mean AFS of the new column (over layers)")
    ax.set_ylabel("transfer % (clipped at 400)")
    ax.axhline(100, color="grey", ls=":")
    names.append(_save(fig, out_dir, "transfer_vs_afs.png"))
    return names, rows


DEN_LAYERS = ("conv1", "conv2", "conv3", "fc")


def _den_growth_rows(runs: list[Run]) -> list[list[str]]:
    """DEN's growth, from each finished DEN run's ``den.json``: per task of its network,
    the units per layer it computes with, the units added and split at that task, and the
    expansion test's decision. Empty when the results hold no DEN run."""
    header = [
        "run (tasks in order)",
        "task",
        *(f"units {n}" for n in DEN_LAYERS),
        "added (conv1/conv2/conv3/fc)",
        "split (conv1/conv2/conv3/fc)",
        "near-zero weights % (conv1/conv2/conv3/fc)",
        "expanded",
        "score at test",
    ]
    rows: list[list[str]] = []
    for r in sorted(runs, key=lambda r: (r.config.get("task", ""), str(r.path))):
        if r.config.get("agent") != "den" or r.state != "done":
            continue
        data = _read_json(r.path / "den.json")
        if not data or "growth" not in data:
            continue
        tasks = [*r.config.get("sources", []), r.config.get("task")]
        for g in data["growth"]:
            t = int(g["task"])
            expanded = g.get("expanded")
            score = g.get("score_at_test")
            rows.append(
                [
                    " > ".join(map(str, tasks)),  # a first-task run is its task alone
                    f"{t}: {tasks[t] if t < len(tasks) else '?'}",
                    *(str(g["units"][n]) for n in DEN_LAYERS),
                    "/".join(str(g["added"][n]) for n in DEN_LAYERS),
                    "/".join(str(g["split"][n]) for n in DEN_LAYERS),
                    "/".join(f"{100 * g['near_zero'][n]:.0f}" for n in DEN_LAYERS)
                    if "near_zero" in g
                    else "-",
                    "-" if expanded is None else ("yes" if expanded else "no"),
                    "-" if score is None else _fmt(score, 3),
                ]
            )
    return [header, *rows] if rows else []


def _forgetting_rows(
    cells: list[CellResult], runs: list[Run], floors: dict[str, float]
) -> tuple[list[dict], int]:
    """Forgetting per transferred cell (its best finished job), from the same-episode
    evaluations of the source run and the target run (``forgetting_<task>.json``), and
    the number of cells left out because they have only evaluations of other episodes
    (an ``eval_<source>.json`` of results made before that protocol)."""
    out, omitted = [], 0
    for c in cells:
        if not c.sources:
            continue
        other_episodes = False
        for r in c.finished:
            source = c.sources[-1]
            after = _read_json(RunDir(r.path).forgetting_eval(source))
            src_run = next(
                (
                    s
                    for s in runs
                    if s.config["task"] == source
                    and s.state == "done"
                    and s.config["agent"] == source_agent(r.config["agent"], c.sources)
                    and tuple(s.config["sources"]) == c.sources[:-1]
                ),
                None,
            )
            before = _read_json(RunDir(src_run.path).forgetting_eval(source)) if src_run else None
            if not after or not before or "scores" not in after or "scores" not in before:
                other_episodes |= RunDir(r.path).eval(source).is_file()
                continue
            protocol = ("episodes", "seed", "greedy")
            if any(before.get(k) != after.get(k) for k in protocol):
                other_episodes = True  # their difference is not forgetting
                continue
            f = forgetting(before["mean"], after["mean"], floors.get(source, 0.0))
            changed = sum(a != b for a, b in zip(before["scores"], after["scores"], strict=True))
            out.append(
                {
                    "label": c.label,
                    "source": source,
                    "target": c.target,
                    "before": before["mean"],
                    "after": after["mean"],
                    "episodes": len(after["scores"]),
                    "changed": changed,
                    **f,
                }
            )
            break
        else:  # no job of the cell has a same-episode pair
            omitted += int(other_episodes)
    return out, omitted


def _forgetting_figure(rows: list[dict], out_dir: Path) -> list[str]:
    if not rows:
        return []
    plt = _plt()
    fig, ax = plt.subplots(figsize=(max(5, 0.5 * len(rows) + 2), 3.5))
    labels = [f"{r['label']}\n{_short(r['target'])}" for r in rows]
    ax.bar(range(len(rows)), [r["absolute"] for r in rows])
    ax.set_xticks(range(len(rows)), labels, rotation=60, ha="right", fontsize=7)
    ax.set_ylabel("source score lost (before - after)")
    ax.axhline(0, color="black", lw=0.8)
    ax.set_title("forgetting of the source task after training on the target", fontsize=9)
    return [_save(fig, out_dir, "forgetting.png")]


# -- tables -----------------------------------------------------------------------------


def _table1(cells: list[CellResult], domain: str) -> tuple[str, list[list[str]]]:
    proxy = domain == "catch_soup"
    with_raw = any(math.isfinite(c.transfer_raw) for c in cells)
    header = [
        "agent",
        "mean %",
        "median %",
        "targets (ratio)",
        "positive",
        "negative",
        "mean FT",
        "median FT",
        "targets (FT)",
    ]
    if with_raw:
        header += ["raw mean % (paper's formula)", "raw median %", "targets (raw)"]
    header.append(
        "paper Pong Soup mean/median % (Catch Soup is only a proxy)"
        if proxy
        else "paper mean/median %"
    )
    rows = []
    for label in AGENT_ORDER:
        mine = [c for c in cells if c.label == label]
        if not mine:
            continue
        scores = [c.shown_transfer for c in mine]
        s = summarize_transfer(scores)
        signs = count_transfer_signs([x for x in scores if math.isfinite(x)])
        ft = summarize_transfer([c.forward_transfer for c in mine])
        paper = PAPER_TABLE1.get(label, {}).get(domain.replace("catch_soup", "pong_soup"))
        row = [
            label,
            _fmt(s["mean"], 0),
            _fmt(s["median"], 0),
            str(s["n"]),
            str(signs["positive"]),
            str(signs["negative"]),
            _fmt(ft["mean"], 2),
            _fmt(ft["median"], 2),
            str(ft["n"]),
        ]
        if with_raw:
            raw = summarize_transfer([c.transfer_raw for c in mine])
            row += [_fmt(raw["mean"], 0), _fmt(raw["median"], 0), str(raw["n"])]
        row.append(f"{paper[0]:.0f} / {paper[1]:.0f}" if paper else "-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines), [header] + rows


def _md_table(rows: list[list[str]]) -> str:
    out = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
    out += ["| " + " | ".join(str(v) for v in r) + " |" for r in rows[1:]]
    return "\n".join(out)


def _html_table(rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in rows[0])
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in rows[1:]
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


# Marks the page once every figure has decoded (body data-figures-loaded="k/n"): lets a
# headless browser check that the self-contained figures really render.
_LOADED_SCRIPT = (
    "<script>window.addEventListener('load',function(){var i=document.images,k=0;"
    "for(var j=0;j<i.length;j++){if(i[j].complete&&i[j].naturalWidth>0)k++;}"
    "document.body.dataset.figuresLoaded=k+'/'+i.length;});</script>"
)


def build_report(root: str | Path, top_k: int | None = None, allow_damaged: bool = False) -> Path:
    """Write the report for the results under ``root``; returns ``root/report``.

    Damaged result files (a truncated ``status.json``, a corrupt ``curve.csv``...) stop
    the build before anything is written, naming each file; with ``allow_damaged`` the
    report is built and lists them (their runs show as missing or empty).

    Raises:
        FileNotFoundError: when ``root`` is not a directory.
        DamagedResultsError: damaged files, unless ``allow_damaged``.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no results directory at {root}")
    damaged = scan_damage(root)
    if damaged and not allow_damaged:
        raise DamagedResultsError(
            f"{len(damaged)} damaged result file(s): "
            + "; ".join(damaged)
            + ". Repair or delete them (a rerun retrains a run whose files are gone), or "
            "build the report anyway with --allow-damaged"
        )
    out_dir = root / "report"
    out_dir.mkdir(exist_ok=True)
    plan = _read_json(root / "plan.json") or {}
    top_k = top_k or int(plan.get("top_k", 3))
    runs = collect_runs(root)
    cells = _cells(root, runs, top_k)
    tasks = {c.target for c in cells} | {s for c in cells for s in c.sources}
    floors, floor_source = _floors(root, tasks)
    domain = plan.get("domain") or (cells[0].target.split("/")[0] if cells else "unknown")

    # transfer_matrix.csv
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(MATRIX_FIELDS)
    for c in cells:
        writer.writerow(
            [
                c.label,
                c.source_label,
                c.target,
                _fmt(c.transfer, 2),
                _fmt(c.auc, 4),
                _fmt(c.auc_baseline, 4),
                _fmt(c.floor, 4),
                len(c.finished),
                c.measure,
                _fmt(c.forward_transfer, 4),
                _fmt(c.auc_norm, 4),
                _fmt(c.auc_norm_baseline, 4),
                _fmt(c.top, 4),
                _fmt(c.transfer_raw, 2),
            ]
        )
    _write(out_dir / "transfer_matrix.csv", buf.getvalue())
    table_text, table_rows = _table1(cells, domain)
    _write(
        out_dir / "table1.txt",
        f"Table 1 ({domain}, transfer %, top-{top_k} jobs by AUC)\n" + table_text + "\n",
    )

    figures = {
        "heatmaps": _heatmaps(cells, out_dir) if cells else [],
        "curves": _curves(cells, out_dir) if cells else [],
    }
    afs_names, _ = _afs_figures(cells, out_dir)
    figures["afs"] = afs_names
    forget, forget_omitted = _forgetting_rows(cells, runs, floors)
    forget_note = FORGETTING_NOTE + (
        f" {forget_omitted} transferred cell(s) not shown: their source and target runs were "
        "not evaluated on the same episodes (results made before this protocol); `xfer "
        "bench` on the same results evaluates them, where the runs' weights are kept."
        if forget_omitted
        else ""
    )
    figures["forgetting"] = _forgetting_figure(forget, out_dir)

    matrix_rows = [
        [
            "agent",
            "source",
            "target",
            "transfer",
            "AUC",
            "AUC baseline 1",
            "floor",
            "AUC_n",
            "ratio %",
            "FT",
            "jobs done/planned",
        ]
    ] + [
        [
            c.label,
            c.source_label,
            c.target,
            _cell_text(c),
            _fmt(c.auc, 3),
            _fmt(c.auc_baseline, 3),
            _fmt(c.floor, 3),
            _fmt(c.auc_norm, 3),
            _fmt(c.transfer, 0),
            _fmt(c.forward_transfer, 2),
            f"{len(c.finished)}/{max(c.expected_jobs, len(c.runs))}",
        ]
        for c in cells
    ]
    planned = {(m["label"], tuple(m["sources"]), m["target"]) for m in plan.get("cells", [])}
    have = {
        (
            agent_label(r.config["agent"], r.config["sources"]),
            tuple(r.config["sources"]),
            r.config["task"],
        )
        for r in runs
    }
    run_rows = (
        [["run", "state", "env steps", "AUC", "note"]]
        + [
            [
                str(r.path.relative_to(root)),
                _shown_state(r),
                _fmt(r.curve[-1]["env_steps"], 0) if r.curve else "0",
                _fmt(r.auc, 3),
                _run_note(r),
            ]
            for r in runs
        ]
        + [
            [f"{lab} {'>'.join(src)} -> {t}", "missing", "0", "n/a", "not started"]
            for lab, src, t in sorted(planned - have)
        ]
    )
    floor_rows = [["task", "floor", "source"]] + [
        [t, _fmt(floors[t], 3), floor_source[t]] for t in sorted(floors)
    ]
    den_rows = _den_growth_rows(runs)
    forget_rows = [
        [
            "agent",
            "source",
            "target",
            "source score before",
            "after",
            "lost",
            "lost (relative)",
            "episodes scored differently",
        ]
    ] + [
        [
            f["label"],
            f["source"],
            f["target"],
            _fmt(f["before"], 3),
            _fmt(f["after"], 3),
            _fmt(f["absolute"], 3),
            _fmt(f["relative"], 2),
            f"{f['changed']} of {f['episodes']}",
        ]
        for f in forget
    ]
    method = (
        "AUC = area under the learning curve over env steps / steps spanned (mean score over "
        "training). Transfer = (AUC(agent) - floor) / (AUC(baseline 1) - floor) x 100, floor = "
        "mean score of a uniformly random policy on the target. The paper's ratio is shown "
        "only where baseline 1 clearly left the floor: its normalised AUC (scores mapped to "
        "[0, 1] between the floor and the top: the game's maximum, 21 for Pong, 1 for Catch, "
        f"else the best curve point on the target) is at least {RATIO_MIN_BASELINE}. "
        "Elsewhere the cell shows Continual World's forward transfer "
        "FT = (AUC_n(agent) - AUC_n(baseline 1)) / (1 - AUC_n(baseline 1)) on the normalised "
        "AUCs (0 = as baseline 1, 1 = solved from the start, < 0 = worse than baseline 1; "
        "coloured as 100 + 100 x FT). Table 1 summarises each measure over the cells that "
        f"show it. Each cell: mean of the top {top_k} finished jobs by AUC. "
        "Positive/negative transfer: above 110% / below 90%. "
        "The paper's own ratio is raw AUC over raw AUC, with no floor; where a target's "
        "scores cannot be negative (floor and every curve point >= 0, most Atari games) "
        "Table 1 and transfer_matrix.csv (transfer_raw) also give that raw ratio, the one "
        "to compare with the paper's numbers. Floors are measured over a few random "
        "episodes; their standard errors are in the floors table."
        + (
            " Catch Soup is a small proxy task built for this suite: its Table 1 sits beside "
            "the paper's Pong Soup row for orientation only, not as a like-for-like comparison."
            if domain == "catch_soup"
            else ""
        )
    )
    notes = " ".join(
        f"{label}: {text.rstrip('.')}."
        for label, text in (
            ("Budget", plan.get("budget_notes", "")),
            ("Matrices of this suite", plan.get("suite_notes", "")),
        )
        if text
    )
    title = f"xfer-bench report: {plan.get('suite', root.name)} (budget {plan.get('budget', '?')})"

    md = [
        f"# {title}",
        "",
        method,
        "",
        f"Budget and matrix: {notes or 'n/a'}",
        "",
        f"## Table 1 ({domain})",
        "",
        _md_table(table_rows),
        "",
        "## Transfer matrix",
        "",
        _md_table(matrix_rows),
        "",
    ]
    for name in figures["heatmaps"] + figures["curves"] + figures["afs"] + figures["forgetting"]:
        md += [f"![{name}]({name})", ""]
    if forget or forget_omitted:
        md += ["## Forgetting", "", forget_note, ""]
        md += [_md_table(forget_rows), ""] if forget else []
    if den_rows:
        md += ["## DEN growth", "", DEN_NOTE, "", _md_table(den_rows), ""]
    md += ["## Floors", "", _md_table(floor_rows), "", "## Runs", "", _md_table(run_rows), ""]
    if damaged:
        md += ["## Damaged files (built with --allow-damaged)", ""]
        md += [f"- {d}" for d in damaged] + [""]
    _write(out_dir / "report.md", "\n".join(md))

    def img(name: str) -> str:
        data = base64.b64encode((out_dir / name).read_bytes()).decode()
        src = f"data:image/png;base64,{data}"
        return f'<figure><img alt="{name}" src="{src}"><figcaption>{name}</figcaption></figure>'

    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(method)}</p>",
        f"<p><b>Budget and matrix:</b> {html.escape(notes or 'n/a')}</p>",
        f"<h2>Table 1 ({html.escape(domain)})</h2>",
        _html_table(table_rows),
        "<h2>Transfer matrices</h2>",
        *map(img, figures["heatmaps"]),
        _html_table(matrix_rows),
        "<h2>Learning curves</h2>",
        *map(img, figures["curves"]),
    ]
    if figures["afs"]:
        parts += ["<h2>Average Fisher sensitivity</h2>", *map(img, figures["afs"])]
    if forget or forget_omitted:
        parts += ["<h2>Forgetting</h2>", f"<p>{html.escape(forget_note)}</p>"]
        if forget:
            parts += [*map(img, figures["forgetting"]), _html_table(forget_rows)]
    if den_rows:
        parts += ["<h2>DEN growth</h2>", f"<p>{html.escape(DEN_NOTE)}</p>", _html_table(den_rows)]
    parts += ["<h2>Floors</h2>", _html_table(floor_rows), "<h2>Runs</h2>", _html_table(run_rows)]
    if damaged:
        parts += [
            "<h2>Damaged files (built with --allow-damaged)</h2><ul>"
            + "".join(f"<li>{html.escape(d)}</li>" for d in damaged)
            + "</ul>"
        ]
    style = (
        "body{font-family:sans-serif;max-width:1100px;margin:2em auto;}"
        "table{border-collapse:collapse;font-size:13px;margin:1em 0;}"
        "td,th{border:1px solid #ccc;padding:3px 6px;}img{max-width:100%;}"
    )
    _write(
        out_dir / "index.html",
        f"<!doctype html><html><head><meta charset='utf-8'><title>"
        f"{html.escape(title)}</title><style>{style}</style></head><body>"
        + "\n".join(parts)
        + _LOADED_SCRIPT
        + "</body></html>\n",
    )
    _log_to_wandb(out_dir, figures, matrix_rows, table_rows)
    return out_dir


def _log_to_wandb(out_dir: Path, figures: dict, matrix_rows: list, table_rows: list) -> None:
    """Log figures and tables to the active wandb run, if there is one."""
    import sys

    wandb = sys.modules.get("wandb")
    if wandb is None or getattr(wandb, "run", None) is None:
        return
    payload: dict[str, Any] = {
        "transfer_matrix": wandb.Table(columns=matrix_rows[0], data=matrix_rows[1:]),
        "table1": wandb.Table(columns=table_rows[0], data=table_rows[1:]),
    }
    for names in figures.values():
        for name in names:
            payload[f"report/{name}"] = wandb.Image(str(out_dir / name))
    wandb.run.log(payload)
