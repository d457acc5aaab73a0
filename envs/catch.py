"""Catch: a tiny learnable pixel game for tests and smoke suites.

A ball falls one row per step from a random column of the top row; a paddle on the
bottom row moves left, stays or moves right. When the ball reaches the bottom row the
episode ends with +1 (caught) or -1 (missed). Frames are RGB 84x84 with a Pong-like
brown background, so the Pong Soup effects (colours, zoom, noise, flips) apply as they
do to Pong.
"""

from __future__ import annotations

from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = ["CatchEnv"]


class CatchEnv(gym.Env):
    """Catch on a ``columns`` x ``rows`` grid rendered as (84, 84, 3) uint8 RGB frames.

    Actions: 0 = stay (NOOP, as in Atari), 1 = left, 2 = right.

    Example:
        >>> env = CatchEnv()
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, int(env.action_space.n)
        ((84, 84, 3), 3)
    """

    metadata = {"render_modes": ["rgb_array"], "render_fps": 10}
    BACKGROUND = (144, 72, 17)  # Pong's background colour
    BALL = (236, 236, 236)
    PADDLE = (92, 186, 92)
    SIZE = 84

    def __init__(self, columns: int = 7, rows: int = 10, render_mode: str | None = None) -> None:
        if not 2 <= columns <= 21 or not 3 <= rows <= 21:
            raise ValueError(
                f"columns must be in [2, 21] and rows in [3, 21], got {columns}, {rows}"
            )
        self.columns, self.rows = columns, rows
        self.cell_w, self.cell_h = self.SIZE // columns, self.SIZE // rows
        self.margin_x = (self.SIZE - self.cell_w * columns) // 2
        self.margin_y = (self.SIZE - self.cell_h * rows) // 2
        self.render_mode = render_mode
        self.observation_space = spaces.Box(0, 255, (self.SIZE, self.SIZE, 3), np.uint8)
        self.action_space = spaces.Discrete(3)
        self.ball_row = self.ball_col = self.paddle_col = 0

    def _cell(self, frame: np.ndarray, row: int, col: int, colour: tuple, pad: int) -> None:
        y = self.margin_y + row * self.cell_h
        x = self.margin_x + col * self.cell_w
        frame[y + pad // 2 : y + self.cell_h - pad // 2, x + pad : x + self.cell_w - pad] = colour

    def _frame(self) -> np.ndarray:
        frame = np.empty((self.SIZE, self.SIZE, 3), dtype=np.uint8)
        frame[...] = self.BACKGROUND
        self._cell(frame, self.rows - 1, self.paddle_col, self.PADDLE, pad=0)
        self._cell(frame, self.ball_row, self.ball_col, self.BALL, pad=2)
        return frame

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict]:
        super().reset(seed=seed)
        self.ball_row = 0
        self.ball_col = int(self.np_random.integers(self.columns))
        self.paddle_col = self.columns // 2
        return self._frame(), {}

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self.action_space.contains(action):
            raise ValueError(f"invalid action {action!r}; expected 0 (stay), 1 (left), 2 (right)")
        move = (0, -1, 1)[int(action)]
        self.paddle_col = min(max(self.paddle_col + move, 0), self.columns - 1)
        self.ball_row += 1
        terminated = self.ball_row == self.rows - 1
        reward = 0.0
        if terminated:
            reward = 1.0 if self.ball_col == self.paddle_col else -1.0
        return self._frame(), reward, terminated, False, {}

    def render(self) -> np.ndarray:
        return self._frame()

    def get_action_meanings(self) -> list[str]:
        """The actions' names, as ALE names Pong's (``NOOP`` is stay)."""
        return ["NOOP", "LEFT", "RIGHT"]
