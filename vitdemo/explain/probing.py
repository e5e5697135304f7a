"""The ViT paper's probing figures (Dosovitskiy et al. 2020, Fig. 7), for whichever model is loaded.

* Left: the top principal components of the patch-embedding filters, as RGB tiles — a trained ViT's
  look like plausible basis functions for each patch's fine structure (edges, colour blobs).
* Centre: the cosine similarity of each patch's position embedding with every other one, one small grid
  per position — a trained ViT learns 2-D distance (and row/column structure) from a 1-D sequence.
* Right: the mean attention distance of every head, by layer, in pixels — some heads attend globally from
  the first layer; distance grows with depth. The paper averages over 128 images; we show the current one.

Each figure is one function computing the numbers (documented shape) and one drawing them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch
from PIL import Image

from ..model import ViT
from ..numbering import shown
from .analysis import Analysis
from .render import colorize, tile_grid, upscaled

FIGURE_SIDE = 448  # target width of the tiled figures, in pixels


def filter_components(model: ViT, count: int = 28, patch_size: int | None = None) -> np.ndarray:
    """(count, p, p, channels) float array in [0, 1]: the top principal components of the embedding filters.

    Each of the D filters (C·p·p numbers) is one sample; components are sorted by explained variance and
    each is min-max scaled on its own, as in the paper's figure (their sign is arbitrary).
    """
    with torch.inference_mode():
        kernel = model.patch_embed.kernel(patch_size or model.config.patch_size).detach().float().cpu()
    dim, channels, p, _ = kernel.shape
    filters = kernel.reshape(dim, channels * p * p).double().numpy()
    _, _, components = np.linalg.svd(filters - filters.mean(0), full_matrices=False)
    components = components[:count].reshape(-1, channels, p, p).transpose(0, 2, 3, 1)
    low = components.min(axis=(1, 2, 3), keepdims=True)
    high = components.max(axis=(1, 2, 3), keepdims=True)
    return ((components - low) / np.maximum(high - low, 1e-12)).astype(np.float32)


def position_similarity(model: ViT, grid: tuple[int, int] | None = None) -> np.ndarray:
    """(rows, cols, rows, cols): cosine similarity of each patch position's embedding with every other one.

    `grid` defaults to the native one; another grid uses the resampled embeddings the model actually adds
    at that patch size. Prefix-token positions (class, distillation) are left out.
    """
    side = model.config.image_size // model.config.patch_size
    rows, cols = grid or (side, side)
    with torch.inference_mode():
        positions = model.position_embeddings((rows, cols))[1][0].detach().float().cpu()
    unit = torch.nn.functional.normalize(positions, dim=-1)
    return (unit @ unit.T).reshape(rows, cols, rows, cols).numpy()


def attention_distances(attentions: Sequence[np.ndarray], grid: tuple[int, int], patch_size: int,
                        prefix: int = 1) -> np.ndarray:
    """(layers, heads) mean attention distance in pixels: Σ_k A[q, k]·|q − k| averaged over query patches.

    Only patch-to-patch attention counts, renormalised over patch keys (the class token has no place in
    the image); distances are between patch centres, in pixels of the model's input.
    """
    rows, cols = grid
    ys, xs = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    centers = np.stack([ys.ravel(), xs.ravel()], axis=1) * float(patch_size)
    distance = np.linalg.norm(centers[:, None] - centers[None], axis=-1)
    result = []
    for attention in attentions:
        patches = np.asarray(attention, dtype=np.float64)[:, prefix:, prefix:]
        patches = patches / np.maximum(patches.sum(axis=-1, keepdims=True), 1e-12)
        result.append((patches * distance).sum(axis=-1).mean(axis=-1))
    return np.stack(result)


def mean_attention_distance(analysis: Analysis) -> np.ndarray:
    """(layers, heads) mean attention distance in pixels for the analysed image (no forward pass)."""
    return attention_distances(analysis.attentions, analysis.grid, analysis.patch_size,
                               analysis.num_prefix_tokens)


def filters_image(components: np.ndarray, columns: int = 7) -> Image.Image:
    """The components as RGB tiles, `columns` per row, each tile about 48 px."""
    count, p = components.shape[0], components.shape[1]
    pixels = np.round(components * 255).astype(np.uint8)
    if pixels.shape[-1] != 3:  # grey or multi-channel models: show the first channel in grey
        pixels = np.repeat(pixels[..., :1], 3, axis=-1)
    scale = max(1, 48 // p)
    return tile_grid([upscaled(Image.fromarray(tile), scale) for tile in pixels], min(columns, count), gap=4)


def similarity_image(similarity: np.ndarray, cmap: str = "viridis") -> Image.Image:
    """The grid of grids: tile (r, c) shows position (r, c)'s similarity to all others, on a −1…1 scale."""
    rows, cols = similarity.shape[:2]
    gap = 2 if cols > 8 else 4
    scale = max(1, (FIGURE_SIDE // cols - gap) // cols)
    tiles = [upscaled(Image.fromarray(colorize(similarity[r, c], cmap, -1.0, 1.0)), scale)
             for r in range(rows) for c in range(cols)]
    return tile_grid(tiles, cols, gap)


def distance_plot(distances: np.ndarray, image_size: int | None = None, dpi: int = 100) -> Image.Image:
    """Scatter of each head's mean attention distance against layer (the paper's Fig. 7, right)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    layers, heads = distances.shape
    figure = Figure(figsize=(4.8, 3.6), dpi=dpi)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    colors = colorize(np.arange(heads) / max(heads - 1, 1), "turbo", 0.0, 1.0) / 255
    for h in range(heads):
        axes.scatter(np.arange(1, layers + 1), distances[:, h], s=14, color=colors[h], label=f"head {shown(h)}")
    axes.set_xlabel("network depth (layer)")
    axes.set_ylabel("mean attention distance (pixels)")
    axes.set_xticks(range(1, layers + 1, max(1, math.ceil(layers / 12))))
    top = max(float(distances.max()) * 1.1, (image_size or 0) / 2, 1.0)  # uniform attention: about half the side
    axes.set_ylim(0, top)
    if heads <= 16:
        axes.legend(fontsize=6, ncol=2, loc="lower right", frameon=False)
    figure.tight_layout()
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")


def probing_figures(analysis: Analysis) -> dict[str, Image.Image]:
    """All three figures for the analysed model and image, named as the paper's panels."""
    model = analysis.model
    return {
        "embedding filters": filters_image(filter_components(model)),
        "position embedding similarity": similarity_image(position_similarity(model)),
        "mean attention distance": distance_plot(mean_attention_distance(analysis),
                                                 max(analysis.view.size)),
    }
