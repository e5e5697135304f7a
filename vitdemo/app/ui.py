"""The page: layout and wiring only. What each event does is in `callbacks.py`, the math in `vitdemo`.

Layout, for a 1280×800 screen: the input (upload, webcam, paste, or the "Draw a shape" sketchpad under it,
`draw.py`) and the model/patch-size pickers on the left; the explorer (patch grid and map, drawn in the browser,
with its method/layer/head controls right under them) and, beside it, the top-5 labels with the examples under
them (the pictures that fit the model: `example_sets.py`), so the image, the examples, the grid, the map and the
top-5 are all on the first screen (issue 23); an example click keeps the map and the top-5 in view
(`REVEAL_RESULTS`), and click-to-hide answers in that top-5. Below: tabs for the per-head gallery, the
patch-size comparison, the recipe, the probing figures and a second model side by side (`side_by_side.py`); under the
model picker, its facts (`model_info.py`). On a phone (≤ 640 px) the header stacks and the input shrinks, so the
first screen shows a result; the top-5 and the examples follow it. Every control and output has a stable
`elem_id` (the browser tests and the screenshot walkthrough find them by it).

The components are one typed `Page` (page.py), under the names the handlers use; `bind` turns a handler of named
values into a Gradio function of components, so nothing is passed by position, and a name that is no component
fails while the page is built. What a change of the model control does is wired in one function, `_wire_model`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

import gradio as gr
from starlette.middleware import Middleware

from ..preprocessing import MAX_KEEP_ASPECT
from ..settings import EXAMPLES_DIR, settings
from . import after_analysis, draw, example_sets, figure_download, model_info, sessions, side_by_side
from . import tour as guided
from .admission import concurrency, gate_queued_events
from .api import register_endpoints
from .callbacks import Handlers, model_picker
from .choices import compare_default, patch_choices, patch_hint
from .components import check_first, example_index, upload_image
from .disk import UploadCap
from .errors import unknown_component
from .explorer import TOP5_CSS, explorer, gallery, head_script
from .i18n import language, t, t_message, translations
from .mcp_tools import mcp_server
from .models import HubProbe, choose_startup, settle_pending
from .outputs import PictureStore, output_gallery, output_image
from .page import Page
from .request_limit import BodyLimit
from .service import Engine
from .uploads import ACCEPTED_DESCRIPTION, MAX_FILE_BYTES

if TYPE_CHECKING:
    from ..config import ViTConfig

Binder = Callable[..., tuple[Callable[..., Any], set[Any], list[Any]]]  # `bind`, passed to wire elsewhere
# What `update` reads and what it may change, by name (see callbacks.Handlers.update). Every view of an
# analysis (method, layer, head, colours, a clicked patch) is drawn by the explorer in the browser.
SOURCE_CONTROLS = ("image", "model", "patch", "keep_aspect", "prompts")
STATES = ("key", "source", "active_model", "tab")
UPDATE_OUTPUTS = ("explorer", "labels", "summary", "key", "source", "compare", "model", "active_model", "status",
                  "patch", "patch_hint", "compare_sizes", "compare_button", "example_table", "prompts",
                  "prompt_note")
TOP5 = "labels"  # the top-5's elem_id: the explorer's click-to-hide answers there
MODEL_GROUP = "model"  # the concurrency_id of every event that may run the model
# An example click keeps the results in view: now, and when its analysis paints (explorer_top5.js).
REVEAL_RESULTS = ("() => { const V = window.vitdemo; V.revealUntil = performance.now() + 15000; "
                  "if (V.revealResults) V.revealResults(); }")
TAB_OUTPUTS = ("compare", "recipe_table", "recipe_gallery", "probe_filters", "probe_positions", "probe_distance")
# What the one event after an analysis reads and redraws (after_analysis.py): the open tab's figures, the
# second model's panel, the tour's step.
REDRAW_INPUTS = SOURCE_CONTROLS + STATES + ("compare_sizes", "models_second", "followup") + guided.INPUTS
REDRAW_OUTPUTS = TAB_OUTPUTS + ("models_compare",) + guided.OUTPUTS
CSS = """
#header {align-items: baseline; gap: 12px;}
#header h1 {font-size: 1.25rem; margin: 0;}
#status p, #summary p, #caption p, #patch-hint p, #model-info p, #prompt-note p {font-size: 0.8rem; margin: 0;
  opacity: 0.85;}
.gradio-container {padding-top: 6px !important;}
#recipe-table td {white-space: normal; font-size: 0.85rem;}
#webcam-error:has(.webcam-msg:empty) {display: none;}
#webcam-error {color: #b91c1c; font-size: 0.85rem;}
#download-figure {align-self: flex-start; width: auto !important; min-width: 180px; flex-grow: 0;}
#examples {padding: 6px 8px !important;}
#examples .gallery {gap: 6px; display: grid; grid-template-columns: repeat(auto-fill, minmax(54px, 1fr));}
#examples .gallery-item {margin: 0; padding: 0;}
#examples .gallery-item .container.gallery {width: 100% !important; height: auto !important; aspect-ratio: 1;}
#examples .gallery-item img {width: 100%; height: 100%; object-fit: cover;}
#probing-row [data-testid=block-label] {position: static; margin-bottom: 6px; max-width: 100%;}
@media (max-width: 640px) {
  #header {flex-direction: column; gap: 2px;}
  #header h1 {font-size: 1.05rem;}
  #summary p {font-size: 0.72rem; line-height: 1.35;}  /* the map still on the first screen */
  #main-row {flex-direction: column;}
  #inputs {display: contents;}
  #inputs > * {order: 2;}
  #inputs > #input-image {order: 0;}
  #inputs > #draw-panel {order: 0;}
  #results {order: 1;}
  #result-row {flex-wrap: wrap;}
  #explorer {flex: 1 1 100% !important;}
  #beside {flex: 1 1 100% !important;}
}
"""


def build_app(model: str | None = None, engine: Engine | None = None) -> gr.Blocks:
    """The demo. `model`: a registry key, hub id or folder (default: $VITDEMO_MODEL, else FlexiViT-B if it is
    cached or the hub answers, else the bundled model). Launch it with `launch_options()`."""
    now = settings()
    engine = engine or Engine(choose_startup(model or now.model))
    pending = engine.startup.pending
    probe = HubProbe(pending.source).start() if pending else None
    handlers = Handlers(engine)
    store = PictureStore()
    # Gradio's cache of uploads and outputs (ours included: see outputs.py) is aged out on a schedule.
    with gr.Blocks(title="ViT explorer", analytics_enabled=False,
                   delete_cache=(now.cache_seconds, now.cache_seconds)) as demo:
        page = _layout(engine, engine.config(), store)
        _wire(demo, page, handlers, engine, probe)
        figure_download.wire(page, figure_download.FigureDownloads(engine, store), bind,
                             {"api_visibility": "undocumented", **_model_group()})
        register_endpoints(engine, _model_group(), store)
    demo.queue(default_concurrency_limit=concurrency(), max_size=now.queue_size)
    gate_queued_events(demo, engine.gate, MODEL_GROUP)  # one limit for them and the explorer's server functions
    demo.vitdemo_engine = engine  # tests and benchmarks reach the cache through it
    demo.vitdemo_page = page  # and the components by name
    demo.vitdemo_handlers = handlers  # `serve` turns on their warming of the examples
    demo.vitdemo_pictures = store
    return demo


def launch_options() -> dict[str, Any]:
    """Arguments for `demo.launch` that belong to the app (Gradio 6 takes theme, CSS and head here), and the
    server's own limits: request bodies (`request_limit`), the upload folder's size (`disk`) and which
    sessions keep their state (`sessions`)."""
    now = settings()
    middleware = [Middleware(BodyLimit), Middleware(UploadCap, cap_bytes=now.upload_mb * 2**20)]
    return {"theme": gr.themes.Soft(primary_hue="indigo"), "css": CSS + TOP5_CSS + guided.CSS, "head": head_script(),
            "max_file_size": MAX_FILE_BYTES, "allowed_paths": [str(EXAMPLES_DIR)],
            "footer_links": ["api", "gradio"], "state_session_capacity": now.sessions,
            "i18n": translations(), "mcp_server": mcp_server(now.mcp),
            "app_kwargs": {"middleware": middleware, "lifespan": sessions.lifespan,
                           "exception_handlers": {KeyError: unknown_component}}}


def _model_group() -> dict[str, Any]:
    """Every event that may run the model shares one concurrency group: one forward at a time per instance
    (and its work takes the engine's gate, which the explorer's server functions share: see admission.py)."""
    return {"concurrency_id": MODEL_GROUP, "concurrency_limit": concurrency()}


def bind(fn: Callable[..., dict[str, Any]], page: Page, inputs: Iterable[str], outputs: Iterable[str],
         extra: str = "") -> tuple[Callable[..., Any], set[Any], list[Any]]:
    """(Gradio function, input components, output components) for a handler of named values.

    Gradio hands a function with a *set* of inputs one dict {component: value}; the handler gets
    {name: value} and returns {name: value} for the outputs it changes, which become {component: value}.
    Every name must be a field of `page` (`UnknownComponent` otherwise, while the page is built).
    `extra`: "select" passes Gradio's SelectData on; "update" passes the name of the control that fired, a
    progress tracker (model downloads show in the page), `lang` and `session`; "request" passes `lang`, the
    page's language (`i18n.language` of the request: what the handler writes is written in it); "session"
    passes `lang` and `session`, the page's session hash (the analyses a handler sends are granted to it, and
    a key the page sends back is checked against them: see grants.py).
    """
    names = {page.component(name): name for name in inputs}
    outs = tuple(outputs)
    components = page.components(outs)
    # A component an event has updated reaches the handler as the session's copy of it: Gradio rebuilds it
    # from its constructor's arguments, so it keeps its elem_id but has an id and identity of its own.
    every = {**{component._id: name for name, component in page.items()},
             **{component.elem_id: name for name, component in page.items() if component.elem_id}}

    def call(data: dict[Any, Any], **more: Any) -> dict[Any, Any]:
        values = {names[component]: value for component, value in data.items()}
        changed = {page.component(name): value for name, value in fn(values, **more).items() if name in outs}
        return changed or {components[0]: gr.skip()}  # Gradio reads an empty dict as one value, not as "none"

    if extra == "select":
        def run(data: dict[Any, Any], evt: gr.SelectData) -> dict[Any, Any]:
            return call(data, evt=evt)
    elif extra == "request":  # the handler gets `lang`, the page's language (see i18n.language)
        def run(data: dict[Any, Any], request: gr.Request) -> dict[Any, Any]:
            return call(data, lang=language(request))
    elif extra == "session":
        def run(data: dict[Any, Any], request: gr.Request) -> dict[Any, Any]:
            return call(data, lang=language(request), session=request.session_hash or "")
    elif extra == "update":
        def run(data: dict[Any, Any], evt: gr.EventData, request: gr.Request,
                progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict[Any, Any]:  # noqa: B008 (Gradio's API)
            target = getattr(evt, "target", None)  # None for the page load: Gradio names no component for it
            page_load = target is None or isinstance(target, gr.Blocks)
            trigger = "page" if page_load else every.get(target.elem_id or target._id)
            return call(data, trigger=trigger, progress=progress, lang=language(request),
                        session=request.session_hash or "")
    else:
        def run(data: dict[Any, Any]) -> dict[Any, Any]:
            return call(data)
    run.__name__ = getattr(fn, "__name__", "handler")
    return run, set(names), components


def _layout(engine: Engine, config: ViTConfig, store: PictureStore) -> Page:
    """The page's layout; its components by name (built here, then checked by `Page`)."""
    ui: dict[str, Any] = {}
    with gr.Row(elem_id="header"):
        gr.Markdown("# " + t("page.title"))  # Gradio translates a key inside a longer string too
        ui["status"] = gr.Markdown(t_message(engine.startup.reason), elem_id="status")
        ui["tour_start"] = gr.Button(t("tour.start"), elem_id="tour-start", size="sm", scale=0, min_width=130)
    with gr.Row(equal_height=False, elem_id="main-row"):
        with gr.Column(scale=3, min_width=260, elem_id="inputs"):
            ui["image"] = _image_input(engine)
            ui["webcam_error"] = gr.HTML('<span class="webcam-msg"></span>', elem_id="webcam-error", padding=False)
            with gr.Accordion(t("draw.panel"), open=False, elem_id="draw-panel"):
                gr.Markdown(t("draw.help"), elem_id="draw-help")
                ui["draw"] = draw.sketchpad()  # a drawing becomes the image input (see draw.py)
                ui["draw_send"] = draw.send_button()
            ui["model"] = model_picker(engine, value=engine.default_key, label=t("page.model"), elem_id="model")
            ui["model_info"] = gr.Markdown(model_info.info(engine, engine.default_key), elem_id="model-info")
            ui["patch"] = gr.Radio(patch_choices(config), value=config.patch_size, label=t("page.patch_size"),
                                   elem_id="patch-size")
            ui["patch_hint"] = gr.Markdown(patch_hint(config), elem_id="patch-hint")
            ui["keep_aspect"] = gr.Checkbox(False, label=t("page.keep_aspect", ratio=f"{MAX_KEEP_ASPECT:g}"),
                                            elem_id="keep-aspect")
            ui["prompts"] = gr.Textbox("", label=t("prompts.label"), placeholder=t("prompts.placeholder"),
                                       lines=1, max_lines=4, visible=False, elem_id="prompts")
            ui["prompt_note"] = gr.Markdown("", visible=False, elem_id="prompt-note")
        with gr.Column(scale=9, elem_id="results"):
            ui["summary"] = gr.Markdown("", elem_id="summary")
            with gr.Row(equal_height=False, elem_id="result-row"):
                with gr.Column(scale=4, min_width=300):
                    ui["explorer"] = explorer(engine, top5=TOP5)
                    ui.update(figure_download.controls())  # "Download figure": the view on screen
                with gr.Column(scale=1, min_width=200, elem_id="beside"):  # the top-5, then the examples
                    ui["labels"] = gr.Label(num_top_classes=5, label=t("page.top5"), elem_id=TOP5)
                    ui["example_table"] = _examples(ui["image"], engine)
    _tabs(ui, engine, config, store)
    ui["key"] = gr.State(None)  # the AnalysisKey of the analysis shown
    ui["source"] = gr.State(None)  # the (image, model, patch size, keep aspect) that key answers
    ui["active_model"] = gr.State(engine.default_key)
    ui["tab"] = gr.State("heads")  # the open tab, so a new analysis also refreshes its figures
    ui["followup"] = gr.State(None)  # (analysis, open tab) the tab must show: see after_analysis.py
    return Page(**ui)


def _image_input(engine: Engine) -> gr.Image:
    first = example_sets.example_files(engine.entry())[0]  # the first example that fits the model
    return upload_image(value=first, label=t("page.image"), height=230,
                        sources=["upload", "webcam", "clipboard"], format="png", elem_id="input-image",
                        placeholder=t("page.image_placeholder", accepted=ACCEPTED_DESCRIPTION))


def _examples(image: gr.Image, engine: Engine) -> gr.Dataset:
    """The examples table: the pictures that fit the model (`example_sets`; a model switch sends the new set:
    `callbacks.examples_for`). A bare `gr.Dataset`, not `gr.Examples`: that one loads the picture into the image
    box in an event of its own, and only the image's change then asks for the analysis (two round trips before
    any work, BENCHMARKS §15); here one event does both (`Handlers.example`, wired in `_wire`)."""
    samples = [[path] for path in example_sets.example_files(engine.entry())]
    table = gr.Dataset(components=[image], samples=samples, type="index", label=t("page.examples"),
                       samples_per_page=example_sets.MOST_EXAMPLES, elem_id="examples")
    check_first(table, example_index(example_sets.MOST_EXAMPLES))
    return table


def _tabs(ui: dict[str, Any], engine: Engine, config: ViTConfig, store: PictureStore) -> None:
    with gr.Tabs(elem_id="tabs") as ui["tabs"]:
        with gr.Tab(t("page.tab.heads"), id="heads", elem_id="tab-heads") as ui["tab_heads"]:
            ui["heads_gallery"] = gallery(engine, "heads", "heads-gallery")
        with gr.Tab(t("page.tab.compare"), id="compare", elem_id="tab-compare") as ui["tab_compare"]:
            with gr.Row():
                ui["compare_sizes"] = gr.Dropdown(patch_choices(config), value=compare_default(config),
                                                  multiselect=True, max_choices=3, label=t("page.compare_sizes"),
                                                  elem_id="compare-sizes", scale=4)
                ui["compare_button"] = gr.Button(t("page.compare_button"), variant="primary", elem_id="compare-button",
                                                 scale=1)
            ui["compare"] = gallery(engine, "compare", "compare-gallery")
        with gr.Tab(t("page.tab.recipe"), id="recipe", elem_id="tab-recipe") as ui["tab_recipe"]:
            ui["recipe_table"] = gr.Markdown("", elem_id="recipe-table")
            ui["recipe_gallery"] = output_gallery(store, label=t("page.recipe_gallery"), columns=6, height=300,
                                                  format="png", elem_id="recipe-gallery", object_fit="contain")
        with gr.Tab(t("page.tab.probing"), id="probing", elem_id="tab-probing") as ui["tab_probing"]:
            gr.Markdown(t("page.probing_intro"))
            with gr.Row(elem_id="probing-row"):  # its pictures' labels above them, not over them (CSS)
                ui["probe_filters"] = output_image(store, label=t("page.probe_filters"), format="png",
                                                   elem_id="probe-filters", interactive=False)
                ui["probe_positions"] = output_image(store, label=t("page.probe_positions"), format="png",
                                                     elem_id="probe-positions", interactive=False)
                ui["probe_distance"] = output_image(store, label=t("page.probe_distance"), format="png",
                                                    elem_id="probe-distance", interactive=False)
        with gr.Tab(t("models.tab"), id="models", elem_id="tab-models") as ui["tab_models"]:
            ui.update(side_by_side.layout(engine))
        with gr.Tab(t("tour.tab"), id="tour", elem_id="tab-tour") as ui["tab_tour"]:
            ui.update(guided.tour_panel(store))


def _wire(demo: gr.Blocks, page: Page, handlers: Handlers, engine: Engine, probe: HubProbe | None) -> None:
    hidden = {"api_visibility": "undocumented", **_model_group()}
    _wire_model(demo, page, handlers, engine, probe, hidden)
    with_sizes = SOURCE_CONTROLS + STATES + ("compare_sizes",)
    draw.wire(page)
    page.example_table.click(None, js=REVEAL_RESULTS)
    page.compare_sizes.input(*bind(handlers.compare_button, page, ["compare_sizes"], ["compare_button"]),
                             api_visibility="private")
    page.compare_button.click(*bind(handlers.compare, page, with_sizes, ["compare"], extra="session"), **hidden)
    for name in ("heads", "compare", "recipe", "probing"):
        page.component(f"tab_{name}").select(lambda n=name: n, None, page.tab, api_visibility="private").then(
            *bind(handlers.refresh_tab, page, with_sizes, TAB_OUTPUTS, extra="session"), **hidden)
    _wire_tour(page, guided.TourHandlers(handlers.stored), hidden)
    side_by_side.wire(page, engine, _model_group())


def _wire_model(demo: gr.Blocks, page: Page, handlers: Handlers, engine: Engine, probe: HubProbe | None,
                hidden: dict[str, Any]) -> None:
    """Everything a change of the model control (#model) does; no other function listens to it.

    1. The one event that answers for every control that needs the server (see callbacks.py): the model
       (`.select`: the dropdown fires `input` again when a failed switch puts the old value back), the
       image's change (upload, paste, webcam, drawing, clear), an example click (which sets the image in the
       same event: one round trip, BENCHMARKS §15), the patch size, keep-aspect and the page load.
       It loads the model, refits every model-dependent control (#model-info too, once a download ended) and
       analyses the image; then, only when a tab the server draws is open, one event redraws it
       (after_analysis.py: a stroke on the sketchpad costs one request, not five).
    2. #model-info follows the pick before any download starts.
    3. The side-by-side tab offers the new model's partner as its second model.
    """
    controls = SOURCE_CONTROLS + STATES
    handlers.settle = lambda: _settled(engine, probe)
    handlers.as_sent = page.image.move_resource_to_block_cache  # an example's path, as the image box sends it
    after = after_analysis.AfterAnalysis(handlers, engine)
    triggers = [page.image.change, page.model.select, page.patch.input, page.keep_aspect.input, page.prompts.submit,
                page.prompts.blur, page.example_table.click, demo.load]
    gr.on(triggers, *bind(after.update, page, controls + ("example_table",),
                          UPDATE_OUTPUTS + ("model_info", "followup", "image"), extra="update"),
          trigger_mode="always_last", show_progress="minimal", api_name="ui_update",
          show_progress_on=[page.explorer, page.labels], **hidden)
    page.followup.change(*bind(after.redraw, page, REDRAW_INPUTS, REDRAW_OUTPUTS, extra="session"),
                         trigger_mode="always_last", show_progress="hidden", **hidden)

    def info_line(model: str | None, request: gr.Request) -> str:
        return model_info.shown(engine, model, language(request))

    page.model.change(info_line, page.model, page.model_info, api_visibility="private", show_progress="hidden")
    page.model.change(side_by_side.SideBySide(engine).proposed, [page.model, page.models_second],
                      page.models_second, api_visibility="private", show_progress="hidden")


def _wire_tour(page: Page, tour: guided.TourHandlers, hidden: dict[str, Any]) -> None:
    """The guided tour (tour.py): Next, Back, the block slider and the loss label redraw one step; opening the
    tab (or the header's button) shows the step the visitor left (a new analysis redraws it while it is open:
    `_wire_model`)."""
    inputs, outputs = guided.INPUTS, guided.OUTPUTS
    for event, handler in ((page.tour_next.click, tour.next), (page.tour_back.click, tour.back)):
        event(*bind(handler, page, inputs, outputs, extra="request"), trigger_mode="always_last", **hidden)
    for control in (page.tour_block, page.tour_label):  # the step stays: only its texts and picture follow
        control.input(*bind(tour.show, page, inputs, guided.STEP_CONTENT, extra="request"), trigger_mode="always_last",
                      show_progress="minimal", show_progress_on=[page.tour_picture], **hidden)
    page.tab_tour.select(*bind(tour.opened, page, inputs, outputs + ("tab",), extra="request"), **hidden)
    page.tour_start.click(*bind(tour.opened, page, inputs, outputs + ("tab", "tabs"), extra="request"), **hidden)
    page.tour_start.click(None, js=guided.SCROLL_TO_TABS)
    page.tour_free.click(*bind(tour.left, page, ["tab"], ["tab", "tabs"]), api_visibility="private")
    page.tour_free.click(None, js=guided.SCROLL_TO_TOP)


def _settled(engine: Engine, probe: HubProbe | None) -> str:
    """On page load: the hub model to switch to if the probe found the hub, else the default model.

    Only while the probe is still out (online, model not cached) does this wait, and at most its timeout.
    """
    if probe is not None:
        probe.result(wait=probe.timeout)
    engine.startup = settle_pending(engine.startup, probe)
    pending = engine.startup.pending
    return pending.key if pending is not None and probe is not None and probe.result() else engine.default_key
