"""What each output of the app shows, from a stored analysis and a checked `View`: no forward pass, no Gradio.

The pictures themselves come from `vitdemo.explain.render`; this module only decides which map goes into
which picture (the class token's by method, or a clicked patch's row), names the files they download as,
and writes the summary line. These are the server's pictures (the API and the reference the browser
tests compare with): the page draws its views itself (`explorer.js`), equal to these within 2/255.
Settings are checked against the analysis (`validation.fit`) and refused when they do not fit, never
clamped: a value that does not fit the model is a bad API value.

`vitdemo.explain.render` (and with it torch) is imported inside the functions that draw, so that building
the page does not wait for torch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .. import class_names, methods
from ..numbering import shown
from ..preprocessing import MAX_KEEP_ASPECT
from .i18n import ENGLISH, catalogue, text
from .model_info import MAX_LISTED_CLASSES
from .models import ModelEntry, title_of
from .validation import Patch, View, fit, head_index, layer_index, layer_number

if TYPE_CHECKING:
    from ..explain.analysis import Analysis

Named = tuple[Image.Image, str]  # a picture and the name (without suffix) it downloads as
# An upload the model's view enlarges more than this many times is said to be enlarged (a 1×1 image becomes one
# flat colour; a 40 px icon shows its pixels as blocks); a little enlargement, such as 200 px to 224, is not news.
ENLARGED = 2


def current_map(analysis: Analysis, v: View) -> np.ndarray:
    """The (rows, cols) map the view asks for: a clicked patch's attention row, else the class token's."""
    fit(analysis, v)
    layer, head = layer_index(v.layer, analysis.depth), head_index(v.head)
    if v.patch is not None:
        return analysis.patch_attention(*v.patch, layer=layer, head=head)
    return analysis.attention_map(v.method, layer=layer, head=head, target=v.target,
                                  discard_ratio=v.discard_ratio)


def attention_picture(analysis: Analysis, v: View) -> Named:
    """The heatmap over the model's view; with a clicked patch, that patch outlined."""
    from ..explain import render

    picture = render.overlay(analysis, current_map(analysis, v), v.cmap, v.opacity, v.smooth)
    if v.patch is not None:
        picture = render.mark_patch(picture, analysis, *v.patch)
    return picture, picture_name(analysis, v, "attention")


def grid_picture(analysis: Analysis, v: View) -> Named:
    """The patches the model sees; with a clicked patch, that patch outlined."""
    from ..explain import render

    fit(analysis, v)
    picture = render.patch_grid(analysis, show_indices=v.show_indices, show_order=v.show_order)
    if v.patch is not None:
        picture = render.mark_patch(picture, analysis, *v.patch)
    return picture, picture_name(analysis, v, "grid")


def picture_name(analysis: Analysis, v: View, kind: str) -> str:
    """What a picture downloads as: top-1 class, patch size, and what it shows (`star_p16_rollout_layer6`)."""
    from ..explain.payload import stem

    return file_name(stem(analysis), kind, v.method, layer_number(v.layer, analysis.depth), v.head, v.target,
                     v.patch)


def file_name(stem: str, kind: str, method: str, layer: int, head: str | int, target: str | None,
              patch: Patch | None) -> str:
    """The rule for download names, the page's too (`painter_core.js` `fileName`, tested on the same cases in
    tests/js/file_names.json): `stem_grid`, `stem_patchR-C_layerL`, or `stem_METHOD[_CLASS]_layerL`, with
    `_headH` for a head other than the mean; the class is named for a class method whose class was chosen.
    `layer` and `head` (the one the picture was drawn with) count from 1, as the page shows them; `patch` is the
    grid's (row, col) from 0, as a `View` holds it, and is named from 1 like everything else a person reads."""
    if kind == "grid":
        return f"{stem}_grid"
    heads = "" if head == "mean" else f"_head{head}"
    if patch is not None:
        return f"{stem}_patch{shown(patch[0])}-{shown(patch[1])}_layer{layer}{heads}"
    target = f"_{target}" if target and methods.method(method).needs_class else ""
    return f"{stem}_{method}{target}_layer{layer}{heads}"


def top_labels(analysis: Analysis, k: int = 5, lang: str = ENGLISH) -> dict[str, float] | None:
    """{label: probability} of the k best classes, the shape `gr.Label` takes, each named as a reader of
    `lang` names it (the bundled shapes in Chinese on a Chinese page, `class_names`); None without a classifier."""
    return {class_names.shown(label, analysis.labels, lang): p for label, p in analysis.top(k)} or None


def known_classes(analysis: Analysis, lang: str = ENGLISH) -> str:
    """For a model with few classes, the line that says so: a photo still gets one of *these* labels; for a
    model without a classifier, that it has none."""
    if not analysis.top(1):
        return text("messages.summary.no_classifier", lang)
    labels = analysis.labels
    if len(labels) > MAX_LISTED_CLASSES:
        return ""
    return text("messages.summary.few_classes", lang, count=len(labels),
                labels=", ".join(class_names.shown_all(labels, lang)))


def summary(analysis: Analysis, title: str, seconds: float | None = None, cached: bool = False,
            cropped_from: tuple[int, int] | None = None, lang: str = ENGLISH, decoded: tuple[int, int] | None = None,
            animated: str | None = None) -> str:
    """Markdown, in `lang`: the model, the grid, the token count, the timing, what the model knows, and what
    was done to the upload that the picture alone does not tell: cut (`cropped_from`), much enlarged (the
    `decoded` size), the first frame of an `animated` file taken."""
    rows, cols = analysis.grid
    p = analysis.patch_size
    native = analysis.model.config.native_patch_sizes
    how = (text("messages.summary.native", lang) if p in native
           else text("messages.summary.resized", lang, patch=analysis.model.config.patch_size))
    timing = text("messages.summary.cached", lang) if cached else (
        text("messages.summary.ms", lang, ms=f"{seconds * 1000:.0f}") if seconds is not None else "")
    prefix = analysis.num_prefix_tokens
    line = text("messages.summary", lang, title=title, patch=p, how=how, rows=rows, cols=cols, prefix=prefix,
                tokens=rows * cols + prefix, width=analysis.view.width, height=analysis.view.height, timing=timing)
    notes = [known_classes(analysis, lang)]
    if cropped_from is not None:
        w, h = cropped_from
        notes.append(text("messages.summary.cropped", lang, width=w, height=h, ratio=f"{MAX_KEEP_ASPECT:g}"))
    if decoded is not None and min(analysis.view.size) > ENLARGED * min(decoded):
        notes.append(text("messages.summary.enlarged", lang, width=decoded[0], height=decoded[1],
                          view_width=analysis.view.width, view_height=analysis.view.height))
    if animated:
        notes.append(text("messages.summary.first_frame", lang, format=animated))
    return "  \n".join([line] + [n for n in notes if n])


def status_line(entry: ModelEntry, why: str, lang: str = ENGLISH) -> str:
    """The line at the top of the page: which model runs, what it is, and `why` it was chosen ("" when picked)."""
    blurb = f"messages.blurb.{entry.key}"
    blurb = text(blurb, lang) if blurb in catalogue()[ENGLISH] else entry.blurb  # a folder's model has none
    return text("messages.status", lang, title=title_of(entry, lang), blurb=blurb, why=f" {why}" if why else "")


def recipe_table(analysis: Analysis, lang: str = ENGLISH) -> tuple[str, list[Named]]:
    """The recipe tab, in `lang`: a Markdown table of every stage (number, name, shape, what happened) and the
    pictures of the stages that have one, captioned with their number and name (strings/recipe.py)."""
    from ..explain.recipe import recipe

    stages = [(text(f"recipe.{st.kind}.name", lang, **st.values), text(f"recipe.{st.kind}.note", lang, **st.values),
               st) for st in recipe(analysis)]
    rows = "\n".join(f"| {i} | {cell(name)} | `{' × '.join(map(str, st.shape))}` | {cell(note)} |"
                     for i, (name, note, st) in enumerate(stages, 1))
    table = text("messages.recipe.header", lang) + "\n|---|---|---|---|\n" + rows
    pictures = [(st.picture, f"{i}. {name}") for i, (name, _, st) in enumerate(stages, 1) if st.picture is not None]
    return table, pictures


def cell(text: str) -> str:
    """Text safe inside a Markdown table cell: a `|` would end the cell (and cut the row) otherwise."""
    return text.replace("|", "\\|").replace("\n", " ")
