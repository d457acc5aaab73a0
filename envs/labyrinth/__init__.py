"""Labyrinth: eight seek/avoid/maze levels on MiniWorld (see :mod:`envs.labyrinth.levels`).

Observations: uint8 (84, 84, 12): four stacked RGB frames (3 channels each), channels
last, newest frame last. MiniWorld renders headless through EGL; this package sets
``PYGLET_HEADLESS=true`` before pyglet is imported.
"""

from __future__ import annotations

import os

os.environ.setdefault("PYGLET_HEADLESS", "true")

from envs.labyrinth.levels import LEVELS, LabyrinthConfig, LabyrinthEnv, build_layout  # noqa: E402

__all__ = ["LEVELS", "LabyrinthConfig", "LabyrinthEnv", "build_layout", "labyrinth_tasks"]


def _build(level: str, **overrides):
    import dataclasses

    from envs.wrappers import StackFrames

    names = {f.name for f in dataclasses.fields(LabyrinthConfig)}
    config = LabyrinthConfig(**{k: v for k, v in overrides.items() if k in names})
    return StackFrames(LabyrinthEnv(level, config), config.frame_stack)


def labyrinth_tasks() -> dict:
    """TaskSpecs of the eight levels, for :data:`envs.TASKS`."""
    from envs.spec import TaskSpec, camel_case

    return {
        f"labyrinth/{name}": TaskSpec(
            f"labyrinth/{name}",
            "labyrinth",
            name,
            f"xfer/Labyrinth-{camel_case(name)}-v0",
            f"Labyrinth {name}: {spec.description}",
            LabyrinthConfig().action_repeat,  # frames per agent step
            lambda name=name, **o: _build(name, **o),
            (LabyrinthConfig(),),
        )
        for name, spec in LEVELS.items()
    }
