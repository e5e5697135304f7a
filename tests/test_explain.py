"""Attention maps: rollout and relevance against hand-computed examples, and the Analysis contract.

Every map is a distribution over patches (prefix tokens left out), for any grid shape, patch size and
number of prefix tokens, and switching views never runs the model again.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from tests.counting import count_forwards
from vitdemo import methods
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze, mass_mask, patch_at, patch_boundaries, relevance, rollout
from vitdemo.explain.maps import relevance_by_layer
from vitdemo.model import ViT

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=2, heads=4, mlp_dim=64, num_classes=5)

# Two layers, two heads, three tokens (class token + 2 patches); rows are queries and sum to 1.
A1 = np.array([[[0.5, 0.25, 0.25], [0.2, 0.6, 0.2], [0.1, 0.1, 0.8]],
               [[0.2, 0.3, 0.5], [0.4, 0.4, 0.2], [0.3, 0.3, 0.4]]])
A2 = np.array([[[0.6, 0.2, 0.2], [0.1, 0.7, 0.2], [0.25, 0.25, 0.5]],
               [[0.1, 0.8, 0.1], [0.3, 0.3, 0.4], [0.5, 0.2, 0.3]]])
G1 = np.array([[[1.0, -2.0, 0.5], [0.0, 1.0, 1.0], [2.0, -1.0, 1.0]],
               [[-1.0, 3.0, 1.0], [1.0, 1.0, -1.0], [0.5, 0.5, 0.5]]])
G2 = np.array([[[0.0, 1.0, 2.0], [1.0, -1.0, 1.0], [1.0, 1.0, -3.0]],
               [[2.0, 0.5, -1.0], [0.0, 2.0, 1.0], [-1.0, 1.0, 1.0]]])


def tensors(*arrays: np.ndarray) -> list[np.ndarray]:
    return [np.asarray(a, dtype=np.float32) for a in arrays]


def small_model(seed: int = 0, **overrides) -> ViT:
    torch.manual_seed(seed)
    return ViT(ViTConfig(**{**SMALL, **overrides})).eval()


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


# ---- rollout ----------------------------------------------------------------------------------------


def test_rollout_of_a_two_layer_cycle_by_hand():
    # A = P, a cyclic permutation, in both layers: Â = (P + I)/2, so Â² = (P² + 2P + I)/4 and the class
    # token's row is [1/4, 2/4, 1/4]; over the two patches that is [2/3, 1/3].
    p = np.array([[[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    result = rollout([p, p])
    assert np.allclose(result[0], [0.25, 0.5, 0.25])
    row = result[0, 1:] / result[0, 1:].sum()
    assert np.allclose(row, [2 / 3, 1 / 3])


@pytest.mark.parametrize("fusion", ["mean", "max", "min"])
def test_rollout_matches_numpy_two_layer_example(fusion):
    # max/min-fused rows do not sum to 1, so this also catches renormalising over the wrong axis.
    fuse = {"mean": np.mean, "max": np.max, "min": np.min}[fusion]
    expected = np.eye(3)
    for layer in (A1, A2):
        mixed = (fuse(layer, axis=0) + np.eye(3)) / 2
        mixed = mixed / mixed.sum(axis=1)[:, None]
        expected = mixed @ expected
    assert np.allclose(rollout(tensors(A1, A2), head=fusion), expected, atol=1e-6)
    assert np.allclose(rollout(tensors(A1, A2), head=fusion, query=0), expected[0], atol=1e-6)


def test_rollout_discard_drops_the_weakest_patch_links_but_never_the_class_token():
    # One head, 1 prefix + 3 patches. discard 1/3 zeroes the lowest of the 3 patch keys in each row; in
    # row 0 the class token's own column (0.05) is the lowest of all and must survive.
    a = np.array([[[0.05, 0.5, 0.3, 0.15], [0.1, 0.6, 0.2, 0.1], [0.4, 0.1, 0.3, 0.2], [0.25, 0.25, 0.25, 0.25]]])
    kept = a[0].copy()
    kept[0, 3] = kept[1, 3] = kept[2, 1] = 0.0  # the lowest patch key of rows 0-2 (row 3 is all ties)
    mixed = (kept + np.eye(4)) / 2
    expected = mixed / mixed.sum(axis=1)[:, None]
    result = rollout(tensors(a), discard_ratio=1 / 3 + 1e-6)
    assert np.allclose(np.delete(result, 3, axis=0), np.delete(expected, 3, axis=0), atol=1e-6)
    assert result[0, 0] > 0.5  # the class token's link to itself is intact
    assert np.isclose(result[3].sum(), 1.0)


# ---- relevance -----------------------------------------------------------------------------------------


def test_relevance_single_head_two_layers_by_hand():
    a1 = np.array([[[0.2, 0.4, 0.4], [0.5, 0.5, 0.0], [0.0, 0.5, 0.5]]])
    g1 = np.array([[[1.0, 2.0, -1.0], [0.0, 1.0, 1.0], [1.0, -2.0, 2.0]]])
    a2 = np.array([[[0.5, 0.25, 0.25], [0.0, 1.0, 0.0], [0.5, 0.0, 0.5]]])
    g2 = np.array([[[0.0, 1.0, 1.0], [0.0, 0.0, 0.0], [0.0, 0.0, 0.0]]])
    # (g1⊙a1)⁺ = [[.2,.8,0],[0,.5,0],[0,0,1]], so R1 = I + that = [[1.2,.8,0],[0,1.5,0],[0,0,2]].
    # (g2⊙a2)⁺ row 0 = [0,.25,.25]; times R1 = [0,.375,.5]; R2 row 0 = [1.2, 1.175, 0.5].
    result = relevance(tensors(a1, a2), tensors(g1, g2))
    assert np.allclose(result[0], [1.2, 1.175, 0.5])
    # The class row alone (vector-matrix products only) and the row after each layer: R1 row 0, then R2 row 0.
    assert np.allclose(relevance(tensors(a1, a2), tensors(g1, g2), query=0), [1.2, 1.175, 0.5])
    assert np.allclose(relevance_by_layer(tensors(a1, a2), tensors(g1, g2)), [[1.2, 0.8, 0.0], [1.2, 1.175, 0.5]])


def test_relevance_matches_numpy_two_layer_two_head_example():
    expected = np.eye(3)
    for a, g in ((A1, G1), (A2, G2)):
        cam = np.maximum(g * a, 0).mean(axis=0)
        expected = expected + cam @ expected
    assert np.allclose(relevance(tensors(A1, A2), tensors(G1, G2)), expected, atol=1e-6)


def test_analysis_relevance_uses_the_targets_gradient_without_another_forward():
    model = small_model(seed=1)
    a = analyze(model, photo(48, 40))
    inputs = a.inputs.clone().requires_grad_(True)
    out = model(inputs, a.patch_size)
    calls = count_forwards(model)
    maps = {}
    for target in (0, 3):
        grads = torch.autograd.grad(out.logits[0, target], out.attentions, retain_graph=True)
        expected = np.eye(out.attentions[0].shape[-1])
        for attn, grad in zip(out.attentions, grads):
            cam = np.maximum(grad[0].detach().numpy() * attn[0].detach().numpy(), 0).mean(axis=0)
            expected = expected + cam @ expected
        expected = expected[0, 1:] / expected[0, 1:].sum()
        maps[target] = a.attention_map("relevance", target=target)
        assert np.allclose(maps[target].ravel(), expected, atol=1e-5)
    assert calls[0] == 0, "relevance reuses the analysis forward: one backward per target, no forward"
    assert not np.allclose(maps[0], maps[3]), "relevance must depend on the target class"
    assert np.array_equal(a.attention_map("relevance"), a.attention_map("relevance", target=a.top(1)[0][0]))


# ---- the Analysis contract --------------------------------------------------------------------------------


@pytest.mark.parametrize("distilled", [False, True])
@pytest.mark.parametrize("size,patch_size,grid", [((40, 40), None, (4, 4)), ((80, 40), None, (4, 8)),
                                                  ((40, 96), 12, (7, 3))])
def test_every_map_is_a_distribution_over_the_patch_grid(distilled, size, patch_size, grid):
    a = analyze(small_model(distilled=distilled), photo(*size), patch_size=patch_size, keep_aspect=True)
    assert a.grid == grid and a.view.size == (grid[1] * a.patch_size, grid[0] * a.patch_size)
    maps = [a.attention_map(m, layer=layer, head=head) for m in methods.names() for layer in (0, -1)
            for head in (None, "max", "min", 1)]
    maps += [a.attention_map("rollout", discard_ratio=0.5), a.patch_attention(grid[0] - 1, 0)]
    maps += list(a.head_maps(0))
    for m in maps:
        assert m.shape == grid and m.dtype == np.float32
        assert (m >= 0).all() and np.isclose(m.sum(), 1.0, atol=1e-5)


def test_bf16_attentions_are_read_in_float32():
    a = analyze(small_model().to(torch.bfloat16), photo(40, 40))
    assert a.attentions.dtype == np.float32 and a.attentions.shape == (2, 4, 17, 17)
    assert np.isclose(a.attention_map("rollout").sum(), 1.0, atol=1e-5)


def test_prefix_tokens_are_left_out_and_patches_are_read_row_by_row():
    # A distilled model has 2 prefix tokens. Make the class token look mostly at itself and the
    # distillation token, and at patch (1, 2) — token 2 + 1·cols + 2 — a little more than elsewhere.
    a = analyze(small_model(distilled=True), photo(80, 40), keep_aspect=True)
    rows, cols = a.grid
    tokens = 2 + rows * cols
    attention = np.full((a.heads, tokens, tokens), 0.01, dtype=np.float32)
    attention[:, 0, :2] = 10.0
    attention[:, 0, 2 + 1 * cols + 2] = 0.5
    attention[:, 2 + 0 * cols + 3, 2 + 1 * cols + 0] = 0.7  # patch (0, 3) looks at patch (1, 0)
    a.attentions = np.stack([attention, attention])
    m = a.attention_map("attention")
    assert np.unravel_index(m.argmax(), m.shape) == (1, 2)
    assert np.isclose(m.sum(), 1.0) and np.isclose(m[1, 2], 0.5 / (0.5 + 0.01 * (rows * cols - 1)))
    row = a.patch_attention(0, 3)
    assert np.unravel_index(row.argmax(), row.shape) == (1, 0)


def test_view_switches_run_no_forward():
    from vitdemo.explain import render

    model = small_model()
    a = analyze(model, photo(80, 40), keep_aspect=True)
    calls = count_forwards(model)
    for method in ("attention", "rollout"):
        for layer in (0, 1, -1):
            for head in (None, 0, "max", "min"):
                render.overlay(a, a.attention_map(method, layer, head), cmap="viridis", opacity=0.3)
    a.patch_attention(1, 1, layer=0, head=2)
    render.head_gallery(a, 0)
    render.patch_grid(a, show_indices=True)
    a.top(3)
    assert calls[0] == 0


def test_maps_are_cached_and_read_only():
    a = analyze(small_model(), photo(40, 40))
    first = a.attention_map("rollout", head="max")
    assert a.attention_map("rollout", head="max") is first
    with pytest.raises(ValueError):
        first[0, 0] = 1.0


def test_head_maps_match_single_head_attention():
    a = analyze(small_model(), photo(40, 40))
    heads = a.head_maps(-1)
    assert heads.shape == (4, *a.grid)
    assert np.allclose(heads[2], a.attention_map("attention", head=2))


def test_top_is_sorted_and_labelled():
    a = analyze(small_model(), photo(40, 40))
    top = a.top(3)
    probs = [p for _, p in top]
    assert len(top) == 3 and probs == sorted(probs, reverse=True)
    assert top[0][0] == a.labels[int(a.logits.argmax())]
    assert len(a.top(100)) == SMALL["num_classes"]


@pytest.mark.parametrize("call", [lambda a: a.attention_map("gradcam"), lambda a: a.attention_map(head=4),
                                  lambda a: a.attention_map(layer=2), lambda a: a.patch_attention(4, 0),
                                  lambda a: a.attention_map("relevance", target="no such label")])
def test_bad_arguments_raise_value_errors(call):
    with pytest.raises(ValueError):
        call(analyze(small_model(), photo(40, 40)))


def test_mass_mask_keeps_the_fewest_top_patches_holding_the_fraction():
    m = np.array([[0.05, 0.5], [0.3, 0.15]])
    assert mass_mask(m, 0.5).tolist() == [[False, True], [False, False]]
    assert mass_mask(m, 0.6).tolist() == [[False, True], [True, False]]
    assert mass_mask(m, 0.81).tolist() == [[False, True], [True, True]]
    assert mass_mask(m, 1.0).all()


def test_patch_at_maps_clicks_to_patches_on_a_non_square_grid():
    a = analyze(small_model(), photo(80, 40), keep_aspect=True)  # 64×32 px, grid 4×8, p = 8
    assert patch_at(a, 0, 0) == (0, 0)
    assert patch_at(a, 8 * 5 + 4, 8 * 2 + 7.9) == (2, 5)
    assert patch_at(a, 63.9, 31.9) == (3, 7)
    assert patch_at(a, 500, -3) == (0, 7)  # outside: clamped
    assert patch_at(a, 12 * (8 * 5 + 4), 12 * 17, shown_size=(64 * 12, 32 * 12)) == (2, 5)


def test_patch_boundaries_are_multiples_of_the_patch_size():
    xs, ys = patch_boundaries((3, 5), 12, scale=2)
    assert xs == [0, 24, 48, 72, 96, 120] and ys == [0, 24, 48, 72]
