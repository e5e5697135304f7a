"""The explorer: one `gr.HTML` that draws every view of an analysis in the browser (see `explorer.js`).

The server sends one bundle per analysis (`vitdemo.explain.payload`); layer, head, method, colormap,
opacity, smoothing, grid lines, token indices and order, a clicked patch, the play button and the arrow
keys then repaint a canvas without a request. Only what needs the server goes back to it, through the
component's server functions: relevance for a class (one backward pass), rollout with weak links
discarded, and one clicked row of a grid too large to send whole.

The per-head gallery, the patch-size comparison and the side-by-side models (`gallery.js`) are more `gr.HTML`s
drawn by the same painter (`explorer_painter.js`, loaded once in the page's head), following the explorer's view.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from functools import cache
from pathlib import Path
from typing import Any

import gradio as gr

from .cache import AnalysisKey
from .choices import COLORMAPS
from .i18n import Message, current_language, explorer_strings, localized_error
from .validation import UserError, fraction, target, whole

HERE = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)
METHOD_BUTTONS = (("attention", "Attention"), ("rollout", "Rollout"), ("relevance", "Relevance"),
                  ("legrad", "LeGrad"), ("norms", "Token norms"), ("features", "Features"))


@cache
def asset(name: str) -> str:
    return (HERE / name).read_text()


@cache
def colormap_tables() -> dict[str, str]:
    """Every offered colormap's 256×RGB table, as the server renders with it, base64 for the browser."""
    from ..explain.render import colormap_lut

    return {name: base64.b64encode(colormap_lut(name).tobytes()).decode("ascii") for name in COLORMAPS}


def head_script() -> str:
    """The painter, the colormap tables, the browser's strings in both languages (`explorer_strings.js`
    picks one) and the webcam's error messages, for the page's <head>.

    The explorer, the gallery and the comparison all draw with the one painter. Static data goes here rather
    than in a component's props, which Gradio drops when an event sets the component's value.
    """
    tables = json.dumps(colormap_tables())
    strings = explorer_strings().replace("</", "<\\/")  # never ends the <script> early
    return (f"<script>\n{asset('explorer_painter.js')}\nwindow.vitdemo.colormaps = {tables};\n"
            f"window.vitdemo.strings = {strings};\n{asset('explorer_strings.js')}</script>\n"
            f"<script>\n{asset('webcam.js')}</script>")


def template() -> str:
    methods = "".join(f'<button data-method="{m}" data-t="explorer.method.{m}" aria-pressed="false">{label}</button>'
                      for m, label in METHOD_BUTTONS)
    cmaps = "".join(f'<option value="{c}">{c}</option>' for c in COLORMAPS)
    return asset("explorer.html").replace("METHODS", methods).replace("CMAPS", cmaps)


def answered(fn: Any) -> Any:
    """A server function whose refusals come back as {"error": sentence} (the page shows it) rather than as a
    500 with a traceback in the log; anything unexpected is logged and apologised for."""

    @functools.wraps(fn)
    def wrapper(args: Any) -> Any:
        try:
            return fn(args)
        except ValueError as exc:  # UserError and the library's own refusals
            return {"error": localized_error(exc, current_language())}
        except Exception as exc:
            logger.exception("explorer server function %s failed", fn.__name__)
            return {"error": Message("messages.our_side_short", kind=type(exc).__name__).render(current_language())}

    return wrapper


class ExplorerServer:
    """The server functions the explorer calls for what its bundle lacks; each names its analysis by key."""

    def __init__(self, engine: Any):
        self.engine = engine

    def analysis(self, key: Any) -> Any:
        try:
            analysis = self.engine.cached(AnalysisKey(*key))
        except TypeError:
            raise UserError(Message("errors.no_analysis_sent")) from None
        if analysis is None:
            raise UserError(Message("errors.analysis_gone"))
        return analysis

    def functions(self) -> list[Any]:
        """The server functions. Gradio hands each one value: the JS call's arguments as a list (or the
        argument itself when there is one), so each unpacks its own."""
        from ..explain import payload

        def relevance(args: Any) -> dict[str, Any]:
            """[key, class label]: relevance of every layer and head fusion for that class (one backward)."""
            key, label = self.unpack(args, 2)
            analysis = self.analysis(key)
            return payload.map_stack(analysis, "relevance", target=target(label, analysis.labels))

        def legrad(args: Any) -> dict[str, Any]:
            """[key, class label]: LeGrad of every layer and head fusion for that class (a backward per layer)."""
            key, label = self.unpack(args, 2)
            analysis = self.analysis(key)
            return payload.map_stack(analysis, "legrad", target=target(label, analysis.labels))

        def rollout(args: Any) -> dict[str, Any]:
            """[key, discard ratio]: rollout of every layer with the weakest links dropped (vit-explain's trick)."""
            key, discard = self.unpack(args, 2)
            return payload.map_stack(self.analysis(key), "rollout",
                                     discard_ratio=fraction(discard, "discard", 0.0, 0.95))

        def patch_row(args: Any) -> dict[str, Any]:
            """[key, layer from 0, row, col]: what one clicked patch attends to (head mean), for large grids."""
            key, layer, row, col = self.unpack(args, 4)
            analysis = self.analysis(key)
            rows, cols = analysis.grid
            return payload.patch_row(analysis, whole(layer, "layer", 0, analysis.depth - 1),
                                     whole(row, "row", 0, rows - 1), whole(col, "col", 0, cols - 1))

        def similarity_row(args: Any) -> dict[str, Any]:
            """[key, row, col]: one patch's feature similarity to every patch, for large grids."""
            key, row, col = self.unpack(args, 3)
            analysis = self.analysis(key)
            rows, cols = analysis.grid
            return payload.similarity_row(analysis, whole(row, "row", 0, rows - 1), whole(col, "col", 0, cols - 1))

        def faithfulness(args: Any) -> dict[str, Any]:
            """[key]: deletion and insertion curves of every method's map and of a random one (batched forwards)."""
            analysis = self.analysis(args)  # one argument arrives as itself, not in a list
            if not analysis.top(1):
                raise UserError(Message("errors.faithfulness_no_classifier"))
            return {name: result.as_dict() for name, result in analysis.faithfulness_comparison().items()}

        def top_without(args: Any) -> list[list[Any]]:
            """[key, [[row, col], ...]]: the top-5 with those patches dropped as tokens (one forward)."""
            key, hidden = self.unpack(args, 2)
            analysis = self.analysis(key)
            if not analysis.top(1):
                raise UserError(Message("errors.hide_no_classifier"))
            if not isinstance(hidden, list) or len(hidden) >= analysis.grid[0] * analysis.grid[1]:
                raise UserError(Message("errors.hide_some"))
            rows, cols = analysis.grid
            cells = [(whole(r, "row", 0, rows - 1), whole(c, "col", 0, cols - 1)) for r, c in hidden]
            return [[label, p] for label, p in analysis.top_without(cells)]

        return [answered(fn) for fn in (relevance, legrad, rollout, patch_row, similarity_row, faithfulness,
                                        top_without)]

    @staticmethod
    def unpack(args: Any, count: int) -> list[Any]:
        if not isinstance(args, list) or len(args) != count:
            raise UserError(Message("errors.explorer_values", sent=f"{args!r:.60}", count=count))
        return args


GALLERY_TEMPLATE = '<div class="vg-note"></div><div class="vg"></div>'
GALLERY_CSS = """
.vg {display: flex; flex-wrap: wrap; gap: 8px;}
.vg figure {margin: 0; flex: 0 1 150px;}
.vg canvas {width: 100%; height: auto; image-rendering: pixelated; display: block;}
.vg figcaption, .vg-note {font-size: 0.75rem; opacity: 0.8;}
"""


GALLERY_MODE_CSS = {"compare": ".vg figure {flex: 1 1 200px; max-width: 320px;}",
                    "models": ".vg figure {flex: 1 1 280px; max-width: 480px;}"}


def gallery(engine: Any, mode: str, elem_id: str) -> gr.HTML:
    """The per-head gallery (`mode="heads"`), the patch-size comparison (`"compare"`, value: bundles) or the
    side-by-side models (`"models"`, value: the second model's bundle, see `side_by_side.py`), which also
    fetches clicked rows of large grids."""
    functions = ExplorerServer(engine).functions()
    return gr.HTML(None, html_template=GALLERY_TEMPLATE, css_template=GALLERY_CSS + GALLERY_MODE_CSS.get(mode, ""),
                   js_on_load=asset("gallery.js"), server_functions=functions if mode == "models" else functions[:2],
                   elem_id=elem_id, apply_default_css=False, padding=False)


def explorer(engine: Any) -> gr.HTML:
    """The explorer component: its value is an explorer payload (or None for no analysis)."""
    return gr.HTML(None, html_template=template(), css_template=asset("explorer.css"), js_on_load=asset("explorer.js"),
                   server_functions=ExplorerServer(engine).functions(), elem_id="explorer",
                   apply_default_css=False, padding=False)
