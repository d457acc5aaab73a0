"""Frames of every variant of a soup domain from the same game state (for `xfer show`)."""

from __future__ import annotations

import numpy as np

from envs.tasks import SOUP_VARIANTS, make_env

__all__ = ["soup_frames"]


def soup_frames(domain: str, steps: int = 40, seed: int = 0) -> dict[str, np.ndarray]:
    """Play the same seeded action sequence in every variant of ``domain``.

    Args:
        domain: ``pong_soup`` or ``catch_soup``.
        steps: agent steps before the frame is taken.
        seed: env and action seed.

    Returns:
        variant -> the newest 84x84 grayscale frame of the observation.
    """
    if domain not in ("pong_soup", "catch_soup"):
        raise ValueError(f"soup_frames needs pong_soup or catch_soup, got {domain!r}")
    frames = {}
    for variant in SOUP_VARIANTS:
        env = make_env(f"{domain}/{variant}", seed=seed)
        rng = np.random.default_rng(seed)
        obs, _ = env.reset()
        for _ in range(steps):
            obs, _, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
            if term or trunc:
                break
        frames[variant] = obs[..., -1]
        env.close()
    return frames
