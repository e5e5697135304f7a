"""The page's event functions, called directly with named values as Gradio hands them over (no browser).

`Handlers.update` answers every control: a view switch reuses the stored forward and does not even decode
the image again; a model switch refits every model-dependent control (the Compare tab's sizes included);
no image, or a bad one, leaves a clean page; a model that cannot load keeps the current one.
"""

from __future__ import annotations

import re
from pathlib import Path

import gradio as gr
import pytest

from vitdemo.app.callbacks import Handlers, cell, cleared
from vitdemo.app.models import choose_startup
from vitdemo.app.service import Engine

ROOT = Path(__file__).resolve().parents[1]
STAR = str(ROOT / "assets" / "examples" / "shape_star.png")
CAT = str(ROOT / "assets" / "examples" / "cat.jpg")


@pytest.fixture(scope="module")
def engine() -> Engine:
    return Engine(choose_startup("bundled"))


@pytest.fixture
def counted(engine, monkeypatch) -> dict[str, int]:
    """Counts forwards and image decodes (the analysis cache starts empty)."""
    engine.cache._items.clear()
    counts = {"forward": 0, "decode": 0}
    real_analyse, real_decode = engine._analyse, engine.decode

    def analyse(*args):
        counts["forward"] += 1
        return real_analyse(*args)

    def decode(source):
        counts["decode"] += 1
        return real_decode(source)

    monkeypatch.setattr(engine, "_analyse", analyse)
    monkeypatch.setattr(engine, "decode", decode)
    return counts


def controls(engine: Engine, **changes) -> dict:
    config = engine.model().config
    values = {"image": STAR, "model": "bundled", "patch": config.patch_size, "keep_aspect": False,
              "method": "attention", "layer": config.depth, "head": "mean", "target": "", "discard": 0.0,
              "cmap": "inferno", "opacity": 0.6, "smooth": False, "indices": False, "order": False,
              "key": None, "source": None, "patch_clicked": None, "active_model": "bundled", "tab": "heads",
              "compare_sizes": [8, 16, 32]}
    return {**values, **changes}


def after(values: dict, out: dict) -> dict:
    """The controls once `out` is applied (what the browser sends with the next event)."""
    states = {k: out[k] for k in ("key", "source", "patch_clicked") if k in out}
    return {**values, **states}


def test_view_switches_and_patch_clicks_reuse_the_forward_without_decoding(engine, counted):
    handlers = Handlers(engine)
    values = controls(engine)
    out = handlers.update(values)
    assert counted == {"forward": 1, "decode": 1}
    assert "tokens" in out["summary"] and out["caption"].startswith("Attention")
    assert "This model knows only 11 classes: circle, square" in out["summary"]
    grid, name = out["grid"]
    assert name == f"star_p{values['patch']}_grid"
    values = after(values, out)
    shown = {out["attention"][0].tobytes()}
    for method, layer, head in [("rollout", 6, "mean"), ("attention", 1, "0"), ("relevance", 6, "max")]:
        out = handlers.update({**values, "method": method, "layer": layer, "head": head}, trigger="method")
        assert out["caption"].lower().startswith(method)
        assert "summary" not in out, "a view switch leaves the summary (and its timing) alone"
        shown.add(out["attention"][0].tobytes())
    assert out["attention"][1] == f"star_p{values['patch']}_relevance_layer6_headmax"
    clicked = handlers.select_patch(values, evt=gr.SelectData(None, {"index": [1, 1], "value": None}))
    assert clicked == {"patch_clicked": (0, 0)}
    out = handlers.update({**values, **clicked}, trigger="patch_clicked")
    assert out["caption"].startswith("What patch (row 0, col 0)")
    shown.add(out["attention"][0].tobytes())
    out = handlers.update({**values, **clicked, "method": "rollout"}, trigger="method")
    assert out["patch_clicked"] is None, "a method goes back to the class token"
    assert out["caption"].startswith("Rollout")
    assert len(shown) == 5, "each view is a different picture"
    assert counted == {"forward": 1, "decode": 1}


def test_a_new_image_replaces_every_result_and_empties_the_comparison(engine, counted):
    handlers = Handlers(engine)
    first = handlers.update(controls(engine))
    out = handlers.update(after(controls(engine, image=CAT, target="star"), first))
    assert out["key"] != first["key"] and out["compare_gallery"] is None
    assert out["target"]["value"] == "" and "summary" in out and "labels" in out
    assert counted["forward"] == 2


def test_no_image_or_a_bad_one_leaves_a_clean_page(engine, tmp_path):
    handlers = Handlers(engine)
    assert handlers.update(controls(engine, image=None)) == cleared()
    bogus = tmp_path / "notes.png"
    bogus.write_text("not a picture")
    with pytest.warns(UserWarning, match="not an image we can read"):
        out = handlers.update(controls(engine, image=str(bogus)))
    assert out == cleared() and out["grid"] is None and out["labels"] is None


def test_a_model_that_cannot_load_keeps_the_current_one(engine):
    with pytest.warns(UserWarning, match="not downloaded"):
        out = Handlers(engine).update(controls(engine, model="vit-b16"), trigger="model")
    assert out["model"]["value"] == "bundled" and "active_model" not in out
    assert out["grid"] is not None, "the current model's results stay"


def test_a_model_switch_refits_the_patch_sizes_and_the_comparison(engine):
    import vitdemo
    from vitdemo.app.callbacks import model_controls

    config = vitdemo.ViTConfig(image_size=224, patch_size=16, native_patch_sizes=(8, 16, 48))
    refit = model_controls(config)
    offered = [value for _, value in refit["patch"]["choices"]]
    assert offered == list(config.offered_patch_sizes()) and refit["patch"]["value"] == 16
    assert [value for _, value in refit["compare_sizes"]["choices"]] == offered
    assert refit["compare_sizes"]["value"] == [8, 16, 48]
    bundled = model_controls(engine.model().config)
    assert 48 not in bundled["compare_sizes"]["value"] and bundled["layer"]["maximum"] == 6


def test_compare_is_usable_only_with_two_or_three_sizes(engine):
    handlers = Handlers(engine)
    assert [handlers.compare_button({"compare_sizes": sizes})["compare_button"]["interactive"]
            for sizes in ([], [8], [8, 16], [8, 16, 32])] == [False, False, True, True]


def test_recipe_table_keeps_every_row_whole(engine):
    handlers = Handlers(engine)
    values = after(controls(engine), handlers.update(controls(engine)))
    table = handlers.recipe(values)["recipe_table"]
    rows = table.splitlines()
    assert any("max \\|unfold-matmul − conv2d\\|" in row for row in rows), "the note's bars are escaped"
    assert all(len(re.findall(r"(?<!\\)\|", row)) == 5 for row in rows), "4 cells per row, none cut"
    assert cell("a | b\nc") == "a \\| b c"


def test_keep_aspect_says_when_it_had_to_crop(engine, tmp_path):
    from PIL import Image

    wide = tmp_path / "wide.png"
    Image.new("RGB", (960, 240), (200, 30, 40)).save(wide)
    handlers = Handlers(engine)
    out = handlers.update(controls(engine, image=str(wide), keep_aspect=True))
    assert "Your 960×240 image is longer than 3:1" in out["summary"]
    out = handlers.update(controls(engine, image=str(wide), keep_aspect=False))
    assert "longer than 3:1" not in out["summary"]
