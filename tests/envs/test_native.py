"""The C++ vector env path (envs.native) against the Python path, step by step."""

import numpy as np
import pytest

from envs import SOUP_VARIANTS, make_env, make_native_vector_env
from envs.native import NativeAtariVectorEnv, frame_pipeline
from envs.wrappers import SCORE_KEY, ClipReward, MaxAndSkip, RecordEpisodeScore
from tests.conftest import FakePixelEnv

pytestmark = pytest.mark.atari


def _lockstep(task, steps, num_envs=2, clip=None, **overrides):
    """Step the native env and one Python env per sub-env with the same actions.

    Returns the number of episode ends seen; asserts every observation, reward, flag
    and episode score is identical (NEXT_STEP autoreset on both sides).
    """
    native = make_native_vector_env(task, num_envs, seed=0, reward_clip=clip, **overrides)
    python = []
    for i in range(num_envs):
        env = RecordEpisodeScore(make_env(task, seed=i, **overrides))
        python.append(ClipReward(env, clip) if clip else env)
    obs, _ = native.reset()
    for i, env in enumerate(python):
        np.testing.assert_array_equal(obs[i], env.reset()[0])
    rng = np.random.default_rng(0)
    done = [False] * num_envs
    ends = 0
    for t in range(steps):
        actions = rng.integers(0, native.single_action_space.n, size=num_envs)
        obs, reward, term, trunc, info = native.step(actions)
        for i, env in enumerate(python):
            if done[i]:  # NEXT_STEP: this step restarts the env, its action is ignored
                p_obs, p_info = env.reset()
                p_rew, p_term, p_trunc = 0.0, False, False
                assert (obs[i] == obs[i][..., :1]).all(), "a first observation repeats one frame"
            else:
                p_obs, p_rew, p_term, p_trunc, p_info = env.step(int(actions[i]))
            where = f"{task}, step {t}, env {i}"
            np.testing.assert_array_equal(obs[i], p_obs, err_msg=where)
            assert (reward[i], term[i], trunc[i]) == (p_rew, p_term, p_trunc), where
            if p_term or p_trunc:
                ends += 1
                assert info["_" + SCORE_KEY][i] and info[SCORE_KEY][i] == p_info[SCORE_KEY], where
            elif SCORE_KEY in info:
                assert not info["_" + SCORE_KEY][i], where
            done[i] = p_term or p_trunc
    native.close()
    return ends


@pytest.mark.parametrize("variant", SOUP_VARIANTS)
def test_every_soup_variant_gives_the_python_pixels(variant):
    # no-op starts off so both sides start from the same emulator state; the time limit
    # (not a multiple of the frame skip) ends episodes part-way through a step
    ends = _lockstep(f"pong_soup/{variant}", 520, noop_max=0, max_episode_frames=1002)
    assert ends == 4  # two truncations per env, then the autoreset steps


def test_the_noise_levels_give_the_python_pixels():
    ends = _lockstep("pong_soup/noisy8", 260, noop_max=0, max_episode_frames=1002)
    assert ends == 2


def test_game_over_reward_clipping_and_scores_match_the_python_path():
    # Pong at random play ends by game over after about 900 steps; clip rewards at 0.5
    ends = _lockstep("pong_soup/pong", 1000, num_envs=1, clip=0.5, noop_max=0)
    assert ends == 1


def test_atari_game_gives_the_python_pixels():
    # Seaquest ends by game over within about 600 steps at random play
    assert _lockstep("atari/seaquest", 700, noop_max=0) >= 2


def test_clipped_rewards_and_raw_scores():
    env = make_native_vector_env("pong_soup/pong", 1, seed=0, reward_clip=0.5, noop_max=0)
    env.reset()
    rewards, score = [], None
    for _ in range(1200):
        _, reward, term, trunc, info = env.step(np.array([0]))
        rewards.append(float(reward[0]))
        if term[0] or trunc[0]:
            score = float(info[SCORE_KEY][0])
            break
    # rewards for learning are clipped; the episode score is the raw game score
    assert set(rewards) <= {-0.5, 0.0, 0.5} and -0.5 in rewards
    assert score == 2 * sum(rewards) and score <= -1


def test_no_op_starts_draw_zero_to_noop_max_on_both_paths():
    native = make_native_vector_env("pong_soup/pong", 8, seed=0, noop_max=3)
    seen_native = set()
    for k in range(25):
        _, info = native.reset(seed=8 * k)
        seen_native |= set(int(f) for f in info["episode_frame_number"])
    python = make_env("pong_soup/pong", seed=0, noop_max=3)
    seen_python = set()
    for k in range(200):
        _, info = python.reset(seed=k)
        seen_python.add(int(info["episode_frame_number"]))
    assert seen_native == seen_python == {0, 1, 2, 3}


def test_frame_pipeline_is_the_task_chain():
    from envs.native import FrameSource
    from envs.tasks import PONG_BACKGROUND, SoupConfig, _apply_soup

    chain = _apply_soup(FrameSource(), "hflip", SoupConfig(), PONG_BACKGROUND)
    transforms, stack = frame_pipeline(chain)
    assert stack == 4
    assert [t.__self__.__class__.__name__ for t in transforms] == ["GrayscaleResize", "FlipFrame"]
    with pytest.raises(TypeError, match="StackFrames"):
        frame_pipeline(chain.env)


def test_native_env_refuses_what_it_cannot_do():
    with pytest.raises(ValueError, match="no native vector env"):
        make_native_vector_env("catch_soup/pong", 2)
    with pytest.raises(TypeError, match="unknown override"):
        make_native_vector_env("pong_soup/pong", 2, zoom=3)
    with pytest.raises(ValueError, match="num_envs"):
        make_native_vector_env("pong_soup/pong", 0)
    env = make_native_vector_env("pong_soup/pong", 1)
    assert isinstance(env, NativeAtariVectorEnv)
    with pytest.raises(RuntimeError, match="before reset"):
        env.step(np.array([0]))
    with pytest.raises(ValueError, match="options"):
        env.reset(options={"reset_mask": np.array([True])})
    env.close()


def test_max_and_skip_repeats_the_last_observation_when_an_episode_ends():
    # FakePixelEnv ends when its step count passes 50: action 2 moves it 3 per frame,
    # so the episode ends in the middle of the 5th step's repeats
    env = MaxAndSkip(FakePixelEnv(), skip=4)
    obs = env.reset(seed=0)[0]
    observations = [obs]
    for _ in range(5):
        obs, _, term, _, _ = env.step(2)
        observations.append(obs)
    assert term
    np.testing.assert_array_equal(observations[-1], observations[-2])
    assert not np.array_equal(observations[-2], observations[-3])
