"""Prompts through the app's service, API parsing and the figure command, on a tiny random CLIP folder
(tests/image_text_models.py): no browser. The probabilities are checked against `vitdemo.analyze` on the same
prompts, itself held to transformers by test_image_text.py."""

from __future__ import annotations

import argparse

import numpy as np
import pytest
from PIL import Image

from tests import image_text_models as tiny
from vitdemo.app import prompts
from vitdemo.app.i18n import CHINESE
from vitdemo.app.models import choose_startup
from vitdemo.app.service import Engine
from vitdemo.app.validation import UserError

pytestmark = pytest.mark.slow  # builds and saves transformers models (its import alone takes seconds)

@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    path = tmp_path_factory.mktemp("models") / "tiny-clip"
    tiny.build("clip", path)
    return path


@pytest.fixture(scope="module")
def engine(folder) -> Engine:
    return Engine(choose_startup(str(folder)))


def picture(seed: int = 0) -> Image.Image:
    return Image.fromarray((np.random.default_rng(seed).random((40, 50, 3)) * 255).astype(np.uint8))


def test_prompts_are_split_on_commas_chinese_commas_and_lines():
    assert prompts.parse("cat, red car\n狗，猫、星; star") == ["cat", "red car", "狗", "猫", "星", "star"]
    assert prompts.parse(["cat", " cat ", ""]) == ["cat"]
    assert prompts.parse("") == [] and prompts.parse(None) == []
    with pytest.raises(UserError, match="At most 16 prompts"):
        prompts.parse(",".join(str(i) for i in range(17)))
    with pytest.raises(UserError, match="at most 80 characters"):
        prompts.parse("x" * 81)
    assert prompts.defaults(CHINESE)[:2] == ["猫", "狗"]


def test_the_service_ranks_the_prompts_and_keys_the_analysis_by_them(engine):
    import vitdemo

    image = picture()
    first = engine.analysis(image, prompts="cat, red car, star")
    net = engine.model()
    expected = vitdemo.analyze(net, image, prompts=["cat", "red car", "star"]).top(5)
    assert [label for label, _ in first.analysis.top(5)] == [label for label, _ in expected]
    assert np.allclose([p for _, p in first.analysis.top(5)], [p for _, p in expected], atol=1e-5)
    again = engine.analysis(image, prompts=["cat", "red car", "star"])
    assert again.cached and again.key == first.key
    other = engine.analysis(image, prompts="dog")
    assert not other.cached and other.key != first.key and other.analysis.labels == ["dog"]
    defaults = engine.analysis(image)  # none given: the English defaults
    assert defaults.analysis.labels == prompts.defaults()


def test_a_classifier_refuses_prompts():
    engine = Engine(choose_startup("bundled"))
    with pytest.raises(UserError, match="prompts are for image–text models"):
        engine.analysis(picture(), prompts="cat")
    assert engine.analysis(picture()).analysis.labels  # and without them classifies as before


def test_the_page_shows_the_box_for_image_text_models_only(engine):
    from vitdemo.app.callbacks import prompt_controls

    shown = prompt_controls(engine.model(), CHINESE)
    assert shown["prompts"]["visible"] and shown["prompts"]["value"].startswith("猫, 狗")
    assert "a photo of a …." in shown["prompt_note"]["value"] and "softmax" in shown["prompt_note"]["value"]
    hidden = prompt_controls(Engine(choose_startup("bundled")).model())
    assert not hidden["prompts"]["visible"] and not hidden["prompt_note"]["visible"]


def test_the_figure_command_takes_prompts(folder, tmp_path, capsys):
    from vitdemo.figure_cli import add_figure_arguments, run_figure

    parser = argparse.ArgumentParser()
    add_figure_arguments(parser)
    image = tmp_path / "picture.png"
    picture(3).save(image)
    out = tmp_path / "fig.png"
    args = parser.parse_args([str(image), "--model", str(folder), "--prompts", "cat, 红色汽车", "--method", "legrad",
                              "--target", "红色汽车", "--out", str(out)])
    assert run_figure(args) == 0 and out.is_file()
    refused = parser.parse_args([str(image), "--model", str(folder), "--prompts", "cat", "--target", "dog",
                                 "--out", str(out)])
    assert run_figure(refused) == 2
    assert "dog" in capsys.readouterr().err
