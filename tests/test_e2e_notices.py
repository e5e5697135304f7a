"""What the page says it did to an upload, in Chromium (issue 23's "Why"): an image longer than 10:1 is refused
with a sentence that says what to do (there is no crop tool to point to); a 1×1 image is taken and the summary
says it was enlarged to the model's 96×96 px; an animated GIF is taken and the summary says its first frame was
used. In English at 1280×800 and in Chinese at 390×844; screenshots go to $VITDEMO_SHOTS (default: the test's
temporary folder). The expected sentences are written out by hand.

Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import pytest
from PIL import Image

from tests.browser import MARKS

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

SAID = {
    "en-US": {"screen": (1280, 800), "refused": "Upload a narrower part of it, cut out in any photo editor",
              "crop": "crop",
              "enlarged": "Your 1×1 image is much smaller than what the model reads: it was enlarged to 96×96 px",
              "first_frame": "Your GIF is animated: its first frame was used."},
    "zh-CN": {"screen": (390, 844), "refused": "请上传其中较窄的一部分（用任何图片编辑器都能截取）",
              "crop": "裁",
              "enlarged": "你的图像只有 1×1，比模型读取的尺寸小得多：已放大到 96×96 像素",
              "first_frame": "你的 GIF 是动图：只用了它的第一帧。"},
}


def upload(page, path) -> None:
    page.locator("#input-image input[type=file]").set_input_files(str(path))


def summary_says(page, text: str) -> None:
    page.wait_for_function("t => document.querySelector('#summary')?.innerText.includes(t)", arg=text)


@pytest.mark.parametrize("locale", SAID)
def test_the_page_says_what_it_did_to_an_odd_upload(new_page, shots, tmp_path, locale):
    said = SAID[locale]
    width, height = said["screen"]
    page = new_page(width=width, height=height, locale=locale)
    banner, dot, moving = tmp_path / "banner.png", tmp_path / "dot.png", tmp_path / "moving.gif"
    Image.new("RGB", (1100, 100), (30, 90, 200)).save(banner)
    Image.new("RGB", (1, 1), (200, 30, 40)).save(dot)
    frames = [Image.new("RGB", (96, 96), colour) for colour in ((220, 0, 0), (0, 220, 0), (0, 0, 220))]
    frames[0].save(moving, save_all=True, append_images=frames[1:], duration=100, loop=0)

    upload(page, banner)
    toast = page.locator(".toast-body [data-testid=toast-text]", has_text=said["refused"]).first
    toast.wait_for()
    assert said["crop"] not in toast.inner_text(), toast.inner_text()
    page.screenshot(path=str(shots / f"refused_{locale}_{width}.png"))

    upload(page, dot)
    summary_says(page, said["enlarged"])
    page.locator("#summary").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"enlarged_{locale}_{width}.png"))
    upload(page, moving)
    summary_says(page, said["first_frame"])
    assert said["enlarged"] not in page.locator("#summary").inner_text(), "a 96×96 GIF is not enlarged"
    page.screenshot(path=str(shots / f"first_frame_{locale}_{width}.png"))
    assert page.errors == []
