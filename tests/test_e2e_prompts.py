"""The "what to look for" box in Chromium, on a tiny random CLIP given as a folder model (the command line's
--model, `build_app(folder)`): shown with the defaults in the page's language and the template under it, a typed
prompt list ranked in the top-5 and explained, at 1280×800 in English and 390×844 in Chinese.
Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import pytest

from tests import image_text_models as tiny
from tests.browser import MARKS, serving, settle, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    from vitdemo.app import build_app

    folder = tmp_path_factory.mktemp("models") / "tiny-clip"
    tiny.build("clip", folder, image_size=64, patch_size=8)
    with serving(build_app(str(folder))) as demo:
        yield demo


@pytest.mark.parametrize("width, height, locale, defaults, typed, note", [
    (1280, 800, "en-US", "cat, dog, car", "star, red car", "a photo of a …."),
    (390, 844, "zh-CN", "猫, 狗, 汽车", "红色的汽车，猫", "每个提示词都按“a photo of a ….”来读"),
])
def test_the_prompt_box_ranks_and_explains_what_is_typed(new_page, shots, width, height, locale, defaults, typed,
                                                         note):
    page = new_page(width, height, locale)
    box = page.locator("#prompts textarea, #prompts input").first
    assert box.is_visible()
    assert box.input_value().startswith(defaults)
    assert note in page.locator("#prompt-note").inner_text()
    shown = page.locator("#labels").inner_text()
    assert defaults.split(", ")[0] in shown  # the default prompts are what the top-5 ranks
    before = stamp(page)
    box.fill(typed)
    box.press("Enter")
    wait_painted(page, before)
    settle(page)
    wanted = [p.strip() for p in typed.replace("，", ",").split(",")]
    labels = page.locator("#labels").inner_text()
    assert all(p in labels for p in wanted) and defaults.split(", ")[1] not in labels, labels
    assert box.is_visible() and box.input_value() == typed  # what was typed stays
    view = wait_painted(page)
    assert view, "the explorer paints a map for the typed prompts"
    page.screenshot(path=str(shots / f"prompts_{width}_{locale}.png"), full_page=False)
    assert not page.errors, page.errors
