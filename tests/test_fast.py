"""The CPU inference fast path (vitdemo/fast.py): taken only where it may be, and the same numbers as the recipe.

The reference is the fp32 model (the numbers checked against transformers in test_equivalence.py); the bf16
fast path must be as close to it as the bf16 plain recipe is, on every switch the families use (LayerScale,
no qkv bias, distillation token, registers) and at batch 1 and 2.
"""

from __future__ import annotations

import copy

import pytest
import torch
import torch.nn.functional as F

from vitdemo import fast
from vitdemo.config import ViTConfig
from vitdemo.model import ViT

pytestmark = pytest.mark.skipif(fast._POINTWISE is None, reason="this PyTorch has no oneDNN fused linear")

SMALL = dict(image_size=64, patch_size=8, dim=64, depth=3, heads=4, mlp_dim=128, num_classes=10)
VARIANTS = {"vit": {}, "layer scale (DINOv2)": dict(layer_scale=True), "no qkv bias": dict(qkv_bias=False),
            "distilled (DeiT)": dict(distilled=True), "registers": dict(num_registers=4, layer_scale=True)}


def random_model(seed: int = 0, **config) -> ViT:
    """A fp32 model with every parameter random (default inits would hide a skipped bias or LayerScale)."""
    torch.manual_seed(seed)
    model = ViT(ViTConfig(**{**SMALL, **config})).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1 + 0.2 * torch.randn_like(p) if name.endswith(("norm1.weight", "norm2.weight", "gamma"))
                    else 0.1 * torch.randn_like(p))
    return model


def cosine(a: torch.Tensor, b: torch.Tensor) -> float:
    return F.cosine_similarity(a.float().flatten(), b.float().flatten(), dim=0).item()


@pytest.mark.parametrize("batch", [1, 2])
@pytest.mark.parametrize("variant", list(VARIANTS))
def test_fast_path_is_as_close_to_fp32_as_the_recipe(variant, batch):
    reference = random_model(**VARIANTS[variant])
    model = copy.deepcopy(reference).to(torch.bfloat16)
    x = torch.randn(batch, 3, 64, 64, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        want = reference(x)
        got = model(x)
        with fast.disabled():
            plain = model(x)
    assert got.logits.shape == want.logits.shape and len(got.attentions) == len(want.attentions)
    assert cosine(got.logits, want.logits) >= 0.999
    for ours, recipe, truth in zip(got.attentions, plain.attentions, want.attentions, strict=True):
        assert ours.shape == truth.shape
        assert (ours.float() - truth).abs().max() <= 2 * (recipe.float() - truth).abs().max() + 1e-3
        assert torch.allclose(ours.float().sum(-1), torch.ones(()), atol=2e-2)  # rows of a softmax


def test_without_attention_weights_the_fused_kernel_gives_the_same_logits():
    model = random_model().to(torch.bfloat16)
    x = torch.randn(2, 3, 64, 64, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        with_maps, without = model(x), model(x, output_attentions=False)
    assert without.attentions == ()
    assert cosine(with_maps.logits, without.logits) >= 0.9999


def test_applies_only_to_bf16_inference_on_a_cpu():
    x = torch.zeros(1, 4, 8, dtype=torch.bfloat16)
    with torch.inference_mode():
        assert fast.applies(x)
        assert not fast.applies(x.float())  # fp32: the reference numbers stay the recipe's
        with fast.disabled():
            assert not fast.applies(x)
    with torch.no_grad():
        assert fast.applies(x)
    assert not fast.applies(x)  # autograd on: relevance and training need the recipe's graph


def test_training_and_relevance_still_get_gradients_in_bf16():
    model = random_model().to(torch.bfloat16)
    x = torch.randn(1, 3, 64, 64, dtype=torch.bfloat16, requires_grad=True)
    out = model(x)
    grads = torch.autograd.grad(out.logits[0, 3], out.attentions)
    assert all(g.abs().sum() > 0 for g in grads)


def test_packed_weights_follow_changes_to_the_weights():
    model = random_model().to(torch.bfloat16)
    x = torch.randn(1, 3, 64, 64, generator=torch.Generator().manual_seed(3))
    with torch.inference_mode():
        before = model(x).logits
    with torch.no_grad():
        model.blocks[1].mlp.fc1.weight.mul_(-1.0)  # in place: same storage, new version
        model.blocks[2].attn.qkv.weight.data = model.blocks[2].attn.qkv.weight.data.clone() * 0.5  # new storage
    with torch.inference_mode():
        after = model(x).logits
        with fast.disabled():
            plain = model(x).logits
    assert cosine(after, plain) >= 0.999
    assert cosine(after, before) < 0.99


def test_analyses_allocate_in_ordinary_pages_not_huge_pages():
    """NumPy's huge-page advice made copying a patch-8 analysis stall for up to ~0.5 s (device.py)."""
    import subprocess
    import sys

    probe = ("import numpy as np; before = np._core.multiarray._get_madvise_hugepage(); "
             "import vitdemo.explain.analysis; print(before, np._core.multiarray._get_madvise_hugepage())")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout.split()
    assert out[1] == "False", out  # NumPy's default is on (on Linux ≥ 4.6); importing the analysis turns it off
