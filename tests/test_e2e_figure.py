"""The "Download figure" button in a real browser (Debian's headless Chromium, Playwright, the app in-process).

The figure must be of the view on screen, which lives in the browser only: the test switches the explorer
to rollout at layer 3, heads fused by max, opacity 1, downloads, and checks that the file is a wide PNG named
for that view, that it is the library's figure of exactly that view, and that its main panel shows that map
(worked out here from the stored attentions). A view that is not a class-token map (token norms) is refused
with a toast, and nothing is downloaded; a Chinese browser gets the button and that message in Chinese.
Screenshots at 1280×800 and 390×844 go to the test's temporary folder (or $VITDEMO_SHOTS).

Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import MARKS, settle, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")


def repaint(page, action) -> dict:
    before = stamp(page)
    action()
    return wait_painted(page, before)


def test_download_figure_is_the_view_on_screen(page, app, shots):
    repaint(page, lambda: page.locator(".vx-method button[data-method=rollout]").click())
    repaint(page, lambda: page.locator("#explorer-layer input[type=range]").fill("3"))
    repaint(page, lambda: page.locator("#explorer-head select").select_option("max"))
    page.locator(".vx-display summary").click()
    view = repaint(page, lambda: page.locator(".vx-opacity").fill("1"))  # the map alone: its colours are readable
    assert (view["method"], view["layer"], view["head"], view["opacity"]) == ("rollout", 3, "max", 1)

    button = page.locator("#download-figure")
    assert button.inner_text().strip() == "⤓ Download figure"
    with page.expect_download() as caught:
        button.click()
    download = caught.value
    name = download.suggested_filename
    assert name.startswith("figure_bundled_") and name.endswith("_p16_rollout_layer3_headmax.png"), name
    picture = Image.open(io.BytesIO(Path(download.path()).read_bytes()))
    assert picture.format == "PNG" and picture.width >= 1600

    # The server drew this very view: the file is the library's figure of rollout, layer 3, heads fused by
    # max, at opacity 1 ...
    from tests.test_figure import assert_brightest_is_argmax, cell_brightness, panel
    from vitdemo.app.cache import AnalysisKey
    from vitdemo.explain.figure import FigureView, build
    from vitdemo.explain.figure import picture as figure_picture

    key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    analysis = app.vitdemo_engine.cached(AnalysisKey(*key))
    title = app.vitdemo_engine.entry("bundled").title
    asked = FigureView(method="rollout", layer=2, head="max", opacity=1.0)
    assert np.array_equal(np.asarray(picture.convert("RGB")), np.asarray(figure_picture(analysis, asked, title)))
    # ... and its main panel shows that map, worked out here from the stored attentions.
    expected = rollout_by_hand(analysis.attentions[:3], fuse=np.max).reshape(analysis.grid)
    assert_brightest_is_argmax(cell_brightness(panel(picture, build(analysis, asked, title), "map"), analysis.grid),
                               expected)

    button.scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "figure-button-1280.png"))
    picture.save(shots / "downloaded-figure.png")
    page.locator(".vx-opacity").fill("0.6")
    page.locator(".vx-display summary").click()


def test_a_view_without_a_class_token_map_is_refused(page):
    repaint(page, lambda: page.locator(".vx-method button[data-method=norms]").click())
    downloads = []
    page.on("download", lambda d: downloads.append(d))
    page.locator("#download-figure").click()
    toast = page.locator(".toast-body").filter(has_text="Figures show the class token's maps")
    toast.first.wait_for()
    settle(page)  # the click's follow-up (the download, when there is a file) has run
    assert not downloads, "a refused view downloaded a file (the previous figure?)"
    repaint(page, lambda: page.locator(".vx-method button[data-method=attention]").click())


def test_button_at_phone_width(new_page, shots):
    phone = new_page(390, 844)
    button = phone.locator("#download-figure")
    button.scroll_into_view_if_needed()
    box = button.bounding_box()
    assert box and box["width"] > 0 and box["x"] >= 0 and box["x"] + box["width"] <= 390
    phone.screenshot(path=str(shots / "figure-button-390.png"))
    with phone.expect_download() as caught:
        button.click()
    assert caught.value.suggested_filename.endswith("_attention_layer6.png")


def test_chinese_page_has_a_chinese_button_and_messages(new_page):
    page = new_page(locale="zh-CN")
    button = page.locator("#download-figure")
    assert button.inner_text().strip() == "⤓ 下载图表"
    repaint(page, lambda: page.locator(".vx-method button[data-method=norms]").click())
    button.click()
    page.locator(".toast-body").filter(has_text="图表只展示类别标记的注意力图").first.wait_for()


def rollout_by_hand(attentions: np.ndarray, fuse) -> np.ndarray:
    """Abnar & Zuidema's rollout of the class token over the patches, written out: per layer fuse the heads,
    add the identity for the residual, normalise each row, multiply from the first layer up."""
    tokens = attentions.shape[-1]
    joint = np.eye(tokens)
    for layer in attentions:
        mixed = fuse(layer.astype(np.float64), axis=0) + np.eye(tokens)
        joint = (mixed / mixed.sum(axis=-1, keepdims=True)) @ joint
    return joint[0, 1:]
