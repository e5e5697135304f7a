"""The eleven shapes as closed contours in unit coordinates (y down, within about the unit circle), with
proportions drawn at random each time, as another person would pick them: a fatter star, a thinner ring.

`contours(name, rng)` returns a list of (points, fill) pairs: each a closed contour, filled with 255 or cut
out with 0 when painted in order (a ring's hole, a crescent's bite). Pure Python (`random`, `math`), so the
renderers share nothing with `vitdemo.data`, not even NumPy's generator.
"""

from __future__ import annotations

import math
import random

Points = list[tuple[float, float]]


def contours(name: str, rng: random.Random) -> list[tuple[Points, int]]:
    if name == "circle":
        return [(_circle(1.0), 255)]
    if name == "square":
        return [([(-0.72, -0.72), (0.72, -0.72), (0.72, 0.72), (-0.72, 0.72)], 255)]
    if name == "triangle":
        return [(_regular(3, 1.0, -math.pi / 2), 255)]
    if name == "pentagon":
        return [(_regular(5, 1.0, -math.pi / 2), 255)]
    if name == "star":
        inner = rng.uniform(0.4, 0.5)
        points = [(r * math.cos(a), r * math.sin(a))
                  for k in range(10) for r, a in [((1.0 if k % 2 == 0 else inner), -math.pi / 2 + k * math.pi / 5)]]
        return [(points, 255)]
    if name == "cross":
        w, a = rng.uniform(0.24, 0.34), 0.95
        return [([(-w, -a), (w, -a), (w, -w), (a, -w), (a, w), (w, w), (w, a), (-w, a), (-w, w), (-a, w),
                  (-a, -w), (-w, -w)], 255)]
    if name == "ring":
        return [(_circle(1.0), 255), (_circle(rng.uniform(0.5, 0.66)), 0)]
    if name == "diamond":
        w = rng.uniform(0.5, 0.65)
        return [([(0.0, -1.0), (w, 0.0), (0.0, 1.0), (-w, 0.0)], 255)]
    if name == "heart":
        return [(_heart(rng.uniform(0.45, 0.55)), 255)]
    if name == "crescent":
        return [(_crescent(rng.uniform(0.35, 0.5), rng.uniform(0.8, 0.9)), 255)]
    if name == "arrow":
        shaft, head, length = rng.uniform(0.12, 0.2), rng.uniform(0.42, 0.55), rng.uniform(0.4, 0.55)
        tip = 1.0 - length
        return [([(-1.0, -shaft), (tip, -shaft), (tip, -head), (1.0, 0.0), (tip, head), (tip, shaft),
                  (-1.0, shaft)], 255)]
    raise ValueError(f"unknown shape {name!r}")


def transformed(points: Points, scale: float, angle: float, centre: tuple[float, float]) -> Points:
    """Rotate by `angle` (radians), scale, then move to `centre`."""
    c, s = math.cos(angle), math.sin(angle)
    return [(centre[0] + scale * (c * x - s * y), centre[1] + scale * (s * x + c * y)) for x, y in points]


def _circle(radius: float, count: int = 96) -> Points:
    return [(radius * math.cos(2 * math.pi * k / count), radius * math.sin(2 * math.pi * k / count))
            for k in range(count)]


def _regular(sides: int, radius: float, start: float) -> Points:
    return [(radius * math.cos(start + 2 * math.pi * k / sides), radius * math.sin(start + 2 * math.pi * k / sides))
            for k in range(sides)]


def _heart(lobe: float) -> Points:
    """The boundary of two discs (the lobes) and the triangle below them, found ray by ray from a point
    inside: the union is star-shaped about it."""
    centres = [(-lobe * 0.95, -0.35), (lobe * 0.95, -0.35)]
    tip = (0.0, 1.0)

    def inside(x: float, y: float) -> bool:
        if any(math.hypot(x - cx, y - cy) <= lobe for cx, cy in centres):
            return True
        if y < -0.35 or y > tip[1]:
            return False
        half = (lobe * 0.95 + lobe * 0.9) * (tip[1] - y) / (tip[1] + 0.35)  # tangent-ish sides to the tip
        return abs(x) <= half

    origin, points = (0.0, 0.0), []
    for k in range(120):
        angle = 2 * math.pi * k / 120
        r = 0.0
        while inside(origin[0] + (r + 0.005) * math.cos(angle), origin[1] + (r + 0.005) * math.sin(angle)):
            r += 0.005
        points.append((origin[0] + r * math.cos(angle), origin[1] + r * math.sin(angle)))
    top = max(abs(x) for x, _ in points), max(abs(y) for _, y in points)
    return [(x / max(top), y / max(top)) for x, y in points]


def _crescent(offset: float, bite: float) -> Points:
    """The unit disc minus a disc of radius `bite` centred at (`offset`, 0): the outer arc, then the bite's
    arc back (the horns meet where the circles cross)."""
    outer = [a for a in (2 * math.pi * (k + 0.5) / 180 for k in range(180))
             if math.hypot(math.cos(a) - offset, math.sin(a)) > bite]
    inner = [a for a in (2 * math.pi * (k + 0.5) / 180 for k in range(180))
             if math.hypot(offset + bite * math.cos(a), bite * math.sin(a)) < 1.0]
    return ([(math.cos(a), math.sin(a)) for a in outer]
            + [(offset + bite * math.cos(a), bite * math.sin(a)) for a in reversed(inner)])
