"""The model view and the token matrix in Chromium (issue 23 item 6), at 1280×800 and 390×844, in English and
Chinese: every layer × head as small maps with no request, a click on one opens it in the explorer; the token
× token matrix with no request, a hover reads a cell, a click on a row shows that token's scores before the
softmax beside the probabilities after it. A bundle too large to carry the scores asks for one layer and head.

Expected values come from the model, not the page: the attention the analysis forward returned, and the scores
of `explain.scores` (checked against q·kᵀ written out from the weights in test_scores.py).
Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import json
from decimal import ROUND_HALF_UP, Decimal

import numpy as np
import pytest

from tests.browser import MARKS, painted, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

BAND = 8  # the matrix's cells start this many CSS px in from its left and top edges (the token kinds' band)
TOKENS, LAYERS, HEADS = 37, 6, 4  # the bundled model at patch 16: 6×6 patches + the class token
WORDS = {  # what the page says, written out by hand
    "en-US": {"class": "class", "patch8": "patch 8 (row 2, col 2)", "patch5": "patch 5 (row 1, col 5)",
              "tile": "layer 3, head 2", "root": "√24", "head2": "head 2"},
    "zh-CN": {"class": "类别标记", "patch8": "图像块 8（第 2 行，第 2 列）", "patch5": "图像块 5（第 1 行，第 5 列）",
              "tile": "第 3 层，第 2 个头", "root": "√24", "head2": "第 2 个头"},
}


def analysis_of(page):
    from vitdemo.app.cache import AnalysisKey

    key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    return page.app.vitdemo_engine.cached(AnalysisKey(*key))


def softmax(scores: np.ndarray) -> np.ndarray:
    e = np.exp(scores.astype(np.float64) - scores.max(-1, keepdims=True))
    return e / e.sum(-1, keepdims=True)


def close_to_the_models(probabilities: np.ndarray, attention: np.ndarray, dtype) -> bool:
    """Within the model's own rounding: float32's, or one step of bf16/fp16's mantissa (the app's "auto"
    precision runs the bundled model in bf16, whose attention is rounded to 8 significant bits)."""
    import torch

    relative = 1e-5 if dtype == torch.float32 else 2**-7
    return bool(np.all(np.abs(probabilities - attention) <= relative * np.abs(attention) + 1e-7))


def fixed(x: float, digits: int) -> str:
    """JavaScript's toFixed: the exact binary value rounded half away from zero (5.125 → "5.13"; Python's
    format would give "5.12"), which bf16 scores often hit."""
    return str(Decimal(float(x)).quantize(Decimal(1).scaleb(-digits), rounding=ROUND_HALF_UP))


def percent(x: float) -> str:
    return f"{fixed(x * 100, 0)}%" if x >= 0.1 else f"{fixed(x * 100, 2)}%"


def click_and_paint(page, locator, **position) -> dict:
    before = stamp(page)
    locator.click(**position)
    return wait_painted(page, before)


def matrix_point(page, query: int, key: int) -> dict:
    box = page.locator("#explorer .vx-matrix-cells").bounding_box()
    cell = (box["width"] - BAND) / TOKENS
    return {"x": BAND + (key + 0.5) * cell, "y": BAND + (query + 0.5) * cell}


@pytest.mark.parametrize("width,height,locale", [(1280, 800, "en-US"), (390, 844, "zh-CN"), (1280, 800, "zh-CN"),
                                                 (390, 844, "en-US")])
def test_model_view_and_token_matrix_in_the_page(new_page, shots, width, height, locale):
    from vitdemo.explain.scores import query_key_scores

    page, words = new_page(width, height, locale), WORDS[locale]
    requests, refused = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("response", lambda r: refused.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    analysis = analysis_of(page)

    # The model view: all layers × heads at once, inside the page's width, the map view's pictures hidden.
    assert click_and_paint(page, page.locator("#explorer .vx-modes button[data-mode=model]"))["mode"] == "model"
    canvas = page.locator("#explorer .vx-model canvas")
    box = canvas.bounding_box()
    assert box["width"] > 150 and box["x"] + box["width"] <= width, box
    assert page.locator("#explorer .vx-pictures").is_hidden()
    layout = json.loads(canvas.get_attribute("data-layout"))
    assert (layout["layers"], layout["heads"]) == (LAYERS, HEADS)
    # The tile of layer 3 (third row), head 2 (second column): where to point, from the drawn layout.
    point = {"x": layout["left"] + 1 * (layout["tile"] + layout["gap"]) + layout["tile"] / 2,
             "y": layout["top"] + 2 * (layout["tileHeight"] + layout["gap"]) + layout["tileHeight"] / 2}
    canvas.hover(position=point)
    assert words["tile"] in page.locator("#explorer .vx-hover").inner_text()
    page.screenshot(path=str(shots / f"tokens_model_{width}_{locale}.png"), full_page=False)
    page.mouse.move(0, 0)  # off the canvas: the readout goes (it stayed on the map view)
    assert page.locator("#explorer .vx-hover").inner_text() == ""
    view = click_and_paint(page, canvas, position=point)
    assert view["mode"] == "map" and view["layer"] == 3 and view["head"] == 2, view  # data-view counts from 1
    assert page.locator("#explorer-layer input").input_value() == "3"
    head = page.locator("#explorer-head select")
    assert head.evaluate("s => s.options[s.selectedIndex].textContent") == words["head2"]
    assert page.locator("#explorer .vx-pictures").is_visible()

    # The token matrix of layer 3, head 2: hover a cell, read the model's attention and score there.
    assert click_and_paint(page, page.locator("#explorer .vx-modes button[data-mode=matrix]"))["mode"] == "matrix"
    page.wait_for_function("() => document.querySelector('#explorer .vx-matrix-cells').dataset.head === '2'")
    cells = page.locator("#explorer .vx-matrix-cells")
    assert cells.bounding_box()["x"] + cells.bounding_box()["width"] <= width
    scores = query_key_scores(analysis, 2)[1]
    attention = softmax(scores)  # what the page shows: the model's attention, as close_to_the_models checks
    assert close_to_the_models(attention, analysis.attentions[2, 1], analysis.model.dtype)
    at = matrix_point(page, 0, 5)
    cells.hover(position=at)
    hover = page.locator("#explorer .vx-hover").inner_text()
    assert hover.startswith(f"{words['class']} → {words['patch5']}"), hover
    assert percent(attention[0, 5]) in hover and fixed(scores[0, 5], 2) in hover, hover
    i, j, p = json.loads(cells.get_attribute("data-hover"))
    assert (i, j) == (0, 5) and abs(p - attention[0, 5]) < 1e-9
    page.mouse.move(0, 0)
    assert page.locator("#explorer .vx-hover").inner_text() == ""

    # Click the row of patch 8 (row 2, col 2; index 8, the class token being index 0, as view.query counts):
    # its scores and probabilities, the keys it attends to most first, and its row over the image.
    view = click_and_paint(page, cells, position=matrix_point(page, 8, 20))
    assert view["token"] == 8 and view["mode"] == "matrix"
    assert words["patch8"] in page.locator("#explorer .vx-token-caption").inner_text()
    assert page.locator("#explorer .vx-token-row").is_visible()
    rows = page.locator("#explorer .vx-scores tbody tr")
    assert rows.count() == 8
    order = np.argsort(-attention[8], kind="stable")[:8]
    for n, key in enumerate(order):
        cells_text = rows.nth(n).locator("td").all_inner_texts()
        assert int(rows.nth(n).get_attribute("data-key")) == key
        assert cells_text[1:] == [fixed(scores[8, key], 2), percent(attention[8, key])], (n, cells_text)
    assert words["root"] in page.locator("#explorer .vx-scores-note").inner_text()
    page.screenshot(path=str(shots / f"tokens_matrix_{width}_{locale}.png"), full_page=False)
    assert painted(page)["token"] == 8
    assert requests == [], requests
    assert not page.errors, (page.errors, refused)


def test_a_bundle_without_the_scores_asks_for_one_layer_and_head(new_page, monkeypatch):
    from vitdemo.explain import payload
    from vitdemo.explain.scores import query_key_scores

    monkeypatch.setattr(payload, "MAX_SCORE_BYTES", 0)  # every bundle is "too large" now
    page = new_page(1280, 800)
    assert page.evaluate("() => window.vitdemo.decoded.payload.tokens.scores") is None
    analysis = analysis_of(page)
    calls = []
    page.on("request", lambda r: calls.append(r.post_data or "") if "component_server" in r.url else None)
    view = painted(page)
    page.locator("#explorer .vx-modes button[data-mode=matrix]").click()
    # The answer paints the matrix: its caption names the layer and head once the scores are there.
    page.wait_for_function("() => !!document.querySelector('#explorer .vx-matrix-cells').dataset.head")
    assert len(calls) == 1 and "score_matrix" in calls[0], calls
    cells = page.locator("#explorer .vx-matrix-cells")
    cells.hover(position=matrix_point(page, 3, 0))
    i, j, p = json.loads(cells.get_attribute("data-hover"))
    layer = view["layer"] - 1
    scores = query_key_scores(analysis, layer)[0]
    assert (i, j) == (3, 0) and abs(p - softmax(scores)[3, 0]) < 1e-9
    assert close_to_the_models(np.float64(p), analysis.attentions[layer, 0, 3, 0], analysis.model.dtype)
    assert fixed(scores[3, 0], 2) in page.locator("#explorer .vx-hover").inner_text()
    assert not page.errors, page.errors
