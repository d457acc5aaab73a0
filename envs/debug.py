"""A fake pixel env with a known score, for checking the training pipeline end to end.

Catch Soup's only reward comes on an episode's last step, which hides every bug that
drops or double-counts rewards from the middle of a long episode (RLlib cuts episodes
into rollout fragments). :class:`RewardTrackEnv` spreads rewards over a long episode,
with negative rewards and rewards outside [-1, 1], so that the raw score, the clipped
learning return and any per-fragment count all differ and are all known in advance.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["RewardTrackEnv"]


class RewardTrackEnv(gym.Env):
    """``length`` steps whatever the actions; reward :meth:`reward_at` (t) at step t.

    Frames are RGB (84, 84, 3): a bar whose length is the step count on a Pong-coloured
    background. The episode score does not depend on the policy: :attr:`raw_score` and
    :attr:`clipped_score` (rewards clipped to [-1, 1]) give it.

    Example:
        >>> env = RewardTrackEnv()
        >>> _ = env.reset(seed=0)
        >>> total = sum(env.step(0)[1] for _ in range(env.length))
        >>> total == env.raw_score
        True
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 30}
    BACKGROUND = (144, 72, 17)
    BAR = (236, 236, 236)
    SIZE = 84

    def __init__(self, length: int = 97) -> None:
        if not 1 <= length <= self.SIZE * self.SIZE:
            raise ValueError(f"length must be in [1, {self.SIZE * self.SIZE}], got {length}")
        self.length = length
        self.observation_space = spaces.Box(0, 255, (self.SIZE, self.SIZE, 3), np.uint8)
        self.action_space = spaces.Discrete(3)
        self.t = 0

    @staticmethod
    def reward_at(t: int) -> float:
        """Reward of step ``t`` (1-based): -3 every 9th step, +2 every 13th, else 0.25 or 0."""
        if t % 9 == 0:
            return -3.0
        if t % 13 == 0:
            return 2.0
        return 0.25 if t % 2 == 0 else 0.0

    @property
    def raw_score(self) -> float:
        return float(sum(self.reward_at(t) for t in range(1, self.length + 1)))

    @property
    def clipped_score(self) -> float:
        return float(sum(min(max(self.reward_at(t), -1.0), 1.0) for t in range(1, self.length + 1)))

    def _frame(self) -> np.ndarray:
        frame = np.empty((self.SIZE, self.SIZE, 3), dtype=np.uint8)
        frame[...] = self.BACKGROUND
        rows, cols = divmod(self.t, self.SIZE)
        frame[:rows] = self.BAR
        frame[rows, :cols] = self.BAR
        return frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.t = 0
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}; expected 0, 1 or 2")
        self.t += 1
        return self._frame(), self.reward_at(self.t), self.t >= self.length, False, {}

    def render(self) -> np.ndarray:
        return self._frame()
