"""The explorer without a server: one self-contained HTML string for Jupyter and for a file (issue 26 item 3).

`explorer_html(analysis)` is the page's explorer (the same template, painter and scripts, `vitdemo/app/
explorer*.js`) with the analysis's bundle inline, so it opens offline in any browser and keeps the page's
contract: `#explorer` with `data-painted` and `data-view`, `#explorer-layer`, `#explorer-head`. The bundle holds
what the page gets in its first answer (every class-free method at every layer and head, the clicked patches'
rows, the lenses) plus the class methods' maps for each of the top-5 classes, which the page would fetch from
its server; what only a server computes (click-to-hide, faithfulness curves, the token matrix's scores) says so
in one sentence instead (`explorer.offline`). `Analysis._repr_html_` shows it in Jupyter inside an iframe
(`srcdoc`), so the explorer's global names and CSS stay apart from the notebook's.
"""

from __future__ import annotations

import html
import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .explain.analysis import Analysis

IFRAME_HEIGHT = 900  # px: the explorer's controls and pictures without a scroll bar at Jupyter's width
NO_SERVER = """const server = new Proxy({}, {get: () => async () => ({error: V.tr("explorer.offline")})});
const watch = () => {};"""


def explorer_html(analysis: Analysis, title: str = "") -> str:
    """The explorer of `analysis` as one HTML document: no server, no request beyond the file itself."""
    from . import methods
    from .app.explorer import EXPLORER_SCRIPTS, asset, painter_script, scripts, template
    from .explain.payload import explorer_payload

    top = [label for label, _ in analysis.top(5)]
    targets = {m.name: top for m in methods.rows() if m.needs_class} if top else None
    bundle = explorer_payload(analysis, title=title or (analysis.model.config.name or "ViT"), class_targets=targets)
    data = json.dumps(bundle, ensure_ascii=False).replace("</", "<\\/")  # never ends the <script> early
    code = scripts(*EXPLORER_SCRIPTS).replace("const V = window.vitdemo;", f"const V = window.vitdemo;\n{NO_SERVER}", 1)
    return (f'<!doctype html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(bundle["title"])}'
            f'</title>\n<style>body {{font-family: system-ui, sans-serif; margin: 12px;}}\n{asset("explorer.css")}'
            f'</style>\n{painter_script()}</head>\n'
            f'<body><div id="explorer"><div class="vx-root">{template()}</div></div>\n'
            f'<script>\n(() => {{\nconst element = document.querySelector("#explorer .vx-root");\n'
            f'const props = {{value: {data}}};\n{code}\n}})();\n</script></body></html>\n')


def explorer_iframe(analysis: Analysis) -> str:
    """`explorer_html` in an <iframe srcdoc>, for Jupyter's output cell."""
    page = html.escape(explorer_html(analysis), quote=True)
    return (f'<iframe srcdoc="{page}" style="width: 100%; height: {IFRAME_HEIGHT}px; border: 0;" '
            'sandbox="allow-scripts allow-downloads"></iframe>')
