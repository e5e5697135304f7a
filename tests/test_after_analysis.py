"""What follows an analysis (vitdemo/app/after_analysis.py), called directly with named values (no browser).

Issue 23 asks for ≤ 4 requests per sketchpad stroke. The update itself carries the facts line (only when the
model switched) and sets `followup`, whose change starts the one event that redraws the open tab, only when
a tab the server draws is open. The browser side (requests counted per stroke, the tour following a drawing)
is checked in tests/test_e2e_draw.py; which events listen where, in tests/test_page_wiring.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from vitdemo.app.after_analysis import AfterAnalysis
from vitdemo.app.callbacks import Handlers
from vitdemo.app.models import choose_startup
from vitdemo.app.service import Engine

ROOT = Path(__file__).resolve().parents[1]
STAR = str(ROOT / "assets" / "examples" / "shape_star.png")
HEART = str(ROOT / "assets" / "examples" / "shape_heart.png")


@pytest.fixture(scope="module")
def after() -> AfterAnalysis:
    engine = Engine(choose_startup("bundled"))
    return AfterAnalysis(Handlers(engine), engine)


def controls(after: AfterAnalysis, **changes) -> dict:
    """The page's values as Gradio hands them to the update and to the redraw (the model already running)."""
    values = {"image": STAR, "model": "bundled", "patch": after.engine.model().config.patch_size,
              "keep_aspect": False, "key": None, "source": None, "active_model": "bundled", "tab": "heads",
              "compare_sizes": [8, 16], "models_second": None, "followup": None, "tour_step": 0, "tour_block": 1,
              "tour_label": None}
    return {**values, **changes}


def test_with_the_first_tab_open_an_analysis_asks_for_no_follow_up(after):
    out = after.update(controls(after))
    assert out["key"][1:3] == ("bundled", 16) and out["explorer"] is not None
    assert out["followup"] is None, "the heads tab is drawn in the browser: nothing to redraw"
    assert "model_info" not in out, "the same model: the facts line stays"


@pytest.mark.parametrize("tab", ["recipe", "probing", "compare", "models", "tour"])
def test_with_a_server_drawn_tab_open_the_follow_up_names_the_analysis_and_the_tab(after, tab):
    out = after.update(controls(after, tab=tab))
    assert out["followup"] == (tuple(out["key"]), tab)
    again = after.update(controls(after, tab=tab, key=out["key"], source=out["source"]))
    assert again == {"source": out["source"]}, "a repeated trigger: no new follow-up (no event)"
    other = after.update(controls(after, tab=tab, image=HEART, key=out["key"], source=out["source"]))
    assert other["followup"] == (tuple(other["key"]), tab) != out["followup"], "a new image: a new follow-up"


def test_the_page_load_writes_the_facts_line_in_the_pages_language(after):
    out = after.update(controls(after, active_model=None), trigger="page", lang="zh-CN")
    assert out["active_model"] == "bundled"
    assert "随应用提供" in out["model_info"], out["model_info"]
    assert "ships with the app" in after.update(controls(after, active_model=None), trigger="page")["model_info"]


def test_the_redraw_fills_only_the_open_tab(after):
    key = tuple(after.update(controls(after))["key"])
    assert after.redraw(controls(after, key=key, tab="heads", followup=None)) == {}
    recipe = after.redraw(controls(after, key=key, tab="recipe", followup=(key, "recipe")))
    assert set(recipe) == {"recipe_table", "recipe_gallery"} and len(recipe["recipe_gallery"]) > 0
    tour = after.redraw(controls(after, key=key, tab="tour", followup=(key, "tour")))
    assert tour["tour_picture"] is not None and 'data-step="image"' in tour["tour_progress"]
    assert "recipe_table" not in tour and "models_compare" not in tour
    models = after.redraw(controls(after, key=key, tab="models", followup=(key, "models")))
    assert set(models) == {"models_compare"} and "strings" in models["models_compare"]
    cleared = after.redraw(controls(after, image=None, key=None, tab="tour", followup=(None, "tour")))
    assert cleared["tour_why"].startswith("Upload an image"), "no image: the tour says how to start"
