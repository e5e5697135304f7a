"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, against the app in-process.

It does what a visitor does (upload, change the patch size, explore, click a patch, drop a bad file) and
holds the explorer to its contract: #explorer's data-view says what is painted (layer from 1, head, method),
every view switch paints without a request to the server, and the painted map equals the server's
renderer (`vitdemo.explain.render`) within 2/255 per channel.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); never `playwright install`.
"""

from __future__ import annotations

import base64
import io
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from tests.browser import MARKS, app_under_test, painted, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"


@pytest.fixture(scope="module")
def app(request):
    with app_under_test(request) as demo:
        yield demo


def canvas_pixels(page, selector: str) -> np.ndarray:
    url = page.locator(selector).evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"), dtype=np.int16)


def analysis_shown(app, page):
    key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    from vitdemo.app.cache import AnalysisKey

    return app.vitdemo_engine.cached(AnalysisKey(*key))


CLICK_PATCH = """([r, c]) => {
    const canvas = document.querySelector('#explorer .vx-map');
    const box = canvas.getBoundingClientRect(), p = window.vitdemo.decoded.payload;
    const x = box.left + (c + 0.5) * box.width / p.grid[1], y = box.top + (r + 0.5) * box.height / p.grid[0];
    canvas.dispatchEvent(new MouseEvent('click', {clientX: x, clientY: y, bubbles: true}));
}"""


def set_layer(page, layer: int) -> None:
    page.locator("#explorer-layer input[type=range]").fill(str(layer))


def test_first_screen_shows_an_analysis_without_scrolling(page):
    view = painted(page)
    assert view["method"] == "attention" and view["head"] == "mean" and view["layer"] >= 1
    label = page.locator("#labels [data-testid=label-output-value]").inner_text().strip()
    assert label, "no top-1 label"
    for selector in ("#explorer .vx-grid", "#explorer .vx-map", "#labels", "#explorer-layer", "#patch-size", "#model"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["y"] + box["height"] <= 800, f"{selector} is below the fold at 1280×800"


def test_view_switches_paint_the_asked_view_without_a_request(page, app):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    depth = analysis_shown(app, page).depth
    for layer in (1, depth, 2):
        before = stamp(page)
        set_layer(page, layer)
        assert wait_painted(page, before)["layer"] == layer
    before = stamp(page)
    page.locator("#explorer-head select").select_option(label="head 2")  # the page counts heads from 1
    assert wait_painted(page, before)["head"] == 2
    before = stamp(page)
    page.locator(".vx-method button[data-method=rollout]").click()
    view = wait_painted(page, before)
    assert view["method"] == "rollout" and view["head"] == "mean", "rollout exists for the fused heads only"
    assert page.locator("#explorer-head option[value='1']").is_disabled()
    assert "fused heads only" in page.locator("#explorer-head .vx-why").inner_text()
    page.locator(".vx-display summary").click()
    for control, value in ((".vx-cmap", "viridis"),):
        before = stamp(page)
        page.locator(control).select_option(value)
        assert wait_painted(page, before)["cmap"] == value
    before = stamp(page)
    page.locator(".vx-smooth").check()
    assert wait_painted(page, before)["smooth"] is True
    page.locator(".vx-smooth").uncheck()
    page.locator(".vx-cmap").select_option("inferno")
    page.locator(".vx-method button[data-method=attention]").click()
    assert requests == [], f"view switches sent {requests}"


@pytest.mark.parametrize("steps, expected", [
    ([("layer", 1), ("head", "head 1")], dict(method="attention", layer=1, head=1)),  # head 1: the library's 0
    ([("method", "rollout")], dict(method="rollout", layer=None, head="mean")),
    ([("method", "relevance"), ("layer", 3)], dict(method="relevance", layer=3, head="mean")),
    ([("method", "attention"), ("layer", 2), ("opacity", "0.85"), ("cmap", "turbo")],
     dict(method="attention", layer=2, head="mean", opacity=0.85, cmap="turbo")),
    ([("smooth", True), ("opacity", "0.5")], dict(method="attention", layer=2, head="mean", opacity=0.5, smooth=True)),
    ([("smooth", False), ("click", (2, 3))], dict(method="attention", layer=2, head="mean", patch=(2, 3))),
])
def test_the_painted_map_equals_the_servers_picture(page, app, steps, expected):
    from vitdemo.app import views
    from vitdemo.app.validation import View
    from vitdemo.explain.render import colormap_lut

    page.locator(".vx-display").evaluate("d => d.open = true")
    for kind, value in steps:
        before = stamp(page)
        if kind == "layer":
            set_layer(page, value)
        elif kind == "head":
            page.locator("#explorer-head select").select_option(label=value)
        elif kind == "method":
            page.locator(f".vx-method button[data-method={value}]").click()
        elif kind == "opacity":
            page.locator(".vx-opacity").fill(value)
        elif kind == "cmap":
            page.locator(".vx-cmap").select_option(value)
        elif kind == "smooth":
            page.locator(".vx-smooth").set_checked(value)
        elif kind == "click":
            page.evaluate(CLICK_PATCH, list(value))
        wait_painted(page, before)
    view = painted(page)
    analysis = analysis_shown(app, page)
    layer = expected.get("layer") or view["layer"]
    assert view["method"] == expected["method"] and view["layer"] == layer
    server = View(method=expected["method"], layer=layer, head=expected["head"],
                  cmap=expected.get("cmap", view["cmap"]), opacity=expected.get("opacity", view["opacity"]),
                  smooth=expected.get("smooth", False), patch=expected.get("patch"))
    assert (view["cmap"], view["opacity"], view["smooth"]) == (server.cmap, server.opacity, server.smooth)
    assert (tuple(view["patch"]) if view["patch"] else None) == server.patch
    picture, _ = views.attention_picture(analysis, server)
    browser = canvas_pixels(page, "#explorer .vx-map")
    expected_pixels = np.asarray(picture.convert("RGB"), dtype=np.int16)
    assert browser.shape == expected_pixels.shape
    # Equal up to rounding: the browser interpolates the bundle's 16-bit map in float64, PIL the float32 map, so
    # a pixel whose colormap index lies on a rounding tie may take the neighbouring index (turbo's steepest step
    # is 7.5/255, 3.7/255 at opacity 0.5). Every pixel within one colormap step; all but 0.1% within 2/255.
    difference = np.abs(browser - expected_pixels).max(axis=-1)
    one_step = np.abs(np.diff(colormap_lut(server.cmap).astype(np.int16), axis=0)).max()
    assert difference.max() <= server.opacity * one_step + 1, "more than one colormap step from the server's"
    assert (difference > 2).mean() <= 0.001, f"{(difference > 2).sum()} pixels more than 2/255 from the server's"
    if server.patch:
        page.locator(".vx-back").click()


def test_play_hover_keys_and_back_to_the_class_token(page, app):
    depth = analysis_shown(app, page).depth
    set_layer(page, 1)
    page.locator(".vx-play").click()
    page.wait_for_function("d => JSON.parse(document.querySelector('#explorer').dataset.view).layer === d", arg=depth)
    page.wait_for_function("() => document.querySelector('.vx-play').textContent === '▶'")  # stopped at the end

    page.locator("#explorer .vx-map").scroll_into_view_if_needed()  # the mouse only hovers what is on screen
    box = page.locator("#explorer .vx-map").bounding_box()
    page.mouse.move(box["x"] + 2, box["y"] + 2)
    hover = page.locator(".vx-hover").inner_text()
    assert hover.startswith("row 1, col 1 · token 1") and "% of the map" in hover, "rows and columns count from 1"

    page.locator("#explorer .vx").focus()
    before = stamp(page)
    page.keyboard.press("ArrowLeft")
    assert wait_painted(page, before)["layer"] == depth - 1
    before = stamp(page)
    page.keyboard.press("ArrowDown")
    assert wait_painted(page, before)["head"] == "max"

    # Focusing the explorer scrolls it wholly into view when part of it was out (the browser does that), so the
    # map's box is read again here, not reused from before the focus.
    box = page.locator("#explorer .vx-map").bounding_box()
    page.mouse.click(box["x"] + box["width"] - 3, box["y"] + box["height"] - 3)
    rows, cols = page.evaluate("() => window.vitdemo.decoded.payload.grid")
    assert painted(page)["patch"] == [rows - 1, cols - 1]
    assert page.locator("#explorer .vx-caption").inner_text().startswith(f"What patch (row {rows}, col {cols})")
    assert page.locator("#explorer-head select").is_disabled()
    before = stamp(page)
    page.locator(".vx-back").click()
    assert wait_painted(page, before)["patch"] is None
    assert page.locator(".vx-back").is_disabled()


def test_the_head_gallery_and_the_comparison_follow_the_explorer(page, app):
    heads = analysis_shown(app, page).heads
    page.locator(".vx-method button[data-method=attention]").click()
    page.get_by_role("tab", name="All heads of this layer").click()
    page.wait_for_function("n => document.querySelectorAll('#heads-gallery canvas').length === n", arg=heads)
    set_layer(page, 2)
    page.wait_for_function("() => document.querySelector('#heads-gallery figcaption').textContent"
                           ".startsWith('layer 2')")
    page.get_by_role("tab", name="Compare patch sizes").click()
    page.wait_for_function("() => document.querySelectorAll('#compare-gallery canvas').length >= 4")
    assert "layer 2" in page.locator("#compare-gallery .vg-note").inner_text()
    page.get_by_role("tab", name="All heads of this layer").click()


def test_legrad_faithfulness_curves_and_click_to_hide(page):
    before = stamp(page)
    page.locator(".vx-method button[data-method=legrad]").click()  # fetched once, then drawn in the page
    assert wait_painted(page, before)["method"] == "legrad"
    assert page.locator("#explorer .vx-caption").inner_text().startswith("LeGrad")
    page.locator(".vx-faith summary").click()
    page.wait_for_function("() => document.querySelector('#explorer [data-faithfulness]')")
    aucs = json.loads(page.locator("#explorer [data-faithfulness]").get_attribute("data-faithfulness"))
    assert set(aucs) == {"attention", "rollout", "relevance", "legrad", "random"}
    assert all(0.0 <= a <= 1.0 for pair in aucs.values() for a in pair)
    assert "SaCo" in page.locator("#explorer .vx-faith").inner_text()
    page.locator(".vx-hide").check()
    page.evaluate(CLICK_PATCH, [1, 1])
    page.wait_for_function("() => document.querySelector('#labels .vx-top-without li')")  # in the top-5 (issue 23)
    assert page.locator("#labels .vx-tw-title").inner_text() == "Without 1 patch"
    assert "(was " in page.locator("#labels .vx-top-without").inner_text()
    page.locator(".vx-hide").uncheck()
    assert page.locator("#labels .vx-top-without").count() == 0
    page.locator(".vx-faith summary").click()
    page.locator(".vx-method button[data-method=attention]").click()


def test_upload_and_patch_size_change_repaint_the_explorer(page, tmp_path):
    old_key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    photo = tmp_path / "coffee.jpg"
    shutil.copy(EXAMPLES / "coffee.jpg", photo)
    page.locator("#input-image input[type=file]").set_input_files(str(photo))
    page.wait_for_function("k => JSON.stringify(window.vitdemo.decoded?.payload.key) !== JSON.stringify(k)",
                           arg=old_key)
    radios = page.locator("#patch-size label")
    chosen = next(i for i in range(radios.count()) if not radios.nth(i).locator("input").is_checked())
    size = int(radios.nth(chosen).inner_text().split()[0])
    radios.nth(chosen).click()
    page.wait_for_function("s => window.vitdemo.decoded?.payload.patch === s", arg=size)
    assert painted(page)["patch_size"] == size
    page.wait_for_function("s => document.querySelector('#summary').innerText.includes(`patch ${s} px`)", arg=size)


def test_a_bad_upload_shows_a_clear_message_and_the_app_keeps_working(page, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture\n")
    page.locator("#input-image input[type=file]").set_input_files(str(bogus))
    toast = page.locator(".toast-body", has_text="Accepted: PNG, JPEG")
    toast.first.wait_for()
    assert "not an image" in toast.first.inner_text()
    page.wait_for_function("() => document.querySelector('#explorer .vx').hidden")  # no results of the last image
    before = stamp(page)
    page.locator("#examples").get_by_role("button").first.click()  # an example still works afterwards
    wait_painted(page, before)
    assert not page.locator("#explorer .vx").evaluate("e => e.hidden")


def test_picking_a_model_that_is_not_downloaded_warns_and_keeps_the_current_one(page):
    current = page.locator("#model input").input_value()
    page.locator("#model input").click()
    page.get_by_role("option", name="ViT-B/16 (ImageNet) (not downloaded)").click()
    page.locator(".toast-body", has_text="not downloaded and the app is offline").first.wait_for()
    page.wait_for_function("v => document.querySelector('#model input').value === v", arg=current)
    assert not page.locator("#explorer .vx").evaluate("e => e.hidden")


def test_downloads_are_named_by_what_they_show(page):
    page.locator(".vx-method button[data-method=rollout]").click()
    set_layer(page, 2)
    with page.expect_download() as download:
        page.locator(".vx-download-map").click()
    name = download.value.suggested_filename
    label, p = page.evaluate("() => [window.vitdemo.decoded.payload.top[0][0], window.vitdemo.decoded.payload.patch]")
    assert name == f"{label}_p{p}_rollout_layer2.png"
    with page.expect_download() as download:
        page.locator(".vx-download-grid").click()
    assert download.value.suggested_filename == f"{label}_p{p}_grid.png"


RELOAD_NOISE = ("AbortError: signal is aborted without reason", "Unexpected error Connection errored out")


def test_a_camera_that_cannot_start_is_explained(page):
    page.locator("#input-image button[aria-label='Capture from camera']").click()
    page.get_by_text("Click to Access Webcam").click()
    page.wait_for_function("() => document.querySelector('#webcam-error').innerText.includes('camera')")
    assert "upload" in page.locator("#webcam-error").inner_text()
    # The browser's own report of the missing camera this test provoked is not an error of the page.
    page.errors[:] = [e for e in page.errors if "Requested device not found" not in e]
    before = len(page.errors)
    page.reload()  # back to the starting page for the next test
    wait_painted(page)
    # Reloading while the page-load events still run aborts the old page's event stream, and Gradio's client
    # logs that as the old page unloads: caused by this reload, not by the page.
    page.errors[before:] = [e for e in page.errors[before:] if not e.startswith(RELOAD_NOISE)]


def test_a_phone_sees_a_result_on_the_first_screen(new_page):
    phone = new_page(390, 844)
    for selector in ("#input-image", "#explorer .vx-grid", "#explorer .vx-map"):
        box = phone.locator(selector).first.bounding_box()
        assert box and box["y"] + box["height"] <= 844 and box["width"] >= 140, f"{selector} at {box}"
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
    assert phone.locator("#header").bounding_box()["width"] <= 390
    assert phone.errors == []


def test_no_errors_in_the_console(page):
    assert page.errors == []
