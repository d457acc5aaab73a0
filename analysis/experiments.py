"""The disagreement experiments' tables (issue 42), generated from committed results.

Each experiment compares the cells of one or more results folders (its arms): for every
arm, target and agent, n, forward transfer against scratch with its interval and
verdict, the cell minus fine-tune-all, the asymptotic score and each seed's final
evaluation (the folder's ``report/verdicts.csv``, written by ``xfer report``) and, where
the experiment asks, PathNet's speed-up (``report/transfer_matrix.csv``). An arm whose
folder is not committed yet is listed as not trained, with the command that makes it, so
a page says "not tested" until its runs are in.

    python -m analysis.experiments   # rewrites the generated block of each page
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from pathlib import Path

from analysis.verdicts import DIFF, sync_block

__all__ = ["ARMS_BEGIN", "EXPERIMENTS", "Arm", "Experiment", "arm_rows", "experiment_markdown"]

ARMS_BEGIN = "<!-- begin generated: the arms' report/*.csv (python -m analysis.experiments) -->"


@dataclass(frozen=True)
class Arm:
    """One side of an experiment: a results folder (relative to the repository root) and
    the command that makes it."""

    label: str
    folder: str
    command: str


@dataclass(frozen=True)
class Experiment:
    """An experiment's page (``docs/experiments/<page>``), its arms, and the agents and
    targets its table shows (``targets`` None: every target of the arm)."""

    page: str
    arms: tuple[Arm, ...]
    agents: tuple[str, ...]
    targets: tuple[str, ...] | None = None
    speed_up: bool = False


SCRATCH, FINE_TUNE, PROGRESSIVE = "baseline1-scratch", "baseline3-finetune-all", "progressive-2col"
LAPTOP_AGENTS = (SCRATCH, FINE_TUNE, PROGRESSIVE)

EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        page="pathnet_population.md",
        arms=(
            Arm("population 8", "docs/results/catch-soup", "make bench-catch"),
            Arm(
                "population 64",
                "docs/experiments/runs/catch-pathnet64",
                "xfer bench catch-soup --budget laptop --pathnet-population 64 --out "
                "<a copy of docs/results/catch-soup without its */pathnet* runs>",
            ),
        ),
        agents=(SCRATCH, "pathnet"),
        speed_up=True,
    ),
    Experiment(
        page="noise_levels.md",
        arms=(
            Arm(
                "noise sd 8, 16 and 32",
                "docs/experiments/runs/pong-noise",
                "xfer bench pong-noise --budget laptop --out <a copy of docs/results/pong-soup>",
            ),
        ),
        agents=LAPTOP_AGENTS,
    ),
    Experiment(
        page="white_long.md",
        arms=(
            Arm(
                "600k steps (the row)",
                "docs/results/pong-soup-row",
                "make bench-pong BUDGET=overnight OUT=<a copy of docs/results/pong-soup>",
            ),
            Arm(
                "2M steps",
                "docs/experiments/runs/pong-white-2m",
                "xfer bench pong-white --budget long --out <a new folder>",
            ),
        ),
        agents=LAPTOP_AGENTS,
        targets=("pong_soup/white",),
    ),
    Experiment(
        page="labyrinth_long.md",
        arms=(
            Arm("250k steps", "docs/results/labyrinth", "make bench-labyrinth"),
            Arm(
                "1M steps",
                "docs/experiments/runs/labyrinth-1m",
                "xfer bench labyrinth --budget long --out <a new folder>",
            ),
        ),
        agents=LAPTOP_AGENTS,
    ),
)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def _x(value: str) -> str:
    """A ratio as the reports print it: two decimals, ``inf`` where baseline 1 got there
    and the cell never did not (``float('inf')`` from the CSV)."""
    v = float(value)
    return "inf" if v == float("inf") else f"{v:.2f}"


def _with_verdict(value: str, verdict: str) -> str:
    return value if verdict in ("", "-") else f"{value}: {verdict}"


def arm_rows(exp: Experiment, arm: Arm, root: Path) -> list[list[str]]:
    """The table rows of one arm: a row per target and agent from its committed report,
    or one row saying it is not trained (its folder holds no ``report/verdicts.csv``)."""
    report = root / arm.folder / "report"
    width = 9 if exp.speed_up else 8
    if not (report / "verdicts.csv").is_file():
        return [[arm.label, f"not trained yet: `{arm.command}`"] + ["-"] * (width - 2)]
    speed = {}
    if exp.speed_up:
        for r in _read_csv(report / "transfer_matrix.csv"):
            if r["speed_up"] not in ("", "n/a"):
                speed[(r["agent"], r["target"])] = (
                    f"{_x(r['speed_up'])}x [{_x(r['speed_up_lo'])}, {_x(r['speed_up_hi'])}]"
                )
    order = {a: i for i, a in enumerate(exp.agents)}
    rows = [
        r
        for r in _read_csv(report / "verdicts.csv")
        if r["agent"] in order and (exp.targets is None or r["target"] in exp.targets)
    ]
    rows.sort(key=lambda r: (r["target"], order[r["agent"]]))
    out = []
    for r in rows:
        row = [
            arm.label,
            r["target"],
            r["agent"],
            r["n"],
            _with_verdict(r["FT vs scratch [CI]"], r["vs scratch"]),
            _with_verdict(r[DIFF], r["vs fine-tune-all"]),
            f"{r['asymptotic score [CI]']} ({r['final evaluation per seed'] or '-'})",
        ]
        if exp.speed_up:
            row.append(speed.get((r["agent"], r["target"]), "-"))
        row.append(r["caveat"] or "-")
        out.append(row)
    return out


def experiment_markdown(exp: Experiment, root: Path) -> str:
    """The generated block of an experiment's page: the table over its arms, and what
    its intervals are."""
    header = [
        "arm",
        "target",
        "agent",
        "n",
        "FT vs scratch [CI]: verdict",
        "minus fine-tune-all [CI]: verdict",
        "asymptotic score [CI] (final evaluation per seed)",
    ]
    if exp.speed_up:
        header.append("speed-up [bootstrap CI]")
    header.append("caveat")
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    for arm in exp.arms:
        lines += ["| " + " | ".join(r) + " |" for r in arm_rows(exp, arm, root)]
    lines += [
        "",
        "Arms: "
        + "; ".join(f"{a.label}: [{a.folder}](../../{a.folder}) (`{a.command}`)" for a in exp.arms)
        + ". Each row is its folder's report (`report/verdicts.csv`): FT and the "
        "difference to fine-tune-all on normalised AUCs with Welch t intervals at the "
        "calibrated level of each report's method section, a verdict only where the "
        "interval excludes 0; final evaluation: 20 sampled episodes of each seed's final "
        "weights, played without RLlib."
        + (
            " Speed-up: PathNet's measure (baseline 1's median steps to half way from the "
            "floor to the top over the cell's), a percentile bootstrap interval, whose "
            "coverage at 5 seeds is lower than the calibrated ones."
            if exp.speed_up
            else ""
        ),
    ]
    return "\n".join(lines) + "\n"


def main() -> int:
    """Rewrite every experiment page's generated block; non-zero when a page lacks it."""
    root = Path(__file__).resolve().parents[1]
    status = 0
    for exp in EXPERIMENTS:
        page = root / "docs" / "experiments" / exp.page
        if sync_block(page, experiment_markdown(exp, root), ARMS_BEGIN):
            print(f"{page.relative_to(root)}: synced")
        else:
            print(f"{page.relative_to(root)}: no generated block ({ARMS_BEGIN})")
            status = 1
    return status


if __name__ == "__main__":
    raise SystemExit(main())
