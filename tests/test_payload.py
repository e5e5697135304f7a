"""The explorer's bundle reproduces the library's maps within its quantisation error, and holds what the
page needs to draw every view without a request: geometry, token types, the picture the model saw.

The expected maps come from `Analysis.attention_map` / `patch_attention`, one layer at a time: the bundle is
built by other code paths (`maps_by_layer`, `patch_maps`, the one-pass rollout), so agreement checks them.
"""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import vitdemo
from vitdemo.constants import HEAD_FUSIONS
from vitdemo.explain import payload as P

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "assets" / "examples" / "shape_star.png"


@pytest.fixture(scope="module")
def analysis():
    return vitdemo.analyze(vitdemo.load("bundled", precision="fp32"), Image.open(STAR), patch_size=16)


def dequantised(packed: dict, levels: int, shape: tuple[int, ...]) -> np.ndarray:
    q = P.unpacked(packed["q"], np.uint8 if levels == 255 else np.uint16, shape).astype(np.float64)
    peak = P.unpacked(packed["max"], np.float32, shape[:-1]).astype(np.float64)
    return q / levels * peak[..., None]


def test_class_token_maps_match_the_library_for_every_layer_and_head(analysis):
    bundle = P.explorer_payload(analysis, key=("k",), class_targets={"relevance": ("star",), "legrad": ("circle",)})
    layers, heads, n = analysis.depth, analysis.heads, 36
    attention = dequantised(bundle["maps"]["attention"], 65535, (layers, heads + 3, n))
    rollout = dequantised(bundle["maps"]["rollout"], 65535, (layers, 3, n))
    relevance = dequantised(bundle["classes"]["relevance"]["star"], 65535, (layers, 3, n))
    legrad = dequantised(bundle["classes"]["legrad"]["circle"], 65535, (layers, 3, n))
    for layer in range(layers):
        for i, head in enumerate([*HEAD_FUSIONS, *range(heads)]):
            expected = analysis.attention_map("attention", layer=layer, head=head).ravel()
            assert np.abs(attention[layer, i] - expected).max() <= expected.max() / 65535 + 1e-7
        for i, head in enumerate(HEAD_FUSIONS):
            for method, got, label in (("rollout", rollout, None), ("relevance", relevance, "star"),
                                       ("legrad", legrad, "circle")):
                expected = analysis.attention_map(method, layer=layer, head=head, target=label).ravel()
                assert np.abs(got[layer, i] - expected).max() <= expected.max() / 65535 + 1e-6


def test_patch_rows_are_the_colormap_indices_the_server_draws_with(analysis):
    bundle = P.explorer_payload(analysis)
    n = 36
    q = P.unpacked(bundle["patches"]["q"], np.uint8, (analysis.depth, n, n))
    for layer, (r, c) in [(0, (0, 0)), (3, (2, 5)), (5, (5, 5))]:
        expected = analysis.patch_attention(r, c, layer=layer, head="mean").ravel()
        # render.heat_image: round(255 · v / max) is the index into the colormap
        indices = np.round(np.float32(expected) / np.float32(expected.max()) * np.float32(255))
        assert (q[layer, r * 6 + c] == indices).all()


def test_the_bundle_carries_geometry_tokens_and_the_models_view(analysis):
    bundle = P.explorer_payload(analysis, key=("digest", "bundled", 16, False), title="Bundled")
    assert bundle["grid"] == [6, 6] and bundle["patch"] == 16 and bundle["size"] == [96, 96]
    assert bundle["prefix"] == ["class"] and bundle["depth"] == 6 and bundle["heads"] == 4
    assert bundle["head_order"] == ["mean", "max", "min", 0, 1, 2, 3]
    assert bundle["key"] == ["digest", "bundled", 16, False] and bundle["name"] == "star_p16"
    view = Image.open(io.BytesIO(base64.b64decode(bundle["image"].split(",", 1)[1])))
    assert view.size == (96, 96) and np.array_equal(np.asarray(view.convert("RGB")), np.asarray(analysis.view))
    json.dumps(bundle)  # travels as JSON


def test_large_grids_leave_patch_rows_to_a_request(analysis, monkeypatch):
    monkeypatch.setattr(P, "MAX_PATCH_ROWS", 35)
    assert P.explorer_payload(analysis)["patches"] is None
    row = P.patch_row(analysis, 2, 1, 4)
    q = P.unpacked(row["q"], np.uint8, (36,)).astype(np.float64)
    expected = analysis.patch_attention(1, 4, layer=2, head="mean").ravel()
    assert np.abs(q / 255 * row["max"] - expected).max() <= expected.max() / 510 + 1e-7


def test_the_one_pass_rollout_equals_rollout_layer_by_layer():
    from vitdemo.explain.maps import relevance, relevance_by_layer, rollout, rollout_by_layer

    rng = np.random.default_rng(0)
    attentions = [rng.random((3, 7, 7)).astype(np.float32) for _ in range(4)]
    attentions = [a / a.sum(-1, keepdims=True) for a in attentions]
    gradients = [rng.standard_normal((3, 7, 7)).astype(np.float32) for _ in range(4)]
    for head in ("mean", "max", 1):
        by_layer = rollout_by_layer(attentions, head, 0.3, prefix=1)
        rel = relevance_by_layer(attentions, gradients, head)
        for layer in range(4):
            assert np.allclose(by_layer[layer], rollout(attentions[: layer + 1], head, 0.3, 1)[0], atol=1e-6)
            assert np.allclose(rel[layer], relevance(attentions[: layer + 1], gradients[: layer + 1], head)[0])
