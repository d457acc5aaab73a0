"""Every agent tuned alike, on a target and seeds that no report shows (``xfer tune``).

A :class:`TuningSpec` names, per suite, a held-out tuning task (a target with its source
chain that is no cell of the suite's reports, and seeds no report uses), the budget's
steps, and one small grid per agent over its one key hyperparameter, with the same
number of values for every agent: scratch's and fine-tuning's learning rate, progressive
nets' initial lateral scale ``alpha_init``. Each grid is today's default and one step on
either side on a log scale (x2 for the learning rate; the paper's x10 for alpha_init).

The score of a run is its normalised AUC (the reports' measure, between the task's
random floor and its top); the choice is fixed before any run is seen: the value with
the highest mean over the tuning seeds. An agent's value is chosen once its grid is
complete (agents are chosen independently: each one's choice becomes a setting of its
own cells, :attr:`benchmarks.suites.Suite.tuned`, never a shared RunConfig default, and
source runs keep the defaults so the zoo's columns still match). A choice at either end
of its grid is flagged: a further step was not tried. :func:`tuning_record` writes the
choice with every run's evidence to ``tuning.json`` and ``tuning.md``; the suites'
settings are checked against the committed records by ``tests/benchmarks/test_tuning.py``.
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
from runstore.config import RunConfig, run_dir_for
from runstore.rundir import RunDir

__all__ = ["TuningSpec", "TUNING", "tuning_runs", "tuning_record", "held_out_problems"]

# the rule, stated in every record
RULE = (
    "the value with the highest mean normalised AUC over the tuning seeds (fixed before "
    "the runs were seen; ties keep today's default)"
)


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
        grids: per agent, ``(field, values)``: the same number of values each.
        top: the top of the normalised score (the game's maximum).
    """

    suite: str
    target: str
    sources: tuple[str, ...]
    source_seed: int
    seeds: tuple[int, ...]
    steps: int
    source_steps: int
    grids: dict[str, tuple[str, tuple[float, ...]]]
    top: float

    def __post_init__(self) -> None:
        sizes = {len(v) for _, v in self.grids.values()}
        if len(sizes) != 1:
            raise ValueError(f"every agent needs a grid of the same size, got {sizes}")


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
            "scratch": ("lr", (3.5e-4, 7e-4, 1.4e-3)),
            "finetune-all": ("lr", (3.5e-4, 7e-4, 1.4e-3)),
            "progressive": ("alpha_init", (1.0, 0.1, 0.01)),
        },
        top=21.0,
    ),
}


def _tag(field: str, value: float) -> str:
    """The run directory's tag: ``tune-lr0.0007``, ``tune-alpha_init1``."""
    return f"tune-{field}{value:g}"


def tuning_runs(spec: TuningSpec) -> list[RunConfig]:
    """Every run of the protocol, seed by seed (all values of every agent at the first
    tuning seed first, so a stopped tuning has whole grids), default execution settings,
    no wandb."""
    runs = []
    for seed in spec.seeds:
        for agent, (field, values) in spec.grids.items():
            for value in values:
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
                        tag=_tag(field, value),
                        wandb=False,
                        **{field: value},
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


def tuning_record(spec: TuningSpec, root: str | Path) -> dict[str, Any]:
    """Score every finished run under ``root`` and choose per agent by :data:`RULE`;
    writes ``root/tuning.json`` and ``root/tuning.md``. An agent with a run missing has
    no choice (``chosen`` None) and the record says which runs are missing."""
    from analysis.floors import load_floors

    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"no tuning runs at {root}")
    floor = load_floors(root, {spec.target}, measured=True)[spec.target].value
    defaults = {f.name: f.default for f in dataclasses.fields(RunConfig)}
    agents: dict[str, Any] = {}
    missing = []
    for agent, (field, values) in spec.grids.items():
        rows = []
        for value in values:
            runs = []
            for cfg in tuning_runs(spec):
                if cfg.agent != agent or getattr(cfg, field) != value:
                    continue
                path = run_dir_for(root, cfg)
                found = _score(path, floor, spec.top)
                if found is None:
                    missing.append(str(path.relative_to(root)))
                    continue
                runs.append({"seed": cfg.seed, "run_dir": str(path.relative_to(root)), **found})
            aucs = [r["auc_normalized"] for r in runs]
            rows.append(
                {
                    "value": value,
                    "runs": runs,
                    "mean_auc_normalized": float(np.mean(aucs)) if aucs else None,
                }
            )
        complete = all(len(r["runs"]) == len(spec.seeds) for r in rows)
        chosen = None
        if complete:
            best = max(r["mean_auc_normalized"] for r in rows)
            tied = [r["value"] for r in rows if r["mean_auc_normalized"] == best]
            chosen = defaults[field] if defaults[field] in tied else tied[0]
        agents[agent] = {
            "field": field,
            "default": defaults[field],
            "grid": rows,
            "chosen": chosen,
            "default_is_chosen": None if chosen is None else chosen == defaults[field],
            # the best value at an end of the grid: a further step might be better still
            "at_grid_edge": None if chosen is None else chosen in (min(values), max(values)),
        }
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


def tuning_markdown(record: dict[str, Any]) -> str:
    """The record as a table: per agent and value, each seed's normalised AUC and the
    mean, the chosen value in bold."""
    seeds = record["seeds"]
    lines = [
        f"# Tuning record: {record['suite']}",
        "",
        f"Held-out task {record['target']} (transfer agents from "
        f"{' > '.join(record['sources'])}, source seed {record['source_seed']}), tuning seeds "
        f"{', '.join(map(str, seeds))}, {record['steps']:,} steps a run; normalised AUC "
        f"between the floor {record['floor']:.2f} and {record['top']:g}. Rule: {record['rule']}. "
        "Generated by `xfer tune`; do not edit.",
        "",
        "| agent | field | value | "
        + " | ".join(f"seed {s}" for s in seeds)
        + " | mean | last curve point (mean) |",
        "|---|---|---|" + "---|" * len(seeds) + "---|---|",
    ]
    for agent, a in record["agents"].items():
        for row in a["grid"]:
            by_seed = {r["seed"]: r for r in row["runs"]}
            cells = [
                f"{by_seed[s]['auc_normalized']:.4f}" if s in by_seed else "missing" for s in seeds
            ]
            mean = row["mean_auc_normalized"]
            last = [r["last_point"] for r in row["runs"]]
            value = f"{row['value']:g}"
            if a["chosen"] is not None and row["value"] == a["chosen"]:
                value = f"**{value}** (chosen{', at the grid edge' if a['at_grid_edge'] else ''})"
            if row["value"] == a["default"]:
                value += " (default)"
            lines.append(
                f"| {agent} | {a['field']} | {value} | "
                + " | ".join(cells)
                + f" | {'-' if mean is None else f'{mean:.4f}'} | "
                + (f"{np.mean(last):+.1f}" if last else "-")
                + " |"
            )
    edge = [a for a, v in record["agents"].items() if v["at_grid_edge"]]
    if edge:
        lines += [
            "",
            f"At the edge of its grid ({', '.join(edge)}): the best value tried is the first "
            "or last one, so a further step was not tried and might score higher.",
        ]
    if record["missing"]:
        lines += ["", f"Missing ({len(record['missing'])}): " + ", ".join(record["missing"])]
    return "\n".join(lines) + "\n"
