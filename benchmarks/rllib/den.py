"""DEN's phases across RLlib learners (the driver side).

The network (:class:`agents.DENNet`) holds its phase and masks as buffers, so the
learners' copies change them and RLlib's weight sync carries them to the env runners;
its checkpoint carries them across a resume. This class tells every learner when a
phase boundary of the run's step budget is crossed (``DENConfig.phase_at``), with the
score the expansion test needs, and keeps the record of what each transition did.
"""

from __future__ import annotations

import math
from typing import Any

from benchmarks.rllib.algo import on_learner_nets

__all__ = ["DENPhases"]


class DENPhases:
    """Moves the learners' DEN through its phases as the run's env steps grow.

    Args:
        cfg: the run's :class:`benchmarks.config.RunConfig`.
        algo: the RLlib algorithm.
        state: :meth:`state` of an interrupted run (its transitions so far).
    """

    def __init__(self, cfg: Any, algo: Any, state: dict[str, Any] | None = None) -> None:
        self.cfg = cfg
        self.algo = algo
        self.den = cfg.den_config()
        self.transitions: list[dict[str, Any]] = list((state or {}).get("transitions", []))
        self.phase, self.num_tasks = on_learner_nets(
            algo, lambda net: (net.phase_index, net.num_tasks)
        )[0]

    def step(self, env_steps: float, score: float | None) -> list[dict[str, Any]]:
        """Make the transitions due at ``env_steps`` on every learner; return them.

        ``score``: the newest curve point's mean score (the expansion test's input).
        """
        if self.num_tasks < 2:
            return []
        target = self.den.phase_at(env_steps / self.cfg.steps)
        if target <= self.phase:
            return []
        value = None if score is None or not math.isfinite(score) else float(score)

        done = on_learner_nets(self.algo, lambda net: net.advance(target, value))[0]
        for record in done:
            record["env_steps"] = float(env_steps)
        self.transitions += done
        self.phase = target
        return done

    def state(self) -> dict[str, Any]:
        return {"transitions": list(self.transitions)}
