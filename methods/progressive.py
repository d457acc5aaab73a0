"""Progressive neural networks (Rusu et al. 2016).

A progressive net after sources ``S1..Sk`` loads every column of its last source run
(a chain: that run was itself trained after ``S1..Sk-1``), freezes them and adds one
column with lateral adapters. Its source run is scratch on ``S1`` for 2 columns, else a
progressive net on ``Sk`` after ``S1..Sk-1``. Task ``i`` of the chain is played by the
column trained on it. The suite computes the average Fisher sensitivity (AFS) of every
finished progressive run.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from methods.base import NetworkSpec, register_method
from methods.columns import ColumnNetMethod, check_input, column_config

__all__ = ["Progressive"]


class Progressive(ColumnNetMethod):
    name = "progressive"
    min_sources = 1
    fields = frozenset({"alpha_init"})
    analyses = ("afs", "aps")

    def label(self, sources: Sequence[str]) -> str:
        return f"progressive-{len(sources) + 1}col"

    def validate(self, cfg: Any) -> None:
        if not cfg.sources:
            raise ValueError(
                "progressive needs at least one --source (its earlier columns); a frozen "
                "random first column is --agent random-column (baseline 4)"
            )

    def source_agent(self, sources: Sequence[str]) -> str:
        return self.name if len(sources) > 1 else "scratch"

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        from agents.progressive import ProgressiveNet

        if not sources:  # random, frozen earlier columns
            net = ProgressiveNet(column_config(spec), spec.num_actions)
            for _ in range(spec.num_columns - 1):
                net.add_column(spec.num_actions)
            return net
        net = ProgressiveNet.load(sources[-1])
        check_input(net, spec, sources[-1])
        net.config = dataclasses.replace(net.config, alpha_init=spec.alpha_init)
        net.add_column(spec.num_actions)
        return net

    def plan_speed_key(self, cfg: Any) -> int | str:
        return len(cfg.sources) + 1


PROGRESSIVE = register_method(Progressive())
