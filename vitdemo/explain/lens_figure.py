"""The logit lens as a figure (`python -m vitdemo figure IMAGE --method logit-lens`): PNG, SVG, PDF or GIF.

The lens is no map over the patches summing to 1 (figure.py's kind), so it has a figure of its own, laid out
like that one: the input, the patches at the chosen layer painted one colour per class with a legend, the
class token's probabilities through the layers (the model's final top-3, the chosen layer marked), and the
patches at every layer as small multiples, each titled with what the class token would answer there. `.gif`
is the patches through the layers, one frame per layer. Numbers and colours are lens.py's (the page's too).
"""

from __future__ import annotations

import io
import math
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from . import render
from .analysis import Analysis
from .figure import CAPTION_CHARS, GIF_DPI, GIF_FRAME_MS, HIGHLIGHT, PNG_DPI, WIDTH_IN, _picture, format_of
from .fonts import with_cjk_fallback
from .lens import class_colours, class_picture, settled_layer

SMALL_COLUMNS = 6
LEGEND_CLASSES = 8  # classes named in the legend, most patches first


def save(analysis: Analysis, path: str | Path, layer: int = -1, opacity: float = 0.6, title: str = "") -> Path:
    """Write the lens figure at `layer` (0-based, -1 = the last) to `path`, in the format its suffix names."""
    path = Path(path)
    fmt = format_of(path)
    path.write_bytes(animation_bytes(analysis, opacity, title) if fmt == "gif"
                     else figure_bytes(analysis, fmt, layer, opacity, title))
    return path


def patches_over(analysis: Analysis, layer: int, opacity: float, min_side: int = render.MIN_SIDE) -> Image.Image:
    """The view with each patch blended towards its class's colour at `layer`, upscaled nearest."""
    lens, patch = analysis.logit_lens(), analysis.patch_lens()
    colours = class_picture(patch.classes[layer], class_colours(lens, patch))  # (rows, cols, 3)
    scale = render.display_scale(analysis.view.size, min_side)
    view = np.asarray(render.upscaled(analysis.view.convert("RGB"), scale)).astype(np.float32)
    cell = analysis.patch_size * scale
    rows, cols = analysis.grid
    painted = view.copy()
    block = np.kron(colours, np.ones((cell, cell, 1))).astype(np.float32)
    painted[:rows * cell, :cols * cell] = view[:rows * cell, :cols * cell] * (1 - opacity) + block * opacity
    return Image.fromarray(np.floor(painted).astype(np.uint8))


def describe(analysis: Analysis, layer: int, title: str = "") -> str:
    lens = analysis.logit_lens()
    model = title or analysis.model.config.name or "ViT"
    top = analysis.top(1)[0]
    rows, cols = analysis.grid
    return (f"Model: {model}. Patch size {analysis.patch_size} px, {rows}×{cols} patches. Logit lens: each layer's "
            "tokens read through the model's own final norm and head, as if it stopped there; each patch is "
            "painted in the colour of the class its own token would answer. The last layer is the model's "
            f"answer, {top[0]} ({top[1]:.1%}); its top-1 holds from layer {settled_layer(lens) + 1} of "
            f"{analysis.depth} on.")


def build(analysis: Analysis, layer: int = -1, opacity: float = 0.6, title: str = "") -> Any:
    """The figure (matplotlib `Figure`, Agg canvas); axes labelled "patches", "curves" and "layer N"."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Patch

    with_cjk_fallback()

    lens, patch = analysis.logit_lens(), analysis.patch_lens()
    colours = class_colours(lens, patch)
    depth, chosen, labels = analysis.depth, layer % analysis.depth, analysis.labels
    columns = min(depth, SMALL_COLUMNS)
    lines = math.ceil(depth / columns)
    caption = textwrap.wrap(describe(analysis, chosen, title), CAPTION_CHARS)
    aspect = analysis.view.height / analysis.view.width
    panel = (WIDTH_IN - 1.0) / 3
    small = (WIDTH_IN - 0.6) / columns
    height = 0.6 + panel * aspect + 1.0 + lines * (small * aspect + 0.35) + 0.25 + 0.14 * len(caption)
    figure = Figure(figsize=(WIDTH_IN, height), dpi=PNG_DPI)
    FigureCanvasAgg(figure)

    def box(left: float, top: float, width: float, tall: float) -> tuple[float, float, float, float]:
        return left / WIDTH_IN, 1 - (top + tall) / height, width / WIDTH_IN, tall / height

    answer = lens[chosen].argmax()
    figure.text(0.5, 1 - 0.12 / height, f"Logit lens · layer {chosen + 1} of {depth} · the class token would answer "
                f"{labels[answer]} ({lens[chosen, answer]:.0%})", ha="center", va="top", fontsize=12, fontweight="bold")
    ax = figure.add_axes(box(0.3, 0.6, panel, panel * aspect), label="input")
    _picture(ax, render.upscaled(analysis.view, render.display_scale(analysis.view.size)))
    ax.set_title("Input, as the model sees it", fontsize=8.5)
    ax = figure.add_axes(box(0.5 + panel, 0.6, panel, panel * aspect), label="patches")
    _picture(ax, patches_over(analysis, chosen, opacity))
    ax.set_title(f"What each patch would answer, layer {chosen + 1}", fontsize=8.5)
    named, counts = np.unique(patch.classes[chosen], return_counts=True)
    order = np.argsort(-counts, kind="stable")[:LEGEND_CLASSES]
    handles = [Patch(color=np.array(colours[int(named[i])]) / 255, label=f"{labels[named[i]]} ×{counts[i]}")
               for i in order]
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, -0.02), ncol=min(4, len(handles)),
              fontsize=6.5, frameon=False, handlelength=1.0, columnspacing=0.8)
    ax = figure.add_axes(box(1.05 + 2 * panel, 0.6, panel - 0.45, panel * aspect), label="curves")
    layers = np.arange(1, depth + 1)
    for c in np.argsort(-lens[-1])[:3]:
        ax.plot(layers, lens[:, c], marker="o", markersize=3, color=np.array(colours.get(int(c), (90, 90, 90))) / 255,
                label=labels[c])
    ax.axvline(chosen + 1, color=HIGHLIGHT, linewidth=1, linestyle="--")
    ax.set_xticks(layers)
    ax.set_ylim(0, 1)
    ax.set_xlabel("layer", fontsize=7.5)
    ax.set_ylabel("class token's probability", fontsize=7.5)
    ax.tick_params(labelsize=6.5)
    ax.legend(fontsize=6.5, frameon=False)
    ax.set_title("The final top-3 through the layers", fontsize=8.5)

    strip = 0.6 + panel * aspect + 1.0
    figure.text(0.3 / WIDTH_IN, 1 - (strip - 0.25) / height, f"Patches through the layers (layer {chosen + 1} framed)",
                fontsize=9.5, fontweight="bold", va="top")
    for index in range(depth):
        line, column = divmod(index, columns)
        ax = figure.add_axes(box(0.3 + column * small, strip + line * (small * aspect + 0.35) + 0.2, small - 0.08,
                                 small * aspect), label=f"layer {index + 1}")
        _picture(ax, patches_over(analysis, index, opacity, min_side=128))
        best = lens[index].argmax()
        ax.set_title(f"{index + 1}: {labels[best]} {lens[index, best]:.0%}", fontsize=7,
                     color=HIGHLIGHT if index == chosen else "black", pad=2)
        if index == chosen:
            for spine in ax.spines.values():
                spine.set(visible=True, edgecolor=HIGHLIGHT, linewidth=2.5)
    figure.text(0.3 / WIDTH_IN, 1 - (height - 0.2 - 0.14 * len(caption)) / height, "\n".join(caption), fontsize=7,
                va="top", color="#333333")
    return figure


def picture(analysis: Analysis, layer: int = -1, opacity: float = 0.6, title: str = "") -> Image.Image:
    """The figure as an RGB picture, as the PNG file would hold it (the page's Download figure)."""
    figure = build(analysis, layer, opacity, title)
    figure.canvas.draw()
    return Image.fromarray(np.asarray(figure.canvas.buffer_rgba())[..., :3].copy())


def figure_bytes(analysis: Analysis, fmt: str, layer: int = -1, opacity: float = 0.6, title: str = "") -> bytes:
    figure = build(analysis, layer, opacity, title)
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, dpi=PNG_DPI, facecolor="white")
    return buffer.getvalue()


def animation_bytes(analysis: Analysis, opacity: float = 0.6, title: str = "") -> bytes:
    """The patches through the layers as a looping GIF, each frame titled with the class token's answer."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    with_cjk_fallback()

    lens, labels = analysis.logit_lens(), analysis.labels
    frames = []
    for index in range(analysis.depth):
        figure = Figure(figsize=(4.8, 5.3), dpi=GIF_DPI)
        canvas = FigureCanvasAgg(figure)
        ax = figure.add_axes((0.03, 0.03, 0.94, 0.84))
        _picture(ax, patches_over(analysis, index, opacity))
        best = lens[index].argmax()
        figure.text(0.5, 0.97, f"Logit lens · layer {index + 1} of {analysis.depth}: {labels[best]} "
                    f"{lens[index, best]:.0%}", ha="center", va="top", fontsize=11, fontweight="bold")
        canvas.draw()
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3].copy()).quantize(colors=256))
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=GIF_FRAME_MS, loop=0)
    return buffer.getvalue()
