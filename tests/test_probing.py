"""The ViT paper's Fig. 7 probes: documented shapes, and the numbers they are supposed to show."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vitdemo.config import ViTConfig
from vitdemo.explain import analyze, probing
from vitdemo.model import ViT

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=2, heads=4, mlp_dim=64, num_classes=5)


def small_model(**overrides) -> ViT:
    torch.manual_seed(0)
    return ViT(ViTConfig(**{**SMALL, **overrides})).eval()


def test_filter_components_have_the_documented_shape_and_range():
    model = small_model()
    components = probing.filter_components(model, count=28)
    assert components.shape == (28, 8, 8, 3)
    assert components.min() == 0.0 and components.max() == 1.0
    assert probing.filter_components(model, count=6, patch_size=12).shape == (6, 12, 12, 3)
    assert probing.filter_components(small_model(dim=16), count=28).shape == (16, 8, 8, 3)  # at most D filters


def test_first_filter_component_is_the_dominant_pattern():
    # Filters = random multiples of one fixed pattern plus a little noise: PCA's first component is it.
    model = small_model()
    generator = torch.Generator().manual_seed(1)
    pattern = torch.randn(3, 8, 8, generator=generator)
    weights = torch.randn(32, 1, 1, 1, generator=generator) * 3
    with torch.no_grad():
        model.patch_embed.weight.copy_(weights * pattern + 0.01 * torch.randn(32, 3, 8, 8, generator=generator))
    first = probing.filter_components(model, count=1)[0].transpose(2, 0, 1).ravel()
    correlation = np.corrcoef(first, pattern.numpy().ravel())[0, 1]
    assert abs(correlation) > 0.99


def test_position_similarity_is_a_grid_of_grids_of_cosines():
    model = small_model()
    similarity = probing.position_similarity(model)
    assert similarity.shape == (4, 4, 4, 4)
    flat = similarity.reshape(16, 16)
    assert np.allclose(np.diag(flat), 1.0, atol=1e-5) and np.allclose(flat, flat.T, atol=1e-6)
    assert (flat <= 1 + 1e-5).all() and (flat >= -1 - 1e-5).all()
    assert probing.position_similarity(model, grid=(3, 6)).shape == (3, 6, 3, 6)


def test_position_similarity_leaves_prefix_positions_out():
    model = small_model(distilled=True)
    with torch.no_grad():
        model.pos_embed[:, 2:] = torch.randn(1, 16, 32)
        model.pos_embed[:, :2] = torch.nan  # would poison every cosine if the prefix slots were read
    assert np.isfinite(probing.position_similarity(model)).all()


def test_attention_distance_by_hand():
    # Two patches side by side, 10 px apart, one class token. Head 0 keeps to itself (0 px); head 1
    # splits evenly between the two patches (5 px); head 2 looks at the other patch only (10 px). Mass on
    # the class token is ignored (renormalised away).
    attention = np.array([
        [[1.0, 0.0, 0.0], [0.5, 0.5, 0.0], [0.9, 0.0, 0.1]],
        [[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.2, 0.4, 0.4]],
        [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.5, 0.5, 0.0]],
    ])
    distances = probing.attention_distances([attention, attention[::-1]], grid=(1, 2), patch_size=10)
    assert distances.shape == (2, 3)
    assert np.allclose(distances[0], [0.0, 5.0, 10.0]) and np.allclose(distances[1], [10.0, 5.0, 0.0])


def test_attention_distance_uses_pixels_on_a_non_square_grid():
    # Uniform attention over a 1×3 row of 4 px patches: mean over queries of the mean distance
    # = (0+4+8 + 4+0+4 + 8+4+0) / 9 = 32/9 px.
    attention = np.full((1, 4, 4), 0.25)
    assert np.isclose(probing.attention_distances([attention], (1, 3), 4)[0, 0], 32 / 9)


def test_mean_attention_distance_of_an_analysis():
    a = analyze(small_model(), Image.new("RGB", (80, 40), (90, 30, 200)), keep_aspect=True)
    distances = probing.mean_attention_distance(a)
    assert distances.shape == (2, 4)
    assert (distances >= 0).all() and (distances <= np.hypot(64, 32)).all()


@pytest.mark.parametrize("distilled", [False, True])
def test_probing_figures_are_pictures_of_the_documented_layout(distilled):
    a = analyze(small_model(distilled=distilled), Image.new("RGB", (40, 40), (10, 120, 60)))
    figures = probing.probing_figures(a)
    assert list(figures) == ["embedding filters", "position embedding similarity", "mean attention distance"]
    assert all(image.mode == "RGB" for image in figures.values())
    tile = 8 * (48 // 8)
    assert figures["embedding filters"].size == (7 * (tile + 4) - 4, 4 * (tile + 4) - 4)  # 28 tiles, 7 a row
    similarity = probing.similarity_image(probing.position_similarity(a.model))
    side = 4 * ((probing.FIGURE_SIDE // 4 - 4) // 4)  # 4×4 tiles of 4×4 cells, gap 4
    assert similarity.size == (4 * (side + 4) - 4,) * 2
