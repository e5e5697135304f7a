"""The page in the reader's language, in Chromium: a browser set to Chinese (locale zh-CN) gets the labels,
tab names, explorer controls, status line and messages in Chinese, with no English left among them; a
browser set to English (en-US) gets them in English; on a desktop screen and at phone width.

The locale sets both what the page's scripts read (navigator.language, then Gradio's <html lang>) and the
Accept-Language header the server answers in. Screenshots go to $VITDEMO_SHOTS (default: the test's own
temporary folder).

Needs /usr/bin/chromium; never `playwright install`.
"""

from __future__ import annotations

import re

import pytest

from tests.browser import MARKS, stamp, wait_painted

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

SCREENS = {"desktop": {"width": 1280, "height": 800}, "phone": {"width": 390, "height": 844}}
# What each reader must see, written out by hand (not read from the string tables).
CHINESE = {
    "#model": "模型", "#patch-size": "图像块大小（像素）", "#keep-aspect": "保持宽高比（非正方形网格，最多 3:1）",
    "#labels": "前 5 名", "#input-image": "图像", "#examples": "示例",
    "#explorer-layer": "层", "#explorer-head": "注意力头", "#explorer .vx-back": "回到类别标记",
    "#explorer .vx-display summary": "显示选项", "#status": "按要求运行内置的形状模型。",
}
ENGLISH = {
    "#model": "Model", "#patch-size": "Patch size (px)",
    "#keep-aspect": "Keep aspect ratio (non-square grid, up to 3:1)",
    "#labels": "Top-5", "#input-image": "Image", "#examples": "Examples",
    "#explorer-layer": "Layer", "#explorer-head": "Head", "#explorer .vx-back": "Back to the class token",
    "#explorer .vx-display summary": "Display options", "#status": "Running the bundled shapes model, as requested.",
}
TABS = {"zh-CN": ["本层的所有注意力头", "比较图像块大小", "实时查看每一步", "模型探查"],
        "en-US": ["All heads of this layer", "Compare patch sizes", "The recipe, live", "Model probing"]}
METHODS = {"zh-CN": ["注意力", "注意力展开", "相关性", "LeGrad", "标记范数", "特征", "Logit 透镜"],
           "en-US": ["Attention", "Rollout", "Relevance", "LeGrad", "Token norms", "Features", "Logit lens"]}
TAB_NAMES = "#tabs .tab-container[aria-hidden=true] button"  # every tab's name, also those a phone folds away
# Texts that must hold no English words in Chinese: every label above, the patch-size hint, the explorer's
# controls and caption. Names that stay as they are in Chinese text are allowed.
NO_ENGLISH = ["#model label, #model [data-testid=block-info]", "#patch-size [data-testid=block-info]",
              "#keep-aspect", "#labels [data-testid=block-label]", "#examples .label", "#patch-hint",
              "#explorer .vx-controls", "#explorer .vx-display", "#explorer .vx-caption", "#status",
              TAB_NAMES]
ALLOWED = {"LeGrad", "Logit", "ViT", "PI", "resize", "FlexiViT", "inferno", "viridis", "magma", "plasma", "turbo",
           "jet", "gray", "AUC"}
CJK = re.compile(r"[\u4e00-\u9fff]")


def texts(page, selector: str) -> str:
    """The words of every element `selector` matches, hidden ones too, without the choices of a <select>
    (class labels and colormap names are data, not words of the page)."""
    return page.evaluate("""s => [...document.querySelectorAll(s)].map((e) => {
      const copy = e.cloneNode(true); copy.querySelectorAll("select").forEach((x) => x.remove());
      return copy.textContent; }).join(" ")""", selector)


# The first head and the first patch, as each reader reads them: counted from 1 (issue 23's one way of counting).
FIRST = {"zh-CN": {"option": "第 1 个头", "head": "，第 1 个头。", "hover": "第 1 行，第 1 列 · 标记 1",
                   "patch": "图像块（第 1 行，第 1 列）关注哪里"},
         "en-US": {"option": "head 1", "head": ", head 1. Click a patch", "hover": "row 1, col 1 · token 1",
                   "patch": "What patch (row 1, col 1) attends to"}}
AT_FIRST_PATCH = """type => {
    const canvas = document.querySelector('#explorer .vx-map'), box = canvas.getBoundingClientRect();
    const p = window.vitdemo.decoded.payload;
    canvas.dispatchEvent(new MouseEvent(type, {clientX: box.left + 0.5 * box.width / p.grid[1],
                                               clientY: box.top + 0.5 * box.height / p.grid[0], bubbles: true}));
}"""


def first_head_and_patch_are_counted_from_1(page, locale: str, shot) -> None:
    """The head select's first head, the caption with it, the hover read-out and the caption of the first patch
    all say 1, in the page's language; the page is left as it was (mean of heads, no patch)."""
    said = FIRST[locale]
    head = page.locator("#explorer-head select")
    assert head.locator("option[value='0']").inner_text() == said["option"]
    before = stamp(page)
    head.select_option("0")  # the bundle's head 0
    assert wait_painted(page, before)["head"] == 1, "data-view counts heads from 1 as well"
    assert said["head"] in texts(page, "#explorer .vx-caption"), texts(page, "#explorer .vx-caption")
    page.evaluate(AT_FIRST_PATCH, "mousemove")
    assert texts(page, "#explorer .vx-hover").startswith(said["hover"]), texts(page, "#explorer .vx-hover")
    before = stamp(page)
    page.evaluate(AT_FIRST_PATCH, "click")
    assert wait_painted(page, before)["patch"] == [0, 0]
    assert texts(page, "#explorer .vx-caption").startswith(said["patch"]), texts(page, "#explorer .vx-caption")
    page.locator("#explorer .vx-caption").scroll_into_view_if_needed()
    page.screenshot(path=str(shot))
    before = stamp(page)
    page.locator("#explorer .vx-back").click()
    head.select_option("mean")
    wait_painted(page, before)


def english_words(text: str) -> set[str]:
    return {w for w in re.findall(r"[A-Za-z]{3,}", text) if w not in ALLOWED}


@pytest.mark.parametrize("screen", SCREENS)
def test_a_chinese_browser_gets_a_chinese_page(new_page, shots, screen):
    page = new_page(**SCREENS[screen], locale="zh-CN")
    page.screenshot(path=str(shots / f"zh_{screen}.png"))
    assert page.evaluate("navigator.language") == "zh-CN"
    for selector, expected in CHINESE.items():
        assert expected in texts(page, selector), (selector, texts(page, selector))
    assert page.locator(TAB_NAMES).all_text_contents()[:4] == TABS["zh-CN"]
    assert page.locator("#explorer .vx-method button").all_inner_texts() == METHODS["zh-CN"]
    assert "这个模型只认识 11 个类别" in texts(page, "#summary") and "个图像块" in texts(page, "#summary")
    assert "内置形状 ViT（离线可用）" in texts(page, "#summary")  # the model's name too
    assert page.locator("#model input").input_value() == "内置形状 ViT（离线可用）"
    assert "第 6 层（共 6 层）" in texts(page, "#explorer .vx-caption")
    leftovers = {s: english_words(texts(page, s)) for s in NO_ENGLISH}
    assert not any(leftovers.values()), {s: w for s, w in leftovers.items() if w}
    first_head_and_patch_are_counted_from_1(page, "zh-CN", shots / f"zh_{screen}_first_patch.png")
    assert page.errors == []


@pytest.mark.parametrize("screen", SCREENS)
def test_an_english_browser_gets_an_english_page(new_page, shots, screen):
    page = new_page(**SCREENS[screen], locale="en-US")
    page.screenshot(path=str(shots / f"en_{screen}.png"))
    for selector, expected in ENGLISH.items():
        assert expected in texts(page, selector), (selector, texts(page, selector))
    assert page.locator(TAB_NAMES).all_text_contents()[:4] == TABS["en-US"]
    assert page.locator("#explorer .vx-method button").all_inner_texts() == METHODS["en-US"]
    assert "This model knows only 11 classes" in texts(page, "#summary")
    chinese = {s: texts(page, s) for s in NO_ENGLISH + ["#summary"] if CJK.search(texts(page, s))}
    assert not chinese, chinese
    first_head_and_patch_are_counted_from_1(page, "en-US", shots / f"en_{screen}_first_patch.png")
    assert page.errors == []


def test_server_messages_follow_the_browsers_language(new_page, shots, tmp_path):
    """A refused upload is explained in Chinese to a Chinese browser (the toast comes from the server, in the
    request's language), and the explorer's own server answers too."""
    bogus = tmp_path / "notes.png"
    bogus.write_text("this is not a picture\n")
    page = new_page(locale="zh-CN")
    page.locator(".vx-method button[data-method=rollout]").click()
    assert "注意力展开：把注意力从第一层一直跟到这一层" in texts(page, "#explorer .vx-caption")
    page.locator("#input-image input[type=file]").set_input_files(str(bogus))
    # The message (Gradio's own header, "Warning", is the toast's type and stays English).
    toast = page.locator(".toast-body [data-testid=toast-text]", has_text="这个文件不是我们能读取的图像")
    toast.first.wait_for()
    said = toast.first.inner_text()
    assert "（看起来是 纯文本）" in said and "可接受：PNG、JPEG" in said
    assert not english_words(said) - {"PNG", "JPEG", "GIF", "WebP", "BMP", "TIFF"}, said
    page.wait_for_function("() => document.querySelector('#explorer .vx').hidden")
    assert "上传或粘贴一张图像" in texts(page, "#summary")
    page.screenshot(path=str(shots / "zh_refused_upload.png"))
