"""The logit lens (vitdemo/explain/lens.py) against transformers read by hand, and the per-patch lens against a loop.

The reference for `Analysis.logit_lens` is transformers' eager model with `output_hidden_states=True`: its
hidden state after each block, read through its own final `layernorm` and classifier(s) (DeiT: the class and
distillation classifiers averaged; DINOv2: the classifier on [class token; mean of the patch tokens]), then
softmax. The per-patch lens is checked against a loop over layers and patches written with the transformers
modules, each patch token put where the head reads.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
from tests.counting import count_forwards
from vitdemo.config import ViTConfig
from vitdemo.model import ViT

transformers = pytest.importorskip("transformers")
TOL = 1e-4


def picture(seed: int = 0, size: tuple[int, int] = (48, 40)) -> Image.Image:
    return Image.fromarray(np.random.default_rng(seed).integers(0, 255, (*size, 3), dtype=np.uint8))


def hidden_states(reference: Any, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
    with torch.no_grad():
        return reference(inputs, output_hidden_states=True, interpolate_pos_encoding=True).hidden_states


def vit_readout(reference: Any) -> Any:
    return lambda h: reference.classifier(reference.vit.layernorm(h)[:, 0])


def deit_readout(reference: Any) -> Any:
    def read(h: torch.Tensor) -> torch.Tensor:
        normed = reference.deit.layernorm(h)
        return (reference.cls_classifier(normed[:, 0]) + reference.distillation_classifier(normed[:, 1])) / 2
    return read


def dinov2_readout(reference: Any) -> Any:
    def read(h: torch.Tensor) -> torch.Tensor:
        normed = reference.dinov2.layernorm(h)
        return reference.classifier(torch.cat([normed[:, 0], normed[:, 1:].mean(dim=1)], dim=-1))
    return read


def expected_lens(states: tuple[torch.Tensor, ...], readout: Any) -> np.ndarray:
    """(layers, classes): softmax of the readout of every block's hidden state (states[0] is the embeddings)."""
    with torch.no_grad():
        return torch.cat([readout(h).softmax(-1) for h in states[1:]]).numpy()


@pytest.mark.parametrize("kind", ["vit", "deit"])
def test_the_lens_is_transformers_hidden_states_through_its_norm_and_head(make_hf_checkpoint, kind):
    checkpoint = make_hf_checkpoint(kind)
    model = vitdemo.load(checkpoint.path, device="cpu", precision="fp32")
    a = vitdemo.analyze(model, picture())
    readout = vit_readout(checkpoint.model) if kind == "vit" else deit_readout(checkpoint.model)
    expected = expected_lens(hidden_states(checkpoint.model, a.inputs), readout)
    lens = a.logit_lens()
    assert lens.shape == (a.depth, len(a.labels))
    np.testing.assert_allclose(lens, expected, atol=TOL, rtol=0)
    np.testing.assert_allclose(lens[-1], a.probabilities.numpy(), atol=1e-6, rtol=0)  # the last row: the answer
    assert not np.allclose(lens[0], lens[-1], atol=1e-3)  # a layer before the last answers differently


def test_the_lens_of_dinov2_reads_class_and_mean_of_patches(tmp_path):
    config = transformers.Dinov2Config(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, mlp_ratio=2,
                                       image_size=56, patch_size=14, num_labels=10, attn_implementation="eager")
    torch.manual_seed(0)
    reference = transformers.Dinov2ForImageClassification(config).eval()
    with torch.no_grad():  # a visible head: the default init's zero bias and small weights make every row flat
        reference.classifier.weight.normal_(0, 0.5)
        reference.classifier.bias.normal_(0, 0.5)
    reference.save_pretrained(tmp_path)
    model = vitdemo.load(str(tmp_path), precision="fp32")
    assert model.config.head_input == "class+mean"
    a = vitdemo.analyze(model, picture(1, (60, 60)))
    with torch.no_grad():
        states = reference(a.inputs, output_hidden_states=True).hidden_states
    np.testing.assert_allclose(a.logit_lens(), expected_lens(states, dinov2_readout(reference)), atol=TOL, rtol=0)
    np.testing.assert_allclose(a.logit_lens()[-1], a.probabilities.numpy(), atol=1e-6, rtol=0)
    # Per patch: the patch token in both halves of what the head reads, [patch; patch].
    patch = a.patch_lens()
    normed = reference.dinov2.layernorm(states[2][0, 1 + 5])
    with torch.no_grad():
        probs = reference.classifier(torch.cat([normed, normed]))[None].softmax(-1)[0]
    rows, cols = a.grid
    assert patch.classes[1, 5 // cols, 5 % cols] == int(probs.argmax())
    assert patch.probabilities[1, 5 // cols, 5 % cols] == pytest.approx(float(probs.max()), abs=TOL)


@pytest.mark.parametrize("kind", ["vit", "deit"])
def test_the_patch_lens_is_a_loop_over_layers_and_patches(make_hf_checkpoint, kind):
    checkpoint = make_hf_checkpoint(kind)
    model = vitdemo.load(checkpoint.path, device="cpu", precision="fp32")
    a = vitdemo.analyze(model, picture(2))
    ref = checkpoint.model
    states = hidden_states(ref, a.inputs)
    prefix, (rows, cols) = a.num_prefix_tokens, a.grid
    lens = a.patch_lens()
    assert lens.classes.shape == lens.probabilities.shape == (a.depth, rows, cols)
    for layer in range(a.depth):
        for r in range(rows):
            for c in range(cols):
                with torch.no_grad():
                    if kind == "vit":
                        token = ref.vit.layernorm(states[layer + 1][0, prefix + r * cols + c])
                        logits = ref.classifier(token)
                    else:  # both of DeiT's heads read the patch
                        token = ref.deit.layernorm(states[layer + 1][0, prefix + r * cols + c])
                        logits = (ref.cls_classifier(token) + ref.distillation_classifier(token)) / 2
                probs = logits.softmax(-1)
                assert lens.classes[layer, r, c] == int(probs.argmax())
                assert lens.probabilities[layer, r, c] == pytest.approx(float(probs.max()), abs=TOL)
    assert len(np.unique(lens.classes)) > 1  # random weights: patches disagree, so a mix-up would show


def test_the_lens_runs_no_forward_and_is_cached(make_hf_checkpoint):
    model = vitdemo.load(make_hf_checkpoint("vit").path, device="cpu", precision="fp32")
    a = vitdemo.analyze(model, picture(3))
    calls = count_forwards(model)
    blocks = [0]
    hooks = [b.register_forward_hook(lambda *_: blocks.__setitem__(0, blocks[0] + 1)) for b in model.blocks]
    try:
        first = a.logit_lens()
        a.patch_lens()
        assert a.logit_lens() is first
    finally:
        for hook in hooks:
            hook.remove()
    assert calls[0] == 0 and blocks[0] == 0


def test_a_model_without_a_classifier_gets_one_sentence():
    model = ViT(ViTConfig(image_size=32, patch_size=8, dim=32, depth=2, heads=2, mlp_dim=64, num_classes=0)).eval()
    a = vitdemo.analyze(model, picture(4, (32, 32)))
    for ask in (a.logit_lens, a.patch_lens):
        with pytest.raises(ValueError, match="no classifier"):
            ask()


def test_settled_layer_and_top_by_layer_by_hand():
    from vitdemo.explain.lens import settled_layer, top_by_layer

    lens = np.array([[0.6, 0.3, 0.1], [0.2, 0.5, 0.3], [0.1, 0.2, 0.7], [0.1, 0.3, 0.6]], dtype=np.float32)
    assert settled_layer(lens) == 2  # class 2 from the third layer on
    assert settled_layer(lens[:1]) == 0
    assert top_by_layer(lens, 2)[1] == [(1, pytest.approx(0.5)), (2, pytest.approx(0.3))]


def test_the_bundle_carries_the_lens_compactly(make_hf_checkpoint):
    """The explorer's bundle: per layer the class token's top-3, per patch its class and probability (in 1/255)."""
    from vitdemo.explain.payload import explorer_payload, unpacked

    model = vitdemo.load(make_hf_checkpoint("deit").path, device="cpu", precision="fp32")
    a = vitdemo.analyze(model, picture(5))
    sent = explorer_payload(a)["logit_lens"]
    lens, patch = a.logit_lens(), a.patch_lens()
    labels = sent["labels"]
    for layer, row in enumerate(sent["top"]):
        best = np.argsort(-lens[layer])[:3]
        assert [labels[i] for i, _ in row] == [a.labels[i] for i in best]
        assert [p for _, p in row] == pytest.approx(lens[layer, best], abs=1e-5)
    n = a.grid[0] * a.grid[1]
    classes = unpacked(sent["patch"], np.uint8 if sent["width"] == 1 else np.uint16, (a.depth, n))
    assert [labels[c] for c in classes.ravel()] == [a.labels[c] for c in patch.classes.ravel()]
    prob = unpacked(sent["prob"], np.uint8, (a.depth, n)) / 255
    np.testing.assert_allclose(prob, patch.probabilities.reshape(a.depth, n), atol=0.5 / 255 + 1e-6)
    headless = ViT(ViTConfig(image_size=32, patch_size=8, dim=32, depth=2, heads=2, mlp_dim=64, num_classes=0))
    assert explorer_payload(vitdemo.analyze(headless.eval(), picture(6, (32, 32))))["logit_lens"] is None


def test_class_colours_put_the_answer_first_then_the_most_named():
    from vitdemo.explain.lens import OTHER, PALETTE, PatchLens, class_colours, class_picture

    lens = np.array([[0.1, 0.2, 0.3, 0.4], [0.7, 0.1, 0.1, 0.1]], dtype=np.float32)  # answer: class 0
    classes = np.array([[[3, 3], [2, 1]], [[3, 3], [3, 2]]])  # class 3: 5 patches, 2: 2, 1: 1
    colours = class_colours(lens, PatchLens(classes, np.ones(classes.shape, np.float32)))
    assert colours == {0: PALETTE[0], 3: PALETTE[1], 2: PALETTE[2], 1: PALETTE[3]}
    assert class_picture(classes[0], colours).tolist() == [[list(PALETTE[1])] * 2, [list(PALETTE[2]), list(PALETTE[3])]]
    many = np.arange(20).reshape(1, 4, 5)
    flat = np.full((1, 20), 0.05, dtype=np.float32)
    colours = class_colours(flat, PatchLens(many, np.ones(many.shape, np.float32)))
    assert sum(c == OTHER for c in colours.values()) == 20 - len(PALETTE)


STAR = Path(__file__).resolve().parents[1] / "assets" / "examples" / "shape_star.png"


@pytest.mark.slow  # two figures with matplotlib (a PNG at 1760 px and a GIF of 6 frames)
def test_the_figure_command_draws_the_lens(tmp_path, capsys, monkeypatch):
    from vitdemo.__main__ import main

    monkeypatch.chdir(tmp_path)
    assert main(["figure", str(STAR), "--method", "logit-lens", "--layer", "3"]) == 0
    written = tmp_path / "shape_star_p16_logit-lens_layer3.png"
    assert f"wrote {written.name}" in capsys.readouterr().out and Image.open(written).width >= 1600
    assert main(["figure", str(STAR), "--method", "logit-lens", "--out", str(tmp_path / "lens.gif")]) == 0
    assert Image.open(tmp_path / "lens.gif").n_frames == 6  # the bundled model's depth: one frame per layer
    assert main(["figure", str(STAR), "--method", "logit-lens", "--layer", "7"]) == 2
    assert capsys.readouterr().err.strip() == "error: layer must be a whole number from 1 to 6, not '7'."


def test_the_figures_patches_are_painted_in_their_class_colours():
    from vitdemo.explain.lens import class_colours
    from vitdemo.explain.lens_figure import patches_over

    a = vitdemo.analyze(vitdemo.load("bundled"), Image.open(STAR).convert("RGB"))
    colours = class_colours(a.logit_lens(), a.patch_lens())
    picture = np.asarray(patches_over(a, 2, opacity=1.0))
    cell = picture.shape[0] // a.grid[0]
    for r in range(a.grid[0]):
        for c in range(a.grid[1]):
            block = picture[r * cell:(r + 1) * cell, c * cell:(c + 1) * cell].reshape(-1, 3)
            assert (block == colours[int(a.patch_lens().classes[2, r, c])]).all()


def test_the_endpoint_refuses_a_model_without_a_classifier_before_decoding():
    """/logit_lens (api_lens.py) on a model without a head: one sentence naming it, before the image is read."""
    from types import SimpleNamespace

    import gradio as gr

    from vitdemo.app.api_lens import LensEndpoint

    class Engine:  # what the endpoint asks of the app's engine, for one model without a classifier
        entries = {"dino": SimpleNamespace(title="DINO ViT-S/16", key="dino")}

        def config(self, key=None):
            return ViTConfig(num_classes=0)

        def entry(self, key=None):
            return self.entries["dino"]

        def decode(self, image):
            raise AssertionError("the image was decoded before the model was checked")

    with pytest.raises(gr.Error) as refused:
        LensEndpoint(Engine()).logit_lens(None, None, None, "dino")
    assert str(refused.value).strip("'") == ("DINO ViT-S/16 has no classifier, so it has no logit lens: the lens "
                                             "reads each layer through the classifier.")
