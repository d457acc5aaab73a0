"""Tasks as data: the task table, ``make_env`` and gymnasium registration.

Task ids:

- ``pong_soup/<variant>``: Pong (ALE) with one visual effect (``SOUP_VARIANTS``).
- ``catch_soup/<variant>``: the tiny Catch game with the same effects.
- ``atari/<ale_rom_name>``: the Atari source and target games of the paper.
- ``labyrinth/<level>``: MiniWorld levels (see :mod:`envs.labyrinth`, when installed).
- ``debug/reward_track``: a fake env whose score is known in advance (rewards all
  through a 97-step episode), for checking curves end to end; in no suite.

Every env from :func:`make_env` observes uint8 ``(84, 84, 4)``: four stacked 84x84
grayscale frames, channels last, newest frame last.
"""

from __future__ import annotations

import dataclasses
import difflib
import functools
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from envs.catch import CatchEnv
from envs.debug import RewardTrackEnv
from envs.spec import TaskSpec, camel_case
from envs.wrappers import (
    AddFrozenNoise,
    FlipFrame,
    GrayscaleResize,
    MaxAndSkip,
    NoopReset,
    ReplaceBackgroundColour,
    StackFrames,
    ZoomFrame,
)

__all__ = [
    "SOUP_VARIANTS",
    "ATARI_SOURCES",
    "ATARI_TARGETS",
    "SoupConfig",
    "AtariConfig",
    "TaskSpec",
    "TASKS",
    "UnknownTaskError",
    "get_task",
    "make_env",
    "make_vector_env",
    "make_native_vector_env",
    "register_envs",
    "observation_fingerprint",
    "observation_shape",
]

SOUP_VARIANTS: tuple[str, ...] = (
    "pong",
    "noisy",
    "black",
    "white",
    "zoom",
    "vflip",
    "hflip",
    "vhflip",
)
# Pong Soup's noisy variant at weaker noise than the suite's (SoupConfig.noise_sigma, 32
# grey levels), for the experiment on how strong noise must be to defeat transfer: the
# paper gives no variance. The same noise image (noise_seed 0), scaled. Not variants of
# the paper's matrix: no suite's matrix holds them except the noise experiment's.
NOISE_LEVELS: dict[str, float] = {"noisy8": 8.0, "noisy16": 16.0}
ATARI_SOURCES: tuple[str, ...] = ("pong", "riverraid", "seaquest")
ATARI_TARGETS: tuple[str, ...] = (
    "alien",
    "asterix",
    "boxing",
    "centipede",
    "gopher",
    "hero",
    "jamesbond",
    "krull",
    "robotank",
    "road_runner",
    "star_gunner",
    "wizard_of_wor",
)
PONG_BACKGROUND = (144, 72, 17)

_VARIANT_TEXT = {
    "pong": "no effect",
    "noisy": "a frozen Gaussian noise image added to every frame",
    "black": "background colour replaced by black",
    "white": "background colour replaced by white",
    "zoom": "frame scaled to 75% and translated, border filled with the background",
    "vflip": "frame mirrored up-down",
    "hflip": "frame mirrored left-right",
    "vhflip": "frame mirrored up-down and left-right",
}


@dataclass(frozen=True)
class SoupConfig:
    """Parameters of the soup effects that the paper leaves open.

    Attributes:
        noise_sigma: std of the frozen noise image, in grey levels (0-255 scale).
        noise_seed: seed of the noise image; fixed per task, independent of run seeds.
        zoom_scale: size of the zoomed frame relative to the full frame.
        zoom_offset: (row, column) of the zoomed frame's corner, as fractions of the frame.
        black: RGB colour of the ``black`` variant's background.
        white: RGB colour of the ``white`` variant's background.
        frame_stack: number of stacked frames.
    """

    noise_sigma: float = 32.0
    noise_seed: int = 0
    zoom_scale: float = 0.75
    zoom_offset: tuple[float, float] = (0.125, 0.125)
    black: tuple[int, int, int] = (0, 0, 0)
    white: tuple[int, int, int] = (255, 255, 255)
    frame_stack: int = 4


@dataclass(frozen=True)
class AtariConfig:
    """A3C-era Atari preprocessing.

    Attributes:
        frame_skip: action repeat; the observation is the max over the last two frames.
        noop_max: 0 to this many no-op actions after reset (drawn uniformly).
        repeat_action_probability: sticky actions (0 = off, the paper's setting).
        full_action_space: use all 18 actions instead of the game's minimal set.
        max_episode_frames: episode time limit in emulator frames (108000 = 30 minutes).
        frame_stack: number of stacked frames.
    """

    frame_skip: int = 4
    noop_max: int = 30
    repeat_action_probability: float = 0.0
    full_action_space: bool = False
    max_episode_frames: int = 108_000
    frame_stack: int = 4


class UnknownTaskError(KeyError):
    """Raised for a task id that is not in :data:`TASKS`."""

    def __str__(self) -> str:
        return str(self.args[0])


def _gray(rgb: tuple) -> int:
    """The grey level GrayscaleResize gives the colour ``rgb``."""
    import cv2
    import numpy as np

    return int(cv2.cvtColor(np.array([[rgb]], dtype=np.uint8), cv2.COLOR_RGB2GRAY)[0, 0])


def _apply_soup(env: gym.Env, variant: str, cfg: SoupConfig, background: tuple) -> gym.Env:
    """Raw RGB env -> soup variant -> (84, 84, frame_stack) uint8."""
    if variant == "black":
        env = ReplaceBackgroundColour(env, background, cfg.black)
    elif variant == "white":
        env = ReplaceBackgroundColour(env, background, cfg.white)
    env = GrayscaleResize(env, 84)
    if variant == "zoom":
        env = ZoomFrame(env, fill=_gray(background), scale=cfg.zoom_scale, offset=cfg.zoom_offset)
    elif variant == "noisy":
        env = AddFrozenNoise(env, sigma=cfg.noise_sigma, noise_seed=cfg.noise_seed)
    elif variant in ("vflip", "hflip", "vhflip"):
        env = FlipFrame(env, vertical="v" in variant, horizontal="h" in variant)
    return StackFrames(env, cfg.frame_stack)


def _ale_env(rom: str, cfg: AtariConfig) -> gym.Env:
    from ale_py.env import AtariEnv

    env: gym.Env = AtariEnv(
        game=rom,
        obs_type="rgb",
        frameskip=1,
        repeat_action_probability=cfg.repeat_action_probability,
        full_action_space=cfg.full_action_space,
        max_num_frames_per_episode=cfg.max_episode_frames,
    )
    env = NoopReset(env, cfg.noop_max)
    return MaxAndSkip(env, cfg.frame_skip)


def _build_pong_soup(variant: str, cfg: SoupConfig, atari: AtariConfig) -> gym.Env:
    return _apply_soup(_ale_env("pong", atari), variant, cfg, PONG_BACKGROUND)


def _native(rom: str, chain: gym.Env, cfg: AtariConfig, num_envs: int, **kw: Any) -> Any:
    from envs.native import NativeAtariVectorEnv

    return NativeAtariVectorEnv(
        rom,
        num_envs,
        chain,
        frame_skip=cfg.frame_skip,
        noop_max=cfg.noop_max,
        repeat_action_probability=cfg.repeat_action_probability,
        full_action_space=cfg.full_action_space,
        max_episode_frames=cfg.max_episode_frames,
        **kw,
    )


def _native_pong_soup(variant: str, num_envs: int, o: dict[str, Any], **kw: Any) -> Any:
    from envs.native import FrameSource

    chain = _apply_soup(FrameSource(), variant, _config(SoupConfig, o), PONG_BACKGROUND)
    return _native("pong", chain, _config(AtariConfig, o), num_envs, **kw)


def _native_atari(rom: str, num_envs: int, o: dict[str, Any], **kw: Any) -> Any:
    from envs.native import FrameSource

    atari = _config(AtariConfig, o)
    chain = StackFrames(GrayscaleResize(FrameSource(), 84), atari.frame_stack)
    return _native(rom, chain, atari, num_envs, **kw)


def _build_catch_soup(variant: str, cfg: SoupConfig) -> gym.Env:
    return _apply_soup(CatchEnv(), variant, cfg, CatchEnv.BACKGROUND)


def _build_atari(rom: str, cfg: AtariConfig) -> gym.Env:
    env = GrayscaleResize(_ale_env(rom, cfg), 84)
    return StackFrames(env, cfg.frame_stack)


def _pong_soup_task(name: str, variant: str, text: str, soup: dict[str, Any]) -> TaskSpec:
    """The Pong Soup task ``pong_soup/<name>``: ``variant``'s effect with ``soup``'s
    SoupConfig fields as its own defaults (a caller's overrides still win)."""
    return TaskSpec(
        f"pong_soup/{name}",
        "pong_soup",
        name,
        f"xfer/PongSoup-{camel_case(name)}-v0",
        text,
        4,
        lambda **o: _build_pong_soup(
            variant, _config(SoupConfig, {**soup, **o}), _config(AtariConfig, o)
        ),
        (SoupConfig(**soup), AtariConfig()),
        native=lambda n, reward_clip=None, num_threads=1, **o: _native_pong_soup(
            variant, n, {**soup, **o}, reward_clip=reward_clip, num_threads=num_threads
        ),
    )


def _table() -> dict[str, TaskSpec]:
    tasks: dict[str, TaskSpec] = {}
    for v in SOUP_VARIANTS:
        tasks[f"pong_soup/{v}"] = _pong_soup_task(v, v, f"Pong, {_VARIANT_TEXT[v]}", {})
    for name, sigma in NOISE_LEVELS.items():
        text = (
            f"Pong, {_VARIANT_TEXT['noisy']} (sd {sigma:g} grey levels; the suite's noisy: "
            f"{SoupConfig.noise_sigma:g})"
        )
        tasks[f"pong_soup/{name}"] = _pong_soup_task(name, "noisy", text, {"noise_sigma": sigma})
    for v in SOUP_VARIANTS:
        tasks[f"catch_soup/{v}"] = TaskSpec(
            f"catch_soup/{v}",
            "catch_soup",
            v,
            f"xfer/CatchSoup-{camel_case(v)}-v0",
            f"Catch (7x10 grid), {_VARIANT_TEXT[v]}",
            1,
            lambda v=v, **o: _build_catch_soup(v, _config(SoupConfig, o)),
            (SoupConfig(),),
        )
    for rom in ATARI_SOURCES + ATARI_TARGETS:
        role = "source" if rom in ATARI_SOURCES else "target"
        tasks[f"atari/{rom}"] = TaskSpec(
            f"atari/{rom}",
            "atari",
            rom,
            f"xfer/Atari-{camel_case(rom)}-v0",
            f"Atari {rom} ({role}), A3C-era preprocessing",
            4,
            lambda rom=rom, **o: _build_atari(rom, _config(AtariConfig, o)),
            (AtariConfig(),),
            native=lambda n, rom=rom, reward_clip=None, num_threads=1, **o: _native_atari(
                rom, n, o, reward_clip=reward_clip, num_threads=num_threads
            ),
        )
    tasks["debug/reward_track"] = TaskSpec(
        "debug/reward_track",
        "debug",
        "reward_track",
        "xfer/Debug-RewardTrack-v0",
        "fake env with a known score: rewards (some negative, some > 1) all through a "
        "97-step episode; for pipeline checks",
        1,
        lambda **o: StackFrames(
            GrayscaleResize(RewardTrackEnv(), 84), _config(SoupConfig, o).frame_stack
        ),
        (SoupConfig(),),
    )
    try:
        from envs.labyrinth import labyrinth_tasks
    except ImportError as err:  # e.g. MiniWorld or its GL libraries are missing
        # never silent: asking for a labyrinth task names this error (get_task)
        UNAVAILABLE["labyrinth"] = f"{type(err).__name__}: {err}"
    else:
        tasks.update(labyrinth_tasks())
    return tasks


# domains whose tasks could not be registered here, with the reason
UNAVAILABLE: dict[str, str] = {}


def _config(cls: type, overrides: dict[str, Any]) -> Any:
    names = {f.name for f in dataclasses.fields(cls)}
    return cls(**{k: v for k, v in overrides.items() if k in names})


TASKS: dict[str, TaskSpec] = _table()


def get_task(task_id: str) -> TaskSpec:
    """Return the spec of ``task_id``.

    Raises:
        UnknownTaskError: naming the closest valid ids.
    """
    try:
        return TASKS[task_id]
    except KeyError:
        domain = str(task_id).split("/", 1)[0]
        if domain in UNAVAILABLE:
            raise UnknownTaskError(
                f"{task_id!r}: the {domain} tasks are unavailable on this machine "
                f"(importing them failed: {UNAVAILABLE[domain]}); `make setup` installs "
                "MiniWorld and its EGL/Mesa libraries"
            ) from None
        close = difflib.get_close_matches(str(task_id), TASKS, n=3, cutoff=0.4)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        domains = sorted({t.domain for t in TASKS.values()})
        raise UnknownTaskError(
            f"unknown task id {task_id!r}{hint} (domains: {', '.join(domains)}; "
            "`xfer tasks` lists every id)"
        ) from None


class _FirstResetSeed:
    """Mixin: the first reset that is not given a seed uses ``_pending_seed``."""

    _pending_seed: int | None
    env: Any

    def reset(self, *, seed: int | None = None, options: dict | None = None) -> Any:
        if seed is None:
            seed, self._pending_seed = self._pending_seed, None
        else:
            self._pending_seed = None
        return self.env.reset(seed=seed, options=options)


class _SeedFirstReset(_FirstResetSeed, gym.Wrapper):
    """Use ``seed`` for the first reset that is not given one (make_env's seed)."""

    def __init__(self, env: gym.Env, seed: int | None) -> None:
        super().__init__(env)
        self._pending_seed = seed
        if seed is not None:
            self.action_space.seed(seed)


def make_env(task_id: str, seed: int | None = None, **overrides: Any) -> gym.Env:
    """Build the env of ``task_id``.

    Args:
        task_id: e.g. ``"pong_soup/hflip"``, ``"catch_soup/noisy"``, ``"atari/seaquest"``.
        seed: used by the first ``reset()`` that is not given a seed.
        **overrides: fields of the task's config dataclasses (``SoupConfig``,
            ``AtariConfig``, ...), e.g. ``noise_sigma=16`` or ``repeat_action_probability=0.25``.

    Returns:
        A gymnasium env observing uint8 (84, 84, C) frames, channels last.

    Raises:
        UnknownTaskError: for an unknown id. TypeError: for an unknown override.

    Example:
        >>> env = make_env("catch_soup/hflip", seed=0)
        >>> env.reset()[0].shape
        (84, 84, 4)
    """
    spec = get_task(task_id)
    allowed = {f.name for cfg in spec.config for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(f"unknown override(s) {unknown} for {task_id}; allowed: {sorted(allowed)}")
    env = spec.builder(**overrides)
    return _SeedFirstReset(env, seed)


def make_vector_env(
    task_id: str, num_envs: int, seed: int | None = None, **overrides: Any
) -> gym.vector.SyncVectorEnv:
    """``num_envs`` copies of ``task_id`` in a synchronous vector env (seeds seed, seed+1, ...)."""
    if num_envs < 1:
        raise ValueError(f"num_envs must be positive, got {num_envs}")
    get_task(task_id)
    seeds = [None if seed is None else seed + i for i in range(num_envs)]
    return gym.vector.SyncVectorEnv([lambda s=s: make_env(task_id, s, **overrides) for s in seeds])


def make_native_vector_env(
    task_id: str,
    num_envs: int,
    seed: int | None = None,
    reward_clip: float | None = None,
    num_threads: int = 1,
    **overrides: Any,
) -> gym.vector.VectorEnv:
    """``num_envs`` copies of an ALE task stepped by ale-py's C++ vector env.

    Same observations as :func:`make_env` (see :mod:`envs.native`); the first
    ``reset()`` without a seed uses ``seed, seed+1, ...``.

    Raises:
        UnknownTaskError: for an unknown id. ValueError: for a task with no native path
            (Catch Soup, Labyrinth). TypeError: for an unknown override.
    """
    spec = get_task(task_id)
    if spec.native is None:
        raise ValueError(
            f"{task_id} has no native vector env (only the ALE domains pong_soup and "
            "atari do); use make_vector_env"
        )
    allowed = {f.name for cfg in spec.config for f in dataclasses.fields(cfg)}
    unknown = sorted(set(overrides) - allowed)
    if unknown:
        raise TypeError(f"unknown override(s) {unknown} for {task_id}; allowed: {sorted(allowed)}")
    env = spec.native(num_envs, reward_clip=reward_clip, num_threads=num_threads, **overrides)
    if seed is not None:
        env = _SeedFirstVectorReset(env, seed)
    return env


class _SeedFirstVectorReset(_FirstResetSeed, gym.vector.VectorWrapper):
    """Use ``seed`` for the first reset that is not given one (seeds seed, seed+1...)."""

    def __init__(self, env: gym.vector.VectorEnv, seed: int) -> None:
        super().__init__(env)
        self._pending_seed = seed


def register_envs() -> list[str]:
    """Register every task with gymnasium; returns the registered ids.

    Example:
        >>> ids = register_envs()
        >>> gym.make("xfer/CatchSoup-HFlip-v0").observation_space.shape
        (84, 84, 4)
    """
    for spec in TASKS.values():
        if spec.gym_id not in gym.registry:
            gym.register(
                id=spec.gym_id,
                entry_point=make_env,
                kwargs={"task_id": spec.task_id},
                disable_env_checker=True,
                order_enforce=False,
            )
    return [spec.gym_id for spec in TASKS.values()]


@functools.cache
def observation_shape(task_id: str) -> tuple[int, ...]:
    """The shape of ``task_id``'s observations, ``(height, width, channels)``, read from
    its env (built and closed once per process: a task's shape does not change, and a
    run's start-up asks for its task and every source's).

    >>> observation_shape("catch_soup/pong")
    (84, 84, 4)
    """
    env = make_env(task_id)
    try:
        return tuple(int(n) for n in env.observation_space.shape)
    finally:
        env.close()


def observation_fingerprint(task_id: str, steps: int = 64, **overrides: Any) -> str:
    """A hash of the pixels and rewards ``task_id`` gives for a fixed seed and action script.

    Two versions of the suite that produce the same fingerprint feed an agent the same
    observations, so a network trained on one (a shipped ``zoo/`` column) is valid in
    the other; any change of preprocessing, effects or emulator changes it.

    Example:
        >>> a = observation_fingerprint("catch_soup/hflip")
        >>> a == observation_fingerprint("catch_soup/hflip")
        True
        >>> a == observation_fingerprint("catch_soup/pong")
        False
    """
    import hashlib

    import numpy as np

    env = make_env(task_id, seed=0, **overrides)
    digest = hashlib.sha256()
    obs, _ = env.reset()
    digest.update(np.ascontiguousarray(obs).tobytes())
    n = int(env.action_space.n)
    for t in range(steps):
        obs, reward, terminated, truncated, _ = env.step((t * 7 + t // 5) % n)
        digest.update(np.ascontiguousarray(obs).tobytes())
        digest.update(np.float64(reward).tobytes() + bytes([terminated, truncated]))
        if terminated or truncated:
            obs, _ = env.reset()
            digest.update(np.ascontiguousarray(obs).tobytes())
    env.close()
    return digest.hexdigest()[:16]
