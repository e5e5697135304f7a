"""The guided tour in a real browser (Debian's headless Chromium via Playwright), at 1280×800 and phone width.

A visitor opens the tour from the header, steps through every stage with Next (each shows its key in
#tour-progress's data-step, the code of vitdemo/model.py it names, the tensor's shape and a picture), goes
Back, moves the encoder block and the loss label, and returns to the free page with one click.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); never `playwright install`.
"""

from __future__ import annotations

import inspect
import re

import pytest

import vitdemo.model as model_py
from tests.browser import MARKS

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

# The bundled model at its native patch 16 on the start page's star (96 px): worked out by hand.
STEPS = [("image", model_py.ViT.forward, "(1, 3, 96, 96)"), ("patches", model_py.patchify, "(1, 36, 768)"),
         ("unfold_conv", model_py.embed_patches_unfold, "(1, 36, 96)"),
         ("embeddings", model_py.PatchEmbedding, "(1, 36, 96)"), ("class_token", model_py.ViT.embed, "(1, 37, 96)"),
         ("position", model_py.resample_grid, "(1, 37, 96)"), ("encoder", model_py.Block, "(1, 37, 96)"),
         ("class_output", model_py.ViT.head_input, "(1, 96)"), ("head", model_py.ViT.classify, "(1, 11)"),
         ("loss", model_py.loss, "()"), ("lens", model_py.ViT.classify, "(6, 11)")]
VIEWPORTS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}


@pytest.fixture(params=list(VIEWPORTS))
def page(request, new_page, shots):
    page = new_page(**VIEWPORTS[request.param])
    page.screen, page.shots = request.param, shots
    return page


def current_step(page) -> str:
    return page.locator("#tour-progress [data-step]").get_attribute("data-step")


def wait_step(page, key: str) -> None:
    page.wait_for_function("k => document.querySelector('#tour-progress [data-step]')?.dataset.step === k", arg=key)
    settled(page)


def settled(page) -> None:
    """No tour output pending, and its picture loaded."""
    page.wait_for_function("() => [...document.querySelectorAll('#tour [data-testid=\"status-tracker\"]')]"
                           ".every(e => e.classList.contains('hide')) && document.querySelector('#tour-picture img')"
                           "?.complete")


def shown_code(page) -> str:
    return page.locator("#tour-code .cm-content").inner_text()


def shoot(page, name: str) -> None:
    page.screenshot(path=str(page.shots / f"{page.screen}-{name}.png"))


def first_line(obj) -> str:
    return inspect.getsource(obj).strip().splitlines()[0]


def test_next_steps_through_every_stage_with_its_code_shape_and_picture(page):
    page.locator("#tour-start").click()
    wait_step(page, "image")
    assert page.locator("#tour-back").is_disabled()
    for index, (key, obj, shape) in enumerate(STEPS):
        if index:
            page.locator("#tour-next").click()
        wait_step(page, key)
        progress = page.locator("#tour-progress").inner_text()
        assert f"Step {index + 1} of {len(STEPS)}" in progress
        assert first_line(obj) in shown_code(page), f"step {key} does not show {obj.__name__}"
        assert shape in page.locator("#tour-shape").inner_text()
        assert page.locator("#tour-why").inner_text().strip()
        picture = page.locator("#tour-picture img").first
        picture.wait_for()
        page.wait_for_function("() => document.querySelector('#tour-picture img')?.complete")  # loaded, or failed
        assert picture.evaluate("i => i.naturalWidth") >= 64
        shoot(page, f"{index + 1:02d}-{key}")
    assert page.locator("#tour-next").is_disabled()
    page.locator("#tour-back").click()
    wait_step(page, "loss")
    assert first_line(model_py.loss) in shown_code(page)
    assert not page.errors, page.errors


def test_the_block_and_the_label_redraw_their_step(page):
    page.locator("#tour-start").click()
    wait_step(page, "image")
    for key, _, _ in STEPS[1:7]:  # each click waits for its step: a click while one is pending is dropped
        page.locator("#tour-next").click()
        wait_step(page, key)
    assert "Block 1 of 6" in page.locator("#tour-why").inner_text()
    number = page.locator("#tour-block input[type=number]")
    number.fill("4")
    number.press("Enter")
    page.wait_for_function("() => document.querySelector('#tour-why').innerText.includes('Block 4 of 6')")
    for key, _, _ in STEPS[7:10]:  # up to the loss, whose label picker this checks
        page.locator("#tour-next").click()
        wait_step(page, key)
    page.locator("#tour-label input").click()
    page.locator("ul[role=listbox] li[role=option]").filter(has_text=re.compile(r"^\W*circle\s*$")).click()
    page.wait_for_function("() => document.querySelector('#tour-why').innerText.includes('for circle')")
    settled(page)
    shoot(page, "loss-circle")
    assert not page.errors, page.errors


def test_the_free_page_is_one_click_away(page):
    page.locator("#tour-start").click()
    wait_step(page, "image")
    page.locator("#tour-next").click()
    wait_step(page, "patches")
    page.locator("#tour-free").click()
    page.wait_for_function("() => window.scrollY === 0")
    page.wait_for_function("() => document.querySelector('#tab-heads')?.offsetParent !== null")
    box = page.locator("#explorer .vx-map").first.bounding_box()
    assert box and box["y"] < VIEWPORTS[page.screen]["height"], "the explorer is not on screen"
    assert page.locator("#tour").is_hidden()
    shoot(page, "free-page")
    page.locator("#tour-start").click()  # and back to where the visitor left the tour
    wait_step(page, "patches")
    assert not page.errors, page.errors


@pytest.mark.parametrize("page", ["phone"], indirect=True)
def test_the_tour_fits_a_phone(page):
    page.locator("#tour-start").click()
    wait_step(page, "image")
    overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, f"the page is {overflow} px wider than the phone"
    for selector in ("#tour-next", "#tour-back", "#tour-code", "#tour-picture"):
        box = page.locator(selector).first.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 391, f"{selector} leaves the screen"


def test_a_chinese_browser_gets_the_tour_in_chinese(new_page, shots):
    page = new_page(**VIEWPORTS["desktop"], locale="zh-CN")
    assert "分步导览" in page.locator("#tour-start").inner_text()
    page.locator("#tour-start").click()
    wait_step(page, "image")
    page.locator("#tour-next").click()
    wait_step(page, "patches")
    assert "第 2 步（共 11 步）：切分图像块" in page.locator("#tour-progress").inner_text()
    assert "图像块" in page.locator("#tour-why").inner_text()
    assert "张量形状" in page.locator("#tour-shape").inner_text()
    assert page.locator("#tour-next").inner_text().strip() == "下一步 ›"
    page.screenshot(path=str(shots / "zh-patches.png"))
