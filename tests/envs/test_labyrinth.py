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
