"""Dynamically Expandable Networks (Yoon et al. 2018), adapted to actor-critic RL.

A DEN run after a source continues the source run's :class:`agents.DENNet` with a new
task (``DENNet.add_task``); its source run is DEN on the source with the same constants
(a chain grows one network; the first task trains with the L1 penalty). Task ``i`` is
played by head ``i`` with the units of tasks ``<= i``. Within a later task the run moves
through DEN's phases (head alone, selective retraining, expansion, final) as its steps
cross the fractions ``den_phases`` (:class:`PhaseHooks`); at the end the growth record
is written to ``den.json`` and the network is compacted. ``docs/den.md`` has the details.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from agents.den_config import DENConfig
from methods.base import (
    Method,
    NetworkSpec,
    TaskPart,
    TrainingHooks,
    check_task_actions,
    register_method,
)
from methods.columns import column_config

__all__ = ["DENMethod", "PhaseHooks", "den_config", "describe_transition"]

PREFIX = "den_"


def den_config(cfg: Any) -> DENConfig:
    """The run config's ``den_*`` fields as a :class:`DENConfig` (validates them)."""
    return DENConfig(**{k.removeprefix(PREFIX): v for k, v in den_settings(cfg).items()})


def den_settings(cfg: Any) -> dict[str, Any]:
    """The run config's ``den_*`` fields by name."""
    return {name: getattr(cfg, name) for name in DEN.fields}


def describe_transition(record: dict[str, Any]) -> str:
    """One log line for a DEN phase transition (``DENNet.advance``'s record)."""
    parts = [f"phase {record['phase']} at {int(record.get('env_steps', 0))} steps"]
    for key in ("selected", "added", "pruned", "split"):
        if key in record:
            parts.append(f"{key} " + "/".join(str(v) for v in record[key].values()))
    if "expanded" in record:
        parts.append(f"expansion test: score {record['score']}, expand {record['expanded']}")
    return "; ".join(parts)


class PhaseHooks(TrainingHooks):
    """Moves the learners' DEN through its phases as the run's env steps grow.

    The network holds its phase and masks as buffers, so the learners' copies change
    them and the weight sync carries them to the env runners; the checkpoint carries
    them across a resume. This hook tells every learner when a phase boundary of the
    run's step budget is crossed (``DENConfig.phase_at``), with the score the expansion
    test needs, and keeps the record of what each transition did.
    """

    def __init__(self, cfg: Any, state: dict[str, Any] | None) -> None:
        self.steps = cfg.steps
        self.den = den_config(cfg)
        self.transitions: list[dict[str, Any]] = list((state or {}).get("transitions", []))
        self.phase = self.num_tasks = 0

    def on_start(self, trainer: Any) -> None:
        self.phase, self.num_tasks = trainer.on_learner_nets(
            lambda net: (net.phase_index, net.num_tasks)
        )[0]

    def on_iteration(self, trainer: Any, env_steps: float, score: float | None) -> list[str]:
        """Make the transitions due at ``env_steps`` on every learner; log them.

        ``score``: the newest curve point's mean score (the expansion test's input).
        """
        if self.num_tasks < 2:
            return []
        target = self.den.phase_at(env_steps / self.steps)
        if target <= self.phase:
            return []
        value = None if score is None or not math.isfinite(score) else float(score)
        done = trainer.on_learner_nets(lambda net: net.advance(target, value))[0]
        for record in done:
            record["env_steps"] = float(env_steps)
        self.transitions += done
        self.phase = target
        return [f"DEN {describe_transition(record)}" for record in done]

    def state(self) -> dict[str, Any]:
        return {"transitions": list(self.transitions)}

    def finish(self, net: Any) -> dict[str, Any]:
        data = {**self.state(), "growth": net.growth(), "describe": net.describe()}
        net.compact()
        return {"den.json": data}


class DENMethod(Method):
    name = "den"
    fields = frozenset(f"{PREFIX}{f}" for f in DENConfig.__dataclass_fields__)
    exclusive_fields = True

    def validate(self, cfg: Any) -> None:
        den_config(cfg)

    def source_agent(self, sources: Sequence[str]) -> str:
        return self.name

    def source_settings(self, cfg: Any) -> dict[str, Any]:
        # the chain grows one network with the same DEN constants
        return den_settings(cfg)

    def model_config(self, cfg: Any) -> dict[str, Any]:
        return {"den": den_config(cfg).to_dict()}

    def network_extras(self, model_config: dict[str, Any]) -> dict[str, Any]:
        den = model_config.get("den")
        return {"den": DENConfig.from_dict(den)} if den else {}

    def build_network(self, spec: NetworkSpec, sources: Sequence[str]) -> Any:
        from agents.den import DENNet

        if not sources:
            return DENNet(column_config(spec), spec.num_actions, spec.den)
        net = DENNet.load(sources[-1], trainable=True)
        c = net.config
        if c.in_channels != spec.in_channels or c.input_size != spec.input_size:
            raise ValueError(
                f"source {sources[-1]} expects {c.in_channels}x{c.input_size}x"
                f"{c.input_size} inputs, the task gives "
                f"{spec.in_channels}x{spec.input_size}x{spec.input_size}"
            )
        if spec.den is not None:
            net.den = spec.den
        net.add_task(spec.num_actions)
        return net

    def task_policy(self, net: Any, part: TaskPart) -> tuple[Callable[[Any], Any], int | None]:
        index = part.index
        check_task_actions(net, index, part.num_actions, "head")

        def policy(x: Any) -> Any:  # head i computes with the units of tasks <= i only
            return net(x, task=index)

        return policy, None

    def training_hooks(
        self, cfg: Any, trainer: Any, in_channels: int, state: dict[str, Any] | None
    ) -> TrainingHooks:
        return PhaseHooks(cfg, state)


DEN = register_method(DENMethod())
