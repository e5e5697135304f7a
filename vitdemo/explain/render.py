"""Pictures of an `Analysis`: the patch grid, heatmap overlays, a per-head gallery, a clicked-patch marker.

Every picture is the model's own view (`Analysis.view`, the pixels after resize and crop) upscaled by a
whole number with nearest-neighbour, so a 96 px input is readable and each patch covers an exact block of
display pixels: map cells, grid lines and click positions then line up exactly, at the real aspect ratio.
matplotlib is imported inside the functions that need it, so `import vitdemo` stays cheap.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from ..constants import COLORMAPS, DEFAULT_COLORMAP
from ..numbering import shown
from .analysis import Analysis
from .maps import patch_boundaries

MIN_SIDE = 384  # display pictures are at least this many pixels on the short side
GALLERY_SIDE = 160
GRID_COLOR = (255, 255, 255)
MARK_COLOR = (0, 255, 255)


@functools.lru_cache(maxsize=32)
def colormap_lut(name: str = DEFAULT_COLORMAP) -> np.ndarray:
    """(256, 3) uint8 lookup table of a matplotlib colormap: one table lookup per pixel afterwards."""
    import matplotlib

    if name not in matplotlib.colormaps:
        raise ValueError(f"unknown colormap {name!r}; try one of {COLORMAPS}")
    rgba = matplotlib.colormaps[name](np.linspace(0.0, 1.0, 256))
    lut = np.round(rgba[:, :3] * 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


def colorize(values: np.ndarray, cmap: str = DEFAULT_COLORMAP, low: float | None = None,
             high: float | None = None) -> np.ndarray:
    """(…, 3) uint8 RGB of `values` scaled from [low, high] (default: their min and max) onto `cmap`."""
    values = np.asarray(values, dtype=np.float32)
    low = float(values.min()) if low is None else low
    high = float(values.max()) if high is None else high
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    return colormap_lut(cmap)[np.clip(np.round(scaled * 255), 0, 255).astype(np.uint8)]


def display_scale(size: tuple[int, int], min_side: int = MIN_SIDE) -> int:
    """Whole-number upscale that brings the short side to at least `min_side` (1 if it already is)."""
    return max(1, math.ceil(min_side / min(size)))


def upscaled(image: Image.Image, scale: int) -> Image.Image:
    """`image` blown up `scale`× with nearest-neighbour, so each source pixel stays a crisp block."""
    return image if scale == 1 else image.resize((image.width * scale, image.height * scale), Image.NEAREST)


def heat_image(analysis: Analysis, attention_map: np.ndarray, scale: int, cmap: str = DEFAULT_COLORMAP,
               smooth: bool = False, stretch: bool = False) -> Image.Image:
    """The map as an RGB picture the size of the upscaled view, each cell covering exactly its patch.

    By default the map is scaled by its maximum, so zero stays the colormap's bottom colour and a flat map
    looks flat; `stretch` maps min…max onto the whole colormap, for contrast in near-uniform maps. With
    `smooth`, cells are interpolated bilinearly between patch centres instead of drawn as blocks. Pixels
    beyond the last whole patch (if the view has any) stay at the bottom colour.
    """
    rows, cols = attention_map.shape
    cell = analysis.patch_size * scale
    values = np.asarray(attention_map, dtype=np.float32)
    low = float(values.min()) if stretch else 0.0
    values = (values - low) / ((float(values.max()) - low) or 1.0)
    if smooth:
        values = np.asarray(Image.fromarray(values).resize((cols * cell, rows * cell), Image.BILINEAR))
    else:
        values = np.repeat(np.repeat(values, cell, axis=0), cell, axis=1)
    width, height = analysis.view.width * scale, analysis.view.height * scale
    canvas = np.zeros((height, width), dtype=np.float32)
    canvas[: min(height, values.shape[0]), : min(width, values.shape[1])] = values[:height, :width]
    return Image.fromarray(colorize(canvas, cmap, 0.0, 1.0))


def overlay(analysis: Analysis, attention_map: np.ndarray, cmap: str = DEFAULT_COLORMAP, opacity: float = 0.6,
            smooth: bool = False, stretch: bool = False, min_side: int = MIN_SIDE) -> Image.Image:
    """The model's view with the map blended over it at `opacity` (0: image only, 1: map only)."""
    if not 0.0 <= opacity <= 1.0:
        raise ValueError(f"opacity must be in [0, 1], not {opacity}")
    if tuple(np.shape(attention_map)) != tuple(analysis.grid):
        raise ValueError(f"map of shape {np.shape(attention_map)} does not fit the {analysis.grid} grid")
    scale = display_scale(analysis.view.size, min_side)
    heat = heat_image(analysis, attention_map, scale, cmap, smooth, stretch)
    return Image.blend(upscaled(analysis.view, scale), heat, opacity)


def patch_grid(analysis: Analysis, show_indices: bool = False, show_order: bool = False,
               min_side: int = MIN_SIDE, image: Image.Image | None = None) -> Image.Image:
    """The exact patches the model sees: lines on every patch edge over the upscaled view (or `image`).

    `show_indices` writes each patch's token index (the prefix tokens come first: see `token_order`);
    `show_order` draws the row-by-row path the tokens follow into the sequence.
    """
    picture = (image or upscaled(analysis.view, display_scale(analysis.view.size, min_side))).convert("RGB")
    scale = picture.width // analysis.view.width
    draw = ImageDraw.Draw(picture)
    xs, ys = patch_boundaries(analysis.grid, analysis.patch_size, scale)
    for x in xs:
        draw.line([(min(x, picture.width - 1), 0), (min(x, picture.width - 1), picture.height - 1)], GRID_COLOR)
    for y in ys:
        draw.line([(0, min(y, picture.height - 1)), (picture.width - 1, min(y, picture.height - 1))], GRID_COLOR)
    if show_order:
        _draw_token_path(draw, analysis, scale)
    if show_indices:
        _draw_token_indices(draw, analysis, scale)
    return picture


def token_order(analysis: Analysis) -> str:
    """One line saying how the grid becomes a sequence, to caption the grid picture."""
    prefix = ["0 = [class]"] + (["1 = [distillation]"] if analysis.num_prefix_tokens > 1 else [])
    (rows, cols), p, first = analysis.grid, analysis.patch_size, analysis.num_prefix_tokens
    return (f"Tokens: {', '.join(prefix)}, then patches {first}–{first + rows * cols - 1} row by row "
            f"({rows} rows × {cols} columns of {p}×{p} px).")


def mark_patch(picture: Image.Image, analysis: Analysis, row: int, col: int, color: tuple[int, int, int] = MARK_COLOR,
               ) -> Image.Image:
    """A copy of a rendering (any whole-number upscale of the view) with patch (row, col) outlined."""
    scale = picture.width // analysis.view.width
    cell = analysis.patch_size * scale
    marked = picture.convert("RGB")
    width = max(2, scale)
    ImageDraw.Draw(marked).rectangle([col * cell, row * cell, (col + 1) * cell - 1, (row + 1) * cell - 1],
                                     outline=color, width=width)
    return marked


def head_gallery(analysis: Analysis, layer: int = -1, cmap: str = DEFAULT_COLORMAP, opacity: float = 0.6,
                 stretch: bool = False, min_side: int = GALLERY_SIDE) -> list[tuple[Image.Image, str]]:
    """One (overlay, caption) per head of `layer`: the class token's attention in each, for `gr.Gallery`;
    the captions count layers and heads from 1, as people read them (`vitdemo.numbering`)."""
    index = layer % analysis.depth
    return [(overlay(analysis, head_map, cmap, opacity, stretch=stretch, min_side=min_side),
             f"layer {shown(index)} · head {shown(h)}") for h, head_map in enumerate(analysis.head_maps(layer))]


def matrix_picture(values: np.ndarray, size: tuple[int, int] = (256, 128), cmap: str = "coolwarm") -> Image.Image:
    """A (rows, cols) matrix as a `size` (width, height) heatmap, zero at the colormap's middle.

    Used for embeddings and tokens (rows = tokens, columns = features): the picture shows structure such
    as the prefix rows or a position pattern, not readable numbers, so it is resized to a fixed box.
    """
    values = np.asarray(values, dtype=np.float32)
    values = values.reshape(1, -1) if values.ndim == 1 else values
    bound = float(np.abs(values).max()) or 1.0
    return Image.fromarray(colorize(values, cmap, -bound, bound)).resize(size, Image.BOX)


def tile_grid(tiles: list[Image.Image], columns: int, gap: int = 2, background: tuple[int, int, int] = (255,) * 3,
              ) -> Image.Image:
    """Equal-sized tiles laid out row by row, `columns` per row, `gap` pixels apart."""
    width, height = tiles[0].size
    rows = math.ceil(len(tiles) / columns)
    sheet = Image.new("RGB", (columns * (width + gap) - gap, rows * (height + gap) - gap), background)
    for i, tile in enumerate(tiles):
        sheet.paste(tile, ((i % columns) * (width + gap), (i // columns) * (height + gap)))
    return sheet


def _draw_token_indices(draw: ImageDraw.ImageDraw, analysis: Analysis, scale: int) -> None:
    rows, cols = analysis.grid
    cell = analysis.patch_size * scale
    font = _font(max(8, min(16, cell // 3)))
    for r in range(rows):
        for c in range(cols):
            index = analysis.num_prefix_tokens + r * cols + c
            x, y = c * cell + 2, r * cell + 1
            draw.text((x, y), str(index), fill=(255, 255, 255), font=font, stroke_width=1, stroke_fill=(0, 0, 0))


def _draw_token_path(draw: ImageDraw.ImageDraw, analysis: Analysis, scale: int) -> None:
    rows, cols = analysis.grid
    cell = analysis.patch_size * scale
    centers = [(c * cell + cell // 2, r * cell + cell // 2) for r in range(rows) for c in range(cols)]
    draw.line(centers, fill=(255, 200, 0), width=max(1, min(3, scale // 3)))
    radius = max(2, cell // 10)
    x, y = centers[0]
    draw.ellipse([x - radius, y - radius, x + radius, y + radius], fill=(255, 200, 0))


@functools.lru_cache(maxsize=8)
def _font(size: int) -> ImageFont.ImageFont | ImageFont.FreeTypeFont:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()
