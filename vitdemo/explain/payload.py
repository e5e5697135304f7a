"""One analysis as one compact bundle for the browser, so every view of it is drawn there without a request.

The page's explorer (`vitdemo/app/explorer.js`) paints from this and nothing else: the picture as the model
saw it, the grid geometry and token types, the methods' table (`schema`), and the maps — every layer's map
of each method that needs no class, for every head and head fusion, patch-to-patch attention (head mean)
for click-a-patch, a class method's maps per class once asked for, and the query·key scores of every token
pair for the token matrix (small grids; larger ones ask for one layer and head). The maps come from `Analysis` (the
library stays the one place where they are computed); this module only quantises and packs them.

Quantisation is chosen so that the browser draws the server's picture: `render.heat_image` scales a map by
its maximum and looks up `round(255 · v / max)` in the colormap, so each map is sent as its maximum and
`round(65535 · v / max)` (class-token maps: uint16, precise enough for the smooth mode's interpolation too)
or `round(255 · v / max)` (patch rows: uint8, exactly the colormap index). Arrays travel zlib-compressed
and base64-encoded; the browser inflates them with `DecompressionStream("deflate")`.
"""

from __future__ import annotations

import base64
import io
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .. import class_names, methods
from ..constants import HEAD_FUSIONS, MAX_DISCARD
from .analysis import Analysis
from .render import display_scale

VERSION = 1
MAX_PATCH_ROWS = 576  # grids up to 24×24 send every patch's row; larger ones fetch a clicked row on demand
# The query·key scores of every layer, head and token pair ride in the bundle while they take at most this many
# bytes (float32, before compression); beyond, the token matrix asks for one layer and head at a time.
MAX_SCORE_BYTES = 2**20


def head_order(heads: int) -> list[str | int]:
    """The order of the per-map head axis: the fusions first, then each head."""
    return [*HEAD_FUSIONS, *range(heads)]


def schema() -> dict[str, Any]:
    """What the browser knows of methods and heads, from the one table (`vitdemo.methods`): every method and
    its flags, the head fusions (the head axis of a chained method's stack) and rollout's discard limit."""
    return {"methods": methods.schema(), "fusions": list(HEAD_FUSIONS), "discard_max": MAX_DISCARD}


def stem(analysis: Analysis) -> str:
    """The start of every file name of this analysis: top-1 class and patch size (`star_p16`)."""
    top = analysis.top(1)
    return f"{top[0][0] if top else 'features'}_p{analysis.patch_size}"


def packed(array: np.ndarray, level: int = 6) -> str:
    """Base64 of the zlib-compressed bytes of a C-ordered array (its dtype and shape travel beside it); `level`
    1 for float32 arrays, which zlib's level 6 compresses hardly better and many times slower."""
    return base64.b64encode(zlib.compress(np.ascontiguousarray(array).tobytes(), level)).decode("ascii")


def unpacked(text: str, dtype: Any, shape: tuple[int, ...]) -> np.ndarray:
    """The inverse of `packed` (for tests and for clients written in Python)."""
    return np.frombuffer(zlib.decompress(base64.b64decode(text)), dtype=dtype).reshape(shape)


def quantised(maps: np.ndarray, levels: int) -> tuple[np.ndarray, np.ndarray]:
    """(round(levels · v / max) per map along the last axis, each map's max), as the renderer scales maps."""
    values = np.asarray(maps, dtype=np.float32)
    peak = values.max(axis=-1, keepdims=True)
    scaled = values / np.where(peak > 0, peak, np.float32(1.0))
    dtype = np.uint8 if levels == 255 else np.uint16
    return np.clip(np.round(scaled * np.float32(levels)), 0, levels).astype(dtype), peak[..., 0]


def map_stack(analysis: Analysis, method: str, target: int | str | None = None,
              discard_ratio: float = 0.0) -> dict[str, Any]:
    """Every layer × head setting of one method, as {"q": packed uint16 (layers, settings, patches), "max": …}.

    Settings are `head_order`, or the fusions alone for a method that chains the layers: "head 3" would chain
    head 3 of every layer, heads that share only an index (the explorer says why).
    """
    heads = HEAD_FUSIONS if methods.method(method).chains_layers else head_order(analysis.heads)
    stack = np.stack([analysis.maps_by_layer(method, head, target=target, discard_ratio=discard_ratio)
                      for head in heads], axis=1)  # (L, settings, rows, cols)
    q, peak = quantised(stack.reshape(*stack.shape[:2], -1), 65535)
    return {"q": packed(q), "max": packed(peak.astype(np.float32))}


def rows_of_patches(analysis: Analysis) -> dict[str, Any] | None:
    """Head-mean attention of every patch over the patches, per layer: {"q": uint8 (L, N, N), "max": (L, N)}."""
    rows, cols = analysis.grid
    if rows * cols > MAX_PATCH_ROWS:
        return None
    stack = np.stack([analysis.patch_maps(layer, "mean").reshape(rows * cols, -1) for layer in range(analysis.depth)])
    q, peak = quantised(stack, 255)
    return {"q": packed(q), "max": packed(peak.astype(np.float32))}


def patch_row(analysis: Analysis, layer: int, row: int, col: int) -> dict[str, Any]:
    """One clicked patch's head-mean row at `layer` (0-based), for grids too large to send whole."""
    q, peak = quantised(analysis.patch_attention(row, col, layer=layer, head="mean").ravel()[None], 255)
    return {"q": packed(q[0]), "max": float(peak[0])}


def lens_bundle(analysis: Analysis, with_rows: bool = True) -> dict[str, Any]:
    """Token norms (with the far-out ones), where each non-class prefix token attends, and the features
    (PCA as RGB, the foreground, each patch's cosine similarity to every patch), from `lenses`."""
    from . import lenses

    norms = lenses.token_norms(analysis)  # (L, T)
    marked = lenses.outliers(norms, analysis.num_prefix_tokens)
    prefix = None
    if analysis.num_prefix_tokens > 1:
        heads = head_order(analysis.heads)
        stack = np.stack([[[lenses.prefix_attention(analysis, t, layer, h).ravel() for h in heads]
                           for t in range(1, analysis.num_prefix_tokens)] for layer in range(analysis.depth)])
        q, peak = quantised(stack, 65535)  # (L, P - 1, H + 3, N)
        prefix = {"q": packed(q), "max": packed(peak.astype(np.float32))}
    rgb, foreground = lenses.feature_pca(analysis)
    rows, cols = analysis.grid
    similarity = None
    if with_rows and rows * cols <= MAX_PATCH_ROWS:
        q, peak = quantised(lenses.feature_similarity(analysis).reshape(rows * cols, -1), 255)
        similarity = {"q": packed(q), "max": packed(peak.astype(np.float32))}
    return {"norms": packed(norms.astype(np.float32)), "outliers": [np.flatnonzero(m).tolist() for m in marked],
            "prefix": prefix, "rgb": packed(np.round(rgb.reshape(-1, 3) * 255).astype(np.uint8)),
            "foreground": packed(foreground.ravel().astype(np.uint8)), "similarity": similarity}


def logit_lens_bundle(analysis: Analysis, k: int = 3) -> dict[str, Any] | None:
    """The logit lens for the browser, or None for a model without a classifier: per layer the class token's
    top-k ([[class, p], ...]), and each patch's top-1 class and its probability as (layers, patches) arrays.

    Classes are indices into `labels` (each with its colour in `colours`, lens.class_colours), the few classes
    any layer's top-k or any patch names (a handful to a few hundred of the model's), so a patch's class is one
    or two bytes and its probability one (round(255·p)).
    """
    if analysis.model.head is None:
        return None
    from .lens import OTHER, class_colours, top_by_layer

    tops, patch = top_by_layer(analysis.logit_lens(), k), analysis.patch_lens()
    colours = class_colours(analysis.logit_lens(), patch)
    used = np.unique(np.concatenate([np.array([i for row in tops for i, _ in row]), patch.classes.ravel()]))
    local = np.searchsorted(used, patch.classes.reshape(analysis.depth, -1))
    index = local.astype(np.uint8 if len(used) <= 256 else np.uint16)
    position = {int(c): i for i, c in enumerate(used)}
    return {"labels": [analysis.labels[int(c)] for c in used], "width": index.dtype.itemsize,
            "colours": [list(colours.get(int(c), OTHER)) for c in used],
            "top": [[[position[i], round(p, 5)] for i, p in row] for row in tops],
            "patch": packed(index),
            "prob": packed(np.round(patch.probabilities.reshape(analysis.depth, -1) * 255).astype(np.uint8))}


def similarity_row(analysis: Analysis, row: int, col: int) -> dict[str, Any]:
    """One patch's feature similarity to every patch, for grids too large to send whole."""
    from . import lenses

    rows, cols = analysis.grid
    q, peak = quantised(lenses.feature_similarity(analysis)[row * cols + col].ravel()[None], 255)
    return {"q": packed(q[0]), "max": float(peak[0])}


def token_scores(analysis: Analysis) -> dict[str, Any]:
    """The token matrix's numbers: q·kᵀ/√d of every layer, head and token pair (`scores.query_key_scores`), as
    float32 (layers, heads, T, T). The browser takes each row's softmax for the attention, so one array gives
    both the matrix and a clicked token's scores beside its probabilities. `scores` is None when it would
    take more than `MAX_SCORE_BYTES` (ViT-B/16 at 224 px: 22 MB): the page then asks `score_matrix`."""
    from .scores import head_dim, query_key_scores

    tokens = analysis.attentions.shape[-1]
    fits = analysis.depth * analysis.heads * tokens * tokens * 4 <= MAX_SCORE_BYTES
    stack = np.stack([query_key_scores(analysis, layer) for layer in range(analysis.depth)]) if fits else None
    return {"count": tokens, "head_dim": head_dim(analysis), "scores": packed(stack, 1) if fits else None}


def score_matrix(analysis: Analysis, layer: int, head: int) -> dict[str, Any]:
    """One layer's (0-based) and head's (0-based) (T, T) float32 scores, for bundles too large to carry all."""
    from .scores import query_key_scores

    return {"scores": packed(query_key_scores(analysis, layer)[head], 1)}


def token_types(analysis: Analysis) -> list[str]:
    """The kinds of the tokens before the patches, in order ("class", "distillation", "register", ...)."""
    types = getattr(analysis.model.config, "token_types", None)
    if types:
        return list(types)
    return ["class", "distillation"][: analysis.num_prefix_tokens] + ["prefix"] * max(0, analysis.num_prefix_tokens - 2)


def view_png(analysis: Analysis) -> str:
    """The picture the model saw, as a PNG data URL (the browser upscales it itself, nearest-neighbour)."""
    buffer = io.BytesIO()
    analysis.view.convert("RGB").save(buffer, "PNG", compress_level=1)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def explorer_payload(analysis: Analysis, key: Any = None, title: str = "", discard_ratio: float = 0.0,
                     class_targets: Mapping[str, Sequence[str]] | None = None,
                     patch_rows: bool = True, scores: bool = True) -> dict[str, Any]:
    """The bundle for one analysis: geometry, picture, every method's maps that need no class, patch rows.

    `key` names the analysis for the server functions that add to it (a class method's maps for a class, a
    clicked row of a large grid); `class_targets` ({method: classes}) are class methods' maps included now;
    `patch_rows=False` leaves out click-a-patch (the comparison draws class-token maps only) and the token
    matrix's scores, `scores=False` the scores alone (the side-by-side model has no token matrix).
    """
    rows, cols = analysis.grid
    top = analysis.top(5)  # [] for a model without a classifier (DINO, DINOv2 without a head)
    prefix = token_types(analysis)
    classless = [m.name for m in methods.rows() if not m.needs_class]
    return {
        "version": VERSION,
        "key": list(key) if key is not None else None,
        "title": title,
        "grid": [rows, cols],
        "patch": analysis.patch_size,
        "size": [analysis.view.width, analysis.view.height],
        "scale": display_scale(analysis.view.size),
        "prefix": prefix,
        "depth": analysis.depth,
        "heads": analysis.heads,
        "head_order": head_order(analysis.heads),
        "top": [[label, round(p, 6)] for label, p in top],
        "names": class_names.translations(analysis.labels) if top else {},  # {lang: {label: name}}; top keeps labels
        "name": stem(analysis),
        "classifier": bool(top),
        "image": view_png(analysis),
        "discard": discard_ratio,
        "schema": schema(),
        "maps": {name: map_stack(analysis, name, discard_ratio=discard_ratio) for name in classless},
        "classes": {name: {t: map_stack(analysis, name, target=t) for t in targets}
                    for name, targets in (class_targets or {}).items()},
        "patches": rows_of_patches(analysis) if patch_rows else None,
        "lenses": lens_bundle(analysis, with_rows=patch_rows),
        "tokens": token_scores(analysis) if patch_rows and scores else None,
        "logit_lens": logit_lens_bundle(analysis),
    }
