"""Plane geometry of the Labyrinth levels, engine-free (numpy only).

A level is a set of convex polygon rooms in the (x, z) plane that share whole edges
where they connect. Corridors are built from a centre polyline and a width with mitred
joints, so consecutive segments share an edge exactly, whatever the turn angle.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

__all__ = [
    "Polygon",
    "Layout",
    "corridor",
    "polyline_from_headings",
    "turn_angles",
    "signed_area",
    "orient",
]

Polygon = np.ndarray  # (N, 2) array of (x, z) vertices


def signed_area(poly: Polygon) -> float:
    """Shoelace area in (x, z); MiniWorld wants rooms with a negative value."""
    x, z = poly[:, 0], poly[:, 1]
    return 0.5 * float(np.sum(x * np.roll(z, -1) - np.roll(x, -1) * z))


def orient(poly: Polygon) -> Polygon:
    """The polygon with MiniWorld's vertex order (negative shoelace area in x, z)."""
    return poly if signed_area(poly) < 0 else poly[::-1].copy()


def polyline_from_headings(
    start: tuple[float, float], steps: list[tuple[float, float]]
) -> np.ndarray:
    """Points from a start and (heading in degrees, length) steps.

    Headings are in the top-down map's convention: 0 = +x (east), 90 = north (-z).
    """
    pts = [np.array(start, dtype=float)]
    for heading, length in steps:
        a = math.radians(heading)
        pts.append(pts[-1] + length * np.array([math.cos(a), -math.sin(a)]))
    return np.stack(pts)


def turn_angles(points: np.ndarray) -> list[float]:
    """Signed turn (degrees, left positive on the map) at every inner vertex."""
    out = []
    for i in range(1, len(points) - 1):
        d0, d1 = points[i] - points[i - 1], points[i + 1] - points[i]
        a0 = math.atan2(-d0[1], d0[0])
        a1 = math.atan2(-d1[1], d1[0])
        out.append((math.degrees(a1 - a0) + 180.0) % 360.0 - 180.0)
    return out


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def corridor(
    points: np.ndarray, width: float, start_edge: np.ndarray | None = None
) -> list[Polygon]:
    """Convex quads along a polyline, mitred at the joints (one quad per segment).

    Args:
        points: (K, 2) centre line.
        width: corridor width.
        start_edge: optional (2, 2) left/right end points to start from exactly (to
            attach the corridor to an edge of another room).
    """
    points = np.asarray(points, dtype=float)
    if len(points) < 2:
        raise ValueError("a corridor needs at least two points")
    half = width / 2.0
    left, right = [], []
    for i, p in enumerate(points):
        if i == 0:
            d = _unit(points[1] - p)
            n = np.array([d[1], -d[0]])  # left normal on the map (z points south)
            offset = n * half
        elif i == len(points) - 1:
            d = _unit(p - points[i - 1])
            n = np.array([d[1], -d[0]])
            offset = n * half
        else:
            d0, d1 = _unit(p - points[i - 1]), _unit(points[i + 1] - p)
            n0, n1 = np.array([d0[1], -d0[0]]), np.array([d1[1], -d1[0]])
            miter = _unit(n0 + n1)
            offset = miter * half / float(np.dot(miter, n0))
        left.append(p + offset)
        right.append(p - offset)
    if start_edge is not None:
        left[0], right[0] = np.asarray(start_edge[0], float), np.asarray(start_edge[1], float)
    quads = []
    for i in range(len(points) - 1):
        quads.append(orient(np.stack([left[i], left[i + 1], right[i + 1], right[i]])))
    return quads


@dataclass
class Layout:
    """Rooms of a level and the pairs of rooms that share an edge (connections)."""

    rooms: list[Polygon] = field(default_factory=list)
    links: list[tuple[int, int]] = field(default_factory=list)
    tags: dict[str, list[int]] = field(default_factory=dict)

    def add(
        self, polys: list[Polygon], tag: str | None = None, link_to: int | None = None
    ) -> list[int]:
        """Add rooms (a chain: each linked to the previous); optionally link the first."""
        ids = []
        for poly in polys:
            self.rooms.append(orient(np.asarray(poly, float)))
            ids.append(len(self.rooms) - 1)
        for a, b in zip(ids, ids[1:], strict=False):
            self.links.append((a, b))
        if link_to is not None:
            self.links.append((link_to, ids[0]))
        if tag:
            self.tags.setdefault(tag, []).extend(ids)
        return ids

    def neighbours(self) -> dict[int, set[int]]:
        out: dict[int, set[int]] = {i: set() for i in range(len(self.rooms))}
        for a, b in self.links:
            out[a].add(b)
            out[b].add(a)
        return out

    def dead_ends(self) -> list[int]:
        """Rooms with exactly one connection."""
        return [i for i, n in self.neighbours().items() if len(n) == 1]

    def shared_edge(self, a: int, b: int) -> tuple[int, int]:
        """Edge indices of rooms a and b that coincide (same end points)."""
        pa, pb = self.rooms[a], self.rooms[b]
        for i in range(len(pa)):
            a0, a1 = pa[i], pa[(i + 1) % len(pa)]
            for j in range(len(pb)):
                b0, b1 = pb[j], pb[(j + 1) % len(pb)]
                if (np.allclose(a0, b1, atol=1e-6) and np.allclose(a1, b0, atol=1e-6)) or (
                    np.allclose(a0, b0, atol=1e-6) and np.allclose(a1, b1, atol=1e-6)
                ):
                    return i, j
        raise ValueError(f"rooms {a} and {b} share no edge")
