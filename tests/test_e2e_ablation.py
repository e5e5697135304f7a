"""Head ablation and the sanity check in Chromium, at desktop and phone width, in English and Chinese (issue 24).

Click a head's map in the per-head gallery: it is switched off and the top-5 without it appears, with the heads
named layer.head counted from 1, and the probabilities the library gives for that head (counted from 0) switched
off. The layers × heads table of effects and the sanity curves come on request. Needs /usr/bin/chromium.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from tests.browser import MARKS, shown_name
from vitdemo.app.cache import AnalysisKey
from vitdemo.app.i18n import CHINESE, ENGLISH, text

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

ABLATED = "document.querySelector('#heads-gallery [data-ablated]')?.dataset.ablated"  # JSON {heads, top}
SETTINGS = [(1280, 800, "en-US", ENGLISH), (390, 844, "zh-CN", CHINESE)]


@pytest.mark.parametrize(("width", "height", "locale", "lang"), SETTINGS, ids=["desktop-en", "phone-zh"])
def test_switching_a_head_off_changes_the_top5(new_page, app, shots, width, height, locale, lang):
    page = new_page(width, height, locale)
    key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    analysis = app.vitdemo_engine.cached(AnalysisKey(*key))
    depth, heads = analysis.depth, analysis.heads
    page.locator(".vx-method button[data-method=attention]").click()
    page.get_by_role("tab", name=text("page.tab.heads", lang)).click()
    page.wait_for_function("n => document.querySelectorAll('#heads-gallery figure.vg-switch').length === n", arg=heads)
    # the explorer shows the last layer: switch off its heads 1 and 3 (page counting), one click each
    page.locator(f"#heads-gallery figure[data-head='{depth}.1']").click()
    page.wait_for_function(f"() => {ABLATED}")
    page.locator(f"#heads-gallery figure[data-head='{depth}.3']").click()
    page.wait_for_function(f"() => JSON.parse({ABLATED} || '{{}}').heads?.length === 2")
    shown = json.loads(page.locator("#heads-gallery [data-ablated]").get_attribute("data-ablated"))
    assert shown["heads"] == [f"{depth}.1", f"{depth}.3"]
    expected = analysis.ablate([(depth - 1, 0), (depth - 1, 2)])
    order = np.argsort(-expected)[:5]
    assert [label for label, _ in shown["top"]] == [analysis.labels[i] for i in order]
    assert [p for _, p in shown["top"]] == pytest.approx(expected[order].tolist(), abs=1e-6)
    before = [p for _, p in analysis.top(5)]
    assert max(abs(a - b) for a, b in zip(sorted(expected, reverse=True)[:5], before)) > 1e-3  # the top-5 changed
    line = page.locator("#heads-gallery .vg-ablated").inner_text()
    assert line.startswith(text("explorer.ablation.without", lang, heads=f"{depth}.1, {depth}.3", top="")[:6])
    assert all(shown_name(locale, label) in line for label, _ in shown["top"]), line  # names in the page's language
    if locale.startswith("zh"):
        assert not any(label in line for label, _ in shown["top"]), line
    assert page.locator(f"#heads-gallery figure[data-head='{depth}.1']").get_attribute("aria-pressed") == "true"
    page.locator("#heads-gallery .vg-effects-button").click()
    page.wait_for_function("() => document.querySelector('#heads-gallery [data-effects]')")
    effects = json.loads(page.locator("#heads-gallery [data-effects]").get_attribute("data-effects"))
    assert effects["target"] == analysis.top(1)[0][0]
    effects_note = page.locator("#heads-gallery .vg-effects-note").inner_text()
    assert f"“{shown_name(locale, effects['target'])}”" in effects_note, effects_note
    assert np.allclose(effects["effects"], analysis.head_effects(), atol=1e-6)
    assert page.locator("#heads-gallery .vg-effects tr").count() == depth + 1
    page.screenshot(path=str(shots / f"ablation-{width}-{lang[:2]}.png"), full_page=True)
    page.locator(f"#heads-gallery figure[data-head='{depth}.1']").click()  # back on: one head still off
    page.wait_for_function(f"() => JSON.parse({ABLATED} || '{{}}').heads?.length === 1")
    assert not page.errors


def test_the_sanity_curves_come_on_request(new_page, app, shots):
    page = new_page(390, 844, "zh-CN")
    key = page.evaluate("() => window.vitdemo.decoded.payload.key")
    analysis = app.vitdemo_engine.cached(AnalysisKey(*key))
    page.locator(".vx-faith summary").click()
    page.locator(".vx-sanity-button").click()
    page.wait_for_function("() => document.querySelector('#explorer [data-sanity]')")
    curves = json.loads(page.locator("#explorer [data-sanity]").get_attribute("data-sanity"))
    expected = analysis.sanity_comparison()
    assert set(curves) == set(expected)
    for name, values in expected.items():
        assert curves[name] == pytest.approx(values, abs=1e-9)
    assert page.locator(".vx-sanity-curves").is_visible()
    assert page.locator(".vx-sanity-legend").inner_text().count("\n") == len(curves)  # the axis, then one line each
    page.locator(".vx-sanity").screenshot(path=str(shots / "sanity-390-zh.png"))
    assert not page.errors
