"""Pictures line up with the patches: grid lines on patch edges, map cells on their patch, real aspect ratio."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from vitdemo.config import ViTConfig
from vitdemo.explain import Analysis, analyze, render
from vitdemo.explain.recipe import patch_embedding_difference, recipe
from vitdemo.model import ViT

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=2, heads=4, mlp_dim=64, num_classes=5)


def wide_analysis(color: tuple[int, int, int] = (0, 0, 0), distilled: bool = False, patch_size: int | None = None,
                  ) -> Analysis:
    """A flat 80×40 photo seen with its aspect kept: 64×32 px, a 4×8 grid of 8 px patches (non-square)."""
    torch.manual_seed(0)
    model = ViT(ViTConfig(**SMALL, distilled=distilled)).eval()
    return analyze(model, Image.new("RGB", (80, 40), color), patch_size=patch_size, keep_aspect=True)


def one_hot(grid: tuple[int, int], row: int, col: int) -> np.ndarray:
    m = np.zeros(grid, dtype=np.float32)
    m[row, col] = 1.0
    return m


def test_grid_lines_fall_on_patch_boundaries_of_a_non_square_image():
    a = wide_analysis()
    picture = np.asarray(render.patch_grid(a))
    scale = render.display_scale(a.view.size)
    assert picture.shape == (32 * scale, 64 * scale, 3) and min(picture.shape[:2]) >= render.MIN_SIDE
    cell = 8 * scale
    white = np.all(picture == render.GRID_COLOR, axis=-1)
    line_columns = [c * cell for c in range(8)] + [picture.shape[1] - 1]
    line_rows = [r * cell for r in range(4)] + [picture.shape[0] - 1]
    assert white[:, line_columns].all() and white[line_rows, :].all()
    inside = white.copy()
    inside[:, line_columns] = False
    inside[line_rows, :] = False
    assert not inside.any(), "white pixels off the patch boundaries"


def test_grid_indices_and_order_draw_inside_the_cells():
    a = wide_analysis()
    plain = np.asarray(render.patch_grid(a))
    assert not np.array_equal(np.asarray(render.patch_grid(a, show_indices=True)), plain)
    assert not np.array_equal(np.asarray(render.patch_grid(a, show_order=True)), plain)
    assert "0 = [class], 1 = [distillation], then patches 2–33" in render.token_order(wide_analysis(distilled=True))


@pytest.mark.parametrize("row,col", [(0, 0), (2, 5), (3, 7)])
def test_overlay_colours_exactly_the_patch_of_the_map_cell(row, col):
    a = wide_analysis()
    picture = np.asarray(render.overlay(a, one_hot(a.grid, row, col), cmap="viridis", opacity=1.0))
    scale = render.display_scale(a.view.size)
    cell = 8 * scale
    assert picture.shape == (32 * scale, 64 * scale, 3)  # the image's aspect ratio, not a square
    lut = render.colormap_lut("viridis")
    hot = np.zeros(picture.shape[:2], dtype=bool)
    hot[row * cell:(row + 1) * cell, col * cell:(col + 1) * cell] = True
    assert np.all(picture[hot] == lut[-1]) and np.all(picture[~hot] == lut[0])


def test_opacity_blends_between_image_and_map():
    a = wide_analysis(color=(200, 10, 10))
    m = one_hot(a.grid, 1, 1)
    base = np.asarray(render.upscaled(a.view, render.display_scale(a.view.size)))
    assert np.array_equal(np.asarray(render.overlay(a, m, opacity=0.0)), base)
    half = np.asarray(render.overlay(a, m, opacity=0.5)).astype(int)
    full = np.asarray(render.overlay(a, m, opacity=1.0)).astype(int)
    assert np.all(np.abs(half - (base.astype(int) + full) / 2) <= 1)


def test_smooth_overlay_peaks_inside_the_hot_patch():
    a = wide_analysis()
    picture = np.asarray(render.heat_image(a, one_hot(a.grid, 2, 5), scale=4, cmap="gray", smooth=True))[..., 0]
    y, x = np.unravel_index(picture.argmax(), picture.shape)
    assert (y // 32, x // 32) == (2, 5) and picture.shape == (128, 256)
    assert picture[0, 0] == 0 and 0 < picture[2 * 32 + 16, 4 * 32 + 16] < 255  # a gradient, not a block


def test_stretch_spreads_a_near_uniform_map_over_the_colormap():
    a = wide_analysis()
    m = np.full(a.grid, 1.0, dtype=np.float32)
    m[0, 0] = 0.9
    lut = render.colormap_lut()
    flat = np.asarray(render.heat_image(a, m, 1))
    stretched = np.asarray(render.heat_image(a, m, 1, stretch=True))
    assert np.all(flat[0, 0] != lut[0]) and np.all(stretched[0, 0] == lut[0])


def test_overlay_rejects_a_map_of_another_grid():
    a = wide_analysis()
    with pytest.raises(ValueError):
        render.overlay(a, np.ones((4, 4)) / 16)


def test_head_gallery_has_one_captioned_overlay_per_head():
    a = wide_analysis()
    gallery = render.head_gallery(a, layer=-1)
    assert [caption for _, caption in gallery] == ["layer 2 · head 1", "layer 2 · head 2", "layer 2 · head 3",
                                                   "layer 2 · head 4"], "layers and heads count from 1"
    assert all(image.size[0] == 2 * image.size[1] >= 2 * render.GALLERY_SIDE for image, _ in gallery)


def test_mark_patch_outlines_the_clicked_patch():
    a = wide_analysis()
    picture = render.overlay(a, a.attention_map(), opacity=0.0)
    marked = np.asarray(render.mark_patch(picture, a, 1, 6))
    changed = np.any(marked != np.asarray(picture), axis=-1)
    ys, xs = np.nonzero(changed)
    cell = 8 * render.display_scale(a.view.size)
    assert (ys.min(), ys.max(), xs.min(), xs.max()) == (cell, 2 * cell - 1, 6 * cell, 7 * cell - 1)


def test_colormaps_come_from_matplotlib():
    import matplotlib

    lut = render.colormap_lut("magma")
    assert lut.shape == (256, 3)
    assert np.allclose(lut[-1], np.array(matplotlib.colormaps["magma"](1.0)[:3]) * 255, atol=1)
    with pytest.raises(ValueError):
        render.colormap_lut("no-such-map")


def test_tile_grid_lays_tiles_out_row_by_row():
    tiles = [Image.new("RGB", (4, 3), (i, i, i)) for i in range(5)]
    sheet = np.asarray(render.tile_grid(tiles, columns=2, gap=1))
    assert sheet.shape == (3 * 3 + 2, 2 * 4 + 1, 3)
    assert sheet[0, 0, 0] == 0 and sheet[0, 5, 0] == 1 and sheet[4, 0, 0] == 2 and sheet[8, 0, 0] == 4


# ---- the recipe, live ----------------------------------------------------------------------------------


@pytest.mark.parametrize("distilled", [False, True])
def test_recipe_lists_every_stage_with_its_shape(distilled):
    a = wide_analysis(distilled=distilled, patch_size=12)  # PI-resized kernel: 72×36 px, a 3×6 grid
    rows, cols = a.grid
    n, prefix = rows * cols, 2 if distilled else 1
    stages = recipe(a)
    assert [s.name for s in stages] == ["image", "unfold patches", "patch embeddings", "+ class token",
                                        "+ position embeddings", "encoder block 1", "encoder block 2",
                                        "class-token output", "logits"]
    shapes = [s.shape for s in stages]
    assert shapes == [(3, rows * 12, cols * 12), (n, 3 * 12 * 12), (n, 32), (prefix + n, 32), (prefix + n, 32),
                      (prefix + n, 32), (prefix + n, 32), (32,), (5,)]
    assert all(s.picture is not None and s.note for s in stages)


def test_unfold_matmul_and_conv2d_differ_by_float_rounding_only():
    a = wide_analysis(color=(30, 200, 90), patch_size=12)
    difference = patch_embedding_difference(a)
    assert 0.0 <= difference < 1e-4
    assert f"{difference:.2e}" in recipe(a)[2].note
