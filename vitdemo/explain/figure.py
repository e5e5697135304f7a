"""A figure for slides and papers: one map of an `Analysis`, in context, as PNG, SVG, PDF or an animated GIF.

Screenshots of a web page make poor figures (controls, page colours, a fixed resolution), so this draws the
view itself with matplotlib: the input as the model sees it, the patch grid, the chosen map (method,
layer, head) with a colour bar in shares of the map, and that map through every layer as small multiples,
the chosen layer framed, captioned with the model, the patch size and the method. `.gif` is the map
through the layers instead, one frame per layer.

The pictures inside are `vitdemo.explain.render`'s (overlay, patch grid), the maps `Analysis`'s: this
module only arranges them, so a figure shows exactly what the page and the API show. It uses
matplotlib's object API with the Agg canvas (no pyplot, no global figure state), so a server may draw
figures from several threads. The text is English; Chinese prompts and names print through a CJK font where one
is installed (fonts.py).

    from vitdemo.explain.figure import FigureView, save
    save(analysis, "star.pdf", FigureView(method="rollout", layer=2), title="vitdemo-bundled")
"""

from __future__ import annotations

import io
import math
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from .. import methods, numbering
from . import render
from .analysis import Analysis
from .fonts import with_cjk_fallback
from .maps import Head

FORMATS = ("png", "svg", "pdf", "gif")
WIDTH_IN = 8.0  # the figure's width in inches: a two-column paper figure or a slide
PNG_DPI = 220  # 8 in × 220 dpi = 1760 px, above the 1600 px a slide at full width needs
GIF_DPI = 100
GIF_WIDTH_IN = 4.8  # 480 px: a GIF is for a slide or a post, where a few hundred pixels suffice
GIF_FRAME_MS = 700
SMALL_SIDE = 128  # short side of each small multiple before matplotlib places it
CAPTION_CHARS = 150  # characters per caption line at 7 pt across the figure
MAX_COLUMNS = 6  # small multiples per row for up to 12 layers; deeper models get ceil(depth / 3) (ViT-L: 8)
HIGHLIGHT = "#4f46e5"


@dataclass(frozen=True)
class FigureView:
    """Which map the figure shows and how: what the page's explorer calls its view.

    `layer` and `head` are the library's indices (0-based, layer -1 = the last); the page and the command count
    from 1 and convert (`vitdemo.numbering`), and so does the figure's text. `target` (a label or class index,
    None = the top-1) matters for class methods only (`Method.needs_class`).
    """

    method: str = "attention"
    layer: int = -1
    head: Head = "mean"
    target: int | str | None = None
    discard_ratio: float = 0.0
    cmap: str = render.DEFAULT_COLORMAP
    opacity: float = 0.6
    smooth: bool = False
    show_indices: bool = False
    show_order: bool = False


def format_of(path: str | Path) -> str:
    """The figure format a file name asks for by its suffix ("png", "svg", "pdf" or "gif")."""
    suffix = Path(path).suffix.lower().lstrip(".")
    if suffix not in FORMATS:
        raise ValueError(f"the figure's file must end in .png, .svg, .pdf or .gif, not {Path(path).name!r}")
    return suffix


def save(analysis: Analysis, path: str | Path, view: FigureView | None = None, title: str = "") -> Path:
    """Write the figure (or, for `.gif`, the animation) to `path`, in the format its suffix names."""
    path = Path(path)
    data = figure_bytes(analysis, format_of(path), view, title)
    path.write_bytes(data)
    return path


def figure_bytes(analysis: Analysis, fmt: str, view: FigureView | None = None, title: str = "") -> bytes:
    """The figure as the bytes of a `fmt` file ("png", "svg", "pdf"; "gif": the animation through the layers)."""
    view = view or FigureView()
    fmt = fmt.lower()
    if fmt == "gif":
        return animation_bytes(analysis, view, title)
    if fmt not in FORMATS:
        raise ValueError(f"format must be one of {', '.join(FORMATS)}, not {fmt!r}")
    figure = build(analysis, view, title)
    buffer = io.BytesIO()
    heading, caption = headline(analysis, view), describe(analysis, view, title)
    metadata = ({"Title": heading, "Subject": caption} if fmt == "pdf" else {"Title": heading, "Description": caption})
    extra = {"pil_kwargs": {"compress_level": 1}} if fmt == "png" else {}  # 1: ~3× faster to encode, ~25% larger
    figure.savefig(buffer, format=fmt, dpi=PNG_DPI, metadata=metadata, facecolor="white", **extra)
    return buffer.getvalue()


def picture(analysis: Analysis, view: FigureView | None = None, title: str = "") -> Image.Image:
    """The figure as an RGB picture, as the PNG file would hold it (for callers that store pictures themselves)."""
    figure = build(analysis, view, title)
    figure.canvas.draw()
    return Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy())


def chosen_map(analysis: Analysis, view: FigureView) -> np.ndarray:
    """(rows, cols): the map of the main panel, as `Analysis.attention_map` gives it."""
    return analysis.attention_map(view.method, layer=view.layer, head=view.head, target=view.target,
                                  discard_ratio=view.discard_ratio)


def layer_maps(analysis: Analysis, view: FigureView) -> np.ndarray:
    """(layers, rows, cols): the view's map at every layer (`Analysis.maps_by_layer`), for the small multiples."""
    return analysis.maps_by_layer(view.method, head=view.head, target=view.target, discard_ratio=view.discard_ratio)


def english(key: str) -> str:
    """A string of the app's tables in English (matplotlib ships no CJK font, so figures are English)."""
    from ..app.i18n import ENGLISH, text

    return text(key, ENGLISH)


def method_title(method: str) -> str:
    """The method's name as figures show it."""
    return english(methods.method(method).label_key)


def layer_span(method: str, layer: int) -> str:
    """"layer 3" for a map of one layer, "layers 1–3" for a method that chains the layers up to it (from 1)."""
    return f"layers 1–{layer}" if methods.method(method).chains_layers else f"layer {layer}"


def heads_text(analysis: Analysis, view: FigureView) -> str:
    """"head 2" (counted from 1, the library's head 1) or "mean of 4 heads"."""
    if isinstance(view.head, int):
        return f"head {numbering.shown(view.head)}"
    return f"{view.head} of {analysis.heads} heads"


def headline(analysis: Analysis, view: FigureView) -> str:
    """The figure's title: method, layer, heads (and the class, for class-specific maps)."""
    span = layer_span(view.method, numbering.shown(view.layer % analysis.depth))
    heads = heads_text(analysis, view)
    target = ""
    if methods.method(view.method).needs_class:
        label = view.target if view.target is not None else (analysis.top(1) or [("?", 0.0)])[0][0]
        target = f" · class “{analysis.labels[label] if isinstance(label, int) else label}”"
    return f"{method_title(view.method)}{target} · {span} of {analysis.depth} · {heads}"


def describe(analysis: Analysis, view: FigureView, title: str = "") -> str:
    """The caption: model, patch size and grid, method (what it computes), top-1 class."""
    rows, cols = analysis.grid
    p = analysis.patch_size
    native = analysis.model.config.native_patch_sizes
    how = "native" if p in native or not native else f"PI-resized from {analysis.model.config.patch_size} px"
    model = title or analysis.model.config.name or "ViT"
    top = analysis.top(1)
    guess = f" Top-1: {top[0][0]} ({top[0][1]:.1%})." if top else ""
    smooth = ", smoothed" if view.smooth else ""
    prefix = analysis.num_prefix_tokens
    return (f"Model: {model}. Patch size {p} px ({how}): {rows}×{cols} patches + {prefix} prefix "
            f"token{'s' if prefix > 1 else ''}, {analysis.view.width}×{analysis.view.height} px input. "
            f"Method: {view.method}, {english(methods.method(view.method).description_key)}; each map sums to 1 "
            f"over the patches, "
            f"drawn over the image at opacity {view.opacity:g}{smooth}, each small multiple scaled to its own "
            f"maximum.{guess}")


def build(analysis: Analysis, view: FigureView | None = None, title: str = "") -> Any:
    """The figure as a matplotlib `Figure` (Agg canvas): input, grid, map with colour bar, the layers below.

    Axes are placed in inches (`_Layout`), so the pictures keep the view's aspect ratio and the figure
    grows in height only. The main panel's axes are labelled "map" and each small multiple's "layer N"
    (`Axes.get_label()`), so a reader (a test) can find them.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize
    from matplotlib.figure import Figure
    from matplotlib.ticker import PercentFormatter

    with_cjk_fallback()

    view = view or FigureView()
    current, by_layer = chosen_map(analysis, view), layer_maps(analysis, view)
    depth, chosen = analysis.depth, view.layer % analysis.depth
    columns = min(depth, MAX_COLUMNS if depth <= 2 * MAX_COLUMNS else math.ceil(depth / 3))
    caption = textwrap.wrap(describe(analysis, view, title), CAPTION_CHARS)
    width, height = analysis.view.size
    layout = _Layout(aspect=height / width, columns=columns, lines=math.ceil(depth / columns),
                     caption_lines=len(caption))
    figure = Figure(figsize=(WIDTH_IN, layout.height), dpi=PNG_DPI)
    FigureCanvasAgg(figure)
    figure.text(0.5, layout.y(0.14), headline(analysis, view), ha="center", va="top", fontsize=13,
                fontweight="bold")

    pictures = [
        ("input", f"Input, {width}×{height} px as the model sees it",
         render.upscaled(analysis.view, render.display_scale(analysis.view.size))),
        ("grid", f"{analysis.grid[0]}×{analysis.grid[1]} patches of {analysis.patch_size}×{analysis.patch_size} px",
         render.patch_grid(analysis, show_indices=view.show_indices, show_order=view.show_order)),
        ("map", f"{method_title(view.method)}, {layer_span(view.method, numbering.shown(chosen))}",
         render.overlay(analysis, current, view.cmap, view.opacity, view.smooth)),
    ]
    for column, (label, heading, picture) in enumerate(pictures):
        ax = figure.add_axes(layout.panel(column), label=label)
        _picture(ax, picture)
        ax.set_title(heading, fontsize=8.5, pad=4)
    bar = figure.colorbar(ScalarMappable(Normalize(0.0, float(current.max()) or 1.0), view.cmap),
                          cax=figure.add_axes(layout.colour_bar(), label="colour bar"))
    bar.ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=1))
    bar.ax.tick_params(labelsize=7)
    bar.set_label("share of the map", fontsize=7.5)

    figure.text(layout.x(layout.MARGIN), layout.y(layout.strip_top), f"{method_title(view.method)} through the "
                f"layers (layer {numbering.shown(chosen)} framed)", fontsize=9.5, fontweight="bold", va="top")
    for index, layer_map in enumerate(by_layer):
        ax = figure.add_axes(layout.small(index), label=f"layer {numbering.shown(index)}")
        _picture(ax, render.overlay(analysis, layer_map, view.cmap, view.opacity, view.smooth, min_side=SMALL_SIDE))
        ax.set_title(f"layer {numbering.shown(index)}", fontsize=7.5, color=HIGHLIGHT if index == chosen else "black",
                     fontweight="bold" if index == chosen else "normal", pad=2)
        if index == chosen:
            for spine in ax.spines.values():
                spine.set_visible(True)
                spine.set_edgecolor(HIGHLIGHT)
                spine.set_linewidth(2.5)
    figure.text(layout.x(layout.MARGIN), layout.y(layout.caption_top), "\n".join(caption), fontsize=7, va="top",
                color="#333333", linespacing=1.35)
    return figure


@dataclass(frozen=True)
class _Layout:
    """Where everything goes, in inches from the figure's top-left corner (matplotlib wants fractions from
    its bottom-left: `box`, `x` and `y` convert)."""

    aspect: float  # height / width of the model's view
    columns: int  # small multiples per row
    lines: int  # rows of small multiples
    caption_lines: int
    MARGIN = 0.3
    TITLE = 0.5  # the headline
    PANEL_TITLE = 0.28
    BAR_ROOM = 0.75  # right of the map: the colour bar, its ticks and label
    GAP = 0.12
    STRIP_TITLE = 0.22
    SMALL_TITLE = 0.2
    CAPTION_LINE = 0.135

    @property
    def panel_width(self) -> float:
        return (WIDTH_IN - 2 * self.MARGIN - self.BAR_ROOM - 2 * self.GAP) / 3

    @property
    def small_width(self) -> float:
        return (WIDTH_IN - 2 * self.MARGIN - (self.columns - 1) * self.GAP * 0.6) / self.columns

    @property
    def strip_top(self) -> float:
        return self.TITLE + self.PANEL_TITLE + self.panel_width * self.aspect + 0.3

    @property
    def caption_top(self) -> float:
        return (self.strip_top + self.STRIP_TITLE + self.lines * (self.SMALL_TITLE + self.small_width * self.aspect)
                + (self.lines - 1) * self.GAP + 0.22)

    @property
    def height(self) -> float:
        return self.caption_top + self.caption_lines * self.CAPTION_LINE + 0.25

    def x(self, inches: float) -> float:
        return inches / WIDTH_IN

    def y(self, inches_from_top: float) -> float:
        return 1.0 - inches_from_top / self.height

    def box(self, left: float, top: float, width: float, height: float) -> tuple[float, float, float, float]:
        return self.x(left), self.y(top + height), width / WIDTH_IN, height / self.height

    def panel(self, column: int) -> tuple[float, float, float, float]:
        left = self.MARGIN + column * (self.panel_width + self.GAP)
        return self.box(left, self.TITLE + self.PANEL_TITLE, self.panel_width, self.panel_width * self.aspect)

    def colour_bar(self) -> tuple[float, float, float, float]:
        left = self.MARGIN + 3 * self.panel_width + 2 * self.GAP + 0.1
        return self.box(left, self.TITLE + self.PANEL_TITLE, 0.12, self.panel_width * self.aspect)

    def small(self, index: int) -> tuple[float, float, float, float]:
        line, column = divmod(index, self.columns)
        side = self.small_width * self.aspect
        top = self.strip_top + self.STRIP_TITLE + line * (self.SMALL_TITLE + side + self.GAP) + self.SMALL_TITLE
        return self.box(self.MARGIN + column * (self.small_width + self.GAP * 0.6), top, self.small_width, side)


def animation_frames(analysis: Analysis, view: FigureView | None = None, title: str = "") -> list[Image.Image]:
    """One RGB frame per layer: the view's map at that layer over the image, titled with the layer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with_cjk_fallback()

    view = view or FigureView()
    pictures = [render.overlay(analysis, m, view.cmap, view.opacity, view.smooth) for m in layer_maps(analysis, view)]
    side_in = GIF_WIDTH_IN - 0.3
    picture_in = side_in * pictures[0].height / pictures[0].width
    height_in = 0.45 + picture_in + 0.35
    figure = Figure(figsize=(GIF_WIDTH_IN, height_in), dpi=GIF_DPI)
    canvas = FigureCanvasAgg(figure)
    ax = figure.add_axes((0.15 / GIF_WIDTH_IN, 0.35 / height_in, side_in / GIF_WIDTH_IN, picture_in / height_in))
    shown = _picture(ax, pictures[0])
    heading = figure.text(0.5, 1 - 0.1 / height_in, "", ha="center", va="top", fontsize=11, fontweight="bold")
    heads = heads_text(analysis, view)
    model = title or analysis.model.config.name or "ViT"
    figure.text(0.5, 0.12 / height_in, f"{model} · patch {analysis.patch_size} px · {heads} · each frame scaled "
                "to its own maximum", ha="center", fontsize=7, color="#333333")
    frames = []
    for index, picture in enumerate(pictures):
        shown.set_data(np.asarray(picture))
        span = layer_span(view.method, numbering.shown(index))
        heading.set_text(f"{method_title(view.method)} · {span} of {analysis.depth}")
        canvas.draw()
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()))
    return frames


def animation_bytes(analysis: Analysis, view: FigureView | None = None, title: str = "") -> bytes:
    """The frames as a looping GIF, `GIF_FRAME_MS` per layer."""
    frames = [frame.quantize(colors=256, method=Image.Quantize.MEDIANCUT) for frame in
              animation_frames(analysis, view, title)]
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0)
    return buffer.getvalue()


def _picture(ax: Any, picture: Image.Image) -> Any:
    """Show a rendering pixel for pixel (nearest-neighbour) in `ax`, without ticks or frame."""
    shown = ax.imshow(np.asarray(picture.convert("RGB")), interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    return shown
