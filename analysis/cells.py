"""Aggregation of runs into matrix cells and tables: pure functions of what was read.

A cell is one (agent, source chain, target) entry; its score is the mean of the top-k
finished jobs' AUCs, its transfer the paper's ratio over baseline 1 (floor-shifted) and
Continual World's forward transfer on normalised AUCs. Table 1, the forgetting table and
DEN's growth table are rows of strings built here; ``tests/analysis`` checks them
against hand computations on small synthetic trees.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from analysis.metrics import (
    asymptotic_score,
    count_transfer_signs,
    forgetting,
    forward_transfer,
    jumpstart_score,
    normalized_auc,
    speed_up_of_times,
    summarize_transfer,
    time_to_threshold,
    top_k_mean,
    transfer_score,
)
from analysis.paper import AGENT_ORDER, PAPER_TABLE1, agent_label
from analysis.results import Run, read_json
from analysis.stats import (
    Estimate,
    aggregate_iqm,
    ft_mean_interval,
    grouped_interval,
    improvement_interval,
    mean_interval,
    probability_of_improvement,
)
from runstore.config import source_agent, source_seed_for
from runstore.rundir import RunDir

__all__ = [
    "CellResult",
    "group_cells",
    "score_cells",
    "fmt",
    "cell_text",
    "interval_text",
    "AgentSummary",
    "agent_summaries",
    "mean_curve",
    "heat_value",
    "table1",
    "forgetting_rows",
    "den_growth_rows",
    "GAME_MAXIMUM",
    "RATIO_MIN_BASELINE",
]

# Highest possible score per domain: the top of the normalised scores (other domains use
# the best curve point any run reached on the target).
GAME_MAXIMUM = {"catch_soup": 1.0, "pong_soup": 21.0}
# The paper's ratio is shown where every run of baseline 1 has a normalised AUC of at
# least this (each covered 10% of the way from the floor to the top on average: no
# baseline run near the floor, where the ratio's denominator is noise). Elsewhere forward
# transfer.
RATIO_MIN_BASELINE = 0.1


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
    # the runs (seeds, or the top-k jobs) the estimates average, and their 95% intervals
    aucs: list[float] = field(default_factory=list)
    aucs_norm: list[float] = field(default_factory=list)
    auc_ci: Estimate | None = None
    auc_norm_ci: Estimate | None = None
    base_norm_min: float = math.nan  # baseline 1's lowest run (the ratio's gate)
    transfer_ci: Estimate | None = None
    ft_ci: Estimate | None = None
    # Taylor and Stone's measures per run, and per cell with their intervals
    starts: list[float] = field(default_factory=list)
    asymptotes: list[float] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    counted: list[Run] = field(default_factory=list)  # the runs behind the estimates
    jumpstart: Estimate | None = None  # the cell's first points minus baseline 1's
    asymptotic: Estimate | None = None  # the cell's own score at the end of its curves
    time: Estimate | None = None  # median steps to the threshold (inf: not reached)
    speed_up: Estimate | None = None  # PathNet's: baseline 1's median time / the cell's

    @property
    def n(self) -> int:
        """Runs behind the cell's estimates (finished seeds or top-k jobs)."""
        return len(self.aucs)

    @property
    def measure(self) -> str:
        """``ratio`` (the paper's %) where baseline 1 clearly left the floor (the
        normalised AUC of every one of its runs at least :data:`RATIO_MIN_BASELINE`),
        else ``ft``."""
        base = self.base_norm_min
        return "ratio" if math.isfinite(base) and base >= RATIO_MIN_BASELINE else "ft"

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


def group_cells(runs: list[Run], plan: dict[str, Any]) -> dict[tuple, CellResult]:
    """The matrix's cells with their runs: every planned cell (``plan.json``'s), and the
    cells of runs outside a plan when there is none."""
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
    return cells


def _score_cell(cell: CellResult, floor: float, top: float, top_k: int) -> None:
    """A cell's own numbers: AUC and normalised AUC of its top-k jobs, its lowest point."""
    cell.floor, cell.top = floor, top
    by_auc = sorted(
        cell.finished, key=lambda r: r.auc if math.isfinite(r.auc) else -math.inf, reverse=True
    )
    best = by_auc[:top_k]
    cell.counted = best
    cell.aucs = [r.auc for r in best if math.isfinite(r.auc)]
    cell.auc = top_k_mean([r.auc for r in best], top_k)
    points = [
        p["episode_return_mean"]
        for r in best
        for p in r.curve
        if math.isfinite(p["episode_return_mean"])
    ]
    cell.min_score = min(points, default=math.nan)
    norms = [
        normalized_auc(
            [p["env_steps"] for p in r.curve],
            [p["episode_return_mean"] for p in r.curve],
            cell.floor,
            cell.top,
        )
        for r in best
    ]
    cell.aucs_norm = [x for x in norms if math.isfinite(x)]
    cell.auc_norm = top_k_mean(norms, top_k)
    if cell.aucs:
        cell.auc_ci = mean_interval(cell.aucs)
    if cell.aucs_norm:
        cell.auc_norm_ci = mean_interval(cell.aucs_norm)
    _taylor_stone(cell, best)


def _taylor_stone(cell: CellResult, runs: list[Run]) -> None:
    """Each run's first point, asymptotic score and time to the threshold; the cell's
    asymptotic score and median time, with their intervals."""
    curves = [
        ([p["env_steps"] for p in r.curve], [p["episode_return_mean"] for p in r.curve])
        for r in runs
    ]
    cell.starts = [v for c in curves if math.isfinite(v := jumpstart_score(*c))]
    cell.asymptotes = [v for c in curves if math.isfinite(v := asymptotic_score(*c))]
    cell.times = [
        v for c in curves if not math.isnan(v := time_to_threshold(*c, cell.floor, cell.top))
    ]
    if cell.asymptotes:
        cell.asymptotic = mean_interval(cell.asymptotes)
    if cell.times:
        cell.time = grouped_interval([(np.array(cell.times),)], _median_of_first, allow_inf=True)


def _median_of_first(groups: list[tuple[np.ndarray, ...]]) -> float:
    """The median, with ``inf`` (never reached) as the largest values."""
    x = np.sort(groups[0][0])
    return (
        float(x[(len(x) - 1) // 2])
        if len(x) % 2
        else float(np.mean(x[len(x) // 2 - 1 : len(x) // 2 + 1]))
    )


def _difference_of_means(groups: list[tuple[np.ndarray, ...]]) -> float:
    x, y = groups[0]
    return float(np.mean(x) - np.mean(y))


def _compare_to_baseline(cell: CellResult, base: CellResult | None) -> None:
    """Transfer, the paper's raw ratio and forward transfer against baseline 1's cell."""
    cell.auc_baseline = base.auc if base else math.nan
    cell.auc_norm_baseline = base.auc_norm if base else math.nan
    cell.base_norm_min = min(base.aucs_norm, default=math.nan) if base else math.nan
    cell.transfer = transfer_score(cell.auc, cell.auc_baseline, cell.floor)
    # the paper's own ratio is raw AUC over raw AUC (no floor); it means the same only
    # where scores cannot go negative, so it is shown only there
    if base and cell.floor >= 0 and min(cell.min_score, base.min_score) >= 0:
        cell.transfer_raw = transfer_score(cell.auc, cell.auc_baseline, 0.0)
    if math.isfinite(cell.auc_norm) and math.isfinite(cell.auc_norm_baseline):
        cell.forward_transfer = forward_transfer(cell.auc_norm, cell.auc_norm_baseline)
    if base is not None and cell.starts and base.starts:
        cell.jumpstart = grouped_interval(
            [(np.array(cell.starts), np.array(base.starts))], _difference_of_means
        )
    if base is not None and cell.times and base.times:
        cell.speed_up = grouped_interval(
            [(np.array(base.times), np.array(cell.times))],
            lambda g: speed_up_of_times(g[0][0], g[0][1]),
            allow_inf=True,
        )
    if base is None or not cell.aucs or not base.aucs:
        return
    floor = cell.floor
    cell.transfer_ci = grouped_interval(
        [(np.array(cell.aucs), np.array(base.aucs))],
        lambda g: transfer_score(float(np.mean(g[0][0])), float(np.mean(g[0][1])), floor),
    )
    if cell.aucs_norm and base.aucs_norm and math.isfinite(cell.forward_transfer):
        cell.ft_ci = ft_mean_interval([(np.array(cell.aucs_norm), np.array(base.aucs_norm))])


def score_cells(
    cells: dict[tuple, CellResult], floors: dict[str, float], top_k: int
) -> list[CellResult]:
    """Every cell's numbers, in Table 1's agent order (then sources, target)."""
    tops = _tops(cells.values())
    for cell in cells.values():
        _score_cell(cell, floors[cell.target], tops[cell.target], top_k)
    for cell in cells.values():
        _compare_to_baseline(cell, cells.get((BASELINE, (), cell.target)))
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


def fmt(x: float, digits: int = 1) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:.{digits}f}"


def interval_text(est: Estimate | None, form: str, n: int) -> str:
    """``[lo, hi] n=3`` in ``form`` (a format spec), or ``n=1, no interval``."""
    if est is None or not est.has_interval:
        return f"n={n}, no interval" if n == 1 else f"n={n}, interval undefined"
    return f"[{est.lo:{form}}, {est.hi:{form}}] n={est.n}"


def cell_text(cell: CellResult, sep: str = " ") -> str:
    """The cell's measure with its 95% interval and n: ``FT +0.06 [+0.01, +0.10] n=3``
    or ``121% [95%, 140%] n=3``; a cell with one run says it has no interval."""
    if not cell.finished:
        states = sorted({r.state for r in cell.runs}) or ["missing"]
        return "/".join(states)
    if cell.measure == "ratio" and math.isfinite(cell.transfer):
        ci = interval_text(cell.transfer_ci, ".0f", cell.n).replace("]", "%]").replace(",", "%,")
        return f"{cell.transfer:.0f}%{sep}{ci}"
    if math.isfinite(cell.forward_transfer):
        return f"FT {cell.forward_transfer:+.2f}{sep}{interval_text(cell.ft_ci, '+.2f', cell.n)}"
    return "undefined"


def heat_value(cell: CellResult) -> float:
    """Colour scale of a cell: the ratio in %, or FT mapped onto it as 100 + 100 * FT."""
    if cell.measure == "ratio":
        return cell.transfer
    return 100.0 + 100.0 * cell.forward_transfer


DEN_LAYERS = ("conv1", "conv2", "conv3", "fc")


def den_growth_rows(runs: list[Run]) -> list[list[str]]:
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
        if r.state != "done" or not RunDir(r.path).den.is_file():
            continue  # den.json: written by DEN's hooks (methods.den) at a run's end
        data = read_json(RunDir(r.path).den)
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
                    "-" if score is None else fmt(score, 3),
                ]
            )
    return [header, *rows] if rows else []


def _source_run_of(r: Run, sources: tuple[str, ...], runs: list[Run]) -> Run | None:
    """The finished run whose weights ``r`` started from: the last source's task, the
    method's source agent, the earlier sources, and the seed ``source_config`` gives it
    (``source_seed`` when the target has one, else the target's own seed)."""
    want_seed = source_seed_for(r.config.get("seed", 0), r.config.get("source_seed"))
    agent = source_agent(r.config["agent"], sources)
    return next(
        (
            s
            for s in runs
            if s.config["task"] == sources[-1]
            and s.state == "done"
            and s.config["agent"] == agent
            and tuple(s.config.get("sources", ())) == sources[:-1]
            and int(s.config.get("seed", 0)) == want_seed
        ),
        None,
    )


def forgetting_rows(
    cells: list[CellResult], runs: list[Run], floors: dict[str, float]
) -> tuple[list[dict], int, list[str]]:
    """Forgetting per transferred cell, over every finished run of the cell that has a
    same-episode pair: the run's own ``forgetting_<source>.json`` and its source run's
    (the source run of its seed, or of its ``source_seed``). Each pair gives the run's
    loss (before - after) and its relative loss; a row holds their means over the pairs
    with the interval of a cell's mean (calibrated Student t) and n (the number of
    pairs). Also returns the number of cells left out because their runs have only
    evaluations of other episodes (an ``eval_<source>.json`` of results made before that
    protocol), and a line for each cell whose runs could not play the source task at all
    (their forgetting file records why: a fine-tuned network whose head has the target's
    action count)."""
    out, omitted, unplayable = [], 0, []
    for c in cells:
        if not c.sources:
            continue
        source = c.sources[-1]
        floor = floors.get(source, 0.0)
        other_episodes = False
        pairs, errors = [], []
        for r in c.finished:
            after = read_json(RunDir(r.path).forgetting_eval(source))
            if after and "error" in after:
                # the runner's reason; files written before it kept one have only
                # evaluate_run's "<run dir> on <task>: <reason>", read back whole
                reason = after.get("reason")
                errors.append(reason or str(after["error"]).split(f" on {source}: ", 1)[-1])
                continue
            src_run = _source_run_of(r, c.sources, runs)
            before = read_json(RunDir(src_run.path).forgetting_eval(source)) if src_run else None
            if not after or not before or "scores" not in after or "scores" not in before:
                other_episodes |= RunDir(r.path).eval(source).is_file()
                continue
            protocol = ("episodes", "seed", "greedy")
            if any(before.get(k) != after.get(k) for k in protocol):
                other_episodes = True  # their difference is not forgetting
                continue
            changed = sum(a != b for a, b in zip(before["scores"], after["scores"], strict=True))
            f = forgetting(before["mean"], after["mean"], floor)
            pairs.append((before["mean"], after["mean"], f, changed, len(after["scores"])))
        if errors:
            reasons = "; ".join(sorted(set(errors)))
            unplayable.append(
                f"{c.label} {source} -> {c.target}: {len(errors)} run(s) cannot play "
                f"{source} ({reasons})"
            )
        if not pairs:
            omitted += int(other_episodes)
            continue
        absolute = np.array([p[2]["absolute"] for p in pairs])
        relative = np.array([p[2]["relative"] for p in pairs])
        relative = relative[np.isfinite(relative)]
        out.append(
            {
                "label": c.label,
                "source": source,
                "target": c.target,
                "n": len(pairs),
                "before": float(np.mean([p[0] for p in pairs])),
                "after": float(np.mean([p[1] for p in pairs])),
                "episodes": int(sum(p[4] for p in pairs)),
                "changed": int(sum(p[3] for p in pairs)),
                "absolute": float(np.mean(absolute)),
                "absolute_ci": mean_interval(absolute),
                "relative": float(np.mean(relative)) if relative.size else math.nan,
                "relative_ci": mean_interval(relative) if relative.size else None,
                "relative_n": int(relative.size),
            }
        )
    return out, omitted, unplayable


BASELINE = "baseline1-scratch"


def ft_groups(mine: list[CellResult], bases: dict[str, CellResult]) -> list[tuple]:
    """(the cell's normalised AUCs per run, its baseline 1's) for every cell of an agent
    with a forward transfer."""
    return [
        (np.array(c.aucs_norm), np.array(bases[c.target].aucs_norm))
        for c in mine
        if c.target in bases
        and c.aucs_norm
        and bases[c.target].aucs_norm
        and math.isfinite(c.forward_transfer)
    ]


def per_run_ft(groups: list[tuple]) -> list[np.ndarray]:
    """Each run's forward transfer against its baseline 1's mean, per cell (task)."""
    out = []
    for x, y in groups:
        ref = float(np.mean(y))
        out.append((x - ref) / (1.0 - ref))
    return out


def ft_mean(groups: list[tuple]) -> float:
    """Mean over cells of each cell's mean per-run FT (= FT of the mean, FT being linear)."""
    return float(np.mean([np.mean(v) for v in per_run_ft(groups)]))


def ft_iqm(groups: list[tuple]) -> float:
    """Interquartile mean of every run's FT over the agent's cells (rliable's IQM)."""
    return aggregate_iqm(np.concatenate(per_run_ft(groups)))


def improvement(groups: list[tuple]) -> float:
    """Probability that a run of the agent beats a run of baseline 1 on the same target
    (normalised AUC; ties half), averaged over targets."""
    return float(np.mean([probability_of_improvement(x, y) for x, y in groups]))


def ft_median(groups: list[tuple]) -> float:
    """Median over cells of each cell's forward transfer (of its mean normalised AUCs)."""
    return float(
        np.median([forward_transfer(float(np.mean(x)), float(np.mean(y))) for x, y in groups])
    )


# AgentSummary's forward-transfer estimates, in its field order
STATISTICS = (ft_mean, ft_iqm, improvement, ft_median)


def ratio_groups(mine: list[CellResult], bases: dict[str, CellResult]) -> list[tuple]:
    """(the cell's AUCs per run, its baseline 1's) for every cell of an agent whose
    measure is the paper's ratio, and the floors in the same order."""
    chosen = [
        c
        for c in mine
        if c.measure == "ratio"
        and math.isfinite(c.transfer)
        and c.target in bases
        and c.aucs
        and bases[c.target].aucs
    ]
    return [(np.array(c.aucs), np.array(bases[c.target].aucs)) for c in chosen], [
        c.floor for c in chosen
    ]


def _ratios(groups: list[tuple], floors: list[float]) -> np.ndarray:
    return np.array(
        [
            transfer_score(float(np.mean(x)), float(np.mean(y)), f)
            for (x, y), f in zip(groups, floors, strict=True)
        ]
    )


@dataclass(frozen=True)
class AgentSummary:
    """One agent over its cells: forward transfer's mean, median and IQM, the probability
    of beating baseline 1, and the paper's ratio's mean and median over the cells that
    show it, each with its stratified bootstrap interval (None: no such cell), and the
    seeds per cell."""

    label: str
    targets: int
    seeds: str
    ft_mean: Estimate | None
    ft_iqm: Estimate | None
    p_improve: Estimate | None
    ft_median: Estimate | None = None
    ratio_targets: int = 0
    ratio_mean: Estimate | None = None
    ratio_median: Estimate | None = None


def agent_summaries(cells: list[CellResult]) -> list[AgentSummary]:
    """Every agent's :class:`AgentSummary`, in Table 1's order (the intervals resample
    every cell's runs and its baseline's)."""
    bases = {c.target: c for c in cells if c.label == BASELINE and not c.sources}
    out = []
    for label in AGENT_ORDER:
        mine = [c for c in cells if c.label == label]
        if not mine:
            continue
        groups = ft_groups(mine, bases)
        runs = [c.n for c in mine if c.n]
        seeds = "-"
        if runs:
            seeds = str(min(runs)) if min(runs) == max(runs) else f"{min(runs)}-{max(runs)}"
        found = [_summary_interval(groups, fn) if groups else None for fn in STATISTICS]
        rgroups, floors = ratio_groups(mine, bases)
        ratio = [None, None]
        if rgroups:
            ratio = [
                grouped_interval(rgroups, lambda g, fn=fn, f=floors: float(fn(_ratios(g, f))))
                for fn in (np.mean, np.median)
            ]
        out.append(AgentSummary(label, len(groups), seeds, *found, len(rgroups), *ratio))
    return out


PROGRESSIVE = "progressive-2col"


def progressive_against_baselines(cells: list[CellResult]) -> list[list[str]]:
    """The probability that a run of progressive-2col beats a run of each baseline on the
    same target (normalised AUC, ties half; mean over the targets both have), with its
    stratified bootstrap interval. Empty without progressive-2col cells."""
    prog = {c.target: c for c in cells if c.label == PROGRESSIVE and c.aucs_norm}
    if not prog:
        return []
    rows = [["baseline", "targets", "P(progressive-2col beats it) [CI]", "verdict"]]
    for label in AGENT_ORDER:
        if not label.startswith("baseline"):
            continue
        base = {c.target: c for c in cells if c.label == label and c.aucs_norm}
        common = sorted(set(prog) & set(base))
        if not common:
            continue
        groups = [(np.array(prog[t].aucs_norm), np.array(base[t].aucs_norm)) for t in common]
        est = improvement_interval(groups)
        rows.append([label, str(len(common)), est.text(2), verdict(est)])
    return rows if len(rows) > 1 else []


def verdict(p: Estimate) -> str:
    """What a probability of improvement's interval supports (at its calibrated level:
    at 3 runs against 3 no ranking can exclude 0.5, as the exact rank test says)."""
    if not p.has_interval:
        return "one seed per cell: no interval, an anecdote"
    if p.lo > 0.5:
        return "better (the interval is above 0.5)"
    if p.hi < 0.5:
        return "worse (the interval is below 0.5)"
    return "no difference supported (the interval spans 0.5)"


def _summary_interval(groups: list[tuple], fn: Any) -> Estimate:
    """An agent summary's estimate with its interval: FT's mean and P(improvement) with
    the calibrated intervals (:mod:`analysis.coverage`), the median and IQM with the
    stratified percentile bootstrap (not calibrated; the report says so)."""
    if fn is ft_mean:
        return ft_mean_interval(groups)
    if fn is improvement:
        return improvement_interval(groups)
    return grouped_interval(groups, fn)


def table1(
    cells: list[CellResult], domain: str, summaries: list[AgentSummary] | None = None
) -> tuple[str, list[list[str]]]:
    """Table 1 as text and rows: per agent over its cells, the paper's ratio (mean and
    median over the cells that show it) and forward transfer (mean, median, IQM), the
    probability of beating baseline 1, each with its 95% interval and the seeds per
    cell, and the paper's numbers beside them."""
    summaries = agent_summaries(cells) if summaries is None else summaries
    by_label = {s.label: s for s in summaries}
    proxy = domain == "catch_soup"
    with_raw = any(math.isfinite(c.transfer_raw) for c in cells)
    header = [
        "agent",
        "ratio % mean [bootstrap CI]",
        "ratio % median [bootstrap CI]",
        "targets (ratio)",
        "positive",
        "negative",
        "FT mean [CI]",
        "FT median [bootstrap CI]",
        "FT IQM [bootstrap CI]",
        "targets (FT)",
        "P(better than baseline 1) [CI]",
        "seeds per cell",
    ]
    if with_raw:
        header += ["raw mean % (paper's formula)", "raw median %", "targets (raw)"]
    header.append(
        "paper Pong Soup mean/median % (Catch Soup is only a proxy)"
        if proxy
        else "paper mean/median %"
    )

    def text(est: Estimate | None, digits: int, unit: str = "") -> str:
        return est.text(digits, unit=unit) if est is not None else "n/a"

    rows = []
    for label in AGENT_ORDER:
        mine = [c for c in cells if c.label == label]
        if not mine:
            continue
        s = by_label.get(label)
        scores = [c.shown_transfer for c in mine]
        signs = count_transfer_signs([x for x in scores if math.isfinite(x)])
        paper = PAPER_TABLE1.get(label, {}).get(domain.replace("catch_soup", "pong_soup"))
        row = [
            label,
            text(s.ratio_mean if s else None, 0, "%"),
            text(s.ratio_median if s else None, 0, "%"),
            str(s.ratio_targets if s else 0),
            str(signs["positive"]),
            str(signs["negative"]),
            text(s.ft_mean if s else None, 2),
            text(s.ft_median if s else None, 2),
            text(s.ft_iqm if s else None, 2),
            str(s.targets if s else 0),
            text(s.p_improve if s else None, 2),
            s.seeds if s else "-",
        ]
        if with_raw:
            raw = summarize_transfer([c.transfer_raw for c in mine])
            row += [fmt(raw["mean"], 0), fmt(raw["median"], 0), str(raw["n"])]
        row.append(f"{paper[0]:.0f} / {paper[1]:.0f}" if paper else "-")
        rows.append(row)
    widths = [max(len(str(r[i])) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True))]
    lines += ["  ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(lines), [header] + rows


def mean_curve(
    curves: list[tuple[list[float], list[float]]], points: int = 100, reps: int = 500
) -> dict[str, np.ndarray]:
    """The mean learning curve over seeds with a 95% bootstrap band, on a common grid.

    Each seed's measured points (NaN windows left out) are interpolated linearly onto
    ``points`` steps spanning every curve; a seed contributes only inside its own
    measured range. The mean and the band are given only where every seed covers the
    step (elsewhere NaN): seeds end a window apart, and a mean over the one seed whose
    last window lies beyond the others' would draw that seed alone as a jump at the end.
    At each such step the band is the 2.5th-97.5th percentile of the mean over seeds
    resampled with replacement (no band for one seed); ``n`` is how many seeds cover
    each step.

    Returns:
        ``{"steps", "mean", "lo", "hi", "n"}``, arrays of ``points`` values.
    """
    measured = []
    for steps, scores in curves:
        x, y = np.asarray(steps, float), np.asarray(scores, float)
        keep = np.isfinite(y)
        if keep.any():
            measured.append((x[keep], y[keep]))
    if not measured:
        raise ValueError("no curve has a measured point")
    grid = np.linspace(min(x[0] for x, _ in measured), max(x[-1] for x, _ in measured), points)
    table = np.full((len(measured), points), np.nan)
    for i, (x, y) in enumerate(measured):
        inside = (grid >= x[0]) & (grid <= x[-1])
        table[i, inside] = np.interp(grid[inside], x, y)
    n = np.sum(np.isfinite(table), axis=0)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a step no seed covers
        mean = np.nanmean(table, axis=0)
        idx = np.random.default_rng(0).integers(0, len(measured), (reps, len(measured)))
        boots = np.nanmean(table[idx], axis=1)  # (reps, points)
        lo, hi = np.nanpercentile(boots, [2.5, 97.5], axis=0)
    partial = n < len(measured)
    mean[partial], lo[partial], hi[partial] = np.nan, np.nan, np.nan
    lo[n < 2], hi[n < 2] = np.nan, np.nan
    return {"steps": grid, "mean": mean, "lo": lo, "hi": hi, "n": n}


SENSITIVITY_LAYERS = ("conv1", "conv2", "conv3", "fc")
SENSITIVITY_NAMES = {"afs": "AFS", "aps": "APS"}


@dataclass(frozen=True)
class Sensitivity:
    """One analysis (AFS or APS) of a cell's finished runs: per layer, the newest
    column's share (the target column's; the paper's AFS(i, k) and APS(i, k) for the last
    k), as the mean over the runs that have the analysis with its calibrated interval."""

    cell: CellResult
    kind: str
    layers: dict[str, Estimate]
    shares: dict[str, list[list[float]]]  # layer -> per run, every column's share
    episodes: list[int]  # APS: episodes per noise level, per run


def _newest_shares(data: dict[str, Any]) -> dict[str, list[float]] | None:
    layers = data.get("layers") if isinstance(data, dict) else None
    if not layers or any(lay not in layers for lay in SENSITIVITY_LAYERS):
        return None
    return {lay: layers[lay]["columns"] for lay in SENSITIVITY_LAYERS}


def _share_interval(values: list[float]) -> Estimate:
    """A layer's mean share over runs with the calibrated interval of a cell's mean (the
    one whose coverage is measured at the report's n), clipped to [0, 1], where a share
    lives (clipping keeps every interval that covered the true mean)."""
    if not values:
        return Estimate(math.nan, math.nan, math.nan, 0)
    est = mean_interval(values)
    if not est.has_interval:
        return est
    return replace(est, lo=max(est.lo, 0.0), hi=min(est.hi, 1.0))


def sensitivities(cells: list[CellResult], kind: str) -> list[Sensitivity]:
    """``kind`` ("afs" or "aps") of every cell with at least one analysed finished run.

    A layer whose newest-column share is undefined in a run (AFS: every feature of the
    layer dead) leaves that run out of the layer's estimate, so layers can differ in n.
    """
    out = []
    for cell in cells:
        per_run, episodes = [], []
        for run in cell.finished:
            data = read_json(run.path / f"{kind}.json")
            shares = _newest_shares(data) if data else None
            if shares is not None:
                per_run.append(shares)
                if "episodes" in data:
                    episodes.append(int(data["episodes"]))
        if not per_run:
            continue
        layers = {}
        for lay in SENSITIVITY_LAYERS:
            values = [s[lay][-1] for s in per_run if s[lay][-1] is not None]
            layers[lay] = _share_interval(values)
        shares = {lay: [s[lay] for s in per_run] for lay in SENSITIVITY_LAYERS}
        out.append(Sensitivity(cell, kind, layers, shares, episodes))
    return out


def sensitivity_rows(found: list[Sensitivity]) -> list[list[str]]:
    """The report's sensitivity table: per cell and analysis, the newest column's share
    per layer with its interval and n. Empty when no cell has an analysis."""
    if not found:
        return []
    header = ["agent", "source", "target", "analysis"]
    header += [f"{lay}: new column's share" for lay in SENSITIVITY_LAYERS]
    rows = [header]
    for s in found:
        name = SENSITIVITY_NAMES.get(s.kind, s.kind)
        if s.episodes:
            name += f" ({'/'.join(str(e) for e in sorted(set(s.episodes)))} ep. per level)"
        rows.append(
            [s.cell.label, s.cell.source_label, s.cell.target, name]
            + [s.layers[lay].text(2) for lay in SENSITIVITY_LAYERS]
        )
    return rows
