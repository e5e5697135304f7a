"""Side by side and the informing picker, in Chromium: two small local models stand in for DINOv2-S/14 and
DINOv2-S/14 with registers (random weights written with save_pretrained into this module's hub cache, under
those repo ids), so the app serves them offline as the registry models they replace.

The second panel (#models-compare) must follow the explorer's view without a request: its method, its layer
mapped by relative depth (the two models have 4 and 2 layers), a head it lacks shown as the mean, and its map
must be the second model's own (compared with the server's renderer, patch by patch).
Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import base64
import io
import json

import numpy as np
import pytest
import torch
from PIL import Image

from tests.browser import MARKS, open_page, serving
from tests.conftest import HubCache

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")
transformers = pytest.importorskip("transformers")

MAIN, SECOND = "dinov2-s", "dinov2-reg-s"
MAIN_TITLE, SECOND_TITLE = "DINOv2-S/14 (ImageNet linear head)", "DINOv2-S/14 with registers"
MAIN_DEPTH, SECOND_DEPTH = 4, 2
MAIN_HEADS, SECOND_HEADS = 4, 2
# BitImageProcessor as the DINOv2 repos ship it, at a small size: shorter side 128, centre crop 112 (8×8 patches).
PROCESSOR = {"crop_size": {"height": 112, "width": 112}, "do_center_crop": True, "do_convert_rgb": True,
             "do_normalize": True, "do_rescale": True, "do_resize": True, "image_mean": [0.485, 0.456, 0.406],
             "image_processor_type": "BitImageProcessor", "image_std": [0.229, 0.224, 0.225], "resample": 3,
             "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 128}}


def random_model(registers: bool, depth: int, heads: int, seed: int) -> torch.nn.Module:
    """A DINOv2 (with registers) with a 10-class linear head and random weights everywhere (default inits
    would leave every attention map nearly flat, and the two models alike)."""
    tf = transformers
    config_class, model_class = ((tf.Dinov2WithRegistersConfig, tf.Dinov2WithRegistersForImageClassification)
                                 if registers else (tf.Dinov2Config, tf.Dinov2ForImageClassification))
    extra = {"num_register_tokens": 4} if registers else {}
    model = model_class(config_class(hidden_size=64, num_hidden_layers=depth, num_attention_heads=heads, mlp_ratio=2,
                                     image_size=56, patch_size=14, num_labels=10, **extra))
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            noise = torch.randn(p.shape, generator=gen)
            p.copy_(1 + 0.1 * noise if "norm" in name and name.endswith("weight") else
                    0.5 + 0.2 * noise if "lambda1" in name else 0.3 * noise)
    return model.eval()


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    import huggingface_hub.constants as constants

    from vitdemo.app import build_app
    from vitdemo.app.models import REGISTRY

    cache = HubCache(tmp_path_factory.mktemp("hub"))
    files = tmp_path_factory.mktemp("files")
    (files / "preprocessor_config.json").write_text(json.dumps(PROCESSOR))
    for key, registers, depth, heads, seed in ((MAIN, False, MAIN_DEPTH, MAIN_HEADS, 0),
                                               (SECOND, True, SECOND_DEPTH, SECOND_HEADS, 1)):
        folder = files / key
        random_model(registers, depth, heads, seed).save_pretrained(folder)
        cache.add(REGISTRY[key].source, [folder / "config.json", folder / "model.safetensors",
                                         files / "preprocessor_config.json"])
    with pytest.MonkeyPatch.context() as patch:  # this module's cache while the app starts and loads both models;
        patch.setattr(constants, "HF_HUB_CACHE", str(cache.root))  # then they stay loaded (the pool holds 2)
        demo = build_app(MAIN)
        for key in (MAIN, SECOND):
            demo.vitdemo_engine.model(key)
    with serving(demo):
        yield demo


@pytest.fixture(scope="module")
def page(app, browser):
    page = open_page(browser, app, timeout_ms=60_000)
    open_tab(page)
    page.wait_for_function("() => document.querySelector('#models-compare')?.dataset.views")
    yield page
    page.close()


def open_tab(page, name: str = "Side by side") -> None:
    """Click the tab; on a narrow screen Gradio moves the last tabs into its overflow menu ("⋯")."""
    tab = page.get_by_role("tab", name=name)
    if not tab.is_visible():
        page.locator("#tabs .overflow-menu button").first.click()
        tab = page.locator("#tabs .overflow-dropdown button", has_text=name)
    tab.click()


def panels(page) -> list[dict]:
    return json.loads(page.locator("#models-compare").get_attribute("data-views") or "[]")


def painted_after(page, action) -> list[dict]:
    """Do `action`, wait until the side-by-side panel has painted again, return what it painted."""
    before = float(page.locator("#models-compare").get_attribute("data-painted") or 0)
    action()
    page.wait_for_function("t => Number(document.querySelector('#models-compare').dataset.painted || 0) > t",
                           arg=before)
    return panels(page)


def set_layer(page, layer: int) -> None:
    page.locator("#explorer-layer input[type=range]").fill(str(layer))


def canvas_pixels(page, index: int) -> np.ndarray:
    url = page.locator("#models-compare canvas").nth(index).evaluate("c => c.toDataURL('image/png')")
    return np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"), dtype=np.int16)


def second_analysis(app, page):
    from vitdemo.app.cache import AnalysisKey

    key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    engine = app.vitdemo_engine
    return engine.cached(AnalysisKey(key[0], SECOND, 14, bool(key[3])))


def test_the_second_panel_shows_the_other_model_at_the_same_relative_depth(page, app):
    main, second = panels(page)
    assert (main["title"], second["title"]) == (MAIN_TITLE, SECOND_TITLE)
    assert (main["layer"], second["layer"]) == (MAIN_DEPTH, SECOND_DEPTH), "the last layer of each"
    note = page.locator("#models-compare .vg-note").inner_text()
    assert "relative depth" in note
    assert f"layer {MAIN_DEPTH} of {MAIN_DEPTH} ↔ layer {SECOND_DEPTH} of {SECOND_DEPTH}" in note
    captions = page.locator("#models-compare figcaption").all_inner_texts()
    assert captions[0].startswith(MAIN_TITLE) and captions[1].startswith(SECOND_TITLE)
    assert "8×8 patches + 5 = 69 tokens" in captions[1], "class + 4 registers"

    # The second canvas is the second model's own map (layer 1 of 2 for the explorer's layer 2 of 4), as the
    # server's renderer draws it: each block of the upscaled canvas equals one pixel of the unscaled picture.
    from vitdemo.explain import render

    painted = painted_after(page, lambda: set_layer(page, 2))
    assert [p["layer"] for p in painted] == [2, 1]
    analysis = second_analysis(app, page)
    expected = np.asarray(render.overlay(analysis, analysis.attention_map("attention", layer=0, head="mean"),
                                         "inferno", 0.6, min_side=1), dtype=np.int16)
    shown = canvas_pixels(page, 1)
    scale = shown.shape[0] // expected.shape[0]
    assert scale >= 1 and shown.shape[:2] == (expected.shape[0] * scale, expected.shape[1] * scale)
    centres = shown[scale // 2::scale, scale // 2::scale]
    assert np.abs(centres - expected).max() <= 2
    other_layer = np.asarray(render.overlay(analysis, analysis.attention_map("attention", layer=1, head="mean"),
                                            "inferno", 0.6, min_side=1), dtype=np.int16)
    assert np.abs(other_layer - expected).max() > 20, "the two layers' maps must differ for this check to mean anything"


def test_view_switches_repaint_both_panels_without_a_request(page):
    requests = []
    page.on("request", lambda r: requests.append(r.url))
    before_pixels = canvas_pixels(page, 1)
    for layer, mapped in ((3, 2), (1, 1), (4, 2)):  # round(layer × 2 / 4), at least 1
        shown = painted_after(page, lambda chosen=layer: set_layer(page, chosen))
        assert [p["layer"] for p in shown] == [layer, mapped]
    rollout = painted_after(page, lambda: page.locator(".vx-method button[data-method=rollout]").click())
    assert [p["method"] for p in rollout] == ["rollout", "rollout"]
    assert np.abs(canvas_pixels(page, 1) - before_pixels).max() > 20, "the second panel changed with the method"
    painted_after(page, lambda: page.locator(".vx-method button[data-method=attention]").click())  # then the head
    heads = painted_after(page, lambda: page.locator("#explorer-head select").select_option(label="head 4"))
    assert (heads[0]["head"], heads[1]["head"]) == (4, "mean"), "data-views count heads from 1, as the page"
    assert f"has {SECOND_HEADS} heads" in page.locator("#models-compare .vg-note").inner_text()
    for method in ("norms", "features"):
        shown = painted_after(page, lambda m=method: page.locator(f".vx-method button[data-method={m}]").click())
        assert [p["method"] for p in shown] == [method, method]
    painted_after(page, lambda: page.locator(".vx-method button[data-method=attention]").click())
    assert requests == [], "view switches are drawn in the page"


def test_relevance_is_fetched_for_the_second_model_and_explains_a_class_it_knows(page, app):
    """Relevance needs the server (a backward pass) for each model; the second explains the explorer's class
    when it is in its own top-5 (the same ten labels here), else its own top-1, and says so."""
    page.locator(".vx-method button[data-method=relevance]").click()
    page.wait_for_function("""() => {
        const views = JSON.parse(document.querySelector('#models-compare').dataset.views || '[]');
        return views.length === 2 && views.every(v => v.method === 'relevance');
    }""")
    explained = panels(page)[1]["target"]
    main_label = page.evaluate("() => window.vitdemo.decoded.payload.top[0][0]")
    second_top = [label for label, _ in second_analysis(app, page).top(5)]
    note = page.locator("#models-compare .vg-note").inner_text()
    if main_label in second_top:
        assert explained == main_label and "explains its own" not in note
    else:
        assert explained == second_top[0] and f"explains its own top-1 class, “{explained}”" in note
    painted_after(page, lambda: page.locator(".vx-method button[data-method=attention]").click())


def test_a_clicked_patch_is_followed_at_the_same_place(page):
    def click() -> None:  # at 30% across, 70% down the explorer's map: row 5, col 2 of 8×8
        page.locator("#explorer .vx-map").evaluate("""canvas => {
            const box = canvas.getBoundingClientRect();
            canvas.dispatchEvent(new MouseEvent('click', {clientX: box.left + 0.3 * box.width,
                                                          clientY: box.top + 0.7 * box.height, bubbles: true}));
        }""")

    main, second = painted_after(page, click)
    assert main["patch"] == second["patch"] == [5, 2], "the same 8×8 grid: the same patch"
    painted_after(page, lambda: page.locator("#explorer .vx-back").click())


def test_the_picker_informs_before_a_model_runs(page):
    info = page.locator("#model-info").inner_text()
    for fact in ("DINOv2 · patch 14 px", "tokens: class, then patches", "10 classes (", "licence Apache-2.0",
                 "in the local cache"):
        assert fact in info, (fact, info)
    page.locator("#model input").click()
    option = page.get_by_role("option", name="DINO ViT-S/8 (self-supervised) (not downloaded) · 87 MB")
    assert option.is_visible()
    page.keyboard.press("Escape")


def test_screenshots_at_desktop_and_phone_width(page, new_page, shots):
    page.locator("#tabs").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / "side-by-side-1280.png"), full_page=False)
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(shots / "picker-1280.png"))
    phone = new_page(390, 844, timeout_ms=60_000)
    open_tab(phone)
    phone.wait_for_function("() => document.querySelector('#models-compare')?.dataset.views")
    phone.locator("#models-compare").scroll_into_view_if_needed()
    phone.screenshot(path=str(shots / "side-by-side-390.png"))
    figures = phone.locator("#models-compare figure")
    assert figures.count() == 2
    for i in range(2):
        box = figures.nth(i).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 + 1, "no sideways scrolling on a phone"
    phone.locator("#model-info").scroll_into_view_if_needed()
    phone.screenshot(path=str(shots / "picker-390.png"))


def test_a_model_with_imagenet_labels_offers_the_photos_and_one_loads_when_clicked(page):
    """Issue 23: the examples fit the model; here (the DINOv2-S stand-in has an ImageNet head in the registry)
    the photos, not the bundled model's shapes. Last in the module: it changes the page's image."""
    page.evaluate("window.scrollTo(0, 0)")
    sources = page.locator("#examples .gallery-item img").evaluate_all("images => images.map(i => i.src)")
    assert [s.rsplit("/", 1)[-1] for s in sources] == ["cat.jpg", "coffee.jpg", "astronaut.jpg", "rocket.jpg"]
    old_key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    page.locator("#examples .gallery-item").nth(1).click()
    page.wait_for_function("k => JSON.stringify(window.vitdemo.decoded?.payload.key) !== JSON.stringify(k)",
                           arg=old_key)
    assert "coffee" in (page.locator("#input-image img").first.get_attribute("src") or "")
