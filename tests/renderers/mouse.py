"""Shapes as a person draws them with a mouse: dark wobbly outlines on light paper.

A mouse stroke is sampled at the pointer's event rate, so its points come unevenly spaced; the hand drifts
off the ideal line and back (a correlated random walk, not a few smooth waves as in `vitdemo.data.strokes`);
the stroke seldom meets its start exactly. Each contour is one stroke (a ring is two circles), in one pen
width, drawn 4× larger and shrunk with LANCZOS. Shapes sit roughly upright (±25°; an arrow points any way)
and are drawn large, as people draw on an empty canvas. The mask is the ink and the region it bounds.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw

from . import CLASSES, Drawing
from .outlines import Points, contours, transformed

SCALE = 4
AREA = (0.06, 0.45)  # the silhouette's share of the image
PEN = (1.5, 4.0)  # pen width in output pixels


def render_mouse(name: str, seed: int, image_size: int = 96) -> Drawing:
    """One hand-drawn `name` outline; the same arguments give the same drawing."""
    if name not in CLASSES:
        raise ValueError(f"unknown shape {name!r}; expected one of {CLASSES}")
    rng = random.Random(f"mouse/{name}/{seed}")
    big = image_size * SCALE
    parts = contours(name, rng)
    angle = rng.uniform(0, 2 * math.pi) if name == "arrow" else math.radians(rng.uniform(-25, 25))
    area = math.exp(rng.uniform(math.log(AREA[0]), math.log(AREA[1]))) * big * big
    radius = min(math.sqrt(area / _rough_area(name)), big / 2 - 8 * SCALE)
    centre = (rng.uniform(radius + 6 * SCALE, big - radius - 6 * SCALE),
              rng.uniform(radius + 6 * SCALE, big - radius - 6 * SCALE))
    pen = rng.uniform(*PEN) * SCALE
    paper = tuple(rng.randint(232, 255) - k * rng.randint(0, 8) for k in range(3))
    ink = (rng.randint(0, 50),) * 3 if rng.random() < 0.7 else (rng.randint(0, 40), rng.randint(0, 60),
                                                                  rng.randint(60, 140))
    ink_layer, silhouette = Image.new("L", (big, big), 0), Image.new("L", (big, big), 0)
    pen_draw, fill_draw = ImageDraw.Draw(ink_layer), ImageDraw.Draw(silhouette)
    for points, fill in parts:
        stroke = _hand_stroke(transformed(points, radius, angle, centre), rng, radius)
        fill_draw.polygon(stroke, fill=fill)
        pen_draw.line(stroke, fill=255, width=round(pen), joint="curve")
        for x, y in (stroke[0], stroke[-1]):
            pen_draw.ellipse((x - pen / 2, y - pen / 2, x + pen / 2, y + pen / 2), fill=255)
    image = Image.new("RGB", (big, big), paper)
    image.paste(Image.new("RGB", (big, big), ink), (0, 0), ink_layer)
    small = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    both = Image.fromarray(np.maximum(np.asarray(silhouette), np.asarray(ink_layer)))
    mask = np.asarray(both.resize((image_size, image_size), Image.Resampling.BILINEAR)) >= 128
    return Drawing(small, name, mask)


def _hand_stroke(points: Points, rng: random.Random, radius: float) -> Points:
    """The closed contour as one mouse stroke: resampled along its length at uneven steps, pushed off the
    line by a correlated random walk, starting anywhere and ending a little short of or past the start."""
    closed = points + points[:1]
    lengths = [math.dist(a, b) for a, b in zip(closed, closed[1:])]
    total = sum(lengths)
    start = rng.uniform(0, total)
    finish = total * (1 + rng.uniform(-0.06, 0.05))
    stroke, along, offset = [], 0.0, (0.0, 0.0)
    while along < finish:
        x, y = _at(closed, lengths, (start + along) % total)
        offset = (0.85 * offset[0] + rng.gauss(0, 0.012 * radius), 0.85 * offset[1] + rng.gauss(0, 0.012 * radius))
        stroke.append((x + offset[0], y + offset[1]))
        along += total * rng.uniform(0.004, 0.02)
    return stroke


def _at(closed: Points, lengths: list[float], distance: float) -> tuple[float, float]:
    for (a, b), length in zip(zip(closed, closed[1:]), lengths):
        if distance <= length:
            t = distance / max(length, 1e-9)
            return a[0] + t * (b[0] - a[0]), a[1] + t * (b[1] - a[1])
        distance -= length
    return closed[-1]


def _rough_area(name: str) -> float:
    """Roughly each silhouette's area at radius 1, to size drawings by area (the exact figure is measured
    on the mask)."""
    return {"circle": 3.1, "ring": 1.9, "square": 2.1, "triangle": 1.3, "pentagon": 2.4, "star": 1.1,
            "cross": 1.6, "diamond": 1.1, "heart": 2.3, "crescent": 1.2, "arrow": 0.9}[name]
