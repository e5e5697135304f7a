"""The "Side by side" tab: the explorer's image and view through a second model (#models-compare).

The server sends one bundle, the second model's analysis of the image the explorer shows (the same
`explorer_payload` the explorer gets); the browser draws it next to the explorer's own bundle with the
explorer's painter, following its view (`gallery.js`, mode "models"): switching method, layer, head or
clicking a patch repaints both without a request. What differs between the two models is mapped there and
said on screen: layers by relative depth, a head the second model lacks as the mean of heads, a class it
cannot explain (no classifier) as attention, a clicked patch at the same place in its grid.

The second model runs at the explorer's patch size when it was trained at that size, else at its own.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import gradio as gr

from .cache import AnalysisKey
from .callbacks import model_picker
from .choices import model_choices
from .explorer import gallery
from .i18n import ENGLISH, catalogue, language, localized_error, t, text
from .models import PARTNERS, hub_offline
from .uploads import ImageInputError

if TYPE_CHECKING:
    from .page import Page
    from .service import Engine

logger = logging.getLogger(__name__)
BROWSER_KEYS = "models.js."
INPUTS = ("image", "key", "tab", "models_second")
TAB = "models"


def browser_strings(lang: str) -> dict[str, str]:
    """The templates gallery.js fills in, in `lang`, with their {placeholders} (see strings/models.py)."""
    table = catalogue()
    chosen = table.get(lang, table[ENGLISH])
    return {key: chosen.get(key, english) for key, english in table[ENGLISH].items() if key.startswith(BROWSER_KEYS)}


def partner(engine: Engine, key: str) -> str | None:
    """The model to compare `key` with first: its registry partner (registers ↔ none, ViT ↔ DINO) when that
    can run (downloaded, or the hub allowed), else the first other downloaded model; None when none can."""
    available = [k for k in engine.available() if k != key]
    wanted = PARTNERS.get(key)
    if wanted in available or (wanted in engine.entries and not hub_offline()):
        return wanted
    return available[0] if available else None


def second_offered(engine: Engine) -> bool:
    """Is there a second model to pick: another one that can run now, or a hub to download one from?

    Offline with only the bundled model there is none, and the tab says so in one sentence (the panel's
    "models.error.none") instead of showing a picker whose every choice would be refused."""
    return len(engine.available()) > 1 or not hub_offline()


def layout(engine: Engine) -> dict[str, Any]:
    """The tab's content (call inside its `gr.Tab`), by name: the second-model picker and the two panels."""
    return {"models_second": model_picker(engine, value=partner(engine, engine.default_key),
                                          label=t("models.second"), info=t("models.second_info"),
                                          elem_id="models-second", visible=second_offered(engine)),
            "models_compare": gallery(engine, "models", "models-compare")}


class SideBySide:
    """The tab's event: the second model's bundle for the image and patch size the explorer shows."""

    def __init__(self, engine: Engine):
        self.engine = engine

    def value(self, values: dict[str, Any], lang: str, session: str = "") -> dict[str, Any]:
        """{"bundle": the second model's explorer bundle or None, "strings": the page's texts, "error": …}; the
        bundle's key is granted to `session` (its panel asks the server functions for rows of large grids)."""
        strings = browser_strings(lang)
        if values.get("tab") != TAB:
            return {"bundle": None, "strings": strings}  # a closed tab costs nothing; opening it asks again
        if values.get("image") is None or not values.get("key"):
            return {"bundle": None, "strings": strings, "error": text("models.error.no_image", lang)}
        try:
            bundle = self.bundle(AnalysisKey(*values["key"]), values["image"], values["models_second"], lang)
            self.engine.grants.grant(session, tuple(bundle["key"]))
            return {"bundle": bundle, "strings": strings}
        except (ImageInputError, ValueError) as exc:  # UserError is a ValueError
            return {"bundle": None, "strings": strings, "error": localized_error(exc, lang)}
        except Exception as exc:
            logger.exception("side by side failed")
            return {"bundle": None, "strings": strings,
                    "error": text("models.js.error", lang, error=type(exc).__name__)}

    def bundle(self, main: AnalysisKey, image: Any, second: str | None, lang: str) -> dict[str, Any]:
        from ..explain.payload import explorer_payload

        if not second and partner(self.engine, main.model) is None:
            raise ValueError(text("models.error.none", lang))
        entry = self.engine.entry(second)
        if entry.key == main.model:
            raise ValueError(text("models.error.same", lang))
        config = self.engine.config(entry.key)  # loads the model (downloads it if it must and may)
        patch = main.patch_size if main.patch_size in config.native_patch_sizes else config.patch_size
        result = self.engine.analysis(self.engine.decode(image), entry.key, patch, main.keep_aspect)
        return explorer_payload(result.analysis, key=tuple(result.key), title=entry.title, scores=False)

    def proposed(self, model: str | None, second: str | None) -> Any:
        """A new main model brings its partner (else the first other model that can run) as the second one."""
        wanted = partner(self.engine, model) if model else None
        return gr.update(value=wanted) if wanted and (wanted != second) else gr.skip()


def wire(page: Page, engine: Engine, concurrency: dict[str, Any]) -> None:
    """Recompute the second panel when its tab opens or its model is picked.

    (A new analysis redraws it while the tab is open, in the one event that follows every analysis:
    after_analysis.py; a new main model's partner is offered as the second model by `ui._wire_model`.)"""
    side = SideBySide(engine)
    names = {page.component(name): name for name in INPUTS}

    def run(data: dict[Any, Any], request: gr.Request) -> Any:
        return side.value({names[c]: v for c, v in data.items()}, language(request), request.session_hash or "")

    def opened(request: gr.Request) -> tuple[str, dict[str, Any]]:
        """The tab is open, its panel blank until the second model answers (a closed tab is not redrawn, so
        what it showed may be of an earlier image)."""
        return TAB, {"bundle": None, "strings": browser_strings(language(request))}

    hidden = {"api_visibility": "undocumented", **concurrency}
    inputs, output = set(names), page.models_compare
    page.tab_models.select(opened, None, [page.tab, output], api_visibility="private", show_progress="hidden").then(
        run, inputs, output, show_progress="minimal", **hidden)
    page.models_second.select(run, inputs, output, show_progress="minimal", **hidden)

    def choices(second: str | None, request: gr.Request) -> Any:
        """The picker's names in the reader's language (the page is built once, in English)."""
        return gr.update(choices=model_choices(engine, language(request)), value=second,
                         visible=second_offered(engine))

    page.tab_models.select(choices, page.models_second, page.models_second, api_visibility="private",
                           show_progress="hidden")
