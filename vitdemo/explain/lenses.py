"""Lenses beyond attention, on the token outputs one forward pass keeps: norms, prefix tokens, features.

* **Token norms** (Darcet et al., "Vision Transformers Need Registers", ICLR 2024): large ViTs reuse a few
  low-information background patches as scratch space, and those tokens' outputs grow an order of
  magnitude larger than the rest. `token_norms` gives every token's norm after every block; `outliers`
  marks the far-out ones (Tukey's fence, Q3 + 3·IQR over the layer's patch tokens), the artifacts.
* **Prefix tokens**: `prefix_attention` is where the class token, the distillation token or each register
  attends, a row of the stored attention like the class token's map.
* **Features** (DINOv2's figure): `feature_pca` projects the last layer's patch tokens on their first three
  principal components, shown as RGB; the first component, thresholded at zero, separates foreground from
  background for self-supervised models. `feature_similarity` is every patch's cosine similarity to every
  patch, for clicking one.

Everything here reads `Analysis.intermediates` and `Analysis.attentions`: no forward pass, no torch ops.
"""

from __future__ import annotations

import numpy as np

from .analysis import Analysis
from .maps import as_distribution, fuse_heads

FENCE = 3.0  # Tukey's "far out": beyond Q3 + 3·IQR


def block_outputs(analysis: Analysis) -> np.ndarray:
    """(layers, T, D): every token after every block, in float32."""
    return np.stack([analysis.intermediates[f"block{i}"].float().numpy() for i in range(analysis.depth)])


def token_norms(analysis: Analysis) -> np.ndarray:
    """(layers, T): the L2 norm of every token's output after every block (prefix tokens first)."""
    return np.linalg.norm(block_outputs(analysis), axis=-1).astype(np.float32)


def outliers(norms: np.ndarray, prefix: int) -> np.ndarray:
    """(…, T) bool: patch tokens whose norm is beyond Q3 + 3·IQR of their layer's patch norms (prefix: never)."""
    patches = np.asarray(norms)[..., prefix:]
    q1, q3 = np.percentile(patches, [25, 75], axis=-1, keepdims=True)
    marked = np.zeros(np.shape(norms), dtype=bool)
    marked[..., prefix:] = patches > q3 + FENCE * (q3 - q1)
    return marked


def prefix_attention(analysis: Analysis, token: int, layer: int, head: int | str | None = "mean") -> np.ndarray:
    """(rows, cols): where prefix token `token` (0 = class, then distillation / registers) attends at `layer`."""
    if not 0 <= token < analysis.num_prefix_tokens:
        raise ValueError(f"token must be a prefix token from 0 to {analysis.num_prefix_tokens - 1}, not {token}")
    row = fuse_heads(analysis.attentions[layer % analysis.depth], head)[token, analysis.num_prefix_tokens:]
    return as_distribution(row, analysis.grid)


def patch_features(analysis: Analysis) -> np.ndarray:
    """(rows·cols, D): the patch tokens of the last layer, after the final norm (what DINOv2 calls
    `x_norm_patchtokens`)."""
    return analysis.intermediates["encoded"].float().numpy()[analysis.num_prefix_tokens:]


def feature_pca(analysis: Analysis, components: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """((rows, cols, 3) RGB in [0, 1], (rows, cols) foreground mask): the first principal components of the
    patch features, each min-max scaled, and the first component's sign (the larger side is background,
    as the component's sign is arbitrary)."""
    features = patch_features(analysis).astype(np.float64)
    projected = leading_components(features - features.mean(axis=0), components)  # (N, components)
    low, high = projected.min(axis=0), projected.max(axis=0)
    rgb = (projected - low) / np.where(high > low, high - low, 1.0)
    first = projected[:, 0]
    foreground = first > 0 if (first > 0).sum() <= (first <= 0).sum() else first <= 0
    rows, cols = analysis.grid
    return rgb.reshape(rows, cols, components).astype(np.float32), foreground.reshape(rows, cols)


KRYLOV_FROM = 256  # patches: below this a full eigendecomposition is as fast (patch 14 and up at 224 px)


def leading_components(centred: np.ndarray, count: int, tolerance: float = 1e-10,
                       block: int = 8, seed: int = 0) -> np.ndarray:
    """(N, count): the projections of the rows of a centred (N, D) matrix on its `count` principal axes, the
    largest first, each signed so that its largest entry (in magnitude) is positive.

    Only a few of the N components are wanted, and a full eigendecomposition of the N×N Gram matrix (784×784
    at patch 8) costs ~100 ms. So: block Krylov iteration (Musco & Musco, NeurIPS 2015) on M = C·Cᵀ from a
    seeded random start — the space of C·Ω, M·C·Ω, M²·C·Ω, … grown a block at a time, each block orthonormal
    to the rest, and the best `count` directions in it by Rayleigh–Ritz — until every wanted direction u
    with value θ has ‖M·u − θ·u‖ ≤ `tolerance`·θ₁, the largest. That takes a few blocks when the leading
    values stand apart and more when they crowd; if the space would reach N/2 first, the full Gram-matrix
    decomposition is used instead. Either way the pictures agree with an SVD's components to 1e-6
    (tests/test_lenses.py, at patch 8 on ViT-B-sized features).
    """
    n = centred.shape[0]
    if n < KRYLOV_FROM:
        return _signed(_gram_components(centred, count))
    space = np.empty((n, 0))  # K: orthonormal columns spanning the Krylov space so far
    image = np.empty((centred.shape[1], 0))  # Cᵀ·K
    gram = np.empty((0, 0))  # Kᵀ·M·K = (Cᵀ·K)ᵀ·(Cᵀ·K), grown a block at a time
    grow = centred @ np.random.default_rng(seed).standard_normal((centred.shape[1], block))
    while space.shape[1] + block <= n // 2:
        for _ in range(2):  # Gram–Schmidt against the space so far, twice (once loses orthogonality)
            grow -= space @ (space.T @ grow)
        new = np.linalg.qr(grow)[0]
        new_image = centred.T @ new
        cross = image.T @ new_image
        gram = np.block([[gram, cross], [cross.T, new_image.T @ new_image]])
        space, image = np.hstack([space, new]), np.hstack([image, new_image])
        if space.shape[1] >= 2 * count:
            values, vectors = np.linalg.eigh(gram)
            top = np.argsort(values)[::-1][:count]
            directions = space @ vectors[:, top]
            residual = centred @ (image @ vectors[:, top]) - directions * values[top]
            if np.linalg.norm(residual, axis=0).max() <= tolerance * values[top[0]]:
                return _signed(directions * np.sqrt(np.clip(values[top], 0.0, None)))
        grow = centred @ new_image  # M times the newest block
    return _signed(_gram_components(centred, count))


def _gram_components(centred: np.ndarray, count: int) -> np.ndarray:
    """The projections from the N×N Gram matrix's eigendecomposition: the same as an SVD of the N×D matrix."""
    values, vectors = np.linalg.eigh(centred @ centred.T)
    top = np.argsort(values)[::-1][:count]
    return vectors[:, top] * np.sqrt(np.clip(values[top], 0.0, None))


def _signed(projected: np.ndarray) -> np.ndarray:
    """Each column times ±1 so that its entry of largest magnitude is positive (a component's sign is arbitrary:
    fixing it keeps the picture's colours the same whichever method found the component)."""
    peaks = projected[np.abs(projected).argmax(axis=0), np.arange(projected.shape[1])]
    return projected * np.where(peaks < 0, -1.0, 1.0)


def feature_similarity(analysis: Analysis) -> np.ndarray:
    """(rows·cols, rows, cols): each patch's cosine similarity to every patch, negatives clipped to 0."""
    features = patch_features(analysis).astype(np.float32)
    unit = features / np.maximum(np.linalg.norm(features, axis=-1, keepdims=True), 1e-12)
    return np.clip(unit @ unit.T, 0.0, 1.0).reshape(-1, *analysis.grid)
