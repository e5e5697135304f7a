"""Examples that fit the model (issue 23 item 2), without a browser: which set goes with which model, that the
bundled model reads every shapes example as the shape it was drawn as, and that the page's one update event
sends the set of the model it switches to.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image

from vitdemo.app import example_sets
from vitdemo.app.callbacks import Handlers
from vitdemo.app.models import REGISTRY, ModelEntry, choose_startup
from vitdemo.app.service import Engine

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
PHOTOS = ["cat.jpg", "coffee.jpg", "astronaut.jpg", "rocket.jpg"]
# The shape each picture was drawn as (assets/examples/CREDITS.md), read off the file name by hand.
DRAWN_AS = {"shape_star.png": "star", "shape_heart.png": "heart", "drawn_circle.png": "circle",
            "shape_crescent.png": "crescent", "drawn_arrow.png": "arrow", "shape_cross.png": "cross",
            "shape_triangle.png": "triangle", "outline_diamond.png": "diamond"}


def names(paths: list[str]) -> list[str]:
    return [Path(p).name for p in paths]


def test_the_bundled_model_gets_shapes_and_imagenet_models_and_backbones_get_the_photos():
    assert names(example_sets.example_files(REGISTRY["bundled"])) == list(DRAWN_AS)
    for key in ("flexivit-b", "vit-b16", "deit-tiny", "dinov2-s", "dino-s16", "dinov2-reg-s"):
        assert names(example_sets.example_files(REGISTRY[key])) == PHOTOS, key


def test_a_trained_folder_is_judged_by_its_classes(tmp_path):
    for name, labels, expected in (("shapes-run", list(reversed(bundled_labels())), list(DRAWN_AS)),
                                   ("pets-run", ["cat", "dog"], PHOTOS)):
        folder = tmp_path / name
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps({"format": "vitdemo", "labels": labels, "config": {}}))
        assert names(example_sets.example_files(ModelEntry(name, str(folder), name))) == expected, name


def bundled_labels() -> list[str]:
    """The bundled model's classes, from its own file."""
    return json.loads((ROOT / "assets" / "bundled" / "config.json").read_text())["labels"]


def test_every_example_is_a_small_picture_on_disk_and_the_image_text_slot_is_there():
    for kind, chosen in example_sets.EXAMPLE_SETS.items():
        for name in chosen.files:
            with Image.open(EXAMPLES / name) as picture:
                assert max(picture.size) <= 1024 and (EXAMPLES / name).stat().st_size < 100_000, (kind, name)
        assert not chosen.prompts or len(chosen.prompts) == len(chosen.files)
    assert example_sets.PHOTOS_WITH_PROMPTS in example_sets.EXAMPLE_SETS
    credits = (EXAMPLES / "CREDITS.md").read_text()
    assert all(f"`{name}`" in credits for name in DRAWN_AS)


@pytest.mark.slow
@pytest.mark.parametrize("patch", [8, 16, 32])
def test_the_bundled_model_reads_every_shapes_example_as_the_shape_drawn(patch):
    import vitdemo

    model = vitdemo.load("bundled")
    for name, shape in DRAWN_AS.items():
        with Image.open(EXAMPLES / name) as picture:
            label, probability = vitdemo.analyze(model, picture.convert("RGB"), patch_size=patch).top(1)[0]
        assert label == shape and probability > 0.5, (name, patch, label, probability)


@pytest.mark.slow
def test_the_update_event_sends_the_examples_of_the_model_it_switches_to(hf_vit):
    engine = Engine(choose_startup(str(hf_vit.path)))  # a folder of an ImageNet-style model, and the bundled one
    handlers = Handlers(engine)
    folder = str(hf_vit.path)
    values = {"image": str(EXAMPLES / "cat.jpg"), "model": folder, "patch": None, "keep_aspect": False, "key": None,
              "source": None, "active_model": folder, "tab": "heads"}
    loaded = handlers.update(values, trigger="page")
    assert names([row[0] for row in loaded["example_table"].raw_samples]) == PHOTOS
    switched = handlers.update({**values, "model": "bundled", "key": loaded["key"], "source": loaded["source"]},
                               trigger="model")
    assert switched["active_model"] == "bundled"
    assert names([row[0] for row in switched["example_table"].raw_samples]) == list(DRAWN_AS)
    again = handlers.update({**values, "model": "bundled", "active_model": "bundled", "key": switched["key"],
                             "source": switched["source"]}, trigger="image")
    assert "example_table" not in again, "the set is sent when the model changes, not with every analysis"


@pytest.mark.slow
def test_the_warmer_analyses_the_models_examples_once_and_only_while_the_cache_is_under_half_full():
    from vitdemo.app.cache import AnalysisCache, AnalysisKey

    engine = Engine(choose_startup("bundled"))
    entry, native = engine.entry("bundled"), engine.model("bundled").config.patch_size
    warmer = example_sets.Warmer(engine)
    warmer.warm(entry).join()
    for name in DRAWN_AS:  # the keys a click on each example asks for: the page's default patch size, no aspect
        key = AnalysisKey(engine.digest(engine.decode(str(EXAMPLES / name))), "bundled", native, False)
        assert engine.cached(key) is not None, name
    assert warmer.warm(entry) is None, "each model once"

    small = Engine(choose_startup("bundled"), cache=AnalysisCache(max_items=4))
    example_sets.Warmer(small).warm(small.entry("bundled")).join()
    assert len(small.cache) == 2, "stops once the cache holds half its count: a visitor's analyses stay"
