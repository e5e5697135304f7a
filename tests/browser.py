"""What every server and browser test shares: the app on the bundled model, served once for the whole run, one
Debian Chromium (never `playwright install`, which downloads), a page factory, and waits on the page's state.

The fixtures (`app`, `browser`, `page`, `new_page`) are made available to every test module by conftest.py. A module
that needs another app (another model, a slow engine) defines its own `app` fixture with `serving`:
`new_page` then opens that one. Starting Gradio and Chromium costs seconds each on a busy 2-core machine,
which is why there is one of each per run rather than one per module.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 45_000  # generous: the machine is shared, and a page's first analysis may load a model
MARKS = [  # every browser test module: `pytestmark = MARKS`
    pytest.mark.browser,
    pytest.mark.server,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]
PAINTED = "t => Number(document.querySelector('#explorer')?.dataset.painted || 0) > t"
BUSY = "() => !!document.querySelector('.progress-text, .eta-bar, .meta-text')"  # Gradio's progress on outputs
STREAMS = ("/queue/data", "/heartbeat/")  # Gradio's event streams: open as long as the page, never "under way"
# The bundled model's class names a reader sees (issue 26 item 4), written out by hand, not from vitdemo's table.
SHOWN_NAMES = {"zh-CN": {"circle": "圆", "square": "正方形", "triangle": "三角形", "star": "星形", "pentagon": "五边形",
                         "cross": "十字", "ring": "圆环", "diamond": "菱形", "heart": "心形", "crescent": "月牙",
                         "arrow": "箭头"}}


def shown_name(locale: str, label: str) -> str:
    """`label` as a page in `locale` shows it: Chinese for the bundled shapes on a Chinese page, else itself."""
    return SHOWN_NAMES.get(locale, {}).get(label, label)


@contextmanager
def serving(demo: Any) -> Iterator[Any]:
    """`demo` (a gr.Blocks) served on a free local port with the app's launch options until the block ends."""
    from vitdemo.app import launch_options

    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    try:
        yield demo
    finally:
        demo.close()


@pytest.fixture(scope="session")
def bundled_app() -> Iterator[Any]:
    """The app on the bundled model, served once for the whole run. Tests may read and patch its engine
    (with monkeypatch, so it is put back) but leave it serving the bundled model."""
    from vitdemo.app import build_app

    with serving(build_app("bundled")) as demo:
        yield demo


@contextmanager
def app_under_test(request: pytest.FixtureRequest) -> Iterator[Any]:
    """The run's bundled app, or one of its own on $VITDEMO_TEST_MODEL (a checkpoint folder or key), for the
    modules that may be pointed at another model."""
    model = os.environ.get("VITDEMO_TEST_MODEL", "bundled")
    if model == "bundled":
        yield request.getfixturevalue("bundled_app")
        return
    from vitdemo.app import build_app

    with serving(build_app(model)) as demo:
        yield demo


@pytest.fixture(scope="session")
def app(bundled_app: Any) -> Any:
    """The app a test talks to: the bundled one, unless its module defines an `app` of its own."""
    return bundled_app


@pytest.fixture(scope="session", name="browser")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, once for the whole run; each page gets a context of its own."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield browser
        browser.close()


def open_page(browser: Any, app: Any, width: int = 1280, height: int = 800, locale: str = "en-US",
              timeout_ms: int = TIMEOUT_MS, scale: float = 1) -> Any:
    """A new page of `app` at width×height in `locale` (its own browser context) at devicePixelRatio
    `scale`, once its first analysis is
    painted and the page load's follow-up events have run. `page.errors` collects console errors and
    uncaught exceptions; `page.app` is the app it shows; `page.loading` the requests under way (uploads
    included: a drawing or a file is uploaded before its event is queued). Close it with `page.close()`."""
    page = browser.new_page(viewport={"width": width, "height": height}, locale=locale, accept_downloads=True,
                            device_scale_factor=scale)
    page.set_default_timeout(timeout_ms)
    page.errors, page.app, page.loading = [], app, set()
    page.on("console", lambda m: page.errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: page.errors.append(str(e)))
    page.on("request", lambda r: None if any(s in r.url for s in STREAMS) else page.loading.add(r))
    page.on("requestfinished", lambda r: page.loading.discard(r))
    page.on("requestfailed", lambda r: page.loading.discard(r))
    page.goto(app.local_url)
    wait_painted(page)
    settle(page)
    return page


@pytest.fixture(scope="module")
def page(app: Any, browser: Any) -> Iterator[Any]:
    """One page on the module's app, shared by the module's tests (a module needing a fresh page per test, or
    a page opened on some tab, defines its own)."""
    page = open_page(browser, app)
    yield page
    page.close()


@pytest.fixture
def clean_server_log(capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> Any:
    """Whatever a test sends, the server prints no traceback (Gradio's `traceback.print_exc` for a bare
    error) and logs no exception (our "something went wrong" path)."""
    caplog.set_level(logging.INFO)
    yield
    printed = capfd.readouterr().err
    assert "Traceback" not in printed, printed[-3000:]
    logged = [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    assert not logged, [r.getMessage() for r in logged]


@pytest.fixture
def new_page(browser: Any, app: Any) -> Iterator[Callable[..., Any]]:
    """`new_page(width=1280, height=800, locale="en-US", scale=1)`: a page of this module's `app` (see
    `open_page`), closed when the test ends."""
    pages: list[Any] = []

    def make(width: int = 1280, height: int = 800, locale: str = "en-US", timeout_ms: int = TIMEOUT_MS,
             scale: float = 1) -> Any:
        pages.append(open_page(browser, app, width, height, locale, timeout_ms, scale))
        return pages[-1]

    yield make
    for page in pages:
        page.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    """Where a test saves its screenshots: $VITDEMO_SHOTS when set (to look at them afterwards), else its own
    temporary folder."""
    folder = Path(os.environ["VITDEMO_SHOTS"]) if os.environ.get("VITDEMO_SHOTS") else tmp_path / "shots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def wait_painted(page: Any, after: float = 0.0) -> dict:
    """Wait for a paint of the explorer newer than `after` (a data-painted value); → the view it painted."""
    page.wait_for_function(PAINTED, arg=after)
    return painted(page)


def painted(page: Any) -> dict:
    """The explorer's data-view: what it paints now (method, layer from 1, head, ...)."""
    return json.loads(page.locator("#explorer").get_attribute("data-view") or "{}")


def stamp(page: Any) -> float:
    """The explorer's data-painted: when it last painted (the page's performance.now())."""
    return float(page.locator("#explorer").get_attribute("data-painted") or 0)


def settle(page: Any, quiet_s: float = 0.2) -> None:
    """Wait until nothing is pending for this page: no request under way, no event in the app's queue and no
    progress shown, for `quiet_s` in a row (a chained `.then` event is sent only once the one before it has
    answered, so a single idle reading could fall between the two)."""
    queue = page.app._queue
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    quiet_since = None
    while time.monotonic() < deadline:
        page.evaluate("() => 0")  # lets Playwright deliver the page's pending request events first
        idle = not page.loading and not queue.event_ids_to_events and not page.evaluate(BUSY)
        quiet_since = (quiet_since or time.monotonic()) if idle else None
        if quiet_since is not None and time.monotonic() - quiet_since >= quiet_s:
            return
        time.sleep(0.05)
    raise AssertionError("the page never settled: events still pending after "
                         f"{TIMEOUT_MS / 1000:.0f} s ({len(queue.event_ids_to_events)} in the app's queue)")
