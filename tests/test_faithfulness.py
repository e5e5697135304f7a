"""Deletion and insertion curves: a hand-built 2×2 model whose probabilities are known in closed form, and
an independent loop (one plain forward per step, inputs built by hand) on small random models.

The hand model. dim 3, one block, one head, patch embedding 0, so patch j's token is its position embedding
p_j = √3(cos θ_j·c + sin θ_j·b), with c = (0, 1, −1)/√2 and b = (2, −1, −1)/√6 (both centred, orthonormal):
LayerNorm leaves p_j as it is. The class token is (0, 1, −1), LN'd to √3·c. Queries and keys are 0, so
attention is uniform over the tokens present; values read v = (b·LN(x)/√3, 0, 0), i.e. (s_j, 0, 0) with
s_j = sin θ_j for patch j and 0 for the class token; the projection is the identity and the MLP is 0. With
a set S of patches present the class token leaves the block as (m, 1, −1), m = Σ_S s_j / (1 + |S|), and the
final LayerNorm's first coordinate is √2·m/√(m² + 3): the logit of class 0 (class 1's is 0). So
P(class 0 | S) = sigmoid(√2·m/√(m² + 3)), and m per step is worked out by hand below.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from PIL import Image
from scipy.ndimage import gaussian_filter

from tests.counting import count_forwards
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze
from vitdemo.explain.faithfulness import area, perturbation_curves, random_map, step_counts
from vitdemo.model import ViT

S = [0.6, -0.3, 0.9, 0.0]  # s_j of patches (0,0), (0,1), (1,0), (1,1): patch 2 matters most, patch 1 hurts
SMALL = dict(image_size=32, patch_size=8, dim=32, depth=2, heads=4, mlp_dim=64, num_classes=5)


def hand_model(s: list[float] = S) -> ViT:
    model = ViT(ViTConfig(image_size=4, patch_size=2, dim=3, depth=1, heads=1, mlp_dim=1, num_classes=2,
                          layer_norm_eps=1e-12)).eval()
    c = torch.tensor([0.0, 1.0, -1.0]) / math.sqrt(2)
    b = torch.tensor([2.0, -1.0, -1.0]) / math.sqrt(6)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        for norm in (model.blocks[0].norm1, model.blocks[0].norm2, model.norm):
            norm.weight.fill_(1.0)
        model.cls_token[0, 0] = torch.tensor([0.0, 1.0, -1.0])
        for j, value in enumerate(s):
            theta = math.asin(value)
            model.pos_embed[0, 1 + j] = math.sqrt(3) * (math.cos(theta) * c + math.sin(theta) * b)
        model.blocks[0].attn.qkv.weight[6] = b / math.sqrt(3)  # rows 6..8 make v
        model.blocks[0].attn.proj.weight.copy_(torch.eye(3))
        model.head.weight[0, 0] = 1.0
    return model


def p_class0(m: float) -> float:
    return 1 / (1 + math.exp(-math.sqrt(2) * m / math.sqrt(m * m + 3)))


def trapezoid(values: list[float]) -> float:
    """Area over equally spaced fractions 0 … 1, by the textbook formula."""
    h = 1 / (len(values) - 1)
    return h * (sum(values) - (values[0] + values[-1]) / 2)


# ---- the hand-built model -------------------------------------------------------------------------------


def test_hand_model_gives_its_closed_form_on_every_subset():
    model, x = hand_model(), torch.zeros(1, 3, 4, 4)
    for keep in ([0, 1, 2, 3], [2], [1, 3], []):
        m = sum(S[j] for j in keep) / (1 + len(keep))
        with torch.no_grad():
            p = model(x, keep=torch.tensor(keep, dtype=torch.long)).logits.softmax(-1)[0, 0]
        assert math.isclose(float(p), p_class0(m), abs_tol=1e-6)


def test_curves_of_the_hand_model_by_hand():
    model, x = hand_model(), torch.zeros(1, 3, 4, 4)
    good = np.array(S).reshape(2, 2)  # ranks patch 2, then 0, 3, 1
    out = perturbation_curves(model, x, 2, {"good": good, "reverse": -good}, target=0, steps=4)
    # Deletion, good map: present {0,1,2,3}, {0,1,3}, {1,3}, {1}, {} → m = 1.2/5, 0.3/4, −0.3/3, −0.3/2, 0
    deletion = [p_class0(m) for m in (0.24, 0.075, -0.1, -0.15, 0.0)]
    # Insertion, good map: {}, {2}, {0,2}, {0,2,3}, all → m = 0, 0.9/2, 1.5/3, 1.5/4, 1.2/5
    insertion = [p_class0(m) for m in (0.0, 0.45, 0.5, 0.375, 0.24)]
    # Reverse map (1, 3, 0, 2 first): deletion {0,2,3} … ; insertion {1}, {1,3}, {0,1,3} …
    reverse_deletion = [p_class0(m) for m in (0.24, 1.5 / 4, 1.5 / 3, 0.9 / 2, 0.0)]
    reverse_insertion = [p_class0(m) for m in (0.0, -0.15, -0.1, 0.075, 0.24)]
    assert np.allclose(out["good"].fractions, [0, 0.25, 0.5, 0.75, 1])
    assert np.allclose(out["good"].deletion, deletion, atol=1e-6)
    assert np.allclose(out["good"].insertion, insertion, atol=1e-6)
    assert np.allclose(out["reverse"].deletion, reverse_deletion, atol=1e-6)
    assert np.allclose(out["reverse"].insertion, reverse_insertion, atol=1e-6)
    assert math.isclose(out["good"].deletion_auc, trapezoid(deletion), abs_tol=1e-6)
    assert math.isclose(out["good"].insertion_auc, trapezoid(insertion), abs_tol=1e-6)
    # The map that ranks the truly important patch first deletes faster and inserts faster.
    assert out["good"].deletion_auc < out["reverse"].deletion_auc
    assert out["good"].insertion_auc > out["reverse"].insertion_auc


def test_uneven_steps_use_the_fractions_actually_removed():
    # 4 patches in 3 steps: round(4k/3) = 0, 1, 3, 4 patches, fractions 0, ¼, ¾, 1 (not thirds).
    model, x = hand_model(), torch.zeros(1, 3, 4, 4)
    out = perturbation_curves(model, x, 2, {"good": np.array(S).reshape(2, 2)}, target=0, steps=3)["good"]
    assert np.allclose(out.fractions, [0, 0.25, 0.75, 1])
    deletion = [p_class0(m) for m in (0.24, 0.075, -0.15, 0.0)]  # {0,1,2,3}, {0,1,3}, {1}, {}
    assert np.allclose(out.deletion, deletion, atol=1e-6)
    by_hand = 0.25 * (deletion[0] + deletion[1]) / 2 + 0.5 * (deletion[1] + deletion[2]) / 2 \
        + 0.25 * (deletion[2] + deletion[3]) / 2
    assert math.isclose(out.deletion_auc, by_hand, abs_tol=1e-6)


def test_blur_mode_reads_every_token():
    # The hand model ignores pixels (its patch embedding is 0): blurring changes nothing, dropping would.
    model = hand_model()
    out = perturbation_curves(model, torch.rand(1, 3, 4, 4), 2, {"good": np.array(S).reshape(2, 2)}, 0,
                              steps=4, mode="blur", blur_sigma=1.0)["good"]
    assert np.allclose(out.deletion, p_class0(0.24), atol=1e-6)
    assert np.allclose(out.insertion, p_class0(0.24), atol=1e-6)


def test_analysis_scores_a_method_or_any_map_for_the_top_class():
    model = hand_model()
    a = analyze(model, Image.new("RGB", (4, 4)))
    assert a.grid == (2, 2) and a.top(1)[0][0] == "class 0"
    out = a.faithfulness(map=np.array(S).reshape(2, 2), steps=4)
    assert out.target == 0 and out.mode == "tokens"
    assert np.allclose(out.deletion, [p_class0(m) for m in (0.24, 0.075, -0.1, -0.15, 0.0)], atol=1e-6)
    for method in ("attention", "rollout", "relevance", "legrad"):
        by_name = a.faithfulness(method, steps=4)
        by_map = a.faithfulness(map=a.attention_map(method), steps=4)
        assert np.array_equal(by_name.deletion, by_map.deletion)
        assert np.array_equal(by_name.insertion, by_map.insertion)
    both = a.faithfulness_comparison(steps=4)
    assert list(both) == ["attention", "rollout", "relevance", "legrad", "random"]


def test_click_to_hide_drops_the_clicked_patches():
    a = analyze(hand_model(), Image.new("RGB", (4, 4)))
    top = dict(a.top_without([(1, 0)], k=2))  # patch 2 (s = 0.9) hidden: m = (0.6 − 0.3 + 0) / 4
    assert math.isclose(top["class 0"], p_class0(0.075), abs_tol=1e-6)
    top = dict(a.top_without([(0, 1), (1, 1)]))  # patches 1 and 3 hidden: m = 1.5 / 3
    assert math.isclose(top["class 0"], p_class0(0.5), abs_tol=1e-6)
    assert [label for label, _ in a.top_without([])] == [label for label, _ in a.top()]
    assert math.isclose(dict(a.top_without([(1, 0)], mode="blur"))["class 0"], p_class0(0.24), abs_tol=1e-6)
    with pytest.raises(ValueError):
        a.top_without([(2, 0)])


# ---- the independent loop -------------------------------------------------------------------------------


def random_model(seed: int = 0, **overrides) -> ViT:
    torch.manual_seed(seed)
    model = ViT(ViTConfig(**{**SMALL, **overrides})).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.copy_(1 + 0.1 * torch.randn_like(p) if "norm" in name and name.endswith("weight")
                    else 0.15 * torch.randn_like(p))
    return model


def probability_on_patches(model: ViT, x: torch.Tensor, p: int, present: list[int], target: int) -> float:
    """The straightforward forward on explicitly built tokens: prefix tokens, then the present patches'."""
    prefix = model.config.num_prefix_tokens
    with torch.no_grad():
        tokens = model.embed(x, p)
        tokens = torch.cat([tokens[:, :prefix], tokens[:, [prefix + j for j in present]]], dim=1)
        for block in model.blocks:
            tokens = block(tokens, False).output
        tokens = model.norm(tokens)
        head_input = tokens[:, 0]
        if model.config.head_input == "class+mean":  # DINOv2: [class; mean of the patches present, 0 if none]
            mean = tokens[:, prefix:].mean(dim=1) if present else torch.zeros_like(head_input)
            head_input = torch.cat([head_input, mean], dim=-1)
        logits = model.head(head_input)
        if model.config.distilled:
            logits = (logits + model.head_dist(tokens[:, 1])) / 2
    return float(logits.softmax(-1)[0, target])


def scipy_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    blurred = gaussian_filter(x.double().numpy(), sigma=(0, 0, sigma, sigma), mode="nearest", truncate=3.0)
    return torch.from_numpy(blurred).float()


def probability_blurred(model: ViT, x: torch.Tensor, blurred: torch.Tensor, p: int, present: list[int],
                        target: int) -> float:
    """The image with every absent patch pasted from the blurred one, then one plain forward."""
    image = x.clone()
    cols = x.shape[-1] // p
    for j in range((x.shape[-2] // p) * cols):
        if j not in present:
            r, c = divmod(j, cols)
            image[..., r * p:(r + 1) * p, c * p:(c + 1) * p] = blurred[..., r * p:(r + 1) * p, c * p:(c + 1) * p]
    with torch.no_grad():
        return float(model(image, p).logits.softmax(-1)[0, target])


def loop_curves(model, x, p, values, target, steps, mode, sigma=None):
    order = list(np.argsort(-values.ravel(), kind="stable"))
    n = values.size
    counts = [math.floor(k * n / steps + 0.5) for k in range(steps + 1)]
    if mode == "tokens":
        def read(present):
            return probability_on_patches(model, x, p, present, target)
    else:
        blurred = scipy_blur(x, sigma)

        def read(present):
            return probability_blurred(model, x, blurred, p, present, target)
    deletion = [read(order[c:]) for c in counts]
    insertion = [read(order[:c]) for c in counts]
    return deletion, insertion


FAMILIES = {"vit": {}, "deit": dict(distilled=True),
            "dinov2-registers": dict(num_registers=2, layer_scale=True, head_input="class+mean")}


@pytest.mark.slow
@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("mode", ["tokens", "blur"])
@pytest.mark.parametrize("shape,p,steps", [((40, 56), 8, 10), ((44, 56), 8, 3), ((36, 36), 12, 10)])
def test_curves_match_a_loop_of_single_forwards(family, mode, shape, p, steps):
    model = random_model(seed=7, **FAMILIES[family])
    x = torch.randn(1, 3, *shape, generator=torch.Generator().manual_seed(1))
    grid = (shape[0] // p, shape[1] // p)
    maps = {"random": random_map(grid, 1), "flat": np.zeros(grid)}  # flat: every tie, broken by index
    out = perturbation_curves(model, x, p, maps, target=2, steps=steps, mode=mode, blur_sigma=3.0)
    for name, values in maps.items():
        deletion, insertion = loop_curves(model, x, p, values, 2, steps, mode, sigma=3.0)
        assert np.allclose(out[name].deletion, deletion, atol=1e-5)
        assert np.allclose(out[name].insertion, insertion, atol=1e-5)
        assert 0.0 <= out[name].deletion_auc <= 1.0 and 0.0 <= out[name].insertion_auc <= 1.0


def test_forwards_are_batched_by_kept_token_count():
    model = random_model(seed=2)
    a = analyze(model, Image.fromarray(np.random.default_rng(0).integers(0, 256, (32, 32, 3), dtype=np.uint8)))
    for method in ("relevance", "legrad"):  # build the gradient graph before counting
        a.attention_map(method)
    calls = count_forwards(model)
    out = a.faithfulness_comparison(steps=10)  # 5 maps × 2 curves × 11 points on a 4×4 grid
    # Kept-token counts 0, 2, 3, 5, 6, 8, 10, 11, 13, 14 (16 is the analysis's own forward): one forward each.
    assert calls[0] == 10 and len(out) == 5
    full = float(a.probabilities.max())
    assert all(math.isclose(o.deletion[0], full) and math.isclose(o.insertion[-1], full) for o in out.values())
    empty = {o.deletion[-1] for o in out.values()} | {o.insertion[0] for o in out.values()}
    assert len(empty) == 1, "no patch present is one and the same forward for every map"


# ---- building blocks ------------------------------------------------------------------------------------


def test_step_counts_round_halves_up():
    assert step_counts(9, 10).tolist() == [0, 1, 2, 3, 4, 5, 5, 6, 7, 8, 9]  # 0.9k: 4.5 → 5, 5.4 → 5
    assert step_counts(4, 4).tolist() == [0, 1, 2, 3, 4]
    with pytest.raises(ValueError):
        step_counts(4, 0)


def test_area_by_hand():
    assert area([0, 0.5, 1], [1, 0, 0]) == pytest.approx(0.25)
    assert area([0, 0.25, 1], [1, 1, 0]) == pytest.approx(0.25 + 0.375)


@pytest.mark.parametrize("family", FAMILIES)
def test_keep_reads_any_subset_of_patch_tokens(family):
    model = random_model(seed=3, **FAMILIES[family])
    prefix = model.config.num_prefix_tokens
    x = torch.randn(2, 3, 32, 40)
    n = 4 * 5
    with torch.no_grad():
        full = model(x).logits
        assert torch.allclose(model(x, keep=torch.arange(n)).logits, full, atol=1e-6)
        shuffled = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        assert torch.allclose(model(x, keep=shuffled).logits, full, atol=1e-5), "order must not matter"
        one = x[:1]
        rows = torch.tensor([[0, 5, 7], [1, 2, 19]])
        batched = model(one, keep=rows)
        for i in range(2):
            assert torch.allclose(batched.logits[i], model(one, keep=rows[i]).logits[0], atol=1e-6)
        assert batched.attentions[0].shape == (2, 4, prefix + 3, prefix + 3) and batched.grid == (4, 5)
        alone = model(one, keep=torch.zeros(3, 0, dtype=torch.long)).logits  # the prefix tokens alone
        assert alone.shape == (3, 5) and torch.isfinite(alone).all()
    with pytest.raises(ValueError):
        model(x, keep=torch.tensor([n]))
    with pytest.raises(ValueError):
        model(x, keep=torch.zeros(3, 2, dtype=torch.long))


def test_bad_requests_raise_value_errors():
    a = analyze(hand_model(), Image.new("RGB", (4, 4)))
    for call in (lambda: a.faithfulness(), lambda: a.faithfulness("rollout", map=np.ones((2, 2))),
                 lambda: a.faithfulness(map=np.ones((3, 2))), lambda: a.faithfulness(map=np.full((2, 2), np.nan)),
                 lambda: a.faithfulness("rollout", mode="grey"), lambda: a.faithfulness("rollout", steps=0),
                 lambda: a.faithfulness("no such method"), lambda: a.faithfulness("rollout", mode="blur",
                                                                                   blur_sigma=0.0)):
        with pytest.raises(ValueError):
            call()
