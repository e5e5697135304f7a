"""The page's event functions, called directly with named values as Gradio hands them over (no browser).

`Handlers.update` answers every control that needs the server with one explorer bundle; a repeated trigger
sends nothing again and decodes nothing; a model switch refits every model-dependent control (the Compare
tab's sizes included); no image, or a bad one, leaves a clean page; a model that cannot load keeps the
current one. The explorer's server functions add what a bundle lacks.
"""

from __future__ import annotations

import asyncio
import json
import re
import warnings
from pathlib import Path

import gradio as gr
import numpy as np
import pytest

from vitdemo.app.cache import AnalysisKey
from vitdemo.app.callbacks import Handlers, cleared
from vitdemo.app.models import choose_startup
from vitdemo.app.service import Engine
from vitdemo.app.validation import UserError
from vitdemo.app.views import cell

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
              "key": None, "source": None, "active_model": "bundled", "tab": "heads", "compare_sizes": [8, 16, 32]}
    return {**values, **changes}


def after(values: dict, out: dict) -> dict:
    """The controls once `out` is applied (what the browser sends with the next event)."""
    return {**values, **{k: out[k] for k in ("key", "source") if k in out}}


def test_one_bundle_per_analysis_and_nothing_again_for_a_repeated_trigger(engine, counted):
    handlers = Handlers(engine)
    values = controls(engine)
    out = handlers.update(values)
    assert counted == {"forward": 1, "decode": 1}
    assert "tokens" in out["summary"] and "This model knows only 11 classes: circle, square" in out["summary"]
    bundle = out["explorer"]
    assert bundle["key"] == list(out["key"]) and bundle["name"] == f"star_p{values['patch']}"
    assert set(bundle["maps"]) == {"attention", "rollout"} and bundle["patches"] is not None
    assert out["labels"] == dict(engine.cached(out["key"]).top(5))
    again = handlers.update(after(values, out), trigger="image")  # Gradio fires `change` twice per upload
    assert again == {"source": out["source"]}
    assert counted == {"forward": 1, "decode": 1}
    smaller = handlers.update(after({**values, "patch": 32}, out), trigger="patch")
    assert smaller["explorer"]["patch"] == 32 and smaller["explorer"]["grid"] == [3, 3]
    assert counted == {"forward": 2, "decode": 2}


class Caller:
    """What Gradio's component_server route hands a server function for its `gr.Request`: the HTTP request,
    whose JSON body names the page's session."""

    def __init__(self, session: str):
        self.session = session

    async def json(self) -> dict:
        return {"session_hash": self.session, "component_id": 0, "fn_name": "", "data": None}


def as_page(fn, session: str = "page"):
    """The server function `fn` called as the page of `session` calls it."""
    return lambda args: asyncio.run(fn(args, Caller(session)))


@pytest.mark.slow
def test_the_explorers_server_functions_add_what_a_bundle_lacks(engine):
    from vitdemo.app.explorer import ExplorerServer
    from vitdemo.explain import payload

    out = Handlers(engine).update(controls(engine), session="page")
    functions = {name: as_page(fn) for name, fn in ExplorerServer(engine).functions().items()}
    maps, patch_row, similarity_row, faithfulness, top_without = (functions[name] for name in (
        "maps", "patch_row", "similarity_row", "faithfulness", "top_without"))
    analysis, key = engine.cached(out["key"]), list(out["key"])
    assert maps([key, "relevance", "circle", 0]) == payload.map_stack(analysis, "relevance", target="circle")
    assert maps([key, "legrad", "star", 0]) == payload.map_stack(analysis, "legrad", target="star")
    assert maps([key, "rollout", "", 0.5]) == payload.map_stack(analysis, "rollout", discard_ratio=0.5)
    assert maps([key, "attention", "", 0]) == payload.map_stack(analysis, "attention")
    assert patch_row([list(out["key"]), 1, 2, 3]) == payload.patch_row(analysis, 1, 2, 3)
    assert similarity_row([list(out["key"]), 2, 3]) == payload.similarity_row(analysis, 2, 3)
    assert functions["score_matrix"]([key, 1, 2]) == payload.score_matrix(analysis, 1, 2)
    assert "head must be a whole number from 0 to 3" in functions["score_matrix"]([key, 1, 4])["error"]
    curves = faithfulness(list(out["key"]))
    assert set(curves) == {"attention", "rollout", "relevance", "legrad", "random"}
    assert curves["rollout"] == analysis.faithfulness_comparison()["rollout"].as_dict()
    expected = [list(t) for t in analysis.top_without([(0, 0), (2, 3)])]
    assert top_without([list(out["key"]), [[0, 0], [2, 3]]]) == expected
    # Refusals come back as one sentence for the page, not as a server error:
    assert "target must be one of the model's classes" in maps([key, "relevance", "dragon", 0])["error"]
    assert "method must be one of attention, rollout" in maps([key, "dragon", "", 0])["error"]
    assert "discard must be a number from 0 to 0.95" in maps([key, "rollout", "", 0.99])["error"]
    assert "row must be a whole number from 0 to 5" in patch_row([list(out["key"]), 1, 9, 3])["error"]
    assert "no longer in the server's memory" in maps([["0" * 24, "bundled", 16, False], "relevance", "circle", 0])[
        "error"]
    stranger = as_page(ExplorerServer(engine).functions()["maps"], session="stranger")  # never shown this key
    assert "no longer in the server's memory" in stranger([key, "relevance", "circle", 0])["error"]
    everything = [[r, c] for r in range(6) for c in range(6)]
    assert "Hide some patches, not all" in top_without([list(out["key"]), everything])["error"]


@pytest.mark.slow
def test_heads_switched_off_their_effects_and_the_sanity_check_count_layers_and_heads_from_1(engine):
    from vitdemo.app.explorer import ExplorerServer

    out = Handlers(engine).update(controls(engine), session="page")
    functions = {name: as_page(fn) for name, fn in ExplorerServer(engine).functions().items()}
    analysis, key = engine.cached(out["key"]), list(out["key"])
    top = functions["ablate"]([key, [[3, 1], [6, 4]]])  # page's 3.1 and 6.4 = the library's (2, 0) and (5, 3)
    probabilities = analysis.ablate([(2, 0), (5, 3)])
    assert [label for label, _ in top] == [analysis.labels[i] for i in np.argsort(-probabilities)[:5]]
    assert [p for _, p in top] == pytest.approx(sorted(probabilities, reverse=True)[:5])
    effects = functions["head_effects"]([key, "star"])
    assert effects["target"] == "star"
    assert np.allclose(effects["effects"], analysis.head_effects("star"))
    assert functions["head_effects"]([key, ""])["target"] == analysis.top(1)[0][0]
    sanity = functions["sanity"](key)
    assert sanity == analysis.sanity_comparison() and len(sanity["relevance"]) == analysis.depth + 1
    assert "layer must be a whole number from 1 to 6" in functions["ablate"]([key, [[0, 1]]])["error"]
    assert "head must be a whole number from 1 to 4" in functions["ablate"]([key, [[1, 5]]])["error"]
    assert "heads must be a list of layer.head pairs" in functions["ablate"]([key, "everything"])["error"]


def test_a_new_image_replaces_every_result_and_empties_the_comparison(engine, counted):
    handlers = Handlers(engine)
    first = handlers.update(controls(engine))
    out = handlers.update(after(controls(engine, image=CAT), first))
    assert out["key"] != first["key"] and out["compare"] is None
    assert out["explorer"]["key"] == list(out["key"]) and "summary" in out and "labels" in out
    assert counted["forward"] == 2


def test_no_image_or_a_bad_one_leaves_a_clean_page(engine, tmp_path):
    handlers = Handlers(engine)
    assert handlers.update(controls(engine, image=None)) == cleared()
    bogus = tmp_path / "notes.png"
    bogus.write_text("not a picture")
    with pytest.warns(UserWarning, match="not an image we can read"):
        out = handlers.update(controls(engine, image=str(bogus)))
    sent = controls(engine, image=str(bogus))
    assert out == {**cleared(), "source": [str(bogus), "bundled", engine.model().config.patch_size, False,
                                           sent.get("prompts")]}
    assert out["explorer"] is None and out["labels"] is None and out["key"] is None


def test_a_refused_upload_is_said_once_not_again_on_each_change(engine, tmp_path):
    """Gradio fires `change` twice per upload, and the refused picture stays in the image box while the
    reader tries other settings: one warning in all, until another image comes."""
    handlers = Handlers(engine)
    bogus = tmp_path / "notes.png"
    bogus.write_text("not a picture")
    with warnings.catch_warnings(record=True) as said:
        warnings.simplefilter("always")
        first = handlers.update(controls(engine, image=str(bogus)), trigger="image")
        again = handlers.update(after(controls(engine, image=str(bogus)), first), trigger="image")
        later = handlers.update(after(controls(engine, image=str(bogus), patch=8), first), trigger="patch")
    assert len(said) == 1, [str(w.message) for w in said]
    assert "explorer" not in again and "explorer" not in later
    with pytest.warns(UserWarning, match="not an image we can read"):  # another bad upload is said again
        other = tmp_path / "other.png"
        other.write_text("nor this")
        handlers.update(after(controls(engine, image=str(other)), first), trigger="image")
    good = handlers.update(after(controls(engine), first), trigger="image")
    assert good["explorer"] is not None, "a good image after a refused one is analysed"


def test_download_figure_with_no_image_says_so_without_a_traceback(engine, caplog, tmp_path):
    """The fallback of a refused figure takes (self, lang) as `shown_as_warning` calls it (it took one
    argument: a TypeError traceback on the server instead of the sentence)."""
    from vitdemo.app.figure_download import FigureDownloads
    from vitdemo.app.outputs import PictureStore

    downloads = FigureDownloads(engine, PictureStore(tmp_path))
    with pytest.warns(UserWarning) as said:
        out = downloads.download({"figure_view": json.dumps({"key": None})}, lang="en")
    assert out == {"figure_file": None}
    assert [str(w.message) for w in said] == ["Upload an image first: the figure shows the analysis on screen."]
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


def test_offline_refusal_names_the_models_by_title_not_by_key(engine, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UserError) as refused:
        engine.model("vit-b16")
    message = str(refused.value)
    assert "Available now: Bundled shapes ViT (offline)." in message, message
    assert "bundled," not in message and not message.endswith("bundled.")


def test_a_model_that_cannot_load_keeps_the_current_one(engine):
    with pytest.warns(UserWarning, match="not downloaded"):
        out = Handlers(engine).update(controls(engine, model="vit-b16"), trigger="model")
    assert out["model"]["value"] == "bundled" and "active_model" not in out
    assert out["explorer"]["key"][1] == "bundled", "the current model's results stay"


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
    assert 48 not in bundled["compare_sizes"]["value"]


def test_compare_is_usable_only_with_two_or_three_sizes(engine):
    handlers = Handlers(engine)
    assert [handlers.compare_button({"compare_sizes": sizes})["compare_button"]["interactive"]
            for sizes in ([], [8], [8, 16], [8, 16, 32])] == [False, False, True, True]


def test_compare_sends_one_bundle_per_size(engine):
    handlers = Handlers(engine)
    values = controls(engine, compare_sizes=[32, 8])
    bundles = handlers.compare(values)["compare"]
    assert [b["patch"] for b in bundles] == [8, 32] and [b["grid"] for b in bundles] == [[12, 12], [3, 3]]
    assert all(b["patches"] is None for b in bundles), "the comparison draws class-token maps only"
    with pytest.warns(UserWarning, match="Pick two or three patch sizes"):
        assert handlers.compare(controls(engine, compare_sizes=[8])) == {}


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


@pytest.mark.parametrize("lang, said", [
    ("en", "Your 1×1 image is much smaller than what the model reads: it was enlarged to 96×96 px"),
    ("zh-CN", "你的图像只有 1×1，比模型读取的尺寸小得多：已放大到 96×96 像素"),
])
def test_a_1x1_image_is_said_to_be_enlarged(engine, tmp_path, lang, said):
    """The bundled model reads 96×96 px (config.json): a 1×1 upload is taken, and the summary says what became
    of it; a 96×96 one is not news."""
    from PIL import Image

    dot, full = tmp_path / "dot.png", tmp_path / "full.png"
    Image.new("RGB", (1, 1), (200, 30, 40)).save(dot)
    Image.new("RGB", (96, 96), (200, 30, 40)).save(full)
    handlers = Handlers(engine)
    assert said in handlers.update(controls(engine, image=str(dot)), lang=lang)["summary"]
    assert "enlarged" not in handlers.update(controls(engine, image=str(full)))["summary"]


@pytest.mark.parametrize("lang, said", [("en", "Your GIF is animated: its first frame was used."),
                                        ("zh-CN", "你的 GIF 是动图：只用了它的第一帧。")])
def test_an_animated_gif_is_said_to_give_its_first_frame(engine, tmp_path, lang, said):
    """Three frames, red, green, blue: the analysis is of the red one (the model's view is red), and the summary
    says so; a GIF of one frame says nothing."""
    import numpy as np
    from PIL import Image

    frames = [Image.new("RGB", (96, 96), colour) for colour in ((220, 0, 0), (0, 220, 0), (0, 0, 220))]
    moving, still = tmp_path / "moving.gif", tmp_path / "still.gif"
    frames[0].save(moving, save_all=True, append_images=frames[1:], duration=100, loop=0)
    frames[1].save(still)
    handlers = Handlers(engine)
    out = handlers.update(controls(engine, image=str(moving)), lang=lang)
    assert said in out["summary"]
    view = np.asarray(engine.cached(AnalysisKey(*out["key"])).view.convert("RGB"), dtype=int)
    assert view[..., 0].mean() > 200 and view[..., 1:].max() < 20, "the first frame (red) was analysed"
    assert "animated" not in handlers.update(controls(engine, image=str(still)))["summary"]


@pytest.mark.slow
def test_a_model_without_a_classifier_runs_every_view_and_says_so(tmp_path):
    import transformers

    from vitdemo.app.api import Endpoints

    folder = tmp_path / "dino-like"
    transformers.ViTModel(transformers.ViTConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                                                 intermediate_size=64, image_size=32, patch_size=8),
                          add_pooling_layer=False).save_pretrained(folder)
    engine = Engine(choose_startup(str(folder)))
    handlers = Handlers(engine)
    out = handlers.update({"image": STAR, "model": str(folder), "patch": None, "keep_aspect": False, "key": None,
                           "source": None, "active_model": str(folder), "tab": "heads"})
    assert out["labels"] is None and "has no classifier" in out["summary"]
    bundle = out["explorer"]
    assert bundle["classifier"] is False and bundle["top"] == [] and bundle["name"] == "features_p8"
    assert set(bundle["maps"]) == {"attention", "rollout"}
    recipe = handlers.recipe(after({"image": STAR}, out))
    assert "logits" not in recipe["recipe_table"] and "class-token output" in recipe["recipe_table"]
    with pytest.raises(gr.Error, match="has no classifier, so it cannot classify"):
        Endpoints(engine).classify(STAR, None, str(folder))
