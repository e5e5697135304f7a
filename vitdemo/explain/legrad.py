"""LeGrad (Bousselham et al. 2024): how much each layer's attention to a patch would raise the class score.

For every layer l, the tokens leaving block l are read out as if the model stopped there, with the model's
own final norm and head (`ViT.classify`), giving a layer score s^l for the target class; the map of layer
l is ∂s^l/∂A^l (A^l that layer's post-softmax attention), clamped at 0, averaged over heads and over query
rows, at the key columns of the patches. The maps of layers 1..L are averaged. No attention values are
multiplied in: the gradient alone is the signal, which is what separates LeGrad from relevance.

Each layer needs one short backward (from s^l back to A^l only: that block's projection, MLP, the norm and
the head), run by hand on the activations the analysis forward kept (`backprop.legrad_gradients`), as
relevance's is: LeGrad costs no new forward.

Choices against the references:

* Layer readout. The authors' wrapper (WalBouss/LeGrad, for CLIP) and torchcam's default (for torchvision
  ViTs) pool the mean of all tokens before the norm and head. A classifier ViT reads its class token (DeiT:
  the mean of its class and distillation heads), so vitdemo scores each layer with that readout, through
  torchcam's `score_projection` hook for exactly this case; the last layer's score is then the very logit
  being explained, and prefix tokens (class, distillation, registers: `num_prefix_tokens`) are never keys.
* Layers. The authors default to the last two layers, torchcam to those it is given; here `layer` is the
  last one averaged, from the first, as for rollout and relevance (the project page aggregates all).
* Normalisation. Both references min-max the map; vitdemo's maps sum to 1 instead. Min-max of a vitdemo
  LeGrad map equals the reference's map (a positive scale does not change min-max).
* Heads. Averaged, as in the paper; a head index or max/min fuses each head's map (mean over queries first).

The per-target reduction kept is (layers, heads, T) float32: small even for ViT-B at patch 8.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from .maps import Head, fuse_heads

Readout = Callable[[torch.Tensor], torch.Tensor]  # tokens (B, T, D) → logits (B, classes)


def model_readout(model: torch.nn.Module) -> Readout:
    """The model's own last step, applied to any layer's tokens: final norm, then the head(s)."""
    return lambda tokens: model.classify(model.norm(tokens))


def layer_readout(model: torch.nn.Module) -> Readout:
    """What LeGrad scores each layer with: an image–text model's own `layer_scores` (the authors' readout for
    CLIP, image_text.py), else the model's last step (`model_readout`)."""
    return getattr(model, "layer_scores", None) or model_readout(model)


def legrad_rows(gradients: Sequence[torch.Tensor | np.ndarray]) -> np.ndarray:
    """(layers, heads, T): each layer's and head's positive gradient averaged over query rows."""
    rows = [torch.as_tensor(g).float().clamp(min=0).mean(dim=-2).detach().cpu().numpy() for g in gradients]
    return np.stack(rows).astype(np.float32)


def legrad(rows: np.ndarray, head: Head = None) -> np.ndarray:
    """(T,) LeGrad over keys: the heads fused (mean by default), averaged over the layers of `rows`."""
    return np.mean([fuse_heads(layer, head) for layer in rows], axis=0)


def legrad_by_layer(rows: np.ndarray, head: Head = None) -> np.ndarray:
    """(layers, T): `legrad(rows[:l + 1], head)` for every l, as one running mean."""
    fused = np.stack([fuse_heads(layer, head) for layer in rows])
    return np.cumsum(fused, axis=0) / np.arange(1, len(fused) + 1, dtype=np.float32)[:, None]
