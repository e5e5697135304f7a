"""A second, deliberately plain shape renderer, independent of ``vitdemo.data.shapes``.

Why it exists: a model trained on ``vitdemo.data.shapes`` could learn that generator's quirks
(its antialiasing, colour rules, clutter) instead of the shapes. Tests render the
shared classes here, with different code, randomness (``random.Random``, not NumPy)
and drawing primitives, and check that the bundled model still recognises them.
Nothing here may import from ``vitdemo``.
"""

from __future__ import annotations

import math
import random

from PIL import Image, ImageDraw, ImageOps

SIMPLE_SHAPES = ["circle", "square", "triangle", "star"]
_OVERSAMPLE = 4  # drawn 4x larger and shrunk with LANCZOS: smooth, but not vitdemo's box filter
# Outer radius as a fraction of the image: each shape covers very roughly 12-35% of it.
_RADIUS_RANGE = {"circle": (0.24, 0.34), "square": (0.3, 0.42), "triangle": (0.32, 0.44), "star": (0.32, 0.44)}


def render_simple(name: str, seed: int, image_size: int = 96) -> Image.Image:
    """One ``name`` shape, filling a good part of the image, on a flat, gradient
    or noisy background; the same ``(name, seed, image_size)`` gives the same image."""
    if name not in SIMPLE_SHAPES:
        raise ValueError(f"unknown shape {name!r}; expected one of {SIMPLE_SHAPES}")
    rng = random.Random(f"{name}/{seed}")
    big = image_size * _OVERSAMPLE
    background_colour = tuple(rng.randrange(256) for _ in range(3))
    image = _background(rng, big, background_colour)
    radius = big * rng.uniform(*_RADIUS_RANGE[name])
    center = (rng.uniform(radius, big - radius), rng.uniform(radius, big - radius))
    draw = ImageDraw.Draw(image)
    _draw_shape(draw, name, center, radius, rng.uniform(0, 360), _far_colour(rng, background_colour))
    return image.resize((image_size, image_size), Image.Resampling.LANCZOS)


def _background(rng: random.Random, size: int, colour: tuple[int, ...]) -> Image.Image:
    """Flat, a gradient towards a nearby colour in one of four directions, or uniform
    per-pixel noise around ``colour``."""
    kind = rng.choice(["flat", "gradient", "noise"])
    if kind == "flat":
        return Image.new("RGB", (size, size), colour)
    if kind == "gradient":
        other = tuple(min(255, max(0, c + rng.randint(-60, 60))) for c in colour)
        ramp = Image.linear_gradient("L").rotate(rng.choice([0, 90, 180, 270])).resize((size, size))
        return ImageOps.colorize(ramp, colour, other)
    small = size // _OVERSAMPLE
    noise = Image.frombytes("L", (small, small), rng.randbytes(small * small)).resize((size, size))
    return Image.merge("RGB", [noise.point(lambda v, c=c: c + (v - 128) // 5) for c in colour])


def _far_colour(rng: random.Random, colour: tuple[int, ...]) -> tuple[int, ...]:
    """A random colour at least 150 away (Euclidean RGB) from ``colour``, so the shape is obvious."""
    while True:
        candidate = tuple(rng.randrange(256) for _ in range(3))
        if math.dist(candidate, colour) >= 150:
            return candidate


def _draw_shape(
    draw: ImageDraw.ImageDraw, name: str, center: tuple[float, float], radius: float, angle: float,
    colour: tuple[int, ...],
) -> None:  # fmt: skip
    x, y = center
    if name == "circle":
        draw.ellipse((x - radius, y - radius, x + radius, y + radius), fill=colour)
    elif name == "square":
        draw.regular_polygon((x, y, radius), 4, rotation=angle, fill=colour)
    elif name == "triangle":
        draw.regular_polygon((x, y, radius), 3, rotation=angle, fill=colour)
    else:
        points = []
        for k in range(10):  # five tips alternating with five notches
            r = radius if k % 2 == 0 else radius * 0.42
            a = math.radians(angle) + k * math.pi / 5
            points.append((x + r * math.cos(a), y + r * math.sin(a)))
        draw.polygon(points, fill=colour)
