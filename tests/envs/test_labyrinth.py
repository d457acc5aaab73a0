import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import make_env
from envs.labyrinth import LEVELS, build_layout
from envs.labyrinth.geometry import polyline_from_headings, turn_angles

# -- geometry (no rendering) ----------------------------------------------------------------


def test_track_turns_match_the_descriptions():
    def turns(level):
        return turn_angles(polyline_from_headings((0, 0), LEVELS[level].notes["steps"]))

    assert turns("seek_track_1") == []
    assert [round(t) for t in turns("seek_track_2")] == [90, 90]
    assert all(abs(abs(t) - 90) < 1e-9 for t in turns("seek_track_3"))
    t4 = turns("seek_track_4")
    assert len(t4) == 12 and all(abs(abs(t) - 45) < 1e-9 for t in t4)


def test_mazes_have_three_dead_ends_and_the_y_arms_are_angled():
    for level in ("seek_maze_m", "seek_maze_y"):
        layout = build_layout(level)
        assert len(layout.dead_ends()) == 3, level
        # connected: every room reachable from the start
        seen, todo, nbrs = set(), [layout.tags["start"][0]], layout.neighbours()
        while todo:
            r = todo.pop()
            if r not in seen:
                seen.add(r)
                todo.extend(nbrs[r])
        assert seen == set(range(len(layout.rooms)))
    y = build_layout("seek_maze_y")
    headings = []
    for arm in ("arm_left", "arm_right", "stem"):
        far = y.rooms[y.tags[arm][-1]].mean(0)
        headings.append(round(math.degrees(math.atan2(-far[1], far[0]))))
    assert headings == [60, -60, 180]


def test_shared_edges_are_exact():
    for level in LEVELS:
        layout = build_layout(level)
        for a, b in layout.links:
            layout.shared_edge(a, b)  # raises if the rooms do not share an edge


# -- the MiniWorld envs ----------------------------------------------------------------------


@pytest.mark.miniworld
@pytest.mark.parametrize("level", list(LEVELS))
def test_check_env_and_contract(level):
    env = make_env(f"labyrinth/{level}", seed=0)
    assert env.observation_space.shape == (84, 84, 12)
    check_env(env, skip_render_check=True)
    obs, _ = env.reset(seed=1)
    assert obs.dtype == np.uint8 and env.action_space.n == 4
    env.close()


@pytest.mark.miniworld
def test_determinism_under_a_seed():
    def play():
        env = make_env("labyrinth/seek_avoid_1", seed=3)
        rng = np.random.default_rng(0)
        frames = [env.reset()[0]]
        for _ in range(15):
            frames.append(env.step(int(rng.integers(4)))[0])
        positions = sorted(tuple(np.round(e.pos, 4)) for e, _ in env.unwrapped.items)
        env.close()
        return frames, positions

    (fa, pa), (fb, pb) = play(), play()
    assert pa == pb
    for a, b in zip(fa, fb, strict=True):
        np.testing.assert_array_equal(a, b)


def _face(env, ent):
    """Put the agent just in front of ``ent``, facing it."""
    agent = env.agent
    d = np.array([1.0, 0.0, 0.0])
    agent.pos = ent.pos - d * (agent.radius + ent.radius + 0.05)
    agent.dir = 0.0


@pytest.mark.miniworld
def test_pickup_gives_the_item_reward_and_last_positive_item_ends_the_episode():
    env = make_env("labyrinth/seek_avoid_1", seed=0, lemon_reward=-2.5)
    env.reset()
    raw = env.unwrapped
    lemon = next(e for e, kind in raw.items if kind == "lemon")
    _face(raw, lemon)
    _, reward, term, trunc, info = env.step(2)
    assert reward == -2.5 and info["picked"] == ["lemon"] and not term
    assert lemon not in raw.entities
    apples = [e for e, kind in raw.items if kind == "apple"]
    for e in apples[1:]:  # leave one apple
        raw.entities.remove(e)
        raw.items.remove((e, "apple"))
    _face(raw, apples[0])
    _, reward, term, trunc, info = env.step(2)
    assert reward == 1.0 and term and not trunc and info["positive_items_left"] == 0
    env.close()


@pytest.mark.miniworld
def test_dead_end_items_sit_in_the_dead_ends():
    env = make_env("labyrinth/seek_maze_y", seed=5)
    env.reset()
    raw = env.unwrapped
    layout = raw.layout
    ends = [r for r in layout.tags["ends"] if r not in layout.tags["start"]]
    for ent, _ in raw.items:
        inside = [raw.rooms[r].point_inside(ent.pos) for r in ends]
        assert any(inside)
    env.close()


def test_bad_level_is_rejected():
    from envs.labyrinth.levels import LabyrinthEnv

    with pytest.raises(ValueError, match="unknown level"):
        LabyrinthEnv("seek_track_9")


@pytest.mark.miniworld
def test_making_a_level_prints_no_multisampling_fallback(capfd):
    """MiniWorld asks for more samples than Mesa offers and printed "Falling back to
    num_samples=4" twice per env; the capped frame buffers ask for what there is."""
    env = make_env("labyrinth/seek_avoid_1", seed=0)
    env.reset(seed=0)
    out = capfd.readouterr()
    assert "Falling back" not in out.out + out.err
    assert type(env.unwrapped.obs_fb).__name__ == "CappedFrameBuffer"
    env.close()


@pytest.mark.miniworld
def test_an_action_is_four_frames_drawn_once(monkeypatch):
    """Action repeat 4 (A3C's Labyrinth protocol): one step moves the world as four
    frames of the same action do, draws only the frame the agent sees, and the episode's
    time limit counts agent steps."""
    import miniworld.miniworld as mwm

    four = make_env("labyrinth/seek_track_1", seed=2)
    one = make_env("labyrinth/seek_track_1", seed=2, action_repeat=1)
    obs4, _ = four.reset(seed=2)
    obs1, _ = one.reset(seed=2)
    assert np.array_equal(obs4, obs1)  # the same world and start
    drawn = []
    original = mwm.MiniWorldEnv.render_obs
    monkeypatch.setattr(
        mwm.MiniWorldEnv, "render_obs", lambda self, fb=None: drawn.append(1) or original(self, fb)
    )
    for action in (2, 0):  # forward, then turn left
        obs4, r4, *_, info = four.step(action)
        assert len(drawn) == 1 and info["frames"] == 4
        drawn.clear()
        rewards = [one.step(action)[1] for _ in range(4)]
        assert len(drawn) == 4
        drawn.clear()
        assert r4 == sum(rewards)
        np.testing.assert_allclose(four.unwrapped.agent.pos, one.unwrapped.agent.pos)
        assert four.unwrapped.agent.dir == pytest.approx(one.unwrapped.agent.dir)
    # the newest frame of the stack (last 3 channels) is the world after the 4 frames
    np.testing.assert_array_equal(obs4[..., -3:], one.unwrapped.render_obs())
    four.close()
    one.close()


@pytest.mark.miniworld
def test_the_time_limit_counts_agent_steps():
    env = make_env("labyrinth/seek_track_1", seed=0, time_limit=3)
    env.reset(seed=0)
    ends = [env.step(0)[3] for _ in range(3)]  # turning in place: no item ends it
    assert ends == [False, False, True]
    assert env.unwrapped.step_count == 12  # 3 agent steps of 4 frames
    env.close()
    with pytest.raises(ValueError, match="action_repeat must be >= 1"):
        make_env("labyrinth/seek_track_1", action_repeat=0)
