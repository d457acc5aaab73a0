"""Ray Tune for a suite's waves: independent runs as trials, several at a time.

Kept here, beside the RLlib code, so that no module outside ``benchmarks/rllib`` imports
Ray (a test enforces it).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ray import tune

from benchmarks.rllib.algo import ensure_ray
from benchmarks.training import RunConfig, TrainingError, train

__all__ = ["run_wave_with_tune"]


def _tune_trainable(config: dict[str, Any]) -> None:
    import ray

    cfg = RunConfig.from_dict(config["run"])
    # recorded in the run's status.json (training._whoami): which cluster node trained it
    os.environ["XFER_RAY_NODE"] = ray.get_runtime_context().get_node_id()
    try:
        train(cfg, config["root"], log=lambda *_: None)
    except TrainingError as err:
        tune.report({"done": 0.0, "error": str(err)[:500]})
        return
    tune.report({"done": 1.0})


def run_wave_with_tune(wave: list[RunConfig], root: Path, concurrency: int, index: int) -> None:
    """Train a wave's independent runs as Ray Tune trials, ``concurrency`` at a time.

    Each trial reserves one CPU for its driver-side learner and one per env runner (its
    RLlib actors are placed in the trial's placement group).
    """
    env_runners = max(c.env_runners for c in wave)
    # embedded Ray gets enough logical CPUs for one trial at least (else Tune would wait
    # forever for a placement group bigger than the machine); on a cluster, what it has
    address = os.environ.get("RAY_ADDRESS") or None
    ensure_ray(address, num_cpus=None if address else max(os.cpu_count() or 1, 1 + env_runners))
    resources = tune.PlacementGroupFactory([{"CPU": 1}] + [{"CPU": 1}] * env_runners)
    tuner = tune.Tuner(
        tune.with_resources(_tune_trainable, resources),
        param_space={
            "run": tune.grid_search([c.to_dict() for c in wave]),
            "root": str(root.resolve()),
        },
        tune_config=tune.TuneConfig(max_concurrent_trials=concurrency),
        run_config=tune.RunConfig(
            storage_path=str((root / "tune").resolve()), name=f"wave{index}", verbose=0
        ),
    )
    tuner.fit()
