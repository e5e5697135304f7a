"""What follows an analysis on the page, in as few requests as the page allows (issue 23: ≤ 4 per stroke).

Every analysis (a stroke on the sketchpad, an example, an upload, a new model or patch size) used to fire four
events of its own after the update, each one request plus a reopening of Gradio's event stream: the open tab's
figures, the facts line under the model picker, the side-by-side panel and the tour. Most of the time none of
them had anything to do (the first tab, drawn in the browser, is open; the model is the same). So:

- the facts line travels with the update itself, and only when the model changed (a download may have ended);
- the tabs that the server draws (`REDRAWN_TABS`) are redrawn by one event, `redraw`, which the update starts
  only when one of them is open, by setting the hidden `followup` state to the (analysis, tab) it must show
  (Gradio runs a state's `change` listeners only when its value changed: a closed tab costs no request).

A tab opened later redraws itself on opening, as before.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from . import model_info, side_by_side
from . import tour as guided
from .i18n import ENGLISH

if TYPE_CHECKING:
    from .callbacks import Handlers
    from .service import Engine

Values = dict[str, Any]
# The tabs whose content the server draws for the analysis shown; the first tab (heads) and the explorer are
# drawn in the browser from the update's own bundle.
REDRAWN_TABS = ("compare", "recipe", "probing", side_by_side.TAB, guided.TAB)


def followup(key: Any, tab: str | None) -> tuple[Any, str] | None:
    """The `followup` state after an analysis answered `key`: what the open tab must show, or None when no open
    tab shows it (the state then changes only from a tab back to None, and its listener does nothing)."""
    return (tuple(key) if key else None, tab) if tab in REDRAWN_TABS else None


class AfterAnalysis:
    """The update with the facts line and the follow-up state, and the one event that redraws the open tab."""

    def __init__(self, handlers: Handlers, engine: Engine):
        self.handlers = handlers
        self.engine = engine
        self.side = side_by_side.SideBySide(engine)
        self.tour = guided.TourHandlers(handlers.stored)

    def update(self, values: Values, trigger: str | None = None, progress: Any = None, lang: str = ENGLISH,
               session: str = "") -> Values:
        """`Handlers.update`'s outputs, plus #model-info when the model switched (the page load counts: it is
        written in the page's language) and `followup` when the analysis shown changed."""
        out = self.handlers.update(values, trigger=trigger, progress=progress, lang=lang, session=session)
        if "active_model" in out:
            out["model_info"] = model_info.shown(self.engine, out["active_model"], lang)
        if "key" in out:
            out["followup"] = followup(out["key"], values.get("tab"))
        return out

    def redraw(self, values: Values, lang: str = ENGLISH, session: str = "") -> Values:
        """The open tab's content for the analysis shown: the recipe, probing or comparison figures, the second
        model's panel, or the tour's step; nothing for a tab drawn in the browser."""
        if values.get("followup") is None:
            return {}
        tab = values.get("tab")
        out = self.handlers.refresh_tab(values, lang=lang, session=session)
        if tab == side_by_side.TAB:
            out["models_compare"] = self.side.value(values, lang, session)
        return {**out, **self.tour.shown_if_open(values, lang)}
