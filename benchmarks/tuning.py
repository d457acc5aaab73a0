"""Every agent tuned alike, on a target and seeds that no report shows (``xfer tune``).

A :class:`TuningSpec` names, per suite, a held-out tuning task (a target with its source
chain that is no cell of the suite's reports, and seeds no report uses), the budget's
steps, and one small grid per agent with the same number of points for every agent. A
point is the settings it changes (``{"lr": 1.4e-3}``); most grids vary the agent's one
key hyperparameter (scratch's and fine-tuning's learning rate on a x2 log scale,
progressive nets' initial lateral scale ``alpha_init`` on the paper's x10 one), and a
grid may hold a point that changes two (progressive at the learning rate the baselines
chose, so that every agent was tried at it).

The score of a run is its normalised AUC (the reports' measure, between the task's
random floor and its top); the choice is fixed before any run is seen: the point with
the highest mean over the tuning seeds. An agent's point is chosen once its grid is
complete (agents are chosen independently: each one's choice becomes a setting of its
own cells, :attr:`benchmarks.suites.Suite.tuned`, never a shared RunConfig default, and
source runs keep the defaults so the zoo's columns still match). A choice at either end
of the values its grid tried for a setting is flagged: a further step was not tried.
:func:`tuning_record` writes the choice with every run's evidence to ``tuning.json`` and
``tuning.md``; the suites' settings are checked against the committed records by
``tests/benchmarks/test_tuning.py``.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from methods import get_method
from runstore.atomic import write_json, write_text
from runstore.config import RunConfig, run_dir_for, settings_label
from runstore.rundir import RunDir

__all__ = [
    "TuningSpec",
    "TUNING",
    "chosen_settings",
    "held_out_problems",
    "line",
    "tuning_record",
    "tuning_runs",
]

# the rule, stated in every record
RULE = (
    "the value with the highest mean normalised AUC over the tuning seeds (fixed before "
    "the runs were seen; ties keep today's default)"
)


def _tag(point: dict[str, float]) -> str:
    """The run directory's tag: ``tune-lr0.0007``, ``tune-alpha_init1-lr0.0014``."""
    return "tune-" + "-".join(f"{field}{value:g}" for field, value in point.items())


@dataclass(frozen=True)
class TuningSpec:
    """One suite's tuning protocol.

    Attributes:
        suite: the suite whose defaults it tunes.
        target: the held-out tuning task.
        sources: the transfer agents' source chain on it (scratch has none).
        source_seed: the seed of the source run (a shipped zoo column).
        seeds: the tuning seeds (no report uses them).
        steps: agent steps per run (the suite's laptop budget).
        source_steps: the source run's steps (the zoo column's).
        grids: per agent, its points (each the settings it changes, see :func:`line`):
            the same number of points each.
        top: the top of the normalised score (the game's maximum).
    """

    suite: str
    target: str
    sources: tuple[str, ...]
    source_seed: int
    seeds: tuple[int, ...]
    steps: int
    source_steps: int
    grids: dict[str, tuple[dict[str, float], ...]]
    top: float

    def __post_init__(self) -> None:
        sizes = {len(points) for points in self.grids.values()}
        if len(sizes) != 1:
            raise ValueError(f"every agent needs a grid of the same size, got {sizes}")
        fields = {f.name for f in dataclasses.fields(RunConfig)}
        for agent, points in self.grids.items():
            if not points or any(not p for p in points):
                raise ValueError(f"{agent}: a grid point must change at least one setting")
            unknown = {k for p in points for k in p} - fields
            if unknown:
                raise ValueError(f"{agent}: no RunConfig field {sorted(unknown)}")
            if len({_tag(p) for p in points}) != len(points):
                raise ValueError(f"{agent}: the same grid point twice")


def line(field: str, values: tuple[float, ...]) -> tuple[dict[str, float], ...]:
    """A grid over one setting.

    Example:
        >>> line("lr", (7e-4, 1.4e-3))
        ({'lr': 0.0007}, {'lr': 0.0014})
    """
    return tuple({field: v} for v in values)


TUNING: dict[str, TuningSpec] = {
    "pong-soup": TuningSpec(
        suite="pong-soup",
        target="pong_soup/pong",
        sources=("pong_soup/hflip",),
        source_seed=0,
        seeds=(100, 101),
        steps=600_000,
        source_steps=2_000_000,
        grids={
            # The first grids (3 points) chose the top learning rate for both baselines,
            # and alpha_init 1, the top of the paper's sweep, for progressive; each grid
            # then gained a step beyond its edge (lr 2.8e-3; progressive at the
            # baselines' lr 1.4e-3). At 4 points scratch's seed 100 again did best at
            # the top and progressive at the higher lr, so a fifth point steps beyond
            # again (scratch 5.6e-3, progressive lr 2.8e-3), and fine-tune-all, whose
            # best is inside its grid, refines it (2e-3, between 1.4e-3 and 2.8e-3).
            # At 5 points progressive's best was again its highest lr, so a sixth point
            # steps beyond it (lr 5.6e-3); the baselines, whose best is inside their
            # grids, refine between the best and its better neighbour (scratch 2e-3,
            # fine-tune-all 1.7e-3), so every agent keeps the same number of runs.
            "scratch": line("lr", (3.5e-4, 7e-4, 1.4e-3, 2.8e-3, 5.6e-3, 2e-3)),
            "finetune-all": line("lr", (3.5e-4, 7e-4, 1.4e-3, 2.8e-3, 2e-3, 1.7e-3)),
            "progressive": line("alpha_init", (1.0, 0.1, 0.01))
            + (
                {"alpha_init": 1.0, "lr": 1.4e-3},
                {"alpha_init": 1.0, "lr": 2.8e-3},
                {"alpha_init": 1.0, "lr": 5.6e-3},
            ),
        },
        top=21.0,
    ),
}


def tuning_runs(spec: TuningSpec) -> list[RunConfig]:
    """Every run of the protocol, seed by seed (all values of every agent at the first
    tuning seed first, so a stopped tuning has whole grids), default execution settings,
    no wandb."""
    runs = []
    for seed in spec.seeds:
        for agent, points in spec.grids.items():
            for point in points:
                transfer = get_method(agent).max_sources != 0
                runs.append(
                    RunConfig(
                        task=spec.target,
                        agent=agent,
                        sources=spec.sources if transfer else (),
                        steps=spec.steps,
                        seed=seed,
                        source_seed=spec.source_seed if transfer else None,
                        source_steps=spec.source_steps if transfer else None,
                        tag=_tag(point),
                        wandb=False,
                        **point,
                    )
                )
    return runs


def held_out_problems(spec: TuningSpec, results: Path) -> list[str]:
    """Where a committed report under ``results`` (``*/plan.json``) uses the tuning
    target as a target or one of the tuning seeds in the same domain ([]: held out)."""
    problems = []
    domain = spec.target.split("/")[0]
    for plan_path in sorted(results.glob("*/plan.json")):
        plan = json.loads(plan_path.read_text())
        for run in plan.get("cells", []):
            if run.get("target") == spec.target:
                problems.append(f"{plan_path}: {spec.target} is a target there")
            if run.get("target", "").split("/")[0] == domain and run.get("seed") in spec.seeds:
                problems.append(f"{plan_path}: seed {run.get('seed')} is used there")
    return sorted(set(problems))


def _score(run_dir: Path, floor: float, top: float) -> dict[str, Any] | None:
    from analysis.metrics import asymptotic_score, normalized_auc

    run = RunDir(run_dir)
    if run.read_status().get("state") != "done":
        return None
    curve = run.read_curve()
    steps = [p["env_steps"] for p in curve]
    scores = [p["episode_return_mean"] for p in curve]
    return {
        "auc_normalized": normalized_auc(steps, scores, floor, top),
        "asymptotic": asymptotic_score(steps, scores),
        # the last measured point (a last window without a finished episode is NaN)
        "last_point": next((x for x in reversed(scores) if math.isfinite(x)), math.nan),
        "wall_time_s": run.read_status().get("wall_time"),
    }


def _full(point: dict[str, float], defaults: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    """A point's value of every field its grid varies (today's default where it names none)."""
    return {k: point.get(k, defaults[k]) for k in fields}


def _choose(
    points: list[dict[str, float]], means: list[float], defaults: dict[str, Any], varied: list[str]
) -> dict[str, Any]:
    """The choice among a complete grid's points by :data:`RULE`: the chosen point's full
    settings (every field the grid varies), whether they are today's defaults, and
    the varied settings whose chosen value is the lowest or highest their grid tried."""
    full = [_full(p, defaults, varied) for p in points]
    best = max(means)
    tied = [i for i, m in enumerate(means) if m == best]
    default_point = {k: defaults[k] for k in varied}
    pick = next((i for i in tied if full[i] == default_point), tied[0])
    chosen = full[pick]
    edge = [
        k
        for k in varied
        if len({f[k] for f in full}) > 1
        and chosen[k] in (min(f[k] for f in full), max(f[k] for f in full))
    ]
    return {"chosen": chosen, "default_is_chosen": chosen == default_point, "at_grid_edge": edge}


def tuning_record(spec: TuningSpec, root: str | Path) -> dict[str, Any]:
    """Score every finished run under ``root`` and choose per agent by :data:`RULE`;
    writes ``root/tuning.json`` and ``root/tuning.md``. An agent with a run missing has
    no choice (``chosen`` None) and the record says which runs are missing.

    Per agent the record gives ``fields`` (what its grid varies), ``default`` (today's
    values of them), ``grid`` (per point its settings, label, runs and mean), ``chosen``
    (the chosen point's values of every varied field), ``default_is_chosen`` and
    ``at_grid_edge``; while runs are missing, ``provisional`` is the rule applied to the
    points that have every seed."""
    from analysis.floors import load_floors

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no tuning runs at {root}")
    floor = load_floors(root, {spec.target}, measured=True)[spec.target].value
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    configs = {(c.agent, c.tag, c.seed): c for c in tuning_runs(spec)}
    agents: dict[str, Any] = {}
    missing = []
    for agent, points in spec.grids.items():
        rows = []
        for point in points:
            runs = []
            for seed in spec.seeds:
                path = run_dir_for(root, configs[agent, _tag(point), seed])
                found = _score(path, floor, spec.top)
                if found is None:
                    missing.append(str(path.relative_to(root)))
                    continue
                runs.append({"seed": seed, "run_dir": str(path.relative_to(root)), **found})
            aucs = [r["auc_normalized"] for r in runs]
            rows.append(
                {
                    "settings": dict(point),
                    "label": settings_label(point),
                    "runs": runs,
                    "mean_auc_normalized": float(np.mean(aucs)) if aucs else None,
                }
            )
        fields = sorted({k for p in points for k in p})
        entry: dict[str, Any] = {
            "fields": fields,
            "default": {k: defaults[k] for k in fields},
            "grid": rows,
            "chosen": None,
            "default_is_chosen": None,
            "at_grid_edge": None,
            "provisional": None,
        }
        whole = [i for i, r in enumerate(rows) if len(r["runs"]) == len(spec.seeds)]
        means = [rows[i]["mean_auc_normalized"] for i in whole]
        choice = _choose([points[i] for i in whole], means, defaults, fields) if whole else None
        if len(whole) == len(rows):
            entry.update(choice)
        elif choice is not None:
            # the rule applied to the points with every seed: what the suite runs at until
            # the grid is complete, and said to be provisional wherever it is shown
            entry["provisional"] = choice["chosen"]
        agents[agent] = entry
    record = {
        "suite": spec.suite,
        "target": spec.target,
        "sources": list(spec.sources),
        "source_seed": spec.source_seed,
        "seeds": list(spec.seeds),
        "steps": spec.steps,
        "floor": floor,
        "top": spec.top,
        "rule": RULE,
        "agents": agents,
        "missing": missing,
    }
    write_json(root / "tuning.json", record)
    write_text(root / "tuning.md", tuning_markdown(record))
    return record


def chosen_settings(agent_record: dict[str, Any]) -> dict[str, float]:
    """The settings an agent's cells need to run at its recorded choice (or, while its
    grid has runs missing, its provisional one): the chosen values that differ from
    today's defaults ({} when the defaults were chosen or nothing is chosen yet)."""
    chosen = agent_record["chosen"] or agent_record.get("provisional") or {}
    return {k: v for k, v in chosen.items() if v != agent_record["default"][k]}


def tuning_markdown(record: dict[str, Any]) -> str:
    """The record as a table: per agent and grid point, each seed's normalised AUC and
    the mean, the chosen point in bold."""
    seeds = record["seeds"]
    lines = [
        f"# Tuning record: {record['suite']}",
        "",
        f"Held-out task {record['target']} (transfer agents from "
        f"{' > '.join(record['sources'])}, source seed {record['source_seed']}), tuning seeds "
        f"{', '.join(map(str, seeds))}, {record['steps']:,} steps a run; normalised AUC "
        f"between the floor {record['floor']:.2f} and {record['top']:g}. Rule: {record['rule']}. "
        "A setting a point does not name is today's default. Generated by `xfer tune`; do "
        "not edit.",
        "",
        "| agent | settings | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | mean | last curve point (mean) |",
        "|---|---|" + "---|" * len(seeds) + "---|---|",
    ]
    for agent, a in record["agents"].items():
        for row in a["grid"]:
            by_seed = {r["seed"]: r for r in row["runs"]}
            cells = [
                f"{by_seed[s]['auc_normalized']:.4f}" if s in by_seed else "missing" for s in seeds
            ]
            mean = row["mean_auc_normalized"]
            last = [r["last_point"] for r in row["runs"]]
            full = _full(row["settings"], a["default"], a["fields"])
            label = row["label"]
            if a["chosen"] is not None and full == a["chosen"]:
                at = (
                    f", {' and '.join(a['at_grid_edge'])} at the grid edge"
                    if a["at_grid_edge"]
                    else ""
                )
                label = f"**{label}** (chosen{at})"
            elif a["chosen"] is None and full == a.get("provisional"):
                label = f"*{label}* (provisional: best with every seed so far)"
            if full == a["default"]:
                label += " (default)"
            lines.append(
                f"| {agent} | {label} | "
                + " | ".join(cells)
                + f" | {'-' if mean is None else f'{mean:.4f}'} | "
                + (f"{np.mean(last):+.1f}" if last else "-")
                + " |"
            )
    edge = [
        f"{a} ({', '.join(v['at_grid_edge'])})"
        for a, v in record["agents"].items()
        if v["at_grid_edge"]
    ]
    if edge:
        lines += [
            "",
            f"At the edge of its grid: {'; '.join(edge)}: the chosen value of each named "
            "setting is the lowest or highest that agent's grid tried, so a further step was "
            "not tried and might score higher.",
        ]
    if record["missing"]:
        lines += ["", f"Missing ({len(record['missing'])}): " + ", ".join(record["missing"])]
    return "\n".join(lines) + "\n"
