"""The page's components, one typed field each, under the names the handlers use (`Page`).

`ui.py` builds the components into the layout and hands them over as one `Page`; every wiring function
(`ui.py`, `side_by_side.py`, `figure_download.py`) reads them from it. The handlers still speak in names
(`{"patch": 16}`), so `bind` looks each name up with `Page.component`: a name that is no field fails while the
page is built, not at the first click. Building a `Page` checks each component against its field's class, so a
component swapped for another kind is caught there too.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Iterable, Iterator

import gradio as gr


class UnknownComponent(KeyError):
    """A handler or an event named a component the page does not have (a typo, or one left out of `Page`)."""


@dataclasses.dataclass(frozen=True, eq=False)
class Page:
    """Every component the events read or write, by the name the handlers use. The comments give the elem_id."""

    # header
    status: gr.Markdown  # #status: which model runs and why
    tour_start: gr.Button  # #tour-start
    # inputs (left)
    image: gr.Image  # #input-image
    webcam_error: gr.HTML  # #webcam-error
    draw: gr.Sketchpad  # #draw
    draw_send: gr.Button  # #draw-send (hidden: sketch.js clicks it when a stroke ends)
    model: gr.Dropdown  # #model: the model control (what a change does: `ui._wire_model`)
    model_info: gr.Markdown  # #model-info
    patch: gr.Radio  # #patch-size
    patch_hint: gr.Markdown  # #patch-hint
    keep_aspect: gr.Checkbox  # #keep-aspect
    prompts: gr.Textbox  # #prompts: what an image–text model looks for (hidden for classifiers)
    prompt_note: gr.Markdown  # #prompt-note: the template applied, softmax or sigmoid
    # results (right)
    summary: gr.Markdown  # #summary
    explorer: gr.HTML  # #explorer
    figure_button: gr.Button  # #download-figure
    figure_view: gr.Textbox  # #figure-view (hidden: the view the page sends)
    figure_file: gr.File  # #figure-file (hidden: the figure it downloads)
    labels: gr.Label  # #labels
    example_table: gr.Dataset  # #examples: the example pictures, which follow the model
    # tabs
    tabs: gr.Tabs  # #tabs
    tab_heads: gr.Tab  # #tab-heads
    heads_gallery: gr.HTML  # #heads-gallery
    tab_compare: gr.Tab  # #tab-compare
    compare_sizes: gr.Dropdown  # #compare-sizes
    compare_button: gr.Button  # #compare-button
    compare: gr.HTML  # #compare-gallery
    tab_recipe: gr.Tab  # #tab-recipe
    recipe_table: gr.Markdown  # #recipe-table
    recipe_gallery: gr.Gallery  # #recipe-gallery
    tab_probing: gr.Tab  # #tab-probing
    probe_filters: gr.Image  # #probe-filters
    probe_positions: gr.Image  # #probe-positions
    probe_distance: gr.Image  # #probe-distance
    tab_models: gr.Tab  # #tab-models
    models_second: gr.Dropdown  # #models-second
    models_compare: gr.HTML  # #models-compare
    tab_tour: gr.Tab  # #tab-tour
    tour_progress: gr.HTML  # #tour-progress
    tour_back: gr.Button  # #tour-back
    tour_next: gr.Button  # #tour-next
    tour_free: gr.Button  # #tour-free
    tour_why: gr.Markdown  # #tour-why
    tour_shape: gr.Markdown  # #tour-shape
    tour_block: gr.Slider  # #tour-block
    tour_label: gr.Dropdown  # #tour-label
    tour_picture: gr.Image  # #tour-picture
    tour_code: gr.Code  # #tour-code
    # per-session state
    tour_step: gr.State  # index of the tour's step shown
    key: gr.State  # the AnalysisKey of the analysis shown
    source: gr.State  # the (image, model, patch size, keep aspect) that key answers
    active_model: gr.State  # the model that runs (the picker may name one that failed to load)
    tab: gr.State  # the open tab, so a new analysis also refreshes its figures
    followup: gr.State  # (analysis, open tab) a tab the server draws must show (after_analysis.py)

    def __post_init__(self) -> None:
        hints = typing.get_type_hints(type(self))
        for name, kind in hints.items():
            value = getattr(self, name)
            if not isinstance(value, kind):
                raise TypeError(f"page component {name!r} is a {type(value).__name__}, not a {kind.__name__}")

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    def component(self, name: str) -> gr.components.Component:
        """The component named `name`; `UnknownComponent` (at build time) for a name that is no field."""
        if name not in self.names():
            raise UnknownComponent(f"the page has no component {name!r} (see vitdemo/app/page.py)")
        return getattr(self, name)

    def components(self, names: Iterable[str]) -> list[gr.components.Component]:
        return [self.component(name) for name in names]

    def items(self) -> Iterator[tuple[str, gr.components.Component]]:
        return ((name, getattr(self, name)) for name in self.names())
