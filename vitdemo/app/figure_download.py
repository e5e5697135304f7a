"""The "Download figure" button: the figure (`vitdemo.explain.figure`) of the view the explorer shows.

The view lives in the browser (the explorer repaints without the server), so the button's click first runs
`READ_VIEW` in the page: it reads #explorer's `data-view` (method, layer and head from 1, class, colours), the
analysis' key from the bundle on screen and the rollout discard ratio, and sends them as one JSON string in
place of the hidden textbox's value. The server draws the figure for exactly that (`FigureDownloads.download`),
stores it in the app's `PictureStore` under a name that says what it shows
(`figure_bundled_star_p16_rollout_layer3.png`), and `SAVE` then hands the file to the browser's download.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..constants import LOGIT_LENS
from . import validation, views
from .cache import AnalysisKey
from .callbacks import Values, shown_as_warning
from .choices import method_choices
from .i18n import Message, t, text
from .outputs import PictureStore
from .service import Engine
from .validation import UserError

if TYPE_CHECKING:
    from ..explain.analysis import Analysis
    from .page import Page
    from .ui import Binder

ELEM_ID = "download-figure"
READ_VIEW = """() => {
  const root = document.querySelector('#explorer'), shown = window.vitdemo && window.vitdemo.decoded;
  const view = JSON.parse((root && root.dataset.view) || '{}');
  const discard = Number((root && root.querySelector('.vx-discard') || {}).value || 0);
  return [JSON.stringify({...view, discard, key: shown ? shown.payload.key : null})];
}"""
SAVE = """(file) => {
  if (!file || !file.url) return;
  const link = document.createElement('a');
  link.href = file.url; link.download = file.orig_name || ''; link.style.display = 'none';
  document.body.appendChild(link); link.click(); link.remove();
}"""


def controls() -> dict[str, Any]:
    """The button, the hidden textbox the page's view travels in, and the (hidden) file it downloads."""
    return {"figure_button": gr.Button(t("figure.button"), elem_id=ELEM_ID, size="sm", variant="secondary"),
            "figure_view": gr.Textbox(visible=False, elem_id="figure-view"),
            "figure_file": gr.File(label=t("figure.file"), visible=False, interactive=False, elem_id="figure-file")}


class FigureDownloads:
    """The button's handler, bound to the app's engine and picture store."""

    def __init__(self, engine: Engine, store: PictureStore):
        self.engine = engine
        self.store = store

    @shown_as_warning(fallback=lambda self, lang: {"figure_file": None})
    def download(self, values: Values, lang: str = "en", session: str = "") -> Values:
        """{"figure_file": path} of the figure of the view sent by `READ_VIEW`; refused, no file (so `SAVE`
        does not download the previous figure again). The key comes from the page, so it must be one the page's
        `session` was shown (grants.py), or the figure would draw another visitor's picture."""
        from ..explain.figure import FigureView, picture

        sent = sent_view(values.get("figure_view"))
        if not sent.get("key"):
            raise UserError(text("figure.no_analysis", lang))
        lens = sent.get("method") == LOGIT_LENS  # the logit lens has a figure of its own (explain/lens_figure.py)
        if not lens and sent.get("method") not in method_choices():  # token norms and features: no class-token maps
            raise UserError(text("figure.method", lang))
        if sent.get("patch") or sent.get("query"):
            raise UserError(text("figure.patch", lang))
        key = AnalysisKey(*validation.analysis_key(sent["key"]))
        analysis = self.engine.cached(key) if self.engine.grants.shown(session, key) else None
        if analysis is None:
            raise UserError(text("figure.gone", lang))
        if lens:
            return {"figure_file": self.lens_figure(analysis, sent, key)}
        chosen = validation.fit(analysis, validation.view(sent))
        view = FigureView(method=chosen.method, layer=validation.layer_index(chosen.layer, analysis.depth),
                          head=validation.head_index(chosen.head), target=chosen.target,
                          discard_ratio=chosen.discard_ratio,
                          cmap=chosen.cmap, opacity=chosen.opacity, smooth=chosen.smooth,
                          show_indices=chosen.show_indices, show_order=chosen.show_order)
        title = self.engine.entry(key.model).title
        name = f"figure_{key.model}_{views.picture_name(analysis, chosen, 'map')}"
        return {"figure_file": self.store.file(picture(analysis, view, title), "png", name)}


    def lens_figure(self, analysis: Analysis, sent: dict[str, Any], key: AnalysisKey) -> str:
        """The logit lens figure at the layer shown (from 1), stored; its path."""
        from ..explain import lens_figure
        from ..explain.payload import stem

        layer = validation.layer(sent.get("layer"), analysis.depth)
        opacity = validation.fraction(sent.get("opacity", 0.6), "opacity")
        index = validation.layer_index(layer, analysis.depth)
        drawn = lens_figure.picture(analysis, index, opacity, self.engine.entry(key.model).title)
        return self.store.file(drawn, "png", f"figure_{key.model}_{stem(analysis)}_{LOGIT_LENS}_layer{index + 1}")


def sent_view(value: Any) -> dict[str, Any]:
    """The view `READ_VIEW` sends, as a dict; anything else (the page never sends it) is no view at all."""
    try:
        sent = json.loads(value) if isinstance(value, str) and value else {}
    except ValueError:
        sent = None
    if not isinstance(sent, dict):
        raise UserError(Message("errors.figure_view"))
    return sent


def wire(page: Page, downloads: FigureDownloads, bind: Binder, hidden: dict[str, Any]) -> None:
    """Click: read the view in the page, draw the figure on the server, then download it in the page."""
    page.figure_button.click(*bind(downloads.download, page, ["figure_view"], ["figure_file"], extra="session"),
                             js=READ_VIEW, show_progress="minimal", **hidden).then(
        None, [page.figure_file], None, js=SAVE)
