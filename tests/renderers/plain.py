"""Plain PIL shapes, filled, on flat, gradient or noise backgrounds, 3-25% of the image.

What a new user would make in ten minutes with PIL to try the model: one solid shape in a colour that
stands out, drawn 4× larger and shrunk with LANCZOS (not `vitdemo`'s supersampled box filter), randomness
from `random.Random(f"{name}/{seed}")` (not NumPy). The object's area fraction is drawn log-uniformly from
`AREA` and measured on the mask; the mask is the drawn silhouette.
"""

from __future__ import annotations

import math
import random

import numpy as np
from PIL import Image, ImageDraw, ImageOps

from . import CLASSES, Drawing
from .outlines import contours, transformed

SCALE = 4  # drawn this much larger, then shrunk
AREA = (0.03, 0.25)  # the object's share of the image


def render_plain(name: str, seed: int, image_size: int = 96) -> Drawing:
    """One filled `name` shape on a random background; the same arguments give the same drawing."""
    if name not in CLASSES:
        raise ValueError(f"unknown shape {name!r}; expected one of {CLASSES}")
    rng = random.Random(f"{name}/{seed}")
    big = image_size * SCALE
    parts = contours(name, rng)
    angle = rng.uniform(0, 2 * math.pi)
    unit = _unit_area(parts)
    area = math.exp(rng.uniform(math.log(AREA[0]), math.log(AREA[1]))) * big * big
    radius = min(math.sqrt(area / unit), big / 2 - 2 * SCALE)
    centre = (rng.uniform(radius + SCALE, big - radius - SCALE), rng.uniform(radius + SCALE, big - radius - SCALE))
    silhouette = Image.new("L", (big, big), 0)
    draw = ImageDraw.Draw(silhouette)
    for points, fill in parts:
        draw.polygon(transformed(points, radius, angle, centre), fill=fill)
    background = tuple(rng.randrange(256) for _ in range(3))
    image = _background(rng, big, background)
    image.paste(Image.new("RGB", (big, big), _far_colour(rng, background)), (0, 0), silhouette)
    small = image.resize((image_size, image_size), Image.Resampling.LANCZOS)
    mask = np.asarray(silhouette.resize((image_size, image_size), Image.Resampling.BILINEAR)) >= 128
    return Drawing(small, name, mask)


def _unit_area(parts: list) -> float:
    """The silhouette's area at radius 1, counted on a 200 px-radius drawing."""
    canvas = Image.new("L", (440, 440), 0)
    draw = ImageDraw.Draw(canvas)
    for points, fill in parts:
        draw.polygon(transformed(points, 200.0, 0.0, (220.0, 220.0)), fill=fill)
    return float(np.count_nonzero(np.asarray(canvas))) / 200.0**2


def _background(rng: random.Random, size: int, colour: tuple[int, ...]) -> Image.Image:
    kind = rng.choice(["flat", "gradient", "noise"])
    if kind == "flat":
        return Image.new("RGB", (size, size), colour)
    if kind == "gradient":
        other = tuple(min(255, max(0, c + rng.randint(-70, 70))) for c in colour)
        ramp = Image.linear_gradient("L").rotate(rng.uniform(0, 360), expand=False, fillcolor=128)
        return ImageOps.colorize(ramp.resize((size, size)), colour, other)
    cells = size // SCALE // rng.choice([1, 2, 4])
    noise = Image.frombytes("L", (cells, cells), rng.randbytes(cells * cells)).resize((size, size))
    return Image.merge("RGB", [noise.point(lambda v, c=c: c + (v - 128) // 4) for c in colour])


def _far_colour(rng: random.Random, colour: tuple[int, ...]) -> tuple[int, ...]:
    """A random colour at least 150 away (Euclidean RGB) from `colour`, so the shape is obvious."""
    while True:
        candidate = tuple(rng.randrange(256) for _ in range(3))
        if math.dist(candidate, colour) >= 150:
            return candidate
