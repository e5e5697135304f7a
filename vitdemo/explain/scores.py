"""The query·key scores before the softmax: the numbers each attention row is the softmax of.

A head's attention is softmax(q·kᵀ/√d) over the keys (`model.Attention.attend`), d the head's width. The
probabilities hide how far apart the keys were: two keys at 0.5 and 0.4 may be scores 9.1 and 8.9 or 1.2 and
1.0 (Transformer Explainer shows both for this reason). The scores are read from the [q; k; v] the analysis
forward kept (`Analysis.qkv`), scaled by 1/√d as the model scales them, so `softmax(scores)` is the analysis's
attention.

The arithmetic is numpy's on float32 copies, rounded where the model's dtype rounds (bf16, fp16): torch's small
CPU kernels each cost milliseconds on a busy machine (its thread pool), numpy's microseconds.
"""

from __future__ import annotations

import numpy as np
import torch

from .analysis import Analysis


def head_dim(analysis: Analysis) -> int:
    """The width d of one head's queries and keys (the model's width over its heads)."""
    return analysis.model.config.dim // analysis.heads


def rounded(values: np.ndarray, dtype: torch.dtype) -> np.ndarray:
    """float32 `values` rounded to `dtype` and back (nearest, ties to even), as the model's arithmetic rounds."""
    if dtype == torch.float16:
        return values.astype(np.float16).astype(np.float32)
    if dtype == torch.bfloat16:  # bf16 is float32's upper 16 bits
        bits = np.ascontiguousarray(values, dtype=np.float32).view(np.uint32)
        bits = (bits + np.uint32(0x7FFF) + ((bits >> np.uint32(16)) & np.uint32(1))) & np.uint32(0xFFFF0000)
        return bits.view(np.float32)
    return values


def query_key_scores(analysis: Analysis, layer: int) -> np.ndarray:
    """(heads, T, T) float32: q·kᵀ/√d of every head at `layer`, rows the queries, columns the keys.

    Computed as the model computes it, (q · d^-½) @ kᵀ, rounded as it rounds: in bf16 the softmax saw q · d^-½
    and the products rounded to bf16 (float32 scores would miss its attention by up to a few percent); the
    products are summed in float32, as the bf16 kernels accumulate.
    """
    qkv = analysis.qkv(layer)
    dtype, t, d = qkv.dtype, qkv.shape[0], head_dim(analysis)
    values = qkv.detach().float().cpu().numpy().reshape(t, 3, analysis.heads, d).transpose(1, 2, 0, 3)
    q, k = values[0], values[1]  # (heads, T, d) each
    scaled = rounded(q * np.float32(d ** -0.5), dtype)
    return rounded(np.matmul(scaled, k.transpose(0, 2, 1)), dtype).astype(np.float32, copy=False)
