"""Ray Tune for a suite's waves: independent runs as trials, several at a time.

Kept here, beside the RLlib code, so that no module outside ``benchmarks/rllib`` imports
Ray (a test enforces it).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ray import tune

from benchmarks.rllib.algo import ensure_ray

__all__ = ["run_wave_with_tune"]

# (run config as a dict, results root) -> None when the run finished, else why not
TrainOne = Callable[[dict[str, Any], str], "str | None"]


def _trainable(train_one: TrainOne) -> Callable[[dict[str, Any]], None]:
    def trial(config: dict[str, Any]) -> None:
        import ray

        # recorded in the run's status.json (benchmarks.runsetup.whoami): which node trained it
        os.environ["XFER_RAY_NODE"] = ray.get_runtime_context().get_node_id()
        error = train_one(config["run"], config["root"])
        if error is not None:
            tune.report({"done": 0.0, "error": error[:500]})
            return
        tune.report({"done": 1.0})

    return trial


def run_wave_with_tune(
    wave: list[Any], root: Path, concurrency: int, index: int, train_one: TrainOne
) -> None:
    """Train a wave's independent runs (``RunConfig``s) as Ray Tune trials,
    ``concurrency`` at a time, each with ``train_one`` (the runner's; this package never
    imports the training loop).

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
        tune.with_resources(_trainable(train_one), resources),
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
