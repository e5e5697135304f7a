"""The explorer: one `gr.HTML` that draws every view of an analysis in the browser (see `explorer.js`).

The server sends one bundle per analysis (`vitdemo.explain.payload`); layer, head, method, colormap,
opacity, smoothing, grid lines, token indices and order, a clicked patch, the play button and the arrow
keys then repaint a canvas without a request. Only what needs the server goes back to it, through the
component's server functions, chosen by name: a method's maps (a class method's for a class, one backward
pass; rollout's with weak links discarded), one clicked row of a grid too large to send whole, and more.

The buttons, like the bundle's table of methods, come from `vitdemo.methods`; the browser code holds no
method names of its own. The per-head gallery, the patch-size comparison and the side-by-side models
(`gallery.js` and one file per mode) are more `gr.HTML`s drawn by the same painter (`painter_core.js`,
`explorer_painter.js`, loaded once in the page's head), following the explorer's view.
"""

from __future__ import annotations

import base64
import functools
import json
import logging
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import methods
from ..constants import COLORMAPS, LOGIT_LENS, MAX_DISCARD
from .admission import caller, server_function
from .cache import AnalysisKey
from .i18n import ENGLISH, Message, current_language, explorer_strings, localized_error, text
from .validation import UserError, analysis_key, cell, fraction, layer_heads, method, target, whole

if TYPE_CHECKING:
    from .service import Engine

HERE = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)
LENSES = ("norms", "features", LOGIT_LENS)  # views of tokens beside the methods (buttons after the methods')
# One scope, in this order (explorer_sanity.js reads explorer.js's state; its functions are hoisted for it).
EXPLORER_SCRIPTS = ("explorer_plots.js", "explorer_server.js", "explorer_top5.js", "explorer_tokens.js", "explorer.js",
                    "explorer_sanity.js")
GALLERY_FUNCTIONS = {"heads": ("maps", "ablate", "head_effects"), "compare": ("maps",),
                     "models": ("maps", "patch_row", "similarity_row")}


def method_buttons() -> list[tuple[str, str]]:
    """(view, label key) of every button: each method of the table, in its order, then the lenses."""
    return [(m.name, m.label_key) for m in methods.rows()] + [(lens, f"explorer.method.{lens}") for lens in LENSES]


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
    picks one), the webcam's error messages, the live sketchpad (`sketch.js`, see draw.py) and the translation
    of Gradio's fixed English labels (`gradio_labels.js`), for the page's <head>.

    The explorer, the gallery and the comparison all draw with the one painter. Static data goes here rather
    than in a component's props, which Gradio drops when an event sets the component's value.
    """
    return (painter_script() + f"<script>\n{asset('webcam.js')}\n{asset('sketch.js')}</script>\n"
            f"<script>\n{asset('gradio_labels.js')}</script>")


def painter_script() -> str:
    """The painter, the colormap tables and the browser's strings in one <script>: what any page that draws an
    explorer needs (the app's head, and the notebook's self-contained page, `vitdemo.notebook`)."""
    tables = json.dumps(colormap_tables())
    strings = explorer_strings().replace("</", "<\\/")  # never ends the <script> early
    return (f"<script>\n{asset('painter_core.js')}\n{asset('tokens_core.js')}\n{asset('explorer_painter.js')}\n"
            f"{asset('explorer_lens.js')}\n"
            f"window.vitdemo.colormaps = {tables};\n"
            f"window.vitdemo.strings = {strings};\n{asset('explorer_strings.js')}</script>\n")


def template(top5: str = "") -> str:
    """The explorer's HTML; `top5`: the elem_id of the top-5 beside the map, where click-to-hide answers."""
    buttons = "".join(f'<button data-method="{name}" data-t="{key}" aria-pressed="false">{text(key, ENGLISH)}</button>'
                      for name, key in method_buttons())
    cmaps = "".join(f'<option value="{c}">{c}</option>' for c in COLORMAPS)
    return (asset("explorer.html").replace("METHODS", buttons).replace("CMAPS", cmaps)
            .replace("DISCARD_MAX", f"{MAX_DISCARD:g}").replace("TOP5", top5))


def scripts(*names: str) -> str:
    """One js_on_load from several files, in one scope after `const V = window.vitdemo` (the painter)."""
    return "const V = window.vitdemo;\n" + "\n".join(asset(name) for name in names)


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
    """The server functions the explorer calls for what its bundle lacks; each names its analysis by key.

    Each runs in a slot of the engine's gate, shared with the queued model work (`admission`), and answers only
    for an analysis the page's events sent the calling session (`grants`)."""

    def __init__(self, engine: Any):
        self.engine = engine

    def analysis(self, key: Any) -> Any:
        """The analysis `key` names, if the caller was shown it; else the same sentence as for one evicted."""
        key = AnalysisKey(*analysis_key(key))
        analysis = self.engine.cached(key) if self.engine.grants.shown(caller(), key) else None
        if analysis is None:
            raise UserError(Message("errors.analysis_gone"))
        return analysis

    def functions(self) -> dict[str, Any]:
        """The server functions by name (the name the browser calls). Gradio hands each one value: the JS
        call's arguments as a list (or the argument itself when there is one), so each unpacks its own."""
        from ..explain import payload

        def maps(args: Any) -> dict[str, Any]:
            """[key, method, class label, discard ratio]: one method's maps of every layer and head setting; a
            class method's for that class (empty: the top-1; a backward pass), with the weakest links dropped
            for a method that discards (vit-explain's trick). What a method does not read is not checked."""
            key, name, label, discard = self.unpack(args, 4)
            analysis, chosen = self.analysis(key), methods.method(method(name))
            return payload.map_stack(
                analysis, chosen.name, target=target(label, analysis.labels) if chosen.needs_class else None,
                discard_ratio=fraction(discard, "discard", 0.0, MAX_DISCARD) if chosen.discards else 0.0)

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

        def score_matrix(args: Any) -> dict[str, Any]:
            """[key, layer from 0, head from 0]: that head's query·key scores of every token pair (T, T), for
            the token matrix of a bundle too large to carry them all (`payload.MAX_SCORE_BYTES`)."""
            key, layer, head = self.unpack(args, 3)
            analysis = self.analysis(key)
            return payload.score_matrix(analysis, whole(layer, "layer", 0, analysis.depth - 1),
                                        whole(head, "head", 0, analysis.heads - 1))

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
            cells = [(whole(r, "row", 0, rows - 1), whole(c, "col", 0, cols - 1)) for r, c in map(cell, hidden)]
            return [[label, p] for label, p in analysis.top_without(cells)]

        def ablate(args: Any) -> list[list[Any]]:
            """[key, [[layer, head], ...] from 1]: the top-5 with those heads switched off (their outputs zeroed)."""
            key, heads = self.unpack(args, 2)
            analysis = self.classified(key, "errors.ablate_no_classifier")
            probabilities = analysis.ablate(layer_heads(heads, analysis.depth, analysis.heads))
            order = probabilities.argsort()[::-1][:5]
            return [[analysis.labels[i], float(probabilities[i])] for i in order]

        def head_effects(args: Any) -> dict[str, Any]:
            """[key, class label]: (layers, heads) of the class's logit minus its logit with that head zeroed."""
            key, label = self.unpack(args, 2)
            analysis = self.classified(key, "errors.ablate_no_classifier")
            chosen = target(label, analysis.labels) or analysis.top(1)[0][0]
            return {"target": chosen, "effects": analysis.head_effects(chosen).tolist()}

        def sanity(args: Any) -> dict[str, list[float]]:
            """[key]: every method's Spearman correlation with itself on cascading randomisations of the model."""
            return self.classified(args, "errors.sanity_no_classifier").sanity_comparison()

        return {fn.__name__: server_function(answered(self.engine.gate.bounded(fn)))
                for fn in (maps, patch_row, similarity_row, score_matrix, faithfulness, top_without, ablate,
                           head_effects, sanity)}

    def classified(self, key: Any, refusal: str) -> Any:
        """The analysis `key` names, refused with `refusal` for a model without a classifier."""
        analysis = self.analysis(key)
        if not analysis.top(1):
            raise UserError(Message(refusal))
        return analysis

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


GALLERY_MODE_CSS = {"heads": """
.vg-switch {cursor: pointer;}
.vg-switch[aria-pressed=true] canvas {opacity: 0.2;}
.vg-switch[aria-pressed=true] figcaption {text-decoration: line-through;}
.vg-tools {font-size: 0.8rem; margin-bottom: 6px;}
.vg-effects-button {padding: 3px 10px; margin: 4px 0; border: 1px solid #c7d2fe; border-radius: 6px; background: white;
  cursor: pointer;}
.vg-effects-button:disabled {opacity: 0.5; cursor: default;}
.vg-effects {overflow-x: auto;}
.vg-effects table {border-collapse: collapse; font-size: 0.7rem;}
.vg-effects td, .vg-effects th {padding: 2px 4px; text-align: right;}
""", "compare": ".vg figure {flex: 1 1 200px; max-width: 320px;}\n"
                               ".vg-frame {display: flex; align-items: center; justify-content: center;}",
                    "models": ".vg figure {flex: 1 1 280px; max-width: 480px;}"}


def gallery(engine: Engine, mode: str, elem_id: str) -> gr.HTML:
    """The per-head gallery (`mode="heads"`), the patch-size comparison (`"compare"`, value: bundles) or the
    side-by-side models (`"models"`, value: the second model's bundle, see `side_by_side.py`), which also
    fetches clicked rows of large grids."""
    functions = ExplorerServer(engine).functions()
    return gr.HTML(None, html_template=GALLERY_TEMPLATE, css_template=GALLERY_CSS + GALLERY_MODE_CSS.get(mode, ""),
                   js_on_load=scripts("gallery.js", f"gallery_{mode}.js") + "\nstart();",
                   server_functions=[functions[name] for name in GALLERY_FUNCTIONS[mode]],
                   elem_id=elem_id, apply_default_css=False, padding=False)


# Click to hide's answer inside the top-5 (explorer_top5.js): page CSS, as it styles another component.
TOP5_CSS = """
.vx-hiding > .container {display: none !important;}
.vx-top-without {padding: 34px 8px 6px; font-size: 0.85rem;}
.vx-top-without p {margin: 0 0 6px;}
.vx-top-without .vx-tw-title {font-weight: 600;}
.vx-top-without .vx-tw-note {font-size: 0.75rem; opacity: 0.75;}
.vx-top-without ol {list-style: none; margin: 0 0 6px; padding: 0;}
.vx-top-without li {display: grid; grid-template-columns: 1fr auto; gap: 2px 6px; margin-bottom: 6px;}
.vx-tw-label {font-family: var(--font-mono, monospace); overflow-wrap: anywhere;}
.vx-tw-bar {grid-column: 1 / -1; justify-self: start; height: 4px; border-radius: 2px;
  background: var(--color-accent, #6366f1);}
"""


def explorer(engine: Engine, top5: str = "") -> gr.HTML:
    """The explorer component: its value is an explorer payload (or None for no analysis). `top5`: the
    elem_id of the top-5 shown beside it, which click-to-hide updates."""
    return gr.HTML(None, html_template=template(top5), css_template=asset("explorer.css"),
                   js_on_load=scripts(*EXPLORER_SCRIPTS),
                   server_functions=list(ExplorerServer(engine).functions().values()), elem_id="explorer",
                   apply_default_css=False, padding=False)
