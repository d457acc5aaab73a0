"""The eight seek/avoid/maze levels of the paper's Labyrinth domain, on MiniWorld.

DeepMind Lab's levels are not public; these follow the paper's one-line descriptions:

| level | layout | items |
|---|---|---|
| seek_track_1 | straight corridor | 8 apples |
| seek_track_2 | U-shaped corridor | 10 strawberries |
| seek_track_3 | Omega-shaped corridor, 90-degree turns | 3 apples |
| seek_track_4 | Omega-shaped corridor, 45-degree turns | 3 apples |
| seek_avoid_1 | large square room | 8 apples, 6 lemons |
| seek_avoid_2 | large square room | 8 apples, 6 mushrooms |
| seek_maze_m | M-shaped maze: a top corridor, three legs (middle short) | apples at dead ends |
| seek_maze_y | Y-shaped maze: a stem and two arms at +-60 degrees | apples at arm ends |

Items: apple = red ball, strawberry = purple box, lemon = yellow ball, mushroom = a
brown barrel; picked up by walking into them. Actions: 0 turn left, 1 turn right,
2 forward, 3 back. An episode ends when every positive item is taken (terminated) or at
the level's time limit (truncated). Item positions and the start pose come from the
episode seed; the layout is the level.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

os.environ.setdefault("PYGLET_HEADLESS", "true")  # before pyglet is imported
os.environ.setdefault("PYGLET_DEBUG_GL", "false")  # no glGetError after every GL call
os.environ.setdefault("LP_NUM_THREADS", "0")  # llvmpipe draws in the calling thread

import numpy as np  # noqa: E402
from gymnasium import spaces  # noqa: E402

from envs.labyrinth.geometry import Layout, corridor, polyline_from_headings  # noqa: E402
from envs.labyrinth.render import FrameBuffer, StaticList, low_poly  # noqa: E402

__all__ = ["LabyrinthConfig", "LevelSpec", "LEVELS", "LabyrinthEnv", "build_layout"]

WIDTH = 2.4  # corridor width, metres (the agent's radius is about 0.4)


@dataclass(frozen=True)
class LabyrinthConfig:
    """Parameters of the Labyrinth levels.

    Attributes:
        apple_reward / strawberry_reward: reward of the positive items.
        lemon_reward / mushroom_reward: reward of the negative items.
        time_limit: episode limit in agent steps (None: the level's default); the
            episode lasts ``time_limit * action_repeat`` MiniWorld frames.
        frame_stack: stacked RGB frames (the observation has 3 * frame_stack channels).
        size: observation height = width in pixels.
        action_repeat: MiniWorld frames each agent action is applied for (A3C's Labyrinth
            agents repeat every action 4 times, as on Atari). Rewards of the repeated
            frames are summed; only the last frame is rendered (the one the agent
            observes), and an item that ends the episode ends the repeat. MiniWorld moves
            0.15 m or turns 15 degrees a frame, so one action moves 0.6 m or turns 60
            degrees at 4.
    """

    apple_reward: float = 1.0
    strawberry_reward: float = 1.0
    lemon_reward: float = -1.0
    mushroom_reward: float = -1.0
    time_limit: int | None = None
    frame_stack: int = 4
    size: int = 84
    action_repeat: int = 4


@dataclass(frozen=True)
class LevelSpec:
    """One level: its layout builder, items, start rule and time limit."""

    name: str
    description: str
    layout: Callable[[], Layout]
    items: dict[str, int]
    item_rooms: str = "all"  # "all" rooms, or "dead_ends" (other than the start's)
    start_tag: str = "start"
    start_heading: float | None = 0.0  # degrees on the map; None = random
    time_limit: int = 900
    notes: dict[str, Any] = field(default_factory=dict)


def _track(steps: list[tuple[float, float]]) -> Callable[[], Layout]:
    def build() -> Layout:
        pts = polyline_from_headings((0.0, 0.0), steps)
        layout = Layout()
        ids = layout.add(corridor(pts, WIDTH), tag="track")
        layout.tags["start"] = ids[:1]
        return layout

    return build


OMEGA_90 = [(0, 4), (90, 3), (180, 3), (90, 5), (0, 12), (-90, 5), (180, 3), (-90, 3), (0, 4)]
OMEGA_45 = [
    (0, 4),
    (45, 3.5),
    (90, 3.5),
    (135, 3.5),
    (90, 3),
    (45, 3),
    (0, 6),
    (-45, 3),
    (-90, 3),
    (-135, 3.5),
    (-90, 3.5),
    (-45, 3.5),
    (0, 4),
]
U_TRACK = [(0, 14), (90, 10), (180, 14)]
STRAIGHT = [(0, 18)]


def _square_room() -> Layout:
    layout = Layout()
    s = 8.0
    ids = layout.add([np.array([[-s, -s], [-s, s], [s, s], [s, -s]])], tag="room")
    layout.tags["start"] = ids
    return layout


def _maze_y() -> Layout:
    """A triangular hub; the stem heads west, the arms at headings +60 and -60."""
    layout = Layout()
    radius = WIDTH / math.sqrt(3.0)  # an equilateral triangle of side WIDTH
    verts = np.array(
        [
            [radius * math.cos(math.radians(a)), -radius * math.sin(math.radians(a))]
            for a in (0, 120, 240)
        ]
    )
    hub = layout.add([verts], tag="hub")[0]
    for name, (i, j), heading, length in (
        ("stem", (1, 2), 180.0, 7.0),
        ("arm_left", (0, 1), 60.0, 7.0),
        ("arm_right", (2, 0), -60.0, 7.0),
    ):
        a, b = verts[i], verts[j]
        mid = (a + b) / 2.0
        d = np.array([math.cos(math.radians(heading)), -math.sin(math.radians(heading))])
        left_normal = np.array([d[1], -d[0]])
        left, right = (a, b) if np.dot(a - mid, left_normal) > 0 else (b, a)
        pts = np.stack([mid, mid + d * length / 2, mid + d * length])
        ids = layout.add(
            corridor(pts, WIDTH, start_edge=np.stack([left, right])), tag=name, link_to=hub
        )
        layout.tags.setdefault("ends", []).append(ids[-1])
    layout.tags["start"] = [layout.tags["stem"][-1]]
    return layout


def _maze_m() -> Layout:
    """A top corridor through three junctions, a leg down from each (the middle short)."""
    layout = Layout()
    h = WIDTH / 2.0
    xs = (0.0, 6.0, 12.0)
    junctions = [
        layout.add([np.array([[x - h, -h], [x - h, h], [x + h, h], [x + h, -h]])], tag="junction")[
            0
        ]
        for x in xs
    ]
    for (xa, ja), (xb, jb) in zip(
        zip(xs, junctions, strict=True), list(zip(xs, junctions, strict=True))[1:], strict=False
    ):
        ids = layout.add(
            [np.array([[xa + h, -h], [xa + h, h], [xb - h, h], [xb - h, -h]])],
            tag="top",
            link_to=ja,
        )
        layout.links.append((ids[0], jb))
    for name, x, j, length in (
        ("leg_left", xs[0], junctions[0], 9.0),
        ("leg_middle", xs[1], junctions[1], 5.0),
        ("leg_right", xs[2], junctions[2], 9.0),
    ):
        pts = np.array([[x, h], [x, h + length / 2], [x, h + length]])
        ids = layout.add(corridor(pts, WIDTH), tag=name, link_to=j)
        layout.tags.setdefault("ends", []).append(ids[-1])
    layout.tags["start"] = [layout.tags["leg_middle"][-1]]
    return layout


LEVELS: dict[str, LevelSpec] = {
    "seek_track_1": LevelSpec(
        "seek_track_1",
        "simple corridor, many apples",
        _track(STRAIGHT),
        {"apple": 8},
        time_limit=600,
        notes={"steps": STRAIGHT},
    ),
    "seek_track_2": LevelSpec(
        "seek_track_2",
        "U-shaped corridor, many strawberries",
        _track(U_TRACK),
        {"strawberry": 10},
        notes={"steps": U_TRACK},
    ),
    "seek_track_3": LevelSpec(
        "seek_track_3",
        "Omega-shaped corridor, 90-degree turns, few apples",
        _track(OMEGA_90),
        {"apple": 3},
        time_limit=1200,
        notes={"steps": OMEGA_90},
    ),
    "seek_track_4": LevelSpec(
        "seek_track_4",
        "Omega-shaped corridor, 45-degree turns, few apples",
        _track(OMEGA_45),
        {"apple": 3},
        time_limit=1200,
        notes={"steps": OMEGA_45},
    ),
    "seek_avoid_1": LevelSpec(
        "seek_avoid_1",
        "large square room, apples and lemons",
        _square_room,
        {"apple": 8, "lemon": 6},
        start_heading=None,
    ),
    "seek_avoid_2": LevelSpec(
        "seek_avoid_2",
        "large square room, apples and mushrooms",
        _square_room,
        {"apple": 8, "mushroom": 6},
        start_heading=None,
    ),
    "seek_maze_m": LevelSpec(
        "seek_maze_m",
        "M-shaped maze, apples at the dead ends",
        _maze_m,
        {"apple": 2},
        item_rooms="dead_ends",
        start_heading=90.0,
    ),
    "seek_maze_y": LevelSpec(
        "seek_maze_y",
        "Y-shaped maze, apples at the dead ends",
        _maze_y,
        {"apple": 2},
        item_rooms="dead_ends",
        start_heading=0.0,
    ),
}


def build_layout(level: str) -> Layout:
    """The layout (rooms and connections) of ``level``."""
    return LEVELS[level].layout()


def _import_miniworld() -> Any:
    try:
        import miniworld.miniworld as mw
    except Exception as err:  # noqa: BLE001 - pyglet/GL errors come in many types
        raise RuntimeError(
            "MiniWorld could not start headless OpenGL. Set PYGLET_HEADLESS=true before "
            "anything imports pyglet, and install EGL/Mesa: apt-get install libegl1 libgl1 "
            f"libgl1-mesa-dri (error: {type(err).__name__}: {err})"
        ) from err
    return mw


def _make_item(kind: str) -> Any:
    from miniworld.entity import Ball, Box, MeshEnt

    if kind in ("apple", "lemon"):
        ball = Ball(color="red" if kind == "apple" else "yellow", size=0.6)
        ball.mesh = low_poly(ball.mesh)  # the same extents, so the same scale and radius
        return ball
    if kind == "strawberry":
        return Box(color="purple", size=0.5)
    if kind == "mushroom":
        return MeshEnt(mesh_name="barrel", height=0.7, static=True)
    raise ValueError(f"unknown item {kind!r}")


def _env_class() -> type:
    mw = _import_miniworld()

    class _LabyrinthEnv(mw.MiniWorldEnv):
        """A MiniWorld env for one level (RGB frames, 4 look/move actions)."""

        def __init__(self, level: str, config: LabyrinthConfig) -> None:
            if level not in LEVELS:
                raise ValueError(f"unknown level {level!r}; choose from {', '.join(LEVELS)}")
            self.spec_level = LEVELS[level]
            self.config = config
            self.layout = self.spec_level.layout()
            self.rewards = {
                "apple": config.apple_reward,
                "strawberry": config.strawberry_reward,
                "lemon": config.lemon_reward,
                "mushroom": config.mushroom_reward,
            }
            self.items: list[tuple[Any, str]] = []
            if config.action_repeat < 1:
                raise ValueError(f"action_repeat must be >= 1, got {config.action_repeat}")
            self.repeat = config.action_repeat
            self._render = True
            self._static = StaticList()
            self._items_cache: dict | None = None  # see _item_arrays
            self._tested_at: tuple | None = None  # agent position, items: last pickup test
            self._walls: tuple | None = None  # MiniWorld's wall segments, precomputed
            self._walls_ahead: dict[bytes, bool] = {}  # this step's wall tests, by position
            limit = (config.time_limit or self.spec_level.time_limit) * self.repeat
            original = mw.FrameBuffer
            size = config.size

            def frame_buffer(width: int, height: int, num_samples: int = 1) -> FrameBuffer:
                # the observation: one sample; the human view: multisampled
                return FrameBuffer(
                    width, height, 1 if (width, height) == (size, size) else num_samples
                )

            mw.FrameBuffer = frame_buffer
            try:
                super().__init__(
                    max_episode_steps=limit, obs_width=config.size, obs_height=config.size
                )
            finally:
                mw.FrameBuffer = original
            self.action_space = spaces.Discrete(4)  # turn left, turn right, forward, back

        def get_action_meanings(self) -> list[str]:
            """The 4 actions' names (as ALE games name theirs)."""
            return ["TURN_LEFT", "TURN_RIGHT", "FORWARD", "BACK"]

        def _gen_world(self) -> None:
            rooms = [self.add_room(outline=poly.copy()) for poly in self.layout.rooms]
            for a, b in self.layout.links:
                ea, eb = self.layout.shared_edge(a, b)
                for room, edge in ((rooms[a], ea), (rooms[b], eb)):
                    p0, p1 = room.outline[edge], room.outline[(edge + 1) % room.num_walls]
                    room.add_portal(edge, start_pos=0.0, end_pos=float(np.linalg.norm(p1 - p0)))
                rooms[a].neighbors.append(rooms[b])
                rooms[b].neighbors.append(rooms[a])
            start_rooms = self.layout.tags["start"]
            heading = self.spec_level.start_heading
            jitter = self.np_random.uniform(-0.3, 0.3)
            direction = (
                self.np_random.uniform(-math.pi, math.pi)
                if heading is None
                else math.radians(heading) + jitter
            )
            start = rooms[start_rooms[0]]
            # tracks start at their west end, facing along the corridor
            bounds = {"max_x": start.min_x + 1.5} if "track" in self.layout.tags else {}
            self.place_agent(room=start, dir=direction, **bounds)
            if self.spec_level.item_rooms == "dead_ends":
                targets = [r for r in self.layout.tags["ends"] if r not in start_rooms]
            else:
                targets = None
            self.items = []
            self._items_cache = None
            self._tested_at = None
            k = 0
            for kind, count in self.spec_level.items.items():
                for _ in range(count):
                    ent = _make_item(kind)
                    room = rooms[targets[k % len(targets)]] if targets else None
                    k += 1
                    self.place_entity(ent, room=room)
                    self.items.append((ent, kind))

        def _render_static(self) -> None:
            # this env's own display list (MiniWorld: list 1, shared by the process)
            self._static.compile(self, self._scenery())

        def _scenery(self) -> list:
            return [ent for ent in self.entities if ent is not self.agent]

        def _render_world(self, frame_buffer: Any, render_agent: bool) -> np.ndarray:
            self._static.draw(self, self._scenery())  # compiled again after a pickup
            if render_agent:
                self.agent.render()
            return frame_buffer.resolve()

        def close(self) -> None:
            self._static.release()
            super().close()

        def camera(self) -> tuple[np.ndarray, np.ndarray]:
            """The agent's eye and unit view direction: MiniWorld's ``cam_pos`` and
            ``cam_dir`` (a test compares them) without their rotation matrices."""
            agent = self.agent
            yaw, pitch = agent.dir, math.radians(agent.cam_pitch)
            eye = agent.pos + np.array(
                [
                    agent.cam_fwd_disp * math.cos(yaw),
                    agent.cam_height,
                    -agent.cam_fwd_disp * math.sin(yaw),
                ]
            )
            ahead = np.array(
                [
                    math.cos(yaw) * math.cos(pitch),
                    math.sin(pitch),
                    -math.sin(yaw) * math.cos(pitch),
                ]
            )
            return eye, ahead

        def render_obs(self, frame_buffer: Any = None) -> Any:
            """The agent's view (MiniWorld's ``render_obs``, its camera computed once).
            Frames inside an action repeat are simulated, not drawn: nobody sees them."""
            if not self._render:
                return None
            from pyglet import gl

            fb = self.obs_fb if frame_buffer is None else frame_buffer
            self.shadow_window.switch_to()
            fb.bind()
            gl.glClearColor(*self.sky_color, 1.0)
            gl.glClearDepth(1.0)
            gl.glClear(gl.GL_COLOR_BUFFER_BIT | gl.GL_DEPTH_BUFFER_BIT)
            gl.glMatrixMode(gl.GL_PROJECTION)
            gl.glLoadIdentity()
            gl.gluPerspective(self.agent.cam_fov_y, fb.width / float(fb.height), 0.04, 100.0)
            gl.glMatrixMode(gl.GL_MODELVIEW)
            gl.glLoadIdentity()
            eye, ahead = self.camera()
            gl.gluLookAt(*eye, *(eye + ahead), 0.0, 1.0, 0.0)
            return self._render_world(fb, render_agent=False)

        def step(self, action: Any) -> tuple[np.ndarray, float, bool, bool, dict]:
            if not (isinstance(action, int | np.integer) and 0 <= action < 4) and (
                not self.action_space.contains(action)
            ):
                raise ValueError(
                    f"invalid action {action!r}; expected 0-3 (left, right, forward, back)"
                )
            total, info, frames = 0.0, {}, 0
            self._walls_ahead.clear()
            for _ in range(self.repeat):
                frames += 1
                self._render = False
                try:
                    _, reward, terminated, truncated, frame_info = self._frame(int(action))
                finally:
                    self._render = True
                total += reward
                for kind in frame_info.pop("picked", []):
                    info.setdefault("picked", []).append(kind)
                info.update(frame_info)
                if terminated or truncated:
                    break
            info["frames"] = frames
            return self.render_obs(), total, terminated, truncated, info

        def _frame(self, action: int) -> tuple[Any, float, bool, bool, dict]:
            """One MiniWorld frame of ``action`` with the items' rewards (not drawn).

            MiniWorld's ``step`` for the four actions (the same parameter draws, moves,
            turns and time limit; a test checks trajectories against it), with the
            collision and pickup tests over all items at once."""
            self.step_count += 1
            rand = self.np_random if self.domain_rand else None
            fwd_step = self.params.sample(rand, "forward_step")
            fwd_drift = self.params.sample(rand, "forward_drift")
            turn_step = self.params.sample(rand, "turn_step")
            if action == 2:
                self._move(fwd_step, fwd_drift)
            elif action == 3:
                self._move(-fwd_step, fwd_drift)
            elif action == 0:
                self.agent.dir += turn_step * (math.pi / 180)  # MiniWorld's turn_agent
            elif action == 1:
                self.agent.dir += -turn_step * (math.pi / 180)
            terminated = False
            truncated = self.step_count >= self.max_episode_steps
            reward, info = 0.0, {}
            items = self._item_arrays()
            # where the agent stands and the items are as at the last test, nothing is
            # near (what was near then was taken)
            if self.items and self._where() != self._tested_at:
                near = np.linalg.norm(items["pos"] - self.agent.pos, axis=1) < items["near"]
                for i in np.flatnonzero(near)[::-1]:  # back to front: indices stay valid
                    ent, kind = self.items[i]
                    reward += self.rewards[kind]
                    self.entities.remove(ent)
                    del self.items[i]
                    info.setdefault("picked", []).insert(0, kind)
                if "picked" in info:
                    items = self._item_arrays()
                self._tested_at = self._where()
            remaining = items["positive"]
            if remaining == 0:
                terminated, truncated = True, False
            info["positive_items_left"] = remaining
            return None, reward, terminated, truncated, info

        def _where(self) -> tuple[bytes, int]:
            """The state a pickup test depends on: the agent's position, the items left."""
            return self.agent.pos.tobytes(), len(self.items)

        def _item_arrays(self) -> dict[str, Any]:
            """The items not taken, in item order: positions (n, 3), the same on the
            floor (y = 0), collision radii, pickup distances, and the positive count."""
            if self._items_cache is None or self._items_cache["count"] != len(self.items):
                pos = np.array([ent.pos for ent, _ in self.items], dtype=np.float64)
                pos = pos.reshape(-1, 3)
                flat = pos.copy()
                flat[:, 1] = 0.0
                radius = np.array([ent.radius for ent, _ in self.items], dtype=np.float64)
                self._items_cache = {
                    "count": len(self.items),
                    "pos": pos,
                    "flat": flat,
                    "radius": radius,
                    # MiniWorld's near(): radius + the agent's + 1.1 x the longest step
                    "near": radius + self.agent.radius + 1.1 * self.max_forward_step,
                    "positive": sum(1 for _, kind in self.items if self.rewards[kind] > 0),
                }
            return self._items_cache

        def _move(self, fwd_dist: float, fwd_drift: float) -> None:
            """MiniWorld's ``move_agent``: the agent moves unless the new position is in
            a wall or an item. The wall test of a move is made at once for the positions
            the rest of the action repeat can reach going on the same way (walls do not
            move; ``step`` forgets them)."""
            agent = self.agent
            ahead = agent.dir_vec * fwd_dist
            aside = agent.right_vec * fwd_drift
            next_pos = agent.pos + ahead + aside
            key = next_pos.tobytes()
            if key not in self._walls_ahead:
                path = [next_pos]
                for _ in range(self.repeat - 1):
                    path.append(path[-1] + ahead + aside)  # as the next frames compute them
                hits = self._hits_wall(np.array(path), agent.radius)
                self._walls_ahead.update(zip((q.tobytes() for q in path), hits, strict=True))
            if self._walls_ahead[key]:
                return
            # MiniWorld tests every other entity, here the items. None can be hit from
            # where the last pickup test found none near: an item is hit within its radius
            # plus the agent's, taken within that plus 1.1 x the longest step
            tested = self._tested_at == self._where()
            if self.items and not (
                tested and math.hypot(fwd_dist, fwd_drift) < 1.1 * self.max_forward_step
            ):
                items = self._item_arrays()
                point = np.array([next_pos[0], 0.0, next_pos[2]])
                distance = np.linalg.norm(items["flat"] - point, axis=1)
                if np.any(distance < agent.radius + items["radius"]):
                    return
            agent.pos = next_pos

        def _hits_wall(self, points: np.ndarray, radius: float) -> np.ndarray:
            """MiniWorld's circle-segment test against every wall for each of ``points``
            (n, 3; their heights ignored), with the segments' constant parts computed
            once per env."""
            if self._walls is None or self._walls[0] is not self.wall_segs:
                a = self.wall_segs[:, 0, :]
                ab = self.wall_segs[:, 1, :] - a
                self._walls = (self.wall_segs, a, ab, np.sum(ab * ab, axis=1))
            _, a, ab, abab = self._walls
            flat = points.copy()
            flat[:, 1] = 0.0
            rel = flat[:, None, :] - a[None]  # (points, walls, 3)
            proj = np.clip(np.sum(rel * ab, axis=2) / abab, 0, 1)
            closest = a[None] + proj[..., None] * ab[None]
            dist = np.linalg.norm(closest - flat[:, None, :], axis=2)
            return np.any(dist < radius, axis=1)

    return _LabyrinthEnv


_CLASS: type | None = None


def LabyrinthEnv(level: str, config: LabyrinthConfig | None = None) -> Any:  # noqa: N802
    """The raw MiniWorld env of ``level`` (RGB (size, size, 3) frames)."""
    global _CLASS
    if _CLASS is None:
        _CLASS = _env_class()
    return _CLASS(level, config or LabyrinthConfig())
