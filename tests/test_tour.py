"""The guided tour: its steps in order, each with the code of vitdemo/model.py that computes it, the shapes
worked out by hand for the bundled model, and numbers checked against independent arithmetic.

Then the tab's handlers, called directly with named values as Gradio hands them over (no browser): Next and
Back move one step and stop at the ends, each step's controls show only there, and the text follows the
request's language.
"""

from __future__ import annotations

import inspect
import math
import re
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import vitdemo
import vitdemo.model as model_py
from vitdemo.config import ViTConfig
from vitdemo.explain.tour import STEP_KEYS, _similarity_facts, step, step_keys, tour

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "assets" / "examples" / "shape_star.png"

# Written out here, as objects, rather than read from the tour's own table: a step that names the wrong
# function fails.
CODE_OF = {
    "image": [model_py.ViT.forward],
    "patches": [model_py.patchify],
    "unfold_conv": [model_py.embed_patches_unfold, model_py.embed_patches_conv],
    "embeddings": [model_py.PatchEmbedding],
    "class_token": [model_py.ViT.embed],
    "position": [model_py.resample_grid],
    "encoder": [model_py.Block, model_py.Attention, model_py.MLP],
    "class_output": [model_py.ViT.head_input],
    "head": [model_py.ViT.classify],
    "loss": [model_py.loss],
    "lens": [model_py.ViT.classify],
}
# What each step's code must do, in the recipe's words.
DOES = {"patches": "F.unfold", "unfold_conv": "F.conv2d", "class_token": "torch.cat", "position": "F.interpolate",
        "encoder": "softmax", "head": "self.head(", "loss": "cross_entropy",
        "lens": "self.head("}


@pytest.fixture(scope="module")
def bundled():
    return vitdemo.load("bundled")


@pytest.fixture(scope="module")
def star(bundled):
    return vitdemo.analyze(bundled, Image.open(STAR), patch_size=16)


def test_steps_come_in_the_recipes_order(star):
    assert [s.key for s in tour(star)] == ["image", "patches", "unfold_conv", "embeddings", "class_token",
                                           "position", "encoder", "class_output", "head", "loss", "lens"]
    assert step_keys(star) == STEP_KEYS


@pytest.mark.parametrize("key", list(CODE_OF))
def test_each_step_shows_the_source_of_the_model_code_it_names(star, key):
    shown = step(star, key)
    expected = "\n\n".join(textwrap.dedent(inspect.getsource(obj)) for obj in CODE_OF[key])
    assert shown.code == expected
    assert [name.split(".")[-1] for name in shown.sources] == [obj.__name__ for obj in CODE_OF[key]]
    assert DOES.get(key, "") in shown.code
    assert isinstance(shown.picture, Image.Image) and min(shown.picture.size) >= 64


def test_shapes_for_the_bundled_model_at_patch_16_by_hand(star):
    # 96 px / 16 = 6 × 6 = 36 patches of 16·16·3 = 768 values, embedded into dim 96; one class token in front;
    # 11 shape classes; the loss is one number; the lens is one distribution over the classes per layer (6).
    by_hand = {"image": (1, 3, 96, 96), "patches": (1, 36, 768), "unfold_conv": (1, 36, 96),
               "embeddings": (1, 36, 96), "class_token": (1, 37, 96), "position": (1, 37, 96),
               "encoder": (1, 37, 96), "class_output": (1, 96), "head": (1, 11), "loss": (),
               "lens": (6, 11)}
    assert {s.key: s.shape for s in tour(star)} == by_hand
    facts = step(star, "patches").facts
    assert (facts["rows"], facts["cols"], facts["count"], facts["values"]) == (6, 6, 36, 768)
    assert step(star, "encoder").facts["attention_shape"] == (1, 4, 37, 37)


def test_shapes_follow_the_patch_size(bundled):
    # 96 / 12 = 8 × 8 = 64 patches of 12·12·3 = 432 values.
    analysis = vitdemo.analyze(bundled, Image.open(STAR), patch_size=12)
    assert step(analysis, "patches").shape == (1, 64, 432)
    assert step(analysis, "class_token").shape == (1, 65, 96)


def test_unfold_and_conv2d_agree_to_float_rounding(star):
    facts = step(star, "unfold_conv").facts
    assert 0.0 <= facts["difference"] < 1e-5


@pytest.mark.parametrize("label", [None, "circle", 7])
def test_the_loss_is_minus_log_softmax_at_the_picked_label(star, label):
    logits = star.logits.double().numpy()
    index = int(np.argmax(logits)) if label is None else star.labels.index(label) if isinstance(label, str) else label
    log_softmax = logits[index] - (logits.max() + math.log(np.exp(logits - logits.max()).sum()))
    facts = step(star, "loss", label=label).facts
    assert facts["label"] == star.labels[index]
    assert facts["loss"] == pytest.approx(-log_softmax, abs=1e-4)
    assert facts["probability"] == pytest.approx(math.exp(log_softmax), abs=1e-5)


def test_the_loss_step_refuses_a_label_the_model_does_not_have(star):
    with pytest.raises(ValueError, match="labels"):
        step(star, "loss", label="giraffe")
    with pytest.raises(ValueError, match="index"):
        step(star, "loss", label=11)


@pytest.mark.parametrize("block", [0, 3, -1])
def test_the_encoder_step_opens_the_picked_block(star, block):
    index = block % star.depth
    shown = step(star, "encoder", block=block)
    assert shown.facts["block"] == index + 1
    assert torch.equal(torch.tensor(shown.shape[1:]), torch.tensor(star.intermediates[f"block{index}"].shape))
    # Where the class token looks most, from the stored attention itself: mean over heads of row 0.
    row = star.attentions[index].mean(axis=0)[0, 1:].reshape(6, 6)
    r, c = np.unravel_index(np.argmax(row), row.shape)
    assert (shown.facts["row"], shown.facts["col"]) == (r + 1, c + 1)
    with pytest.raises(ValueError, match="block"):
        step(star, "encoder", block=star.depth)


def test_the_encoder_step_shows_the_plain_recipe_that_ran(star):
    # "The code that ran": the blocks of the model the tour analysed (bf16 on a CPU that computes it natively,
    # the precision the app runs) are the recipe's own class, and the recipe has no hook into another path.
    assert all(type(block) is model_py.Block for block in star.model.blocks)
    shown = step(star, "encoder").code
    assert re.search(r"\bfast\b", shown) is None
    assert re.search(r"\bfast\b", inspect.getsource(model_py)) is None
    steps = ["self.norm1(x)", "self.attn.attend(", "x + self.ls1(", "self.norm2(mid)", "activate(self.mlp.act, hidden)"]
    assert [shown.index(s) for s in steps] == sorted(shown.index(s) for s in steps), "the block's steps in order"


def test_position_similarity_facts_on_a_grid_by_hand():
    # 1 × 3 grid: positions 0-1 and 1-2 are neighbours (0.8 and 0.6), 0-2 are not (-0.2).
    sim = np.array([[1.0, 0.8, -0.2], [0.8, 1.0, 0.6], [-0.2, 0.6, 1.0]]).reshape(1, 3, 1, 3)
    facts = _similarity_facts(sim)
    assert facts["neighbours"] == pytest.approx(0.7)
    assert facts["overall"] == pytest.approx((0.8 - 0.2 + 0.6) * 2 / 6)
    assert facts["layout"] is True  # 0.7 against 0.4
    flat = np.array([[1.0, 0.1, 0.1], [0.1, 1.0, 0.1], [0.1, 0.1, 1.0]]).reshape(1, 3, 1, 3)
    assert _similarity_facts(flat)["layout"] is False


@pytest.fixture(scope="module")
def headless():
    """A DINO-like analysis: a model without a classifier (num_classes = 0)."""
    torch.manual_seed(0)
    dino = model_py.ViT(ViTConfig(image_size=32, patch_size=8, dim=32, depth=2, heads=4, mlp_dim=64,
                                  num_classes=0)).eval()
    return vitdemo.analyze(dino, Image.new("RGB", (32, 32), (200, 30, 30)))


def test_a_model_without_a_classifier_ends_at_the_class_token_output(headless):
    assert [s.key for s in tour(headless)][-1] == "class_output"
    assert step(headless, "class_output").shape == (1, 32)
    with pytest.raises(ValueError, match="no tour step"):
        step(headless, "loss")


# ---- the tab's handlers ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def handlers(star):
    from vitdemo.app.tour import TourHandlers

    return TourHandlers(lambda values: star if values.get("key") else None)


def values(**changes) -> dict:
    return {"image": str(STAR), "key": ("shown",), "tab": "tour", "tour_step": 0, "tour_block": 1,
            "tour_label": None, **changes}


def shown_step(out: dict) -> str:
    import re

    return re.search(r'data-step="([a-z_]+)"', out["tour_progress"]).group(1)


def test_next_and_back_move_one_step_and_stop_at_the_ends(handlers):
    out = handlers.show(values())
    assert shown_step(out) == "image" and out["tour_back"]["interactive"] is False
    out = handlers.next(values(tour_step=out["tour_step"]))
    assert shown_step(out) == "patches" and out["tour_step"] == 1
    assert "Step 2 of 11" in out["tour_progress"]
    assert out["tour_shape"] == "**Tensor shape:** `(1, 36, 768)`"
    assert out["tour_code"]["value"] == textwrap.dedent(inspect.getsource(model_py.patchify))
    assert handlers.back(values(tour_step=1))["tour_step"] == 0
    assert handlers.back(values(tour_step=0))["tour_step"] == 0
    last = handlers.next(values(tour_step=10))
    assert shown_step(last) == "lens" and last["tour_next"]["interactive"] is False


def test_the_block_slider_and_the_label_picker_show_on_their_steps_only(handlers, star):
    encoder = handlers.show(values(tour_step=6, tour_block=3))
    assert encoder["tour_block"]["visible"] is True and encoder["tour_block"]["maximum"] == star.depth
    assert "Block 3 of 6" in encoder["tour_why"] and encoder["tour_label"]["visible"] is False
    loss = handlers.show(values(tour_step=9, tour_label="circle"))
    assert loss["tour_label"]["visible"] is True and loss["tour_label"]["value"] == "circle"
    assert loss["tour_label"]["choices"] == star.labels and loss["tour_block"]["visible"] is False
    p = float(star.probabilities[star.labels.index("circle")])
    assert f"loss = −log {p:.4f} = {-math.log(p):.3f}" in loss["tour_why"]


def test_the_tour_speaks_the_requests_language(handlers):
    chinese = handlers.show(values(tour_step=1), lang="zh-CN")
    assert "图像块" in chinese["tour_why"] and "第 2 步（共 11 步）" in chinese["tour_progress"]
    assert "张量形状" in chinese["tour_shape"] and "{" not in chinese["tour_why"]
    for index in range(11):  # every step's sentences fill every placeholder, in both languages
        for lang in ("en", "zh-CN"):
            assert "{" not in handlers.show(values(tour_step=index), lang=lang)["tour_why"]


def test_without_an_analysis_the_tour_says_how_to_start(handlers):
    out = handlers.show(values(key=None))
    assert out["tour_why"].startswith("Upload an image") and out["tour_next"]["interactive"] is False
    assert handlers.shown_if_open(values(tab="heads")) == {}


def test_without_a_classifier_the_last_step_says_the_tour_ends_there(headless):
    from vitdemo.app.tour import TourHandlers

    out = TourHandlers(lambda values: headless).show(values(tour_step=99))
    assert shown_step(out) == "class_output" and "Step 8 of 8" in out["tour_progress"]
    assert "no classifier" in out["tour_why"] and out["tour_next"]["interactive"] is False
    # Random position embeddings: the tour does not claim they learned the layout.
    position = TourHandlers(lambda values: headless).show(values(tour_step=5))
    assert shown_step(position) == "position" and "no 2-D layout" in position["tour_why"]


def test_the_lens_step_reads_what_each_layer_would_answer(star):
    """Facts from the class token's lens (tested against transformers in test_logit_lens.py), worked out here."""
    lens = star.logit_lens()
    facts = step(star, "lens").facts
    tops = [star.labels[int(i)] for i in lens.argmax(axis=-1)]
    assert facts["answer"] == tops[-1] == star.top(1)[0][0] and facts["first"] == tops[0]
    settled = next(layer for layer in range(1, 7) if all(t == tops[-1] for t in tops[layer - 1:]))
    assert facts["settled"] == settled and facts["depth"] == 6
    assert facts["probability"] == pytest.approx(star.top(1)[0][1], abs=1e-6)
