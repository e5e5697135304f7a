"""The README's pictures, regenerated: launch the app, drive it in headless Chromium, save numbered screenshots.

    python -m tools.walkthrough [--out assets/screenshots] [--model bundled] [--image assets/examples/shape_star.png]
    python -m tools.walkthrough --lang zh   # the page in Chinese (browser locale zh-CN), into assets/screenshots/zh

Each step does what a visitor does (upload an image, draw a shape on the sketchpad, pick patch sizes and
methods, read the logit lens at a middle layer, open the model view and the token matrix and click a row, open
the per-head gallery and switch heads off until the answer changes, ask for the head effects, click a patch,
open the recipe and probing tabs, step through the guided tour) and saves `NN-name.png`: the same inputs give
the same pictures, so a changed screenshot means a changed app. What keeps them deterministic: a fixed
1280×800 viewport, animations and transitions switched off, mouse strokes and clicks at fixed fractions of the
element (no random jitter), the mouse parked off the page before each picture, every pending event and image
load awaited, and the one run-dependent text on the page (the analysis time) blanked. The screenshots are
reduced to a 256-colour palette (no dithering), which keeps each well under 400 KB.

Chromium is Debian's `/usr/bin/chromium` (never `playwright install`, which downloads a browser); the app
runs in this process on a free loopback port, offline, and is closed at the end.
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import socket
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = "/usr/bin/chromium"
# --disable-partial-raster: re-rasterising only the changed part of a tile draws anti-aliased edges that
# cross the changed area differently (±2 levels) from a full raster, so the same page gave different pixels.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--disable-partial-raster"]
VIEWPORT = {"width": 1280, "height": 800}
NO_ANIMATIONS = "*{transition:none!important;animation:none!important}"
MAX_PNG_BYTES = 400_000
TIMEOUT_MS = 120_000  # one step: a first analysis on a busy CPU, or a model load
# The run-dependent text: the analysis time in the summary line ("· 349 ms", "· 1.2 s").
TIMING = re.compile(r"\s*·\s*[\d.,]+\s*(?:(?:ms|s)\b|毫秒)(?:\s*\(cached\))?")
# The browser's locale for each --lang: it sets the page's language (Gradio's labels, the explorer) and the
# Accept-Language header the server writes its messages in.
LOCALES = {"en": "en-US", "zh": "zh-CN"}
BLANK_TIMINGS = """pattern => {
    const walker = document.createTreeWalker(document.querySelector('#summary') || document.body, NodeFilter.SHOW_TEXT);
    for (let node; (node = walker.nextNode());) node.nodeValue = node.nodeValue.replace(new RegExp(pattern, 'g'), '');
}"""
ALL_SETTLED = """() => [...document.querySelectorAll('[data-testid="status-tracker"]')]
                        .every(e => e.classList.contains('hide'))
                   && [...document.images].every(i => i.complete)
                   && !document.querySelector('#explorer .vx-status')?.textContent"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_app(model: str | None) -> Iterator[str]:
    """The app on a free 127.0.0.1 port, its model loaded; yields the URL, closes the server on exit."""
    from vitdemo.app import build_app, launch_options

    demo = build_app(model)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True, **launch_options())
    demo.vitdemo_engine.warm_up().join()
    try:
        yield f"http://127.0.0.1:{port}/"
    finally:
        demo.close()


class Camera:
    """Saves the page as `NN-name.png`, once it has settled, as a palette PNG."""

    def __init__(self, page: Any, out_dir: Path):
        self.page, self.out_dir, self.count, self.saved = page, out_dir, 0, []

    def settle(self) -> None:
        """Wait for every pending Gradio event and image, then blank the run-dependent timing text."""
        self.page.wait_for_timeout(300)  # let a just-triggered event register as pending
        self.page.wait_for_function(ALL_SETTLED, timeout=TIMEOUT_MS)
        self.page.wait_for_timeout(200)
        self.page.evaluate(BLANK_TIMINGS, TIMING.pattern)
        self.page.mouse.move(0, 0)
        self.page.evaluate("document.activeElement && document.activeElement.blur()")  # no focus ring


    def shoot(self, name: str) -> Path:
        self.settle()
        self.count += 1
        path = self.out_dir / f"{self.count:02d}-{name}.png"
        path.write_bytes(palette_png(self.page.screenshot(animations="disabled", caret="hide")))
        self.saved.append(path)
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path} ({path.stat().st_size // 1024} KB)")
        return path


def palette_png(png: bytes, colors: int = 256) -> bytes:
    """The screenshot with at most `colors` colours (no dithering: flat UI stays flat), under MAX_PNG_BYTES."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    while True:
        out = io.BytesIO()
        image.quantize(colors, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE).save(out, "PNG",
                                                                                                optimize=True)
        if out.tell() < MAX_PNG_BYTES or colors <= 32:
            return out.getvalue()
        colors //= 2


def scroll_to(page: Any, selector: str) -> None:
    """Put the element at the top of the viewport (the same scroll position every run)."""
    page.locator(selector).evaluate("e => e.scrollIntoView({block: 'start'})")


def click_option(page: Any, group: str, text: str) -> None:
    """Click the radio option of `group` (an elem_id) whose label starts with `text`."""
    page.locator(f"#{group} label").filter(has_text=re.compile(rf"^\s*{re.escape(text)}\b")).first.click()


def patch_options(page: Any) -> list[str]:
    """The patch sizes the page offers, as their labels' leading numbers."""
    labels = page.locator("#patch-size label").all_inner_texts()
    return [m[0] for m in (re.match(r"\s*(\d+)", t) for t in labels) if m]


def three_sizes(options: list[str]) -> list[str]:
    """The smallest, a middle and the largest offered patch size (fewer if fewer are offered)."""
    picks = [options[0], options[len(options) // 2], options[-1]] if options else []
    return list(dict.fromkeys(picks))


def walk(page: Any, camera: Camera, image: Path) -> None:
    """The steps, in the README's order."""
    camera.shoot("start-page")

    upload(page, image)
    camera.shoot("uploaded-image")
    sketchpad(page, camera)
    upload(page, image)  # back to the image for the rest of the walk
    camera.settle()

    sizes = three_sizes(patch_options(page))
    for size in sizes:
        new_grid(page, size)
        camera.shoot(f"patch-grid-{size}px")
    new_grid(page, sizes[len(sizes) // 2])  # the methods on a mid-size grid

    for method in ("attention", "rollout", "relevance"):
        pick_method(page, method)
        camera.shoot(f"method-{method}")
    logit_lens(page, camera)
    pick_method(page, "attention")
    model_view_and_matrix(page, camera)

    page.locator("#tab-heads-button").click()  # tabs by elem_id: their names are in the page's language
    camera.settle()
    scroll_to(page, "#tabs")
    camera.shoot("per-head-gallery")
    heads_off(page, camera)

    page.evaluate("window.scrollTo(0, 0)")
    box = page.locator("#explorer .vx-map").first.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.55, box["y"] + box["height"] * 0.45)
    camera.shoot("click-a-patch")
    page.locator("#explorer .vx-back").click()

    for tab, name in (("#tab-recipe-button", "recipe-tab"), ("#tab-probing-button", "probing-tab")):
        page.locator(tab).click()
        camera.settle()
        scroll_to(page, "#tabs")
        camera.shoot(name)

    guided_tour(page, camera)
    registers_side_by_side(page, camera)


def painted_at(page: Any) -> float:
    """The explorer's data-painted: when it last painted (the page's clock)."""
    return float(page.locator("#explorer").get_attribute("data-painted") or 0)


def new_grid(page: Any, size: str) -> None:
    """Pick the patch size and wait for the explorer to paint its grid: Gradio's progress goes away when the
    answer arrives, a moment before the explorer has decoded and painted it."""
    click_option(page, "patch-size", size)
    page.wait_for_function("p => JSON.parse(document.querySelector('#explorer').dataset.view || '{}').patch_size"
                           " === p", arg=int(size), timeout=TIMEOUT_MS)


def remove_image_button() -> str:
    """The image input's clear button, whichever language the page speaks (Gradio's labels are translated)."""
    from vitdemo.app.i18n import CHINESE, ENGLISH, text

    labels = dict.fromkeys(text("explorer.gradio.remove_image", lang) for lang in (ENGLISH, CHINESE))
    return ", ".join(f"#input-image button[aria-label='{label}']" for label in labels)


def upload(page: Any, image: Path) -> None:
    page.locator(remove_image_button()).first.click()
    page.locator("#input-image input[type=file]").set_input_files(str(image))


def pick_method(page: Any, method: str) -> None:
    page.locator(f"#explorer .vx-method button[data-method={method}]").click()


def set_layer(page: Any, layer: int) -> None:
    """The explorer's layer slider at `layer` (counted from 1, as the page counts)."""
    page.locator("#explorer-layer input[type=range]").fill(str(layer))


def last_layer(page: Any) -> int:
    return int(page.locator("#explorer-layer input[type=range]").get_attribute("max"))


# A circle drawn with the mouse as one stroke, in fractions of the pad's drawing area (no jitter: deterministic).
CIRCLE = [(0.5 + 0.38 * math.cos(2 * math.pi * k / 48), 0.5 + 0.38 * math.sin(2 * math.pi * k / 48))
          for k in range(49)]
BRUSH_READY = "() => window.editor?.current_tool === 'draw' && !!document.querySelector('#draw button.highlight')"
PAINTED_AFTER = "t => Number(document.querySelector('#explorer')?.dataset.painted || 0) > t"


def sketchpad(page: Any, camera: Camera) -> None:
    """Open "Draw a shape", draw a circle with the mouse: the stroke is analysed when it ends (map, top-5)."""
    page.locator("#draw-panel .label-wrap").first.click()  # the accordion is closed at first
    page.wait_for_function(BRUSH_READY)
    canvas = page.locator("#draw canvas").first
    canvas.scroll_into_view_if_needed()
    camera.settle()
    box = canvas.bounding_box()
    side = 0.7 * min(box["width"], box["height"])  # well inside the paper the pad shows
    left, top = box["x"] + (box["width"] - side) / 2, box["y"] + (box["height"] - side) / 2
    before = painted_at(page)
    page.mouse.move(left + CIRCLE[0][0] * side, top + CIRCLE[0][1] * side)
    page.mouse.down()
    for u, v in CIRCLE[1:]:
        page.mouse.move(left + u * side, top + v * side)
    page.mouse.up()
    page.wait_for_function(PAINTED_AFTER, arg=before, timeout=TIMEOUT_MS)
    page.evaluate("window.scrollTo(0, 0)")
    camera.shoot("sketchpad")
    page.locator("#draw-panel .label-wrap").first.click()  # closed again: the rest shows the image


def logit_lens(page: Any, camera: Camera) -> None:
    """The logit lens at a middle layer: what the class token would answer there, each patch in its class's colour."""
    pick_method(page, "logit-lens")
    depth = last_layer(page)
    set_layer(page, (depth + 1) // 2)
    camera.settle()
    scroll_to(page, "#explorer")  # the lens's top-3 and legend sit under the map
    camera.shoot("logit-lens")
    page.evaluate("window.scrollTo(0, 0)")
    set_layer(page, depth)


def model_view_and_matrix(page: Any, camera: Camera) -> None:
    """The model view (every layer × head), then the token × token matrix with one patch's row clicked and its
    query·key scores; back to the map view at the end."""
    page.locator("#explorer .vx-modes button[data-mode=model]").click()
    camera.shoot("model-view")
    page.locator("#explorer .vx-modes button[data-mode=matrix]").click()
    page.wait_for_function("() => !!document.querySelector('#explorer .vx-matrix-cells')?.dataset.head")
    count = page.evaluate("() => window.vitdemo.decoded.payload.tokens.count")
    grid = round((count - 1) ** 0.5)  # the square grid of the walkthrough's image (one class token)
    query = 1 + (grid // 2) * grid + grid // 2  # a patch in the middle of the image, rows and columns from 0
    cells = page.locator("#explorer .vx-matrix-cells")
    box, band = cells.bounding_box(), 8  # the cells start 8 CSS px in (the token kinds' band)
    cell = (box["width"] - band) / count
    cells.click(position={"x": band + (count // 3 + 0.5) * cell, "y": band + (query + 0.5) * cell})
    page.wait_for_function("() => document.querySelector('#explorer .vx-scores tbody tr')")
    camera.settle()
    scroll_to(page, "#explorer")
    camera.shoot("token-matrix")
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#explorer .vx-modes button[data-mode=map]").click()
    camera.settle()


# Heads of the last layer that, switched off together, turn the bundled model's star into a triangle
# (patch 16: star 91% → triangle 50%), counted from 1 as the page counts them.
FLIP_HEADS = (1, 3)


def heads_off(page: Any, camera: Camera) -> None:
    """In the per-head gallery (the explorer's layer, here the last), click heads off until the answer changes,
    then ask for the layers × heads table of effects."""
    depth = last_layer(page)
    for n, head in enumerate(FLIP_HEADS, start=1):
        page.locator(f"#heads-gallery figure[data-head='{depth}.{head}']").click()
        page.wait_for_function(
            "n => JSON.parse(document.querySelector('#heads-gallery [data-ablated]')?.dataset.ablated || '{}')"
            ".heads?.length === n", arg=n)
    scroll_to(page, "#tabs")
    camera.shoot("heads-off")
    page.locator("#heads-gallery .vg-effects-button").click()
    page.wait_for_function("() => document.querySelector('#heads-gallery [data-effects]')")
    scroll_to(page, "#heads-gallery .vg-effects")
    camera.shoot("head-effects")
    for head in FLIP_HEADS:  # back on, for the steps after
        page.locator(f"#heads-gallery figure[data-head='{depth}.{head}']").click()
    page.wait_for_function("() => !document.querySelector('#heads-gallery [data-ablated]')"
                           " || !JSON.parse(document.querySelector('#heads-gallery [data-ablated]').dataset.ablated"
                           " || '{}').heads?.length")
    camera.settle()


TOUR_STEP = """k => document.querySelector('#tour-progress [data-step]')?.dataset.step === k"""


def guided_tour(page: Any, camera: Camera, stop: str = "encoder") -> None:
    """The guided tour opened from the header and stepped with Next to `stop` (a step key), then left."""
    from vitdemo.explain.tour import STEP_KEYS

    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#tour-start").click()
    page.wait_for_function(TOUR_STEP, arg="image")
    for _ in range(len(STEP_KEYS)):
        if page.locator("#tour-progress [data-step]").get_attribute("data-step") == stop:
            break
        page.locator("#tour-next").click()
        camera.settle()  # one step at a time
    page.wait_for_function(TOUR_STEP, arg=stop)
    if stop == "encoder":  # the last block: where the class token ends up looking
        last = page.locator("#tour-block input[type=number]")
        last.fill(page.locator("#tour-block input[type=range]").get_attribute("max"))
        last.press("Enter")
        camera.settle()
    scroll_to(page, "#tour")
    camera.shoot("guided-tour")
    page.locator("#tour-free").click()
    camera.settle()


# The side-by-side step: DINOv2-S/14 without and with registers, on a photo (registers matter on real images).
REGISTERS_PAIR = ("dinov2-s", "dinov2-reg-s")
PHOTO = ROOT / "assets" / "examples" / "cat.jpg"


def registers_side_by_side(page: Any, camera: Camera) -> None:
    """The same photo through DINOv2 without and with registers, last layer's attention, side by side.

    Runs only when both real checkpoints can load (in the Hugging Face cache, or the hub reachable with
    HF_HUB_OFFLINE=0); otherwise says so and takes no picture, rather than show random weights.
    """
    from vitdemo.app.models import REGISTRY, hub_offline, is_cached

    main, second = (REGISTRY[key] for key in REGISTERS_PAIR)
    if hub_offline() and not all(is_cached(entry) for entry in (main, second)):
        print(f"skipped side-by-side-registers: {main.source} and {second.source} are not both in the Hugging "
              "Face cache (run with HF_HUB_OFFLINE=0 where the hub is reachable to download them, ~180 MB)")
        return
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#model input").click()
    page.get_by_role("option", name=main.title).first.click()
    page.wait_for_function("t => window.vitdemo.decoded?.payload.title === t", arg=main.title, timeout=600_000)
    upload(page, PHOTO)
    camera.settle()
    page.locator("#tab-models-button").click()
    page.wait_for_function("t => (document.querySelector('#models-compare')?.dataset.views || '').includes(t)",
                           arg=second.title, timeout=600_000)
    scroll_to(page, "#tabs")
    camera.shoot("side-by-side-registers")


def run(out_dir: Path, model: str | None, image: Path, steps: Callable[[Any, Camera, Path], None] = walk,
        lang: str = "en") -> list[Path]:
    """Launch the app and the browser, take every screenshot into `out_dir` (old numbered ones removed), with
    the browser set to `lang` ("en" or "zh", see LOCALES)."""
    from playwright.sync_api import sync_playwright

    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("[0-9][0-9]-*.png"):
        old.unlink()
    with running_app(model) as url, sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport=VIEWPORT, device_scale_factor=1, reduced_motion="reduce",
                                    locale=LOCALES[lang])
            page.set_default_timeout(TIMEOUT_MS)
            page.goto(url)
            page.wait_for_selector("#explorer[data-painted]")  # the page's own first analysis is painted
            page.add_style_tag(content=NO_ANIMATIONS)
            camera = Camera(page, out_dir)
            steps(page, camera, image)
            return camera.saved
        finally:
            browser.close()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.walkthrough", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None,
                        help="screenshot folder (default: assets/screenshots, for --lang zh assets/screenshots/zh)")
    parser.add_argument("--model", default="bundled", help="the app's model (default: bundled, works offline)")
    parser.add_argument("--image", type=Path, default=ROOT / "assets" / "examples" / "shape_star.png",
                        help="the image to upload (default: the star example; the bundled model knows shapes)")
    parser.add_argument("--lang", choices=sorted(LOCALES), default="en",
                        help="the page's language: the browser's locale is set to it (default: en)")
    args = parser.parse_args(argv)
    if args.out is None:
        args.out = ROOT / "assets" / "screenshots" / ("" if args.lang == "en" else args.lang)
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # before huggingface_hub is imported: never wait on the network
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    if not Path(CHROMIUM).exists():
        print(f"{CHROMIUM} not found: install Debian's chromium (apt-get install chromium)", file=sys.stderr)
        return 1
    saved = run(args.out, args.model, args.image, lang=args.lang)
    too_big = [p.name for p in saved if p.stat().st_size >= MAX_PNG_BYTES]
    if too_big:
        print(f"over {MAX_PNG_BYTES // 1000} KB: {', '.join(too_big)}", file=sys.stderr)
    return 1 if too_big else 0


if __name__ == "__main__":
    sys.exit(main())
