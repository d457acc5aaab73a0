"""The paper's four baselines (Rusu et al. 2016): one column, or two with a random one.

1. ``scratch``: a single column trained on the target from scratch;
2. ``finetune-head``: the source run's newest column, only its output layer trained;
3. ``finetune-all``: as 2, the whole column trained;
4. ``random-column``: a 2-column progressive net whose first column is random and frozen
   (controls for the extra capacity).

Fine-tuned columns come from scratch on their one source; their run plays every task
with its one column (a fine-tuned column may forget its source task: that is what the
forgetting table measures).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from methods.base import NetworkSpec, register_method
from methods.columns import ColumnNetMethod, check_input, column_config

__all__ = ["Scratch", "FinetuneHead", "FinetuneAll", "RandomColumn"]


class Scratch(ColumnNetMethod):
    name = "scratch"
    table_label = "baseline1-scratch"
    max_sources = 0

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        from agents.progressive import ProgressiveNet

        return ProgressiveNet(column_config(spec), spec.num_actions)


class FinetuneAll(ColumnNetMethod):
    name = "finetune-all"
    table_label = "baseline3-finetune-all"
    min_sources = max_sources = 1
    train_trunk = True

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        from agents.progressive import ProgressiveNet

        source = ProgressiveNet.load(sources[0])
        check_input(source, spec, sources[0])
        net = ProgressiveNet(source.config, source.columns[-1].num_actions)
        newest = f"columns.{source.num_columns - 1}."
        net.columns[0].load_state_dict(
            {k.split(".", 2)[2]: v for k, v in source.state_dict().items() if k.startswith(newest)}
        )
        if net.num_actions != spec.num_actions:
            net.reset_heads(spec.num_actions)
        if not self.train_trunk:
            net.freeze_trunk()
        return net


class FinetuneHead(FinetuneAll):
    name = "finetune-head"
    table_label = "baseline2-finetune-head"
    train_trunk = False


class RandomColumn(ColumnNetMethod):
    name = "random-column"
    table_label = "baseline4-random-column"
    max_sources = 0
    fields = frozenset({"alpha_init"})

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        from agents.progressive import ProgressiveNet

        net = ProgressiveNet(column_config(spec), spec.num_actions)
        net.add_column(spec.num_actions)
        return net

    def plan_speed_key(self, cfg: Any) -> int | str:
        return 2


SCRATCH = register_method(Scratch())
FINETUNE_HEAD = register_method(FinetuneHead())
FINETUNE_ALL = register_method(FinetuneAll())
RANDOM_COLUMN = register_method(RandomColumn())
