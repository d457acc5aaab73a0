import math

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import make_env
from envs.labyrinth import LEVELS, LabyrinthConfig, build_layout
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
    num_samples=4" twice per env; our frame buffers ask for what there is: one sample for
    the observation, multisampling for the human view."""
    from envs.labyrinth.render import FrameBuffer, max_samples

    env = make_env("labyrinth/seek_avoid_1", seed=0)
    env.reset(seed=0)
    out = capfd.readouterr()
    assert "Falling back" not in out.out + out.err
    raw = env.unwrapped
    assert isinstance(raw.obs_fb, FrameBuffer) and raw.obs_fb.num_samples == 1
    assert raw.vis_fb.num_samples == min(16, max_samples())
    assert raw.render_obs().shape == (84, 84, 3)
    env.close()


@pytest.mark.miniworld
def test_an_action_is_four_frames_drawn_once(monkeypatch):
    """Action repeat 4 (A3C's Labyrinth protocol): one step moves the world as four
    frames of the same action do, draws only the frame the agent sees, and the episode's
    time limit counts agent steps."""
    four = make_env("labyrinth/seek_track_1", seed=2)
    one = make_env("labyrinth/seek_track_1", seed=2, action_repeat=1)
    obs4, _ = four.reset(seed=2)
    obs1, _ = one.reset(seed=2)
    assert np.array_equal(obs4, obs1)  # the same world and start
    drawn = []
    cls = type(four.unwrapped)
    original = cls._render_world
    monkeypatch.setattr(
        cls, "_render_world", lambda self, *a, **k: drawn.append(1) or original(self, *a, **k)
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


# -- drawing: several envs per process, items, the low-poly ball ---------------------------


@pytest.mark.miniworld
def test_envs_in_one_process_draw_their_own_worlds():
    """An env runner steps several envs in one process. MiniWorld compiled every env's
    rooms into display list 1, shared by the process: the env that reset last drew its
    walls into every other env's frames. Each env's frame must be what it draws alone."""
    from envs.labyrinth.levels import LabyrinthEnv

    a = LabyrinthEnv("seek_track_1")
    alone, _ = a.reset(seed=0)
    b = LabyrinthEnv("seek_avoid_1")
    other, _ = b.reset(seed=0)
    np.testing.assert_array_equal(a.render_obs(), alone)
    a.reset(seed=0)
    np.testing.assert_array_equal(b.render_obs(), other)
    assert not np.array_equal(alone, other)  # two different worlds, so the test can fail
    a.close()
    b.close()


def _look_at(env, ent, distance=2.0):
    """Put the agent ``distance`` metres from ``ent``, looking at it."""
    heading = env.np_random.uniform(-math.pi, math.pi)
    for _ in range(64):
        offset = np.array([math.cos(heading), 0.0, -math.sin(heading)]) * distance
        pos = ent.pos + offset
        if not env.intersect(env.agent, pos, env.agent.radius):
            env.agent.pos = pos
            env.agent.dir = heading + math.pi  # dir_vec = (cos, 0, -sin)
            return
        heading += 2 * math.pi / 64
    raise AssertionError("no free spot around the item")


@pytest.mark.miniworld
def test_a_taken_item_is_no_longer_drawn():
    """Mushrooms (barrels) are static meshes: MiniWorld compiled them into the display
    list made at reset, so a mushroom the agent had taken stayed in view."""
    from envs.labyrinth.levels import LabyrinthEnv

    env = LabyrinthEnv("seek_avoid_2")
    env.reset(seed=3)
    mushroom = next(ent for ent, kind in env.items if kind == "mushroom")
    _look_at(env, mushroom, distance=3.0)
    seen = env.render_obs()
    env.entities.remove(mushroom)  # what _frame does when the agent walks into it
    gone = env.render_obs()
    lower_middle = (slice(42, 84), slice(30, 54))  # a barrel 0.7 m high, 3 m ahead
    changed = (seen[lower_middle] != gone[lower_middle]).any(-1).sum()
    assert changed > 20, changed
    env.close()


@pytest.mark.miniworld
def test_the_low_poly_ball_looks_and_collides_like_miniworlds():
    """The 288-triangle apple has the 5,192-triangle mesh's extents (so its scale and
    collision radius) and colour, and covers the same pixels up to its outline."""
    from miniworld.entity import Ball
    from miniworld.objmesh import ObjMesh

    from envs.labyrinth.levels import LabyrinthEnv
    from envs.labyrinth.render import SphereMesh

    env = LabyrinthEnv("seek_avoid_1")
    env.reset(seed=1)
    apple = next(ent for ent, kind in env.items if kind == "apple")
    assert isinstance(apple.mesh, SphereMesh) and apple.mesh.triangles == 288
    original = Ball(color="red", size=0.6)
    assert apple.radius == original.radius and apple.scale == original.scale
    for ent, _ in env.items:  # only the apple in view
        if ent is not apple:
            env.entities.remove(ent)
    _look_at(env, apple, distance=2.5)  # nearer, it is below the 60-degree view
    ours = env.render_obs()
    apple.mesh = ObjMesh.get("ball_red")
    theirs = env.render_obs()

    def red(img):
        img = img.astype(int)
        return (img[..., 0] > img[..., 1] + 40) & (img[..., 0] > img[..., 2] + 40)

    assert red(theirs).sum() > 150  # the apple: 244 pixels of the 84 x 84
    differ = red(ours) ^ red(theirs)
    assert differ.sum() <= 0.06 * red(theirs).sum()  # outline pixels only (9 of 244)
    env.close()


def test_sphere_triangles_are_closed_and_face_outwards():
    from envs.labyrinth.render import sphere_triangles

    t = sphere_triangles(16, 10)
    assert t.shape == (288, 3, 3)
    np.testing.assert_allclose(np.linalg.norm(t, axis=-1), 1.0)
    normals = np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0])
    assert (np.einsum("ij,ij->i", normals, t.mean(axis=1)) > 0).all()  # counter-clockwise
    # closed: every edge is used once in each direction
    edges = {}
    for tri in np.round(t, 9):
        for i in range(3):
            e = (tuple(tri[i]), tuple(tri[(i + 1) % 3]))
            edges[e] = edges.get(e, 0) + 1
    degenerate = {e for e in edges if e[0] == e[1]}
    assert not degenerate
    assert all(edges.get((b, a)) == 1 for (a, b), n in edges.items() if n == 1)
    assert set(edges.values()) == {1}


def _reference_frame(env, action):
    """A frame as MiniWorld steps it (its own ``step``, ``near`` per item, in order)."""
    import miniworld.miniworld as mwm

    obs, reward, terminated, truncated, info = mwm.MiniWorldEnv.step(env, action)
    reward = float(reward)
    for ent, kind in list(env.items):
        if env.near(ent):
            reward += env.rewards[kind]
            env.entities.remove(ent)
            env.items.remove((ent, kind))
            info.setdefault("picked", []).append(kind)
    remaining = sum(1 for _, kind in env.items if env.rewards[kind] > 0)
    if remaining == 0:
        terminated, truncated = True, False
    info["positive_items_left"] = remaining
    return obs, reward, terminated, truncated, info


@pytest.mark.miniworld
@pytest.mark.parametrize("level", ["seek_track_1", "seek_track_2", "seek_avoid_1", "seek_avoid_2"])
def test_the_fast_frame_moves_the_world_as_miniworlds_step(level):
    """Our frame (collisions and pickups over all items at once) against MiniWorld's
    step: the same positions, headings, rewards, pickups and episode ends, step by step,
    over episodes that hit walls, take items and run into the time limit."""
    from envs.labyrinth.levels import LabyrinthEnv

    ours = LabyrinthEnv(level, LabyrinthConfig(time_limit=150))
    ref = LabyrinthEnv(level, LabyrinthConfig(time_limit=150))
    ref._frame = lambda action: _reference_frame(ref, action)
    rng = np.random.default_rng(7)
    picked = blocked = ends = 0
    for episode in range(3):
        a, _ = ours.reset(seed=episode)
        b, _ = ref.reset(seed=episode)
        np.testing.assert_array_equal(a, b)
        done = False
        while not done:
            action = int(rng.choice(4, p=[0.15, 0.15, 0.6, 0.1]))
            before = ours.agent.pos.copy()
            oa, ra, ta, ua, ia = ours.step(action)
            ob, rb, tb, ub, ib = ref.step(action)
            assert (ra, ta, ua) == (rb, tb, ub)
            assert ia == ib
            np.testing.assert_array_equal(ours.agent.pos, ref.agent.pos)
            assert ours.agent.dir == ref.agent.dir
            picked += len(ia.get("picked", []))
            blocked += action in (2, 3) and np.array_equal(before, ours.agent.pos)
            done = ta or ua
        np.testing.assert_array_equal(oa, ob)
        ends += 1
    assert picked > 0 and blocked > 0 and ends == 3  # the test saw what it checks
    ours.close()
    ref.close()


@pytest.mark.miniworld
def test_the_camera_is_miniworlds():
    """Our camera (computed once a frame, no rotation matrices) against the agent's own
    ``cam_pos`` and ``cam_dir``, for headings, pitches and eye offsets."""
    from envs.labyrinth.levels import LabyrinthEnv

    env = LabyrinthEnv("seek_track_1")
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    for _ in range(20):
        env.agent.dir = rng.uniform(-10, 10)
        env.agent.cam_pitch = rng.uniform(-30, 30)
        env.agent.cam_fwd_disp = rng.uniform(-0.5, 0.5)
        eye, ahead = env.camera()
        np.testing.assert_allclose(eye, env.agent.cam_pos, atol=1e-12)
        np.testing.assert_allclose(ahead, env.agent.cam_dir, atol=1e-12)
    env.close()


@pytest.mark.miniworld
def test_rooms_drawn_in_batches_look_like_miniworlds():
    """Floors, ceilings and walls drawn as one triangle list per texture cover what
    MiniWorld's per-room polygons cover: the floor triangles' area is the rooms' area,
    and a frame differs from MiniWorld's drawing only where a quad's texture is
    interpolated over another diagonal."""
    from envs.labyrinth.levels import LabyrinthEnv
    from envs.labyrinth.render import room_batches

    env = LabyrinthEnv("seek_maze_m")
    env.reset(seed=0)
    floor = next(c for tex, c in room_batches(env.rooms) if tex is env.rooms[0].floor_tex)
    tris = np.array([v for _, _, v in floor])[:, [0, 2]].reshape(-1, 3, 2)
    u, w = tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    area = np.abs(u[:, 0] * w[:, 1] - u[:, 1] * w[:, 0]).sum() / 2

    def shoelace(p):
        return abs(np.dot(p[:, 0], np.roll(p[:, 1], 1)) - np.dot(p[:, 1], np.roll(p[:, 0], 1))) / 2

    assert area == pytest.approx(sum(shoelace(r.floor_verts[:, [0, 2]]) for r in env.rooms))
    ours = env.render_obs()
    env._static.compile = lambda e, ents: _miniworld_rooms(env._static, e, ents)
    env._static.drawn = None
    theirs = env.render_obs()
    diff = np.abs(ours.astype(int) - theirs.astype(int)).max(axis=-1)
    assert (diff <= 12).mean() > 0.98 and diff.mean() < 2.0
    env.close()


def _miniworld_rooms(static, env, entities):
    """Compile the static list with MiniWorld's own room drawing (the reference)."""
    from pyglet import gl

    from envs.labyrinth import render

    real = render.draw_rooms
    render.draw_rooms = lambda rooms: [r._render() for r in rooms]
    try:
        render.StaticList.compile(static, env, entities)
    finally:
        render.draw_rooms = real
    gl.glFlush()
