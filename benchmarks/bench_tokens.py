"""The model view and the token matrix in Chromium: time to draw, time to read a hovered cell, requests.

    python -m benchmarks.bench_tokens                 # bundled model + a random ViT-B/16 (bf16)
    python -m benchmarks.bench_tokens --skip-vitb

Each repetition picks another layer and head with the explorer's controls, then opens the token matrix and
the model view with their buttons. Times are taken in the page, from just before the button's click to the
canvas's `data-drawn` stamp (set when that view is drawn: at once from the bundle, or once the server's
`score_matrix` answers, for grids whose scores the bundle leaves out); a hover from the mousemove to the
hover line written. Requests are counted by Playwright over all repetitions.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from benchmarks.bench_explorer import CHROMIUM, percentile, random_vit_b16  # noqa: E402

REPEATS = 12
STREAMS = ("/queue/data", "/heartbeat/")  # Gradio's event streams, open as long as the page: not this view's

OPEN_JS = """async ([mode, canvas]) => {
  const root = document.querySelector('#explorer'), target = root.querySelector(canvas);
  const t0 = performance.now();
  const drawn = new Promise((resolve) => {
    const seen = new MutationObserver(() => {
      if (Number(target.dataset.drawn || 0) > t0) { seen.disconnect(); resolve(); }
    });
    seen.observe(target, { attributes: true, attributeFilter: ['data-drawn'] });
  });
  root.querySelector(`.vx-modes button[data-mode=${mode}]`).click();
  await drawn;
  return Number(target.dataset.drawn) - t0;
}"""
PICK_JS = """([layer, head]) => {
  const root = document.querySelector('#explorer');
  root.querySelector('.vx-modes button[data-mode=map]').click();
  const range = root.querySelector('#explorer-layer input'); range.value = layer;
  range.dispatchEvent(new Event('input', {bubbles: true}));
  const select = root.querySelector('#explorer-head select'); select.value = head;
  select.dispatchEvent(new Event('change', {bubbles: true}));
}"""
HOVER_JS = """([fx, fy]) => {
  const canvas = document.querySelector('#explorer .vx-matrix-cells'), box = canvas.getBoundingClientRect();
  const t0 = performance.now();
  canvas.dispatchEvent(new MouseEvent('mousemove', {clientX: box.left + 8 + fx * (box.width - 8),
                                                   clientY: box.top + 8 + fy * (box.height - 8), bubbles: true}));
  return performance.now() - t0;
}"""


def settle(demo, quiet_s: float = 1.0, timeout_s: float = 60.0) -> None:
    """Until the app's queue has been empty for `quiet_s` in a row (the page load's chained events done)."""
    deadline, since = time.monotonic() + timeout_s, None
    while time.monotonic() < deadline:
        idle = not demo._queue.event_ids_to_events
        since = (since or time.monotonic()) if idle else None
        if since is not None and time.monotonic() - since >= quiet_s:
            return
        time.sleep(0.05)


def measure(model: str, label: str, browser) -> dict[str, object]:
    from vitdemo.app import build_app, launch_options

    demo = build_app(model)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    try:
        page.goto(demo.local_url)
        page.wait_for_function("() => !!document.querySelector('#explorer')?.dataset.painted", timeout=120_000)
        settle(demo)  # the page load's follow-up events answered first
        payload = page.evaluate("() => window.vitdemo.decoded.payload")
        depth, heads, tokens = payload["depth"], payload["heads"], payload["tokens"]
        page.on("request", lambda r: None if any(s in r.url for s in STREAMS) else requests.append(r.url))
        matrix, model_view, hovers = [], [], []
        for i in range(REPEATS):
            page.evaluate(PICK_JS, [str(1 + i % depth), str(i % heads)])
            matrix.append(page.evaluate(OPEN_JS, ["matrix", ".vx-matrix-cells"]))
            hovers += [page.evaluate(HOVER_JS, [(k + 0.5) / 7, (i % 5 + 0.5) / 5]) for k in range(7)]
            model_view.append(page.evaluate(OPEN_JS, ["model", ".vx-model canvas"]))
        return {"model": label, "tokens": tokens["count"], "in_bundle": tokens["scores"] is not None,
                "depth": depth, "heads": heads, "matrix": matrix, "model_view": model_view, "hovers": hovers,
                "requests": len(requests), "urls": sorted(set(requests))}
    finally:
        page.close()
        demo.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--skip-vitb", action="store_true", help="measure the bundled model only")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        rows.append(measure("bundled", "bundled (96 px)", browser))
        if not args.skip_vitb:
            with tempfile.TemporaryDirectory() as folder:
                os.environ["VITDEMO_PRECISION"] = "bf16"
                rows.append(measure(str(random_vit_b16(Path(folder))), "ViT-B/16 random, bf16", browser))
        browser.close()
    print("| model | tokens | scores | model view (layers × heads) p50 / p95 | token matrix p50 / p95 "
          "| hover p50 / p95 | repetitions | requests |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        def spread(values: list[float]) -> str:
            return f"{statistics.median(values):.1f} / {percentile(values, 0.95):.1f} ms"

        print(f"| {r['model']} | {r['tokens']} | {'in the bundle' if r['in_bundle'] else 'on request'} | "
              f"{spread(r['model_view'])} ({r['depth']} × {r['heads']}) | {spread(r['matrix'])} | "
              f"{spread(r['hovers'])} | {REPEATS} | {r['requests']} |")
    for r in rows:
        print(f"{r['model']}: requests to {r['urls']}")


if __name__ == "__main__":
    main()
