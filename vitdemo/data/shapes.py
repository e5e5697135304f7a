"""The synthetic ``shapes`` dataset: one labelled object per image, with its pixel mask.

Why synthetic: what a Vision Transformer looks at is only checkable when the right answer
is known, so every sample carries the mask of the object's own pixels, against which
attention rollout or relevance maps can be scored.

Why so varied: a model learns the look of its data, not the idea of a triangle. Objects range
from 3% to 50% of the image; they are filled, outlined with pens of several widths, or drawn
by hand (`strokes`: wobbly, unclosed, uneven); in colour on colour, or dark ink on light
paper; over flat, gradient, noise and texture backgrounds, among clutter, sometimes partly
hidden. A model trained on one style (filled, large, colour) reads a mouse drawing as "ring".

Why on the fly and deterministic by ``(seed, index)``: training draws 100k+ samples, too
many to store; seeding each sample with ``SeedSequence([seed, index])`` makes sample ``i``
identical in any order and DataLoader worker (and machine, given the same NumPy and Pillow).

Edges are antialiased by drawing coverage ``SUPERSAMPLE`` times larger and box-reducing
it; the mask is that coverage thresholded at one half, so it matches the drawn pixels
(for outlines: the ink, not the area it encloses).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
from PIL import Image, ImageDraw

from . import strokes
from .backgrounds import BACKGROUND_KINDS, background, rgb
from .geometry import SHAPE_LABELS, draw_parts, unit_area, unit_shapes

__all__ = ["BACKGROUND_KINDS", "SHAPE_LABELS", "STYLES", "ShapeSample", "ShapesDataset", "render_sample",
           "render_shape", "shape_samples"]

SUPERSAMPLE = 3  # 3x3 subpixels per pixel: 10 coverage levels on every edge
AREA_RANGE = (0.03, 0.50)  # the object's (filled) area as a fraction of the image, drawn log-uniformly
STYLES = {"filled": 0.45, "outlined": 0.25, "hand-drawn": 0.30}  # how the object is drawn, and how often
INK_ON_PAPER = 0.4  # share of samples drawn in dark ink on light paper rather than colour on colour
OCCLUDED = 0.2  # share of samples with a blob over part of the object
EASIEST_AREA_SPAN = 0.35  # a curriculum's easiest scenes: areas from the top 35% of the log range (`EasierPicks`)
MIN_OBJECT_CONTRAST = 120.0  # RGB distance between the object and the mean background under it
MIN_CLUTTER_CONTRAST = 80.0  # RGB distance between clutter and the object, so outlines stay intact

_Box = tuple[float, float, float, float]  # x0, y0, x1, y1


@dataclass(frozen=True)
class ShapeSample:
    """One RGB image, its class index into ``SHAPE_LABELS`` and the object's bool H×W mask; how it was
    drawn (a key of ``STYLES``) and whether in ink on paper, so that results can be broken down by both."""

    image: Image.Image
    label: int
    mask: np.ndarray
    style: str = "filled"
    ink_on_paper: bool = False

    @property
    def name(self) -> str:
        return SHAPE_LABELS[self.label]


class ShapesDataset:
    """A map-style dataset of ``length`` samples; item ``i`` is ``render_sample(seed, i)``.

    Labels cycle through the classes (``i % len(SHAPE_LABELS)``) so every split and every
    run of consecutive indices is balanced, and per-class metrics need no reweighting.
    """

    def __init__(self, length: int, image_size: int = 96, seed: int = 0, easy_ramp: int = 0) -> None:
        """``easy_ramp``: the first this many samples rise linearly from the easiest scenes to the full
        distribution (`difficulty`); 0 means every sample is drawn from the full distribution."""
        if length < 0 or image_size < 16 or easy_ramp < 0:
            raise ValueError(f"need length >= 0, image_size >= 16 and easy_ramp >= 0, got {length}, {image_size}"
                             f" and {easy_ramp}")
        self.length, self.image_size, self.seed, self.easy_ramp = length, image_size, seed, easy_ramp
        self.labels = SHAPE_LABELS

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> ShapeSample:
        if not 0 <= index < self.length:
            raise IndexError(f"index {index} out of range for {self.length} samples")
        difficulty = min(1.0, index / self.easy_ramp) if self.easy_ramp else 1.0
        return render_sample(self.seed, index, self.image_size, difficulty=difficulty)


def shape_samples(n: int, image_size: int = 96, seed: int = 0) -> Iterator[ShapeSample]:
    """The first ``n`` samples of the dataset with this seed, one at a time."""
    for index in range(n):
        yield render_sample(seed, index, image_size)


def render_sample(seed: int, index: int, image_size: int = 96, with_object: bool = True,
                  difficulty: float = 1.0) -> ShapeSample:
    """Sample ``index`` of dataset ``seed``.

    ``with_object=False`` gives the same scene (background, clutter, mask) without the
    object: the counterfactual that tests and occlusion-style explanations compare with.
    ``difficulty`` below 1 draws an easier scene from the same random numbers (see `EasierPicks`).
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    label = index % len(SHAPE_LABELS)
    image, mask, style, paper = _render_scene(rng, label, image_size, with_object, EasierPicks(difficulty))
    return ShapeSample(image, label, mask, style, paper)


def render_shape(name: str, rng: np.random.Generator, image_size: int = 96) -> tuple[Image.Image, np.ndarray]:
    """One shape of class ``name`` on a random scene, as (RGB image, bool mask)."""
    return _render_scene(rng, SHAPE_LABELS.index(name), image_size, with_object=True)[:2]


# --- scene -------------------------------------------------------------------------------


def _render_scene(
    rng: np.random.Generator, label: int, size: int, with_object: bool, easier: EasierPicks | None = None
) -> tuple[Image.Image, np.ndarray, str, bool]:
    """Draw background, clutter and object; return the image, the object's mask, its style and whether
    it is ink on paper.

    Every random draw happens whether or not the object is drawn, so ``with_object``
    changes nothing else (the hand-drawn wobble comes from a generator of its own, seeded
    by one draw). Only coverage is supersampled: each layer is drawn as a large 0/255 mask,
    box-reduced to an antialiased alpha and blended in its colour at full size, much faster
    than blending a supersampled RGB scene."""
    name, easier = SHAPE_LABELS[label], easier or EasierPicks(1.0)
    pick_style, pick_paper, pick_occluder, pick_width = rng.random(4).tolist()
    style = _choose(STYLES, easier.style(pick_style))
    paper = pick_paper < INK_ON_PAPER
    scene = background(rng, size, paper)
    center, matrix, radius = _placement(rng, unit_area(name), size, easier.area)
    if paper:
        colour = _ink(rng)
    else:
        colour = _pick_colours(rng, _mean_colour(scene, _around(center, radius)), MIN_OBJECT_CONTRAST)[0]
    under, over = _clutter(rng, size, radius, colour, sparse=paper)
    if pick_occluder < OCCLUDED * easier.difficulty:
        over.append(_occluder(rng, center, radius, rgb(_pick_colours(rng, colour, MIN_CLUTTER_CONTRAST)[0])))
    hand = np.random.default_rng(rng.integers(2**63))

    coverage = Image.new("L", (size * SUPERSAMPLE,) * 2, 0)
    draw, parts = ImageDraw.Draw(coverage), unit_shapes()[name]
    at, to_pixels = center * SUPERSAMPLE, matrix * SUPERSAMPLE
    if style == "filled":
        draw_parts(draw, parts, at, to_pixels)
    elif style == "outlined":
        strokes.draw_outline(draw, parts, at, to_pixels, stroke_width(radius, pick_width) * SUPERSAMPLE)
    else:
        strokes.draw_hand(draw, parts, at, to_pixels, stroke_width(radius, pick_width) * SUPERSAMPLE, hand)
    _paste_marks(scene, under)
    if with_object:
        reach = radius * 1.15 + 3  # a hand-drawn outline may wander a little outside the shape
        _paste_through(scene, rgb(colour), coverage, _around(center * SUPERSAMPLE, reach * SUPERSAMPLE))
    _paste_marks(scene, over)
    erase = ImageDraw.Draw(coverage)
    for mark in over:
        _draw_mark(erase, mark, 0)
    return scene, np.asarray(coverage.reduce(SUPERSAMPLE)) >= 128, style, paper


@dataclass(frozen=True)
class EasierPicks:
    """A training curriculum's knob: the same random numbers mapped to an easier scene.

    Why: from scratch, a small ViT on the full distribution learns about three times more slowly in its first
    thousands of steps than on large filled shapes (measured: 18% held-out after 1,400 steps, against 55% on
    the earlier, narrower data), because tiny objects and thin outlines give almost no signal before the
    model knows any shape. At ``difficulty`` 0 every object is filled, unoccluded and in the largest
    35% of the log-area range (19-50% of the image); it widens linearly to the full distribution at 1, where
    every pick is returned unchanged (so the held-out data is exactly the full distribution). The number of
    random draws never changes, so a sample is still a function of (seed, index, difficulty) alone.
    """

    difficulty: float

    def __post_init__(self) -> None:
        if not 0.0 <= self.difficulty <= 1.0:
            raise ValueError(f"difficulty must be in [0, 1], not {self.difficulty}")

    def style(self, pick: float) -> float:
        """The style pick: at difficulty 0 always "filled"; the outlined and hand-drawn shares grow to theirs."""
        if self.difficulty >= 1.0:
            return pick
        filled = STYLES["filled"] / sum(STYLES.values())
        keep_filled = filled + (1.0 - filled) * (1.0 - self.difficulty)  # share of picks that stay filled
        if pick < keep_filled:
            return pick * filled / keep_filled
        return filled + (pick - keep_filled) / (1.0 - keep_filled) * (1.0 - filled)

    def area(self, pick: float) -> float:
        """The log-area pick, squeezed towards the large end: [0.65, 1) at difficulty 0, [0, 1) at 1."""
        if self.difficulty >= 1.0:
            return pick
        return 1.0 - (1.0 - pick) * (EASIEST_AREA_SPAN + (1.0 - EASIEST_AREA_SPAN) * self.difficulty)


def stroke_width(radius: float, pick: float) -> float:
    """A pen from 1.5 px to 1.5 px + 12% of the object's radius (6.5 px on the largest): several widths,
    always far thinner than the ring's band (40% of its radius), so an outlined circle is not a ring."""
    return 1.5 + pick * 0.12 * radius


def _choose(weights: dict[str, float], pick: float) -> str:
    """The key whose share of the cumulative weights ``pick`` (in [0, 1)) falls in."""
    total, edge = sum(weights.values()), 0.0
    for key, weight in weights.items():
        edge += weight / total
        if pick < edge:
            return key
    return key


def _placement(rng: np.random.Generator, unit_area: float, size: int,
               easier_area: Callable[[float], float] = float) -> tuple[np.ndarray, np.ndarray, float]:
    """Centre, unit-to-pixel matrix and bounding radius of an object whose area is drawn
    log-uniformly from ``AREA_RANGE`` (less when it would not fit), at a random angle and stretch."""
    low, high = np.log(AREA_RANGE)
    pick_area, pick_stretch, pick_angle = rng.random(3).tolist()
    pick_area = easier_area(pick_area)
    area = math.exp(low + (high - low) * pick_area) * size * size
    stretch, angle = 0.85 + 0.3 * pick_stretch, 2 * np.pi * pick_angle
    scale = np.sqrt([stretch, 1.0 / stretch])  # x and y factors whose product is 1: the area is kept
    radius = min(math.sqrt(area / unit_area) * scale.max(), size / 2 - 4.0)  # room for a wobbly outline
    cos, sin = math.cos(angle), math.sin(angle)
    matrix = np.array([[cos, -sin], [sin, cos]]) * (radius / scale.max() * scale)  # scale columns, then rotate
    center = rng.uniform(radius + 3.0, size - radius - 3.0, size=2)
    return center, matrix, radius


def _ink(rng: np.random.Generator) -> np.ndarray:
    """A dark pen: near-black, or a dark blue, red or green, as people draw on white."""
    base, tint = rng.uniform(0.0, 60.0), rng.uniform(0.0, 70.0, size=3) * (rng.random() < 0.5)
    return np.clip(base + tint, 0, 255)


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
    rng: np.random.Generator, size: int, object_radius: float, object_colour: np.ndarray, sparse: bool = False
) -> tuple[list[_Mark], list[_Mark]]:
    """Distractors smaller than the object: up to 7 lines, dots and blobs in two colours
    under it (3 when ``sparse``: a page has less), and up to 2 thin lines or dots in a third
    colour over it, too thin to hide much. All contrast with the object, so its outline
    stays intact."""
    colours = [rgb(c) for c in _pick_colours(rng, object_colour, MIN_CLUTTER_CONTRAST, 3)]
    under_count, over_count = (rng.random(2) * [4 if sparse else 8, 3]).astype(int).tolist()
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


def _occluder(rng: np.random.Generator, center: np.ndarray, radius: float, colour: tuple[int, int, int]) -> _Mark:
    """A blob over the object's edge, about a quarter to a half of its radius across: partial occlusion,
    which the mask leaves out (`_render_scene` erases marks drawn over the object)."""
    angle, distance, *u = rng.random(2 + 2 * _BLOB_CORNERS).tolist()
    reach = (0.25 + 0.25 * distance) * radius * SUPERSAMPLE
    x, y = ((center + 0.8 * radius * np.array([math.cos(2 * math.pi * angle), math.sin(2 * math.pi * angle)]))
            * SUPERSAMPLE).tolist()
    points = []
    for k in range(_BLOB_CORNERS):
        a = 2 * math.pi * (k + 0.8 * u[k]) / _BLOB_CORNERS
        r = reach * (0.6 + 0.4 * u[_BLOB_CORNERS + k])
        points += [x + r * math.cos(a), y + r * math.sin(a)]
    return _Mark("polygon", points, 0, colour)


def _draw_mark(draw: ImageDraw.ImageDraw, mark: _Mark, fill: int | tuple[int, int, int]) -> None:
    getattr(draw, mark.kind)(mark.xy, fill=fill, width=mark.width)  # width 0: no outline

