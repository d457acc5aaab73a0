"""Tasks of xfer-bench: Pong Soup, Atari, Catch Soup and Labyrinth, as gymnasium envs.

No torch and no ray here: only gymnasium, ale-py, miniworld, numpy and OpenCV.
"""

from envs.tasks import (
    ATARI_SOURCES,
    ATARI_TARGETS,
    SOUP_VARIANTS,
    TASKS,
    AtariConfig,
    SoupConfig,
    TaskSpec,
    UnknownTaskError,
    get_task,
    make_env,
    make_native_vector_env,
    make_vector_env,
    observation_fingerprint,
    observation_shape,
    register_envs,
)

__all__ = [
    "ATARI_SOURCES",
    "ATARI_TARGETS",
    "SOUP_VARIANTS",
    "TASKS",
    "AtariConfig",
    "SoupConfig",
    "TaskSpec",
    "UnknownTaskError",
    "get_task",
    "make_env",
    "make_native_vector_env",
    "make_vector_env",
    "observation_fingerprint",
    "observation_shape",
    "register_envs",
]
