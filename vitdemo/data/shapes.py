"""The synthetic ``shapes`` dataset: one labelled object per image, with its pixel mask.

Why synthetic: what a Vision Transformer looks at is only checkable when the right answer
is known, so every sample carries the mask of the object's own pixels, against which
attention rollout or relevance maps can be scored.

Why on the fly and deterministic by ``(seed, index)``: training draws 100k+ samples, too
many to store; seeding each sample with ``SeedSequence([seed, index])`` makes sample ``i``
identical in any order and DataLoader worker (and machine, given the same NumPy and Pillow).

Edges are antialiased by drawing coverage ``SUPERSAMPLE`` times larger and box-reducing
it; the mask is that coverage thresholded at one half, so it matches the drawn pixels.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageChops, ImageDraw

from ..settings import TEXTURE_DIR

SHAPE_LABELS: list[str] = [
    "circle", "square", "triangle", "star", "pentagon", "cross",
    "ring", "diamond", "heart", "crescent", "arrow",
]  # fmt: skip

SUPERSAMPLE = 3  # 3x3 subpixels per pixel: 10 coverage levels on every edge
AREA_RANGE = (0.15, 0.40)  # object area as a fraction of the image, before shrinking to fit
MIN_OBJECT_CONTRAST = 120.0  # RGB distance between the object and the mean background under it
MIN_CLUTTER_CONTRAST = 80.0  # RGB distance between clutter and the object, so outlines stay intact
MAX_BACKGROUND_SPREAD = 90.0  # RGB distance across a background's colour ramp
BACKGROUND_KINDS = ("flat", "linear", "radial", "noise", "texture")

_Part = tuple[np.ndarray, int]  # a polygon in unit coordinates and its fill: 255 adds, 0 cuts a hole
_Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class ShapeSample:
    """One RGB image, its class index into ``SHAPE_LABELS`` and the object's bool H×W mask."""

    image: Image.Image
    label: int
    mask: np.ndarray

    @property
    def name(self) -> str:
        return SHAPE_LABELS[self.label]


class ShapesDataset:
    """A map-style dataset of ``length`` samples; item ``i`` is ``render_sample(seed, i)``.

    Labels cycle through the classes (``i % len(SHAPE_LABELS)``) so every split and every
    run of consecutive indices is balanced, and per-class metrics need no reweighting.
    """

    def __init__(self, length: int, image_size: int = 96, seed: int = 0) -> None:
        if length < 0 or image_size < 16:
            raise ValueError(f"need length >= 0 and image_size >= 16, got {length} and {image_size}")
        self.length, self.image_size, self.seed = length, image_size, seed
        self.labels = SHAPE_LABELS

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> ShapeSample:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        return render_sample(self.seed, index, self.image_size)


def shape_samples(n: int, image_size: int = 96, seed: int = 0) -> Iterator[ShapeSample]:
    """The first ``n`` samples of the dataset with this seed, one at a time."""
    for index in range(n):
        yield render_sample(seed, index, image_size)


def render_sample(seed: int, index: int, image_size: int = 96, with_object: bool = True) -> ShapeSample:
    """Sample ``index`` of dataset ``seed``.

    ``with_object=False`` gives the same scene (background, clutter, mask) without the
    object: the counterfactual that tests and occlusion-style explanations compare with.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    label = index % len(SHAPE_LABELS)
    image, mask = _render_scene(rng, label, image_size, with_object)
    return ShapeSample(image, label, mask)


def render_shape(name: str, rng: np.random.Generator, image_size: int = 96) -> tuple[Image.Image, np.ndarray]:
    """One shape of class ``name`` on a random scene, as (RGB image, bool mask)."""
    return _render_scene(rng, SHAPE_LABELS.index(name), image_size, with_object=True)


# --- scene -------------------------------------------------------------------------------


def _render_scene(
    rng: np.random.Generator, label: int, size: int, with_object: bool
) -> tuple[Image.Image, np.ndarray]:
    """Draw background, clutter and object, and return the image and the object's mask.

    Every random draw happens whether or not the object is drawn, so ``with_object``
    changes nothing else. Only coverage is supersampled: each layer is drawn as a large
    0/255 mask, box-reduced to an antialiased alpha and blended in its colour at full
    size, much faster than blending a supersampled RGB scene."""
    name = SHAPE_LABELS[label]
    scene = _background(rng, size)
    center, matrix, radius = _placement(rng, _unit_area(name), size)
    colour = _pick_colours(rng, _mean_colour(scene, _around(center, radius)), MIN_OBJECT_CONTRAST)[0]
    under, over = _clutter(rng, size, radius, colour)

    coverage = Image.new("L", (size * SUPERSAMPLE,) * 2, 0)
    _draw_parts(ImageDraw.Draw(coverage), _unit_shapes()[name], center * SUPERSAMPLE, matrix * SUPERSAMPLE)
    _paste_marks(scene, under)
    if with_object:
        _paste_through(scene, _rgb(colour), coverage, _around(center * SUPERSAMPLE, radius * SUPERSAMPLE))
    _paste_marks(scene, over)
    erase = ImageDraw.Draw(coverage)
    for mark in over:
        _draw_mark(erase, mark, 0)
    return scene, np.asarray(coverage.reduce(SUPERSAMPLE)) >= 128


def _placement(rng: np.random.Generator, unit_area: float, size: int) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre, unit-to-pixel matrix and bounding radius of an object whose area is drawn
    from ``AREA_RANGE`` (less when it would not fit), at a random angle and stretch."""
    area, stretch, angle = rng.uniform(*AREA_RANGE) * size * size, rng.uniform(0.85, 1.15), rng.uniform(0, 2 * np.pi)
    scale = np.sqrt([stretch, 1.0 / stretch])  # x and y factors whose product is 1: the area is kept
    radius = min(math.sqrt(area / unit_area) * scale.max(), size / 2 - 1.5)
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) * (radius / scale.max() * scale)  # scale columns, then rotate
    center = rng.uniform(radius + 0.5, size - radius - 0.5, size=2)
    return center, matrix, radius


def _paste_marks(scene: Image.Image, marks: list[_Mark]) -> None:
    """Blend marks into the scene, antialiased: one supersampled layer per colour."""
    for colour in dict.fromkeys(mark.colour for mark in marks):
        group = [mark for mark in marks if mark.colour == colour]
        coverage = Image.new("L", (scene.width * SUPERSAMPLE, scene.height * SUPERSAMPLE), 0)
        draw = ImageDraw.Draw(coverage)
        for mark in group:
            _draw_mark(draw, mark, 255)
        x0, y0, x1, y1 = zip(*(mark.bounds for mark in group))
        _paste_through(scene, colour, coverage, (min(x0), min(y0), max(x1), max(y1)))


def _paste_through(scene: Image.Image, colour: tuple[int, int, int], coverage: Image.Image, bounds: _Box) -> None:
    """Blend ``colour`` into the scene with the box-reduced supersampled ``coverage`` as
    alpha, only within the drawing's supersampled ``bounds``: blending is the costly
    step and most marks are tiny. (Bounds from geometry are cheaper than ``getbbox``.)"""
    x0, y0 = (max(math.floor(v / SUPERSAMPLE) - 1, 0) for v in bounds[:2])
    x1, y1 = (min(math.ceil(v / SUPERSAMPLE) + 1, side) for v, side in zip(bounds[2:], scene.size))
    if x1 <= x0 or y1 <= y0:
        return
    alpha = coverage.crop((x0 * SUPERSAMPLE, y0 * SUPERSAMPLE, x1 * SUPERSAMPLE, y1 * SUPERSAMPLE))
    alpha = alpha.reduce(SUPERSAMPLE)
    scene.paste(Image.new("RGB", alpha.size, colour), (x0, y0, x1, y1), alpha)  # twice as fast as a colour


def _around(center: np.ndarray, radius: float) -> _Box:
    (x, y), r = center.tolist(), radius
    return x - r, y - r, x + r, y + r


def _mean_colour(image: Image.Image, bounds: _Box) -> np.ndarray:
    """Mean colour within ``bounds``, by shrinking that crop to one pixel with a box filter:
    far faster than NumPy's mean over a strided uint8 view."""
    box = (*(math.floor(v) for v in bounds[:2]), *(math.ceil(v) for v in bounds[2:]))
    return np.array(image.crop(box).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0)), np.float64)


def _pick_colours(rng: np.random.Generator, avoid: np.ndarray, min_distance: float, count: int = 1) -> np.ndarray:
    """``count`` colours (count×3), each the first of 24 random candidates at least
    ``min_distance`` (Euclidean RGB) from ``avoid``, else the farthest candidate.

    Always the same number of draws, so later draws do not depend on earlier colours."""
    candidates = rng.uniform(0.0, 255.0, size=(count, 24, 3))
    offsets = candidates - avoid
    squared = (offsets * offsets).sum(axis=-1)
    far = squared >= min_distance**2
    best = np.where(far.any(axis=1), far.argmax(axis=1), squared.argmax(axis=1))
    return candidates[np.arange(count), best]


def _rgb(colour: np.ndarray) -> tuple[int, int, int]:
    return tuple(np.rint(colour).astype(int).tolist())


# --- backgrounds -------------------------------------------------------------------------


def _background(rng: np.random.Generator, size: int) -> Image.Image:
    """A two-colour ramp along a field of one kind, plus gray noise.

    The ramp's ends are at most ``MAX_BACKGROUND_SPREAD`` apart and the noise is small,
    so a colour ``MIN_OBJECT_CONTRAST`` from the mean stands out everywhere. Scalars
    come from one draw, as NumPy's per-call overhead adds up."""
    pick_kind, pick_spread, pick_noise = rng.random(3).tolist()
    kind = BACKGROUND_KINDS[int(pick_kind * len(BACKGROUND_KINDS))]
    low, direction = rng.uniform(0.0, 255.0, size=3), rng.normal(size=3)
    spread = 15.0 + (MAX_BACKGROUND_SPREAD - 15.0) * pick_spread
    high = np.clip(low + direction / np.linalg.norm(direction) * spread, 0, 255)
    if kind == "flat":
        image = Image.new("RGB", (size, size), _rgb(low))
    else:
        image = _ramp(_background_levels(rng, kind, size), low, high)
    amplitude = 6.0 + 14.0 * pick_noise if kind == "noise" else 12.0 * pick_noise - 6.0  # below 1: none
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


# --- clutter -----------------------------------------------------------------------------

_BLOB_CORNERS = 7


@dataclass(frozen=True)
class _Mark:
    kind: str  # the ImageDraw method that draws it: "line", "ellipse" (a dot) or "polygon" (a blob)
    xy: list[float]  # supersampled coordinates, in the form ImageDraw wants for this kind
    width: int
    colour: tuple[int, int, int]

    @property
    def bounds(self) -> _Box:
        """Supersampled box that the mark stays within."""
        xs, ys, pad = self.xy[0::2], self.xy[1::2], self.width / 2 + 1
        return min(xs) - pad, min(ys) - pad, max(xs) + pad, max(ys) + pad


def _clutter(
    rng: np.random.Generator, size: int, object_radius: float, object_colour: np.ndarray
) -> tuple[list[_Mark], list[_Mark]]:
    """Distractors smaller than the object: up to 7 lines, dots and blobs in two colours
    under it, and up to 2 thin lines or dots in a third colour over it, too thin to hide
    much. All contrast with the object, so its outline stays intact."""
    colours = [_rgb(c) for c in _pick_colours(rng, object_colour, MIN_CLUTTER_CONTRAST, 3)]
    under_count, over_count = (rng.random(2) * [8, 3]).astype(int).tolist()
    under = [_mark(rng, ("line", "ellipse", "polygon"), colours[:2], size, object_radius) for _ in range(under_count)]
    over = [_mark(rng, ("line", "ellipse"), colours[2:], size, object_radius, thin=True) for _ in range(over_count)]
    return under, over


def _mark(
    rng: np.random.Generator, kinds: tuple[str, ...], colours: list[tuple[int, int, int]], size: int,
    object_radius: float, thin: bool = False,
) -> _Mark:  # fmt: skip
    """One distractor of a random kind and colour, sized relative to the image and
    always smaller than the object. All its randomness comes from one call, and the
    geometry is plain float arithmetic: NumPy is slow on scalars."""
    kind_pick, colour_pick, *u = rng.random(5 + 2 * _BLOB_CORNERS).tolist()
    kind, colour = kinds[int(kind_pick * len(kinds))], colours[int(colour_pick * len(colours))]
    pixel, x, y = size / 96 * SUPERSAMPLE, u[0] * size * SUPERSAMPLE, u[1] * size * SUPERSAMPLE
    if kind == "line":
        half = (0.15 + 0.45 * u[2]) * object_radius * SUPERSAMPLE
        dx, dy = half * math.cos(2 * math.pi * u[3]), half * math.sin(2 * math.pi * u[3])
        width = pixel if thin else (1.0 + 1.5 * u[4]) * pixel
        return _Mark(kind, [x - dx, y - dy, x + dx, y + dy], max(1, round(width)), colour)
    if kind == "ellipse":
        radius = (1.0 + (0.5 if thin else 2.0) * u[2]) * pixel
        return _Mark(kind, [x - radius, y - radius, x + radius, y + radius], 0, colour)
    reach = (2.0 + 0.3 * object_radius * u[2]) * SUPERSAMPLE
    points = []
    for k in range(_BLOB_CORNERS):  # one corner per sector, so the outline never crosses itself
        angle = 2 * math.pi * (k + 0.8 * u[3 + k]) / _BLOB_CORNERS
        r = reach * (0.6 + 0.4 * u[3 + _BLOB_CORNERS + k])
        points += [x + r * math.cos(angle), y + r * math.sin(angle)]
    return _Mark(kind, points, 0, colour)


def _draw_mark(draw: ImageDraw.ImageDraw, mark: _Mark, fill: int | tuple[int, int, int]) -> None:
    getattr(draw, mark.kind)(mark.xy, fill=fill, width=mark.width)  # width 0: no outline


# --- geometry ----------------------------------------------------------------------------


def _draw_parts(draw: ImageDraw.ImageDraw, parts: tuple[_Part, ...], center: np.ndarray, matrix: np.ndarray) -> None:
    """Fill each unit-coordinate polygon, mapped to pixels by ``matrix`` and ``center``."""
    for polygon, fill in parts:
        draw.polygon((polygon @ matrix.T + center).ravel().tolist(), fill=fill)


@functools.cache
def _unit_area(name: str) -> float:
    """Area of a shape in unit coordinates, measured once by rasterising it large, so that
    objects are sized by area rather than by their (shape-dependent) outer radius."""
    scale, canvas = 200.0, Image.new("L", (512, 512), 0)
    _draw_parts(ImageDraw.Draw(canvas), _unit_shapes()[name], np.array([256.0, 256.0]), np.eye(2) * scale)
    return float(np.count_nonzero(np.asarray(canvas))) / scale**2


@functools.cache
def _unit_shapes() -> dict[str, tuple[_Part, ...]]:
    """Each class as polygons within the unit circle (y points down, as on screen).

    The diamond is a narrow rhombus, so no class is a rotation or stretch of another. The
    crescent is a disc minus an offset disc, with the horn tips cut off: sub-pixel
    slivers would be half drawn and half masked."""
    circle = _regular_polygon(64)
    a, w = 0.95, 0.3  # the cross's arm length and half-width
    shapes = {
        "circle": ((circle, 255),),
        "square": ((_regular_polygon(4, phase=np.pi / 4), 255),),
        "triangle": ((_regular_polygon(3), 255),),
        "star": ((_star(), 255),),  # with a fat core (inner radius 0.45), so it survives downsampling
        "pentagon": ((_regular_polygon(5), 255),),
        "cross": ((np.array([[-w, -a], [w, -a], [w, -w], [a, -w], [a, w], [w, w],
                             [w, a], [-w, a], [-w, w], [-a, w], [-a, -w], [-w, -w]]), 255),),
        "ring": ((circle, 255), (0.6 * circle, 0)),
        "diamond": ((np.array([[0.0, -1.0], [0.55, 0.0], [0.0, 1.0], [-0.55, 0.0]]), 255),),
        "heart": ((_heart(), 255),),
        "crescent": ((circle, 255), (0.85 * circle + [0.4, 0.0], 0),
                     (np.array([[0.3, -1.0], [1.0, -1.0], [1.0, 1.0], [0.3, 1.0]]), 0)),
        "arrow": ((np.array([[-0.97, -0.18], [0.2, -0.18], [0.2, -0.55], [0.97, 0.0],
                             [0.2, 0.55], [0.2, 0.18], [-0.97, 0.18]]), 255),),
    }  # fmt: skip
    assert list(shapes) == SHAPE_LABELS
    return shapes


def _regular_polygon(sides: int, radius: float = 1.0, phase: float = -np.pi / 2) -> np.ndarray:
    angles = phase + 2 * np.pi * np.arange(sides) / sides
    return radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)


def _star(inner: float = 0.45) -> np.ndarray:
    return np.stack([_regular_polygon(5), _regular_polygon(5, inner, np.pi / 5 - np.pi / 2)], axis=1).reshape(-1, 2)


def _heart() -> np.ndarray:
    """The classic parametric heart, centred on its bounding box and scaled into the unit circle."""
    t = np.linspace(0.0, 2 * np.pi, 72, endpoint=False)
    x = 16 * np.sin(t) ** 3
    y = -(13 * np.cos(t) - 5 * np.cos(2 * t) - 2 * np.cos(3 * t) - np.cos(4 * t))
    points = np.stack([x, y], axis=1)
    points -= (points.max(axis=0) + points.min(axis=0)) / 2
    return points / np.linalg.norm(points, axis=1).max()
