"""Observation wrappers: one visual effect per class, generic over any pixel env.

Every wrapper takes an env whose observation space is a ``uint8`` ``Box`` of shape
``(H, W, C)`` (channels last) and keeps that contract. The Pong Soup and Catch Soup
variants are built from them (see :mod:`envs.tasks`), in this order::

    raw RGB frame -> ReplaceBackgroundColour             (needs the game's RGB colours)
                  -> GrayscaleResize (84x84x1)
                  -> AddFrozenNoise | ZoomFrame | FlipFrame  (act on the final frame)
                  -> StackFrames (84x84x4, newest frame last)

Flips act on the final 84x84 frame so that the flipped observation is the plain one
mirrored pixel for pixel (resizing does not commute exactly with a flip). Zoom acts on
the 84x84 frame too (filled with the background's grey level): scaling the 210x160 RGB
frame first gives the same picture at several times the cost.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import cv2
import gymnasium as gym
import numpy as np
from gymnasium import spaces

__all__ = [
    "ReplaceBackgroundColour",
    "AddFrozenNoise",
    "ZoomFrame",
    "FlipFrame",
    "GrayscaleResize",
    "StackFrames",
    "MaxAndSkip",
    "NoopReset",
    "RecordEpisodeScore",
    "ClipReward",
    "SCORE_KEY",
    "check_pixel_space",
]

# info key under which RecordEpisodeScore reports the raw score of a finished episode
SCORE_KEY = "episode_score"

# cv2 threads fight the env runners for the two cores; one thread per process.
cv2.setNumThreads(1)


def check_pixel_space(env: gym.Env, channels: tuple[int, ...] | None = None) -> spaces.Box:
    """Return the env's observation space after checking it is a uint8 (H, W, C) image.

    Raises:
        TypeError: if the space is not a uint8 Box of rank 3, or has another channel count.
    """
    space = env.observation_space
    if not isinstance(space, spaces.Box) or space.dtype != np.uint8 or len(space.shape) != 3:
        raise TypeError(f"expected a uint8 Box observation space of shape (H, W, C), got {space!r}")
    if channels is not None and space.shape[-1] not in channels:
        raise TypeError(f"expected {channels} channels, got shape {space.shape}")
    return space


def _colour(value: Any, name: str) -> np.ndarray:
    arr = np.asarray(value)
    if arr.shape != (3,) or not np.all((arr >= 0) & (arr <= 255)):
        raise ValueError(f"{name} must be three integers in [0, 255], got {value!r}")
    return arr.astype(np.uint8)


class ReplaceBackgroundColour(gym.ObservationWrapper):
    """Replace every pixel of exactly the background colour by another colour.

    Works on the raw RGB frame, so only the background changes: sprites keep their
    colours (unless a sprite has the background colour, which Pong's do not).

    Example:
        >>> from envs.catch import CatchEnv
        >>> env = ReplaceBackgroundColour(CatchEnv(), CatchEnv.BACKGROUND, (0, 0, 0))
        >>> obs, _ = env.reset(seed=0)
        >>> bool((obs == 0).all(-1).mean() > 0.9)
        True
    """

    def __init__(self, env: gym.Env, background: Any, colour: Any) -> None:
        super().__init__(env)
        check_pixel_space(env, channels=(3,))
        self.background = _colour(background, "background")
        self.colour = _colour(colour, "colour")
        self.colour_image = np.empty(env.observation_space.shape, dtype=np.uint8)
        self.colour_image[...] = self.colour

    def observation(self, observation: np.ndarray) -> np.ndarray:
        mask = cv2.inRange(observation, self.background, self.background)
        out = observation.copy()
        cv2.copyTo(self.colour_image, mask, out)
        return out


class ZoomFrame(gym.ObservationWrapper):
    """Scale the frame by ``scale`` (default 0.75), place it at ``offset``, fill the rest.

    ``offset`` is the (row, column) of the scaled frame's top-left corner as a fraction of
    the frame's height and width; the default (0.125, 0.125) centres a 75% frame. The
    uncovered border is filled with ``fill`` (the game's background colour).

    Example:
        >>> from envs.catch import CatchEnv
        >>> env = ZoomFrame(CatchEnv(), fill=CatchEnv.BACKGROUND)
        >>> env.reset(seed=0)[0].shape
        (84, 84, 3)
    """

    def __init__(
        self,
        env: gym.Env,
        fill: Any,
        scale: float = 0.75,
        offset: tuple[float, float] = (0.125, 0.125),
    ) -> None:
        super().__init__(env)
        space = check_pixel_space(env)
        if not 0.0 < scale <= 1.0:
            raise ValueError(f"scale must be in (0, 1], got {scale}")
        h, w, c = space.shape
        self.inner = (max(1, round(h * scale)), max(1, round(w * scale)))
        self.top, self.left = round(offset[0] * h), round(offset[1] * w)
        if not (0 <= self.top <= h - self.inner[0] and 0 <= self.left <= w - self.inner[1]):
            raise ValueError(
                f"offset {offset} puts a {self.inner} frame outside the {(h, w)} frame"
            )
        fill_arr = np.asarray(fill, dtype=np.int64).reshape(-1)
        if fill_arr.size not in (1, c) or np.any((fill_arr < 0) | (fill_arr > 255)):
            raise ValueError(f"fill must be {c} values in [0, 255], got {fill!r}")
        self.canvas = np.empty(space.shape, dtype=np.uint8)
        self.canvas[...] = fill_arr.astype(np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        small = cv2.resize(
            observation, (self.inner[1], self.inner[0]), interpolation=cv2.INTER_AREA
        )
        out = self.canvas.copy()
        out[self.top : self.top + self.inner[0], self.left : self.left + self.inner[1]] = (
            small.reshape(self.inner[0], self.inner[1], -1)
        )
        return out


class AddFrozenNoise(gym.ObservationWrapper):
    """Add one fixed Gaussian noise image to every frame, clipped to [0, 255].

    The noise image is drawn once from ``noise_seed`` (not the episode seed), so it is the
    same across steps, episodes and runs of a task.

    Example:
        >>> from envs.catch import CatchEnv
        >>> env = AddFrozenNoise(GrayscaleResize(CatchEnv()), sigma=30.0, noise_seed=1)
        >>> env.reset(seed=0)[0].dtype
        dtype('uint8')
    """

    def __init__(self, env: gym.Env, sigma: float = 32.0, noise_seed: int = 0) -> None:
        super().__init__(env)
        space = check_pixel_space(env)
        if sigma < 0:
            raise ValueError(f"sigma must be >= 0, got {sigma}")
        rng = np.random.default_rng(noise_seed)
        self.noise = np.clip(np.rint(rng.standard_normal(space.shape) * sigma), -255, 255).astype(
            np.int16
        )
        # Saturating uint8 add then subtract equals clip(frame + noise, 0, 255) exactly,
        # since each pixel has a positive or a negative part, never both.
        self._plus = np.maximum(self.noise, 0).astype(np.uint8)
        self._minus = np.maximum(-self.noise, 0).astype(np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        out = cv2.subtract(cv2.add(observation, self._plus), self._minus)
        return out.reshape(observation.shape)


class FlipFrame(gym.ObservationWrapper):
    """Mirror the frame up-down (``vertical``), left-right (``horizontal``) or both.

    Example:
        >>> from envs.catch import CatchEnv
        >>> env = FlipFrame(CatchEnv(), horizontal=True)
        >>> plain = CatchEnv()
        >>> bool((env.reset(seed=3)[0] == plain.reset(seed=3)[0][:, ::-1]).all())
        True
    """

    def __init__(self, env: gym.Env, vertical: bool = False, horizontal: bool = False) -> None:
        super().__init__(env)
        check_pixel_space(env)
        if not (vertical or horizontal):
            raise ValueError("FlipFrame needs vertical=True, horizontal=True or both")
        self.vertical, self.horizontal = vertical, horizontal

    def observation(self, observation: np.ndarray) -> np.ndarray:
        if self.vertical:
            observation = observation[::-1]
        if self.horizontal:
            observation = observation[:, ::-1]
        return np.ascontiguousarray(observation)


class GrayscaleResize(gym.ObservationWrapper):
    """RGB (H, W, 3) -> grayscale (size, size, 1) with area interpolation."""

    def __init__(self, env: gym.Env, size: int = 84) -> None:
        super().__init__(env)
        space = check_pixel_space(env, channels=(1, 3))
        if size < 1:
            raise ValueError(f"size must be positive, got {size}")
        self.size = size
        self.is_rgb = space.shape[-1] == 3
        self.same_size = space.shape[:2] == (size, size)
        self.observation_space = spaces.Box(0, 255, (size, size, 1), np.uint8)

    def observation(self, observation: np.ndarray) -> np.ndarray:
        frame = cv2.cvtColor(observation, cv2.COLOR_RGB2GRAY) if self.is_rgb else observation
        if not self.same_size:
            frame = cv2.resize(frame, (self.size, self.size), interpolation=cv2.INTER_AREA)
        return frame.reshape(self.size, self.size, 1)


class StackFrames(gym.Wrapper):
    """Stack the last ``num_frames`` frames on the channel axis, newest frame last.

    On reset the first frame is repeated ``num_frames`` times.
    """

    def __init__(self, env: gym.Env, num_frames: int = 4) -> None:
        super().__init__(env)
        space = check_pixel_space(env)
        if num_frames < 1:
            raise ValueError(f"num_frames must be positive, got {num_frames}")
        h, w, c = space.shape
        self.num_frames = num_frames
        self.frames: deque[np.ndarray] = deque(maxlen=num_frames)
        self.observation_space = spaces.Box(0, 255, (h, w, c * num_frames), np.uint8)

    def _observation(self) -> np.ndarray:
        return np.concatenate(self.frames, axis=-1)

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        for _ in range(self.num_frames):
            self.frames.append(obs)
        return self._observation(), info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.frames.append(obs)
        return self._observation(), reward, terminated, truncated, info


class MaxAndSkip(gym.Wrapper):
    """Repeat each action ``skip`` times; observe the max over the last two frames.

    Rewards over the repeated frames are summed. This is the A3C-era action repeat that
    removes Atari sprite flicker.

    The two pooled frames are kept in two slots (repeat ``skip - 2`` and ``skip - 1``),
    and a step that ends the episode stops before storing the frame that ended it: the
    slots keep what they held. So the observation returned with an episode's last step
    repeats frames of the step before (all of them when the episode ended before the
    last two repeats). This is what ale-py's C++ vector env does (:mod:`envs.native`),
    so both paths give the same observations; no policy acts on that last observation.
    """

    def __init__(self, env: gym.Env, skip: int = 4) -> None:
        super().__init__(env)
        check_pixel_space(env)
        if skip < 1:
            raise ValueError(f"skip must be positive, got {skip}")
        self.skip = skip
        self._slots: list[np.ndarray] = []

    def reset(self, **kwargs: Any) -> tuple[np.ndarray, dict]:
        obs, info = self.env.reset(**kwargs)
        self._slots = [obs, obs]
        return obs, info

    def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
        if not self._slots:
            raise RuntimeError("MaxAndSkip.step() called before reset()")
        total = 0.0
        for i in range(self.skip):
            obs, reward, terminated, truncated, info = self.env.step(action)
            total += float(reward)
            if terminated or truncated:
                break
            if i >= self.skip - 2:
                self._slots[i - self.skip + 2] = obs
        frame = self._slots[1] if self.skip == 1 else np.maximum(self._slots[0], self._slots[1])
        return frame, total, terminated, truncated, info


class NoopReset(gym.Wrapper):
    """On reset take a random number (0 to ``noop_max``) of no-op actions (action 0).

    "Up to 30 no-ops" (DQN); the same draw range as :mod:`envs.native`.
    """

    def __init__(self, env: gym.Env, noop_max: int = 30) -> None:
        super().__init__(env)
        if noop_max < 0:
            raise ValueError(f"noop_max must be >= 0, got {noop_max}")
        self.noop_max = noop_max

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        obs, info = self.env.reset(**kwargs)
        if self.noop_max == 0:
            return obs, info
        for _ in range(int(self.np_random.integers(0, self.noop_max + 1))):
            obs, _, terminated, truncated, info = self.env.step(0)
            if terminated or truncated:
                obs, info = self.env.reset()
        return obs, info


class RecordEpisodeScore(gym.Wrapper):
    """Report the raw score of each finished episode in ``info["episode_score"]``.

    The score is summed here, inside the env, from the rewards the game gives, so it
    does not depend on how a trainer cuts an episode into rollout fragments, nor on any
    reward transform wrapped around this one (:class:`ClipReward`). The key is set on
    the step that ends the episode (terminated or truncated) and on no other step.

    Example:
        >>> from envs.catch import CatchEnv
        >>> env = RecordEpisodeScore(CatchEnv())
        >>> _ = env.reset(seed=0)
        >>> done = False
        >>> while not done:
        ...     _, reward, term, trunc, info = env.step(1)
        ...     done = term or trunc
        >>> info["episode_score"] == reward
        True
    """

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.score = 0.0

    def reset(self, **kwargs: Any) -> tuple[Any, dict]:
        self.score = 0.0
        return self.env.reset(**kwargs)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict]:
        obs, reward, terminated, truncated, info = self.env.step(action)
        self.score += float(reward)
        if terminated or truncated:
            info = {**info, SCORE_KEY: self.score}
        return obs, reward, terminated, truncated, info


class ClipReward(gym.RewardWrapper):
    """Clip each reward to ``[-bound, bound]`` (the A3C/DQN protocol for learning).

    Wrap it around :class:`RecordEpisodeScore` so curves keep the raw game score.

    Example:
        >>> from envs.catch import CatchEnv
        >>> ClipReward(CatchEnv(), bound=0.5).reward(-3.0)
        -0.5
    """

    def __init__(self, env: gym.Env, bound: float = 1.0) -> None:
        super().__init__(env)
        if not bound > 0:
            raise ValueError(f"bound must be positive, got {bound}")
        self.bound = float(bound)

    def reward(self, reward: float) -> float:
        return float(min(max(float(reward), -self.bound), self.bound))
