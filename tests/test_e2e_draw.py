"""The "Draw" input, end to end: shapes drawn with the mouse on the sketchpad in Chromium are analysed and named.

Strokes are made with `page.mouse` (down, moves, up), as a person draws: outlines, a little unsteady (a fixed
jitter), one stroke per contour (a ring is two circles), with the brush the pad opens with (nobody picks it).
Each finished stroke becomes the image input in the page and the page's one update event analyses it (see
vitdemo/app/draw.py), so this checks the whole path: sketchpad → image → framing → model → top-5, at 1280×800
in English and at phone width in Chinese, and which requests a stroke sends. The scorecard test draws all
eleven classes once and writes how many the bundled model names right to the JSON file named by
$VITDEMO_DRAW_SCORE (if set); the model card reports that number.

Needs /usr/bin/chromium (`.ci/run` installs it with apt-get); never `playwright install`.
"""

from __future__ import annotations

import json
import math
import os
import random
from pathlib import Path

import pytest

from tests.browser import MARKS, open_page, settle, stamp, wait_painted
from vitdemo.data.shapes import SHAPE_LABELS

pytestmark = MARKS
playwright = pytest.importorskip("playwright.sync_api")

TIMEOUT_MS = 120_000  # the shared CI machine can be slow; the first analysis also imports torch
MIN_CORRECT = 9  # of the eleven scorecard drawings (measured: MODEL_CARD.md)
REQUESTS_PER_STROKE = 4  # issue 23's target, Gradio's event stream included


def _circle(cx: float, cy: float, r: float, n: int = 36) -> list[tuple[float, float]]:
    return [(cx + r * math.cos(2 * math.pi * k / n), cy + r * math.sin(2 * math.pi * k / n)) for k in range(n + 1)]


def _polygon(points: list[tuple[float, float]]) -> list[tuple[float, float]]:
    return points + points[:1]


def _regular(sides: int, r: float, start: float = -math.pi / 2) -> list[tuple[float, float]]:
    angles = [start + 2 * math.pi * k / sides for k in range(sides)]
    return _polygon([(0.5 + r * math.cos(a), 0.5 + r * math.sin(a)) for a in angles])


def _heart() -> list[tuple[float, float]]:
    t = [2 * math.pi * k / 48 for k in range(49)]
    return [(0.5 + 0.022 * 16 * math.sin(a) ** 3,
             0.47 - 0.022 * (13 * math.cos(a) - 5 * math.cos(2 * a) - 2 * math.cos(3 * a) - math.cos(4 * a)))
            for a in t]


def _crescent() -> list[tuple[float, float]]:
    outer = [(0.5 + 0.4 * math.cos(a), 0.5 + 0.4 * math.sin(a)) for a in
             (math.radians(d) for d in range(60, 301, 10))]
    inner = [(0.62 + 0.3 * math.cos(a), 0.5 + 0.3 * math.sin(a)) for a in
             (math.radians(d) for d in range(285, 74, -10))]
    return outer + inner + outer[:1]


# Strokes in fractions of the drawing area (x right, y down), one list per stroke.
DRAWINGS: dict[str, list[list[tuple[float, float]]]] = {
    "circle": [_circle(0.5, 0.5, 0.38)],
    "square": [_polygon([(0.18, 0.18), (0.82, 0.18), (0.82, 0.82), (0.18, 0.82)])],
    "triangle": [_polygon([(0.5, 0.12), (0.88, 0.82), (0.12, 0.82)])],
    "star": [_polygon([(0.5 + (0.42 if k % 2 == 0 else 0.19) * math.cos(-math.pi / 2 + k * math.pi / 5),
                        0.52 + (0.42 if k % 2 == 0 else 0.19) * math.sin(-math.pi / 2 + k * math.pi / 5))
                       for k in range(10)])],
    "pentagon": [_regular(5, 0.4)],
    "cross": [_polygon([(0.4, 0.12), (0.6, 0.12), (0.6, 0.4), (0.88, 0.4), (0.88, 0.6), (0.6, 0.6), (0.6, 0.88),
                        (0.4, 0.88), (0.4, 0.6), (0.12, 0.6), (0.12, 0.4), (0.4, 0.4)])],
    "ring": [_circle(0.5, 0.5, 0.4), _circle(0.5, 0.5, 0.24)],
    "diamond": [_polygon([(0.5, 0.1), (0.76, 0.5), (0.5, 0.9), (0.24, 0.5)])],
    "heart": [_heart()],
    "crescent": [_crescent()],
    "arrow": [_polygon([(0.1, 0.43), (0.58, 0.43), (0.58, 0.25), (0.9, 0.5), (0.58, 0.75), (0.58, 0.57),
                        (0.1, 0.57)])],
}
# Drawn besides the scorecard: a circle as large as the pad allows, its outline a pen's width from the paper's
# edges (the drawing area is 0.7 of the pad and the paper about 0.79 of it). Unframed it read "crescent 70%".
LARGE = {"large circle": [_circle(0.5, 0.5, 0.53)]}
STROKES = {**DRAWINGS, **LARGE}


def drawing_page(page):
    page.locator("#draw-panel").get_by_text("Draw a shape").click()  # the accordion is closed at first
    return page


@pytest.fixture(scope="module")
def desktop_drawings(browser, app) -> dict[str, tuple[str, list[str]]]:
    """Each class drawn once on one page at 1280×800, in STROKES' order: {drawn: (top-1 shown, the requests
    sent from the first stroke until the page settled)}. Drawing is the slow part of these tests, so the
    desktop runs share it."""
    page = drawing_page(open_page(browser, app, timeout_ms=TIMEOUT_MS))
    try:
        return {name: draw(page, name) for name in STROKES}
    finally:
        page.close()


CLEAR = ", ".join(f"#draw button[aria-label='{label}']" for label in ("Clear canvas", "清除画布", "清空画布"))
BRUSH_READY = "() => window.editor?.current_tool === 'draw' && !!document.querySelector('#draw button.highlight')"


def brush_ready(page) -> None:
    """Wait until the pad's brush is the active tool, as the pad opens and after a clear, without picking it."""
    page.wait_for_function(BRUSH_READY)


def top1(page) -> str:
    return page.locator("#labels [data-testid=label-output-value]").inner_text().strip()


def drawing_area(page) -> dict[str, float]:
    """The middle of the pad's canvas, well inside the white paper it shows (fit to the box, centred)."""
    canvas = page.locator("#draw canvas").first
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    side = 0.7 * min(box["width"], box["height"])
    return {"x": box["x"] + (box["width"] - side) / 2, "y": box["y"] + (box["height"] - side) / 2, "side": side}


def draw(page, name: str, seed: int = 0) -> tuple[str, list[str]]:
    """Clear the pad, draw `name` with the mouse; (the top-1 label once its analysis is shown, the requests
    sent meanwhile as "METHOD path [fn name]")."""
    page.locator(CLEAR).first.click()
    brush_ready(page)
    settle(page)
    area, rng = drawing_area(page), random.Random(f"{name}/{seed}")
    before, sent = stamp(page), []
    listen = lambda r: sent.append(described(page, r))  # noqa: E731
    page.on("request", listen)
    for stroke in STROKES[name]:
        points = [(area["x"] + (u + rng.uniform(-0.012, 0.012)) * area["side"],
                   area["y"] + (v + rng.uniform(-0.012, 0.012)) * area["side"]) for u, v in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y)  # the pad joins successive points with straight strokes
        page.mouse.up()
    wait_painted(page, before)
    settle(page)
    page.remove_listener("request", listen)
    return top1(page), sent


def described(page, request) -> str:
    """"POST /gradio_api/queue/join update": the method, the path and, for a queued event, its function."""
    path = request.url.split(page.app.local_url.rstrip("/"), 1)[-1].split("?")[0]
    event = json.loads(request.post_data or "{}").get("fn_index") if path.endswith("/queue/join") else None
    name = f" {list(page.app.fns.values())[event].name}" if event is not None else ""
    return f"{request.method} {path}{name}"


VIEWPORTS = pytest.mark.parametrize("viewport", [(1280, 800), (390, 844)], ids=["desktop", "phone"])


@VIEWPORTS
def test_a_drawing_becomes_the_analysed_image(new_page, shots, viewport):
    """Draw a triangle: the image input now shows the drawing (dark ink on white), and the explorer is
    repainted with it, with a top-5 beside it."""
    page = drawing_page(new_page(*viewport, timeout_ms=TIMEOUT_MS))
    first = page.locator("#input-image img").first.get_attribute("src")
    shown, _ = draw(page, "triangle")
    page.screenshot(path=str(shots / f"draw-triangle-{viewport[0]}.png"), full_page=viewport[0] < 640)
    assert shown in SHAPE_LABELS, f"the top-1 is one of the bundled model's classes, not {shown!r}"
    assert page.locator("#input-image img").first.get_attribute("src") != first, "the drawing is the image"
    ink = page.evaluate("""() => {
        const c = document.querySelector('#explorer .vx-grid'), g = c.getContext('2d');
        const px = g.getImageData(0, 0, c.width, c.height).data; let dark = 0, light = 0;
        for (let i = 0; i < px.length; i += 4) { const l = (px[i] + px[i + 1] + px[i + 2]) / 3;
          if (l < 80) dark++; else if (l > 200) light++; }
        return [dark, light]; }""")
    assert ink[1] > 5 * ink[0] > 0, f"the explorer's picture is dark strokes on white paper: {ink}"


# The model bundled before the curriculum retrain read this drawn triangle as a diamond and the circle as a square;
# before drawings were framed (vitdemo/framing.py), the large circle read as a crescent.
NAMED = {"triangle": "triangle", "circle": "circle", "large circle": "circle"}
NAMED_ZH = {"triangle": "三角形", "circle": "圆", "large circle": "圆"}  # a Chinese page names the classes in Chinese


@pytest.mark.parametrize("viewport, locale", [((1280, 800), "en-US"), ((390, 844), "zh-CN")],
                         ids=["desktop-en", "phone-zh"])
def test_drawn_triangle_and_circles_are_named(request, new_page, viewport, locale):
    """On the desktop, as drawn for the scorecard; at phone width in Chinese, on a page of its own, where the
    brush is ready as the pad opens too."""
    if viewport[0] >= 640:
        shown = {name: label for name, (label, _) in request.getfixturevalue("desktop_drawings").items()}
    else:
        page = new_page(*viewport, locale=locale, timeout_ms=TIMEOUT_MS)
        page.locator("#draw-panel").get_by_text("画一个图形").click()
        shown = {name: draw(page, name)[0] for name in NAMED}
    for name, label in (NAMED_ZH if locale == "zh-CN" else NAMED).items():
        assert shown[name] == label, f"drew a {name}, the page says {shown[name]!r}"


def test_a_stroke_is_analysed_once_and_the_pad_sends_nothing(desktop_drawings):
    """Per drawing, the pad itself sends no request (before: its blobs to `accept_blobs` and `/upload`, 20-100
    a stroke), the analysis runs once per stroke (one `update` event, not one per change) and a stroke sends at
    most REQUESTS_PER_STROKE requests in all (before: 8, four follow-up events of every analysis)."""
    for name, (_, sent) in desktop_drawings.items():
        pad = [r for r in sent if "/upload" in r or "/component_server" in r or "/file=" in r]
        updates = [r for r in sent if r.endswith("/queue/join update")]
        assert not pad, (name, sent)
        assert 1 <= len(updates) <= len(STROKES[name]), (name, sent)
        assert len(sent) <= REQUESTS_PER_STROKE * len(STROKES[name]), (name, sent)


def test_with_the_tour_open_a_stroke_redraws_its_step_within_the_same_requests(new_page):
    """With a tab the server draws open (the tour, at its first step: the input image), a stroke redraws it
    through the one follow-up event: the events and their streams stay within REQUESTS_PER_STROKE; the
    browser then fetches the step's new picture (one `/file=` request, the content the tab shows)."""
    page = drawing_page(new_page(1280, 800, timeout_ms=TIMEOUT_MS))
    page.locator("#tour-start").click()
    page.wait_for_function("() => !!document.querySelector('#tour-picture img')?.getAttribute('src')")
    before = page.locator("#tour-picture img").first.get_attribute("src")
    _, sent = draw(page, "circle")
    assert [r for r in sent if "/queue/join" in r] == ["POST /gradio_api/queue/join update",
                                                        "POST /gradio_api/queue/join redraw"], sent
    pictures = [r for r in sent if "/file=" in r]
    assert len(pictures) <= 1 and len(sent) - len(pictures) <= REQUESTS_PER_STROKE, sent
    page.wait_for_function("s => document.querySelector('#tour-picture img')?.getAttribute('src') !== s", arg=before)
    assert 'data-step="image"' in page.locator("#tour-progress").inner_html(), "the step the visitor was on"


def test_drawn_shapes_scorecard(desktop_drawings):
    """Each class drawn once; the bundled model names at least MIN_CORRECT of the eleven (the count is saved)."""
    shown = {name: label for name, (label, _) in desktop_drawings.items() if name in DRAWINGS}
    correct = sorted(name for name, label in shown.items() if label == name)
    report = {"correct": len(correct), "of": len(DRAWINGS), "shown": shown}
    print(json.dumps(report))
    if os.environ.get("VITDEMO_DRAW_SCORE"):
        Path(os.environ["VITDEMO_DRAW_SCORE"]).write_text(json.dumps(report, indent=1))
    assert len(correct) >= MIN_CORRECT, report
