"""The query·key scores before the softmax (`vitdemo.explain.scores`) and how the explorer's bundle carries them.

Expected scores are written out by hand from the model's weights: LN1 of each block's input, the qkv
projection, one head's slice of q and k, q·kᵀ/√d; the softmax of the scores must give the attention the
model returned. Sizes are counted by hand from the bundled model's shape (6 layers, 4 heads, 37 tokens at
patch 16).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
from vitdemo.explain import payload as P
from vitdemo.explain.scores import head_dim, query_key_scores

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "assets" / "examples" / "shape_star.png"


@pytest.fixture(scope="module")
def analysis():
    return vitdemo.analyze(vitdemo.load("bundled", precision="fp32"), Image.open(STAR), patch_size=16)


def hand_scores(analysis, layer: int, head: int) -> np.ndarray:
    """q·kᵀ/√d of one head, from the block's input and the model's weights, in float64."""
    block = analysis.model.blocks[layer]
    x = analysis.intermediates["with_position" if layer == 0 else f"block{layer - 1}"].double()
    mean, var = x.mean(-1, keepdim=True), x.var(-1, unbiased=False, keepdim=True)
    normed = (x - mean) / torch.sqrt(var + block.norm1.eps) * block.norm1.weight.double() + block.norm1.bias.double()
    qkv = normed @ block.attn.qkv.weight.double().T + block.attn.qkv.bias.double()
    dim, d = x.shape[-1], x.shape[-1] // analysis.heads
    q = qkv[:, head * d:(head + 1) * d]
    k = qkv[:, dim + head * d:dim + (head + 1) * d]
    return (q @ k.T / np.sqrt(d)).detach().numpy()


def test_scores_are_q_dot_k_over_root_d_from_the_weights(analysis):
    assert head_dim(analysis) == 96 // 4  # the bundled model (assets/bundled/config.json): width 96, 4 heads
    for layer, head in [(0, 0), (2, 3), (5, 1)]:
        got = query_key_scores(analysis, layer)
        assert got.shape == (4, 37, 37) and got.dtype == np.float32
        expected = hand_scores(analysis, layer, head)
        assert np.abs(got[head] - expected).max() <= 1e-4 * max(1.0, np.abs(expected).max())


def test_the_softmax_of_the_scores_is_the_attention_the_model_returned(analysis):
    for layer in range(analysis.depth):
        scores = query_key_scores(analysis, layer).astype(np.float64)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        assert np.abs(probabilities - analysis.attentions[layer]).max() < 1e-5


def test_the_bundle_carries_every_score_while_they_fit_its_byte_limit(analysis, monkeypatch):
    exact = 6 * 4 * 37 * 37 * 4  # layers · heads · T · T · 4 bytes = 131,424
    monkeypatch.setattr(P, "MAX_SCORE_BYTES", exact)
    tokens = P.explorer_payload(analysis)["tokens"]
    assert tokens["count"] == 37 and tokens["head_dim"] == 24
    scores = P.unpacked(tokens["scores"], np.float32, (6, 4, 37, 37))
    assert np.abs(scores[3, 2] - hand_scores(analysis, 3, 2)).max() < 1e-4
    monkeypatch.setattr(P, "MAX_SCORE_BYTES", exact - 1)
    larger = P.explorer_payload(analysis)
    assert larger["tokens"] == {"count": 37, "head_dim": 24, "scores": None}
    row = P.score_matrix(analysis, 4, 1)
    assert np.abs(P.unpacked(row["scores"], np.float32, (37, 37)) - hand_scores(analysis, 4, 1)).max() < 1e-4
    json.dumps(row)


def test_the_default_limit_keeps_the_bundled_model_in_and_vit_b16_out():
    # bundled at patch 16: 131,424 bytes; at patch 8 (145 tokens): 6 · 4 · 145² · 4 = 2,018,400;
    # ViT-B/16 at 224 px: 12 · 12 · 197² · 4 = 22,353,984.
    assert 131_424 <= P.MAX_SCORE_BYTES < 2_018_400 < 22_353_984


def test_the_comparison_and_side_by_side_bundles_leave_the_scores_out(analysis):
    assert P.explorer_payload(analysis, patch_rows=False)["tokens"] is None
    assert P.explorer_payload(analysis, scores=False)["tokens"] is None


def test_in_bf16_the_scores_are_the_ones_the_models_softmax_saw():
    """The app runs the bundled model in bf16 ("auto" precision on this CPU): the scores are rounded as the
    model rounds them, so their softmax is its attention within bf16's rounding (8 significant bits: a
    relative step of 2^-7)."""
    bf16 = vitdemo.analyze(vitdemo.load("bundled", precision="bf16"), Image.open(STAR), patch_size=16)
    for layer in (0, 5):
        scores = query_key_scores(bf16, layer).astype(np.float64)
        probabilities = np.exp(scores - scores.max(-1, keepdims=True))
        probabilities /= probabilities.sum(-1, keepdims=True)
        attention = bf16.attentions[layer]
        assert np.all(np.abs(probabilities - attention) <= 2**-7 * attention + 1e-7)
