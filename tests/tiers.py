"""The suite's tiers: which marks a test needs, from what it uses.

`-m "not browser and not server and not slow"` is the inner loop; it must never start a Gradio server or
Chromium by accident. A test needs `server` if it uses a fixture that serves an app (by convention named
`app`; any other fixture seen launching `gr.Blocks` in this run counts too) or launches one itself, and
`browser` if it uses Chromium (the `browser` fixture). conftest.py fails a test that lacks them.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable
from typing import Any

SERVING = {"app", "bundled_app"}  # the fixtures that serve an app, by name (tests/browser.py, module overrides)
SERVER_FIXTURES: set[str] = set()  # other fixtures seen starting a Gradio server in this run
_launches = [0]  # Gradio servers started in this process


def launches() -> int:
    """How many `gr.Blocks.launch` calls this process has made, counting from the first call here on (once
    gradio is imported: collecting the app's tests imports it)."""
    blocks = sys.modules.get("gradio.blocks")
    if blocks is not None and not getattr(blocks.Blocks.launch, "counted", False):
        real = blocks.Blocks.launch

        def launch(self: Any, *args: Any, **kwargs: Any) -> Any:
            _launches[0] += 1
            return real(self, *args, **kwargs)

        launch.counted = True
        blocks.Blocks.launch = launch
    return _launches[0]


def missing_marks(marks: Iterable[str], fixtures: Iterable[str], launched: bool = False) -> list[str]:
    """The tier marks a test lacks: `server` if it launched a server or uses a fixture that serves one,
    `browser` if it uses Chromium."""
    marks, fixtures = set(marks), set(fixtures)
    missing = []
    if (launched or fixtures & (SERVING | SERVER_FIXTURES)) and "server" not in marks:
        missing.append("server")
    if "browser" in fixtures and "browser" not in marks:
        missing.append("browser")
    return missing


def refusal(nodeid: str, missing: list[str]) -> str:
    return (f"{nodeid} starts a Gradio server or uses Chromium: mark it "
            + " and ".join(f"@pytest.mark.{name}" for name in missing)
            + " (a browser test module: pytestmark = tests.browser.MARKS)")
