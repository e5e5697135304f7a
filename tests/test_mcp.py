"""Issue 26 item 1: the app's tools over MCP, called with the `mcp` package's own client over Streamable HTTP,
against the run's shared app (tests/browser.py's `app`, launched with the app's own options: MCP on by default).

Expected answers are the bundled model's, written out here: the star example is "star", its layers count 1 to 6
(config.json), and the listed models are the registry's keys (tests/test_api.py's REGISTRY_KEYS).
"""

from __future__ import annotations

import ast
import asyncio
import base64
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("mcp")

from mcp import ClientSession  # noqa: E402
from mcp.client.streamable_http import streamable_http_client  # noqa: E402

pytestmark = [pytest.mark.server, pytest.mark.slow, pytest.mark.usefixtures("clean_server_log")]

ROOT = Path(__file__).resolve().parents[1]
STAR = ROOT / "assets" / "examples" / "shape_star.png"
DATA_URL = "data:image/png;base64," + base64.b64encode(STAR.read_bytes()).decode()


def session_run(app: Any, work: Any) -> Any:
    """Run `work(session)` in an initialised MCP client session on the app's Streamable HTTP endpoint."""
    async def go() -> Any:
        async with streamable_http_client(app.local_url.rstrip("/") + "/gradio_api/mcp/") as (read, write, _), \
                ClientSession(read, write) as session:
            await session.initialize()
            return await work(session)

    # A thread of its own: in the full suite Playwright's sync API keeps an event loop running on this thread,
    # where asyncio.run refuses to start another.
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, go()).result()


def texts(result: Any) -> str:
    return " ".join(getattr(item, "text", "") for item in result.content)


def test_the_tools_are_listed_with_what_they_return_and_typed_parameters(app):
    async def work(session):
        return (await session.list_tools()).tools

    tools = {tool.name: tool for tool in session_run(app, work)}
    assert {"classify", "analyze", "figure"} <= set(tools), sorted(tools)
    assert "returns the top-5 labels" in tools["classify"].description
    assert "returns (1) the patch grid" in tools["analyze"].description and "{" not in tools["analyze"].description
    assert "returns one PNG picture" in tools["figure"].description
    schema = tools["analyze"].inputSchema["properties"]
    assert schema["layer"]["type"] == "integer" and "counted from 1" in schema["layer"]["description"]
    assert "counted from 1" in schema["head"]["description"]
    assert schema["method"]["enum"] == ["attention", "rollout", "relevance", "legrad"]
    assert "bundled" in schema["model"]["enum"] and "https://example.com/model" not in schema["model"]["enum"]
    assert "data: URL" in schema["image"]["description"]


def test_classify_a_data_url_image_and_a_clear_error_for_a_bad_value(app):
    async def work(session):
        good = await session.call_tool("classify", {"image": DATA_URL, "patch_size": 16, "model": "bundled"})
        bad_layer = await session.call_tool("analyze", {"image": DATA_URL, "layer": 7, "model": "bundled"})
        bad_model = await session.call_tool("classify", {"image": DATA_URL, "model": "someone/else"})
        return good, bad_layer, bad_model

    good, bad_layer, bad_model = session_run(app, work)
    assert not good.isError, texts(good)
    answer = ast.literal_eval(texts(good))  # Gradio writes the gr.Label value as Python prints it
    assert answer["label"] == "star" and answer["confidences"][0]["label"] == "star"
    assert 0.5 < answer["confidences"][0]["confidence"] <= 1.0
    said = texts(bad_layer)
    assert bad_layer.isError and "layer must be a whole number from 1 to 6, not 7." in said, said
    assert bad_model.isError and "someone/else" in texts(bad_model) and "bundled" in texts(bad_model), texts(bad_model)
    assert "Traceback" not in texts(bad_layer) + texts(bad_model)


def test_analyze_and_figure_answer_with_pictures(app):
    async def work(session):
        analysed = await session.call_tool("analyze", {"image": DATA_URL, "method": "rollout", "layer": 1,
                                                       "head": "mean", "model": "bundled"})
        figure = await session.call_tool("figure", {"image": DATA_URL, "method": "attention", "layer": 6,
                                                    "model": "bundled"})
        return analysed, figure

    analysed, figure = session_run(app, work)
    assert not analysed.isError and not figure.isError, (texts(analysed), texts(figure))
    grid, attention, labels = ast.literal_eval(texts(analysed))  # three outputs: Gradio lists them in one text
    assert grid["url"].endswith("star_p16_grid.png") and attention["url"].endswith("star_p16_rollout_layer1.png")
    assert grid["url"].startswith(app.local_url.rstrip("/") + "/gradio_api/file=") and labels["label"] == "star"
    pictures = [c for c in figure.content if c.type == "image"]
    assert len(pictures) == 1 and base64.b64decode(pictures[0].data)[:8] == b"\x89PNG\r\n\x1a\n"
