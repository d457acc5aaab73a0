"""PathNet's tournament across RLlib env runners (the driver side).

The bookkeeping (population, generations, whole-episode scores, tournaments) is
:class:`benchmarks.pathnet_evolution.Population`, which has no Ray in it; this class
moves its table to the env runners and the runners' finished episodes back to it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from agents import PathNetConfig
from benchmarks.pathnet_evolution import Population
from benchmarks.rllib.algo import pop_path_results, push_population

__all__ = ["PathNetEvolution"]


class PathNetEvolution:
    """Drives PathNet's tournament across the env runners (bookkeeping in
    :class:`benchmarks.pathnet_evolution.Population`).

    Every iteration it collects the runners' finished episodes, credits whole episodes
    played with a member's current path, runs the tournaments that are due and, when a
    path changed, hands the runners the new table (running episodes keep their path).
    """

    def __init__(self, cfg: Any, algo: Any, in_channels: int, state: dict | None) -> None:
        self.algo = algo
        self.population = Population(
            PathNetConfig(in_channels=in_channels),
            size=cfg.pathnet_population,
            episodes_per_fitness=cfg.pathnet_episodes,
            seed=cfg.seed + 7,
            state=state,
        )
        self._push()

    def _push(self) -> None:
        push_population(self.algo, self.population)
        self._pushed = self.population.table()

    def step(self) -> None:
        for member, generation, score, whole, _steps in pop_path_results(self.algo):
            self.population.record(int(member), int(generation), float(score), bool(whole))
        if self.population.table() != self._pushed:
            self._push()

    def best_path(self) -> np.ndarray:
        return self.population.best_path()

    def state(self) -> dict[str, Any]:
        return self.population.state()
