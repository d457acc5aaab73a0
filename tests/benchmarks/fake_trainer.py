"""A fake :class:`benchmarks.trainer.Trainer`: episodes of known scores, no env, no Ray.

Every iteration "samples" ``STEPS_PER_ITER`` agent steps and finishes
``EPISODES_PER_ITER`` episodes; global episode ``e`` scores :func:`score` (negative
scores included). Its lifetime counters restart from 0 after a restore, as RLlib's do,
while the score sequence continues from the restored position, so a resumed run must
give the same curve as one that never stopped. The network is real (built by the run's
method), so the loop saves a loadable ``agent.pt`` and method hooks act on it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from benchmarks.trainer import IterationStats
from runstore.config import RunConfig

STEPS_PER_ITER = 400
EPISODES_PER_ITER = 2

# a run for the fake: 2000 steps in 5 iterations of 400; a point every 1000 steps at least
FAKE_RUN = RunConfig(
    task="catch_soup/pong",
    steps=2_000,
    curve_window=1_000,
    check_episodes=0,
    wandb=False,
    checkpoint_every_s=0.0,
)


def quiet(*_: Any) -> None:
    """A log that drops every line."""


@pytest.fixture(autouse=True)
def fresh_trainer_list() -> None:
    """Each test counts its own trainers (import this fixture into a test module)."""
    FakeTrainer.built.clear()


def score(episode: int) -> float:
    """The raw score of global episode ``episode``: -3, -2, ..., 3, -3, ..."""
    return float(episode % 7 - 3)


class FakeTrainer:
    built: list[FakeTrainer] = []  # every trainer made, in order (tests count them)
    quiet: frozenset[int] = frozenset()  # global iterations (1-based) finishing no episode
    # added to every score while learning is off (the curve check's replay): a fault in
    # the pipeline's scoring that only the replay can see
    replay_offset: float = 0.0

    def __init__(
        self,
        cfg: Any,
        model_config: dict[str, Any],
        fail_at: int | None = None,
        error: type[BaseException] = KeyboardInterrupt,
    ) -> None:
        from benchmarks.runsetup import build_network
        from envs import make_env

        env = make_env(cfg.task)
        self.net = build_network(
            cfg,
            list(model_config["sources"]),
            int(env.action_space.n),
            int(env.observation_space.shape[-1]),
        )
        self.cfg, self.model_config = cfg, model_config
        self.fail_at, self.error = fail_at, error
        self.steps = self.episodes = 0  # global position (survives save/restore)
        self.base_steps = self.base_episodes = 0  # where the lifetime counters started
        self.total_sum = self.total_sq = 0.0  # lifetime sums of scores since built/restored
        self.iterations = 0
        self.store: dict = {}
        self.stopped = False
        self.learning = True
        self.learning_log: list[bool] = []
        FakeTrainer.built.append(self)

    def train_iteration(self) -> IterationStats:
        self.iterations += 1
        if self.fail_at is not None and self.iterations == self.fail_at:
            raise self.error("fake failure")
        done = 0 if self.steps // STEPS_PER_ITER + 1 in self.quiet else EPISODES_PER_ITER
        offset = 0.0 if self.learning else FakeTrainer.replay_offset
        scores = [score(self.episodes + i) + offset for i in range(done)]
        self.steps += STEPS_PER_ITER
        self.episodes += done
        self.total_sum += sum(scores)
        self.total_sq += sum(s * s for s in scores)
        return IterationStats(
            env_steps_sampled=float(self.steps - self.base_steps),
            env_steps_trained=float(self.steps - self.base_steps),
            episodes=float(self.episodes - self.base_episodes),
            score_sum=self.total_sum,
            score_sq_sum=self.total_sq,
            learn_return_sum=self.total_sum,
            policy_lag=1.0,
        )

    def save(self, directory: Path) -> None:
        Path(directory).mkdir(parents=True)
        (Path(directory) / "fake.json").write_text(
            json.dumps({"steps": self.steps, "episodes": self.episodes})
        )

    def restore(self, directory: Path) -> None:
        state = json.loads((Path(directory) / "fake.json").read_text())
        self.steps = self.base_steps = int(state["steps"])
        self.episodes = self.base_episodes = int(state["episodes"])
        self.total_sum = self.total_sq = 0.0

    def set_learning(self, on: bool) -> None:
        self.learning = on
        self.learning_log.append(on)

    def learner_state_dict(self) -> dict[str, Any]:
        return {k: v.detach().clone() for k, v in self.net.state_dict().items()}

    def on_learner_nets(self, fn: Callable[[Any], Any]) -> list[Any]:
        return [fn(self.net)]

    def num_runners(self) -> int:
        return 0

    def on_runners(self, fn: Callable[[int, int, dict], Any]) -> list[Any]:
        return [fn(0, 1, self.store)]

    def stop(self) -> None:
        self.stopped = True


def fake_factory(
    fail_at: int | None = None,
    error: type[BaseException] = KeyboardInterrupt,
    fails: Callable[[Any], bool] = lambda cfg: True,
) -> Callable[..., FakeTrainer]:
    """A trainer factory; runs for which ``fails(cfg)`` fail at iteration ``fail_at``."""

    def make(cfg: Any, model_config: dict[str, Any]) -> FakeTrainer:
        return FakeTrainer(cfg, model_config, fail_at if fails(cfg) else None, error)

    return make
