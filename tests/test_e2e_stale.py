"""Every output answers the latest question, on a deliberately slow model, in headless Chromium.

The app runs a tiny ViT whose forward pass sleeps, so a person's rapid clicks overtake the server. After
the clicks settle, every output must match the final controls: the explorer's bundle names its analysis
(image digest, model, patch size), so the test can tell exactly which analysis is on screen.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); never `playwright install`.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest

from tests.browser import MARKS, open_page, painted, serving

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "assets" / "examples"
SLOW_S = 0.7  # each forward pass of the test model sleeps this long
TIMEOUT_MS = 45_000


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from vitdemo import checkpoint
    from vitdemo.app import build_app
    from vitdemo.app.models import choose_startup
    from vitdemo.app.pool import ModelPool, load_model
    from vitdemo.app.service import Engine
    from vitdemo.config import ViTConfig
    from vitdemo.model import ViT

    folder = tmp_path_factory.mktemp("slow-vit")
    config = ViTConfig(image_size=96, patch_size=16, dim=32, depth=3, heads=2, mlp_dim=64, num_classes=4,
                       patch_sizes=(8, 16, 32, 48))
    checkpoint.save(ViT(config, ["apple", "bear", "cloud", "drum"]), folder)

    def slow_loader(source: str):
        model = load_model(source)
        if source != str(folder):
            return model
        real = model.forward

        def forward(*args, **kwargs):
            time.sleep(SLOW_S)
            return real(*args, **kwargs)

        model.forward = forward
        return model

    engine = Engine(choose_startup(str(folder)), pool=ModelPool(loader=slow_loader))
    with serving(build_app(engine=engine)) as demo:
        yield demo


@pytest.fixture
def page(app, browser):
    """A fresh page for each test: what one test's clicks leave must not be another's start."""
    page = open_page(browser, app, timeout_ms=TIMEOUT_MS)
    page.wait_for_selector("#labels [data-testid=label-output-value]")
    yield page
    page.close()


def shown_key(page) -> list:
    return page.evaluate("() => window.vitdemo.decoded ? window.vitdemo.decoded.payload.key : null")


def settled(page, app) -> None:
    """Wait until the server has nothing left to do for this page, then a little longer."""
    engine = app.vitdemo_engine
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        busy = page.evaluate("() => !!document.querySelector('.progress-text, .eta-bar, .meta-text')")
        idle = not busy and engine.batcher._queues == {}
        quiet_since = (quiet_since or time.monotonic()) if idle else None
        if quiet_since and time.monotonic() - quiet_since > 2.5 * SLOW_S:
            return
        time.sleep(0.1)
    raise AssertionError("the page never settled")


def digest(path: Path, app) -> str:
    """The image part of the key `app` gives the picture at `path` (salted per instance)."""
    from vitdemo.app.uploads import decode_image

    return app.vitdemo_engine.digest(decode_image(str(path)))


def checked_patch(page) -> str:
    return page.locator("#patch-size input:checked").first.get_attribute("value") or ""


def test_rapid_patch_size_clicks_end_on_the_last_size(page, app):
    for size in ("8", "32", "8", "32"):
        page.locator("#patch-size label", has_text=size).first.click()
        time.sleep(0.15)
    settled(page, app)
    assert checked_patch(page) == "32"
    assert shown_key(page)[2] == 32 and painted(page)["patch_size"] == 32
    assert "patch 32 px" in page.locator("#summary").inner_text()


def test_a_layer_change_during_a_slow_analysis_is_not_lost(page, app):
    page.locator("#patch-size label", has_text="8").first.click()
    time.sleep(0.1)
    page.locator("#explorer-layer input[type=range]").fill("1")
    settled(page, app)
    assert checked_patch(page) == "8" and shown_key(page)[2] == 8
    assert painted(page)["layer"] == 1
    assert "layer 1 of 3" in page.locator("#explorer .vx-caption").inner_text()


def test_two_quick_examples_show_the_second_ones_results(page, app):
    buttons = page.locator("#examples").get_by_role("button")
    names = [buttons.nth(i).locator("img").first.get_attribute("src") or "" for i in range(buttons.count())]
    coffee = next(i for i, n in enumerate(names) if "coffee" in n)
    astronaut = next(i for i, n in enumerate(names) if "astronaut" in n)
    buttons.nth(coffee).click()
    time.sleep(0.3)
    buttons.nth(astronaut).click()
    settled(page, app)
    assert "astronaut" in (page.locator("#input-image img").first.get_attribute("src") or "")
    assert shown_key(page)[0] == digest(EXAMPLES / "astronaut.jpg", app)
    assert shown_key(page)[2] == int(checked_patch(page))


def test_clearing_the_image_clears_the_results_and_a_bad_upload_leaves_a_clean_state(page, app, tmp_path):
    page.locator("#input-image button[aria-label='Remove Image']").first.click()
    settled(page, app)
    assert page.locator("#explorer .vx").evaluate("e => e.hidden") and shown_key(page) is None
    assert "Upload an image" in page.locator("#summary").inner_text()
    assert page.locator("#labels [data-testid=label-output-value]").count() == 0

    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture\n")
    page.locator("#input-image input[type=file]").set_input_files(str(bogus))
    page.locator(".toast-body", has_text="Accepted: PNG, JPEG").first.wait_for()
    settled(page, app)
    assert shown_key(page) is None and page.locator("#labels .error").count() == 0
    assert page.get_by_text("Error", exact=True).count() == 0  # no output stuck in Gradio's error state

    photo = tmp_path / "coffee.jpg"
    shutil.copy(EXAMPLES / "coffee.jpg", photo)
    page.locator("#input-image input[type=file]").set_input_files(str(photo))
    settled(page, app)
    assert shown_key(page)[0] == digest(photo, app) and shown_key(page)[2] == int(checked_patch(page))


def test_compare_follows_a_model_switch(page, app):
    page.locator("#model input").click()
    page.get_by_role("option", name="Bundled shapes ViT (offline)").click()
    settled(page, app)
    from vitdemo.loading import load

    offered = [str(p) for p in load("bundled").config.offered_patch_sizes()]
    assert page.locator("#patch-size input").evaluate_all("els => els.map(e => e.value)") == offered
    assert shown_key(page)[1] == "bundled"
    page.get_by_role("tab", name="Compare patch sizes").click()
    chosen = page.locator("#compare-sizes .token").all_inner_texts()
    assert chosen and all(text.split()[0] in offered for text in chosen)
    assert "48" not in " ".join(chosen)
    page.locator("#compare-button").click()
    page.wait_for_function("n => document.querySelectorAll('#compare-gallery canvas').length === n",
                           arg=2 * len(chosen))
    assert page.locator(".toast-body").count() == 0, page.locator(".toast-body").all_inner_texts()
