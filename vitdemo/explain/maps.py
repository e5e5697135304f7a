"""The map math, on one image's attentions: each layer a (heads, T, T) float32 array, rows = queries.

numpy, not torch: these are dozens of tiny ops, and torch's per-op thread hand-offs cost more than the
arithmetic (10× slower on a busy 2-core server); numpy runs them in the calling thread. `Analysis`
(analysis.py) applies them to a stored forward pass; nothing here knows about models or pictures.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from ..constants import HEAD_FUSIONS

Head = int | str | None
Query = int | np.ndarray  # a token's index (the class token: 0), or a row of weights over the tokens (SigLIP's probe)


def start_row(query: Query, tokens: int) -> np.ndarray:
    """(T,) float32: e_query for a token index, or the given weights over the tokens (the pooling probe's
    attention: a row of the product through which the pooled output reads the tokens, as e_0 is the class
    token's)."""
    if isinstance(query, (int, np.integer)):
        return np.eye(tokens, dtype=np.float32)[int(query)]
    return np.asarray(query, dtype=np.float32)


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
            prefix: int = 1, query: Query | None = None) -> np.ndarray:
    """(T, T) attention rollout Â_L ⋯ Â_1 with Â = rownorm((fuse(A) + I)/2), rownorm with keepdim.

    The residual connection carries half the signal, hence + I; renormalising each row over keys (keepdim,
    the axis vit-explain gets wrong) keeps every Â a proper mixing matrix. With `query`, only that row
    (shape (T,)) is computed, right to left as vector-matrix products: a map needs the class token's only.
    """
    eye = np.eye(np.shape(attentions[0])[-1], dtype=np.float32)
    result = eye if query is None else start_row(query, len(eye))
    for attention in reversed(attentions):
        result = result @ _mixing(attention, head, discard_ratio, prefix, eye)
    return result


def _mixing(attention: np.ndarray, head: Head, discard_ratio: float, prefix: int, eye: np.ndarray) -> np.ndarray:
    """Rollout's Â = rownorm((fuse(A) + I)/2) of one layer, in one new (T, T) array (at patch 8 each is 2.4 MB)."""
    fused = discard_lowest(fuse_heads(np.asarray(attention, dtype=np.float32), head), discard_ratio, prefix)
    mixed = fused + eye  # new: `fused` may be a view of the stored attention (one head, nothing discarded)
    mixed /= 2
    mixed /= mixed.sum(axis=-1, keepdims=True)
    return mixed


def relevance(attentions: Sequence[np.ndarray], gradients: Sequence[np.ndarray], head: Head = None,
              query: Query | None = None) -> np.ndarray:
    """(T, T) relevance of Chefer et al. (2021): R ← R + fuse((∇A ⊙ A)⁺)·R, layer by layer from R = I.

    Gradient times attention keeps the links that raise the target's logit; the clamp drops the ones that
    argue against it, so the map is class-specific where raw attention is not. With `query`, only that row
    (shape (T,)) is computed: R = (I + C_L)⋯(I + C_1), so its row is e_qᵀ multiplied left to right, one
    vector-matrix product per layer instead of a T×T product (at 785 tokens, 785× less arithmetic).
    """
    contributions = _relevance_steps(attentions, gradients, head)
    if query is not None:
        return _row_through(contributions[::-1], query)
    result = np.eye(np.shape(attentions[0])[-1], dtype=np.float32)
    for contribution in contributions:
        result = result + contribution @ result
    return result


def _relevance_steps(attentions: Sequence[np.ndarray], gradients: Sequence[np.ndarray], head: Head) -> list[np.ndarray]:
    """C_l = fuse((∇A_l ⊙ A_l)⁺), one (T, T) matrix per layer, first layer first."""
    return [fuse_heads(np.maximum(np.asarray(gradient, np.float32) * np.asarray(attention, np.float32), 0.0), head)
            for attention, gradient in zip(attentions, gradients, strict=True)]


def _row_through(contributions: Sequence[np.ndarray], query: Query) -> np.ndarray:
    """Row `query` of (I + C_a)(I + C_b)⋯ for contributions [C_a, C_b, …]: v ← v + v·C, left to right."""
    row = start_row(query, np.shape(contributions[0])[-1])
    for contribution in contributions:
        row = row + row @ contribution
    return row


def rollout_by_layer(attentions: Sequence[np.ndarray], head: Head = None, discard_ratio: float = 0.0,
                     prefix: int = 1, query: Query = 0) -> np.ndarray:
    """(layers, T): row `query` of the rollout up to each layer, `rollout(attentions[:l + 1])[query]` for every l.

    Each Â is built once and read once (`_rows_by_layer`), far cheaper than carrying the full T×T product
    (T³ per layer).
    """
    eye = np.eye(np.shape(attentions[0])[-1], dtype=np.float32)
    mixing = [_mixing(attention, head, discard_ratio, prefix, eye) for attention in attentions]
    return _rows_by_layer(mixing, query, lambda rows, matrix: rows @ matrix)


def relevance_by_layer(attentions: Sequence[np.ndarray], gradients: Sequence[np.ndarray], head: Head = None,
                       query: Query = 0) -> np.ndarray:
    """(layers, T): row `query` of the relevance up to each layer, `relevance(…[:l + 1], query=query)` for every l.

    As in `rollout_by_layer`, each layer's step is read once for the rows of every layer above it, rather than
    carrying the running T×T product (T³ per layer).
    """
    contributions = _relevance_steps(attentions, gradients, head)
    return _rows_by_layer(contributions, query, lambda rows, contribution: rows + rows @ contribution)


def _rows_by_layer(matrices: Sequence[np.ndarray], query: Query,
                   step: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> np.ndarray:
    """(layers, T): for every l, row `query` of matrix l applied down to matrix 0, `step` being one application.

    Row l is e_query taken through matrices l, l−1, …, 0. Going down from the last matrix, each matrix is applied
    at once to the rows of every layer at or above it (a (rows, T)·(T, T) product reading the matrix once),
    instead of one vector-matrix product per (row, matrix) pair that reads it L/2 times on average.
    """
    rows = np.zeros((0, np.shape(matrices[0])[-1]), dtype=np.float32)
    start = start_row(query, np.shape(matrices[0])[-1])[None]
    for matrix in reversed(matrices):
        rows = step(np.concatenate([rows, start]), matrix)  # the new row is layer l's, just begun
    return rows[::-1].copy()


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


