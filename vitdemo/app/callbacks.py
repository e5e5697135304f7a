"""The UI's event functions: Gradio values in, component values out, the work done by `Engine` and `views`.

Every function that can meet a bad upload or setting is wrapped with `shown_to_user`, so the message appears
as a toast and the app keeps serving. Functions that may run a forward pass are listed in `ui.py` under one
concurrency group, so one model instance is never asked for two forwards at once.

Positional inputs follow `ui.VIEW_INPUTS`: method, layer (1-based, as the slider shows it), head, target,
discard ratio, colormap, opacity, smooth, show indices, show order.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gradio as gr

from . import views
from .cache import AnalysisKey
from .choices import DEFAULT_COLORMAP
from .errors import shown_to_user
from .models import hub_offline
from .service import Engine, UserError
from .views import ViewSettings

MAX_COMPARED = 3
NATIVE_MARK = "★"


def settings_from(method: str, layer: float, head: str, target: str | None, discard: float, cmap: str,
                  opacity: float, smooth: bool, indices: bool, order: bool, patch: Any = None) -> ViewSettings:
    """ViewSettings from the UI's control values (the layer slider counts from 1)."""
    return ViewSettings(views.checked_method(method), int(layer) - 1 if layer else -1, views.parse_head(head),
                        target or None, float(discard or 0.0), cmap or DEFAULT_COLORMAP,
                        float(0.6 if opacity is None else opacity), bool(smooth), bool(indices), bool(order),
                        tuple(patch) if patch else None)


def patch_choices(config: Any) -> list[tuple[str, int]]:
    """Radio choices: every offered size, the ones the model was trained at marked with a star."""
    native = set(config.native_patch_sizes)
    return [(f"{p} {NATIVE_MARK}" if p in native else str(p), p) for p in config.offered_patch_sizes()]


def patch_hint(config: Any) -> str:
    """One line under the patch-size picker: what the star means and what to expect from the others."""
    native = config.native_patch_sizes
    if set(config.offered_patch_sizes()) <= set(native):
        return f"{NATIVE_MARK} trained at every size shown, so each should work about equally well."
    return (f"{NATIVE_MARK} = trained at this size. Other sizes reuse the {config.patch_size} px weights via "
            "PI-resize (FlexiViT): expect lower accuracy the further from ★, most of all for smaller patches.")


def head_choices(heads: int) -> list[tuple[str, str]]:
    return [("mean of heads", "mean"), ("max over heads", "max"), ("min over heads", "min")] + [
        (f"head {h}", str(h)) for h in range(heads)]


def model_choices(engine: Engine) -> list[tuple[str, str]]:
    """Dropdown choices; models that cannot load right now (offline, not cached) say so."""
    available = set(engine.available())
    offline = hub_offline()
    return [(e.title if k in available or not offline else f"{e.title} (not downloaded)", k)
            for k, e in engine.entries.items()]


class Handlers:
    """The event functions, bound to one `Engine`."""

    def __init__(self, engine: Engine):
        self.engine = engine

    # -- analysis (may run a forward pass) -------------------------------------------------------------

    @shown_to_user
    def analyse(self, image: Any, model: str, patch_size: Any, keep_aspect: bool, *view: Any) -> tuple:
        """New image, model or patch size: one forward (or a cache hit), then every view of it.

        Outputs: grid, attention, labels, summary, caption, analysis key, clicked patch, relevance-target
        dropdown. (The per-head gallery follows in its own event, so these show first.)
        """
        if image is None:
            return None, None, None, "Upload an image, paste one, use the webcam, or pick an example.", "", \
                None, None, gr.update(choices=[("top-1", "")], value="")
        entry = self.engine.entry(model)
        result = self.engine.analysis(self.engine.decode(image), entry.key, patch_size, keep_aspect)
        analysis = result.analysis
        s = replace(settings_from(*view), target=None)  # a new image has new classes: explain its top-1
        targets = [label for label, _ in analysis.top(5)]
        return (views.grid_picture(analysis, s), views.attention_picture(analysis, s), views.top_labels(analysis),
                views.summary(analysis, entry.title, result.seconds, result.cached),
                views.caption(analysis, s), tuple(result.key), None,
                gr.update(choices=[("top-1", "")] + [(t, t) for t in targets], value=""))

    def _stored(self, key: Any, image: Any) -> Any:
        """The analysis behind the pictures shown (None before the first), recomputed if the cache dropped it.

        The key, not the current controls, names the analysis, so a view is always of the image and model
        whose pictures are on screen, even while a newer analysis is on its way.
        """
        if not key:
            return None
        key = AnalysisKey(*key)
        analysis = self.engine.cached(key)
        if analysis is None and image is not None:
            analysis = self.engine.analysis(self.engine.decode(image), key.model, key.patch_size,
                                            key.keep_aspect).analysis
        return analysis

    # -- views (no forward pass, except relevance's one backward) --------------------------------------

    @shown_to_user
    def attention_view(self, key: Any, patch: Any, image: Any, *view: Any) -> tuple:
        """Outputs: the attention picture and its caption."""
        analysis = self._stored(key, image)
        if analysis is None:
            return gr.skip(), gr.skip()
        s = settings_from(*view, patch=patch)
        return views.attention_picture(analysis, s), views.caption(analysis, s)

    @shown_to_user
    def grid_view(self, key: Any, patch: Any, image: Any, *view: Any) -> Any:
        analysis = self._stored(key, image)
        return gr.skip() if analysis is None else views.grid_picture(analysis, settings_from(*view, patch=patch))

    @shown_to_user
    def heads_view(self, key: Any, image: Any, *view: Any) -> Any:
        analysis = self._stored(key, image)
        if analysis is None:
            return [] if image is None else gr.skip()
        return views.head_pictures(analysis, settings_from(*view))

    @shown_to_user
    def select_patch(self, key: Any, evt: gr.SelectData) -> Any:
        """A click on the grid or the heatmap: the (row, col) of the patch under it (pictures follow in `.then`)."""
        from .. import render

        analysis = self.engine.cached(AnalysisKey(*key)) if key else None
        if analysis is None:
            return None
        scale = render.display_scale(analysis.view.size)
        shown = (analysis.view.width * scale, analysis.view.height * scale)
        return views.clicked_patch(analysis, float(evt.index[0]), float(evt.index[1]), shown)

    # -- models ----------------------------------------------------------------------------------------

    @shown_to_user
    def switch_model(self, model: str, previous: str | None,
                     progress: gr.Progress = gr.Progress(track_tqdm=True)) -> tuple:  # noqa: B008 (Gradio's API)
        """Load the chosen model (showing download progress), then refit the controls to it.

        Outputs: model dropdown, active model, patch radio, patch hint, layer slider, head dropdown, status.
        A model that cannot load leaves the previous one selected, with a warning saying why.
        """
        try:
            entry = self.engine.entry(model)
            progress(0, desc=f"Loading {entry.title}…")
            config = self.engine.model(entry.key).config
        except UserError as exc:
            gr.Warning(str(exc), duration=12)
            if previous and previous != model:
                return (gr.update(value=previous), previous) + (gr.skip(),) * 5
            raise
        self.engine.adopt_pending(entry.key)
        return (gr.update(value=entry.key), entry.key,
                gr.update(choices=patch_choices(config), value=config.patch_size), patch_hint(config),
                gr.update(maximum=config.depth, value=config.depth), gr.update(choices=head_choices(config.heads),
                                                                                value="mean"),
                self.status(entry.key))

    def status(self, model: str) -> str:
        """The line at the top: which model runs, what it is, and why it was chosen when it is the default."""
        entry = self.engine.entry(model)
        why = f" {self.engine.startup.reason}" if entry.key == self.engine.default_key else ""
        return f"**Model: {entry.title}.** {entry.blurb}{why}"

    # -- tabs ------------------------------------------------------------------------------------------

    @shown_to_user
    def compare(self, image: Any, model: str, sizes: list[Any], keep_aspect: bool, *view: Any) -> Any:
        """Two or three patch sizes side by side: the grids on top, their heatmaps below."""
        if image is None:
            raise UserError("Upload an image first.")
        chosen = sorted({int(p) for p in sizes or []})
        if not 2 <= len(chosen) <= MAX_COMPARED:
            raise UserError(f"Pick two or three patch sizes to compare (you picked {len(chosen)}).")
        picture = self.engine.decode(image)
        s = settings_from(*view)
        grids, maps = [], []
        for p in chosen:
            analysis = self.engine.analysis(picture, model, p, keep_aspect).analysis
            label, probability = analysis.top(1)[0]
            rows, cols = analysis.grid
            grids.append((views.grid_picture(analysis, s), f"patch {p}: {rows}×{cols} = {rows * cols} patches"))
            maps.append((views.attention_picture(analysis, s), f"patch {p}: {label} {probability:.0%}"))
        return gr.update(value=grids + maps, columns=len(chosen))

    @shown_to_user
    def refresh_tab(self, tab: str | None, key: Any, image: Any) -> tuple:
        """Redraw the recipe or the probing figures when that tab is open; leave every tab output alone else.

        Outputs: recipe table, recipe gallery, the three probing figures.
        """
        if tab == "recipe":
            return (*self.recipe(key, image), gr.skip(), gr.skip(), gr.skip())
        if tab == "probing":
            return (gr.skip(), gr.skip(), *self.probing(key, image))
        return (gr.skip(),) * 5

    def recipe(self, key: Any, image: Any) -> tuple:
        """The recipe, live: a table of every stage (shape, what happened) and the pictures of it."""
        analysis = self._stored(key, image)
        if analysis is None:
            return "Upload an image to see each step of the recipe on it.", []
        from ..recipe import recipe

        stages = recipe(analysis)
        rows = "\n".join(f"| {i} | {st.name} | `{' × '.join(map(str, st.shape))}` | {st.note} |"
                         for i, st in enumerate(stages, 1))
        table = "| # | stage | tensor shape | what happened |\n|---|---|---|---|\n" + rows
        pictures = [(st.picture, f"{i}. {st.name}") for i, st in enumerate(stages, 1) if st.picture is not None]
        return table, pictures

    def probing(self, key: Any, image: Any) -> tuple:
        """The ViT paper's Fig. 7 for this model (and, for attention distance, this image)."""
        analysis = self._stored(key, image)
        if analysis is None:
            return gr.skip(), gr.skip(), gr.skip()
        from ..probing import probing_figures

        figures = probing_figures(analysis)
        return (figures["embedding filters"], figures["position embedding similarity"],
                figures["mean attention distance"])
