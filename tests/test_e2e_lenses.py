"""The lenses of a model with registers, in Chromium: prefix tokens drawn beside the grid and clickable,
token norms with their histogram, features and a clicked patch's similarity, all without a request.

The model is a random DINOv2 with 4 registers and no classifier, saved with transformers' save_pretrained.
Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import json

import pytest

from tests.browser import MARKS, serving, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")
transformers = pytest.importorskip("transformers")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from vitdemo.app import build_app

    folder = tmp_path_factory.mktemp("registers")
    config = transformers.Dinov2WithRegistersConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=4,
                                                   intermediate_size=128, image_size=56, patch_size=14,
                                                   num_register_tokens=4)
    transformers.Dinov2WithRegistersModel(config).save_pretrained(folder)
    with serving(build_app(str(folder))) as demo:
        yield demo


def click(page, selector: str) -> dict:
    before = stamp(page)
    page.locator(selector).first.click()
    return wait_painted(page, before)


def test_prefix_tokens_sit_beside_the_grid_and_show_where_they_attend(page):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    chips = page.locator("#explorer .vx-prefix button")
    assert chips.all_inner_texts() == ["class", "register 1", "register 2", "register 3", "register 4"]
    grid = page.locator("#explorer .vx-grid").bounding_box()
    assert chips.first.bounding_box()["y"] + chips.first.bounding_box()["height"] <= grid["y"], "not in the grid"
    assert click(page, "#explorer .vx-prefix button:nth-child(3)")["query"] == 2
    assert page.locator("#explorer .vx-caption").inner_text().startswith("Where the register token (token 2)")
    assert page.locator(".vx-method button[data-method=relevance]").is_disabled(), "no classifier"
    lens = page.locator(".vx-method button[data-method=logit-lens]")
    assert lens.is_disabled() and "no classifier" in lens.get_attribute("title")
    assert click(page, ".vx-back")["query"] == 0
    assert requests == []


def test_token_norms_and_features_switch_in_the_page(page):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    assert click(page, ".vx-method button[data-method=norms]")["method"] == "norms"
    assert page.locator("#explorer .vx-histogram").is_visible()
    assert "outlier" in page.locator("#explorer .vx-caption").inner_text()
    assert "‖x‖" in page.locator("#explorer .vx-prefix").inner_text()
    assert page.locator("#explorer-head select").is_disabled()
    assert click(page, ".vx-method button[data-method=features]")["method"] == "features"
    assert not page.locator("#explorer .vx-histogram").is_visible()
    assert click(page, "#explorer .vx-map")["patch"] is not None
    assert page.locator("#explorer .vx-caption").inner_text().startswith("Feature similarity")
    assert requests == []


def test_the_token_matrix_names_the_class_token_registers_and_patches(page):
    """4 registers after the class token, then 4×4 patches: 21 tokens, named from 1 in the hover."""
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    assert click(page, "#explorer .vx-modes button[data-mode=matrix]")["mode"] == "matrix"
    page.wait_for_function("() => !!document.querySelector('#explorer .vx-matrix-cells').dataset.head")
    legend = page.locator("#explorer .vx-matrix-legend").inner_text()
    assert legend.startswith("■ class · ■ register · ■ patches, row by row (4 × 4"), legend
    cells = page.locator("#explorer .vx-matrix-cells")
    cell = (cells.bounding_box()["width"] - 8) / 21  # the cells start 8 CSS px in (the token kinds' band)
    for (query, key), said in [((2, 0), "register 2 → class: "), ((20, 4), "patch 16 (row 4, col 4) → register 4: "),
                               ((5, 9), "patch 1 (row 1, col 1) → patch 5 (row 2, col 1): ")]:
        cells.hover(position={"x": 8 + (key + 0.5) * cell, "y": 8 + (query + 0.5) * cell})
        assert page.locator("#explorer .vx-hover").inner_text().startswith(said)
    assert click(page, "#explorer .vx-modes button[data-mode=model]")["mode"] == "model"
    layout = json.loads(page.locator("#explorer .vx-model canvas").get_attribute("data-layout"))
    assert (layout["layers"], layout["heads"]) == (3, 4)
    assert click(page, "#explorer .vx-modes button[data-mode=map]")["mode"] == "map"
    assert requests == []
