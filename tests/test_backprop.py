"""The hand-written backward of relevance and LeGrad (vitdemo/explain/backprop.py) against autograd.

The reference is torch.autograd on a fresh forward of the same model with the graph recorded: ∂ logit / ∂ A_l
for every layer (relevance), ∂ s^l / ∂ A_l with s^l the head read on block l's output (LeGrad), on every
switch the families use (distillation token, registers, LayerScale, a head on [class; patch mean], no qkv
bias), square and non-square grids. fp32 must agree to float32 rounding; bf16 must be as close to fp32 as
autograd on the bf16 recipe is. The per-block records the backward reads are checked against the block's
arithmetic written out with torch.nn.functional.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from tests.counting import count_forwards
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze, forward_with_everything
from vitdemo.model import ViT

HEADS = 4
SMALL = dict(image_size=32, patch_size=8, dim=32, depth=3, heads=HEADS, mlp_dim=64, num_classes=5)
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_each_block_records_its_steps_as_the_recipe_computes_them(dtype):
    # The record is what the backward reads instead of the forward: each field against the block's arithmetic
    # written out here with torch.nn.functional, from the weights (LayerScale and registers on, so γ counts).
    model = copy.deepcopy(random_model(seed=1, num_registers=2, layer_scale=True)).to(dtype)
    inputs = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(0))
    out = forward_with_everything(model, inputs, 8)
    assert len(out.records) == 3 and not model(inputs, 8).records, "records only when asked for"
    x = out.intermediates["with_position"]

    def norm(layer: torch.nn.LayerNorm, z: torch.Tensor) -> torch.Tensor:
        return F.layer_norm(z, layer.normalized_shape, layer.weight, layer.bias, layer.eps)

    def linear(layer: torch.nn.Linear, z: torch.Tensor) -> torch.Tensor:
        return F.linear(z, layer.weight, layer.bias)

    with torch.inference_mode():  # the forward's tensors are inference tensors
        for i, (block, record) in enumerate(zip(model.blocks, out.records, strict=True)):
            b, t, d = x.shape
            qkv = linear(block.attn.qkv, norm(block.norm1, x))
            q, k, v = (qkv[..., j * d:(j + 1) * d].reshape(b, t, HEADS, d // HEADS).transpose(1, 2) for j in range(3))
            attention = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(d // HEADS), dim=-1)
            mid = x + block.ls1.gamma * linear(block.attn.proj, (attention @ v).transpose(1, 2).reshape(b, t, d))
            hidden = linear(block.mlp.fc1, norm(block.norm2, mid))
            output = mid + block.ls2.gamma * linear(block.mlp.fc2, F.gelu(hidden))
            expected = dict(inputs=x, qkv=qkv, attention=attention, mid=mid, hidden=hidden, output=output)
            for name, want in expected.items():
                got = getattr(record, name)
                assert got.dtype == dtype and got.shape == want.shape, (i, name)
                tolerance = 1e-5 if dtype == torch.float32 else 0.02  # bf16: one rounding per step, in another order
                assert (got.float() - want.float()).abs().max() <= tolerance * want.float().abs().max(), (i, name)
            assert record.attention is out.attentions[i] and torch.equal(record.output, out.intermediates[f"block{i}"])
            x = record.output


def test_an_image_of_a_batched_forward_gets_its_own_records_and_gradients():
    # The app batches concurrent requests into one forward and splits it (service._forward): each analysis
    # must differentiate its own image, and keep its own records, not views of the whole batch's buffers.
    from vitdemo.app import service

    model = random_model(seed=6, distilled=True)
    images = [photo(32, 32, seed=s) for s in (1, 2)]
    single = analyze(model, images[1])
    pool = type("Pool", (), {"peek": lambda self, key: model})()
    service._POOLS[id(pool)] = pool
    try:
        outputs = service._forward(id(pool), "random", torch.cat([analyze(model, images[0]).inputs, single.inputs]), 8)
    finally:
        del service._POOLS[id(pool)]
    batched = type(single)(model, single.view, single.inputs, outputs[1])
    for record in batched._kept_tape:
        for name in ("inputs", "qkv", "mid", "hidden", "output"):
            tensor = getattr(record, name)
            assert tensor.untyped_storage().nbytes() == tensor.nbytes, name
    relevance, _ = autograd_gradients(model, single.inputs, 8, 2)
    ours = batched.gradients(2)
    for layer, expected in enumerate(relevance):
        assert np.abs(ours[layer] - expected).max() <= 1e-5 * np.abs(expected).max() + 1e-8


@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_gradients_are_as_close_to_fp32_as_autograd_on_the_bf16_recipe(family):
    model = random_model(seed=5, **FAMILIES[family])
    bf16 = copy.deepcopy(model).to(torch.bfloat16)
    image = photo(40, 32, seed=1)
    exact, ours = analyze(model, image), analyze(bf16, image)
    assert ours._kept_tape is not None and ours._kept_tape[0].qkv.dtype == torch.bfloat16, "the forward's records"
    target = 2
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


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_keeping_the_records_leaves_the_forwards_numbers_unchanged(dtype):
    # The records are the tensors the forward computes anyway: asking for them changes no arithmetic.
    model = copy.deepcopy(random_model(seed=4, layer_scale=True)).to(dtype)
    x = torch.randn(1, 3, 32, 32, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        plain = model(x, 8)
    recorded = forward_with_everything(model, x, 8)
    assert torch.equal(recorded.logits, plain.logits)
    for ours, theirs in zip(recorded.attentions, plain.attentions, strict=True):
        assert torch.equal(ours, theirs)
