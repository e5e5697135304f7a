"""The UI's event functions: named control values in, named output values out; the work is `Engine`'s and `views`'.

Each handler takes `values: dict[str, Any]` (control name → value, see `ui.SOURCE_CONTROLS` and
`ui.STATES`) and returns a dict naming only the outputs it changes; `ui.bind` translates names to
components, so no handler lines up positional lists by hand.

Every output that depends on the image, the model or the patch size comes from one handler, `update`,
bound to one Gradio event that fires on every such control (`ui._wire_model`): Gradio runs that event's triggers
one after another and, while one runs, keeps only the newest waiting (`trigger_mode="always_last"`), so the
last question asked is the last one answered and no result of a superseded request can land after it.
What `update` sends is one bundle per analysis (`vitdemo.explain.payload`): every view of it (method,
layer, head, colours, a clicked patch) is then drawn by the explorer in the browser, without a request.

Errors meant for the user become a warning toast and a clean state (never an output stuck in "Error");
anything else is logged and apologised for (`shown_as_warning`).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from ..preprocessing import MAX_KEEP_ASPECT
from . import example_sets, validation, views
from .cache import AnalysisKey
from .choices import MAX_COMPARED, compare_default, model_choices, patch_choices, patch_hint
from .components import check_first
from .errors import refusal
from .i18n import ENGLISH, Message, localized, localized_error, text
from .models import ModelEntry, title_of
from .service import Analysed, Engine
from .uploads import ImageInputError, animated
from .validation import UserError

if TYPE_CHECKING:
    from PIL import Image

    from ..config import ViTConfig
    from ..explain.analysis import Analysis

logger = logging.getLogger(__name__)
WARNING_SECONDS = 12
SOURCE = ("image", "model", "patch", "keep_aspect", "prompts")  # what decides the analysis; the rest is a view
Values = dict[str, Any]


def shown_as_warning(fallback: Callable[[Any, str], Values] | None = None) -> Callable:
    """Decorate a handler: a user error shows as a toast and returns `fallback(self, lang)` (default: change
    nothing). The toast is in the handler's `lang` (passed by `ui.bind`; English when absent)."""

    def decorate(fn: Callable[..., Values]) -> Callable[..., Values]:
        @functools.wraps(fn)
        def wrapper(self: Any, *args: Any, **kwargs: Any) -> Values:
            lang = kwargs.get("lang", ENGLISH)
            try:
                return fn(self, *args, **kwargs)
            except (ImageInputError, ValueError) as exc:  # UserError is a ValueError
                warn(localized_error(exc, lang), lang)
            except Exception as exc:
                logger.exception("unexpected error in %s", fn.__name__)
                warn(text("messages.our_side", lang, kind=type(exc).__name__), lang)
            return fallback(self, lang) if fallback else {}

        return wrapper

    return decorate


def warn(message: str, lang: str) -> None:
    """A warning toast, its title in `lang` too (Gradio's own title is English)."""
    gr.Warning(message, duration=WARNING_SECONDS, title=text("messages.title.warning", lang))


def model_picker(engine: Engine, **kwargs: Any) -> gr.Dropdown:
    """A model dropdown (the page's picker, the side-by-side tab's second model) offering `engine`'s models.

    Whatever a request sends as its value is checked as the API's `model` parameter is (`validation.model`,
    before Gradio sees it: `check_first`): a value not offered gets one sentence with a short echo, not
    Gradio's "not in the list of choices" with the whole value (10 MB in, 10 MB out) and a traceback.
    """
    dropdown = gr.Dropdown(model_choices(engine), **kwargs)
    check_first(dropdown, model_value(engine))
    return dropdown


def model_value(engine: Engine) -> Callable[[Any], str | None]:
    """The check of a model dropdown's value: the key of the model it names (None, the default, for empty)."""
    def check(value: Any) -> str | None:
        try:
            return validation.model(value, engine.entries)
        except UserError as exc:
            raise refusal(exc.args[0]) from None
    return check


def model_controls(config: ViTConfig, lang: str = ENGLISH) -> Values:
    """Every server-side control that depends on the model, reset to its default for `config`."""
    return {"patch": gr.update(choices=patch_choices(config), value=config.patch_size),
            "patch_hint": patch_hint(config, lang),
            "compare_sizes": gr.update(choices=patch_choices(config), value=compare_default(config)),
            "compare_button": gr.update(interactive=True)}


def examples_for(entry: ModelEntry) -> gr.Dataset:
    """The examples table showing the pictures that fit the model `entry` names (`example_sets`)."""
    return gr.Dataset(samples=[[path] for path in example_sets.example_files(entry)])


def prompt_controls(net: Any, lang: str = ENGLISH) -> Values:
    """The "what to look for" box and its line: shown, with the defaults in `lang`, for an image–text model;
    hidden and empty for a classifier."""
    from . import prompts

    if not prompts.is_image_text(net):
        return {"prompts": gr.update(visible=False, value=""), "prompt_note": gr.update(visible=False, value="")}
    return {"prompts": gr.update(visible=True, value=", ".join(prompts.defaults(lang))),
            "prompt_note": gr.update(visible=True, value=prompts.note(net, lang))}


def cleared(lang: str = ENGLISH) -> Values:
    """Every result output emptied: no picture or label of an image that is no longer there; the summary
    says what to do."""
    return {"explorer": None, "labels": None, "summary": text("messages.prompt", lang), "key": None, "source": None,
            "compare": None}


def refused_before(values: Values) -> bool:
    """Whether the image shown is the upload refused last time (no analysis shown, `source` naming it):
    its warning was given then, and the page must not repeat it on every change."""
    return values["key"] is None and bool(values["source"]) and values["source"][0] == values["image"]


class Handlers:
    """The event functions, bound to one `Engine`."""

    def __init__(self, engine: Engine, settle: Callable[[], str] | None = None,
                 as_sent: Callable[[str], str] = str):
        self.engine = engine
        self.settle = settle  # on page load: the model to show (the hub model, once the probe found the hub)
        # An example's path as the image box will send it back (ui.py: Gradio's cached copy), so the image's
        # change that follows an example click finds its analysis shown and sends nothing again.
        self.as_sent = as_sent
        # Analyses each model's examples in the background once it has loaded (the served app sets it:
        # `vitdemo.app.serve`; tests and benchmarks leave it off, so they count every forward themselves).
        self.warmer: example_sets.Warmer | None = None

    # -- the one event that answers for image, model, patch size and view ---------------------------------

    @shown_as_warning(fallback=lambda self, lang: cleared(lang))
    def update(self, values: Values, trigger: str | None = None, progress: Any = None, lang: str = ENGLISH,
               session: str = "") -> Values:
        """The results for the controls as they are now: a forward pass if the image, model or patch size
        changed (or the analysis left the cache), else a cache hit; then the explorer's bundle of it.

        `values["source"]` remembers which (image, model, patch size, keep aspect) the shown `key` answers, so
        a repeated trigger (Gradio fires `change` twice per upload) neither decodes nor sends anything again.
        `trigger` names the control that fired ("page" for the page load, which may switch to the hub model
        the app was waiting for; "example_table" for an example click, which puts the example in the image
        box in this same event: `_example`). The key shown is granted to `session`, the page's session hash:
        the explorer's server functions answer that session for it (grants.py).
        """
        values, out = self._model_for(values, trigger, progress, lang)
        if trigger == "example_table":
            values, out = self._example(values, out)
        if values["image"] is None:
            return {**out, **cleared(lang)}
        if refused_before(values):
            return out  # said once: not again for Gradio's second `change`, nor for each later control
        source = [values.get(name) for name in SOURCE]
        try:
            result, image = self._analysed(values, source)
        except ImageInputError as exc:
            warn(localized_error(exc, lang), lang)
            return {**out, **cleared(lang), "source": source}  # no key: `source` names the refused upload
        self.engine.grants.grant(session, result.key)
        if tuple(result.key) == tuple(values["key"] or ()) and set(out) <= {"image"}:
            return {**out, "source": source}  # shown already (the example on screen clicked again, say)
        from ..explain.payload import explorer_payload

        analysis = result.analysis
        entry = self.engine.entry(result.key.model)
        size = image.size if image is not None else None
        cut = size if values["keep_aspect"] and size and max(size) / min(size) > MAX_KEEP_ASPECT else None
        return {**out, "explorer": explorer_payload(analysis, key=tuple(result.key), title=entry.title),
                "labels": views.top_labels(analysis, lang=lang), "key": tuple(result.key), "source": source,
                "summary": views.summary(analysis, title_of(entry, lang), result.seconds, result.cached, cut,
                                         lang=lang, decoded=size, animated=animated(image) if image else None),
                "compare": None}  # compared for the previous image: gone rather than stale

    def _model_for(self, values: Values, trigger: str | None, progress: Any,
                   lang: str = ENGLISH) -> tuple[Values, Values]:
        """(the controls as they are once the chosen model runs, the outputs that switch to it).

        On the page load the model is the one the app settled on (the hub model, once the probe found the
        hub). A new model starts from its own defaults: last layer, mean of heads, native patch size.
        """
        if trigger == "page" and self.settle is not None:
            values = {**values, "model": self.settle()}
        if values["model"] == values["active_model"] and trigger != "page":
            return values, {}
        out = self._switch(values["model"], values["active_model"], progress, lang)
        active = out.get("active_model", values["active_model"])
        if active != values["active_model"] or (trigger == "page" and "prompts" in out):
            # a new model, or the page's first answer: its own patch size, and its prompts in the page's language
            values = {**values, "patch": out["patch"]["value"], "prompts": out["prompts"]["value"]}
        return {**values, "model": active, "active_model": active}, out

    def _example(self, values: Values, out: Values) -> tuple[Values, Values]:
        """(the controls with the clicked example as the image, the outputs with it for the image box).

        One event for the click, not `gr.Examples`' two (load the picture, then its image's change asks for
        the analysis): BENCHMARKS §15. The table's value is the index of the example clicked in the set of
        the model that runs (`example_sets`), which the table shows."""
        files = example_sets.example_files(self.engine.entry(values["active_model"]))
        index = values.get("example_table")
        if not isinstance(index, int) or not 0 <= index < len(files):
            raise UserError(Message("messages.example_gone"))
        image = self.as_sent(files[index])
        if image == values["image"]:  # in the box already (the image's change that this event's output fires
            return values, out        # reaches the page's one event as the click again: Gradio keeps the trigger)
        return {**values, "image": image}, {**out, "image": image}

    def _analysed(self, values: Values, source: list[Any]) -> tuple[Analysed, Image.Image | None]:
        """The analysis the controls name, and the decoded image (None when it was not decoded): from the
        cache without decoding when `source` is unchanged."""
        key = AnalysisKey(*values["key"]) if values["key"] else None
        if key is not None and values["source"] == source:
            stored = self.engine.cached(key)
            if stored is not None:
                return Analysed(key, stored, True, 0.0), None
        image = self.engine.decode(values["image"])
        return self.engine.analysis(image, values["model"], values["patch"], values["keep_aspect"],
                                    values.get("prompts")), image

    def _switch(self, model: str, active: str, progress: Any, lang: str = ENGLISH) -> Values:
        """Load the chosen model (with download progress) and refit every model-dependent control to it.

        A model that cannot load leaves the previous one selected, with a warning saying why.
        """
        try:
            entry = self.engine.entry(model)
            if progress is not None:
                progress(0, desc=text("messages.loading", lang, title=title_of(entry, lang)))
            net = self.engine.model(entry.key)
            config = net.config
        except UserError as exc:
            if not active or active == model:
                raise
            warn(localized_error(exc, lang), lang)
            return {"model": gr.update(value=active)}
        self.engine.adopt_pending(entry.key)
        if self.warmer is not None:
            self.warmer.warm(entry)
        # the choices again, in the reader's language, and with the sizes of what is now downloaded
        return {"model": gr.update(value=entry.key, choices=model_choices(self.engine, lang)),
                "active_model": entry.key, "status": self.status(entry.key, lang),
                **model_controls(config, lang), **prompt_controls(net, lang), "example_table": examples_for(entry)}

    def status(self, model: str, lang: str = ENGLISH) -> str:
        """The line at the top: which model runs, what it is, and why it was chosen when it is the default."""
        entry = self.engine.entry(model)
        why = localized(self.engine.startup.reason, lang) if entry.key == self.engine.default_key else ""
        return views.status_line(entry, why, lang)

    # -- events that follow `update` (below the fold) or need no forward pass ----------------------------

    def stored(self, values: Values) -> Analysis | None:
        """The analysis behind the pictures shown (None before the first), recomputed if the cache dropped it."""
        if not values.get("key"):
            return None
        key = AnalysisKey(*values["key"])
        analysis = self.engine.cached(key)
        if analysis is None and values.get("image") is not None:
            analysis = self.engine.analysis(self.engine.decode(values["image"]), key.model, key.patch_size,
                                            key.keep_aspect, key.prompts).analysis
        return analysis

    def compare_button(self, values: Values) -> Values:
        """The Compare button is usable only with 2 or 3 sizes picked (the picker allows at most 3)."""
        count = len(values.get("compare_sizes") or [])
        return {"compare_button": gr.update(interactive=2 <= count <= MAX_COMPARED)}

    @shown_as_warning()
    def compare(self, values: Values, lang: str = ENGLISH, session: str = "") -> Values:
        """Two or three patch sizes side by side: one bundle each, drawn by the explorer's painter (its keys
        granted to `session`, whose gallery asks the server functions for relevance)."""
        from ..explain.payload import explorer_payload

        if values["image"] is None:
            raise UserError(Message("messages.upload_first"))
        chosen = sorted({validation.whole(p, "patch size") for p in values.get("compare_sizes") or []})
        if not 2 <= len(chosen) <= MAX_COMPARED:
            raise UserError(Message("messages.pick_sizes", count=len(chosen)))
        picture = self.engine.decode(values["image"])
        bundles = []
        for p in chosen:
            result = self.engine.analysis(picture, values["active_model"], p, values["keep_aspect"],
                                          values.get("prompts"))
            self.engine.grants.grant(session, result.key)
            bundles.append(explorer_payload(result.analysis, key=tuple(result.key), patch_rows=False))
        return {"compare": bundles}

    @shown_as_warning()
    def refresh_tab(self, values: Values, lang: str = ENGLISH, session: str = "") -> Values:
        """Redraw the open tab's figures (recipe, probing, or the comparison) for the analysis shown."""
        tab = values.get("tab")
        if tab == "recipe":
            return self.recipe(values, lang)
        if tab == "probing":
            return self.probing(values)
        if tab == "compare" and values.get("key"):
            return self.compare(values, lang=lang, session=session)
        return {}

    def recipe(self, values: Values, lang: str = ENGLISH) -> Values:
        """The recipe, live: a table of every stage (shape, what happened) and the pictures of it.

        Each stage is worded in `lang` from its kind and values (strings/recipe.py)."""
        analysis = self.stored(values)
        if analysis is None:
            return {"recipe_table": text("messages.recipe.prompt", lang), "recipe_gallery": []}
        table, pictures = views.recipe_table(analysis, lang)
        return {"recipe_table": table, "recipe_gallery": pictures}

    def probing(self, values: Values) -> Values:
        """The ViT paper's Fig. 7 for this model (and, for attention distance, this image)."""
        analysis = self.stored(values)
        if analysis is None:
            return {}
        from ..explain.probing import probing_figures

        figures = probing_figures(analysis)
        return {"probe_filters": figures["embedding filters"],
                "probe_positions": figures["position embedding similarity"],
                "probe_distance": figures["mean attention distance"]}

