"""Export a suite's results folder as a report needs it: the finished runs of its plan
and their source runs, without weights, checkpoints or logs.

A committed results folder (``docs/results/<suite>``) holds, per run, its JSON files
(config, status, evaluations, curve check, forgetting, AFS/APS) and ``curve.csv``, and
beside them the suite's ``plan.json``, ``floors.json`` and ``sweeps.json``: everything
``xfer report`` reads, none of the megabytes of ``agent.pt``, RLlib checkpoints and
wandb logs. :func:`export_results` copies exactly that, refuses a plan with unfinished
runs (a report of a half-trained plan is not what a reader expects to be committed)
and a plan whose runs still hold the weights their evaluations need but lack them (the
suite's post-suite forgetting, AFS and APS not written yet: exported then, the report
would silently leave them out), and writes into a temporary folder beside the
destination that it renames at the end, so an interrupted export leaves nothing
half-written.

Example:
    xfer export results/pong-soup docs/results/pong-soup-row
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

from runstore.config import RunConfig, pending_evaluations, run_dir_for
from runstore.rundir import RunDir, read_json_file

__all__ = ["export_results", "plan_run_dirs", "KEPT_FILES"]

# the suite-level files a report reads (plan.json required, the others when present)
FOLDER_FILES = ("plan.json", "floors.json", "sweeps.json")
KEPT_FILES = "*.json and curve.csv"


def _kept(path: Path) -> bool:
    return path.is_file() and (path.suffix == ".json" or path.name == "curve.csv")


def plan_run_dirs(src: str | Path) -> list[Path]:
    """The run directories (relative to ``src``) of the plan's runs and of every run
    their ``config.json`` names as a source under ``src``, sorted.

    Raises:
        ValueError: ``src`` has no ``plan.json``, or some of its runs are missing or not
            finished, or still lack evaluations the suite writes after training
            (:func:`pending_evaluations`; each message counts them and names the first).
    """
    src = Path(src)
    if not (src / "plan.json").is_file():
        raise ValueError(f"{src} has no plan.json: not a suite's results folder")
    plan = read_json_file(src / "plan.json")
    configs = {}
    for cell in plan.get("cells", []):
        cfg = RunConfig.from_dict(cell["config"])
        configs[run_dir_for(src, cfg)] = cfg
    runs = set(configs)
    todo = sorted(runs)
    while todo:  # sources, and their sources (a 3-column net's chain)
        config = todo.pop() / "config.json"
        if not config.is_file():
            continue  # reported as unfinished below
        for source in read_json_file(config).get("source_files", []):
            # <root>/<task>/<agent>/seed<N>/agent.pt, wherever the root was when it
            # trained: the source run is the folder's own when that run dir is here
            run = src / Path(*Path(source).parent.parts[-3:])
            if (run / "config.json").is_file() and run not in runs:
                runs.add(run)
                todo.append(run)
    unfinished = []
    for run in sorted(runs):
        status = run / "status.json"
        state = read_json_file(status).get("state") if status.is_file() else "missing"
        if state != "done":
            unfinished.append(f"{run.relative_to(src)} ({state})")
    if unfinished:
        raise ValueError(
            f"{len(unfinished)} of {len(runs)} runs of {src} are not finished, first "
            f"{unfinished[0]}: finish the suite (rerun its xfer bench) before exporting"
        )
    pending = []
    for run, cfg in sorted(configs.items()):
        # a published folder keeps no weights: it can get no new evaluation, and its
        # report says what it lacks
        missing = pending_evaluations(run, cfg) if RunDir(run).weights.is_file() else []
        if missing:
            pending.append(f"{run.relative_to(src)} ({', '.join(missing)})")
    if pending:
        raise ValueError(
            f"{len(pending)} of {len(configs)} plan runs of {src} still lack evaluations "
            f"the suite writes after training, first {pending[0]}: let its xfer bench "
            "finish (a rerun writes them) before exporting"
        )
    return sorted(run.relative_to(src) for run in runs)


def export_results(src: str | Path, dst: str | Path) -> int:
    """Copy ``src``'s plan, floors, sweep log and the finished runs of its plan (with
    their source runs), each run's ``*.json`` and ``curve.csv`` only, into the new folder
    ``dst``; returns the number of run directories copied.

    Raises:
        ValueError: as :func:`plan_run_dirs`; or ``dst`` exists and is not empty.
    """
    src, dst = Path(src), Path(dst)
    if dst.exists() and (not dst.is_dir() or any(dst.iterdir())):
        raise ValueError(f"{dst} exists and is not empty: export into a new folder")
    runs = plan_run_dirs(src)
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
    try:
        for name in FOLDER_FILES:
            if (src / name).is_file():
                shutil.copy2(src / name, tmp / name)
        for run in runs:
            (tmp / run).mkdir(parents=True)
            for path in sorted((src / run).iterdir()):
                if _kept(path):
                    shutil.copy2(path, tmp / run / path.name)
        if dst.exists():
            dst.rmdir()  # empty (checked above)
        os.replace(tmp, dst)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return len(runs)
