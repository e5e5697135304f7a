"""The app as an MCP server: agents call classify, analyze and figure as tools (issue 26 item 1).

Gradio 6 serves every documented API endpoint of an app as an MCP tool when launched with `mcp_server=True`
(the `gradio[mcp]` extra; Streamable HTTP at `/gradio_api/mcp/`, SSE at `/gradio_api/mcp/sse`). The tools
*are* the named endpoints of `api.py`, so the page's API, `gradio_client` and an agent share one set of
checks (`validation`, the model list, layers and heads counted from 1): each tool's name is its function's
(`Endpoints.classify`, `.analyze`, `.figure`), its description the endpoint's `api_description` (what it
returns), each parameter's type the hidden component's (a number, a text, a choice among the listed models)
and its description the function docstring's `Args:`. An image is a string over MCP: a `data:` URL
(base64), which Gradio saves as an upload; a URL to fetch or a path on the server is refused, as on the
HTTP API (the server fetches nothing for a stranger). VITDEMO_MCP=0 turns the MCP server off.

Client configuration (Claude Desktop, Cursor, ...; any client that speaks Streamable HTTP):

    {"mcpServers": {"vitdemo": {"url": "http://127.0.0.1:7860/gradio_api/mcp/"}}}
"""

from __future__ import annotations

import importlib.util
import logging

logger = logging.getLogger(__name__)


def mcp_server(wanted: bool) -> bool:
    """Gradio's `mcp_server` launch argument: on when the setting asks for it (VITDEMO_MCP, on by default) and
    the `gradio[mcp]` extra is installed; without the extra the app still starts, without MCP, and logs why."""
    if wanted and importlib.util.find_spec("mcp") is None:
        logger.warning("VITDEMO_MCP is on but the mcp package is missing (pip install 'gradio[mcp]'): no MCP server")
        return False
    return wanted
