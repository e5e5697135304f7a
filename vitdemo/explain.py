"""Where does the class token look? One forward pass, then every attention view of it without another.

    a = analyze(model, image, patch_size=12)   # the only forward pass
    a.attention_map("attention", layer=-1, head="max")
    a.attention_map("rollout", discard_ratio=0.9)
    a.attention_map("relevance", target="star")  # the first request per target runs one backward

Three maps, all over the patch grid, all non-negative and summing to 1, prefix tokens (class token and
DeiT's distillation token) left out, any grid shape and patch size:

* **attention**: the class token's row of one layer's attention, one head or heads fused (mean/max/min).
* **rollout** (Abnar & Zuidema 2020): per layer Â = (A + I)/2 renormalised over keys, multiplied across
  layers, to follow information through the residual stream.
* **relevance** (Chefer et al. 2021): R ← R + mean_h((∇A ⊙ A)⁺)·R from R = I, for one class.

Relevance needs gradients, which the inference-mode forward of `analyze` does not record (recording them
makes every first analysis slower and heavier). So the first relevance request re-runs the forward once
with autograd on and keeps that graph (one forward's activations; `clear_cache()` frees it); each new
target then costs one backward pass only. Every other view is pure arithmetic on the stored attentions,
cached per argument.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Sequence
from typing import Any

import numpy as np
import torch
from PIL import Image

from .model import ViT
from .preprocessing import model_view, to_tensor

METHODS = ("attention", "rollout", "relevance")
HEAD_FUSIONS = ("mean", "max", "min")
Head = int | str | None

# --------------------------------------------------------------------------------------------------------
# Map math on one image's attentions: each layer a (heads, T, T) float32 array, rows = queries.
# numpy, not torch: these are dozens of tiny ops, and torch's per-op thread hand-offs cost more than the
# arithmetic (10× slower on a busy 2-core server); numpy runs them in the calling thread.


def fuse_heads(attention: np.ndarray, head: Head = None) -> np.ndarray:
    """(heads, T, T) → (T, T): one head by index, or the heads' mean (None), max or min."""
    if head is None or head == "mean":
        return attention.mean(0)
    if head == "max":
        return attention.max(0)
    if head == "min":
        return attention.min(0)
    is_index = isinstance(head, (int, np.integer)) and not isinstance(head, bool)
    if is_index and -attention.shape[0] <= head < attention.shape[0]:
        return attention[int(head)]
    raise ValueError(f"head must be an index below {attention.shape[0]} or one of {HEAD_FUSIONS}, not {head!r}")


def discard_lowest(attention: np.ndarray, ratio: float, prefix: int) -> np.ndarray:
    """Zero the lowest `ratio` of each query's weights on patch keys; prefix-token keys are never dropped.

    Dropping the weak links sharpens rollout (vit-explain's trick); keeping the class token's column keeps
    the path through the class token that rollout is about.
    """
    if not 0.0 <= ratio < 1.0:
        raise ValueError(f"discard_ratio must be in [0, 1), not {ratio}")
    count = int((attention.shape[-1] - prefix) * ratio)
    if count == 0:
        return attention
    kept = np.array(attention, dtype=np.float32)
    patches = kept[..., prefix:]  # a view: zeroing it edits `kept`
    lowest = np.argpartition(patches, count - 1, axis=-1)[..., :count]  # linear time, unlike a sort
    np.put_along_axis(patches, lowest, 0.0, axis=-1)
    return kept


def rollout(attentions: Sequence[np.ndarray], head: Head = None, discard_ratio: float = 0.0,
            prefix: int = 1, query: int | None = None) -> np.ndarray:
    """(T, T) attention rollout Â_L ⋯ Â_1 with Â = rownorm((fuse(A) + I)/2), rownorm with keepdim.

    The residual connection carries half the signal, hence + I; renormalising each row over keys (keepdim,
    the axis vit-explain gets wrong) keeps every Â a proper mixing matrix. With `query`, only that row
    (shape (T,)) is computed, right to left as vector-matrix products: a map needs the class token's only.
    """
    eye = np.eye(np.shape(attentions[0])[-1], dtype=np.float32)
    result = eye if query is None else eye[query]
    for attention in reversed(attentions):
        fused = discard_lowest(fuse_heads(np.asarray(attention, dtype=np.float32), head), discard_ratio, prefix)
        mixed = (fused + eye) / 2
        result = result @ (mixed / mixed.sum(axis=-1, keepdims=True))
    return result


def relevance(attentions: Sequence[np.ndarray], gradients: Sequence[np.ndarray], head: Head = None) -> np.ndarray:
    """(T, T) relevance of Chefer et al. (2021): R ← R + fuse((∇A ⊙ A)⁺)·R, layer by layer from R = I.

    Gradient times attention keeps the links that raise the target's logit; the clamp drops the ones that
    argue against it, so the map is class-specific where raw attention is not.
    """
    result = np.eye(np.shape(attentions[0])[-1], dtype=np.float32)
    for attention, gradient in zip(attentions, gradients, strict=True):
        contribution = np.maximum(np.asarray(gradient, np.float32) * np.asarray(attention, np.float32), 0.0)
        result = result + fuse_heads(contribution, head) @ result
    return result


def as_distribution(values: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Non-negative float32 (rows, cols) map summing to 1; uniform when nothing is left (an all-zero map)."""
    array = np.clip(np.asarray(values, dtype=np.float64), 0.0, None).reshape(shape)
    total = array.sum()
    array = array / total if total > 0 and np.isfinite(total) else np.full(shape, 1.0 / array.size)
    out = array.astype(np.float32)
    out.setflags(write=False)  # cached and shared between views: nobody may edit it in place
    return out


def mass_mask(attention_map: np.ndarray, fraction: float = 0.6) -> np.ndarray:
    """DINO's mask: the fewest top patches that together hold `fraction` of the map's mass (bool, same shape)."""
    if not 0.0 < fraction <= 1.0:
        raise ValueError(f"fraction must be in (0, 1], not {fraction}")
    flat = np.asarray(attention_map, dtype=np.float64).ravel()
    order = np.argsort(-flat, kind="stable")
    cumulative = np.cumsum(flat[order]) / max(flat.sum(), 1e-12)
    count = int(np.searchsorted(cumulative, fraction - 1e-9)) + 1
    keep = np.zeros(flat.size, dtype=bool)
    keep[order[:count]] = True
    return keep.reshape(np.shape(attention_map))


def patch_boundaries(grid: tuple[int, int], patch_size: int, scale: int = 1) -> tuple[list[int], list[int]]:
    """Pixel x and y of every patch edge (0, p·s, 2p·s, …, the far edge) in an image upscaled by `scale`."""
    rows, cols = grid
    step = patch_size * scale
    return [c * step for c in range(cols + 1)], [r * step for r in range(rows + 1)]


def patch_at(analysis: Analysis, x: float, y: float, shown_size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(row, col) of the patch under a click at (x, y), clamped to the grid.

    Coordinates are in the model view's pixels, or in those of a picture of it shown at `shown_size`
    (width, height), such as the upscaled renderings.
    """
    width, height = analysis.view.size
    if shown_size is not None:
        x, y = x * width / shown_size[0], y * height / shown_size[1]
    rows, cols = analysis.grid
    p = analysis.patch_size
    return min(max(int(y // p), 0), rows - 1), min(max(int(x // p), 0), cols - 1)


# --------------------------------------------------------------------------------------------------------
# One image, analysed once


class Analysis:
    """Everything one forward pass of `model` on one image tells, kept so that any view is arithmetic only.

    Results are stored as float32 numpy arrays with the batch dimension dropped, whatever the model's device
    and dtype (bf16 attentions would make rollout products drift): `attentions` is (layers, heads, T, T).
    """

    def __init__(self, model: ViT, view: Image.Image, inputs: torch.Tensor, output: Any):
        self.model = model
        self.view = view
        self.inputs = inputs
        self.grid: tuple[int, int] = tuple(output.grid)
        self.patch_size: int = output.patch_size
        self.num_prefix_tokens: int = model.config.num_prefix_tokens
        self.logits = output.logits[0].detach().float().cpu()
        self.probabilities = self.logits.softmax(-1)
        self.attentions = np.stack([_numpy(a[0]) for a in output.attentions])
        self.intermediates = {k: v[0].detach().float().cpu() for k, v in (output.intermediates or {}).items()}
        self._views: dict[Hashable, Any] = {}
        self._graph: Any = None  # a forward with autograd on, built by the first relevance request
        self._graph_lock = threading.Lock()  # the app may ask for relevance from two requests at once

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @property
    def depth(self) -> int:
        return len(self.attentions)

    @property
    def heads(self) -> int:
        return self.attentions[0].shape[0]

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable (label, probability) pairs, best first."""
        probs, indices = self.probabilities.topk(min(k, self.probabilities.numel()))
        return [(self.labels[i], float(p)) for p, i in zip(probs.tolist(), indices.tolist())]

    def attention_map(self, method: str = "attention", layer: int = -1, head: Head = None,
                      target: int | str | None = None, discard_ratio: float = 0.0) -> np.ndarray:
        """(rows, cols) map of where the class token looks, summing to 1 (see the module docstring).

        `layer` is the layer shown by "attention" and the last one accumulated by rollout and relevance;
        `target` (class index or label, default the top-1) matters for relevance only.
        """
        if method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, not {method!r}")
        layer, head = self._layer_index(layer), "mean" if head is None else head
        if method == "attention":
            key = ("attention", layer, head)
            return self._cached(key, lambda: self._class_row(fuse_heads(self.attentions[layer], head)))
        if method == "rollout":
            key = ("rollout", layer, head, float(discard_ratio))
            return self._cached(key, lambda: self._class_row(
                rollout(self.attentions[:layer + 1], head, discard_ratio, self.num_prefix_tokens, query=0)))
        target = self._target_index(target)
        return self._cached(("relevance", layer, head, target), lambda: self._class_row(
            relevance(self.attentions[:layer + 1], self.gradients(target)[:layer + 1], head)))

    def patch_attention(self, row: int, col: int, layer: int = -1, head: Head = None) -> np.ndarray:
        """(rows, cols): what the token of patch (row, col) attends to at `layer`, over patches only."""
        rows, cols = self.grid
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(f"patch ({row}, {col}) is outside the {rows}×{cols} grid")
        layer = self._layer_index(layer)
        query = self.num_prefix_tokens + row * cols + col
        return self._cached(("patch", row, col, layer, head), lambda: as_distribution(
            fuse_heads(self.attentions[layer], head)[query, self.num_prefix_tokens:], self.grid))

    def head_maps(self, layer: int = -1) -> np.ndarray:
        """(heads, rows, cols): each head's class-token attention at `layer`, each summing to 1."""
        layer = self._layer_index(layer)
        return self._cached(("heads", layer), lambda: np.stack([
            as_distribution(row, self.grid) for row in self.attentions[layer][:, 0, self.num_prefix_tokens:]]))

    def mask(self, fraction: float = 0.6, **map_args: Any) -> np.ndarray:
        """DINO-style (rows, cols) bool mask of the patches holding `fraction` of `attention_map(**map_args)`."""
        return mass_mask(self.attention_map(**map_args), fraction)

    def gradients(self, target: int) -> np.ndarray:
        """(layers, heads, T, T): ∂ logit[target] / ∂ A for every layer; one backward pass per new target."""
        key = ("gradients", target)
        with self._graph_lock:
            if key not in self._views:
                graph = self._graph_with_grad()
                with torch.inference_mode(False), torch.enable_grad():
                    grads = torch.autograd.grad(graph.logits[0, target], graph.attentions, retain_graph=True)
                self._views[key] = np.stack([_numpy(g[0]) for g in grads])
        return self._views[key]

    def clear_cache(self) -> None:
        """Forget every computed map, gradient and the autograd graph (memory); the forward's results stay."""
        with self._graph_lock:
            self._views.clear()
            self._graph = None

    def _graph_with_grad(self) -> Any:
        """The forward again with autograd recording, through the input, so frozen weights need no grads."""
        if self._graph is None:
            with torch.inference_mode(False), torch.enable_grad():
                inputs = self.inputs.clone().requires_grad_(True)
                self._graph = self.model(inputs, self.patch_size, output_attentions=True)
        return self._graph

    def _class_row(self, matrix: np.ndarray) -> np.ndarray:
        """The class token's row (of a (T, T) matrix, or that row itself) over the patches, as a map."""
        row = matrix if matrix.ndim == 1 else matrix[0]
        return as_distribution(row[self.num_prefix_tokens:], self.grid)

    def _cached(self, key: Hashable, compute: Callable[[], np.ndarray]) -> np.ndarray:
        if key not in self._views:
            self._views[key] = compute()
        return self._views[key]

    def _layer_index(self, layer: int) -> int:
        if not -self.depth <= layer < self.depth:
            raise ValueError(f"layer must be in [-{self.depth}, {self.depth}), not {layer}")
        return layer % self.depth

    def _target_index(self, target: int | str | None) -> int:
        if target is None:
            return int(self.probabilities.argmax())
        if isinstance(target, str):
            if target not in self.labels:
                raise ValueError(f"unknown label {target!r}")
            return self.labels.index(target)
        if not 0 <= int(target) < len(self.labels):
            raise ValueError(f"target must be a class index below {len(self.labels)}, not {target}")
        return int(target)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    return tensor.detach().float().cpu().numpy()


def analyze(model: ViT, image: Image.Image, patch_size: int | None = None, keep_aspect: bool = False) -> Analysis:
    """Run `model` once on `image` at `patch_size` and keep its attentions and stages for every view."""
    view = model_view(image, model.config, patch_size, keep_aspect)
    inputs = to_tensor(view, model.config).to(model.device)
    with torch.inference_mode():
        output = model(inputs, patch_size, output_attentions=True, output_intermediates=True)
    return Analysis(model, view, inputs, output)
