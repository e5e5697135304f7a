"""The query·key scores before the softmax: the numbers each attention row is the softmax of.

A head's attention is softmax(q·kᵀ/√d) over the keys (`model.Attention.attend`), d the head's width. The
probabilities hide how far apart the keys were: two keys at 0.5 and 0.4 may be scores 9.1 and 8.9 or 1.2 and
1.0 (Transformer Explainer shows both for this reason). The scores are read from the [q; k; v] the analysis
forward kept (`Analysis.qkv`), scaled by 1/√d as the model scales them, so `softmax(scores)` is the analysis's
attention.
"""

from __future__ import annotations

import numpy as np
import torch

from .analysis import Analysis


def head_dim(analysis: Analysis) -> int:
    """The width d of one head's queries and keys (the model's width over its heads)."""
    return analysis.model.config.dim // analysis.heads


def query_key_scores(analysis: Analysis, layer: int) -> np.ndarray:
    """(heads, T, T) float32: q·kᵀ/√d of every head at `layer`, rows the queries, columns the keys.

    Computed as the model computes it, (q · d^-½) @ kᵀ, in its dtype on its device, then converted: in bf16
    the scores the softmax saw were rounded to bf16, and float32 ones would miss the model's attention by
    up to a few percent.
    """
    qkv = analysis.qkv(layer).detach().to(analysis.model.device)
    t, d = qkv.shape[0], head_dim(analysis)
    q, k, _ = qkv.view(t, 3, analysis.heads, d).permute(1, 2, 0, 3)  # each (heads, T, d)
    with torch.inference_mode():
        return ((q * (d ** -0.5)) @ k.transpose(-2, -1)).float().cpu().numpy()
