"""Head ablation, head effects and the cascading randomisation test (issue 24 items 2 and 3).

References, none of them vitdemo's own formulas:
* ablation and head effects: transformers' `ViTForImageClassification` and `DeiTForImageClassificationWithTeacher`
  (small, random, eager attention, saved and loaded by vitdemo) with each ablated head's slice of the attention
  output zeroed by a forward pre-hook on its output projection (transformers 5 has no `head_mask`);
* mean ablation: the same pre-hook writing each slice's mean over tokens, summed token by token in a loop;
* the sanity check: its two properties (Adebayo et al. 2018): with only the head randomised, last-layer attention
  is unchanged (correlation 1) and every class-specific map moves (correlation < 1); Spearman against the
  textbook formula 1 − 6Σd²/(n(n²−1)) on distinct values and against hand-ranked ties.
"""

from __future__ import annotations

from contextlib import contextmanager

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
from tests.counting import count_forwards
from vitdemo.explain import analyze
from vitdemo.explain.sanity import randomised_maps, ranks, spearman

TOL = 1e-4
HEADS, DEPTH = 4, 3


def photo(width: int = 32, height: int = 32, seed: int = 0) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 256, (height, width, 3), dtype=np.uint8))


@pytest.fixture(scope="module", params=["vit", "deit"])
def pair(make_hf_checkpoint, request):
    """(transformers reference, vitdemo's load of the same folder, an analysis of one photo), for a ViT and for a
    DeiT (distillation token, two heads averaged)."""
    ckpt = make_hf_checkpoint(request.param, num_hidden_layers=DEPTH)
    model = vitdemo.load(ckpt.path, device="cpu", precision="fp32")
    return ckpt.model, model, analyze(model, photo())


def output_projection(reference, layer: int) -> torch.nn.Module:
    """The linear layer after the heads are put side by side (transformers 5: `o_proj`; 4.x: `output.dense`)."""
    base = reference.base_model
    attention = base.layers[layer].attention if hasattr(base, "layers") else base.encoder.layer[layer].attention
    return attention.o_proj if hasattr(attention, "o_proj") else attention.output.dense


@contextmanager
def heads_replaced(reference, heads: list[tuple[int, int]], mode: str = "zero"):
    """Pre-hooks on the output projections that overwrite the given heads' slices of their input."""
    size = reference.config.hidden_size // reference.config.num_attention_heads
    by_layer: dict[int, list[int]] = {}
    for layer, head in heads:
        by_layer.setdefault(layer, []).append(head)

    def hook_for(chosen: list[int]):
        def hook(module, args):
            x = args[0].clone()  # (B, T, D)
            for head in chosen:
                part = slice(head * size, (head + 1) * size)
                if mode == "zero":
                    x[..., part] = 0.0
                else:  # the mean over tokens, summed one token at a time
                    total = torch.zeros(x.shape[0], size, dtype=torch.float64)
                    for t in range(x.shape[1]):
                        total += x[:, t, part].double()
                    x[..., part] = (total / x.shape[1]).float()[:, None, :]
            return (x, *args[1:])
        return hook

    handles = [output_projection(reference, layer).register_forward_pre_hook(hook_for(chosen))
               for layer, chosen in by_layer.items()]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def reference_logits(reference, inputs: torch.Tensor, heads: list[tuple[int, int]] = (), mode: str = "zero"):
    with torch.no_grad(), heads_replaced(reference, list(heads), mode):
        return reference(pixel_values=inputs).logits[0].double()


@pytest.mark.parametrize("heads", [[(0, 1)], [(2, 3)], [(1, 0), (1, 2), (2, 1)], [(0, 0), (0, 1), (0, 2), (0, 3)]])
def test_ablate_matches_transformers_with_the_heads_slices_zeroed(pair, heads):
    reference, _, analysis = pair
    expected = reference_logits(reference, analysis.inputs, heads).softmax(-1).numpy()
    assert not np.allclose(expected, analysis.probabilities.numpy(), atol=1e-3)  # the ablation changes the answer
    np.testing.assert_allclose(analysis.ablate(heads), expected, atol=TOL)


def test_mean_ablation_matches_a_hand_written_mean_over_tokens(pair):
    reference, _, analysis = pair
    heads = [(1, 2), (2, 0)]
    expected = reference_logits(reference, analysis.inputs, heads, mode="mean").softmax(-1).numpy()
    zeroed = reference_logits(reference, analysis.inputs, heads).softmax(-1).numpy()
    assert not np.allclose(expected, zeroed, atol=1e-3)  # mean and zero ablation differ here
    np.testing.assert_allclose(analysis.ablate(heads, mode="mean"), expected, atol=TOL)


def test_no_heads_ablated_is_the_analysis_itself(pair):
    _, _, analysis = pair
    np.testing.assert_allclose(analysis.ablate([]), analysis.probabilities.numpy(), atol=1e-6)


@pytest.mark.parametrize("target", [None, 3])
def test_head_effects_match_transformers_one_head_at_a_time(pair, target):
    reference, _, analysis = pair
    chosen = int(analysis.probabilities.argmax()) if target is None else target
    whole = reference_logits(reference, analysis.inputs)[chosen].item()
    expected = np.array([[whole - reference_logits(reference, analysis.inputs, [(layer, head)])[chosen].item()
                          for head in range(HEADS)] for layer in range(DEPTH)])
    effects = analysis.head_effects(target)
    assert effects.shape == (DEPTH, HEADS)
    assert np.abs(expected).max() > 0.01  # heads matter in this model, so the comparison means something
    np.testing.assert_allclose(effects, expected, atol=TOL)


def test_ablation_runs_no_full_forward_and_only_the_blocks_from_the_first_ablated(pair):
    _, model, analysis = pair
    forwards = count_forwards(model)
    calls = []
    hooks = [block.register_forward_pre_hook(lambda m, a, i=i: calls.append(i)) for i, block in enumerate(model.blocks)]
    try:
        analysis.ablate([(2, 1), (1, 3)])
        assert calls == [1, 2]
        calls.clear()
        analysis.head_effects(target=7)
        # One batch per ablated layer through the blocks above it; the ablated block itself reruns only its MLP
        # half (one_head_off_each + feed_forward), so block 2 (the last) runs for layers 0 and 1, no block for 2.
        assert calls == [1, 2, 2]
    finally:
        for hook in hooks:
            hook.remove()
        del model.forward  # the instance attribute count_forwards set
    assert forwards == [0]


def test_head_effects_batch_all_heads_of_a_layer(pair):
    _, model, analysis = pair
    shapes: dict[str, list[tuple[int, ...]]] = {"block2": [], "qkv0": [], "fc1_0": [], "fc1_2": []}

    def record(key):
        return lambda m, args: shapes[key].append(tuple(args[0].shape[:2]))

    hooks = [model.blocks[2].register_forward_pre_hook(record("block2")),
             model.blocks[0].attn.qkv.register_forward_pre_hook(record("qkv0")),
             model.blocks[0].mlp.fc1.register_forward_pre_hook(record("fc1_0")),
             model.blocks[2].mlp.fc1.register_forward_pre_hook(record("fc1_2"))]
    try:
        analysis.head_effects(target=5)
    finally:
        for hook in hooks:
            hook.remove()
    tokens = analysis.attentions.shape[-1]
    read = 2 if model.config.distilled else 1  # the class token, and DeiT's distillation token
    assert shapes["block2"] == [(HEADS, tokens)] * 2  # all heads of layers 0 and 1 in one batch each
    assert shapes["qkv0"] == []  # the ablated layer's attention is not run again
    assert shapes["fc1_0"] == [(HEADS, tokens)]  # only its MLP half, every token
    assert shapes["fc1_2"] == [(HEADS, read)] * 3  # the last block: only the tokens the head reads


def test_ablation_refuses_heads_outside_the_model(pair):
    _, _, analysis = pair
    with pytest.raises(ValueError, match="head must be in"):
        analysis.ablate([(0, HEADS)])
    with pytest.raises(ValueError, match="layer must be in"):
        analysis.ablate([(DEPTH, 0)])
    with pytest.raises(ValueError, match="mode must be one of"):
        analysis.ablate([(0, 0)], mode="noise")


def test_spearman_is_the_textbook_formula_on_distinct_values():
    rng = np.random.default_rng(0)
    a, b = rng.random(30), rng.random(30)
    rank_a = np.empty(30)
    rank_a[np.argsort(a)] = np.arange(1, 31)
    rank_b = np.empty(30)
    rank_b[np.argsort(b)] = np.arange(1, 31)
    expected = 1 - 6 * np.sum((rank_a - rank_b) ** 2) / (30 * (30 ** 2 - 1))
    assert spearman(a, b) == pytest.approx(expected, abs=1e-12)
    assert spearman(a, a) == pytest.approx(1.0)
    assert spearman(a, -a) == pytest.approx(-1.0)


def test_ties_share_their_mean_rank():
    assert ranks(np.array([0.5, 0.1, 0.5, 0.9, 0.1])).tolist() == [3.5, 1.5, 3.5, 5.0, 1.5]
    assert spearman(np.ones(5), np.arange(5)) == 0.0  # nothing to rank


def test_head_only_randomisation_keeps_attention_and_moves_every_class_map(pair):
    _, model, analysis = pair
    before = {name: p.clone() for name, p in model.state_dict().items()}
    result = analysis.sanity_comparison()
    assert set(result) == set(vitdemo.methods.names())
    for curve in result.values():
        assert len(curve) == DEPTH + 1
        assert all(-1.0 - 1e-9 <= c <= 1.0 + 1e-9 for c in curve)
    assert result["attention"][0] == pytest.approx(1.0, abs=1e-9)  # the head reads attention's result only
    assert result["rollout"][0] == pytest.approx(1.0, abs=1e-9)
    for name in (m.name for m in vitdemo.methods.rows() if m.needs_class):
        assert result[name][0] < 0.99, name  # a class map that ignored the head would stay at 1
    assert result["attention"][1] < 0.99  # randomising the last block moves its attention
    for name, p in model.state_dict().items():  # the analysed model is untouched
        assert torch.equal(p, before[name]), name
    assert analysis.sanity("relevance") == result["relevance"]


def test_sanity_is_reproducible_and_reuses_the_kept_block_inputs(pair):
    _, model, _ = pair
    first = analyze(model, photo(seed=1))
    forwards = count_forwards(model)
    try:
        curve = first.sanity("legrad")
    finally:
        del model.forward
    assert forwards == [0]
    again = analyze(model, photo(seed=1)).sanity("legrad")
    assert again == curve


def test_each_randomised_step_gives_the_maps_of_that_model_analysed_from_scratch(pair):
    """The cascade reruns only the randomised blocks and recomputes only the LeGrad layers a step changed; a
    fresh analysis (its own forward, every backward) of each randomised model must give the same maps."""
    _, _, analysis = pair
    target = int(analysis.probabilities.argmax())
    names = ("attention", "relevance", "legrad")
    steps = 0
    for randomised, maps in randomised_maps(analysis, names, target):
        fresh = analyze(randomised, photo())
        for name in names:
            np.testing.assert_allclose(maps[name], fresh.attention_map(name, target=target), atol=1e-5,
                                       err_msg=f"step {steps}, {name}")
        steps += 1
    assert steps == DEPTH + 1


def test_head_effects_of_a_head_reading_every_token_match_a_full_forward_with_the_slice_zeroed():
    """DINOv2's layout (LayerScale, registers, a head on [class; mean of patches]): the last block cannot be cut
    to the class token. Reference: the model's own full forward with a pre-hook zeroing the head's slice at the
    output projection, one forward per head (no ablation code involved)."""
    from vitdemo.config import ViTConfig
    from vitdemo.model import ViT

    torch.manual_seed(0)
    config = ViTConfig(image_size=32, patch_size=8, dim=32, depth=DEPTH, heads=HEADS, mlp_dim=64, num_classes=10,
                       layer_scale=True, num_registers=2, head_input="class+mean")
    model = ViT(config).eval()
    with torch.no_grad():
        for block in model.blocks:  # LayerScale away from 1, so that its place in the subtraction matters
            block.ls1.gamma.uniform_(0.5, 1.5)
        model.head.weight.mul_(50.0)  # logits that feel a head (the default init's are all near 0)
    analysis = analyze(model, photo())
    size = config.dim // HEADS

    def logit_without(layer: int, head: int, target: int) -> float:
        def hook(module, args):
            x = args[0].clone()
            x[..., head * size:(head + 1) * size] = 0.0
            return (x, *args[1:])

        handle = model.blocks[layer].attn.proj.register_forward_pre_hook(hook)
        try:
            with torch.no_grad():
                return model(analysis.inputs, output_attentions=False).logits[0, target].item()
        finally:
            handle.remove()

    target = int(analysis.probabilities.argmax())
    whole = analysis.logits[target].item()
    expected = np.array([[whole - logit_without(layer, head, target) for head in range(HEADS)]
                         for layer in range(DEPTH)])
    assert model.read_tokens is None  # the shortcut must not apply here
    assert np.abs(expected).max() > 0.01
    np.testing.assert_allclose(analysis.head_effects(), expected, atol=TOL)
