"""How good a model is, measured the way the model card reports it: top-1 per patch size, and whether the
class-token attention rollout points at the object (the fraction of its mass inside the object's mask).

Images go through `preprocessing.preprocess`, the same path the app uses, so these numbers are the app's.
The rollout is the explanation code's own (Abnar & Zuidema 2020), so the metric measures the map users see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from .. import explain
from ..data.masks import patch_cover
from ..model import ViT
from ..preprocessing import preprocess


@dataclass
class PatchSizeResult:
    patch_size: int
    accuracy: float  # top-1 over the images
    rollout_mass: float | None  # mean share of the rollout on patches inside the mask (None without masks)
    mask_fraction: float | None  # mean share of the image the masks cover: what uniform attention would score
    images: int


def rollout(attentions: Sequence[torch.Tensor], num_prefix_tokens: int = 1) -> torch.Tensor:
    """(B, rows·cols) class-token attention rollout over the patch tokens, each row summing to 1.

    The map the app shows (`explain.rollout`, heads averaged, no discarding), per image of the batch.
    """
    layers = [layer.float().cpu().numpy() for layer in attentions]
    rows = [explain.rollout([layer[i] for layer in layers], query=0)[num_prefix_tokens:]
            for i in range(layers[0].shape[0])]
    result = torch.from_numpy(np.stack(rows))
    return result / result.sum(dim=-1, keepdim=True)


def mass_inside(maps: torch.Tensor, coverages: torch.Tensor) -> torch.Tensor:
    """(B,) Σ map × covered fraction: how much of each map lies on the object."""
    return (maps * coverages).sum(dim=-1)


def _inputs(model: ViT, images: Sequence[Image.Image], patch_size: int) -> torch.Tensor:
    return torch.cat([preprocess(im, model.config, patch_size) for im in images])


@torch.no_grad()
def evaluate(model: ViT, images: Sequence[Image.Image], labels: Sequence[int], patch_size: int,
             masks: Sequence[np.ndarray] | None = None, batch_size: int = 128) -> PatchSizeResult:
    """Top-1 accuracy at `patch_size` and, given masks aligned with the images, the rollout mass inside them.

    Masks must be aligned with the model's view of the image: true for images already at the input size.
    """
    model.eval()
    correct, masses, fractions = 0, [], []
    for start in range(0, len(images), batch_size):
        chunk = slice(start, start + batch_size)
        x = _inputs(model, images[chunk], patch_size).to(model.device)
        out = model(x, patch_size=patch_size, output_attentions=masks is not None)
        target = torch.as_tensor(list(labels[chunk]))
        correct += int((out.logits.argmax(-1).cpu() == target).sum())
        if masks is not None:
            maps = rollout(out.attentions, model.config.num_prefix_tokens).cpu()
            cover = torch.cat([patch_cover(m, out.grid, side=x.shape[-1])[..., 0] for m in masks[chunk]])
            masses.append(mass_inside(maps, cover))
            fractions.extend(float(np.mean(m)) for m in masks[chunk])
    return PatchSizeResult(
        patch_size, correct / max(len(images), 1),
        float(torch.cat(masses).mean()) if masses else None,
        float(np.mean(fractions)) if fractions else None, len(images))


def evaluate_shapes(model: ViT, n: int = 1100, seed: int = 12345, patch_sizes: Iterable[int] | None = None,
                    image_size: int | None = None) -> list[PatchSizeResult]:
    """Accuracy and rollout mass on `n` freshly generated shapes (seed ≠ training's) at each patch size."""
    from ..data.shapes import SHAPE_LABELS, ShapesDataset

    data = ShapesDataset(n, image_size=image_size or model.config.image_size, seed=seed)
    samples = [data[i] for i in range(n)]
    images, masks = [s.image for s in samples], [s.mask for s in samples]
    labels = [model.labels.index(SHAPE_LABELS[s.label]) for s in samples]  # by name: heads may order differently
    sizes = list(patch_sizes or model.config.offered_patch_sizes())
    return [evaluate(model, images, labels, p, masks) for p in sizes]
