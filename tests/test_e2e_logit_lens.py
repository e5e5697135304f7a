"""The logit lens view in Chromium, on the bundled model: the class token's top-3 at the layer shown and the
patches painted by the class each would answer, with a legend, following the layer slider without a request,
at 1280×800 in English and 390×844 in Chinese. The expected numbers are the library's lens (tested against
transformers in test_logit_lens.py) on the same picture; the colours are checked on the canvas itself.

Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from tests.browser import MARKS, STREAMS, shown_name, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")
STAR = Path(__file__).resolve().parents[1] / "assets" / "examples" / "shape_star.png"


@pytest.fixture(scope="module")
def expected():
    """The library's lens of the page's first picture, by patch size: (class-token lens, per-patch lens, labels)."""
    import vitdemo

    model = vitdemo.load("bundled")
    made = {}

    def at(patch: int):
        if patch not in made:
            a = vitdemo.analyze(model, Image.open(STAR).convert("RGB"), patch_size=patch)
            made[patch] = (a.logit_lens(), a.patch_lens(), a.labels)
        return made[patch]

    return at


def lens_of(page) -> dict:
    return json.loads(page.locator("#explorer").get_attribute("data-lens") or "{}")


def check_layer(page, expected, layer: int, locale: str = "en-US") -> None:
    """data-lens at `layer` (from 1) is the library's: top-3 of the class token, and each class's patch count;
    the legend names each class in the page's language (data-lens keeps the model's labels)."""
    view = json.loads(page.locator("#explorer").get_attribute("data-view"))
    lens, patches, labels = expected(view["patch_size"])
    shown = lens_of(page)
    assert shown["layer"] == layer
    top3 = sorted(range(len(labels)), key=lambda i: -lens[layer - 1][i])[:3]
    assert [label for label, _ in shown["top"]] == [labels[i] for i in top3]
    assert [p for _, p in shown["top"]] == pytest.approx([float(lens[layer - 1][i]) for i in top3], abs=1e-4)
    counts = Counter(labels[c] for c in patches.classes[layer - 1].ravel())
    assert dict(shown["legend"]) == dict(counts)
    legend = page.locator("#explorer .vx-legend")
    assert legend.is_visible() and all(shown_name(locale, label) in legend.inner_text() for label in counts)
    if locale.startswith("zh"):
        assert not any(label in legend.inner_text() for label in counts), legend.inner_text()


def check_colours(page, expected, layer: int) -> None:
    """On the canvas at full opacity each patch is its class's colour (lens.class_colours: the same as figures)."""
    before = stamp(page)
    page.evaluate("""() => { const o = document.querySelector('#explorer .vx-opacity');
                             o.value = '1'; o.dispatchEvent(new Event('input')); }""")
    wait_painted(page, before)
    view = json.loads(page.locator("#explorer").get_attribute("data-view"))
    from vitdemo.explain.lens import class_colours

    lens, patches, _ = expected(view["patch_size"])
    colours_of = class_colours(lens, patches)
    classes = patches.classes[layer - 1]
    rows, cols = classes.shape
    colours = page.evaluate("""([rows, cols]) => {
        const c = document.querySelector('#explorer .vx-map'), ctx = c.getContext('2d'), out = [];
        for (let r = 0; r < rows; r++) for (let k = 0; k < cols; k++) {
          const x = Math.floor((k + 0.5) * c.width / cols), y = Math.floor((r + 0.5) * c.height / rows);
          out.push(Array.from(ctx.getImageData(x, y, 1, 1).data.slice(0, 3)));
        }
        return out; }""", [rows, cols])
    assert [tuple(c) for c in colours] == [colours_of[int(c)] for c in classes.ravel()]
    named = sorted(set(classes.ravel().tolist()))
    assert len({colours_of[c] for c in named}) == min(len(named), 11)  # 11 colours, then grey for the rest


@pytest.mark.parametrize(("width", "height", "locale"), [(1280, 800, "en-US"), (390, 844, "zh-CN")])
def test_the_lens_follows_the_layer_slider_without_a_request(new_page, expected, shots, width, height, locale):
    page = new_page(width, height, locale)
    assert json.loads(page.locator("#explorer").get_attribute("data-view"))["name"].startswith("star")
    requests = []
    page.on("request", lambda r: None if any(s in r.url for s in STREAMS) else requests.append(r.url))
    button = page.locator(".vx-method button[data-method=logit-lens]")
    assert button.inner_text() == ("Logit lens" if locale == "en-US" else "Logit 透镜")
    before = stamp(page)
    button.click()
    view = wait_painted(page, before)
    assert view["method"] == "logit-lens"
    depth = int(page.locator("#explorer-layer input[type=range]").get_attribute("max"))
    check_layer(page, expected, view["layer"], locale)
    caption = page.locator("#explorer .vx-caption").inner_text()
    assert caption.startswith("Logit lens" if locale == "en-US" else "Logit 透镜")
    assert all(shown_name(locale, label) in caption for label, _ in lens_of(page)["top"]), caption
    assert page.locator("#explorer-head select").is_disabled()  # the lens reads tokens, not heads
    page.locator("#explorer .vx").screenshot(path=str(shots / f"logit_lens_{width}_{locale}_layer{view['layer']}.png"))
    for layer in (1, depth // 2 or 1):
        before = stamp(page)
        page.locator("#explorer-layer input[type=range]").fill(str(layer))
        assert wait_painted(page, before)["layer"] == layer
        check_layer(page, expected, layer, locale)
    page.locator("#explorer .vx").screenshot(path=str(shots / f"logit_lens_{width}_{locale}_layer{layer}.png"))
    check_colours(page, expected, layer)
    assert requests == []
    with page.expect_download() as caught:  # the Download figure button draws the lens figure of this layer
        page.locator("#download-figure").click()
    assert caught.value.suggested_filename.endswith(f"_logit-lens_layer{layer}.png")
    assert Image.open(caught.value.path()).width >= 1600
    assert page.errors == []

