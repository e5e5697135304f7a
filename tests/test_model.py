"""The recipe's steps, each checked on its own: patches, PI-resize, tokens, positions, outputs, loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from vitdemo.config import ViTConfig
from vitdemo.model import (
    ViT,
    embed_patches_conv,
    embed_patches_unfold,
    loss,
    patchify,
    pi_resize_kernel,
    resample_grid,
)

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=2, heads=4, mlp_dim=64, num_classes=5)


def random_kernel(dim: int, channels: int, p: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    std = 1 / math.sqrt(channels * p * p)
    return torch.randn(dim, channels, p, p, generator=g) * std, torch.randn(dim, generator=g) * 0.1


@pytest.mark.parametrize("channels", [1, 3, 4])
@pytest.mark.parametrize("size,p", [((32, 32), 8), ((48, 80), 16), ((30, 45), 7), ((224, 160), 32)])
def test_unfold_matmul_and_conv2d_agree(channels, size, p):
    weight, bias = random_kernel(24, channels, p)
    images = torch.rand(2, channels, *size)
    unfold, conv = embed_patches_unfold(images, weight, bias), embed_patches_conv(images, weight, bias)
    assert unfold.shape == conv.shape == (2, (size[0] // p) * (size[1] // p), 24)
    assert torch.allclose(unfold, conv, atol=1e-5)


def test_patchify_is_row_major():
    image = torch.arange(4 * 6, dtype=torch.float32).reshape(1, 1, 4, 6)
    patches = patchify(image, 2)  # a 2×3 grid
    assert patches.shape == (1, 6, 4)
    assert patches[0, 1].tolist() == [2.0, 3.0, 8.0, 9.0]  # row 0, column 1
    assert patches[0, 3].tolist() == [12.0, 13.0, 18.0, 19.0]  # row 1, column 0


@pytest.mark.parametrize("s,t", [(8, 8), (8, 12), (8, 16), (16, 24), (7, 20)])
def test_pi_resize_reproduces_the_embedding_of_an_upsampled_patch(s, t):
    """big_vision's test: for s ≤ t, ⟨PI-resize(W), resize(x)⟩ = ⟨W, x⟩."""
    weight, _ = random_kernel(16, 3, s)
    patch = torch.randn(5, 3, s, s)
    upsampled = F.interpolate(patch, size=(t, t), mode="bilinear", align_corners=False)
    original = embed_patches_conv(patch, weight, None)
    resized = embed_patches_conv(upsampled, pi_resize_kernel(weight, t), None)
    assert torch.allclose(original, resized, atol=1e-4)


def test_pi_resize_downsampling_is_least_squares_and_differentiable():
    weight = torch.randn(4, 3, 16, 16, requires_grad=True)
    small = pi_resize_kernel(weight, 8)
    assert small.shape == (4, 3, 8, 8)
    small.sum().backward()
    assert weight.grad is not None and weight.grad.abs().sum() > 0


def test_position_embeddings_resample_to_non_square_grids():
    pos = torch.randn(1, 16, 8)  # a 4×4 grid
    assert resample_grid(pos, (4, 4), "bicubic") is pos
    out = resample_grid(pos, (3, 7), "bicubic")
    assert out.shape == (1, 21, 8)
    assert resample_grid(pos, (2, 2), "bilinear").shape == (1, 4, 8)


def test_forward_returns_logits_and_every_attention_map():
    model = ViT(ViTConfig(**SMALL)).eval()
    out = model(torch.rand(3, 3, 32, 48))
    assert out.logits.shape == (3, 5)
    assert out.grid == (4, 6)
    assert len(out.attentions) == 2
    for weights in out.attentions:
        assert weights.shape == (3, 4, 1 + 24, 1 + 24)
        assert torch.allclose(weights.sum(-1), torch.ones(3, 4, 25), atol=1e-5)


def test_patch_size_is_chosen_per_call():
    model = ViT(ViTConfig(**SMALL)).eval()
    for p, grid in [(4, (8, 8)), (8, (4, 4)), (16, (2, 2))]:
        out = model(torch.rand(1, 3, 32, 32), patch_size=p)
        assert out.grid == grid and out.attentions[0].shape[-1] == 1 + grid[0] * grid[1]


def test_attention_weights_path_matches_fused_attention():
    model = ViT(ViTConfig(**SMALL)).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        assert torch.allclose(model(x).logits, model(x, output_attentions=False).logits, atol=1e-5)


def test_unfold_and_conv_paths_give_the_same_model_output():
    model = ViT(ViTConfig(**SMALL)).eval()
    x = torch.rand(1, 3, 40, 24)
    with torch.no_grad():
        a, b = model(x, patch_method="unfold").logits, model(x, patch_method="conv").logits
    assert torch.allclose(a, b, atol=1e-5)


def test_class_token_is_prepended_and_read_by_the_head():
    model = ViT(ViTConfig(**SMALL)).eval()
    out = model(torch.rand(1, 3, 32, 32), output_intermediates=True)
    stages = out.intermediates
    assert stages["patch_embeddings"].shape == (1, 16, 32)
    assert stages["with_class_token"].shape == (1, 17, 32)
    assert torch.equal(stages["with_class_token"][0, 0], model.cls_token[0, 0])
    assert torch.allclose(model.head(stages["encoded"][:, 0]), out.logits, atol=1e-6)


def test_distillation_token_and_averaged_heads():
    model = ViT(ViTConfig(**SMALL, distilled=True)).eval()
    out = model(torch.rand(1, 3, 32, 32), output_intermediates=True)
    assert out.attentions[0].shape[-1] == 2 + 16
    encoded = out.intermediates["encoded"]
    expected = (model.head(encoded[:, 0]) + model.head_dist(encoded[:, 1])) / 2
    assert torch.allclose(out.logits, expected, atol=1e-6)


def test_flexivit_positions_skip_the_class_token():
    model = ViT(ViTConfig(**SMALL, pos_embed_prefix=False, pos_interpolation="bilinear")).eval()
    assert model.pos_embed.shape == (1, 16, 32)
    stages = model(torch.rand(1, 3, 32, 32), output_intermediates=True).intermediates
    assert torch.equal(stages["with_position"][0, 0], model.cls_token[0, 0])  # no position added to it


def test_too_small_image_is_a_clear_error():
    model = ViT(ViTConfig(**SMALL)).eval()
    with pytest.raises(ValueError, match="smaller than one"):
        model(torch.rand(1, 3, 4, 32))


def test_loss_is_cross_entropy_and_training_lowers_it():
    torch.manual_seed(0)
    model = ViT(ViTConfig(**SMALL))
    x, y = torch.rand(8, 3, 32, 32), torch.arange(8) % 5
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    first = None
    for _ in range(30):
        value = loss(model(x, output_attentions=False).logits, y)
        first = value.item() if first is None else first
        optimizer.zero_grad()
        value.backward()
        optimizer.step()
    assert value.item() < first * 0.5
    assert math.isclose(loss(torch.zeros(1, 5), torch.tensor([2])).item(), math.log(5), rel_tol=1e-6)
