"""Shipped source columns (``zoo/``): trained runs the suite reuses as source runs.

The zoo is a results root of its own: ``zoo/<target>/<agent>/seed<N>/`` holds a
finished run directory as :func:`benchmarks.training.train` writes it (``config.json``
with provenance, ``curve.csv``, ``agent.pt``, ``status.json``, ``curve_check.json``)
plus the evaluation ``eval_<task>.json`` of at least 20 episodes.

A zoo run stands in for a run the suite would train when its *identity* matches:

- the experiment fields of :class:`~runstore.config.RunConfig` (task, agent,
  sources, seed, algorithm and every hyperparameter; not the step count and not the
  execution settings: runners, devices, timeouts, wandb);
- the network's shape (the structure saved in ``agent.pt`` against a freshly built
  agent of the same kind);
- the observations (``envs.observation_fingerprint``): a column trained on pixels the
  suite no longer produces is never used.

A task of :data:`EQUIVALENT_TASKS` (``atari/pong``: Pong Soup's ``pong`` without any
effect) may take the column of its equivalent when the fingerprints agree.

Using it copies the zoo run into the results root (with a ``zoo.json`` marker naming
where it came from), so the report, evaluations and later reruns treat it like any
other finished run. ``XFER_ZOO`` points at another zoo folder.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from runstore.admission import finished_problem, weights_sha256
from runstore.atomic import write_json
from runstore.config import EXECUTION_FIELDS, identity
from runstore.rundir import RunDir

__all__ = [
    "EXECUTION_FIELDS",
    "zoo_root",
    "identity",
    "find_zoo_run",
    "install_zoo_run",
    "restore_zoo_weights",
    "take_from_zoo",
    "EQUIVALENT_TASKS",
    "ZOO_MARKER",
    "PONG_BAR",
    "BAR_FILE",
    "replay_bar",
    "write_replay_bar",
    "ship_column",
]

# tasks that observe the same pixels (the same observation fingerprint, checked at every
# lookup) and play the same game: a column of the right-hand task stands in for a run of
# the left-hand one. atari/pong is Pong Soup's pong without any effect.
EQUIVALENT_TASKS: dict[str, str] = {"atari/pong": "pong_soup/pong"}

PONG_BAR = 18.0  # a Pong column's greedy score over 20 episodes (the bar)
BAR_FILE = "zoo_bar.json"  # the bar of a column of any other game, written when shipped

ZOO_MARKER = RunDir.ZOO_MARKER


def zoo_root() -> Path:
    """The zoo folder: ``$XFER_ZOO`` if set, else ``zoo/`` at the top of the repository."""
    env = os.environ.get("XFER_ZOO")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent / "zoo"


def _shape(structure: Any) -> Any:
    """A saved agent's structure without ``alpha_init``: an initial value for lateral
    adapters added later (their alphas, once made, are weights), never a shape."""
    if not isinstance(structure, dict) or not isinstance(structure.get("config"), dict):
        return structure
    config = {k: v for k, v in structure["config"].items() if k != "alpha_init"}
    return {**structure, "config": config}


def _network_matches(cfg: Any, agent_file: Path) -> str:
    """'' if ``agent_file`` holds the network ``cfg`` builds now, else why not."""
    from agents.base import load_weights
    from envs import make_env
    from methods import build_agent

    payload = load_weights(agent_file)
    if cfg.sources:
        return ""  # built from source files; the structure is checked when loaded
    env = make_env(cfg.task)
    fresh = build_agent(
        cfg.agent,
        int(env.action_space.n),
        in_channels=int(env.observation_space.shape[-1]),
        alpha_init=cfg.alpha_init,
        seed=cfg.seed,
        input_size=int(env.observation_space.shape[0]),
    )
    env.close()
    if payload.get("kind") != fresh.kind or _shape(payload.get("structure")) != _shape(
        fresh.structure()
    ):
        return "its network has another shape than the one the suite builds now"
    state = payload["state_dict"]
    mine = fresh.state_dict()
    if set(state) != set(mine) or any(state[k].shape != mine[k].shape for k in mine):
        return "its weights do not fit the network the suite builds now"
    return ""


def find_zoo_run(cfg: Any, log: Any = print, root: Path | None = None) -> Path | None:
    """The zoo run that can stand in for ``cfg`` (a RunConfig), or None.

    A column of ``cfg``'s own task first; else, for a task of :data:`EQUIVALENT_TASKS`,
    a column of its equivalent, provided the two observe the same pixels. Logs why a
    zoo run at the same place was not used (identity, network, pixels).
    """
    import dataclasses

    found = _find_zoo_run(cfg, cfg, log, root)
    other = EQUIVALENT_TASKS.get(cfg.task)
    if found is None and other is not None:
        found = _find_zoo_run(dataclasses.replace(cfg, task=other), cfg, log, root)
    return found


def _find_zoo_run(cfg: Any, wanted: Any, log: Any, root: Path | None) -> Path | None:
    """The column at ``cfg``'s place in the zoo if it can stand in for ``wanted`` (the
    same identity but for the task, ``cfg``'s; the pixels of ``wanted``'s task)."""
    from envs import observation_fingerprint
    from runstore.config import run_dir_for

    root = Path(root) if root is not None else zoo_root()
    run_dir = run_dir_for(root, cfg)
    run = RunDir(run_dir)
    if not run.config.is_file():
        return None
    if not run.is_done():
        log(f"zoo: {run_dir} is not a finished run; not used")
        return None
    if not run.read_status().get("weights_sha256"):
        log(f"zoo: {run_dir} records no checksum of its weights; not used")
        return None
    problem = finished_problem(run)
    if problem:
        log(f"zoo: {problem}; not used")
        return None
    from runstore.config import RunConfig

    saved = run.read_config()
    try:
        # fields added to RunConfig since the zoo run was trained take their defaults
        saved_cfg = RunConfig.from_dict(saved.get("run", {}))
    except (TypeError, ValueError) as err:
        log(f"zoo: {run_dir} has an unreadable config ({err}); not used")
        return None
    want, have = identity(cfg.to_dict()), identity(saved_cfg.to_dict())
    if want != have:
        diff = sorted(k for k in set(want) | set(have) if want.get(k) != have.get(k))
        log(f"zoo: {run_dir} differs from the run asked for in {diff}; not used")
        return None
    fingerprint = observation_fingerprint(wanted.task)
    if saved.get("observation_fingerprint") != fingerprint:
        log(
            f"zoo: {run_dir} was trained on other observations than {wanted.task}'s "
            f"(fingerprint {saved.get('observation_fingerprint')} vs {fingerprint}); not used"
        )
        return None
    why = _network_matches(wanted, run.weights)
    if why:
        log(f"zoo: {run_dir}: {why}; not used")
        return None
    return run_dir


def take_from_zoo(cfg: Any, root: str | Path, log: Any = print) -> bool:
    """Copy a shipped zoo run matching ``cfg`` (a RunConfig) into ``root``; True if one was taken.

    Only for a run that does not exist yet under ``root`` (an interrupted or failed run
    there is resumed, not replaced).
    """
    from runstore.config import run_dir_for

    run_dir = run_dir_for(root, cfg)
    if run_dir.exists():
        return False
    shipped = find_zoo_run(cfg, log)
    if shipped is None:
        return False
    install_zoo_run(shipped, run_dir, task=cfg.task)
    log(f"{run_dir}: using the shipped zoo column {shipped} (same identity; not trained)")
    return True


def restore_zoo_weights(cfg: Any, run_dir: Path, log: Any = print) -> bool:
    """Put back the weights of a zoo column copied into a results root and published
    without them (``docs/results`` folders keep no ``agent.pt``). True when ``run_dir``
    is such a copy (``zoo.json``), lacks ``agent.pt``, and the zoo still ships a column
    with its identity; the weights are copied atomically. False otherwise."""
    run = RunDir(run_dir)
    if run.weights.exists() or not run.zoo_marker.is_file():
        return False
    shipped = find_zoo_run(cfg, log)
    if shipped is None:
        return False
    tmp = run.weights.with_name(f".{run.weights.name}.tmp")
    shutil.copyfile(RunDir(shipped).weights, tmp)
    tmp.replace(run.weights)
    log(f"{run_dir}: weights restored from the shipped zoo column {shipped}")
    return True


def install_zoo_run(zoo_run: Path, run_dir: Path, task: str | None = None) -> Path:
    """Copy ``zoo_run`` to ``run_dir`` (which must not exist) atomically; mark it.

    ``task``: the task the copy stands in for, when the column was trained on an
    equivalent one (:data:`EQUIVALENT_TASKS`): the copy's ``config.json`` then names
    ``task`` (so the results root holds a run of that task), the marker names both, and
    evaluations named after the column's task are left behind (the suite evaluates the
    copy on its own task).
    """
    run_dir = Path(run_dir)
    if run_dir.exists():
        raise FileExistsError(f"{run_dir} exists; a zoo run is only copied to a new place")
    run_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{run_dir.name}.", dir=run_dir.parent))
    try:
        shutil.copytree(zoo_run, tmp, dirs_exist_ok=True)
        marker: dict[str, Any] = {"zoo_run": str(Path(zoo_run).resolve()), "shipped": True}
        copy = RunDir(tmp)
        data = copy.read_config()
        trained_on = data.get("run", {}).get("task")
        if task is not None and task != trained_on:
            for stale in list(tmp.glob("eval_*.json")) + [copy.curve_check]:
                stale.unlink(missing_ok=True)
            data["run"]["task"] = task
            write_json(copy.config, data)
            marker.update(task=task, column_task=trained_on)
        write_json(copy.zoo_marker, marker)
        os.chmod(tmp, 0o755)
        tmp.rename(run_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return run_dir


def _is_pong(task: str) -> bool:
    """Pong Soup's tasks and their equivalents (atari/pong)."""
    return EQUIVALENT_TASKS.get(task, task).startswith("pong_soup/")


def write_replay_bar(run_dir: str | Path, task: str, floor: float, floor_sd: float | None) -> dict:
    """Record the score the column in ``run_dir`` must keep on ``task`` (greedy play,
    20 episodes): its floor plus half of what its shipped greedy evaluation
    (``eval_greedy_<task>.json``) gained over that floor, and never less than the floor
    plus the learnability margin (:func:`analysis.learnability.clear_margin`); for Pong,
    :data:`PONG_BAR`.

    Raises:
        ValueError: when the column's greedy evaluation is not clearly above its floor
            (such a column must not be shipped), or it has fewer than 20 episodes.
    """
    from analysis.learnability import clear_margin

    run = RunDir(run_dir)
    path = run.eval(task, True)
    greedy = run.read_json(path) if path.is_file() else {}
    if int(greedy.get("episodes", 0)) < 20:
        raise ValueError(f"{run_dir}: needs a greedy evaluation of >= 20 episodes on {task}")
    margin = clear_margin(floor_sd)
    score = float(greedy["mean"])
    if score < floor + margin:
        raise ValueError(
            f"{run_dir}: greedy {score:.2f} is not clearly above the floor {floor:.2f} "
            f"(+ margin {margin:.2f}); not a source column"
        )
    bar = max(floor + 0.5 * (score - floor), floor + margin)
    rule = "floor + half the greedy gain over the floor at shipping, >= floor + margin"
    if _is_pong(task):
        bar, rule = PONG_BAR, "Pong: +18 over 20 greedy episodes, for every Pong column"
    data = {
        "task": task,
        "bar": bar,
        "floor": floor,
        "floor_sd": floor_sd,
        "margin": margin,
        "greedy_at_shipping": score,
        "rule": rule,
    }
    write_json(Path(run_dir) / BAR_FILE, data)
    return data


def replay_bar(run_dir: str | Path, task: str) -> float:
    """The greedy score (20 episodes) the column in ``run_dir`` must keep on ``task``:
    :data:`PONG_BAR` for Pong, else the bar :func:`write_replay_bar` recorded.

    Raises:
        FileNotFoundError: a column of another game without its bar file.
    """
    if _is_pong(task):
        return PONG_BAR
    path = Path(run_dir) / BAR_FILE
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} is missing: record the bar with benchmarks.zoo.write_replay_bar "
            "when shipping a column"
        )
    return float(RunDir(run_dir).read_json(path)["bar"])


# what a shipped column keeps of its run directory (no checkpoint, lock or logs)
SHIPPED_FILES = (RunDir.WEIGHTS, RunDir.CONFIG, RunDir.CURVE, RunDir.STATUS, RunDir.CURVE_CHECK)


def _shippable(run: RunDir, floors_root: str | Path) -> tuple[str, int, Any, Any]:
    """The task, seed, floor and learnability row of a run that may be shipped as a zoo
    column (the rules of :func:`ship_column`); ValueError naming the rule it breaks."""
    from analysis.cells import BASELINE  # baseline 1: a column trained from scratch
    from analysis.floors import load_floors
    from analysis.learnability import PLATEAU_TOLERANCE, learnability_row
    from analysis.paper import agent_label

    run_dir = run.path
    cfg = run.read_run_config()
    task, seed = cfg.get("task"), int(cfg.get("seed", 0))
    if not run.is_done():
        raise ValueError(f"{run_dir}: not a finished run (status done, agent.pt)")
    problem = finished_problem(run)
    if problem:
        raise ValueError(f"{run_dir}: damaged: {problem}")
    if cfg.get("sources") or agent_label(cfg.get("agent", ""), ()) != BASELINE:
        raise ValueError(f"{run_dir}: a zoo column is a scratch run without sources")
    check = run.read_json(run.curve_check) if run.curve_check.is_file() else {}
    if check.get("ok") is not True:
        raise ValueError(f"{run_dir}: its curve check did not pass (curve_check.json)")
    floor = load_floors(floors_root, {task}, measured=True)[task]
    row = learnability_row(task, seed, str(run.path), run.read_curve(), floor)
    if not row.learned:
        raise ValueError(
            f"{run_dir}: has not learned (final {row.final:.2f} is under floor {row.floor:.2f}"
            f" + margin {row.margin:.2f})"
        )
    if not row.plateaued:
        raise ValueError(
            f"{run_dir}: not plateaued (the last 20% of its steps gained "
            f"{100 * row.plateau:.1f}% of best - floor; the rule is < "
            f"{100 * PLATEAU_TOLERANCE:.0f}%): train longer"
        )
    return task, seed, floor, row


def ship_column(
    run_dir: str | Path,
    floors_root: str | Path,
    zoo: str | Path | None = None,
    evaluate: Any = None,
    log: Any = print,
) -> Path:
    """Ship the finished scratch run in ``run_dir`` as a zoo column: check it, copy what a
    column keeps, play 20 greedy episodes and record its replay bar, all in a temporary
    folder renamed at the end (nothing half-written) into ``zoo/<task>/scratch/seed<N>``
    (:func:`runstore.config.run_dir_for`).

    It is refused (ValueError, nothing written) unless the run is done, has sources
    none, passed its curve check, and has learned and plateaued by the zoo's rule (its
    :func:`analysis.learnability.learnability_row` against the floor of
    ``floors_root/floors.json``: final >= floor + margin, and the last 20% of its steps
    gained below 5% of best - floor), and unless its greedy score clears the floor by
    the learnability margin and reaches the replay bar it records
    (:func:`write_replay_bar`: +18 for Pong).

    ``evaluate(dir, episodes=, greedy=)`` plays the episodes (default
    :func:`benchmarks.evaluate.evaluate_run`).
    """
    if evaluate is None:
        from benchmarks.evaluate import evaluate_run as evaluate
    run = RunDir(run_dir)
    task, seed, floor, row = _shippable(run, floors_root)
    from runstore.config import RunConfig, run_dir_for

    root = Path(zoo or zoo_root())
    column = RunConfig(task=task, seed=seed)  # what a suite asks the zoo for
    dest = run_dir_for(root, column)
    if dest.exists():
        raise FileExistsError(f"{dest} exists; remove it to ship another column")
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        for name in SHIPPED_FILES:
            shutil.copy2(run.path / name, tmp / name)
        for ev in run.path.glob("eval_*.json"):
            shutil.copy2(ev, tmp / ev.name)
        shipped = RunDir(tmp)
        status = shipped.read_status()
        if not status.get("weights_sha256"):  # a run finished before checksums existed
            status["weights_sha256"] = weights_sha256(shipped.weights)
            write_json(shipped.status, status)
        result = evaluate(tmp, episodes=20, greedy=True)
        log(f"{task}: greedy {result['mean']:.2f} +- {result['std']:.2f} over 20 episodes")
        bar = write_replay_bar(tmp, task, floor.value, floor.sd)
        if result["mean"] < bar["bar"]:  # Pong's +18 can be above floor + half the gain
            raise ValueError(
                f"{run_dir}: greedy {result['mean']:.2f} is under the bar {bar['bar']:.2f} that "
                f"tests/benchmarks/test_zoo_columns.py holds a {task} column to: train longer"
            )
        log(
            f"{task}: bar {bar['bar']:.2f} (floor {floor.value:.2f}, margin "
            f"{row.margin:.2f}); plateau {100 * row.plateau:+.1f}%"
        )
        os.chmod(tmp, 0o755)
        tmp.rename(dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if find_zoo_run(column, log, root) != dest:
        shutil.rmtree(dest, ignore_errors=True)
        raise ValueError(
            f"{run_dir}: the suite would not use it (its config, network or pixels differ "
            "from this checkout's); retrain it at this commit"
        )
    return dest
