"""Training aids that make a small ViT learn the shapes in CPU-minutes rather than CPU-hours.

Measured on `shapes` (see `assets/bundled/MODEL_CARD.md`): with plain cross-entropy a 1.2M-parameter ViT
sits at chance for thousands of images and is still near 20% after 60k. The obstacle is colour: every
object and background has a random colour, so a patch embedding mixes "which colours" with "which edge",
and untangling them is slow. The same model learns white-on-black silhouettes within a few hundred steps.
So each aid supplies what silhouettes make easy, and none of them changes the saved model:

* `mimetic_init_`: attention starts as "attend to tokens that look alike" (Trockman & Kolter, 2023), which
  groups a colour region's patches from step one;
* `token_label_loss`: every patch mostly inside the object is classified by the model's own head (token
  labelling, Jiang et al. 2021, with exact labels), a dense signal that also makes object patches the ones
  worth attending to;
* `SilhouetteHead`: a training-only linear head on a middle block predicts each patch's share of object
  pixels on a 4×4 sub-grid: the object masks as dense supervision of *where the edges are*, whatever their
  colours. It is dropped after training.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..data.masks import patch_cover
from ..model import ViT, ViTOutput, loss

SUBGRID = 4  # silhouette targets per patch side


@torch.no_grad()
def mimetic_init_(model: ViT, generator: torch.Generator, alpha: float = 0.7, beta: float = 0.7) -> None:
    """Set W_q W_kᵀ ≈ αZ + βI per head and W_o W_v ≈ αZ − βI (Z random, scaled by 1/√d) in every block."""
    d, heads = model.config.dim, model.config.heads
    k = d // heads
    for block in model.blocks:
        qkv = block.attn.qkv.weight  # rows: [q; k; v], each d × d, heads in blocks of k rows
        for h in range(heads):
            left, right = _factors(alpha * torch.randn(d, d, generator=generator) / d**0.5 + beta * torch.eye(d), k)
            qkv[h * k:(h + 1) * k] = left.T
            qkv[d + h * k:d + (h + 1) * k] = right.T
        left, right = _factors(alpha * torch.randn(d, d, generator=generator) / d**0.5 - beta * torch.eye(d), d)
        qkv[2 * d:] = right.T
        block.attn.proj.weight.copy_(left)


def _factors(matrix: torch.Tensor, rank: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(L, R), each (n, rank), with L Rᵀ the best rank-`rank` approximation of `matrix` (split SVD)."""
    u, s, vh = torch.linalg.svd(matrix)
    root = s[:rank].sqrt()
    return u[:, :rank] * root, vh[:rank].T * root


def token_label_loss(model: ViT, out: ViTOutput, labels: torch.Tensor, masks: torch.Tensor,
                     label_smoothing: float = 0.0) -> torch.Tensor:
    """Cross-entropy of the head applied to every patch at least half inside the object, against its label."""
    patches = out.intermediates["encoded"][:, model.config.num_prefix_tokens:]
    inside = patch_cover(masks, out.grid)[..., 0] >= 0.5
    if not inside.any():
        return out.logits.new_zeros(())
    return loss(model.head(patches[inside]), labels[:, None].expand_as(inside)[inside], label_smoothing)


class SilhouetteHead(nn.Module):
    """LayerNorm + linear map from a middle block's patch tokens to their SUBGRID² object shares."""

    def __init__(self, model: ViT):
        super().__init__()
        self.block = max(0, model.config.depth // 2 - 1)
        self.prefix = model.config.num_prefix_tokens
        self.norm = nn.LayerNorm(model.config.dim)
        self.linear = nn.Linear(model.config.dim, SUBGRID * SUBGRID)

    def loss(self, out: ViTOutput, masks: torch.Tensor) -> torch.Tensor:
        tokens = out.intermediates[f"block{self.block}"][:, self.prefix:]
        predicted = self.linear(self.norm(tokens)).float()
        return F.binary_cross_entropy_with_logits(predicted, patch_cover(masks, out.grid, SUBGRID))


class Objective(nn.Module):
    """The model and its training-only heads as one module whose forward returns the training loss.

    One module, so that DistributedDataParallel can wrap everything that has parameters at once: DDP
    averages the gradients of its wrapped module's parameters only (and prepares that in its forward), so a
    silhouette head called beside the wrapped model would quietly train on each rank's own images.
    """

    def __init__(self, model: ViT, silhouette: SilhouetteHead | None = None, token_loss: float = 0.0,
                 silhouette_loss: float = 0.0, label_smoothing: float = 0.0):
        super().__init__()
        self.model, self.silhouette = model, silhouette
        self.token_loss, self.silhouette_loss, self.label_smoothing = token_loss, silhouette_loss, label_smoothing

    def forward(self, x: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor,
                patch_size: int) -> tuple[torch.Tensor, torch.Tensor]:
        """(loss, logits) of a batch at `patch_size`; the dense aids need masks (shapes), else they are off."""
        dense = masks.numel() > 0 and (self.token_loss > 0 or self.silhouette is not None)
        out = self.model(x, patch_size=patch_size, output_attentions=False, output_intermediates=dense)
        value = loss(out.logits, labels, self.label_smoothing)
        if dense and self.token_loss > 0:
            value = value + self.token_loss * token_label_loss(self.model, out, labels, masks, self.label_smoothing)
        if dense and self.silhouette is not None:
            value = value + self.silhouette_loss * self.silhouette.loss(out, masks)
        return value, out.logits
