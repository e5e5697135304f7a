"""The sketchpad in Chromium (issue 23): mouse-up to the painted map, and the requests each stroke sends.

    python -m benchmarks.bench_sketch [--strokes 12]

The app runs in this process on the bundled model; one Chromium page at 1280×800 opens the "Draw a shape"
panel and, for each stroke, clears the pad and draws one single-stroke shape with the mouse (the test
drawings of tests/test_e2e_draw.py, cycled). Mouse-up to painted is measured in the page: from the
`pointerup` event to the explorer's `data-painted` stamp (set right after its canvas is drawn). Requests are
counted by Playwright from the stroke's mouse-down until the page is settled (no request under way, the app's
queue empty), so the events that follow every analysis are included; each is listed by kind.
"""

from __future__ import annotations

import argparse
import collections
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SHAPES = ("circle", "triangle", "square", "star", "heart", "arrow")  # one stroke each
UP_JS = """() => { window.__sketchUp = null;
  document.addEventListener('pointerup', () => { window.__sketchUp = performance.now(); }, {capture: true}); }"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def stroke(page, name: str, seed: int) -> tuple[float, list[str]]:
    """Draw `name` once on a cleared pad: (mouse-up to painted in ms, the requests sent)."""
    from tests.browser import settle, stamp, wait_painted
    from tests.test_e2e_draw import CLEAR, STROKES, brush_ready, described, drawing_area

    page.locator(CLEAR).first.click()
    brush_ready(page)
    settle(page)
    area, sent = drawing_area(page), []
    listen = lambda r: sent.append(described(page, r))  # noqa: E731
    rng = __import__("random").Random(f"{name}/{seed}")
    points = [(area["x"] + (u + rng.uniform(-0.012, 0.012)) * area["side"],
               area["y"] + (v + rng.uniform(-0.012, 0.012)) * area["side"]) for u, v in STROKES[name][0]]
    before = stamp(page)
    page.on("request", listen)
    page.mouse.move(*points[0])
    page.mouse.down()
    for x, y in points[1:]:
        page.mouse.move(x, y)
    page.mouse.up()
    wait_painted(page, before)
    painted = page.evaluate("() => Number(document.querySelector('#explorer').dataset.painted) - window.__sketchUp")
    settle(page)
    page.remove_listener("request", listen)
    return painted, sent


def kind(request: str) -> str:
    """A request by what sends it: the pad's own uploads, the analysis, or the events that follow it."""
    if "/upload" in request or "/component_server" in request:
        return "pad uploads"
    if request.endswith("/queue/join update"):
        return "update (the analysis)"
    if "/queue/data" in request:
        return "queue stream"
    return request.split(" ", 1)[1].replace("/gradio_api", "")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--strokes", type=int, default=12, help="strokes to draw (default: 12)")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    from tests.browser import BROWSER_ARGS, CHROMIUM, open_page
    from vitdemo.app import build_app, launch_options

    demo = build_app("bundled")
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    times, counts, kinds = [], [], collections.Counter()
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
            page = open_page(browser, demo, timeout_ms=120_000)
            page.locator("#draw-panel").get_by_text("Draw a shape").click()
            page.evaluate(UP_JS)
            for i in range(args.strokes):
                painted, sent = stroke(page, SHAPES[i % len(SHAPES)], i)
                times.append(painted)
                counts.append(len(sent))
                kinds.update(kind(r) for r in sent)
            browser.close()
    finally:
        demo.close()
    print(f"bundled model, Chromium 1280×800, {args.strokes} strokes\n")
    print("| mouse-up → painted map, median | p90 | requests per stroke, median | max |")
    print("|---:|---:|---:|---:|")
    print(f"| {statistics.median(times):.0f} ms | {percentile(times, 0.9):.0f} ms | {statistics.median(counts):g} | "
          f"{max(counts)} |")
    print("\n| request | per stroke |")
    print("|---|---:|")
    for name, n in kinds.most_common():
        print(f"| {name} | {n / args.strokes:.2f} |")


if __name__ == "__main__":
    main()
