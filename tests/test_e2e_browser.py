"""End to end in a real browser: Debian's headless Chromium, driven by Playwright, against the app in-process.

It does what a visitor does: upload a photo, change the patch size and the method, click a patch, upload
something that is not an image. After each step the patch grid, the attention picture and the labels must
be on the page (loaded, not broken) and must have changed where they should.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); never `playwright install`.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
MODEL = os.environ.get("VITDEMO_TEST_MODEL", "bundled")
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 45_000  # generous: CI machines are shared and the first analysis imports torch


@pytest.fixture(scope="module")
def app_url():
    from vitdemo.app import build_app, launch_options

    demo = build_app(MODEL)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    yield demo.local_url
    demo.close()


@pytest.fixture(scope="module")
def page(app_url):
    with playwright.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 800})
        page.set_default_timeout(TIMEOUT_MS)
        page.goto(app_url)
        yield page
        browser.close()


def src(page, elem_id: str) -> str | None:
    return page.locator(f"#{elem_id} img").first.get_attribute("src")


def wait_for_new_picture(page, elem_id: str, old: str | None) -> str:
    """Wait until the picture in #elem_id has a new source and has loaded; return the new source."""
    page.wait_for_function(
        """([id, old]) => { const img = document.querySelector(`#${id} img`);
             return img && img.src && img.src !== old && img.complete && img.naturalWidth > 0; }""",
        arg=[elem_id, old])
    return src(page, elem_id)


def assert_results_shown(page) -> None:
    for elem_id in ("grid", "attention"):
        loaded = page.locator(f"#{elem_id} img").first.evaluate("img => img.complete && img.naturalWidth > 0")
        assert loaded, f"#{elem_id} shows no picture"
        assert page.locator(f"#{elem_id} img").first.is_visible()
    label = page.locator("#labels [data-testid=label-output-value]").inner_text().strip()
    assert label, "no top-1 label"
    assert page.locator("#labels").is_visible()


def test_first_screen_shows_an_analysis_without_scrolling(page):
    page.wait_for_selector("#labels [data-testid=label-output-value]")
    wait_for_new_picture(page, "attention", None)
    assert_results_shown(page)
    for elem_id in ("grid", "attention", "labels", "method", "patch-size", "model"):
        box = page.locator(f"#{elem_id}").bounding_box()
        assert box and box["y"] + box["height"] <= 800, f"#{elem_id} is below the fold at 1280×800"


def test_upload_change_patch_size_and_method(page, tmp_path):
    grid, attention = src(page, "grid"), src(page, "attention")
    photo = tmp_path / "coffee.jpg"
    shutil.copy(EXAMPLES / "coffee.jpg", photo)
    page.locator("#input-image input[type=file]").set_input_files(str(photo))
    grid = wait_for_new_picture(page, "grid", grid)
    attention = wait_for_new_picture(page, "attention", attention)
    assert_results_shown(page)

    radios = page.locator("#patch-size label")
    chosen = next(i for i in range(radios.count()) if not radios.nth(i).locator("input").is_checked())
    size = radios.nth(chosen).inner_text().split()[0]
    radios.nth(chosen).click()
    grid = wait_for_new_picture(page, "grid", grid)
    page.wait_for_function("s => document.querySelector('#summary').innerText.includes(`patch ${s} px`)", arg=size)
    assert_results_shown(page)

    page.locator("#method label", has_text="Rollout").click()
    wait_for_new_picture(page, "attention", attention)
    page.wait_for_function("() => document.querySelector('#caption').innerText.startsWith('Rollout')")
    assert src(page, "grid") == grid, "a view switch leaves the patch grid alone"
    assert_results_shown(page)


def test_clicking_a_patch_shows_what_it_attends_to(page):
    attention = src(page, "attention")
    page.locator("#attention img").first.click(position={"x": 40, "y": 40})
    wait_for_new_picture(page, "attention", attention)
    page.wait_for_function("() => document.querySelector('#caption').innerText.startsWith('What patch (row 0')")


def test_a_bad_upload_shows_a_clear_message_and_the_app_keeps_working(page, tmp_path):
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture\n")
    page.locator("#input-image input[type=file]").set_input_files(str(bogus))
    toast = page.locator(".toast-body", has_text="Accepted: PNG, JPEG")
    toast.first.wait_for()
    assert "not an image" in toast.first.inner_text()
    page.wait_for_function("() => !document.querySelector('#grid img')")  # no results of the previous image
    page.locator("#examples").get_by_role("button").first.click()  # an example still works afterwards
    wait_for_new_picture(page, "grid", None)
    assert_results_shown(page)


def test_picking_a_model_that_is_not_downloaded_warns_and_keeps_the_current_one(page):
    current = page.locator("#model input").input_value()
    page.locator("#model input").click()
    page.get_by_role("option", name="ViT-B/16 (ImageNet) (not downloaded)").click()
    page.locator(".toast-body", has_text="not downloaded and the app is offline").first.wait_for()
    page.wait_for_function("v => document.querySelector('#model input').value === v", arg=current)
    assert_results_shown(page)


def test_pictures_download_under_names_that_say_what_they_show(page, app_url):
    page.locator("#examples").get_by_role("button").nth(4).click()  # the star
    page.wait_for_function("() => (document.querySelector('#grid img') || {}).src?.includes('star_p')")
    grid, attention = src(page, "grid"), src(page, "attention")
    assert grid.endswith("_grid.png") and "star_p" in grid
    assert "_layer" in attention and attention.endswith(".jpg")
    assert "/vitdemo-pictures-" in grid, "served from the instance's picture folder, not a second copy"


def test_a_camera_that_cannot_start_is_explained(page):
    page.locator("#input-image button[aria-label='Capture from camera']").click()
    page.get_by_text("Click to Access Webcam").click()
    page.wait_for_function("() => document.querySelector('#webcam-error').innerText.includes('camera')")
    assert "upload" in page.locator("#webcam-error").inner_text()
    page.reload()  # back to the starting page for the next test


def test_a_phone_sees_a_result_on_the_first_screen(page, app_url):
    phone = page.context.browser.new_page(viewport={"width": 390, "height": 844})
    phone.set_default_timeout(TIMEOUT_MS)
    errors = []
    phone.on("console", lambda message: errors.append(message.text) if message.type == "error" else None)
    phone.goto(app_url)
    wait_for_new_picture(phone, "attention", None)
    for elem_id in ("input-image", "grid", "attention"):
        box = phone.locator(f"#{elem_id}").bounding_box()
        assert box and box["y"] + box["height"] <= 844 and box["width"] >= 150, f"#{elem_id} at {box}"
    top1 = phone.locator("#labels h2, #labels [data-testid=label-output-value]").first.bounding_box()
    assert top1 and top1["y"] < 844, "the top-1 label is on the first screen"
    header = phone.locator("#header").bounding_box()
    assert header and header["width"] <= 390
    phone.close()
    assert errors == []
