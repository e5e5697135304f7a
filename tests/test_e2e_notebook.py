"""Issue 26 item 3: `vitdemo.explorer_html(analysis)` saved to a file and opened in Chromium from file://, with no
server running: the page's `#explorer` contract (data-painted, data-view, #explorer-layer, #explorer-head), views
and layers switched, a class method drawn from the bundle, and no request beyond the file itself.
"""

from __future__ import annotations

import html
import json
from pathlib import Path

import pytest
from PIL import Image

import vitdemo
from tests.browser import CHROMIUM, PAINTED, painted

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing")]

STAR = Path(__file__).resolve().parents[1] / "assets" / "examples" / "shape_star.png"
DEPTH = 6  # the bundled model's layers (assets/bundled/config.json)


def repaint(page, action) -> dict:
    before = float(page.locator("#explorer").get_attribute("data-painted") or 0)
    action()
    page.wait_for_function(PAINTED, arg=before)
    return painted(page)


def test_the_saved_explorer_opens_offline_and_switches_views(browser, tmp_path, shots):
    analysis = vitdemo.analyze(vitdemo.load("bundled"), Image.open(STAR))
    document = vitdemo.explorer_html(analysis)
    shown = analysis._repr_html_()
    assert shown.startswith("<iframe srcdoc=") and html.escape(document, quote=True) in shown
    file = tmp_path / "explorer.html"
    file.write_text(document, encoding="utf-8")

    page = browser.new_page(viewport={"width": 1280, "height": 800}, locale="en-US")
    requests, errors = [], []
    page.on("request", lambda r: requests.append(r.url))
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(file.as_uri())
    page.wait_for_function(PAINTED, arg=0)
    view = painted(page)
    assert (view["method"], view["layer"], view["head"]) == ("attention", DEPTH, "mean")
    assert page.locator("#explorer-layer input[type=range]").get_attribute("max") == str(DEPTH)

    view = repaint(page, lambda: page.locator("#explorer .vx-method button[data-method=rollout]").click())
    assert view["method"] == "rollout"
    layer = page.locator("#explorer-layer input[type=range]")
    view = repaint(page, lambda: layer.evaluate("(e) => { e.value = '1'; e.dispatchEvent(new Event('input')); }"))
    assert (view["method"], view["layer"]) == ("rollout", 1)
    view = repaint(page, lambda: page.locator("#explorer .vx-method button[data-method=attention]").click())
    view = repaint(page, lambda: page.locator("#explorer-head select").select_option("0"))
    assert (view["method"], view["head"]) == ("attention", 1)  # the bundle's head 0, counted from 1
    view = repaint(page, lambda: page.locator("#explorer .vx-method button[data-method=relevance]").click())
    assert view["method"] == "relevance"
    target = page.locator("#explorer-target select")
    second = json.loads(page.evaluate("JSON.stringify([...document.querySelectorAll('#explorer-target option')]"
                                      ".map(o => o.value))"))[2]
    view = repaint(page, lambda: target.select_option(second))  # a class from the bundle, not from a server
    assert view["target"] == second and page.locator("#explorer .vx-status").inner_text() == ""
    page.screenshot(path=str(shots / "notebook_explorer.png"))
    assert requests == [file.as_uri()] or all(u == file.as_uri() or u.startswith("data:") for u in requests), requests
    assert file.as_uri() in requests and errors == []
    page.close()
