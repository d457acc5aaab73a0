"""The RLlib implementation of the training loop's :class:`benchmarks.trainer.Trainer`.

Everything the loop needs from RLlib goes through this class: building the algorithm
(embedded Ray or a cluster), one ``train()`` call turned into typed statistics (RLlib's
result keys are read here and nowhere else), saving and restoring the algorithm's state,
and reaching the learners' networks and the env runners for a method's hooks.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from benchmarks.rllib.algo import (
    EPISODES,
    LEARN_RETURN_SUM,
    RETURN_SQ_SUM,
    RETURN_SUM,
    build_algorithm,
    ensure_ray,
    policy_lag,
    runner_store,
)
from benchmarks.trainer import IterationStats

__all__ = ["RLlibTrainer", "build_trainer", "stats_from_result"]

T = TypeVar("T")


def stats_from_result(result: dict[str, Any]) -> IterationStats:
    """The typed statistics of one ``algo.train()`` result.

    Example:
        >>> stats_from_result({"env_runners": {"num_env_steps_sampled_lifetime": 5.0,
        ...     "xfer_episodes": 1.0, "xfer_return_sum": -20.0}}).score_sum
        -20.0
    """
    runners = result.get("env_runners", {})
    trained = result.get("learners", {}).get("__all_modules__", {})
    return IterationStats(
        env_steps_sampled=float(runners.get("num_env_steps_sampled_lifetime", 0.0)),
        env_steps_trained=(
            float(trained["num_env_steps_trained_lifetime"])
            if "num_env_steps_trained_lifetime" in trained
            else None
        ),
        episodes=float(runners.get(EPISODES, 0.0)),
        score_sum=float(runners.get(RETURN_SUM, 0.0)),
        score_sq_sum=float(runners.get(RETURN_SQ_SUM, 0.0)),
        learn_return_sum=float(runners.get(LEARN_RETURN_SUM, 0.0)),
        policy_lag=policy_lag(result),
    )


class RLlibTrainer:
    """One run's RLlib algorithm behind the loop's :class:`~benchmarks.trainer.Trainer`."""

    def __init__(self, algo: Any) -> None:
        self.algo = algo

    def train_iteration(self) -> IterationStats:
        return stats_from_result(self.algo.train())

    def save(self, directory: Path) -> None:
        self.algo.save_to_path(str(Path(directory).resolve()))  # pyarrow wants absolute

    def restore(self, directory: Path) -> None:
        self.algo.restore_from_path(str(Path(directory).resolve()))

    def set_learning(self, on: bool) -> None:
        from benchmarks.rllib.learners import LEARNING_OFF_ATTR

        def flag(learner: Any) -> bool:
            setattr(learner, LEARNING_OFF_ATTR, not on)
            return True

        answers = list(self.algo.learner_group.foreach_learner(flag))
        if not answers:
            raise RuntimeError("no learner answered")

    def on_learner_nets(self, fn: Callable[[Any], T]) -> list[T]:
        def call(learner: Any) -> Any:
            return fn(learner.module["default_policy"].unwrapped().net)

        results = list(self.algo.learner_group.foreach_learner(call))  # RemoteCallResults
        if not results:
            raise RuntimeError("no learner answered")
        return [r.get() if hasattr(r, "get") else r for r in results]

    def learner_state_dict(self) -> dict[str, Any]:
        return self.on_learner_nets(
            lambda net: {k: v.detach().cpu() for k, v in net.state_dict().items()}
        )[0]

    def _runner_ids(self) -> list[int]:
        group = self.algo.env_runner_group
        return list(group.healthy_worker_ids()) if group.num_remote_env_runners() else []

    def num_runners(self) -> int:
        return len(self._runner_ids())

    def on_runners(self, fn: Callable[[int, int, dict], T]) -> list[T]:
        ids = self._runner_ids()
        if not ids:
            return [fn(0, 1, runner_store(self.algo.env_runner))]
        out: list[T] = []
        count = len(ids)
        for i, worker_id in enumerate(ids):
            answers = self.algo.env_runner_group.foreach_env_runner(
                lambda runner, i=i, n=count: fn(i, n, runner_store(runner)),
                remote_worker_ids=[worker_id],
                local_env_runner=False,
            )
            out += list(answers)
        return out

    def stop(self) -> None:
        self.algo.stop()


def build_trainer(cfg: Any, model_config: dict[str, Any]) -> RLlibTrainer:
    """Start Ray (embedded, or the cluster ``cfg.address`` / ``RAY_ADDRESS`` names) and
    build the run's algorithm (:data:`benchmarks.trainer.TrainerFactory`)."""
    address = cfg.address or os.environ.get("RAY_ADDRESS")
    ensure_ray(address, num_cpus=None if address else max(2, cfg.env_runners + 1))
    return RLlibTrainer(build_algorithm(cfg, model_config))
