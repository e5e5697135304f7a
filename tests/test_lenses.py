"""Token norms, prefix-token attention and features agree with transformers' own hidden states and
attentions on a random DINOv2 with registers (the family these lenses are for), and the bundle carries them.

The expected values are computed here from transformers' outputs (`output_hidden_states`,
`output_attentions`) with plain numpy, not with vitdemo's code.
"""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
from vitdemo.explain import lenses
from vitdemo.explain import payload as P

transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def registers(tmp_path_factory):
    config = transformers.Dinov2WithRegistersConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                                                   intermediate_size=128, image_size=56, patch_size=14,
                                                   num_register_tokens=4, attn_implementation="eager")
    torch.manual_seed(0)
    reference = transformers.Dinov2WithRegistersModel(config).eval()
    folder = tmp_path_factory.mktemp("dinov2-registers")
    reference.save_pretrained(folder)
    model = vitdemo.load(str(folder), precision="fp32")
    image = Image.fromarray(np.random.default_rng(0).integers(0, 255, (80, 80, 3), dtype=np.uint8))
    analysis = vitdemo.analyze(model, image)
    with torch.no_grad():
        out = reference(analysis.inputs, output_hidden_states=True, output_attentions=True)
    return analysis, out


def test_token_norms_are_the_norms_of_every_blocks_output(registers):
    analysis, out = registers
    expected = np.stack([h[0].numpy() for h in out.hidden_states[1:]])  # after each block, [CLS, 4 reg, patches]
    assert np.allclose(lenses.token_norms(analysis), np.linalg.norm(expected, axis=-1), rtol=1e-4, atol=1e-4)
    assert analysis.model.config.token_types == ["class", "register", "register", "register", "register"]


def test_far_out_norms_are_marked_and_prefix_tokens_never():
    norms = np.array([[50.0, 1, 2, 2, 3, 2, 3, 40]])  # prefix 1; patches 1..3 and one far out (40)
    marked = lenses.outliers(norms, prefix=1)
    assert marked.tolist() == [[False, False, False, False, False, False, False, True]]


def test_each_register_attends_where_transformers_says(registers):
    analysis, out = registers
    for layer in range(3):
        for token in range(1, 5):
            row = out.attentions[layer][0, :, token, 5:].mean(0).numpy()
            expected = (row / row.sum()).reshape(analysis.grid)
            assert np.allclose(lenses.prefix_attention(analysis, token, layer), expected, atol=1e-6)
    with pytest.raises(ValueError, match="prefix token from 0 to 4"):
        lenses.prefix_attention(analysis, 5, 0)


def test_features_pca_and_similarity_follow_the_last_normed_patch_tokens(registers):
    analysis, out = registers
    features = out.last_hidden_state[0, 5:].numpy().astype(np.float64)  # after the final LayerNorm
    centred = features - features.mean(0)
    projected = centred @ np.linalg.svd(centred, full_matrices=False)[2][:3].T
    rgb, foreground = lenses.feature_pca(analysis)
    for i in range(3):  # a component's sign is arbitrary
        scaled = (projected[:, i] - projected[:, i].min()) / np.ptp(projected[:, i])
        assert np.allclose(rgb.reshape(-1, 3)[:, i], scaled, atol=1e-4) or \
            np.allclose(rgb.reshape(-1, 3)[:, i], 1 - scaled, atol=1e-4)
    assert foreground.sum() <= foreground.size / 2
    unit = features / np.linalg.norm(features, axis=-1, keepdims=True)
    assert np.allclose(lenses.feature_similarity(analysis).reshape(16, 16), np.clip(unit @ unit.T, 0, 1), atol=1e-5)


def test_the_bundle_carries_the_lenses(registers):
    analysis, _ = registers
    bundle = P.explorer_payload(analysis)
    assert bundle["prefix"] == ["class", "register", "register", "register", "register"]
    lens = bundle["lenses"]
    norms = P.unpacked(lens["norms"], np.float32, (3, 21))
    assert np.allclose(norms, lenses.token_norms(analysis))
    prefix = P.unpacked(lens["prefix"]["q"], np.uint16, (3, 4, 7, 16)).astype(np.float64) / 65535
    peak = P.unpacked(lens["prefix"]["max"], np.float32, (3, 4, 7))
    expected = lenses.prefix_attention(analysis, 2, 1).ravel()  # register 2, layer 2, head mean
    assert np.abs(prefix[1, 1, 0] * peak[1, 1, 0] - expected).max() <= expected.max() / 65535 + 1e-7
    assert len(lens["outliers"]) == 3 and lens["similarity"] is not None


def _features(spectrum: np.ndarray, seed: int) -> np.ndarray:
    """(784, 768) features with the given singular values² (a random orthonormal basis on each side)."""
    rng = np.random.default_rng(seed)
    left = np.linalg.qr(rng.standard_normal((784, 768)))[0]
    right = np.linalg.qr(rng.standard_normal((768, 768)))[0]
    return (left * np.sqrt(spectrum)) @ right.T + rng.standard_normal(768)  # an offset: the PCA centres it


@pytest.mark.slow
@pytest.mark.parametrize("spectrum", ["like a random ViT-B", "a few strong components"])
def test_feature_pca_at_patch_8_is_numpys_svd_up_to_sign(spectrum, monkeypatch):
    # ViT-B/16 read at patch 8: 28×28 = 784 patch tokens of 768 features. The first spectrum is the one measured
    # on a randomly initialised ViT-B at patch 8 (values within 10% of each other at the top: the slow case).
    k = np.arange(768)
    if spectrum == "like a random ViT-B":
        values = np.exp(-k / 25.0)
    else:
        values = 0.5 ** (k / 50.0)
        values[:3] = [9.0, 4.0, 2.0]
    features = _features(values, seed=len(spectrum)).astype(np.float32)
    encoded = torch.from_numpy(np.vstack([np.zeros((1, 768), np.float32), features]))  # a class token, then patches
    analysis = SimpleNamespace(intermediates={"encoded": encoded}, num_prefix_tokens=1, grid=(28, 28))
    monkeypatch.setattr(lenses, "_gram_components", lambda *a: pytest.fail("the iteration should converge first"))
    rgb, foreground = lenses.feature_pca(analysis)
    centred = features.astype(np.float64) - features.astype(np.float64).mean(0)
    projected = centred @ np.linalg.svd(centred, full_matrices=False)[2][:3].T
    for i in range(3):
        scaled = (projected[:, i] - projected[:, i].min()) / np.ptp(projected[:, i])
        got = rgb.reshape(-1, 3)[:, i]
        assert np.allclose(got, scaled, atol=1e-6) or np.allclose(got, 1 - scaled, atol=1e-6)
    first = projected[:, 0]
    expected = first > 0 if (first > 0).sum() <= (first <= 0).sum() else first <= 0
    assert np.array_equal(foreground.ravel(), expected) or np.array_equal(foreground.ravel(), ~expected)


def test_leading_components_fall_back_to_the_exact_decomposition_when_values_crowd():
    rng = np.random.default_rng(0)
    centred = rng.standard_normal((600, 64)) @ rng.standard_normal((64, 700))  # rank 64, no gap to speak of
    centred -= centred.mean(0)
    ours = lenses.leading_components(centred, 3)
    u, s, _ = np.linalg.svd(centred, full_matrices=False)
    for i in range(3):
        expected = u[:, i] * s[i]
        tolerance = 1e-6 * s[0]
        assert np.allclose(ours[:, i], expected, atol=tolerance) or np.allclose(ours[:, i], -expected, atol=tolerance)
        assert ours[np.abs(ours[:, i]).argmax(), i] > 0, "each component's largest entry is positive"
