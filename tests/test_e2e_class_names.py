"""Issue 26 item 4 in Chromium: the bundled model's class names in Chinese on a Chinese page (top-5, the
explorer's caption and class choices, the summary) and in English on an English one; the explorer keeps the
model's labels as its values (data-view's target, file names). Names written out by hand, not from the table."""

from __future__ import annotations

import pytest

from tests.browser import MARKS, shown_name, stamp, wait_painted

pytestmark = MARKS

CASES = {"zh-CN": {"width": 390, "height": 844, "relevance": "相关性"},
         "en-US": {"width": 1280, "height": 800, "relevance": "Relevance"}}


def text_of(page, selector: str) -> str:
    return page.evaluate("s => [...document.querySelectorAll(s)].map((e) => e.textContent).join(' ')", selector)


@pytest.mark.parametrize("locale", CASES)
def test_class_names_follow_the_pages_language(new_page, shots, locale):
    case = CASES[locale]
    page = new_page(width=case["width"], height=case["height"], locale=locale)
    top = page.evaluate("window.vitdemo.decoded.payload.top.map(([label]) => label)")
    named = [shown_name(locale, label) for label in top]
    assert top[0] == "star"  # the page opens on the star example
    assert named[0] in text_of(page, "#labels") and all(n in text_of(page, "#labels") for n in named)
    if locale == "zh-CN":
        assert "star" not in text_of(page, "#labels")
        assert "圆, 正方形, 三角形" in text_of(page, "#summary")
    before = stamp(page)
    page.locator("#explorer .vx-method button", has_text=case["relevance"]).click()
    assert wait_painted(page, before)["method"] == "relevance"
    assert f"“{named[0]}”" in text_of(page, "#explorer .vx-caption"), text_of(page, "#explorer .vx-caption")
    options = page.locator("#explorer-target select option")
    assert options.all_inner_texts()[1:] == named  # shown in the reader's language ...
    assert [options.nth(i).get_attribute("value") for i in range(1, len(top) + 1)] == top  # ... valued as labels
    before = stamp(page)
    page.locator("#explorer-target select").select_option(top[1])
    assert wait_painted(page, before)["target"] == top[1]
    page.wait_for_function("s => document.querySelector('#explorer .vx-caption').textContent.includes(s)",
                           arg=f"“{named[1]}”")
    page.locator("#explorer").scroll_into_view_if_needed()
    page.screenshot(path=str(shots / f"class_names_{locale}.png"))
    assert page.errors == []
