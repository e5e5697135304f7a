"""The method table (`vitdemo.methods`) is the one place a method is declared: a row registered there alone is
a method of the library, the API, the figure command and the explorer (Chromium), and the file names the
server and the page give its pictures follow one rule.

The row registered here, "corner", is a map known by hand: all of it on the first row's patch whose column
is the layer (clamped to the grid), so every place can be checked against an exact picture.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import MARKS, open_page, serving
from vitdemo import methods

ROOT = Path(__file__).resolve().parents[1]
STAR = str(ROOT / "assets" / "examples" / "shape_star.png")
NAMES = json.loads((ROOT / "tests" / "js" / "file_names.json").read_text())


def corner(analysis, query: methods.Query) -> np.ndarray:
    rows, cols = analysis.grid
    shown = np.zeros((rows, cols), np.float32)
    shown[0, min(query.layer, cols - 1)] = 1.0
    return shown


def corner_by_layer(analysis, query: methods.Query) -> np.ndarray:
    return np.stack([corner(analysis, dataclasses.replace(query, layer=layer)) for layer in range(analysis.depth)])


CORNER = methods.Method("corner", corner, corner_by_layer, label_key="explorer.method.attention",
                        title_key="explorer.title.attention", description_key="explorer.about.attention")


@pytest.fixture(scope="module")
def registered():
    """The table with "corner" added, and nothing else changed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(methods.TABLE, "corner", CORNER)
        yield CORNER


def expected(grid: tuple[int, int], layer: int) -> np.ndarray:
    shown = np.zeros(grid, np.float32)
    shown[0, min(layer, grid[1] - 1)] = 1.0
    return shown


@pytest.mark.parametrize("case", NAMES["cases"], ids=lambda c: c["name"])
def test_download_names_follow_the_one_rule_the_page_follows_too(case):
    from vitdemo.app.outputs import download_name
    from vitdemo.app.views import file_name

    assert {m.name for m in methods.rows() if m.needs_class} == set(NAMES["class_methods"])
    patch = tuple(case["patch"]) if case["patch"] else None
    name = file_name(case["stem"], case["kind"], case["method"], case["layer"], case["head"], case["target"] or None,
                     patch)
    assert download_name(name, ".png") == case["name"]


def test_the_table_and_the_constants_load_without_torch():
    """The page is built before torch is imported: what its controls offer must not pull torch in."""
    code = ("import sys, vitdemo.constants, vitdemo.methods, vitdemo.app.choices, vitdemo.app.validation; "
            "print(sorted(m for m in ('torch', 'numpy') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "torch" not in result.stdout, result.stdout


def test_an_unknown_method_is_refused_with_the_choices():
    with pytest.raises(ValueError, match=r"method must be one of \('attention', 'rollout', 'relevance', 'legrad'\)"):
        methods.method("dragon")


def test_a_registered_row_is_a_method_of_the_library_and_the_api(registered):
    from vitdemo.app import build_app
    from vitdemo.app.api import Endpoints
    from vitdemo.explain import render

    demo = build_app("bundled")
    described = {d.get("api_name"): d.get("api_description") or "" for d in demo.get_config_file()["dependencies"]}
    assert "'corner' (the class token's attention in one layer)" in described["analyze"]
    engine = demo.vitdemo_engine
    grid, (picture, name), labels = Endpoints(engine).analyze(STAR, None, "corner", 3, "mean", "", "")
    analysis = engine.analysis(engine.decode(STAR), None, None).analysis
    assert np.array_equal(analysis.attention_map("corner", layer=2), expected(analysis.grid, 2))
    assert np.array_equal(analysis.maps_by_layer("corner")[4], expected(analysis.grid, 4))
    assert name == f"{analysis.top(1)[0][0]}_p{analysis.patch_size}_corner_layer3"
    assert np.array_equal(np.asarray(picture), np.asarray(render.overlay(analysis, expected(analysis.grid, 2))))


def test_a_registered_row_is_a_method_of_the_figure_command(registered, tmp_path):
    from vitdemo.__main__ import main

    out = tmp_path / "corner.png"
    assert main(["figure", STAR, "--method", "corner", "--layer", "3", "--out", str(out)]) == 0
    with Image.open(out) as written:
        assert written.format == "PNG" and written.width == 1760


# -- the explorer, in Chromium ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def corner_app(registered):
    """The app built and served with "corner" in the table."""
    from vitdemo.app import build_app

    with serving(build_app("bundled")) as demo:
        yield demo


def in_chromium(test):
    """The marks of a test that serves the app and drives Chromium (skipped where Chromium is missing)."""
    for mark in [pytest.mark.server, *MARKS]:
        test = mark(test)
    return test


@in_chromium
def test_a_registered_row_gets_a_button_that_paints_its_map(corner_app, browser):
    from tests.test_e2e_browser import analysis_shown, canvas_pixels, painted, stamp, wait_painted
    from vitdemo.explain import render

    page = open_page(browser, corner_app)
    button = page.locator("#explorer .vx-method button[data-method=corner]")
    assert button.inner_text() == "Attention"  # the label key the row names
    before = stamp(page)
    button.click()
    view = wait_painted(page, before)
    assert view["method"] == "corner" and painted(page)["method"] == "corner"
    analysis = analysis_shown(corner_app, page)
    wanted = render.overlay(analysis, expected(analysis.grid, view["layer"] - 1), view["cmap"], view["opacity"])
    got = canvas_pixels(page, "#explorer .vx-map")
    assert got.shape == np.asarray(wanted).shape
    assert np.abs(got - np.asarray(wanted, dtype=np.int16)).max() <= 2
    assert not page.errors, page.errors
    page.close()
