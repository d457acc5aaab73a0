"""DEN's constants (:class:`DENConfig`) and phase names: plain Python, no torch.

The run config (``runstore.config``) takes its ``den_*`` fields and their defaults from
here, so a config can be built and checked without importing torch.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

__all__ = ["DENConfig", "PHASES", "SOURCE", "HEAD", "SELECTIVE", "EXPAND", "FINAL"]

# phase index -> name; task 0 trains in phase 0 only, every later task runs 1 -> 4
PHASES = ("source", "head", "selective", "expand", "final")
SOURCE, HEAD, SELECTIVE, EXPAND, FINAL = range(5)


@dataclass(frozen=True)
class DENConfig:
    """DEN's constants (paper values where they exist; ``docs/den.md`` for the rest).

    Attributes:
        k: units (feature maps in conv layers) added per layer by an expansion (paper 10).
        tau: expansion threshold. The paper expands when the loss after selective
            retraining stays above ``tau`` (0.01 on a classification loss). An
            actor-critic loss has no such scale, so here ``tau`` is a *score*: expand when
            the mean raw score of the episodes in the last curve window of selective
            retraining is below it. None (default): always expand, and let group
            sparsity prune the units the task did not need.
        sigma: drift threshold of split/duplicate: L2 distance between a unit's incoming
            weights (and bias) before and after the task (paper 0.05).
        l1: mu, the L1 penalty: on every weight while training the first task (sparse
            network), on the new head while it is fitted alone, and on the added units
            during expansion (paper 1e-5).
        l2: lambda, the L2 penalty on the weights being retrained (paper 1e-4).
        group: gamma, the group-lasso penalty on the added units, one group per unit
            (its incoming weights and bias) (paper 1e-3).
        drift: the L2 drift penalty ``||W_t - W_{t-1}||^2`` on retrained old units (paper
            0.5).
        zero_eps: a weight whose magnitude is below it counts as zero in the breadth-first
            search, and an added unit whose root-mean-square incoming weight is below it
            is pruned. RMSProp keeps an L1- or group-lasso-driven weight oscillating
            within about one learning rate (7e-4) of zero, so exact zeros never appear;
            live weights of the column are about 0.06-0.1 (orthogonal init).
        phases: fractions of a task's step budget spent fitting the new head alone, in
            selective retraining, and in expansion; the rest is the final phase, which
            trains the task's own units (added and split) after the split.
    """

    k: int = 10
    tau: float | None = None
    sigma: float = 0.05
    l1: float = 1e-5
    l2: float = 1e-4
    group: float = 1e-3
    drift: float = 0.5
    zero_eps: float = 1e-2
    phases: tuple[float, float, float] = (0.1, 0.3, 0.3)

    def __post_init__(self) -> None:
        if self.k < 0:
            raise ValueError(f"den k must be >= 0, got {self.k}")
        for name in ("sigma", "l1", "l2", "group", "drift", "zero_eps"):
            if not getattr(self, name) >= 0:
                raise ValueError(f"den {name} must be >= 0, got {getattr(self, name)}")
        phases = tuple(float(p) for p in self.phases)
        if len(phases) != 3 or min(phases) <= 0 or sum(phases) >= 1:
            raise ValueError(
                "den phases are three positive fractions (head, selective, expansion) "
                f"with sum < 1 (the rest is the final phase), got {self.phases}"
            )
        object.__setattr__(self, "phases", phases)

    def phase_at(self, fraction: float) -> int:
        """The phase (``HEAD`` .. ``FINAL``) of a later task at ``fraction`` of its budget.

        Example:
            >>> DENConfig().phase_at(0.05), DENConfig().phase_at(0.5), DENConfig().phase_at(1.0)
            (1, 3, 4)
        """
        edge = 0.0
        for phase, share in zip((HEAD, SELECTIVE, EXPAND), self.phases, strict=True):
            edge += share
            if fraction < edge - 1e-9:  # 0.1 + 0.2 is 0.30000000000000004
                return phase
        return FINAL

    def to_dict(self) -> dict[str, Any]:
        data = dataclasses.asdict(self)
        data["phases"] = list(self.phases)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> DENConfig:
        data = dict(data)
        data["phases"] = tuple(data.get("phases", cls.phases))
        return cls(**data)
