"""LeGrad against a port of torchcam's implementation (frgfm/torch-cam, torchcam/methods/gradient.py), run on
the same small random models: plain, DeiT-style (two prefix tokens), DINOv2-style (registers, LayerScale,
a head on [class; patch mean]), non-square grids, every layer count.

torchcam's LeGrad captures two things with hooks: each target block's output, mapped to class scores by
`score_projection`, and each block's post-softmax attention. Our ViT returns both (intermediates and
attentions), so the port takes them as arguments and keeps torchcam's arithmetic line for line. The score
projection is the model's own readout (final norm, then its head(s): `ViT.classify`): torchcam asks for
one for any model but torchvision's, and that readout is what these models classify from.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image
from torch import Tensor

from tests.counting import count_forwards
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze
from vitdemo.model import ViT

SMALL = dict(image_size=32, patch_size=8, dim=32, depth=3, heads=4, mlp_dim=64, num_classes=5)
# Prefix tokens: 1 (class), 2 (+ DeiT's distillation token), 4 (+ three registers, DINOv2's head reading the
# class token and the patches' mean).


# ---- the port -------------------------------------------------------------------------------------------


def torchcam_normalize(cams: Tensor, spatial_dims: int | None = None, eps: float = 1e-8) -> Tensor:
    """torchcam.methods.core._CAM._normalize."""
    spatial_dims = cams.ndim - 1 if spatial_dims is None else spatial_dims
    cams.sub_(cams.flatten(start_dim=-spatial_dims).min(-1).values[(...,) + (None,) * spatial_dims])
    cams.div_(cams.flatten(start_dim=-spatial_dims).max(-1).values[(...,) + (None,) * spatial_dims] + eps)
    return cams


def torchcam_legrad(hook_a: list[Tensor], hook_attn: list[Tensor], class_idx: int, prefix_tokens: int,
                    grid_shape: tuple[int, int], normalized: bool = True) -> Tensor:
    """torchcam.methods.LeGrad._get_weights followed by compute_cams, for one integer class index.

    hook_a[idx]: score_projection(output of target block idx), (N, classes); hook_attn[idx]: that block's
    attention probabilities, (N, heads, T, T).
    """
    relevances: list[Tensor] = []
    for idx, (scores, attention) in enumerate(zip(hook_a, hook_attn, strict=True)):
        selected = scores[:, class_idx]
        grad = torch.autograd.grad(selected.sum(), attention, retain_graph=idx < len(hook_a) - 1)[0]
        relevances.append(grad.relu().mean(dim=(1, 2))[:, prefix_tokens:])
    maps: list[Tensor] = []
    for relevance in relevances:
        height, width = grid_shape
        maps.append(relevance.reshape(relevance.shape[0], height, width))
    with torch.no_grad():
        cam = torch.stack(maps).mean(dim=0)
        return torchcam_normalize(cam) if normalized else cam


# ---- helpers --------------------------------------------------------------------------------------------


def random_model(seed: int = 0, **overrides) -> ViT:
    """Random weights of a visible size (default inits give near-uniform attention and tiny gradients)."""
    torch.manual_seed(seed)
    model = ViT(ViTConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.1 * torch.randn_like(p))
            else:
                p.copy_(0.15 * torch.randn_like(p))
    return model


def photo(width: int, height: int, seed: int = 0) -> Image.Image:
    pixels = np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8)
    return Image.fromarray(pixels)


def reference(model: ViT, inputs: Tensor, patch_size: int, target: int, layers: int) -> np.ndarray:
    """torchcam's normalized LeGrad map over the first `layers` blocks, on a fresh forward."""
    with torch.enable_grad():
        out = model(inputs.clone().requires_grad_(True), patch_size, output_intermediates=True)
        hook_a = [model.classify(model.norm(out.intermediates[f"block{i}"])) for i in range(layers)]
        cam = torchcam_legrad(hook_a, list(out.attentions[:layers]), target, model.config.num_prefix_tokens,
                              out.grid)
    return cam[0].numpy()


def min_max(values: np.ndarray) -> np.ndarray:
    values = np.asarray(values, dtype=np.float64)
    return (values - values.min()) / (values.max() - values.min() + 1e-8)


# ---- tests ----------------------------------------------------------------------------------------------


FAMILIES = {"vit": {}, "deit": dict(distilled=True),
            "dinov2-registers": dict(num_registers=3, layer_scale=True, head_input="class+mean")}


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("size,patch_size", [((32, 32), None), ((56, 40), 8), ((36, 60), 12)])
def test_legrad_matches_torchcam_for_every_layer_and_target(family, size, patch_size):
    model = random_model(seed=3, **FAMILIES[family])
    a = analyze(model, photo(*size), patch_size=patch_size, keep_aspect=True)
    for target in (0, 3):
        by_layer = a.maps_by_layer("legrad", target=target)
        for layer in range(a.depth):
            expected = reference(model, a.inputs, a.patch_size, target, layer + 1)
            ours = a.attention_map("legrad", layer=layer, target=target)
            assert ours.shape == expected.shape == a.grid
            assert np.allclose(min_max(ours), expected, atol=1e-5)
            assert np.allclose(by_layer[layer], ours, atol=1e-6)
    assert not np.allclose(a.attention_map("legrad", target=0), a.attention_map("legrad", target=3))


def test_legrad_rows_are_torchcams_unnormalized_per_layer_relevances():
    model = random_model(seed=5)
    a = analyze(model, photo(32, 32, seed=2))
    target = a.top(1)[0][0]
    rows = a.legrad_rows(a.labels.index(target))  # (layers, heads, T)
    with torch.enable_grad():
        out = model(a.inputs.clone().requires_grad_(True), a.patch_size, output_intermediates=True)
        for layer in range(a.depth):
            scores = model.classify(model.norm(out.intermediates[f"block{layer}"]))
            expected = torchcam_legrad([scores], [out.attentions[layer]], a.labels.index(target), 1, a.grid,
                                       normalized=False)
            assert np.allclose(rows[layer].mean(0)[1:].reshape(a.grid), expected[0].numpy(), atol=1e-6)


def test_legrad_shares_relevances_graph_and_runs_no_further_forward():
    model = random_model(seed=1)
    a = analyze(model, photo(40, 32))
    a.attention_map("relevance")
    calls = count_forwards(model)
    a.attention_map("legrad")
    a.attention_map("legrad", target=2)
    a.maps_by_layer("legrad", head="max")
    assert calls[0] == 0


def test_last_layer_score_is_the_models_logit():
    # The readout LeGrad applies to every layer is the model's own: on the last block it gives the logits.
    model = random_model(seed=2, distilled=True)
    x = torch.randn(1, 3, 32, 32)
    with torch.no_grad():
        out = model(x, output_intermediates=True)
        last = model.classify(model.norm(out.intermediates[f"block{model.config.depth - 1}"]))
    assert torch.allclose(last, out.logits, atol=1e-6)


def test_head_choice_fuses_each_heads_map():
    model = random_model(seed=4)
    a = analyze(model, photo(32, 32, seed=1))
    rows = a.legrad_rows(0)  # (layers, heads, T): each head's map per layer, prefix included
    for head, fuse in [(1, lambda r: r[:, 1]), ("max", lambda r: r.max(1)), ("mean", lambda r: r.mean(1))]:
        expected = fuse(rows).mean(0)[1:]
        assert np.allclose(a.attention_map("legrad", head=head, target=0).ravel(), expected / expected.sum(),
                           atol=1e-6)
