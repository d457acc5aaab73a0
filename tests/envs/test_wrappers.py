import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import check_env

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
from tests.conftest import FakePixelEnv


def rollout(env, seed=3, actions=(0, 1, 2, 1, 0, 2)):
    obs = [env.reset(seed=seed)[0]]
    for a in actions:
        obs.append(env.step(a)[0])
    return obs


def test_background_only_colour_change(fake_env):
    env = ReplaceBackgroundColour(fake_env, FakePixelEnv.BACKGROUND, (0, 0, 0))
    plain = rollout(FakePixelEnv())
    for raw, out in zip(plain, rollout(env), strict=True):
        is_bg = (raw == FakePixelEnv.BACKGROUND).all(-1)
        assert (out[is_bg] == 0).all()
        np.testing.assert_array_equal(out[~is_bg], raw[~is_bg])  # sprites untouched
        assert is_bg.mean() > 0.9


def test_background_colour_rejects_bad_args(fake_env):
    with pytest.raises(ValueError, match="colour"):
        ReplaceBackgroundColour(fake_env, FakePixelEnv.BACKGROUND, (0, 0, 300))
    with pytest.raises(TypeError, match="channels"):
        ReplaceBackgroundColour(GrayscaleResize(fake_env), (1, 2, 3), (0, 0, 0))


@pytest.mark.parametrize(
    "vertical,horizontal,index",
    [(True, False, np.s_[::-1]), (False, True, np.s_[:, ::-1]), (True, True, np.s_[::-1, ::-1])],
)
def test_flips_are_exact(vertical, horizontal, index):
    flipped = rollout(FlipFrame(FakePixelEnv(), vertical=vertical, horizontal=horizontal))
    for raw, out in zip(rollout(FakePixelEnv()), flipped, strict=True):
        np.testing.assert_array_equal(out, raw[index])


def test_flip_needs_an_axis(fake_env):
    with pytest.raises(ValueError, match="vertical"):
        FlipFrame(fake_env)


def test_noise_is_frozen_across_steps_and_runs():
    reference = AddFrozenNoise(FakePixelEnv(), sigma=20, noise_seed=7).noise.astype(int)
    assert np.abs(reference).mean() > 5  # the noise is really there
    for seed in (1, 2):  # two runs with different episode seeds
        env = AddFrozenNoise(FakePixelEnv(), sigma=20, noise_seed=7)
        for out, raw in zip(
            rollout(env, seed=seed), rollout(FakePixelEnv(), seed=seed), strict=True
        ):
            expected = np.clip(raw.astype(int) + reference, 0, 255)
            np.testing.assert_array_equal(out, expected)  # same image added on every step
    other = AddFrozenNoise(FakePixelEnv(), sigma=20, noise_seed=8).noise
    assert not np.array_equal(other, reference)


def test_noise_clips_to_uint8_range():
    env = AddFrozenNoise(FakePixelEnv(), sigma=500, noise_seed=0)
    obs = env.reset(seed=0)[0]
    assert obs.dtype == np.uint8 and obs.min() == 0 and obs.max() == 255
    with pytest.raises(ValueError):
        AddFrozenNoise(FakePixelEnv(), sigma=-1)


def test_zoom_geometry(fake_env):
    env = ZoomFrame(fake_env, fill=FakePixelEnv.BACKGROUND, scale=0.5, offset=(0.25, 0.5))
    obs = env.reset(seed=0)[0]
    h, w = 40, 30
    inner = obs[10:30, 15:30]
    border = np.ones((h, w), bool)
    border[10:30, 15:30] = False
    assert (obs[border] == FakePixelEnv.BACKGROUND).all()
    assert inner.shape == (20, 15, 3)
    # the marker pixel at (0, 0) of the raw frame lands at the inner frame's corner
    assert not (inner[0, 0] == FakePixelEnv.BACKGROUND).all()
    with pytest.raises(ValueError, match="outside"):
        ZoomFrame(FakePixelEnv(), fill=0, scale=0.75, offset=(0.5, 0.5))
    with pytest.raises(ValueError, match="scale"):
        ZoomFrame(FakePixelEnv(), fill=0, scale=1.5)


def test_grayscale_resize_and_stack_contract(fake_env):
    env = StackFrames(GrayscaleResize(fake_env, 84), 4)
    assert env.observation_space == spaces.Box(0, 255, (84, 84, 4), np.uint8)
    obs = env.reset(seed=0)[0]
    assert all((obs[..., i] == obs[..., 0]).all() for i in range(4))
    new = env.step(1)[0]
    np.testing.assert_array_equal(new[..., :3], obs[..., 1:])  # newest frame last
    assert not np.array_equal(new[..., 3], obs[..., 3])
    check_env(env, skip_render_check=True)


def test_wrappers_reject_non_image_spaces():
    import gymnasium as gym

    env = gym.make("CartPole-v1")
    for wrapper in (GrayscaleResize, StackFrames, MaxAndSkip):
        with pytest.raises(TypeError, match="uint8"):
            wrapper(env)


def test_max_and_skip_sums_rewards_and_maxes_frames():
    env = MaxAndSkip(FakePixelEnv(), skip=4)
    env.reset(seed=0)
    ref = FakePixelEnv()
    ref.reset(seed=0)
    frames, rewards = [], 0.0
    for _ in range(4):
        f, r, *_ = ref.step(1)
        frames.append(f)
        rewards += r
    obs, reward, *_ = env.step(1)
    assert reward == rewards == 4.0
    np.testing.assert_array_equal(obs, np.maximum(frames[-2], frames[-1]))


def test_noop_reset_is_seeded():
    a = NoopReset(FakePixelEnv(), noop_max=10)
    b = NoopReset(FakePixelEnv(), noop_max=10)
    np.testing.assert_array_equal(a.reset(seed=5)[0], b.reset(seed=5)[0])
