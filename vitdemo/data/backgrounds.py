"""Backgrounds for the shapes: a two-colour ramp along a field of one kind (flat, linear, radial, noise or one
of the bundled textures), plus gray noise; for ink-on-paper samples, light and nearly gray.

Built from uint8 level fields coloured through a palette, since PIL does that in C: a background costs a
fraction of a millisecond, which matters at the hundreds of images per second training draws.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageChops

from ..settings import TEXTURE_DIR

MAX_BACKGROUND_SPREAD = 90.0  # RGB distance across a background's colour ramp
PAPER_SPREAD = 30.0  # the same for paper, which stays light everywhere
BACKGROUND_KINDS = ("flat", "linear", "radial", "noise", "texture")


def rgb(colour: np.ndarray) -> tuple[int, int, int]:
    return tuple(np.rint(colour).astype(int).tolist())


def background(rng: np.random.Generator, size: int, paper: bool = False) -> Image.Image:
    """A two-colour ramp along a field of one kind, plus gray noise; light and nearly gray for ``paper``.

    The ramp's ends are at most ``MAX_BACKGROUND_SPREAD`` apart and the noise is small,
    so a colour ``MIN_OBJECT_CONTRAST`` from the mean stands out everywhere. Scalars
    come from one draw, as NumPy's per-call overhead adds up."""
    pick_kind, pick_spread, pick_noise = rng.random(3).tolist()
    kind = BACKGROUND_KINDS[int(pick_kind * len(BACKGROUND_KINDS))]
    low, direction = rng.uniform(0.0, 255.0, size=3), rng.normal(size=3)
    top = PAPER_SPREAD if paper else MAX_BACKGROUND_SPREAD
    spread = min(15.0, top) + (top - min(15.0, top)) * pick_spread
    if paper:  # white to cream or light gray, the ramp going darker
        low = 255.0 - low * np.array([0.12, 0.14, 0.2])
        direction = -np.abs(direction)
    high = np.clip(low + direction / np.linalg.norm(direction) * spread, 0, 255)
    if kind == "flat":
        image = Image.new("RGB", (size, size), rgb(low))
    else:
        image = _ramp(_background_levels(rng, kind, size), low, high)
    amplitude = 6.0 + 14.0 * pick_noise if kind == "noise" else 12.0 * pick_noise - 6.0  # below 1: none
    if paper:
        amplitude *= 0.5
    return _add_noise(image, rng.bytes(size * size), amplitude) if amplitude >= 1.0 else image


def _background_levels(rng: np.random.Generator, kind: str, size: int) -> np.ndarray:
    """An H×W uint8 field: where each pixel sits on the colour ramp, from 0 to 255."""
    x, y = _centred_grid(size)
    if kind == "linear":
        angle = rng.uniform(0.0, 2 * np.pi)
        cos, sin = math.cos(angle), math.sin(angle)
        span = abs(cos) + abs(sin)  # so that the field runs from 0 to 1 corner to corner
        return _levels(x * np.float32(cos / span) + y * np.float32(sin / span) + np.float32(0.5))
    if kind == "radial":
        cx, cy, reach = (rng.random(3) * [1.0, 1.0, 0.7] + [-0.5, -0.5, 0.5]).tolist()
        return _levels(np.hypot(x - np.float32(cx), y - np.float32(cy)) * np.float32(1 / reach))
    if kind == "noise":
        cells = int(rng.integers(3, 9))
        coarse = Image.fromarray(rng.random((cells, cells), dtype=np.float32))
        return _levels(np.asarray(coarse.resize((size, size), Image.Resampling.BICUBIC)))
    return _texture_levels(rng, size)


def _texture_levels(rng: np.random.Generator, size: int) -> np.ndarray:
    """A random ``size``×``size`` window of a bundled texture at one of several zooms,
    turned or flipped one of eight ways; slicing prepared arrays keeps it cheap."""
    pyramid = _texture_pyramid(size)
    which, y, x, turn = rng.random(4).tolist()
    levels = pyramid[int(which * len(pyramid))]
    top, left = int(y * (levels.shape[0] - size + 1)), int(x * (levels.shape[1] - size + 1))
    window = levels[top : top + size, left : left + size]
    turn = int(turn * 8)
    return np.ascontiguousarray(np.rot90(window.T if turn >= 4 else window, turn % 4))


@functools.cache
def _texture_pyramid(size: int) -> tuple[np.ndarray, ...]:
    """Each bundled texture scaled so that a ``size`` window spans 64 to 256 of its pixels
    (five zooms), contrast-normalised to uint8 levels; built once per image size."""
    paths = sorted(TEXTURE_DIR.glob("*.png"))
    if not paths:
        raise FileNotFoundError(f"no texture PNGs in {TEXTURE_DIR}; the shapes dataset needs assets/textures/")
    pyramid = []
    for path in paths:
        texture = Image.open(path).convert("L")
        for span in np.geomspace(64, 256, 5):
            side = max(size, round(texture.width * size / span))
            values = np.asarray(texture.resize((side, side), Image.Resampling.LANCZOS), np.float32)
            pyramid.append(_levels((values - values.mean()) / (4 * values.std() + 1e-6) + 0.5))
    return tuple(pyramid)


@functools.cache
def _centred_grid(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre x and y scaled to [-0.5, 0.5]; cached because every gradient needs them."""
    axis = (np.arange(size, dtype=np.float32) + 0.5) / size - 0.5
    return tuple(np.meshgrid(axis, axis))


def _levels(field: np.ndarray) -> np.ndarray:
    """A float field, 0 to 1 (clipped), as uint8 ramp levels 0 to 255."""
    return (np.clip(field, 0.0, 1.0) * np.float32(255) + np.float32(0.5)).astype(np.uint8)


def _ramp(levels: np.ndarray, low: np.ndarray, high: np.ndarray) -> Image.Image:
    """Colour uint8 levels (0 is ``low``, 255 is ``high``) through a 256-entry palette,
    which PIL applies in C: much cheaper than blending three float channels."""
    palette = np.clip(low + np.linspace(0.0, 1.0, 256)[:, None] * (high - low) + 0.5, 0, 255)
    indices = Image.fromarray(levels)
    indices.putpalette(palette.astype(np.uint8).tobytes())
    return indices.convert("RGB")


def _add_noise(image: Image.Image, random_bytes: bytes, amplitude: float) -> Image.Image:
    """Gray noise, uniform in ±``amplitude``, added to all three channels: full-range noise
    added in C, then blended back towards the clean image, cheaper than scaling it."""
    gray = Image.frombytes("L", image.size, random_bytes)
    noisy = ImageChops.add(image, Image.merge("RGB", (gray, gray, gray)), 1.0, -128)
    return Image.blend(image, noisy, amplitude / 128)
