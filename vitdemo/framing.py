"""Drawings framed the way the training shapes are: the ink's bounding box, centred in a square of white paper.

Why: the bundled model learnt shapes that fill a steady share of its view (`vitdemo.data.shapes`: areas of
3-50% of the image, the largest reaching about four fifths of its side, always a few pixels from the edge).
A drawing on the sketchpad may be tiny in a corner or run to the pad's edges; analysed as it is, a large
circle whose outline nearly touches the edges read as a crescent. Framing it first gives the model the view
it was trained on, whatever the size and place of the drawing on the pad.

The rule, in one place: the ink's box (pixels clearly darker than the paper) is centred in a square whose side
is its longer side divided by `FILL`, but never less than `MIN_FRAME` of the drawing's longer side (a small
doodle is not blown up until its pen is as thick as the shape). The square may reach past the drawing: the
paper there is white.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

FILL = 0.75  # the ink's longer side as a share of the framed square's side (BENCHMARKS.md, issue 23 sketchpad)
MIN_FRAME = 0.3  # the smallest square, as a share of the drawing's longer side
INK_BELOW = 200  # grey level (0-255) under which a pixel is ink rather than paper
PAPER = (255, 255, 255)

Box = tuple[int, int, int, int]  # left, top, right, bottom (right and bottom excluded, as PIL crops)


def ink_box(image: Image.Image, threshold: int = INK_BELOW) -> Box | None:
    """The smallest box holding every pixel darker than `threshold`; None for a blank page."""
    dark = np.asarray(image.convert("L")) < threshold
    rows, cols = np.flatnonzero(dark.any(axis=1)), np.flatnonzero(dark.any(axis=0))
    if rows.size == 0:
        return None
    return int(cols[0]), int(rows[0]), int(cols[-1]) + 1, int(rows[-1]) + 1


def frame_box(ink: Box, size: tuple[int, int], fill: float = FILL, min_frame: float = MIN_FRAME) -> Box:
    """The square (in the drawing's pixels, possibly reaching past its edges) that frames `ink` in a drawing of
    `size`: centred on the ink, its side the ink's longer side / `fill`, at least `min_frame` × max(size)."""
    left, top, right, bottom = ink
    side = max(round(max(right - left, bottom - top) / fill), round(min_frame * max(size)), 1)
    x0 = (left + right - side) // 2
    y0 = (top + bottom - side) // 2
    return x0, y0, x0 + side, y0 + side


def framed(image: Image.Image) -> Image.Image:
    """`image` (a drawing: dark ink on light paper) cropped to `frame_box` of its ink, on white paper where the
    square reaches past it; a blank page comes back unchanged."""
    ink = ink_box(image)
    if ink is None:
        return image
    x0, y0, x1, y1 = frame_box(ink, image.size)
    paper = Image.new("RGB", (x1 - x0, y1 - y0), PAPER)
    paper.paste(image.convert("RGB"), (-x0, -y0))
    return paper
