import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import SOUP_VARIANTS, TASKS, UnknownTaskError, make_env, make_vector_env, register_envs
from envs.catch import CatchEnv


def play(task_id, seed=0, steps=12, actions_seed=1, **overrides):
    env = make_env(task_id, seed=seed, **overrides)
    rng = np.random.default_rng(actions_seed)
    obs = [env.reset()[0]]
    for _ in range(steps):
        o, r, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
        obs.append(o)
        if term or trunc:
            obs.append(env.reset()[0])
    return obs


def test_task_table_covers_the_paper():
    ids = set(TASKS)
    assert {f"pong_soup/{v}" for v in SOUP_VARIANTS} <= ids
    assert {f"catch_soup/{v}" for v in SOUP_VARIANTS} <= ids
    for rom in ("pong", "riverraid", "seaquest", "alien", "road_runner", "wizard_of_wor"):
        assert f"atari/{rom}" in ids
    assert len({t.gym_id for t in TASKS.values()}) == len(TASKS)
    assert TASKS["pong_soup/hflip"].gym_id == "xfer/PongSoup-HFlip-v0"


def test_unknown_task_names_closest_ids():
    with pytest.raises(UnknownTaskError, match="pong_soup/hflip"):
        make_env("pong_soup/hflp")
    with pytest.raises(TypeError, match="noise_sigma"):
        make_env("catch_soup/noisy", noise_sigmaa=3)


def test_catch_rewards_and_episode_length():
    env = CatchEnv()
    env.reset(seed=0)
    # move the paddle under the ball: always catches
    for _ in range(9):
        action = (
            0 if env.paddle_col == env.ball_col else (1 if env.paddle_col > env.ball_col else 2)
        )
        _, reward, term, _, _ = env.step(action)
    assert term and reward == 1.0
    env.reset(seed=0)
    away = 1 if env.ball_col >= env.columns // 2 else 2
    for _ in range(9):
        _, reward, term, _, _ = env.step(away)
    assert term and reward == -1.0


@pytest.mark.parametrize("variant", SOUP_VARIANTS)
def test_catch_soup_contract_and_determinism(variant):
    task = f"catch_soup/{variant}"
    env = make_env(task, seed=0)
    assert env.observation_space.shape == (84, 84, 4) and env.observation_space.dtype == np.uint8
    check_env(env, skip_render_check=True)
    a, b = play(task), play(task)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)


@pytest.mark.parametrize(
    "variant,index",
    [("hflip", np.s_[:, ::-1]), ("vflip", np.s_[::-1]), ("vhflip", np.s_[::-1, ::-1])],
)
def test_catch_flips_exact(variant, index):
    for x, y in zip(play("catch_soup/pong"), play(f"catch_soup/{variant}"), strict=True):
        np.testing.assert_array_equal(y, x[index])


def test_catch_colour_variants_change_only_background():
    plain, black, white = (play(f"catch_soup/{v}")[3][..., -1] for v in ("pong", "black", "white"))
    bg_gray = plain[0, 0]
    is_bg = plain == bg_gray
    assert (black[is_bg] == 0).all() and (white[is_bg] == 255).all()
    np.testing.assert_array_equal(black[~is_bg], plain[~is_bg])


def test_noise_independent_of_run_seed():
    a = play("catch_soup/noisy", seed=0)[0].astype(int) - play("catch_soup/pong", seed=0)[0]
    b = play("catch_soup/noisy", seed=5)[0].astype(int) - play("catch_soup/pong", seed=5)[0]
    background = play("catch_soup/pong", seed=0)[0] == play("catch_soup/pong", seed=5)[0]
    np.testing.assert_array_equal(a[background], b[background])


def test_register_and_vector_env():
    ids = register_envs()
    assert "xfer/CatchSoup-Zoom-v0" in ids
    env = gym.make("xfer/CatchSoup-Zoom-v0")
    assert env.reset(seed=0)[0].shape == (84, 84, 4)
    venv = make_vector_env("catch_soup/pong", 3, seed=0)
    obs, _ = venv.reset()
    assert obs.shape == (3, 84, 84, 4)


@pytest.mark.atari
@pytest.mark.parametrize("variant", SOUP_VARIANTS)
def test_pong_soup_check_env(variant):
    env = make_env(f"pong_soup/{variant}", seed=0)
    assert env.observation_space.shape == (84, 84, 4)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset()
    assert obs.dtype == np.uint8


@pytest.mark.atari
@pytest.mark.parametrize(
    "variant,index",
    [("hflip", np.s_[:, ::-1]), ("vflip", np.s_[::-1]), ("vhflip", np.s_[::-1, ::-1])],
)
def test_pong_flips_exact(variant, index):
    plain, flipped = play("pong_soup/pong", steps=40), play(f"pong_soup/{variant}", steps=40)
    for x, y in zip(plain, flipped, strict=True):
        np.testing.assert_array_equal(y, x[index])


@pytest.mark.atari
def test_pong_colour_changes_only_background():
    plain, white = play("pong_soup/pong", steps=30)[-1], play("pong_soup/white", steps=30)[-1]
    newest_p, newest_w = plain[..., -1].astype(int), white[..., -1].astype(int)
    changed = newest_p != newest_w
    assert 0.5 < changed.mean() < 0.95  # the playfield changed, the borders/sprites mostly not
    assert (newest_w[changed] > newest_p[changed]).all()  # brighter where it changed


@pytest.mark.atari
@pytest.mark.parametrize("name,sigma", [("noisy8", 8.0), ("noisy16", 16.0)])
def test_noise_levels_add_the_suites_noise_image_scaled(name, sigma):
    """pong_soup/noisy8 is pong plus the noisy variant's own noise image (noise_seed 0)
    drawn at sd 8 instead of 32, clipped to the pixel range: checked pixel by pixel
    against numpy's own draw, and its spread against the suite's noisy."""
    plain = play("pong_soup/pong", steps=20)[-1].astype(int)
    weak = play(f"pong_soup/{name}", steps=20)[-1].astype(int)
    strong = play("pong_soup/noisy", steps=20)[-1].astype(int)
    unit = np.random.default_rng(0).standard_normal((84, 84, 1))  # one grey frame, per frame
    for frame, sd in ((weak, sigma), (strong, 32.0)):
        want = np.clip(plain + np.clip(np.rint(unit * sd), -255, 255), 0, 255)
        np.testing.assert_array_equal(frame, want)
    inside = (plain > 64) & (plain < 192)  # far from the clip at either end
    assert np.std((weak - plain)[inside]) == pytest.approx(sigma, rel=0.05)
    assert TASKS[f"pong_soup/{name}"].domain == "pong_soup"
    # an override still wins over the level's own sd
    np.testing.assert_array_equal(
        play(f"pong_soup/{name}", steps=20, noise_sigma=32.0)[-1], strong.astype(np.uint8)
    )


@pytest.mark.atari
def test_pong_determinism_and_atari_contract():
    a, b = play("pong_soup/noisy", steps=30), play("pong_soup/noisy", steps=30)
    for x, y in zip(a, b, strict=True):
        np.testing.assert_array_equal(x, y)
    env = make_env("atari/seaquest", seed=0)
    obs, _ = env.reset()
    assert obs.shape == (84, 84, 4) and env.action_space.n == 18
    assert TASKS["atari/seaquest"].frames_per_step == 4


@pytest.mark.atari
def test_atari_raw_score_not_clipped():
    env = make_env("atari/alien", seed=0)
    env.reset()
    rng = np.random.default_rng(0)
    rewards = set()
    for _ in range(1500):
        _, r, term, trunc, _ = env.step(int(rng.integers(env.action_space.n)))
        rewards.add(r)
        if term or trunc:
            break
    assert max(rewards) >= 10, rewards  # Alien's pellets score 10 points each


def test_a_failing_labyrinth_import_is_named_never_silent():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['envs.labyrinth'] = None\n"
        "from envs import get_task, TASKS\n"
        "assert 'pong_soup/pong' in TASKS and not any(t.startswith('labyrinth/') for t in TASKS)\n"
        "try:\n"
        "    get_task('labyrinth/seek_track_1')\n"
        "except KeyError as err:\n"
        "    print(err.args[0])\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "the labyrinth tasks are unavailable on this machine" in out.stdout
    assert "import of envs.labyrinth halted" in out.stdout and "make setup" in out.stdout
