"""The explorer in Chromium: view-switch latency, requests during switches, bundle sizes, first paint,
patch-size change.

    python -m benchmarks.bench_explorer                 # bundled model + a random ViT-B/16 (bf16), ~2 min
    python -m benchmarks.bench_explorer --skip-vitb     # bundled model only

Latency is measured in the page: `performance.now()` just before the control's input event is dispatched,
to the explorer's `data-painted` stamp (set right after the canvas is drawn) and to the next animation
frame (when the browser shows it). Requests are counted by Playwright over all switches. A "first paint"
runs from the click on an example to the new analysis painted; a patch-size change from the click on the
radio to the painted bundle of the new size, server and transfer included (the analysis cache is emptied
first, so the forward pass is included even when going back to a size seen before). ViT-B/16 has random weights
(transformers' ViTConfig defaults, saved with save_pretrained) and runs in bf16 on this CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = "/usr/bin/chromium"
ROOT = Path(__file__).resolve().parents[1]
SWITCHES = 40

SWITCH_JS = """async ([kind, value]) => {
  const root = document.querySelector('#explorer'), before = Number(root.dataset.painted || 0);
  const t0 = performance.now();
  if (kind === 'layer') { const c = root.querySelector('#explorer-layer input'); c.value = value;
                          c.dispatchEvent(new Event('input', {bubbles: true})); }
  else if (kind === 'head') { const c = root.querySelector('#explorer-head select'); c.value = value;
                              c.dispatchEvent(new Event('change', {bubbles: true})); }
  else if (kind === 'method') { root.querySelector(`.vx-method button[data-method=${value}]`).click(); }
  const painted = Number(root.dataset.painted || 0);
  if (painted <= before) return null;
  const frame = await new Promise((resolve) => requestAnimationFrame((t) => resolve(performance.now())));
  return [painted - t0, frame - t0];
}"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def random_vit_b16(folder: Path) -> Path:
    import transformers

    model = transformers.ViTForImageClassification(transformers.ViTConfig(num_labels=1000))
    model.save_pretrained(folder)
    return folder


def view_switches(page, depth: int, heads: int) -> tuple[list[float], list[float]]:
    sequence = []
    for i in range(SWITCHES):
        kind = ("layer", "head", "method")[i % 3]
        value = {"layer": str(1 + i % depth), "head": ["mean", "max", "0", str(min(1, heads - 1))][i % 4],
                 "method": ["attention", "rollout"][i % 2]}[kind]
        sequence.append((kind, value))
    painted, framed = [], []
    for step in sequence:
        result = page.evaluate(SWITCH_JS, list(step))
        if result:
            painted.append(result[0])
            framed.append(result[1])
    return painted, framed


def wait_for_bundle(page, test: str, arg: object, timeout_ms: int = 120_000) -> None:
    page.wait_for_function(test, arg=arg, timeout=timeout_ms)


def measure(model: str, label: str, browser, patch_change: tuple[int, ...]) -> dict[str, object]:
    from vitdemo.app import build_app, launch_options

    demo = build_app(model)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    page = browser.new_page(viewport={"width": 1280, "height": 800})
    requests: list[str] = []
    try:
        page.goto(demo.local_url)
        wait_for_bundle(page, "() => !!document.querySelector('#explorer')?.dataset.painted", None)
        payload = page.evaluate("() => window.vitdemo.decoded.payload")
        sizes = {payload["patch"]: len(json.dumps(payload))}
        page.on("request", lambda r: requests.append(r.url))
        painted, framed = view_switches(page, payload["depth"], payload["heads"])
        switch_requests = len(requests)
        # First paint after an example click (a new image: forward + bundle + transfer + decode + paint).
        page.locator("#examples").get_by_role("button").nth(1).click()
        t0 = time.perf_counter()
        wait_for_bundle(page, "k => JSON.stringify(window.vitdemo.decoded?.payload.key) !== JSON.stringify(k)",
                        payload["key"])
        first_paint = time.perf_counter() - t0
        changes = {}
        for p in patch_change:
            demo.vitdemo_engine.cache._items.clear()  # a change to a size not analysed yet: the forward included
            page.locator("#patch-size label", has_text=str(p)).first.click()
            t0 = time.perf_counter()
            wait_for_bundle(page, "p => window.vitdemo.decoded?.payload.patch === p", p)
            changes[p] = time.perf_counter() - t0
            sizes[p] = len(json.dumps(page.evaluate("() => window.vitdemo.decoded.payload")))
        return {"model": label, "switch_p50": statistics.median(painted), "switch_p95": percentile(painted, 0.95),
                "frame_p50": statistics.median(framed), "frame_p95": percentile(framed, 0.95),
                "switches": len(painted), "requests": switch_requests, "first_paint": first_paint,
                "changes": changes, "sizes": sizes}
    finally:
        page.close()
        demo.close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The explorer in Chromium: latency, requests, sizes.")
    parser.add_argument("--skip-vitb", action="store_true", help="measure the bundled model only")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    rows = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
        rows.append(measure("bundled", "bundled (96 px)", browser, patch_change=(8, 32)))
        if not args.skip_vitb:
            with tempfile.TemporaryDirectory() as folder:
                os.environ["VITDEMO_PRECISION"] = "bf16"
                rows.append(measure(str(random_vit_b16(Path(folder))), "ViT-B/16 random, bf16", browser,
                                    patch_change=(8, 16)))
        browser.close()
    print("| model | view switch p50 / p95 (to painted) | to frame p50 / p95 | switches | requests during "
          "switches | first paint after an example click |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['model']} | {r['switch_p50']:.1f} / {r['switch_p95']:.1f} ms | {r['frame_p50']:.1f} / "
              f"{r['frame_p95']:.1f} ms | {r['switches']} | {r['requests']} | {r['first_paint'] * 1000:.0f} ms |")
    print("\n| model | patch size | bundle size | patch-size change, click to painted |")
    print("|---|---|---|---|")
    for r in rows:
        for p, size in sorted(r["sizes"].items()):
            change = r["changes"].get(p)
            shown = f"{change * 1000:.0f} ms" if change is not None else "(first page)"
            print(f"| {r['model']} | {p} | {size / 1e6:.2f} MB | {shown} |")


if __name__ == "__main__":
    main()
