"""Shared fixtures: a fake pixel env so wrapper tests need no ROM."""

from __future__ import annotations

import os

os.environ.setdefault("PYGLET_HEADLESS", "true")

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces


class FakePixelEnv(gym.Env):
    """RGB (H, W, 3) frames: a background colour with a sprite whose position is the step count.

    Deterministic under a seed: the sprite row is drawn from the reset seed.
    """

    BACKGROUND = (144, 72, 17)
    SPRITE = (236, 236, 236)

    def __init__(self, height: int = 40, width: int = 30) -> None:
        self.observation_space = spaces.Box(0, 255, (height, width, 3), np.uint8)
        self.action_space = spaces.Discrete(3)
        self.t = 0
        self.row = 0

    def _frame(self) -> np.ndarray:
        h, w, _ = self.observation_space.shape
        frame = np.empty((h, w, 3), np.uint8)
        frame[...] = self.BACKGROUND
        frame[self.row : self.row + 3, self.t % (w - 2) : self.t % (w - 2) + 2] = self.SPRITE
        frame[0, 0] = (10, 200, 30)  # a marker that is neither background nor sprite
        return frame

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        self.row = int(self.np_random.integers(0, self.observation_space.shape[0] - 3))
        return self._frame(), {}

    def step(self, action):
        self.t += 1 + int(action)
        return self._frame(), float(action == 1), self.t > 50, False, {}


@pytest.fixture
def fake_env() -> FakePixelEnv:
    return FakePixelEnv()
