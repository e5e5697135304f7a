"""vitdemo loading a checkpoint computes what the source library computes: logits and every attention map.

The reference is transformers' eager ViT/DeiT with `output_attentions=True` on small random weights. timm is
not installed, so its layout is checked by writing the same weights under timm's names: if vitdemo maps both
layouts onto the same numbers as transformers, both mappings are right. timm's eval transform and big_vision's
position-embedding resampling (jax.image.resize) are checked against line-for-line ports of their sources.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

import vitdemo
from vitdemo.config import Preprocessing, ViTConfig
from vitdemo.constants import FLEXIVIT_PATCH_SIZES
from vitdemo.layouts_timm import timm_preprocessing
from vitdemo.model import resample_grid
from vitdemo.preprocessing import shorter_side_to

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


# --------------------------------------------------------------------------------------------------------
# timm's eval transform, ported from torchvision 0.17+ (transforms/functional.py, PIL path) and timm
# (data/transforms_factory.py, transforms_imagenet_eval with the default crop_mode "center")

PIL_MODES = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST}


def tv_compute_resized_output_size(image_size: tuple[int, int], size: list[int]) -> list[int]:
    """torchvision's `_compute_resized_output_size` for `Resize(int)` (size of one, no max_size)."""
    h, w = image_size
    short, long = (w, h) if w <= h else (h, w)
    requested_new_short = size if isinstance(size, int) else size[0]
    new_short, new_long = requested_new_short, int(requested_new_short * long / short)
    new_w, new_h = (new_short, new_long) if w <= h else (new_long, new_short)
    return [new_h, new_w]


def tv_resize(img: Image.Image, size: int, interpolation: int) -> Image.Image:
    """torchvision's `resize` on a PIL image: `F_pil.resize` is `img.resize(tuple(size[::-1]), interpolation)`."""
    output_size = tv_compute_resized_output_size((img.height, img.width), [size])
    if [img.height, img.width] == output_size:
        return img
    return img.resize(tuple(output_size[::-1]), interpolation)


def tv_center_crop(img: Image.Image, output_size: tuple[int, int]) -> Image.Image:
    """torchvision's `center_crop` when the image covers the crop (`F_pil.crop` is `img.crop(box)`)."""
    image_width, image_height = img.size
    crop_height, crop_width = output_size
    assert crop_width <= image_width and crop_height <= image_height
    crop_top = int(round((image_height - crop_height) / 2.0))
    crop_left = int(round((image_width - crop_width) / 2.0))
    return img.crop((crop_left, crop_top, crop_left + crop_width, crop_top + crop_height))


def timm_eval(img: Image.Image, img_size: int, crop_pct: float, interpolation: str, mean, std) -> torch.Tensor:
    """timm's `transforms_imagenet_eval`: Resize(floor(size / crop_pct)), CenterCrop(size), ToTensor, Normalize."""
    scale_size = math.floor(img_size / crop_pct)
    img = tv_center_crop(tv_resize(img, scale_size, PIL_MODES[interpolation]), (img_size, img_size))
    tensor = torch.from_numpy(np.array(img, np.uint8, copy=True)).permute(2, 0, 1).contiguous().float().div(255)
    return tensor.sub_(torch.tensor(mean).view(-1, 1, 1)).div_(torch.tensor(std).view(-1, 1, 1)).unsqueeze(0)


def test_resize_sizes_are_torchvisions():
    """Every (width, height) up to 700 px, shorter side to four of timm's scale sizes: not one pixel off."""
    sizes = [(w, h) for w in range(1, 701, 3) for h in range(1, 701, 7)]
    for short in (248, 256, 252, 384):
        for w, h in sizes:
            assert shorter_side_to(w, h, short) == tuple(tv_compute_resized_output_size((h, w), [short])[::-1])
    assert shorter_side_to(500, 375, 248) == (330, 248)  # rounding would give 331: the one pixel


TIMM_CASES = [  # (pretrained_cfg, architecture): timm's own combinations of size, crop_pct and interpolation
    ({"input_size": [3, 224, 224], "crop_pct": 0.9, "interpolation": "bicubic"}, "vit_base_patch16_224"),
    ({"input_size": [3, 224, 224], "crop_pct": 0.875, "interpolation": "bilinear"}, "deit_small_patch16_224"),
    ({"input_size": [3, 240, 240], "crop_pct": 0.95, "interpolation": "bicubic"}, "flexivit_base"),
    ({"input_size": [3, 384, 384], "crop_pct": 1.0, "interpolation": "bicubic"}, "vit_base_patch16_384"),
]


@pytest.mark.parametrize("pretrained,architecture", TIMM_CASES, ids=[c[1] for c in TIMM_CASES])
def test_timm_layout_input_is_timms_eval_transform(pretrained, architecture):
    size = pretrained["input_size"][-1]
    pre = timm_preprocessing(pretrained, architecture)
    config = ViTConfig(image_size=size, patch_size=16, dim=64, depth=1, heads=4, mlp_dim=64, preprocessing=pre)
    rng = np.random.default_rng(0)
    for w, h in [(500, 375), (375, 500), (640, 427), (1024, 683), (333, 250), (251, 1000), (size, size), (299, 301)]:
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        expected = timm_eval(image, size, pre.crop_pct, pre.interpolation, pre.mean, pre.std)
        view = vitdemo.model_view(image, config)
        assert view.size == (size, size)
        reference_view = tv_center_crop(tv_resize(image, math.floor(size / pre.crop_pct),
                                                  PIL_MODES[pre.interpolation]), (size, size))
        assert np.array_equal(np.asarray(view), np.asarray(reference_view)), (w, h)
        torch.testing.assert_close(vitdemo.preprocess(image, config), expected, atol=0, rtol=0)


def test_timm_folder_carries_timms_transform(make_hf_checkpoint, timm_state, timm_folder, tmp_path):
    checkpoint = make_hf_checkpoint("vit", layer_norm_eps=1e-6)
    folder = timm_folder(tmp_path / "timm", timm_state(checkpoint.path), "vit_small_patch8_32",
                         dict(embed_dim=64, depth=2, num_heads=4, mlp_ratio=2.0, img_size=32),
                         {"crop_pct": 0.875, "interpolation": "bicubic"})
    model = vitdemo.load(folder, device="cpu", precision="fp32")
    image = Image.fromarray(np.random.default_rng(1).integers(0, 256, (45, 61, 3), dtype=np.uint8))
    expected = timm_eval(image, 32, 0.875, "bicubic", (0.5,) * 3, (0.5,) * 3)
    torch.testing.assert_close(vitdemo.preprocess(image, model.config), expected, atol=0, rtol=0)


def test_transformers_processors_keep_their_own_crop():
    """transformers' processors floor an odd crop margin where torchvision rounds: each layout keeps its own."""
    image = Image.fromarray(np.random.default_rng(2).integers(0, 256, (427, 640, 3), dtype=np.uint8))
    config = ViTConfig(image_size=224, patch_size=16, dim=64, depth=1, heads=4, mlp_dim=64,
                       preprocessing=Preprocessing(crop_pct=224 / 256, crop_offset="floor"))
    resized = image.resize((383, 256), Image.BICUBIC)  # 256 · 640 / 427 = 383.7; margin 159: floor 79, round 80
    np.testing.assert_array_equal(np.asarray(vitdemo.model_view(image, config)),
                                  np.asarray(resized)[16:240, 79:303])


# --------------------------------------------------------------------------------------------------------
# FlexiViT's position embeddings: big_vision (models/proj/flexi/vit.py at 0127fb6) resizes them with
# `jax.image.resize(pos_emb, (1, h, w, c), "linear")`, antialias on by default. The port below is jax's
# `compute_weight_mat` (jax/_src/image/scale.py at cec06d1) for the triangle kernel, without edge padding.


def jax_weight_mat(input_size: int, output_size: int, antialias: bool = True) -> np.ndarray:
    scale, translation = output_size / input_size, 0.0
    inv_scale = 1.0 / scale
    kernel_scale = max(inv_scale, 1.0) if antialias else 1.0
    sample_f = (np.arange(output_size) + 0.5) * inv_scale - translation * inv_scale - 0.5
    x = np.abs(sample_f[np.newaxis, :] - np.arange(input_size)[:, np.newaxis]) / kernel_scale
    weights = np.maximum(0, 1 - np.abs(x))  # _fill_triangle_kernel
    total_weight_sum = np.sum(weights, axis=0, keepdims=True)
    weights = np.where(np.abs(total_weight_sum) > 1000.0 * float(np.finfo(np.float32).eps),
                       np.divide(weights, np.where(total_weight_sum != 0, total_weight_sum, 1)), 0)
    input_size_minus_0_5 = input_size - 0.5
    return np.where(np.logical_and(sample_f >= -0.5, sample_f <= input_size_minus_0_5)[np.newaxis, :], weights, 0)


def jax_resize_linear(image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """`jax.image.resize(image, shape, "linear")`: one weight matrix per dimension whose size changes."""
    out = image.astype(np.float64)
    for d, n in enumerate(shape):
        if out.shape[d] != n:
            out = np.moveaxis(np.tensordot(out, jax_weight_mat(out.shape[d], n), axes=([d], [0])), -1, d)
    return out


def big_vision_posemb(pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    side, c = math.isqrt(pos.shape[1]), pos.shape[2]
    resized = jax_resize_linear(pos.reshape(1, side, side, c).numpy(), (1, *grid, c))
    return torch.from_numpy(resized.reshape(1, grid[0] * grid[1], c)).float()


def timm_posemb(pos: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """timm's `resample_abs_pos_embed` (layers/pos_embed.py) with its defaults: bicubic, antialias=True."""
    side, c = math.isqrt(pos.shape[1]), pos.shape[2]
    posemb = pos.float().reshape(1, side, side, -1).permute(0, 3, 1, 2)
    posemb = F.interpolate(posemb, size=grid, mode="bicubic", antialias=True)
    return posemb.permute(0, 2, 3, 1).reshape(1, -1, c)


FLEXI_GRIDS = [(240 // p, 240 // p) for p in FLEXIVIT_PATCH_SIZES] + [(3, 7), (7, 20), (20, 7), (1, 1)]


def smooth_flexivit_posemb(seed: int = 0) -> torch.Tensor:
    """A 15×15 grid like the hub's FlexiViT (learned at 7×7 and resized): smooth, unlike random noise."""
    base = torch.randn(1, 49, 64, generator=torch.Generator().manual_seed(seed))
    return big_vision_posemb(base, (15, 15))


@pytest.mark.parametrize("grid", FLEXI_GRIDS, ids=str)
def test_flexivit_positions_are_resampled_as_big_vision_does(grid):
    for pos in (smooth_flexivit_posemb(), torch.randn(1, 225, 64, generator=torch.Generator().manual_seed(1))):
        torch.testing.assert_close(resample_grid(pos, grid, "bilinear"), big_vision_posemb(pos, grid),
                                   atol=2e-6, rtol=0)


def test_a_loaded_flexivit_resamples_as_big_vision_does(make_hf_checkpoint, timm_state, timm_folder, tmp_path):
    model = vitdemo.load(flexivit_folder(make_hf_checkpoint("vit", layer_norm_eps=1e-6), timm_state, timm_folder,
                                         tmp_path), device="cpu", precision="fp32")
    for grid in [(2, 2), (3, 5), (6, 6), (8, 3)]:
        _, patch_pos = model.position_embeddings(grid)
        torch.testing.assert_close(patch_pos, big_vision_posemb(model.pos_embed.detach(), grid), atol=2e-6, rtol=0)


def test_timms_resampling_is_measurably_different():
    """The choice matters: on a smooth FlexiViT-like grid timm's bicubic moves positions by ~0.06-0.1 of their
    standard deviation on average (up to ~0.5 at single entries), at every patch size but the native 16."""
    pos = smooth_flexivit_posemb()
    std = float(pos.std())
    for grid in [(240 // p, 240 // p) for p in FLEXIVIT_PATCH_SIZES if p != 16]:
        gap = (resample_grid(pos, grid, "bilinear") - timm_posemb(pos, grid)).abs()
        assert 0.03 < float(gap.mean()) / std < 0.2 and float(gap.max()) / std > 0.2, grid


HF_PROCESSORS = {  # the preprocessor_config.json of google/vit-base-patch16-224 and facebook/deit-base-distilled-*
    "vit": ("ViTImageProcessorPil", {"do_normalize": True, "do_resize": True, "image_mean": [0.5] * 3,
                                     "image_std": [0.5] * 3, "resample": 2, "size": {"height": 224, "width": 224}}),
    "deit": ("DeiTImageProcessorPil", {"crop_size": {"height": 224, "width": 224}, "do_center_crop": True,
                                       "do_normalize": True, "do_resize": True, "image_mean": [0.485, 0.456, 0.406],
                                       "image_std": [0.229, 0.224, 0.225], "resample": 3,
                                       "size": {"height": 256, "width": 256}}),
}


@pytest.mark.parametrize("kind", HF_PROCESSORS)
def test_transformers_layout_input_is_its_processors(kind):
    import transformers

    from vitdemo.layouts import hf_preprocessing

    name, settings = HF_PROCESSORS[kind]
    processor = getattr(transformers, name)(**settings)
    config = ViTConfig(image_size=224, patch_size=16, dim=64, depth=1, heads=4, mlp_dim=64,
                       preprocessing=hf_preprocessing(settings, kind, 224))
    rng = np.random.default_rng(3)
    for w, h in [(500, 375), (640, 427), (1000, 667), (257, 300)]:
        image = Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8))
        expected = processor(image, return_tensors="pt")["pixel_values"]
        torch.testing.assert_close(vitdemo.preprocess(image, config), expected, atol=0, rtol=0)
