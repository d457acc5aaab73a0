"""ALE tasks sampled through ale-py's C++ vector env, with the suite's own pixels.

:class:`NativeAtariVectorEnv` steps ``num_envs`` emulators in ale-py's
``AtariVectorEnv`` (C++: action repeat, max-pool over the last two frames, no-op
starts, the episode time limit) and applies the task's per-frame effects to the
returned batch with the very wrapper objects :func:`envs.make_env` uses, so training
through it sees the same observations as evaluation through ``make_env``:

- the native env gives the max-pooled **RGB** frame at full 210x160 resolution; the
  task's own chain (background colour, grayscale, 84x84 area resize, noise, zoom or
  flip) runs on it per frame, then frames are stacked here, newest last. The native
  grayscale and resize are not used: they pool grey frames instead of RGB ones and
  resize differently, which would change the pixels every shipped column was trained on;
- no-op starts draw 0 to ``noop_max`` no-ops (both paths);
- the observation returned with the step that ends an episode repeats the previous
  frame (the native env does not render that last step; :class:`envs.wrappers.
  MaxAndSkip` does the same). No policy ever acts on it;
- one corner is not matched: when the episode time limit falls exactly on the last
  repeat of a step (108,000 frames after a no-op start count that is a multiple of the
  frame skip), the native env's final observation differs from the Python path's. Only
  that one bootstrap observation of such a truncated episode differs; Pong games end
  long before 30 minutes;
- rewards: raw game scores are summed per episode into ``info["episode_score"]`` on
  the episode's last step; rewards for learning are clipped to ``[-reward_clip,
  reward_clip]`` when asked (like :class:`envs.wrappers.ClipReward`);
- autoreset follows gymnasium's ``NEXT_STEP`` mode, which RLlib's env runners expect:
  the step after an episode's end ignores that env's action and returns its first
  observation with reward 0.

``tests/envs/test_native.py`` checks all of this against the Python path, step by
step, on fixed action sequences.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from envs.wrappers import SCORE_KEY, StackFrames, check_pixel_space

__all__ = ["NativeAtariVectorEnv", "FrameSource", "frame_pipeline"]

ALE_SCREEN = (210, 160, 3)


class FrameSource(gym.Env):
    """A stand-in env with a raw frame's observation space, never stepped.

    The task's wrapper chain is built on it so that the wrappers' ``observation``
    methods (the per-frame effects) can be applied to frames produced elsewhere.
    """

    def __init__(self, shape: tuple[int, ...] = ALE_SCREEN, num_actions: int = 1) -> None:
        self.observation_space = spaces.Box(0, 255, shape, np.uint8)
        self.action_space = spaces.Discrete(num_actions)

    def step(self, action: Any) -> Any:  # pragma: no cover - never called
        raise RuntimeError("FrameSource only describes frames; it cannot be stepped")


def frame_pipeline(stacked: gym.Env) -> tuple[list[Callable[[np.ndarray], np.ndarray]], int]:
    """The per-frame transforms of a ``StackFrames(...(FrameSource))`` chain, innermost first.

    Returns:
        (transforms, frame_stack): apply the transforms in order to one raw frame to get
        the (84, 84, 1) frame the Python path would stack.

    Raises:
        TypeError: if the chain is not observation wrappers over a :class:`FrameSource`
            under one :class:`StackFrames`.
    """
    if not isinstance(stacked, StackFrames):
        raise TypeError(f"expected a StackFrames chain, got {type(stacked).__name__}")
    transforms: list[Callable[[np.ndarray], np.ndarray]] = []
    env = stacked.env
    while not isinstance(env, FrameSource):
        if not isinstance(env, gym.ObservationWrapper):
            raise TypeError(
                f"{type(env).__name__} is not a per-frame observation wrapper; "
                "the native path can only replay those"
            )
        transforms.append(env.observation)
        env = env.env
    transforms.reverse()
    return transforms, stacked.num_frames


class NativeAtariVectorEnv(gym.vector.VectorEnv):
    """``num_envs`` copies of an ALE task, emulated in C++, effects applied per frame.

    Args:
        rom: ALE ROM name (``"pong"``).
        num_envs: number of emulators.
        chain: ``StackFrames(effects(FrameSource()))``: the task's per-frame wrappers.
        frame_skip, noop_max, repeat_action_probability, full_action_space,
        max_episode_frames: as in :class:`envs.tasks.AtariConfig`.
        reward_clip: clip rewards for learning to this bound (``None``: raw rewards).
        num_threads: C++ threads stepping the emulators (1 per env runner core).

    Example:
        >>> from envs.tasks import make_native_vector_env
        >>> env = make_native_vector_env("pong_soup/hflip", num_envs=2)
        >>> obs, _ = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((2, 84, 84, 4), dtype('uint8'))
    """

    metadata = {"autoreset_mode": gym.vector.AutoresetMode.NEXT_STEP}

    def __init__(
        self,
        rom: str,
        num_envs: int,
        chain: gym.Env,
        *,
        frame_skip: int = 4,
        noop_max: int = 30,
        repeat_action_probability: float = 0.0,
        full_action_space: bool = False,
        max_episode_frames: int = 108_000,
        reward_clip: float | None = None,
        num_threads: int = 1,
    ) -> None:
        from ale_py.vector_env import AtariVectorEnv

        if num_envs < 1:
            raise ValueError(f"num_envs must be positive, got {num_envs}")
        if reward_clip is not None and not reward_clip > 0:
            raise ValueError(f"reward_clip must be positive or None, got {reward_clip}")
        self.transforms, self.frame_stack = frame_pipeline(chain)
        check_pixel_space(chain, channels=(self.frame_stack,))
        self.ale = AtariVectorEnv(
            rom,
            num_envs,
            img_height=ALE_SCREEN[0],
            img_width=ALE_SCREEN[1],
            grayscale=False,
            stack_num=1,
            frameskip=frame_skip,
            maxpool=True,
            # the native env draws 0..noop_max-1 no-ops; the suite's protocol is 0..noop_max
            noop_max=noop_max + 1,
            reward_clipping=False,
            use_fire_reset=False,
            episodic_life=False,
            repeat_action_probability=repeat_action_probability,
            full_action_space=full_action_space,
            max_num_frames_per_episode=max_episode_frames,
            num_threads=num_threads,
            autoreset_mode=gym.vector.AutoresetMode.NEXT_STEP,
        )
        self.num_envs = num_envs
        self.reward_clip = reward_clip
        self.single_observation_space = chain.observation_space
        self.single_action_space = self.ale.single_action_space
        self.observation_space = gym.vector.utils.batch_space(
            self.single_observation_space, num_envs
        )
        self.action_space = gym.vector.utils.batch_space(self.single_action_space, num_envs)
        # the last frame_stack frames of every env, oldest first, each (num_envs, H, W, d):
        # an observation is their concatenation along channels (one vectorised copy per
        # step instead of a strided channel shift per env)
        self._frames: list[np.ndarray] = []
        self._score = np.zeros(num_envs, np.float64)
        self._done = np.zeros(num_envs, bool)

    def _frame(self, raw: np.ndarray) -> np.ndarray:
        for transform in self.transforms:
            raw = transform(raw)
        return raw

    def _batch(self, raw: np.ndarray) -> np.ndarray:
        """The task's frames of every env's raw frame: (num_envs, H, W, d)."""
        h, w, c = self.single_observation_space.shape
        batch = np.empty((self.num_envs, h, w, c // self.frame_stack), np.uint8)
        for i in range(self.num_envs):
            batch[i] = self._frame(raw[i, 0])
        return batch

    def _observation(self) -> np.ndarray:
        """A fresh (num_envs, H, W, d * frame_stack) array, newest frame last."""
        return np.concatenate(self._frames, axis=-1)

    def reset(
        self, *, seed: int | None = None, options: dict | None = None
    ) -> tuple[np.ndarray, dict]:
        """Reset every env (seeds ``seed, seed+1, ...`` when ``seed`` is given)."""
        if options:
            raise ValueError(f"NativeAtariVectorEnv.reset takes no options, got {options!r}")
        raw, info = self.ale.reset(seed=seed)
        batch = self._batch(raw)
        self._frames = [batch.copy() for _ in range(self.frame_stack)]
        self._score[:] = 0.0
        self._done[:] = False
        return self._observation(), self._info(info)

    def step(self, actions: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, dict]:
        if not self._frames:
            raise RuntimeError("NativeAtariVectorEnv.step was called before reset()")
        actions = np.asarray(actions)
        raw, reward, terminated, truncated, info = self.ale.step(actions)
        reward = np.asarray(reward, np.float64)
        batch = self._batch(raw)
        self._frames = [*self._frames[1:], batch]
        # NEXT_STEP autoreset: this step restarted the envs that ended last step; their
        # stacks start over with the first frame repeated
        restarted = self._done
        if restarted.any():
            for frames in self._frames[:-1]:
                frames[restarted] = batch[restarted]
        self._score = np.where(restarted, 0.0, self._score + reward)
        ended = np.logical_or(terminated, truncated)
        out = self._info(info)
        if ended.any():
            out[SCORE_KEY] = np.where(ended, self._score, 0.0)
            out["_" + SCORE_KEY] = ended.copy()
        self._done = ended
        if self.reward_clip is not None:
            reward = np.clip(reward, -self.reward_clip, self.reward_clip)
        return (
            self._observation(),
            reward.astype(np.float32),
            np.asarray(terminated, bool),
            np.asarray(truncated, bool),
            out,
        )

    def _info(self, info: dict) -> dict:
        out: dict[str, Any] = {}
        for key in ("lives", "episode_frame_number", "frame_number"):
            if key in info:
                out[key] = np.asarray(info[key])
                out["_" + key] = np.ones(self.num_envs, bool)
        return out

    def close(self, **kwargs: Any) -> None:
        """Stop the emulator threads (none were started if the constructor refused)."""
        ale = getattr(self, "ale", None)
        if ale is not None:
            ale.close()
