"""What every browser test shares: Debian's Chromium (never `playwright install`, which downloads), its
flags, and the marks that skip the test where Chromium is missing (`.ci/run` installs it with apt-get)."""

from __future__ import annotations

from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
BROWSER_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"]
MARKS = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is missing (apt-get install chromium)"),
]


@pytest.fixture(scope="module", name="app")
def bundled_app():
    """The app on the bundled model, served on a free local port for one test module."""
    from vitdemo.app import build_app, launch_options

    demo = build_app("bundled")
    demo.launch(prevent_thread_lock=True, quiet=True, server_name="127.0.0.1", **launch_options())
    yield demo
    demo.close()


@pytest.fixture(scope="module", name="browser")
def chromium():
    """Debian's Chromium, headless, for one test module."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=BROWSER_ARGS)
        yield browser
        browser.close()
