"""vitdemo loading a checkpoint computes what the source library computes: logits and every attention map.

The reference is transformers' eager ViT/DeiT with `output_attentions=True` on small random weights. timm is
not installed, so its layout is checked by writing the same weights under timm's names: if vitdemo maps both
layouts onto the same numbers as transformers, both mappings are right.
"""

from __future__ import annotations

import copy

import pytest
import torch

import vitdemo
from vitdemo.layouts import FLEXIVIT_PATCH_SIZES

NATIVE, NON_SQUARE = (32, 32), (24, 48)  # the checkpoint's 4×4 patch grid, and a 3×6 one that resamples positions
TOL = 1e-4


def assert_matches_transformers(model: vitdemo.ViT, reference, size: tuple[int, int], seed: int = 0) -> None:
    images = torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        expected = reference(images, output_attentions=True, interpolate_pos_encoding=True)
        out = model(images)
    assert out.grid == (size[0] // 8, size[1] // 8)
    torch.testing.assert_close(out.logits, expected.logits, atol=TOL, rtol=0)
    assert len(out.attentions) == len(expected.attentions) == model.config.depth
    for ours, theirs in zip(out.attentions, expected.attentions):
        torch.testing.assert_close(ours, theirs, atol=TOL, rtol=0)


@pytest.mark.parametrize("size", [NATIVE, NON_SQUARE], ids=["native", "non-square"])
@pytest.mark.parametrize("kind", ["vit", "deit"])
def test_transformers_checkpoint_matches_transformers(make_hf_checkpoint, kind, size):
    checkpoint = make_hf_checkpoint(kind)
    model = vitdemo.load(checkpoint.path, device="cpu", precision="fp32")
    assert model.config.distilled == (kind == "deit")
    assert model.config.layer_norm_eps == 1e-12  # transformers' ViT default, read from config.json
    assert_matches_transformers(model, checkpoint.model, size)


def test_in_memory_transformers_names_load_too(hf_vit, tmp_path):
    """A state dict saved straight from a transformers 5 model (`q_proj`, `o_proj`, `mlp.fc1`) is accepted."""
    from safetensors.torch import save_file

    state = hf_vit.model.state_dict()
    assert any(".q_proj." in k for k in state), "transformers no longer renames in memory: drop this test"
    save_file({k: v.contiguous() for k, v in state.items()}, str(tmp_path / "model.safetensors"))
    (tmp_path / "config.json").write_text((hf_vit.path / "config.json").read_text())
    assert_matches_transformers(vitdemo.load(tmp_path, device="cpu", precision="fp32"), hf_vit.model, NATIVE)


@pytest.mark.parametrize("size", [NATIVE, NON_SQUARE], ids=["native", "non-square"])
@pytest.mark.parametrize("kind,architecture", [("vit", "vit_small_patch8_32"),
                                               ("deit", "deit_small_distilled_patch8_32")])
def test_timm_checkpoint_matches_transformers(make_hf_checkpoint, timm_state, timm_folder, tmp_path,
                                              kind, architecture, size):
    checkpoint = make_hf_checkpoint(kind, layer_norm_eps=1e-6)  # timm's eps, so both compute the same thing
    model_args = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0, img_size=32)
    folder = timm_folder(tmp_path / "timm", timm_state(checkpoint.path), architecture, model_args)
    model = vitdemo.load(folder, device="cpu", precision="fp32")
    assert (model.config.layer_norm_eps, model.config.distilled) == (1e-6, kind == "deit")
    assert_matches_transformers(model, checkpoint.model, size)


def flexivit_folder(checkpoint, timm_state, timm_folder, folder):
    """A FlexiViT-style (no_embed_class) checkpoint from a transformers ViT: its patch position embeddings
    without the class-token slot."""
    state = timm_state(checkpoint.path)
    state["pos_embed"] = state["pos_embed"][:, 1:].clone()
    model_args = dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0, patch_size=8, img_size=32)
    return timm_folder(folder, state, "flexivit_small", model_args, {"crop_pct": 0.95})


def test_flexivit_matches_transformers_with_a_zero_class_position(make_hf_checkpoint, timm_state, timm_folder,
                                                                  tmp_path):
    """No position for the class token is the same network as a zero one, which transformers can run."""
    checkpoint = make_hf_checkpoint("vit", layer_norm_eps=1e-6)
    reference = copy.deepcopy(checkpoint.model)
    with torch.no_grad():
        reference.vit.embeddings.position_embeddings[:, 0] = 0
    model = vitdemo.load(flexivit_folder(checkpoint, timm_state, timm_folder, tmp_path), device="cpu",
                         precision="fp32")
    assert not model.config.pos_embed_prefix
    assert_matches_transformers(model, reference, NATIVE)


def test_flexivit_adds_positions_to_patches_before_the_class_token(make_hf_checkpoint, timm_state, timm_folder,
                                                                    tmp_path):
    checkpoint = make_hf_checkpoint("vit", layer_norm_eps=1e-6)
    model = vitdemo.load(flexivit_folder(checkpoint, timm_state, timm_folder, tmp_path), device="cpu",
                         precision="fp32")
    assert model.config.pos_interpolation == "bilinear"
    assert model.config.native_patch_sizes == FLEXIVIT_PATCH_SIZES
    assert tuple(model.pos_embed.shape) == (1, 16, 64)  # the 4×4 grid only
    images = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        stages = model(images, output_intermediates=True).intermediates
    tokens = stages["with_position"]
    torch.testing.assert_close(tokens[:, 0], model.cls_token[:, 0])  # the class token gets no position
    torch.testing.assert_close(tokens[:, 1:], stages["patch_embeddings"] + model.pos_embed)


@pytest.mark.parametrize("patch_size", [4, 6, 8, 16])
def test_flexivit_runs_at_other_patch_sizes(make_hf_checkpoint, timm_state, timm_folder, tmp_path, patch_size):
    checkpoint = make_hf_checkpoint("vit", layer_norm_eps=1e-6)
    model = vitdemo.load(flexivit_folder(checkpoint, timm_state, timm_folder, tmp_path), device="cpu",
                         precision="fp32")
    with torch.no_grad():
        out = model(torch.randn(1, 3, 48, 48), patch_size=patch_size)
    tokens = 1 + (48 // patch_size) ** 2
    assert out.grid == (48 // patch_size,) * 2
    assert all(a.shape == (1, 4, tokens, tokens) for a in out.attentions)
    assert torch.isfinite(out.logits).all()
    torch.testing.assert_close(out.attentions[-1].sum(-1), torch.ones(1, 4, tokens))
