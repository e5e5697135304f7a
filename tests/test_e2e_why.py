"""Issue 23's "Why" list, item 5, in Chromium at 1280×800 and 390×844, in English and in Chinese: one page per
screen and language for the explorer, one for the tabs, each checking several things.

The explorer: switching through every method moves neither the controls nor the map; a line names the arrow
keys (on a desktop screen: a phone has none); Gradio's own button labels (Fullscreen, Remove Image, the
sketchpad's tools, the tabs' overflow menu) read in the page's language. The tabs: the probing pictures' labels
sit beside the pictures, not over them; offline with only the bundled model the side-by-side tab says so in one
sentence, with no picker; the tour's block slider redraws the block's picture without veiling the panel; the
patch-size comparison of a non-square image with keep-aspect gives panels of one size.

Expected texts are written out here by hand, not read from the string tables. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.browser import MARKS, painted, settle, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

ROOT = Path(__file__).resolve().parents[1]
SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
PAGES = [(screen, locale) for screen in SCREENS for locale in ("en-US", "zh-CN")]
TABS = ("heads", "compare", "recipe", "probing", "models", "tour")  # ui.py's order
# Everything that must hold still while the methods change (and the map beside them).
STILL = ("#explorer .vx-grid", "#explorer .vx-map", "#explorer .vx-method", "#explorer-layer", "#explorer-head",
         "#explorer-target", "#explorer .vx-slot")
KEYS = {"en-US": "Keys (click the explorer first): ← → layer · ↑ ↓ head · Esc clears a clicked patch",
        "zh-CN": "按键（先点一下探索器）：← → 切换层 · ↑ ↓ 切换注意力头 · Esc 取消点选的图像块"}
# Gradio's labels on the image input and in the sketchpad, as each reader must read them.
IMAGE_LABELS = {"en-US": {"Fullscreen", "Remove Image", "Upload file", "Capture from camera", "Paste from clipboard"},
                "zh-CN": {"全屏", "移除图像", "上传文件", "用摄像头拍摄", "从剪贴板粘贴"}}
DRAW_LABELS = {"en-US": {"Clear canvas", "Pan", "Zoom in", "Zoom out", "Redo"},
               "zh-CN": {"清空画布", "平移", "放大", "缩小", "重做"}}
MORE_TABS = {"en-US": "More tabs", "zh-CN": "更多标签页"}
NO_SECOND = {"en-US": "No other model can run here now: the others are not downloaded and the app is offline.",
             "zh-CN": "目前没有其他模型可以在这里运行：它们尚未下载，且应用处于离线状态。"}
NAMES = {"Gradio", "API", "MCP"}  # names that stay as they are in Chinese
BOX = """s => { const r = document.querySelector(s).getBoundingClientRect();
  return [r.x + window.scrollX, r.y + window.scrollY, r.width, r.height]; }"""
LABELS = """s => [...document.querySelectorAll(s)].flatMap((e) => [e, ...e.querySelectorAll('[aria-label], [title]')])
  .flatMap((e) => [e.getAttribute('aria-label'), e.getAttribute('title')]).filter(Boolean)"""


def english(labels) -> set[str]:
    return {label for label in labels if set(re.findall(r"[A-Za-z]{3,}", label)) - NAMES}


def boxes(page) -> dict[str, list[float]]:
    return {selector: page.evaluate(BOX, selector) for selector in STILL}


def pick_method(page, method: str) -> None:
    """Click a method's button and wait for its map (a class method's comes from the server first)."""
    before = stamp(page)
    page.locator(f"#explorer .vx-method button[data-method={method}]").click()
    page.wait_for_function("([t, m]) => Number(document.querySelector('#explorer').dataset.painted || 0) > t && "
                           "JSON.parse(document.querySelector('#explorer').dataset.view || '{}').method === m",
                           arg=[before, method])


def open_tab(page, tab: str) -> None:
    """Click the tab; on a phone Gradio moves the last tabs into its overflow menu."""
    button = page.locator(f"#tab-{tab}-button")
    if button.count() and button.is_visible():
        button.click()
        return
    name = page.locator("#tabs .tab-container[aria-hidden=true] button").nth(TABS.index(tab)).text_content().strip()
    page.locator("#tabs .overflow-menu button").first.click()
    page.locator("#tabs .overflow-dropdown button", has_text=name).click()


@pytest.mark.parametrize(("screen", "locale"), PAGES)
def test_the_explorer_holds_still_names_its_keys_and_speaks_the_readers_language(new_page, shots, screen, locale):
    page = new_page(**SCREENS[screen], locale=locale)
    methods = page.locator("#explorer .vx-method button:not([disabled])").evaluate_all(
        "buttons => buttons.map((b) => b.dataset.method)")
    assert {"attention", "rollout", "relevance", "legrad", "norms", "features"} <= set(methods), methods
    first = boxes(page)
    for method in [*methods[1:], methods[0]]:
        pick_method(page, method)
        moved = {s: (first[s], box) for s, box in boxes(page).items()
                 if any(abs(a - b) > 0.5 for a, b in zip(first[s], box))}
        assert not moved, f"switching to {method} moved {moved}"
    assert painted(page)["method"] == methods[0]

    keys = page.locator("#explorer .vx-keys")
    if screen == "desktop":
        assert keys.is_visible() and keys.inner_text() == KEYS[locale]
        controls, line = (page.evaluate(BOX, s) for s in ("#explorer .vx-controls", "#explorer .vx-keys"))
        assert 0 <= line[1] - (controls[1] + controls[3]) <= 12, "the keys line sits right under the controls"
    else:
        assert keys.is_hidden(), "a phone has no arrow keys: the line would only take the room of the results"
    page.screenshot(path=str(shots / f"why-explorer-{screen}-{locale}.png"))

    image = set(page.evaluate(LABELS, "#input-image"))
    assert IMAGE_LABELS[locale] <= image, image
    page.locator("#draw-panel button").first.click()  # open the sketchpad
    page.locator("#draw button[aria-label]").first.wait_for()
    sketchpad = set(page.evaluate(LABELS, "#draw"))
    assert DRAW_LABELS[locale] <= sketchpad, sketchpad
    if screen == "phone":
        assert page.locator("#tabs .overflow-menu button").first.get_attribute("aria-label") == MORE_TABS[locale]
    if locale == "zh-CN":
        left = english(page.evaluate(LABELS, "#input-image, #draw, #tabs, #probing-row, #tour, footer"))
        assert not left, f"English left among Gradio's labels: {left}"
    assert not page.errors, page.errors


@pytest.fixture
def wide_picture(tmp_path) -> Path:
    """The start page's star on a canvas 1.25 times as wide as high: with keep-aspect, patches 8, 16 and 32
    make grids of three different shapes (12×15, 6×7, 3×3)."""
    from PIL import Image

    star = Image.open(ROOT / "assets/examples/shape_star.png").convert("RGB")
    wide = Image.new("RGB", (star.width * 5 // 4, star.height), star.getpixel((0, 0)))
    wide.paste(star, (star.width // 8, 0))
    path = tmp_path / "wide_star.png"
    wide.save(path)
    return path


TRACKERS = """() => { window.shownTrackers = [];
  new MutationObserver((changes) => { for (const c of changes) {
    const e = c.target;
    if (e.dataset?.testid === 'status-tracker' && !e.classList.contains('hide'))
      window.shownTrackers.push([(e.closest('[id]') || {}).id, e.className]);
  } }).observe(document.querySelector('#tour'), {subtree: true, attributes: true, attributeFilter: ['class']}); }"""


@pytest.mark.parametrize(("screen", "locale"), PAGES)
def test_the_tabs_probing_side_by_side_tour_and_comparison(new_page, shots, wide_picture, screen, locale):
    page = new_page(**SCREENS[screen], locale=locale)

    open_tab(page, "probing")
    page.wait_for_function("() => { const images = [...document.querySelectorAll('#probing-row img')]; "
                           "return images.length === 3 && images.every((i) => i.complete && i.naturalWidth); }")
    for picture in ("#probe-filters", "#probe-positions", "#probe-distance"):
        label = page.evaluate(BOX, f"{picture} [data-testid=block-label]")
        image = page.evaluate(BOX, f"{picture} img")
        assert label[1] + label[3] <= image[1] + 0.5, f"{picture}: its label {label} covers its picture {image}"
    page.locator("#probing-row").screenshot(path=str(shots / f"why-probing-{screen}-{locale}.png"))

    open_tab(page, "models")
    page.wait_for_function("s => document.querySelector('#models-compare')?.innerText.includes(s)",
                           arg=NO_SECOND[locale])
    assert page.locator("#models-second").is_hidden(), "a picker with nothing to pick"
    assert page.locator("#tab-models").inner_text().strip() == NO_SECOND[locale]

    page.locator("#tour-start").click()
    for index in range(2, 8):  # to the encoder step, each click waiting for its step
        page.wait_for_function("() => !document.querySelector('#tour-next button, #tour-next')?.disabled")
        page.locator("#tour-next").click()
        page.wait_for_function("n => document.querySelector('#tour-progress [data-index]')?.dataset.index == n",
                               arg=str(index))
    assert page.locator("#tour-progress [data-step]").get_attribute("data-step") == "encoder"
    settle(page)
    before = {"why": page.locator("#tour-why").inner_text(),
              "picture": page.locator("#tour-picture img").get_attribute("src")}
    page.evaluate(TRACKERS)
    page.locator("#tour-block input[type=range]").focus()
    page.keyboard.press("ArrowRight")
    page.wait_for_function("s => document.querySelector('#tour-picture img')?.getAttribute('src') !== s",
                           arg=before["picture"])
    settle(page)
    why = page.locator("#tour-why").inner_text()
    block_two = "Block 2 of 6" if locale == "en-US" else "第 2 个编码器块（共 6 个）"
    assert why != before["why"] and block_two in why, why
    veiled = [(where, kind) for where, kind in page.evaluate("window.shownTrackers")
              if where != "tour-picture" or "minimal" not in kind]
    assert not veiled, f"the slider veiled {veiled}"
    assert page.locator("#tour-code").inner_text().strip() and page.locator("#tour-progress").is_visible()
    page.locator("#tour").screenshot(path=str(shots / f"why-tour-{screen}-{locale}.png"))

    page.locator("#tour-free").click()
    before = stamp(page)
    page.locator("#input-image input[type=file]").set_input_files(str(wide_picture))
    wait_painted(page, before)
    settle(page)
    before = stamp(page)
    page.locator("#keep-aspect input").check()
    wait_painted(page, before)
    settle(page)
    open_tab(page, "compare")
    page.locator("#compare-button").click()
    page.wait_for_function("() => document.querySelectorAll('#compare-gallery figure canvas').length === 6")
    settle(page)
    shapes = {tuple(map(int, m)) for m in re.findall(r"(\d+)×(\d+)", page.locator("#compare-gallery").inner_text())}
    assert len({round(r / c, 3) for r, c in shapes}) == 3, f"the grids {shapes} should differ in shape"
    panels = page.evaluate("""() => [...document.querySelectorAll('#compare-gallery figure')].map((f) => {
      const [grid, map] = f.querySelectorAll('canvas'), caption = f.querySelector('figcaption');
      const box = (e) => {  // the picture's frame, or the picture itself where it has none
        const r = (e.parentElement.matches('figure') ? e : e.parentElement).getBoundingClientRect();
        return [r.width, r.height]; };
      const below = caption.getBoundingClientRect().y - f.getBoundingClientRect().y;
      return {grid: box(grid), map: box(map), caption: below}; })""")
    assert len(panels) == 3
    for name in ("grid", "map", "caption"):
        values = [panel[name] for panel in panels]
        assert all(value == values[0] for value in values), f"the panels' {name}s differ: {values}"
    page.locator("#tab-compare").screenshot(path=str(shots / f"why-compare-{screen}-{locale}.png"))
    assert not page.errors, page.errors
