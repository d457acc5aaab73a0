"""PathNet (Fernando et al. 2017) as a transfer method: its network, evolution and hooks.

The method (:class:`PathNetMethod`): a PathNet after a source continues from the
source's PathNet (its fixed path frozen, a new readout where the action count differs);
task ``i`` is played by its fixed path and readout ``i``, the run's own task by the best
path of the population; its source run is PathNet on the source with the same
population. Training evolves the population through :class:`EvolutionHooks` (driver)
and :class:`PathRunnerHooks` (env runners); the rest of this module is the evolution's
plain bookkeeping (no Ray): who plays which path, who scores what.

PathNet (Fernando et al. 2017) trains a population of paths; a path's fitness is its
return over its last ``T`` episodes, and a binary tournament makes the loser a mutated
copy of the winner. For the fitness to mean anything, a path must be scored only on
episodes it played from the first step to the last. Two classes keep that true:

- :class:`RunnerPaths` lives in each env runner. Each sub-env plays one member's path,
  chosen when the sub-env *starts* an episode and kept until that episode ends. At the
  end it reports ``(member, generation, whole)``, where ``whole`` says that every
  recorded step of the episode (every rollout chunk) was computed with that member's
  path, read from the path column the module wrote next to each action.
- :class:`Population` lives in the driver. It credits a score to a member only when the
  episode was whole *and* played with the member's current path (its generation: a
  member that lost a tournament gets a new path and a new generation, and episodes still
  running with its old path are discarded). After every ``T`` new whole episodes of a
  member, the member meets a random other evaluated member in a binary tournament.

Every member is evaluated: env runner ``i`` of ``R`` plays the members ``m`` with
``m % R == i % R`` (all members when there are fewer members than runners would leave
some idle: then runner ``i`` plays member ``i % P``), cycling through them at episode
starts.

Example:
    >>> from agents import PathNetConfig
    >>> pop = Population(PathNetConfig(), size=2, episodes_per_fitness=1, seed=0)
    >>> runner = RunnerPaths()
    >>> runner.update(pop.table(), pop.members_for_runner(0, 1))
    >>> path = runner.start(env_index=0, episode_id="a")
    >>> member, generation, whole = runner.end(0, "a", [path.ravel()] * 3)
    >>> pop.record(member, generation, score=1.0, whole=whole)
    'credited'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from methods.base import (
    Method,
    NetworkSpec,
    RunnerHooks,
    TaskPart,
    TrainingHooks,
    check_task_actions,
    register_method,
)

if TYPE_CHECKING:  # agents imports torch; the run config imports this module for T only
    from agents import PathNetConfig

__all__ = [
    "Population",
    "RunnerPaths",
    "DEFAULT_EPISODES_PER_FITNESS",
    "PATH_COLUMN",
    "PathNetMethod",
    "EvolutionHooks",
    "PathRunnerHooks",
]

# the model output that records, with every sampled step, the path that computed it
PATH_COLUMN = "pathnet_path"

# T, the episodes a fitness is averaged over. The PathNet paper gives "the return over the
# last T episodes" without a value for its A3C experiments; 5 is our choice: on Pong an
# episode is 800-2,000 agent steps, so with 8 members a 300k-step run still scores every
# member on about 8 groups of 5 whole episodes.
DEFAULT_EPISODES_PER_FITNESS = 5


class Population:
    """The driver's view: paths, their generations, whole-episode scores and tournaments.

    Args:
        pconfig: the PathNet's shape (layers, modules per layer, active modules).
        size: number of paths (the paper: 64, one per A3C worker).
        episodes_per_fitness: T; a member's fitness is its mean score over its last T
            whole episodes, and it enters a tournament after every T new ones.
        seed: seeds the initial paths, the tournament draws and the mutations.
        state: a :meth:`state` dict to resume from.
    """

    def __init__(
        self,
        pconfig: PathNetConfig,
        size: int,
        episodes_per_fitness: int = DEFAULT_EPISODES_PER_FITNESS,
        seed: int = 0,
        state: dict[str, Any] | None = None,
    ) -> None:
        if size < 2:
            raise ValueError(f"a PathNet population needs at least 2 paths, got {size}")
        if episodes_per_fitness < 1:
            raise ValueError(f"episodes_per_fitness must be >= 1, got {episodes_per_fitness}")
        from agents import random_path

        self.pconfig = pconfig
        self.T = int(episodes_per_fitness)
        self.rng = np.random.default_rng(seed)
        if state is not None:
            self._load(state)
            if len(self.paths) != size:
                raise ValueError(
                    f"the saved population has {len(self.paths)} paths, the run asks for {size}"
                )
            return
        self.paths = [random_path(self.rng, pconfig) for _ in range(size)]
        self.generation = [0] * size
        self.scores: list[list[float]] = [[] for _ in range(size)]  # current generation
        self.pending = [0] * size  # whole episodes since the member's last tournament
        self.whole_episodes = [0] * size  # credited over the whole run, all generations
        self.discarded = {"partial": 0, "stale": 0}
        self.tournaments = 0
        self.history: list[dict[str, Any]] = []

    # -- what the env runners need ------------------------------------------------------
    def table(self) -> list[tuple[int, int, list[list[int]]]]:
        """``(member, generation, path)`` for every member."""
        return [(m, self.generation[m], self.paths[m].tolist()) for m in range(len(self.paths))]

    def members_for_runner(self, index: int, num_runners: int) -> list[int]:
        """The members env runner ``index`` (of ``num_runners``) plays."""
        size, num_runners = len(self.paths), max(1, num_runners)
        if size < num_runners:
            return [index % size]
        return [m for m in range(size) if m % num_runners == index % num_runners]

    # -- scores -------------------------------------------------------------------------
    def fitness(self, member: int) -> float | None:
        """Mean score of the member's last T whole episodes (None before T of them)."""
        s = self.scores[member]
        return float(np.mean(s[-self.T :])) if len(s) >= self.T else None

    def record(self, member: int, generation: int, score: float, whole: bool) -> str:
        """Credit one finished episode; returns ``credited``, ``partial`` or ``stale``.

        ``partial``: not every step was played with the member's path (not credited).
        ``stale``: played with a path the member no longer has (not credited).
        """
        if not 0 <= member < len(self.paths):
            raise ValueError(f"no member {member} in a population of {len(self.paths)}")
        if not whole:
            self.discarded["partial"] += 1
            return "partial"
        if generation != self.generation[member]:
            self.discarded["stale"] += 1
            return "stale"
        self.scores[member].append(float(score))
        del self.scores[member][: -max(self.T, 1) * 4]  # keep the recent ones only
        self.pending[member] += 1
        self.whole_episodes[member] += 1
        if self.pending[member] >= self.T:
            self._tournament(member)
        return "credited"

    def _tournament(self, member: int) -> None:
        from agents import mutate

        others = [j for j in range(len(self.paths)) if j != member and self.fitness(j) is not None]
        self.pending[member] = 0
        if not others:
            return  # nobody to compare with yet; the member keeps playing
        other = int(self.rng.choice(others))
        mine, theirs = self.fitness(member), self.fitness(other)
        assert mine is not None and theirs is not None
        winner, loser = (member, other) if mine >= theirs else (other, member)
        self.paths[loser] = mutate(self.paths[winner], self.rng, self.pconfig.modules_per_layer)
        self.generation[loser] += 1
        self.scores[loser] = []
        self.pending[loser] = 0
        self.tournaments += 1
        self.history.append(
            {
                "winner": winner,
                "loser": loser,
                "winner_fitness": mine if winner == member else theirs,
                "loser_fitness": theirs if winner == member else mine,
            }
        )
        del self.history[:-200]

    def best_member(self) -> int:
        """The member with the highest fitness (most whole episodes if none has one yet)."""
        scored = [(f, m) for m in range(len(self.paths)) if (f := self.fitness(m)) is not None]
        if scored:
            return max(scored)[1]
        return int(np.argmax([len(s) for s in self.scores]))

    def best_path(self) -> np.ndarray:
        return self.paths[self.best_member()].copy()

    # -- persistence --------------------------------------------------------------------
    def state(self) -> dict[str, Any]:
        """Everything to resume, plus what ``pathnet.json`` reports per member."""
        return {
            "population": [p.tolist() for p in self.paths],
            "generation": list(self.generation),
            "scores": [list(s) for s in self.scores],
            "pending": list(self.pending),
            "fitness": [self.fitness(m) for m in range(len(self.paths))],
            "whole_episodes": list(self.whole_episodes),
            "discarded": dict(self.discarded),
            "tournaments": self.tournaments,
            "episodes_per_fitness": self.T,
            "history": list(self.history),
            "rng": self.rng.bit_generator.state,
        }

    def _load(self, state: dict[str, Any]) -> None:
        self.paths = [np.asarray(p, dtype=np.int64) for p in state["population"]]
        self.generation = [int(g) for g in state["generation"]]
        self.scores = [[float(x) for x in s] for s in state["scores"]]
        self.pending = [int(p) for p in state["pending"]]
        self.whole_episodes = [int(w) for w in state["whole_episodes"]]
        self.discarded = {k: int(v) for k, v in state["discarded"].items()}
        self.tournaments = int(state["tournaments"])
        self.history = list(state.get("history", []))
        if "rng" in state:
            self.rng.bit_generator.state = state["rng"]


class RunnerPaths:
    """One env runner's view: which member each sub-env plays, fixed for a whole episode."""

    def __init__(self) -> None:
        self.paths: dict[int, tuple[int, np.ndarray]] = {}  # member -> (generation, path)
        self.members: list[int] = []
        self.cursor = 0
        self.playing: dict[int, tuple[str, int, int, np.ndarray]] = {}

    def update(self, table: Sequence[tuple[int, int, Any]], members: Sequence[int]) -> None:
        """New paths from the driver. Episodes already running keep the path they started
        with; only episodes that start from now on use the new table."""
        self.paths = {int(m): (int(g), np.asarray(p, dtype=np.int64)) for m, g, p in table}
        unknown = [m for m in members if m not in self.paths]
        if unknown or not members:
            raise ValueError(f"members {list(members)} are not all in the table")
        self.members = [int(m) for m in members]

    @property
    def ready(self) -> bool:
        return bool(self.members)

    def start(self, env_index: int, episode_id: str) -> np.ndarray:
        """The path sub-env ``env_index`` plays for the episode that starts now."""
        if not self.members:
            raise RuntimeError("no population table yet")
        member = self.members[self.cursor % len(self.members)]
        self.cursor += 1
        generation, path = self.paths[member]
        self.playing[env_index] = (episode_id, member, generation, path)
        return path

    def end(
        self, env_index: int, episode_id: str, played: Sequence[np.ndarray] | np.ndarray
    ) -> tuple[int, int, bool] | None:
        """``(member, generation, whole)`` of the episode that just ended, or None.

        Args:
            env_index: the sub-env.
            episode_id: the finished episode's id (an episode that started before this
                runner had a table has no member and returns None).
            played: the path recorded with every step of the episode (flattened rows).
        """
        entry = self.playing.pop(env_index, None)
        if entry is None or entry[0] != episode_id:
            return None
        _, member, generation, path = entry
        rows = np.asarray(played, dtype=np.int64).reshape(-1, path.size)
        whole = len(rows) > 0 and bool((rows == path.ravel()).all())
        return member, generation, whole


class PathRunnerHooks(RunnerHooks):
    """In each env runner: a sub-env gets a member's path when its episode starts; when
    it ends, ``(member, generation, score, whole, steps)`` joins ``store["results"]``
    (``whole`` read from the path recorded with every step, :data:`PATH_COLUMN`)."""

    def on_episode_start(self, store: dict, module: Any, env_index: int, episode_id: str) -> None:
        paths = store.get("paths")
        if paths is None or not paths.ready:
            return
        module.set_row_path(env_index, paths.start(env_index, episode_id))

    def on_episode_end(
        self,
        store: dict,
        env_index: int,
        episode_id: str,
        score: float,
        outputs: Callable[[str], Any],
    ) -> None:
        paths = store.get("paths")
        if paths is None:
            return
        played = outputs(PATH_COLUMN)
        scored = paths.end(env_index, episode_id, played)
        if scored is not None:
            member, generation, whole = scored
            store["results"].append((member, generation, score, whole, len(played)))


def _update_runner(table: list, members: list[int]) -> Callable[[int, int, dict], None]:
    def update(index: int, count: int, store: dict) -> None:
        if "paths" not in store:
            store["paths"] = RunnerPaths()
            store["results"] = []
            store["runner_hooks"] = PathRunnerHooks()
        store["paths"].update(table, members[index] if index < len(members) else members[0])

    return update


def _pop_results(index: int, count: int, store: dict) -> list:
    out = list(store.get("results", []))
    store["results"] = []
    return out


class EvolutionHooks(TrainingHooks):
    """Drives the tournament across the env runners (bookkeeping in :class:`Population`).

    Every iteration it collects the runners' finished episodes, credits whole episodes
    played with a member's current path, runs the tournaments that are due and, when a
    path changed, hands the runners the new table (running episodes keep their path; a
    restarted runner gets it again at the next push). At the end the best path is fixed.
    """

    def __init__(self, cfg: Any, in_channels: int, state: dict | None) -> None:
        from agents import PathNetConfig

        self.population = Population(
            PathNetConfig(in_channels=in_channels),
            size=cfg.pathnet_population,
            episodes_per_fitness=cfg.pathnet_episodes,
            seed=cfg.seed + 7,
            state=state,
        )
        self._pushed: list | None = None

    def _push(self, trainer: Any) -> None:
        table = self.population.table()
        count = max(1, trainer.num_runners())
        members = [self.population.members_for_runner(i, count) for i in range(count)]
        trainer.on_runners(_update_runner(table, members))
        self._pushed = table

    def on_start(self, trainer: Any) -> None:
        self._push(trainer)

    def on_iteration(self, trainer: Any, env_steps: float, score: float | None) -> list[str]:
        for results in trainer.on_runners(_pop_results):
            for member, generation, ep_score, whole, _steps in results:
                self.population.record(int(member), int(generation), float(ep_score), bool(whole))
        if self.population.table() != self._pushed:
            self._push(trainer)
        return []

    def best_path(self) -> np.ndarray:
        return self.population.best_path()

    def state(self) -> dict[str, Any]:
        return self.population.state()

    def finish(self, net: Any) -> dict[str, Any]:
        best = self.best_path()
        net.fix_path(best)
        return {"pathnet.json": {**self.state(), "best_path": best.tolist()}}


class PathNetMethod(Method):
    """PathNet: L layers of M modules, a population of paths evolved by tournament."""

    name = "pathnet"
    max_sources = None
    fields = frozenset({"pathnet_population", "pathnet_episodes"})
    checks_curve = False  # its curve averages the population's paths, not the saved one

    def validate(self, cfg: Any) -> None:
        if cfg.num_learners > 1:
            raise ValueError(
                "PathNet trains with one learner (num_learners 0 or 1): with several, "
                "distributed data parallel waits for gradients of modules off every path"
            )

    def source_agent(self, sources: Sequence[str]) -> str:
        return self.name

    def source_settings(self, cfg: Any) -> dict[str, Any]:
        # the source evolves a population of the same size
        return {k: getattr(cfg, k) for k in sorted(self.fields)}

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        from agents.pathnet import PathNet, PathNetConfig

        if not sources:
            config = PathNetConfig(in_channels=spec.in_channels, input_size=spec.input_size)
            return PathNet(config, spec.num_actions)
        net = PathNet.load(sources[-1])
        if net.config.in_channels != spec.in_channels:
            raise ValueError(
                f"source {sources[-1]} has {net.config.in_channels} input channels, "
                f"the task has {spec.in_channels}"
            )
        if len(net.fixed_paths) != len(net.readouts) - 1:
            raise ValueError(f"source {sources[-1]} has no fixed path; finish its task first")
        if net.num_actions != spec.num_actions:
            net.reset_readout(spec.num_actions)
        return net

    def task_policy(self, net: Any, part: TaskPart) -> tuple[Callable[[Any], Any], int | None]:
        import torch

        index = part.index
        if index >= len(net.fixed_paths):
            raise ValueError(f"no fixed path for task {index} of the chain")
        check_task_actions(net, index, part.num_actions, "readout")
        path = torch.as_tensor(net.fixed_paths[index])

        def policy(x: Any) -> Any:
            return net(x, path, task=index)

        return policy, None

    def training_hooks(
        self, cfg: Any, trainer: Any, in_channels: int, state: dict[str, Any] | None
    ) -> TrainingHooks:
        return EvolutionHooks(cfg, in_channels, state)

    def plan_speed_key(self, cfg: Any) -> int | str:
        return "pathnet"


PATHNET = register_method(PathNetMethod())
