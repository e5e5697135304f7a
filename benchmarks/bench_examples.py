"""First paint after an example click, in Chromium (issue 23; target ≤ 200 ms on the bundled model).

    python -m benchmarks.bench_examples                    # the bundled app, 5 rounds, ~1 min
    python -m benchmarks.bench_examples --rounds 10 --model <key or folder>

Each round clicks every example of the page in turn (each click a new picture), twice over: once with the
app's analysis cache emptied just before each click (the forward pass included: the first visitor to click
that example) and once with the analysis cached (every later visitor). The time runs, in the page, from
`performance.now()` just before the example's button is clicked to the explorer's `data-painted` stamp of the
new analysis: Gradio's events, the server's work, the transfer, the bundle's decoding and the paint. Each
click waits for the page to be at rest first (no request under way for 0.3 s). The page is 1280×800. Prints
one row per example and cache state (median, p90, max over the rounds) and one over all clicks.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = "/usr/bin/chromium"
TIMEOUT_MS = 120_000
STREAMS = ("/queue/data", "/heartbeat/")
CLICK_JS = """(index) => {
  const root = document.querySelector('#explorer');
  const before = [Number(root.dataset.painted || 0), JSON.stringify(window.vitdemo.decoded?.payload.key)];
  const button = document.querySelectorAll('#examples .gallery-item')[index];
  const t0 = performance.now();
  button.click();
  return [t0, ...before];
}"""
NEW_PAINT = """([painted, key]) => Number(document.querySelector('#explorer').dataset.painted || 0) > painted
  && JSON.stringify(window.vitdemo.decoded?.payload.key) !== key"""


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def idle(page, pending: set, quiet_s: float = 0.3) -> None:
    """Wait until the page has had no request under way for `quiet_s` (the events that follow a paint, such as
    the open tab's refresh, are done): each click starts from a page at rest, as a visitor's does."""
    deadline, quiet_since = time.monotonic() + TIMEOUT_MS / 1000, None
    while time.monotonic() < deadline:
        page.evaluate("() => 0")  # lets Playwright deliver the page's request events first
        quiet_since = (quiet_since or time.monotonic()) if not pending else None
        if quiet_since is not None and time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(0.02)


def click_times(page, demo, names: list[str], rounds: int, cold: bool, pending: set) -> dict[str, list[float]]:
    """{example: [click → painted ms, one per round]}; `cold` empties the analysis cache before each click."""
    times: dict[str, list[float]] = {name: [] for name in names}
    for _ in range(rounds):
        for index, name in enumerate(names):
            idle(page, pending)
            if cold:
                demo.vitdemo_engine.cache._items.clear()
            t0, painted, key = page.evaluate(CLICK_JS, index)
            page.wait_for_function(NEW_PAINT, arg=[painted, key], timeout=TIMEOUT_MS)
            times[name].append(float(page.locator("#explorer").get_attribute("data-painted")) - t0)
    return times


def measure(model: str, rounds: int) -> tuple[list[tuple[str, str, list[float]]], str]:
    """(rows of (example, cache state, times), the device line) for the app on `model`."""
    from playwright.sync_api import sync_playwright

    from vitdemo.app import build_app, launch_options

    demo = build_app(model)
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 1280, "height": 800})
            page.set_default_timeout(TIMEOUT_MS)
            pending: set = set()  # requests under way, Gradio's event streams left out (open as long as the page)
            page.on("request", lambda r: None if any(s in r.url for s in STREAMS) else pending.add(r))
            page.on("requestfinished", lambda r: pending.discard(r))
            page.on("requestfailed", lambda r: pending.discard(r))
            page.goto(demo.local_url)
            page.wait_for_function("() => !!document.querySelector('#explorer')?.dataset.painted")
            sources = page.locator("#examples .gallery-item img").evaluate_all("i => i.map(x => x.src)")
            names = [Path(s).name for s in sources]
            _, painted, key = page.evaluate(CLICK_JS, len(names) - 1)  # start on the last: the page opens on the
            page.wait_for_function(NEW_PAINT, arg=[painted, key])  # first, and every click must be a new picture
            for cold in (True, False):
                state = "not cached (forward)" if cold else "cached"
                for name, times in click_times(page, demo, names, rounds, cold, pending).items():
                    rows.append((name, state, times))
            browser.close()
    finally:
        demo.close()
    return rows, f"{os.cpu_count()} CPU cores"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="First paint after an example click, in Chromium.")
    parser.add_argument("--rounds", type=int, default=5, help="clicks per example and cache state")
    parser.add_argument("--model", default="bundled", help="the app's model (key, hub id or folder)")
    args = parser.parse_args(argv)
    rows, device = measure(args.model, args.rounds)
    print(f"model: {args.model}; {args.rounds} clicks per example and cache state; {device}; 1280×800")
    print("| example | analysis | median | p90 | max |")
    print("|---|---|---:|---:|---:|")
    for name, state, times in rows:
        print(f"| {name} | {state} | {statistics.median(times):.0f} ms | {percentile(times, 0.9):.0f} ms | "
              f"{max(times):.0f} ms |")
    for state in ("not cached (forward)", "cached"):
        every = [t for _, s, times in rows if s == state for t in times]
        print(f"| **all {len(every)} clicks** | {state} | **{statistics.median(every):.0f} ms** | "
              f"**{percentile(every, 0.9):.0f} ms** | {max(every):.0f} ms |")


if __name__ == "__main__":
    main()
