"""What a run needs before its training loop starts, and the errors a run ends with.

:func:`resolve_sources` checks that the run's source run is finished, keeps its own
weights and loads, and that every source observes the run's shape, before the run's
directory is touched or Ray starts; :func:`model_config` describes the network to the
trainer, :func:`build_network` builds the same network here, :func:`rllib_trainer` is
the default trainer; :func:`run_record` is ``config.json``'s content (the resolved config
and its provenance); :func:`plateau_floor` reads the floor a run may end at. The loop
itself is :mod:`benchmarks.training`.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from benchmarks.trainer import Trainer
from runstore.admission import finished_problem
from runstore.config import RunConfig, run_dir_for, source_config
from runstore.rundir import RunDir

__all__ = [
    "TrainingError",
    "RunHeldError",
    "build_network",
    "check_source_weights",
    "check_sources_observe_alike",
    "model_config",
    "plateau_floor",
    "provenance",
    "resolve_sources",
    "rllib_trainer",
    "run_record",
    "whoami",
]


class TrainingError(RuntimeError):
    """A run failed; its status.json says why."""


class RunHeldError(TrainingError):
    """Another live process holds the run's lock (it is training it): not a failure."""


def whoami() -> dict[str, Any]:
    """Which process trains the run: pid, host and (in a Ray Tune trial) the node."""
    import socket

    who = {"pid": os.getpid(), "host": socket.gethostname()}
    if os.environ.get("XFER_RAY_NODE"):  # set by a Tune trial (benchmarks/rllib/sweep.py)
        who["ray_node"] = os.environ["XFER_RAY_NODE"]
    return who


def provenance() -> dict[str, Any]:
    """What produced the run: the git commit of this checkout and the versions of the
    packages its numbers depend on."""
    from importlib.metadata import PackageNotFoundError, version

    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            cwd=Path(__file__).resolve().parent,
        ).stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        commit = ""
    versions = {}
    for pkg in ("torch", "ray", "gymnasium", "ale-py", "miniworld", "numpy", "xfer-bench"):
        try:
            versions[pkg] = version(pkg)
        except PackageNotFoundError:
            versions[pkg] = None
    return {"git_commit": commit or None, "packages": versions}


def build_network(cfg: RunConfig, sources: list[str], num_actions: int, in_channels: int) -> Any:
    """The network of run ``cfg`` as its method builds it (seeded from ``sources``): the
    one its :func:`model_config` describes to the trainer."""
    from methods.base import build_from_model_config

    return build_from_model_config(model_config(cfg, sources), num_actions, in_channels)


def model_config(cfg: RunConfig, sources: list[str]) -> dict[str, Any]:
    """What the trainer's network needs: method, source files, alpha_init, seed, and the
    method's own entries (``Method.model_config``)."""
    from methods import get_method

    return {
        "agent": cfg.agent,
        "sources": sources,
        "alpha_init": cfg.alpha_init,
        "seed": cfg.seed,
        **get_method(cfg.agent).model_config(cfg),
    }


def rllib_trainer(cfg: RunConfig, model_config: dict[str, Any]) -> Trainer:
    """The default :data:`~benchmarks.trainer.TrainerFactory`: RLlib."""
    from benchmarks.rllib.trainer import build_trainer

    return build_trainer(cfg, model_config)


def run_record(
    cfg: RunConfig, sources: list[str], extended: list[dict[str, Any]] | None
) -> dict[str, Any]:
    """``config.json``'s content: the resolved config, its source files, the curve
    window, the task's observation fingerprint, the provenance and (for a run given
    another budget) the budgets it had."""
    from envs import observation_fingerprint

    return {
        "run": cfg.to_dict(),
        "source_files": sources,
        "curve_window": cfg.window,
        "observation_fingerprint": observation_fingerprint(cfg.task),
        **provenance(),
        **({"extended": extended} if extended else {}),
    }


def check_source_weights(src: RunDir) -> None:
    """The source run's weights are the ones it finished with and load (checked here,
    before the run's directory is touched or Ray starts)."""
    problem = finished_problem(src)
    if problem:
        raise TrainingError(f"the source run {src.path} is damaged: {problem}")
    from agents import load_agent

    try:
        load_agent(src.weights)
    except Exception as err:  # noqa: BLE001 - any unreadable file is the same refusal
        raise TrainingError(
            f"the source run's weights {src.weights} cannot be loaded ({type(err).__name__}: "
            f"{err}); put the run's own file back, or delete {src.path} to train it again"
        ) from None


def check_sources_observe_alike(cfg: RunConfig) -> None:
    """Refuse, before anything is built or started, a run whose source tasks observe
    another shape than its task (a column's first layer takes one shape: a Labyrinth
    column's 12 RGB channels cannot see Pong's 4 grey frames)."""
    if not cfg.sources:
        return
    from envs import observation_shape

    want = observation_shape(cfg.task)
    for src in cfg.sources:
        have = observation_shape(src)
        if have != want:
            raise TrainingError(
                f"source {src} observes {have} (height, width, channels) but {cfg.task} "
                f"observes {want}: a column takes one observation shape; choose sources "
                "whose observations have the target's shape"
            )


def resolve_sources(cfg: RunConfig, root: str | Path) -> list[str]:
    """The weight files run ``cfg`` starts from ([] for a run without sources), after
    refusing a source that observes another shape, is not finished under ``root``, keeps
    no weights, or keeps weights other than its own or unreadable ones.

    One file carries every earlier column (or PathNet's fixed modules): a chain's last
    source run was itself trained from the sources before it.

    Raises:
        TrainingError: with what to do about it.
    """
    check_sources_observe_alike(cfg)
    src = source_config(cfg)
    if src is None:
        return []
    src_dir = run_dir_for(root, src)
    if RunDir(src_dir).read_status().get("state") != "done":
        raise TrainingError(
            f"the source run {src_dir} is not finished: train the sources first "
            "(`xfer train` does, in order)"
        )
    weights = RunDir(src_dir).weights
    if not weights.exists():
        raise TrainingError(
            f"the source run {src_dir} is finished but its weights ({weights.name}) "
            "are not on disk (a published results folder keeps none): put them "
            "back, or delete that run directory to train it again"
        )
    check_source_weights(RunDir(src_dir))
    return [str(weights)]


def plateau_floor(cfg: RunConfig) -> Any:
    """The task's floor under ``cfg.plateau_floors`` (None when it is not set); a
    missing floor is an error before anything is trained."""
    if cfg.plateau_floors is None:
        return None
    from analysis.floors import load_floors

    if not Path(cfg.plateau_floors).is_dir():
        raise ValueError(f"plateau_floors {cfg.plateau_floors}: no such directory")
    floors = load_floors(cfg.plateau_floors, {cfg.task}, measured=True)
    return floors[cfg.task]
