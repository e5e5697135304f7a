"""The guided tour tab: the recipe of `vitdemo/model.py` one step at a time, with Next / Back.

The tour reads the analysis the page shows (the image, model and patch size chosen above it), so it runs
no forward pass of its own, and follows a new one while it is open. Each step shows a progress line (step k
of n and every stage's name, the current one marked; `data-step` names the step's key for tests and
scripts), one or two sentences on why the step is there, its tensor's shape, a picture, and the code from
`vitdemo/model.py` that computed it, highlighted. The encoder step has a slider for the block it opens,
the loss step a picker for the label the cross-entropy is computed against. The free page (the explorer
above, the other tabs) stays as it is: "Back to the explorer" returns to it, the header's "Guided tour"
button opens this tab.

The steps' numbers, pictures and code are `vitdemo.explain.tour`'s; this module only words and places them.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gradio as gr

from .. import numbering
from ..explain import tour as recipe_tour
from .i18n import t, text
from .outputs import PictureStore, output_image

if TYPE_CHECKING:
    from ..explain.analysis import Analysis

INPUTS = ("image", "key", "tab", "tour_step", "tour_block", "tour_label")
OUTPUTS = ("tour_progress", "tour_why", "tour_shape", "tour_picture", "tour_code", "tour_block", "tour_label",
           "tour_back", "tour_next", "tour_step")
# What the block slider and the loss label change: the step's texts and picture. Only these are sent back, and
# only the picture shows progress, so dragging the slider neither fades the whole panel (every output of an
# event is veiled while it runs) nor puts the slider back under the pointer.
STEP_CONTENT = ("tour_why", "tour_shape", "tour_picture", "tour_code")
TAB = "tour"
FREE_TAB = "heads"  # the tab the free page opens with (ui.py's first)
SCROLL_TO_TABS = "() => document.querySelector('#tabs')?.scrollIntoView({block: 'start'})"
SCROLL_TO_TOP = "() => window.scrollTo(0, 0)"
CSS = """
#tour-progress .tour-steps {display: flex; flex-wrap: wrap; gap: 4px; margin-top: 4px; font-size: 0.8rem;}
#tour-progress .tour-steps span {padding: 1px 8px; border-radius: 999px; background: var(--neutral-100);}
#tour-progress .tour-steps span.current {background: var(--primary-500); color: white;}
#tour-progress .tour-steps span.done {background: var(--primary-100);}
#tour-why p {font-size: 0.95rem;}
"""
Values = dict[str, Any]


def tour_panel(store: PictureStore) -> dict[str, Any]:
    """The tour's components, by name, built in the caller's layout (inside its tab)."""
    ui: dict[str, Any] = {}
    with gr.Column(elem_id="tour"):
        gr.Markdown(t("tour.intro"), elem_id="tour-intro")
        ui["tour_progress"] = gr.HTML("", elem_id="tour-progress", padding=False)
        with gr.Row(equal_height=True, elem_id="tour-buttons"):
            ui["tour_back"] = gr.Button(t("tour.back"), elem_id="tour-back", interactive=False, scale=1,
                                        min_width=90)
            ui["tour_next"] = gr.Button(t("tour.next"), elem_id="tour-next", variant="primary", scale=1,
                                        min_width=90)
            ui["tour_free"] = gr.Button(t("tour.free"), elem_id="tour-free", variant="secondary", scale=2,
                                        min_width=160)
        with gr.Row(equal_height=False):
            with gr.Column(scale=5, min_width=300):
                ui["tour_why"] = gr.Markdown(t("tour.empty"), elem_id="tour-why")
                ui["tour_shape"] = gr.Markdown("", elem_id="tour-shape")
                ui["tour_block"] = gr.Slider(1, 2, value=1, step=1, label=t("tour.block"), elem_id="tour-block",
                                             visible=False)
                ui["tour_label"] = gr.Dropdown([], value=None, label=t("tour.label"), elem_id="tour-label",
                                               visible=False, allow_custom_value=False)
                ui["tour_picture"] = output_image(store, label=t("tour.picture"), elem_id="tour-picture",
                                                  interactive=False, height=340)
            with gr.Column(scale=6, min_width=300):
                ui["tour_code"] = gr.Code("", language="python", label=t("tour.code"), elem_id="tour-code",
                                          interactive=False, lines=12, max_lines=40, wrap_lines=True)
    ui["tour_step"] = gr.State(0)  # index of the step shown, in this model's steps
    return ui


class TourHandlers:
    """The tour's events; `analysis_of(values)` is the analysis the page shows (None before the first)."""

    def __init__(self, analysis_of: Callable[[Values], Analysis | None]):
        self.analysis_of = analysis_of

    def show(self, values: Values, lang: str = "en") -> Values:
        """The step `values["tour_step"]` of the analysis shown, clamped to this model's steps."""
        analysis = self.analysis_of(values)
        if analysis is None:
            return empty(lang)
        keys = recipe_tour.step_keys(analysis)
        index = min(max(int(values.get("tour_step") or 0), 0), len(keys) - 1)
        key = keys[index]
        block = int(values.get("tour_block") or numbering.FIRST)  # the slider counts blocks from 1
        block = min(max(block, numbering.FIRST), analysis.depth)
        label = values.get("tour_label")
        label = label if label in analysis.labels else None
        step = recipe_tour.step(analysis, key, block=numbering.index(block), label=label)
        code_label = text("tour.code_label", lang, names=", ".join(step.sources))
        return {"tour_step": index, "tour_progress": progress(keys, index, lang),
                "tour_why": why(step, lang, last=index == len(keys) - 1), "tour_shape": shape_line(step.shape, lang),
                "tour_picture": step.picture,
                "tour_code": gr.update(value=step.code, label=code_label),
                "tour_block": gr.update(visible=key == "encoder", maximum=analysis.depth, value=block),
                "tour_label": (gr.update(visible=True, choices=list(analysis.labels), value=step.facts["label"])
                               if key == "loss" else gr.update(visible=False)),
                "tour_back": gr.update(interactive=index > 0),
                "tour_next": gr.update(interactive=index < len(keys) - 1)}

    def shown_if_open(self, values: Values, lang: str = "en") -> Values:
        """A new analysis (image, model or patch size changed): redraw the step if the tour is open."""
        return self.show(values, lang) if values.get("tab") == TAB else {}

    def next(self, values: Values, lang: str = "en") -> Values:
        return self.show({**values, "tour_step": int(values.get("tour_step") or 0) + 1}, lang)

    def back(self, values: Values, lang: str = "en") -> Values:
        return self.show({**values, "tour_step": int(values.get("tour_step") or 0) - 1}, lang)

    def opened(self, values: Values, lang: str = "en") -> Values:
        """The tab opened (by its header button too, which also selects it): the step the visitor left."""
        return {**self.show({**values, "tab": TAB}, lang), "tab": TAB, "tabs": gr.Tabs(selected=TAB)}

    def left(self, values: Values) -> Values:
        """Back to the free page: the explorer on top, the first tab open, as the page starts."""
        return {"tab": FREE_TAB, "tabs": gr.Tabs(selected=FREE_TAB)}


def empty(lang: str) -> Values:
    """No analysis yet: the tour says how to start, and nothing else shows."""
    return {"tour_step": 0, "tour_progress": "", "tour_why": text("tour.empty", lang), "tour_shape": "",
            "tour_picture": None, "tour_code": gr.update(value=""), "tour_block": gr.update(visible=False),
            "tour_label": gr.update(visible=False), "tour_back": gr.update(interactive=False),
            "tour_next": gr.update(interactive=False)}


def progress(keys: tuple[str, ...], index: int, lang: str) -> str:
    """The progress line: "Step k of n: name", then every stage's name, the current one marked."""
    names = [text(f"tour.stage.{key}", lang) for key in keys]
    chips = "".join(f'<span class="{"current" if i == index else "done" if i < index else ""}" '
                    f'data-key="{key}">{html.escape(name)}</span>' for i, (key, name) in enumerate(zip(keys, names)))
    line = text("tour.progress", lang, index=index + 1, count=len(keys), name=names[index])
    return (f'<div class="tour-progress" data-step="{keys[index]}" data-index="{index + 1}" '
            f'data-count="{len(keys)}"><strong>{html.escape(line)}</strong><div class="tour-steps">{chips}</div></div>')


def why(step: recipe_tour.Step, lang: str, last: bool = False) -> str:
    """The step's sentences, its facts filled in (shapes written as 1 × 4 × 37 × 37)."""
    facts = {k: " × ".join(map(str, v)) if isinstance(v, tuple) else v for k, v in step.facts.items()}
    key = "position_flat" if step.key == "position" and not facts["layout"] else step.key
    sentences = text(f"tour.why.{key}", lang, **facts)
    if step.key == "class_output" and facts["with_mean"]:
        sentences += text("tour.why.class_output_mean", lang, **facts)
    if step.key == "class_output" and not facts["classifier"] and last:
        sentences += "\n\n" + text("tour.no_classifier", lang)
    return sentences


def shape_line(shape: tuple[int, ...], lang: str) -> str:
    if not shape:
        return text("tour.shape_scalar", lang)
    return text("tour.shape", lang, shape="(" + ", ".join(map(str, shape)) + ")")
