"""What each output of the app shows, from a stored analysis and the view settings: no forward pass, no Gradio.

The pictures themselves come from `vitdemo.render`; this module only decides which map goes into which
picture (the class token's by method, or a clicked patch's row) and writes the captions. Out-of-range
settings (a layer or head the newly chosen model does not have) fall back to the nearest valid choice
instead of failing, because controls and analyses are updated by separate events.

`vitdemo.render` (and with it torch) is imported inside the functions that draw, so that building the page
does not wait for torch.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from PIL import Image

from .choices import DEFAULT_COLORMAP, HEAD_FUSIONS, METHODS

METHOD_TITLES = {
    "attention": "Attention: where the class token looks in one layer",
    "rollout": "Rollout: attention followed through all layers up to this one",
    "relevance": "Relevance: what made the model pick this class (one backward pass)",
}
Patch = tuple[int, int]


@dataclass(frozen=True)
class ViewSettings:
    """Everything the user can change without a new forward pass."""

    method: str = "attention"
    layer: int = -1  # Python-style index: 0 is the first layer, -1 the last
    head: str | int = "mean"  # a head index, or how heads are fused: "mean", "max", "min"
    target: str | None = None  # class explained by relevance; None = the top-1
    discard_ratio: float = 0.0
    cmap: str = DEFAULT_COLORMAP
    opacity: float = 0.6
    smooth: bool = False
    show_indices: bool = False
    show_order: bool = False
    patch: Patch | None = None  # a clicked patch: show what it attends to instead of the class token


def parse_head(head: str | int | float | None) -> str | int:
    """"mean"/"max"/"min", or a head index given as int or digit string (the API sends strings)."""
    if head is None or head == "":
        return "mean"
    if isinstance(head, str) and head.strip().lower() in HEAD_FUSIONS:
        return head.strip().lower()
    try:
        value = float(head)
    except (TypeError, ValueError):
        raise ValueError(f"head must be a head index or one of {', '.join(HEAD_FUSIONS)}, not {head!r}") from None
    if value != int(value):
        raise ValueError(f"head must be a whole number, not {head!r}")
    return int(value)


def checked_method(method: str | None) -> str:
    method = (method or "attention").strip().lower()
    if method not in METHODS:
        raise ValueError(f"method must be one of {', '.join(METHODS)}, not {method!r}")
    return method


def fitted(analysis: Any, settings: ViewSettings) -> ViewSettings:
    """Settings clamped to this analysis: layer and head within the model, a patch within the grid."""
    layer = min(max(settings.layer, -analysis.depth), analysis.depth - 1)
    head = settings.head
    if isinstance(head, int) and not -analysis.heads <= head < analysis.heads:
        head = "mean"
    patch = settings.patch
    if patch is not None and not (0 <= patch[0] < analysis.grid[0] and 0 <= patch[1] < analysis.grid[1]):
        patch = None
    target = settings.target if settings.target in analysis.labels else None
    return replace(settings, layer=layer, head=head, patch=patch, target=target)


def current_map(analysis: Any, s: ViewSettings) -> np.ndarray:
    """The (rows, cols) map the settings ask for: a clicked patch's attention row, else the class token's."""
    s = fitted(analysis, s)
    if s.patch is not None:
        return analysis.patch_attention(*s.patch, layer=s.layer, head=s.head)
    return analysis.attention_map(s.method, layer=s.layer, head=s.head, target=s.target,
                                  discard_ratio=s.discard_ratio)


def attention_picture(analysis: Any, s: ViewSettings) -> Image.Image:
    """The heatmap over the model's view; with a clicked patch, that patch outlined."""
    from .. import render

    picture = render.overlay(analysis, current_map(analysis, s), s.cmap, s.opacity, s.smooth)
    s = fitted(analysis, s)
    return render.mark_patch(picture, analysis, *s.patch) if s.patch is not None else picture


def grid_picture(analysis: Any, s: ViewSettings) -> Image.Image:
    """The patches the model sees; with a clicked patch, that patch outlined."""
    from .. import render

    picture = render.patch_grid(analysis, show_indices=s.show_indices, show_order=s.show_order)
    s = fitted(analysis, s)
    return render.mark_patch(picture, analysis, *s.patch) if s.patch is not None else picture


def head_pictures(analysis: Any, s: ViewSettings) -> list[tuple[Image.Image, str]]:
    """One overlay per head of the chosen layer, captioned, for a gallery."""
    from .. import render

    return render.head_gallery(analysis, fitted(analysis, s).layer, s.cmap, s.opacity)


def top_labels(analysis: Any, k: int = 5) -> dict[str, float]:
    """{label: probability} of the k best classes, the shape `gr.Label` takes."""
    return dict(analysis.top(k))


def clicked_patch(analysis: Any, x: float, y: float, shown_size: tuple[int, int]) -> Patch:
    """(row, col) under a click at pixel (x, y) of a picture of the view shown at `shown_size`."""
    from ..explain import patch_at

    return patch_at(analysis, x, y, shown_size)


def caption(analysis: Any, s: ViewSettings) -> str:
    """One line under the attention picture saying exactly what it shows."""
    s = fitted(analysis, s)
    layer = f"layer {s.layer % analysis.depth + 1} of {analysis.depth}"
    head = f"head {s.head}" if isinstance(s.head, int) else f"{s.head} over {analysis.heads} heads"
    if s.patch is not None:
        return (f"What patch (row {s.patch[0]}, col {s.patch[1]}) attends to, {layer}, {head}. "
                "Pick a method to go back to the class token.")
    if s.method == "relevance":
        target = s.target or analysis.top(1)[0][0]
        return f"{METHOD_TITLES['relevance']}: “{target}”, up to {layer}, {head}."
    upto = "" if s.method == "attention" else " up to"
    return f"{METHOD_TITLES[s.method]}:{upto} {layer}, {head}. Click a patch to see what it attends to."


def summary(analysis: Any, title: str, seconds: float | None = None, cached: bool = False) -> str:
    """Markdown: the model, the grid, the token count and how long the forward took (or that it was cached)."""
    rows, cols = analysis.grid
    p = analysis.patch_size
    native = analysis.model.config.native_patch_sizes
    how = "native" if p in native else f"PI-resized from {analysis.model.config.patch_size} px"
    timing = " · cached" if cached else (f" · {seconds * 1000:.0f} ms" if seconds is not None else "")
    return (f"**{title}** · patch {p} px ({how}) · {rows}×{cols} patches + {analysis.num_prefix_tokens} "
            f"prefix = {rows * cols + analysis.num_prefix_tokens} tokens · {analysis.view.width}×"
            f"{analysis.view.height} px input{timing}")
