"""What a task is (:class:`TaskSpec`), apart from the task table.

The table (:mod:`envs.tasks`) and the Labyrinth levels (:mod:`envs.labyrinth`) both
build specs; keeping the type here means neither imports the other for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import gymnasium as gym

__all__ = ["TaskSpec", "camel_case"]


@dataclass(frozen=True)
class TaskSpec:
    """One task of the suite.

    Attributes:
        task_id: ``<domain>/<name>``.
        domain: ``pong_soup``, ``catch_soup``, ``atari`` or ``labyrinth``.
        name: the variant, ROM or level name.
        gym_id: the id registered with gymnasium by :func:`register_envs`.
        description: one line for ``xfer tasks``.
        frames_per_step: emulator frames per agent step (action repeat).
        builder: ``builder(**overrides)`` -> the task's env (what ``make_env`` wraps).
        config: the config dataclasses whose fields ``make_env`` accepts as overrides.
        native: ``native(num_envs, reward_clip, num_threads, **overrides)`` -> a vector
            env sampling the task through ale-py's C++ vector env with the same pixels
            (:mod:`envs.native`); ``None`` for tasks without one.
    """

    task_id: str
    domain: str
    name: str
    gym_id: str
    description: str
    frames_per_step: int = 1
    builder: Callable[..., gym.Env] = field(repr=False, compare=False, default=None)  # type: ignore[assignment]
    config: Any = None
    native: Callable[..., gym.vector.VectorEnv] | None = field(
        repr=False, compare=False, default=None
    )


def camel_case(name: str) -> str:
    """A variant or level name as it appears in gymnasium ids (``seek_track_1`` ->
    ``SeekTrack1``; the flips keep their capitals)."""
    special = {"vflip": "VFlip", "hflip": "HFlip", "vhflip": "VHFlip"}
    return special.get(name) or "".join(part.capitalize() for part in name.split("_"))
