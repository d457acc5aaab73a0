"""Reading a results root for the report: run directories, their files, damage.

Nothing here computes a number the report shows; :mod:`analysis.cells` does, from what
this module reads. A file that exists but cannot be read is recorded (with why) and read
as missing, so a report can still be built and list it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from analysis.floors import Floor
from analysis.metrics import area_under_curve
from runstore.rundir import (
    DamagedFileError,
    RunDir,
    eval_file,
    read_curve_file,
    read_json_file,
    run_liveness,
)

__all__ = [
    "Run",
    "DamagedResultsError",
    "read_json",
    "scan_damage",
    "collect_runs",
    "shown_state",
    "run_note",
]


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


class DamagedResultsError(ValueError):
    """Result files that exist but cannot be read (named, with why)."""


# damaged files met while building one report (reset by build_report)
_DAMAGED: list[str] = []


def _damaged(path: Path, why: str) -> None:
    entry = f"{path} ({why})"
    if entry not in _DAMAGED:
        _DAMAGED.append(entry)


def read_json(path: Path) -> Any:
    """The parsed file; None when it does not exist or is damaged (then recorded)."""
    try:
        return read_json_file(path)
    except FileNotFoundError:
        return None
    except DamagedFileError as err:
        _damaged(path, str(err).removeprefix(f"{path}: "))
        return None


def read_curve(path: Path) -> list[dict[str, float]]:
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
        read_json(path)
    for path in sorted(root.glob(f"*/*/*/{RunDir.CURVE}")):
        read_curve(path)
    return list(_DAMAGED)


def collect_runs(root: Path) -> list[Run]:
    """Every run directory (a ``config.json`` three levels down) under ``root``."""
    runs = []
    for cfg_file in sorted(root.glob(f"*/*/*/{RunDir.CONFIG}")):
        data = read_json(cfg_file) or {}
        if "run" not in data:
            continue
        run_dir = RunDir(cfg_file.parent)
        runs.append(
            Run(
                run_dir.path,
                data["run"],
                read_json(run_dir.status) or {"state": "missing"},
                read_curve(run_dir.curve),
            )
        )
    return runs


def shown_state(run: Run) -> str:
    """The run's state; a "running" run that no live process trains is marked dead."""
    if run.state != "running":
        return run.state
    liveness = run_liveness(run.path)
    if liveness == "dead":
        return "dead (status says running, but no live process holds it: rerun to resume)"
    return "running" if liveness == "live" else "running (liveness unknown)"


# a final evaluation that takes one action at this share of its steps or more is noted in
# the runs table: a score such a policy earns (road_runner's LEFT: 1,100) needs no sight
COLLAPSED_SHARE = 0.9


def run_note(run: Run, floor: Floor | None = None) -> str:
    """Why a run failed, whether it came from the zoo, its curve check, and what its final
    evaluation shows: a collapsed policy, or (given its task's ``floor`` with the best
    single action held measured) a mean score no higher than holding that one action,
    which needs no sight of the screen."""
    notes = []
    if run.status.get("reason"):
        notes.append(str(run.status["reason"]))
    zoo = read_json(RunDir(run.path).zoo_marker)
    if zoo:
        name = Path(zoo.get("zoo_run", "")).parts[-4:]
        notes.append("shipped zoo column (" + "/".join(name) + "), not trained here")
    check = read_json(RunDir(run.path).curve_check)
    if check and check.get("ok") is not None:
        verdict = "agrees" if check["ok"] else "DISAGREES"
        if check.get("method") == "replay":
            notes.append(
                f"curve check: the pipeline's replay of the final weights "
                f"{check['replay_mean']:.2f} ({check['replay_episodes']:.0f} episodes) "
                f"{verdict} with {check['eval_episodes']} independent episodes "
                f"{check['eval_mean']:.2f} (tolerance {check['tolerance']:.2f})"
            )
        else:
            notes.append(
                f"curve check: last point {check['curve_mean']:.2f} {verdict} with "
                f"{check['eval_episodes']} evaluation episodes {check['eval_mean']:.2f}"
            )
    evaluation = read_json(eval_file(run.path, run.config.get("task", ""))) or {}
    share = evaluation.get("top_action_share")
    if share is not None and share >= COLLAPSED_SHARE:
        notes.append(
            f"collapsed policy: one action ({evaluation['top_action']}) at "
            f"{100 * share:.0f}% of its evaluation steps"
        )
    mean = evaluation.get("mean")
    if (
        floor is not None
        and floor.constant is not None
        and isinstance(mean, (int, float))
        and mean <= floor.constant
    ):
        notes.append(
            f"final evaluation {mean:.2f} is not above holding {floor.constant_action} "
            f"({floor.constant:.2f})"
        )
    return "; ".join(notes)
