"""The interface between the training loop and whatever trains (RLlib, or a fake in tests).

The loop (:mod:`benchmarks.training`) owns a run: its directory, resume, identity,
curve windows, checkpoints, status, the lock. A :class:`Trainer` owns the algorithm: it
runs one iteration and returns typed statistics, saves and restores its own state, and
carries a method's state to learners and env runners. ``benchmarks.rllib.trainer``
implements it with RLlib; the tests use a fake one (no Ray, seconds). Nothing here
imports torch or Ray.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, TypeVar

__all__ = ["IterationStats", "Trainer", "TrainerFactory"]

T = TypeVar("T")


@dataclass(frozen=True)
class IterationStats:
    """What one training iteration reports, as lifetime sums since the trainer was built
    (or restored: the loop notices counters that start again from 0).

    Attributes:
        env_steps_sampled: agent (env) steps the env runners sampled.
        env_steps_trained: agent steps the learner trained on (None: not reported).
        episodes: whole episodes finished.
        score_sum: the sum of their raw game scores (every chunk of each episode).
        score_sq_sum: the sum of the squares of those scores.
        learn_return_sum: the sum of their learning returns (clipped rewards).
        policy_lag: learner updates between the weights that sampled a batch and those
            that trained on it, this iteration (None: not reported).
    """

    env_steps_sampled: float
    env_steps_trained: float | None = None
    episodes: float = 0.0
    score_sum: float = 0.0
    score_sq_sum: float = 0.0
    learn_return_sum: float = 0.0
    policy_lag: float | None = None


class Trainer(Protocol):
    """One run's algorithm, built from its config by a :data:`TrainerFactory`."""

    def train_iteration(self) -> IterationStats:
        """Run one iteration (sampling and learning); its statistics."""
        ...

    def save(self, directory: Path) -> None:
        """Write everything needed to resume into ``directory`` (a new path: create it)."""
        ...

    def restore(self, directory: Path) -> None:
        """Load what :meth:`save` wrote."""
        ...

    def set_learning(self, on: bool) -> None:
        """Turn learning off (or back on): iterations still sample with the current
        weights and report episodes, but apply no update (the curve check's replay)."""
        ...

    def learner_state_dict(self) -> dict[str, Any]:
        """The trained network's weights (``state_dict``), from the (first) learner."""
        ...

    def on_learner_nets(self, fn: Callable[[Any], T]) -> list[T]:
        """``fn(net)`` on every learner's network; the answers, in learner order."""
        ...

    def num_runners(self) -> int:
        """Env runners sampling (0: the driver samples itself)."""
        ...

    def on_runners(self, fn: Callable[[int, int, dict], T]) -> list[T]:
        """``fn(index, count, store)`` on every env runner (the driver's own when there
        are none): ``store`` is a dict the runner keeps for the method, which its
        episode callbacks see (``store["runner_hooks"]``: a ``methods.RunnerHooks``)."""
        ...

    def stop(self) -> None:
        """Release the algorithm's processes."""
        ...


# (run config, model config) -> a built trainer; model config: what the network needs
# (method name, source files, alpha_init, seed, the method's own entries)
TrainerFactory = Callable[[Any, dict[str, Any]], Trainer]
