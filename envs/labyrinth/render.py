"""Drawing the Labyrinth levels: frame buffers, item meshes and per-env display lists.

MiniWorld draws correctly for one env per process, slowly; these pieces make it cheap
and make several envs in one process (an RLlib env runner steps 8) draw their own worlds:

- :class:`FrameBuffer` renders into 8-bit RGBA. MiniWorld's multisamples a 32-bit float
  RGBA texture and resolves it into another (16 bytes a sample, 4 samples under Mesa's
  llvmpipe); the observation buffer here has one sample (no anti-aliasing: the agent sees
  hard edges at 84x84) and the human view keeps multisampling.
- :class:`SphereMesh` draws a ball with 16 x 10 segments (288 triangles) from one GL
  display list. MiniWorld's ball mesh has 5,192 triangles, drawn through pyglet's
  vertex lists each frame: at 84x84 a ball covers at most a few hundred pixels, and those
  triangles were most of a frame's cost on the levels with many apples. The ball's
  extents, colour and so its collision radius are the original mesh's.
- :class:`StaticList` owns one display list per env for the level's rooms and items.
  MiniWorld compiles every env's static world into display list 1, shared by all the GL
  contexts of a process: the env that reset last overwrote the walls, floors and lights
  of every other env in the process. The list is compiled again whenever the items in
  the world are not those it holds, so an item taken is gone from the next frame
  (MiniWorld compiled static items such as the mushrooms' barrels at reset only: a
  taken mushroom stayed visible), and a frame is one list call.

``PYGLET_DEBUG_GL`` (pyglet checks ``glGetError`` after every GL call when it is on) and
``LP_NUM_THREADS`` (llvmpipe's rasteriser threads; 0 draws in the calling thread, which
the env runners' own processes make the cheaper choice) default to ``false`` and ``0``
when this package is imported before pyglet; set them in the environment to override.
"""

from __future__ import annotations

import math
from ctypes import POINTER, byref
from typing import Any

import numpy as np

__all__ = ["FrameBuffer", "SphereMesh", "StaticList", "low_poly"]

SPHERE_SEGMENTS = 16
SPHERE_RINGS = 10
_MIN_TRIANGLES = 1000  # meshes with more triangles than this and a ball's name are replaced


def _gl() -> Any:
    from pyglet import gl

    return gl


def max_samples() -> int:
    """The most samples a multisampled frame buffer may have on this GL (1 without)."""
    gl = _gl()
    most = gl.GLint(0)
    gl.glGetIntegerv(0x8D57, most)  # GL_MAX_SAMPLES_EXT
    return max(1, most.value)


class FrameBuffer:
    """An 8-bit RGBA frame buffer with a 16-bit depth buffer; ``num_samples`` > 1
    multisamples (capped at what the GL offers) and resolves into a one-sample buffer.

    The interface is MiniWorld's: ``bind()`` before drawing, ``resolve()`` returns the
    image as a (height, width, 3) uint8 array, top row first.
    """

    def __init__(self, width: int, height: int, num_samples: int = 1) -> None:
        gl = _gl()
        self.width, self.height = int(width), int(height)
        self.num_samples = max(1, min(int(num_samples), max_samples()))
        self.multi_fbo = self._fbo(self.num_samples)
        self.final_fbo = self._fbo(1) if self.num_samples > 1 else self.multi_fbo
        gl.glEnable(gl.GL_DEPTH_TEST)
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, 0)
        self.img_array = np.zeros((self.height, self.width, 3), dtype=np.uint8)

    def _fbo(self, samples: int) -> Any:
        gl = _gl()
        fbo = gl.GLuint(0)
        gl.glGenFramebuffers(1, byref(fbo))
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, fbo)
        for fmt, attachment in (
            (gl.GL_RGBA8, gl.GL_COLOR_ATTACHMENT0),
            (gl.GL_DEPTH_COMPONENT16, gl.GL_DEPTH_ATTACHMENT),
        ):
            rb = gl.GLuint(0)
            gl.glGenRenderbuffers(1, byref(rb))
            gl.glBindRenderbuffer(gl.GL_RENDERBUFFER, rb)
            if samples > 1:
                gl.glRenderbufferStorageMultisample(
                    gl.GL_RENDERBUFFER, samples, fmt, self.width, self.height
                )
            else:
                gl.glRenderbufferStorage(gl.GL_RENDERBUFFER, fmt, self.width, self.height)
            gl.glFramebufferRenderbuffer(gl.GL_FRAMEBUFFER, attachment, gl.GL_RENDERBUFFER, rb)
        status = gl.glCheckFramebufferStatus(gl.GL_FRAMEBUFFER)
        if status != gl.GL_FRAMEBUFFER_COMPLETE:
            raise RuntimeError(f"OpenGL frame buffer incomplete (status {status:#x})")
        return fbo

    def bind(self) -> None:
        gl = _gl()
        if self.num_samples > 1:
            gl.glEnable(gl.GL_MULTISAMPLE)
        else:
            gl.glDisable(gl.GL_MULTISAMPLE)
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, self.multi_fbo)
        gl.glViewport(0, 0, self.width, self.height)

    def resolve(self) -> np.ndarray:
        gl = _gl()
        if self.num_samples > 1:
            gl.glBindFramebuffer(gl.GL_READ_FRAMEBUFFER, self.multi_fbo)
            gl.glBindFramebuffer(gl.GL_DRAW_FRAMEBUFFER, self.final_fbo)
            w, h = self.width, self.height
            gl.glBlitFramebuffer(0, 0, w, h, 0, 0, w, h, gl.GL_COLOR_BUFFER_BIT, gl.GL_NEAREST)
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, self.final_fbo)
        gl.glPixelStorei(gl.GL_PACK_ALIGNMENT, 1)
        gl.glReadPixels(
            0,
            0,
            self.width,
            self.height,
            gl.GL_RGB,
            gl.GL_UNSIGNED_BYTE,
            self.img_array.ctypes.data_as(POINTER(gl.GLubyte)),
        )
        gl.glBindFramebuffer(gl.GL_FRAMEBUFFER, 0)
        return np.ascontiguousarray(self.img_array[::-1])  # GL's first row is the bottom


def sphere_triangles(segments: int = SPHERE_SEGMENTS, rings: int = SPHERE_RINGS) -> np.ndarray:
    """Unit-sphere triangles (n, 3 vertices, xyz), outward winding as seen from outside
    (counter-clockwise), latitude rings from the top pole (+y) down.

    Example:
        >>> sphere_triangles(16, 10).shape
        (288, 3, 3)
    """
    theta = np.linspace(0.0, math.pi, rings + 1)  # from +y
    phi = np.linspace(0.0, 2.0 * math.pi, segments + 1)
    p = np.stack(
        [
            np.sin(theta)[:, None] * np.cos(phi)[None, :],
            np.cos(theta)[:, None] * np.ones_like(phi)[None, :],
            np.sin(theta)[:, None] * np.sin(phi)[None, :],
        ],
        axis=-1,
    )
    tris = []
    for i in range(rings):
        for j in range(segments):
            a, b, c, d = p[i, j], p[i + 1, j], p[i + 1, j + 1], p[i, j + 1]
            if i > 0:  # the top ring's quads are triangles (a and d are the pole)
                tris.append((a, d, b))
            if i < rings - 1:
                tris.append((b, d, c))
    return np.asarray(tris, dtype=np.float64)


class SphereMesh:
    """A ball drawn from one display list, with the extents and colour of ``original``
    (a MiniWorld ``ObjMesh`` of a ball), so the entity's scale and radius are unchanged."""

    def __init__(self, original: Any) -> None:
        gl = _gl()
        self.min_coords = np.asarray(original.min_coords, dtype=np.float32)
        self.max_coords = np.asarray(original.max_coords, dtype=np.float32)
        self.color = tuple(float(c) for c in original.vlists[0].colors[:3])
        centre = (self.min_coords + self.max_coords) / 2.0
        half = (self.max_coords - self.min_coords) / 2.0
        unit = sphere_triangles()
        self.triangles = len(unit)
        self.list_id = int(gl.glGenLists(1))
        gl.glNewList(self.list_id, gl.GL_COMPILE)
        gl.glDisable(gl.GL_TEXTURE_2D)
        gl.glColor3f(*self.color)
        gl.glBegin(gl.GL_TRIANGLES)
        for n in unit.reshape(-1, 3):
            gl.glNormal3f(*n)
            gl.glVertex3f(*(centre + half * n))
        gl.glEnd()
        gl.glEndList()

    def render(self) -> None:
        _gl().glCallList(self.list_id)


_SPHERES: dict[int, SphereMesh] = {}  # by id of the original mesh (MiniWorld caches those)


def low_poly(mesh: Any) -> Any:
    """The low-poly stand-in of a MiniWorld ball mesh (one per process and mesh, as
    MiniWorld's own cache); any other mesh is returned unchanged."""
    vlists = getattr(mesh, "vlists", None)
    if not vlists or len(vlists) != 1 or len(vlists[0].vertices) // 9 < _MIN_TRIANGLES:
        return mesh
    key = id(mesh)
    if key not in _SPHERES:
        _SPHERES[key] = SphereMesh(mesh)
    return _SPHERES[key]


def room_batches(rooms: list) -> list[tuple[Any, list[tuple]]]:
    """The rooms' floors, ceilings and walls as triangles grouped by texture, in order of
    first use: ``[(texture, [(normal, texcoord, vertex), ...]), ...]``.

    MiniWorld draws each room as a floor polygon, a ceiling polygon and wall quads, three
    texture binds and three primitives a room; the maze levels have 11 rooms, and these
    state changes cost llvmpipe more than the triangles. Polygons (rooms are convex) are
    split into fans and quads into two triangles, as the GL does itself.
    """
    groups: dict[int, tuple[Any, list[tuple]]] = {}

    def add(texture: Any, corners: list[tuple]) -> None:
        groups.setdefault(id(texture), (texture, []))[1].extend(corners)

    for room in rooms:
        surfaces = [(room.floor_tex, room.floor_verts, room.floor_texcs, (0.0, 1.0, 0.0))]
        if not room.no_ceiling:
            surfaces.append((room.ceil_tex, room.ceil_verts, room.ceil_texcs, (0.0, -1.0, 0.0)))
        for texture, verts, texcs, normal in surfaces:
            for i in range(1, len(verts) - 1):
                add(texture, [(normal, texcs[k], verts[k]) for k in (0, i, i + 1)])
        for q in range(0, len(room.wall_verts), 4):
            add(
                room.wall_tex,
                [
                    (room.wall_norms[q + k], room.wall_texcs[q + k], room.wall_verts[q + k])
                    for k in (0, 1, 2, 0, 2, 3)
                ],
            )
    return list(groups.values())


def draw_rooms(rooms: list) -> None:
    """Draw :func:`room_batches`: one texture bind and one triangle list per texture."""
    gl = _gl()
    gl.glColor3f(1.0, 1.0, 1.0)
    for texture, corners in room_batches(rooms):
        texture.bind()
        gl.glBegin(gl.GL_TRIANGLES)
        for normal, texcoord, vertex in corners:
            gl.glNormal3f(*normal)
            gl.glTexCoord2f(*texcoord)
            gl.glVertex3f(*vertex)
        gl.glEnd()


class StaticList:
    """One env's display list: its light, rooms and the items not taken. MiniWorld
    compiles rooms and static entities into display list 1 for every env of the process
    and draws the other entities one by one each frame; here the items are compiled too
    (they do not move) and the list is compiled again when the set of items changes."""

    def __init__(self) -> None:
        self.list_id: int | None = None
        self.drawn: tuple[int, ...] | None = None  # ids of the entities in the list

    def compile(self, env: Any, entities: list) -> None:
        """Compile ``env``'s light and rooms and ``entities`` into this env's list."""
        gl = _gl()
        if self.list_id is None:
            self.list_id = int(gl.glGenLists(1))
        vec4 = gl.GLfloat * 4
        gl.glNewList(self.list_id, gl.GL_COMPILE)
        gl.glLightfv(gl.GL_LIGHT0, gl.GL_POSITION, vec4(*env.light_pos, 1.0))
        gl.glLightfv(gl.GL_LIGHT0, gl.GL_AMBIENT, vec4(*env.light_ambient))
        gl.glLightfv(gl.GL_LIGHT0, gl.GL_DIFFUSE, vec4(*env.light_color))
        gl.glEnable(gl.GL_LIGHTING)
        gl.glEnable(gl.GL_LIGHT0)
        gl.glShadeModel(gl.GL_SMOOTH)
        gl.glEnable(gl.GL_COLOR_MATERIAL)
        gl.glColorMaterial(gl.GL_FRONT_AND_BACK, gl.GL_AMBIENT_AND_DIFFUSE)
        gl.glEnable(gl.GL_TEXTURE_2D)
        draw_rooms(env.rooms)
        for ent in entities:
            ent.render()
        gl.glEndList()
        self.drawn = tuple(id(e) for e in entities)

    def draw(self, env: Any, entities: list) -> None:
        """Draw the list, compiled again first if ``entities`` are not those in it."""
        if self.drawn != tuple(id(e) for e in entities):
            self.compile(env, entities)
        self.call()

    def call(self) -> None:
        if self.list_id is None:
            raise RuntimeError("the static display list is drawn before it was compiled")
        _gl().glCallList(self.list_id)

    def release(self) -> None:
        if self.list_id is not None:
            try:
                _gl().glDeleteLists(self.list_id, 1)
            except Exception:  # noqa: BLE001 - the GL may be gone at interpreter exit
                pass
            self.list_id = None
