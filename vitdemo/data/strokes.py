"""Shapes drawn as lines: a clean outline with a pen of one width, or a hand-drawn one.

Why hand-drawn: people draw a shape with the mouse as one wobbly stroke that seldom closes exactly, with a
width that varies as the pen speeds up and slows down. A model that has seen only exact polygons calls such
drawings by whatever class has the most "line" in it (the ring). So the hand-drawn style perturbs each
outline the way a hand does: a slow sideways drift (a few low-frequency waves along the path), a little
tremor, a start point anywhere on the outline, a gap or an overshoot at the end, and a width that changes
from stretch to stretch.

Everything is drawn into the supersampled coverage canvas of `shapes`, so the mask is exactly the ink.
"""

from __future__ import annotations

import math

import numpy as np
from PIL import ImageDraw

from .geometry import Part, to_pixels

SPACING = 0.06  # resampled points per unit of outline length: about 100 on a circle
WAVES = 3  # low-frequency waves summed into the drift


def draw_outline(draw: ImageDraw.ImageDraw, parts: tuple[Part, ...], center: np.ndarray, matrix: np.ndarray,
                 width: float) -> None:
    """Stroke the boundary of every part (holes included) with a pen ``width`` pixels (supersampled) wide."""
    for polygon, _ in parts:
        points = to_pixels(polygon, center, matrix)
        draw.line(_closed(points).ravel().tolist(), fill=255, width=max(1, round(width)), joint="curve")


def draw_hand(draw: ImageDraw.ImageDraw, parts: tuple[Part, ...], center: np.ndarray, matrix: np.ndarray,
              width: float, rng: np.random.Generator) -> None:
    """Stroke every part's boundary as a hand would (see the module docstring); ``rng`` is this drawing's own."""
    for polygon, _ in parts:
        path = _resampled(polygon)
        n = len(path)
        path = np.roll(path, -int(rng.integers(n)), axis=0)  # the stroke starts anywhere
        normals = _normals(path)
        t = np.linspace(0.0, 1.0, n, endpoint=False)
        amplitudes = rng.uniform(0.0, 0.09, WAVES) / np.arange(1, WAVES + 1)
        phases = rng.uniform(0, 2 * np.pi, WAVES)
        drift = sum(a * np.sin(2 * np.pi * (k + 1) * t + p) for k, (a, p) in enumerate(zip(amplitudes, phases)))
        tremor = rng.normal(0.0, 0.006, n)
        path = path + normals * (drift + tremor)[:, None]
        end = rng.uniform(-0.1, 0.12)  # < 0: a gap of up to 10% of the outline; > 0: an overshoot
        if end >= 0:
            path = np.concatenate([path, path[: max(2, int(end * n))] + rng.normal(0, 0.01, 2)])
        else:
            path = path[: max(3, int((1 + end) * n))]
        pixels = to_pixels(path, center, matrix)
        pieces = int(rng.integers(2, 6))
        bounds = np.linspace(0, len(pixels) - 1, pieces + 1).astype(int)
        factors = rng.uniform(0.65, 1.35, pieces)
        for (a, b), f in zip(zip(bounds[:-1], bounds[1:]), factors):
            draw.line(pixels[a : b + 1].ravel().tolist(), fill=255, width=max(1, round(width * f)), joint="curve")
            r = width * f / 2  # round pen ends, so the pieces join without notches
            for x, y in (pixels[a], pixels[b]):
                draw.ellipse((x - r, y - r, x + r, y + r), fill=255)


def _closed(points: np.ndarray) -> np.ndarray:
    return np.concatenate([points, points[:1]])


def _resampled(polygon: np.ndarray) -> np.ndarray:
    """The closed polygon as points evenly spaced along its length (corners kept as nearby points)."""
    closed = _closed(polygon)
    steps = np.linalg.norm(np.diff(closed, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    count = max(12, math.ceil(along[-1] / SPACING))
    at = np.linspace(0.0, along[-1], count, endpoint=False)
    return np.stack([np.interp(at, along, closed[:, 0]), np.interp(at, along, closed[:, 1])], axis=1)


def _normals(path: np.ndarray) -> np.ndarray:
    """Unit normals of a closed path from central differences."""
    tangent = np.roll(path, -1, axis=0) - np.roll(path, 1, axis=0)
    normal = np.stack([-tangent[:, 1], tangent[:, 0]], axis=1)
    return normal / np.maximum(np.linalg.norm(normal, axis=1, keepdims=True), 1e-9)
