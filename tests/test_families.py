"""DINO, DINOv2 and DINOv2 with registers load and compute what their reference computes.

The reference is the library of the checkpoint's layout: transformers' eager implementation
(`output_attentions=True`) on small random weights written with `save_pretrained`, position resampling included
(transformers 5 resamples to the grid's size). The original code's resampling, with its +0.1 on the grid side,
is an option (`config.position_resampling = "original"`); its reference is transformers' network with
`interpolate_pos_encoding` replaced by a line-for-line port of facebookresearch/dinov2's (commit b8931f7,
dinov2/models/vision_transformer.py), checked itself against transformers with the offset set to 0, or of
facebookresearch/dino's (commit 7c446df, vision_transformer.py) for DINO v1.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
from vitdemo.config import IMAGENET_MEAN, IMAGENET_STD

TOL = 1e-4
NATIVE, NON_SQUARE = (56, 56), (42, 70)  # the 4×4 grid the weights hold, and a 3×5 one (rows shrink, cols grow)
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, image_size=56, patch_size=14)
HUB_IDS = {  # the real repos each small model stands in for
    "dino": "facebook/dino-vits8",
    "dinov2": "facebook/dinov2-small-imagenet1k-1-layer",
    "dinov2-backbone": "facebook/dinov2-small",
    "registers": "facebook/dinov2-with-registers-small-imagenet1k-1-layer",
    "registers-backbone": "facebook/dinov2-with-registers-small",
}
FAMILIES = tuple(HUB_IDS)
# facebook/dinov2-small-imagenet1k-1-layer's preprocessor_config.json (BitImageProcessor), as on the hub.
DINOV2_PREPROCESSOR = {"crop_size": {"height": 224, "width": 224}, "do_center_crop": True, "do_convert_rgb": True,
                       "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": list(IMAGENET_MEAN),
                       "image_processor_type": "BitImageProcessor", "image_std": list(IMAGENET_STD), "resample": 3,
                       "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 256}}


class Checkpoint(NamedTuple):
    model: Any  # transformers, eval, eager attention
    path: Path


def transformers_model(family: str, seed: int = 0) -> Any:
    import transformers as tf

    config_class, model_class, extra = {
        "dino": (tf.ViTConfig, tf.ViTModel, dict(intermediate_size=128)),
        "dinov2": (tf.Dinov2Config, tf.Dinov2ForImageClassification, dict(mlp_ratio=2, num_labels=10)),
        "dinov2-backbone": (tf.Dinov2Config, tf.Dinov2Model, dict(mlp_ratio=2)),
        "registers": (tf.Dinov2WithRegistersConfig, tf.Dinov2WithRegistersForImageClassification,
                      dict(mlp_ratio=2, num_labels=10, num_register_tokens=4)),
        "registers-backbone": (tf.Dinov2WithRegistersConfig, tf.Dinov2WithRegistersModel,
                               dict(mlp_ratio=2, num_register_tokens=4)),
    }[family]
    model = model_class(config_class(**SMALL, **extra, attn_implementation="eager"))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # random everything: default inits (unit norms and scales, zero registers) hide mix-ups
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * noise)
            elif "lambda1" in name:  # LayerScale: distinct per layer and branch, so a swap would show
                p.copy_(0.5 + 0.2 * noise)
            else:
                p.copy_(0.15 * noise)
    return model.eval()


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory: pytest.TempPathFactory):
    made: dict[str, Checkpoint] = {}

    def make(family: str) -> Checkpoint:
        if family not in made:
            model = transformers_model(family)
            path = tmp_path_factory.mktemp(family)
            model.save_pretrained(path)
            made[family] = Checkpoint(model, path)
        return made[family]

    return make


def original_dinov2_interpolation(embeddings: torch.nn.Module, interpolate_offset: float = 0.1,
                                  interpolate_antialias: bool = False):
    """facebookresearch/dinov2's DinoVisionTransformer.interpolate_pos_encoding, line for line, reading the
    position embeddings of transformers' `embeddings` module (B, nc, w, h there: w is the height)."""
    patch_size = embeddings.patch_size

    def interpolate_pos_encoding(x: torch.Tensor, w: int, h: int) -> torch.Tensor:
        previous_dtype = x.dtype
        npatch = x.shape[1] - 1
        N = embeddings.position_embeddings.shape[1] - 1  # noqa: N806 (the original's names)
        if npatch == N and w == h:
            return embeddings.position_embeddings
        pos_embed = embeddings.position_embeddings.float()
        class_pos_embed = pos_embed[:, 0]
        patch_pos_embed = pos_embed[:, 1:]
        dim = x.shape[-1]
        w0 = w // patch_size
        h0 = h // patch_size
        M = int(math.sqrt(N))  # noqa: N806
        assert N == M * M
        kwargs = {}
        if interpolate_offset:
            sx = float(w0 + interpolate_offset) / M
            sy = float(h0 + interpolate_offset) / M
            kwargs["scale_factor"] = (sx, sy)
        else:
            kwargs["size"] = (w0, h0)
        patch_pos_embed = torch.nn.functional.interpolate(
            patch_pos_embed.reshape(1, M, M, dim).permute(0, 3, 1, 2),
            mode="bicubic",
            antialias=interpolate_antialias,
            **kwargs,
        )
        assert (w0, h0) == patch_pos_embed.shape[-2:]
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1).to(previous_dtype)

    return interpolate_pos_encoding


def original_dino_interpolation(embeddings: torch.nn.Module):
    """facebookresearch/dino's VisionTransformer.interpolate_pos_encoding, line for line, reading the position
    embeddings of transformers' ViT `embeddings` module (B, nc, w, h there: w is the height)."""

    def interpolate_pos_encoding(x: torch.Tensor, w: int, h: int) -> torch.Tensor:
        npatch = x.shape[1] - 1
        N = embeddings.position_embeddings.shape[1] - 1  # noqa: N806 (the original's names)
        if npatch == N and w == h:
            return embeddings.position_embeddings
        class_pos_embed = embeddings.position_embeddings[:, 0]
        patch_pos_embed = embeddings.position_embeddings[:, 1:]
        dim = x.shape[-1]
        w0 = w // embeddings.patch_size
        h0 = h // embeddings.patch_size
        # we add a small number to avoid floating point error in the interpolation
        # see discussion at https://github.com/facebookresearch/dino/issues/8
        w0, h0 = w0 + 0.1, h0 + 0.1
        patch_pos_embed = torch.nn.functional.interpolate(
            patch_pos_embed.reshape(1, int(math.sqrt(N)), int(math.sqrt(N)), dim).permute(0, 3, 1, 2),
            scale_factor=(w0 / math.sqrt(N), h0 / math.sqrt(N)),
            mode="bicubic",
        )
        assert int(w0) == patch_pos_embed.shape[-2] and int(h0) == patch_pos_embed.shape[-1]
        patch_pos_embed = patch_pos_embed.permute(0, 2, 3, 1).view(1, -1, dim)
        return torch.cat((class_pos_embed.unsqueeze(0), patch_pos_embed), dim=1)

    return interpolate_pos_encoding


def has_head(family: str) -> bool:
    return family in ("dinov2", "registers")


def embeddings_of(model: Any) -> torch.nn.Module:
    return getattr(model, "dinov2_with_registers", getattr(model, "dinov2", model)).embeddings


def reference_outputs(family: str, model: Any, images: torch.Tensor, original: bool = False) -> Any:
    """transformers' outputs; if `original`, with the original code's resampling (DINO v1 and DINOv2 without
    registers: the +0.1 offset; the register models' original code resamples as transformers does)."""
    kwargs = {"interpolate_pos_encoding": True} if family == "dino" else {}
    with torch.no_grad():
        if not (original and family in ("dino", "dinov2", "dinov2-backbone")):
            return model(images, output_attentions=True, **kwargs)
        embeddings = embeddings_of(model)
        port = original_dino_interpolation if family == "dino" else original_dinov2_interpolation
        embeddings.interpolate_pos_encoding = port(embeddings)
        try:
            return model(images, output_attentions=True, **kwargs)
        finally:
            del embeddings.interpolate_pos_encoding  # back to transformers' own method


def images_of(size: tuple[int, int], seed: int = 0) -> torch.Tensor:
    return torch.randn(2, 3, *size, generator=torch.Generator().manual_seed(seed))


def final(out: vitdemo.ViTOutput, has_head: bool) -> torch.Tensor:
    """The logits, or without a head the final-normed tokens."""
    return out.logits if has_head else out.intermediates["encoded"]


def assert_matches(ours: vitdemo.ViTOutput, theirs: Any, has_head: bool) -> float:
    """Logits (or, without a head, the final-normed tokens) and every attention map within TOL; → max diff."""
    if has_head:
        torch.testing.assert_close(ours.logits, theirs.logits, atol=TOL, rtol=0)
        diffs = [(ours.logits - theirs.logits).abs().max()]
    else:
        assert ours.logits.shape == (theirs.last_hidden_state.shape[0], 0)
        torch.testing.assert_close(ours.intermediates["encoded"], theirs.last_hidden_state, atol=TOL, rtol=0)
        diffs = [(ours.intermediates["encoded"] - theirs.last_hidden_state).abs().max()]
    assert len(ours.attentions) == len(theirs.attentions) == SMALL["num_hidden_layers"]
    for a, b in zip(ours.attentions, theirs.attentions):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
        diffs.append((a - b).abs().max())
    return float(max(diffs))


# --------------------------------------------------------------------------------------------------------
# The numbers


@pytest.mark.parametrize("size", [NATIVE, NON_SQUARE], ids=["native", "non-square"])
@pytest.mark.parametrize("family", FAMILIES)
def test_family_matches_its_reference(checkpoint, family, size):
    ckpt = checkpoint(family)
    model = vitdemo.load(ckpt.path, device="cpu", precision="fp32")
    images = images_of(size)
    with torch.no_grad():
        ours = model(images, output_intermediates=True)
    assert ours.grid == (size[0] // 14, size[1] // 14)
    assert_matches(ours, reference_outputs(family, ckpt.model, images), has_head(family))


def test_the_original_port_is_transformers_without_the_offset(checkpoint):
    """The port's only difference from transformers is the offset: with 0 the two agree, with 0.1 they do not."""
    ckpt = checkpoint("dinov2")
    embeddings = embeddings_of(ckpt.model)
    x = torch.zeros(1, 1 + 15, SMALL["hidden_size"])  # a 3×5 grid of tokens after the class token
    plain = embeddings.interpolate_pos_encoding(x, 42, 70)
    torch.testing.assert_close(original_dinov2_interpolation(embeddings, 0.0)(x, 42, 70), plain, atol=1e-6, rtol=0)
    assert (original_dinov2_interpolation(embeddings, 0.1)(x, 42, 70) - plain).abs().max() > 1e-3


def test_the_original_port_of_dino_is_the_dinov2_port(checkpoint):
    """DINO v1's resampling is DINOv2's with the offset 0.1: the two ports agree on the same embeddings."""
    embeddings = embeddings_of(checkpoint("dinov2").model)
    x = torch.zeros(1, 1 + 15, SMALL["hidden_size"])
    torch.testing.assert_close(original_dino_interpolation(embeddings)(x, 42, 70),
                               original_dinov2_interpolation(embeddings, 0.1)(x, 42, 70), atol=1e-6, rtol=0)


def load_dino_by_repo_id(checkpoint, hub_cache) -> tuple[Any, vitdemo.ViT]:
    """DINO v1 is a plain transformers ViTModel: only its repo id tells it from another ViT."""
    ckpt = checkpoint("dino")
    hub_cache.add(HUB_IDS["dino"], [ckpt.path / "config.json", ckpt.path / "model.safetensors"])
    return ckpt.model, vitdemo.load(HUB_IDS["dino"], device="cpu", precision="fp32")


@pytest.mark.parametrize("family", ["dino", "dinov2", "dinov2-backbone"])
def test_original_resampling_is_an_option_with_the_original_codes_numbers(checkpoint, hub_cache, family):
    """By default DINO and DINOv2 resample as transformers 5 does (checked in test_family_matches_its_reference);
    `position_resampling="original"` gives the original code's numbers, which differ by more than the tolerance."""
    if family == "dino":
        reference, model = load_dino_by_repo_id(checkpoint, hub_cache)
    else:
        reference = checkpoint(family).model
        model = vitdemo.load(checkpoint(family).path, device="cpu", precision="fp32")
    assert (model.config.position_resampling, model.config.pos_offset) == ("library", 0.1)
    images = images_of(NON_SQUARE)
    with torch.no_grad():
        library = model(images, output_intermediates=True)
        model.config.position_resampling = "original"
        original = model(images, output_intermediates=True)
    assert_matches(library, reference_outputs(family, reference, images), has_head(family))
    assert_matches(original, reference_outputs(family, reference, images, original=True), has_head(family))
    moved = (final(library, has_head(family)) - final(original, has_head(family))).abs().max()
    assert moved > 10 * TOL, "the option must change the numbers for this test to mean anything"


def test_a_vit_that_is_not_dino_has_no_original_offset(checkpoint):
    """A transformers ViTModel loaded from a folder (no DINO repo id) and the register models: no offset."""
    for family in ("dino", "registers"):
        assert vitdemo.load(checkpoint(family).path, device="cpu", precision="fp32").config.pos_offset == 0.0


def test_a_saved_config_with_an_offset_keeps_applying_it():
    """vitdemo checkpoints saved before the option existed applied their offset: they still do."""
    from vitdemo.config import ViTConfig

    old = ViTConfig.from_dict({"pos_offset": 0.1})
    assert (old.position_resampling, old.resampling_offset) == ("original", 0.1)
    new = ViTConfig.from_dict(ViTConfig(pos_offset=0.1).to_dict())
    assert (new.position_resampling, new.resampling_offset) == ("library", 0.0)


@pytest.mark.parametrize("family", ["dino", "dinov2", "registers"])
def test_tokens_enter_the_encoder_in_transformers_order(checkpoint, family):
    """[class, registers..., patches], registers without positions: the embeddings equal transformers'."""
    ckpt = checkpoint(family)
    model = vitdemo.load(ckpt.path, device="cpu", precision="fp32")
    expected_types = {"dino": ["class"], "dinov2": ["class"], "registers": ["class"] + ["register"] * 4}[family]
    assert model.config.token_types == expected_types
    assert model.config.num_prefix_tokens == len(expected_types)
    images = images_of(NATIVE)
    with torch.no_grad():
        tokens = model(images, output_intermediates=True).intermediates["with_position"]
        theirs = embeddings_of(ckpt.model)(images)
    torch.testing.assert_close(tokens, theirs, atol=1e-6, rtol=0)
    if family == "registers":
        registers = ckpt.model.dinov2_with_registers.embeddings.register_tokens
        torch.testing.assert_close(tokens[:, 1:5], registers.expand(2, -1, -1), atol=0, rtol=0)


def test_dinov2_head_reads_the_class_token_and_the_mean_of_patches_only(checkpoint):
    """Registers are prefix tokens: the head's patch mean leaves them out (transformers' 1 + num_registers)."""
    ckpt = checkpoint("registers")
    model = vitdemo.load(ckpt.path, device="cpu", precision="fp32")
    with torch.no_grad():
        stages = model(images_of(NATIVE), output_intermediates=True).intermediates
    encoded = stages["encoded"]
    expected = torch.cat([encoded[:, 0], encoded[:, 5:].mean(1)], dim=-1)
    torch.testing.assert_close(stages["head_input"], expected, atol=0, rtol=0)
    assert model.head.in_features == 2 * SMALL["hidden_size"]


def test_layer_scale_and_registers_are_loaded_not_defaulted(checkpoint):
    ckpt = checkpoint("registers")
    model = vitdemo.load(ckpt.path, device="cpu", precision="fp32")
    layer = ckpt.model.dinov2_with_registers.encoder.layer[1]
    torch.testing.assert_close(model.blocks[1].ls1.gamma, layer.layer_scale1.lambda1, atol=0, rtol=0)
    torch.testing.assert_close(model.blocks[1].ls2.gamma, layer.layer_scale2.lambda1, atol=0, rtol=0)
    assert model.config.pos_antialias and model.config.pos_offset == 0.0
    assert tuple(model.pos_embed.shape) == (1, 1 + 16, SMALL["hidden_size"])  # class + 4×4; registers have none


# --------------------------------------------------------------------------------------------------------
# A model without a classifier


def photo(width: int = 84, height: int = 56, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.mark.parametrize("family", ["dino", "registers-backbone"])
def test_a_model_without_a_classifier_runs_every_attention_view(checkpoint, family):
    model = vitdemo.load(checkpoint(family).path, device="cpu", precision="fp32")
    assert not model.config.has_classifier and model.labels == [] and model.head is None
    analysis = vitdemo.analyze(model, photo(), keep_aspect=True)
    assert analysis.top() == [] and analysis.logits.shape == (0,)
    rows, cols = analysis.grid
    assert analysis.attentions.shape[-1] == model.config.num_prefix_tokens + rows * cols
    for layer in range(model.config.depth):
        for head in ("mean", "max", 0, 3):
            assert analysis.attention_map("attention", layer=layer, head=head).sum() == pytest.approx(1, abs=1e-5)
        assert analysis.attention_map("rollout", layer=layer).shape == (rows, cols)
        assert analysis.head_maps(layer).shape == (4, rows, cols)
    assert analysis.maps_by_layer("rollout").shape == (model.config.depth, rows, cols)
    assert analysis.patch_attention(1, 2).shape == (rows, cols)
    with pytest.raises(ValueError, match="this model has no classifier"):
        analysis.attention_map("relevance")
    with pytest.raises(ValueError, match="this model has no classifier"):
        analysis.maps_by_layer("relevance", target=0)


def test_register_tokens_are_left_out_of_every_map(checkpoint):
    """The class token's map over patches only: its attention to the 4 registers is not spread onto patches."""
    model = vitdemo.load(checkpoint("registers").path, device="cpu", precision="fp32")
    analysis = vitdemo.analyze(model, photo(56, 56))
    row = analysis.attentions[-1].mean(0)[0, 5:]  # the class token's row, patch keys only
    np.testing.assert_allclose(analysis.attention_map("attention", layer=-1).ravel(), row / row.sum(), atol=1e-6)


# --------------------------------------------------------------------------------------------------------
# Loading by hub id from a local cache, offline, and what the checkpoint says about itself


@pytest.mark.parametrize("family", FAMILIES)
def test_family_loads_by_repo_id_from_the_local_hub_cache(checkpoint, hub_cache, tmp_path, family):
    ckpt = checkpoint(family)
    files = [ckpt.path / "config.json", ckpt.path / "model.safetensors"]
    if family.startswith(("dinov2", "registers")):
        (tmp_path / "preprocessor_config.json").write_text(json.dumps(DINOV2_PREPROCESSOR))
        files.append(tmp_path / "preprocessor_config.json")
    hub_cache.add(HUB_IDS[family], files)
    model = vitdemo.load(HUB_IDS[family], device="cpu", precision="fp32")
    images = images_of(NATIVE)
    with torch.no_grad():
        ours = model(images, output_intermediates=True)
    assert_matches(ours, reference_outputs(family, ckpt.model, images), has_head(family))
    if family != "dino":  # runs at the processor's 224 px crop, positions learned on the config's 4×4 grid
        pre = model.config.preprocessing
        assert (model.config.image_size, model.config.pos_grid) == (224, 4)
        assert (pre.crop_pct, pre.interpolation, pre.mean, pre.squash) == (224 / 256, "bicubic", IMAGENET_MEAN, False)


def test_dinov2_preprocessing_is_transformers_own(checkpoint, tmp_path):
    """vitdemo.preprocess gives the pixels transformers' BitImageProcessor (PIL backend) gives: shorter side
    256 with the longer side truncated, the 224 crop's odd margin floored, then ImageNet normalisation."""
    import transformers

    folder = tmp_path / "dinov2"
    folder.mkdir()
    for name in ("config.json", "model.safetensors"):
        (folder / name).write_bytes((checkpoint("dinov2").path / name).read_bytes())
    (folder / "preprocessor_config.json").write_text(json.dumps(DINOV2_PREPROCESSOR))
    model = vitdemo.load(folder, device="cpu", precision="fp32")
    settings = {k: v for k, v in DINOV2_PREPROCESSOR.items() if k != "image_processor_type"}
    processor = transformers.BitImageProcessorPil(**settings)
    for size in [(500, 375), (375, 500), (640, 427), (427, 640), (1000, 667), (257, 300), (224, 224)]:
        image = photo(*size, seed=size[0])
        expected = processor(image, return_tensors="pt")["pixel_values"]
        torch.testing.assert_close(vitdemo.preprocess(image, model.config), expected, atol=0, rtol=0)
