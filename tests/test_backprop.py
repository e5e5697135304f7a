"""The hand-written backward of relevance and LeGrad (vitdemo/explain/backprop.py) against autograd.

The reference is torch.autograd on a fresh forward of the same model with the graph recorded: ∂ logit / ∂ A_l
for every layer (relevance), ∂ s^l / ∂ A_l with s^l the head read on block l's output (LeGrad), on every
switch the families use (distillation token, registers, LayerScale, a head on [class; patch mean], no qkv
bias), square and non-square grids. fp32 must agree to float32 rounding; the bf16 fast path, whose tape the
forward records, must be as close to fp32 as autograd on the bf16 plain recipe is.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch
from PIL import Image

from tests.counting import count_forwards
from vitdemo import fast
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze, backprop, forward_with_everything
from vitdemo.model import ViT

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=3, heads=4, mlp_dim=64, num_classes=5)
FAMILIES = {"vit": {}, "deit": dict(distilled=True), "no qkv bias": dict(qkv_bias=False),
            "dinov2-registers": dict(num_registers=3, layer_scale=True, head_input="class+mean")}


def random_model(seed: int = 0, **overrides) -> ViT:
    """Random weights of a visible size (default inits give near-uniform attention and tiny gradients)."""
    torch.manual_seed(seed)
    model = ViT(ViTConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1 + 0.1 * torch.randn_like(p) if name.endswith(("norm1.weight", "norm2.weight", "gamma"))
                    else 0.15 * torch.randn_like(p))
    return model


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


def autograd_gradients(model: ViT, inputs: torch.Tensor, patch_size: int, target: int) -> tuple[list, list]:
    """(∂ logit[target]/∂ A_l, ∂ s^l[target]/∂ A_l) for every layer, by autograd on a recorded forward."""
    with torch.enable_grad():
        out = model(inputs.clone().requires_grad_(True), patch_size, output_intermediates=True)
        relevance = torch.autograd.grad(out.logits[0, target], out.attentions, retain_graph=True)
        legrad = [torch.autograd.grad(model.classify(model.norm(out.intermediates[f"block{i}"]))[0, target].float(),
                                      out.attentions[i], retain_graph=True)[0] for i in range(len(out.attentions))]
    return [g[0].float().numpy() for g in relevance], [g[0].float().numpy() for g in legrad]


def cosine(a: np.ndarray, b: np.ndarray) -> float:
    a, b = np.asarray(a, np.float64).ravel(), np.asarray(b, np.float64).ravel()
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size,patch_size", [((32, 32), None), ((56, 40), 8)])
def test_fp32_gradients_equal_autograds_for_every_layer(family, size, patch_size):
    model = random_model(seed=3, **FAMILIES[family])
    a = analyze(model, photo(*size), patch_size=patch_size, keep_aspect=True)
    for target in (0, 3):
        relevance, legrad = autograd_gradients(model, a.inputs, a.patch_size, target)
        ours = a.gradients(target)
        assert ours.shape == (len(relevance), *relevance[0].shape)
        for layer, expected in enumerate(relevance):
            scale = np.abs(expected).max()
            assert scale > 1e-4, "the reference gradient must not vanish, or the comparison says nothing"
            assert np.abs(ours[layer] - expected).max() <= 1e-5 * scale + 1e-8
        rows = a.legrad_rows(target)  # (layers, heads, T): LeGrad's rows, positive part averaged over queries
        for layer, expected in enumerate(legrad):
            assert np.allclose(rows[layer], np.maximum(expected, 0).mean(axis=-2), rtol=1e-5, atol=1e-7)


def test_the_fast_path_records_the_tape_and_fp32_replays_it():
    model = random_model(seed=1, num_registers=2, layer_scale=True)
    inputs = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    assert not any(backprop.is_tape_stage(k) for k in forward_with_everything(model, inputs, 8).intermediates)
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    out = forward_with_everything(bf16, inputs, 8)
    if fast._POINTWISE is None:
        pytest.skip("this PyTorch has no oneDNN fused linear: no fast path to record")
    kept = {k: v for k, v in out.intermediates.items() if backprop.is_tape_stage(k)}
    assert sorted(kept) == sorted(backprop.stage_key(i, n) for i in range(3) for n in backprop.TAPE_STAGES)
    # The recorded stages are the forward's own: replaying each block from its input gives them again.
    stages = {k: v[0] for k, v in out.intermediates.items() if not backprop.is_tape_stage(k)}
    attentions = np.stack([a[0].float().numpy() for a in out.attentions])
    replayed = backprop.tape(bf16, stages, attentions)
    for i in range(3):
        for name in backprop.TAPE_STAGES:
            recorded = kept[backprop.stage_key(i, name)][0].float()
            again = getattr(replayed, name)[i].float()
            assert recorded.shape == again.shape
            assert (recorded - again).abs().max() <= 0.02 * again.abs().max()


@pytest.mark.skipif(fast._POINTWISE is None, reason="this PyTorch has no oneDNN fused linear")
@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_gradients_are_as_close_to_fp32_as_autograd_on_the_bf16_recipe(family):
    model = random_model(seed=5, **FAMILIES[family])
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    image = photo(40, 32, seed=1)
    exact, ours = analyze(model, image), analyze(bf16, image)
    assert any(backprop.is_tape_stage(k) for k in ours.intermediates), "the bf16 forward kept its tape"
    target = 2
    with fast.disabled():
        recipe, recipe_legrad = autograd_gradients(bf16, ours.inputs, ours.patch_size, target)
    truth, truth_legrad = autograd_gradients(model, exact.inputs, exact.patch_size, target)
    got, got_legrad = ours.gradients(target), ours.legrad_rows(target)
    for layer in range(model.config.depth):
        bar = cosine(recipe[layer], truth[layer])
        assert cosine(got[layer], truth[layer]) >= min(0.999, 1 - 2 * (1 - bar)), layer
        rows, recipe_rows = (np.maximum(g[layer], 0).mean(-2) for g in (truth_legrad, recipe_legrad))
        bar = cosine(recipe_rows, rows)
        assert cosine(got_legrad[layer], rows) >= min(0.999, 1 - 2 * (1 - bar)), layer
    maps = [a.attention_map("relevance", target=target) for a in (ours, exact)]
    assert cosine(*maps) >= 0.99


def test_relevance_and_legrad_run_no_forward_even_without_stored_stages():
    model = random_model(seed=2)
    a = analyze(model, photo(32, 32))
    calls = count_forwards(model)
    a.attention_map("relevance")
    a.maps_by_layer("legrad", target=1)
    assert calls[0] == 0, "the backward runs on the analysis forward's activations"
    bare = type(a)(model, a.view, a.inputs, model(a.inputs, a.patch_size))  # made without the recipe's stages
    assert np.allclose(bare.gradients(4), a.gradients(4), atol=1e-7)
    assert calls[0] == 2, "one forward to get the stages, the one the test made besides"


@pytest.mark.skipif(fast._POINTWISE is None, reason="this PyTorch has no oneDNN fused linear")
def test_recording_the_tape_leaves_the_forwards_numbers_as_close_to_fp32():
    # Recording keeps fc1's output before GELU, so GELU runs as its own pass instead of inside the product:
    # one more bf16 rounding, which must not move the forward further from fp32 than bf16 already does.
    model = random_model(seed=4, layer_scale=True)
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        truth, plain = model(x), bf16(x)
    recorded = forward_with_everything(bf16, x, 8)
    error = (recorded.logits - truth.logits).abs().max()
    assert error <= 2 * (plain.logits - truth.logits).abs().max() + 1e-3
    for ours, fused, exact in zip(recorded.attentions, plain.attentions, truth.attentions, strict=True):
        assert (ours.float() - exact).abs().max() <= 2 * (fused.float() - exact).abs().max() + 1e-3
