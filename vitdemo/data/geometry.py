"""The shapes' geometry: each class as polygons in unit coordinates, shared by filled and outlined drawing.

Every class is a list of parts, each a closed polygon with a fill (255 adds, 0 cuts a hole), so the same
description gives a filled object (fill the parts in order) and its outline (stroke every part's boundary:
a ring's outline is two circles, a crescent's one closed curve).
"""

from __future__ import annotations

import functools

import numpy as np
from PIL import Image, ImageDraw

SHAPE_LABELS: list[str] = [
    "circle", "square", "triangle", "star", "pentagon", "cross",
    "ring", "diamond", "heart", "crescent", "arrow",
]  # fmt: skip

# The same classes as a Chinese reader names them (the page's Chinese, "zh-CN"); the model keeps its English labels
# and `vitdemo.class_names` shows these on a Chinese page, in the API asked for Chinese and in their downloads.
SHAPE_NAMES_ZH: dict[str, str] = {
    "circle": "圆", "square": "正方形", "triangle": "三角形", "star": "星形", "pentagon": "五边形", "cross": "十字",
    "ring": "圆环", "diamond": "菱形", "heart": "心形", "crescent": "月牙", "arrow": "箭头",
}  # fmt: skip

RING_HOLE = 0.6  # the ring's inner radius; outlines stay much thinner than its band (see shapes.stroke_width)

Part = tuple[np.ndarray, int]  # a polygon in unit coordinates and its fill: 255 adds, 0 cuts a hole


def draw_parts(draw: ImageDraw.ImageDraw, parts: tuple[Part, ...], center: np.ndarray, matrix: np.ndarray) -> None:
    """Fill each unit-coordinate polygon, mapped to pixels by ``matrix`` and ``center``."""
    for polygon, fill in parts:
        draw.polygon(to_pixels(polygon, center, matrix).ravel().tolist(), fill=fill)


def to_pixels(polygon: np.ndarray, center: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    return polygon @ matrix.T + center


@functools.cache
def unit_area(name: str) -> float:
    """Area of a filled shape in unit coordinates, measured once by rasterising it large, so that
    objects are sized by area rather than by their (shape-dependent) outer radius."""
    scale, canvas = 200.0, Image.new("L", (512, 512), 0)
    draw_parts(ImageDraw.Draw(canvas), unit_shapes()[name], np.array([256.0, 256.0]), np.eye(2) * scale)
    return float(np.count_nonzero(np.asarray(canvas))) / scale**2


@functools.cache
def unit_shapes() -> dict[str, tuple[Part, ...]]:
    """Each class as polygons within the unit circle (y points down, as on screen).

    The diamond is a narrow rhombus, so no class is a rotation or stretch of another. The crescent is a
    disc minus an offset disc with the horn tips cut off (sub-pixel slivers would be half drawn and half
    masked), written as the one closed curve that bounds it, so that its outline is that curve."""
    circle = regular_polygon(64)
    a, w = 0.95, 0.3  # the cross's arm length and half-width
    shapes = {
        "circle": ((circle, 255),),
        "square": ((regular_polygon(4, phase=np.pi / 4), 255),),
        "triangle": ((regular_polygon(3), 255),),
        "star": ((star(), 255),),  # with a fat core (inner radius 0.45), so it survives downsampling
        "pentagon": ((regular_polygon(5), 255),),
        "cross": ((np.array([[-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w],
                             [w, a], [-w, a], [-w, w], [-a, w], [-a, -w], [-w, -w]]), 255),),
        "ring": ((circle, 255), (RING_HOLE * circle, 0)),
        "diamond": ((np.array([[0.0, -1.0], [0.55, 0.0], [0.0, 1.0], [-0.55, 0.0]]), 255),),
        "heart": ((heart(), 255),),
        "crescent": ((crescent(), 255),),
        "arrow": ((np.array([[-0.97, -0.18], [0.2, -0.18], [0.2, -0.55], [0.97, 0.0],
                             [0.2, 0.55], [0.2, 0.18], [-0.97, 0.18]]), 255),),
    }  # fmt: skip
    assert list(shapes) == SHAPE_LABELS
    return shapes


def regular_polygon(sides: int, radius: float = 1.0, phase: float = -np.pi / 2) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(sides) / sides
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def star(inner: float = 0.45) -> np.ndarray:
    return np.stack([regular_polygon(5), regular_polygon(5, inner, np.pi / 5 - np.pi / 2)], axis=1).reshape(-1, 2)


def heart() -> np.ndarray:
    """The classic parametric heart, centred on its bounding box and scaled into the unit circle."""
    t = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y], axis=1)
    points -= (points.max(axis=0) + points.min(axis=0)) / 2
    return points / np.linalg.norm(points, axis=1).max()


def crescent(bite: tuple[float, float] = (0.4, 0.85), cut: float = 0.3) -> np.ndarray:
    """The unit disc minus the disc of radius ``bite[1]`` centred at (``bite[0]``, 0), left of x = ``cut``:
    the outer arc from one horn tip round the left to the other, then the inner arc back."""
    centre, radius = bite
    outer_end = np.arccos(cut)  # the outer circle meets x = cut at angle ±outer_end
    inner_end = np.arccos((cut - centre) / radius)  # and so does the bite's circle
    outer = np.linspace(outer_end, 2 * np.pi - outer_end, 48)
    inner = np.linspace(2 * np.pi - inner_end, inner_end, 40)
    return np.concatenate([np.stack([np.cos(outer), np.sin(outer)], axis=1),
                           np.stack([centre + radius * np.cos(inner), radius * np.sin(inner)], axis=1)])
