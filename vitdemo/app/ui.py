"""The page: layout and wiring only. What each event does is in `callbacks.py`, the math in `vitdemo`.

Layout, for a 1280×800 screen: the input and the model/patch-size pickers on the left; the patch grid, the
attention heatmap and the top-5 labels side by side on the right, with the method/layer/head controls
right under them, so the main result is visible without scrolling. Below: tabs for the per-head gallery,
the patch-size comparison, the recipe and the probing figures. Every control and output has a stable
`elem_id` (the browser test and the screenshot walkthrough find them by it).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path
from typing import Any

import gradio as gr

from ..uploads import ACCEPTED_DESCRIPTION, MAX_FILE_BYTES
from .api import register_endpoints
from .callbacks import Handlers, head_choices, model_choices, patch_choices, patch_hint
from .choices import COLORMAPS, DEFAULT_COLORMAP
from .components import upload_image
from .models import BUNDLED, HubProbe, choose_startup, settle_pending
from .outputs import output_gallery, output_image
from .service import Engine
from .zerogpu import gpu_machine

EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "assets" / "examples"
EXAMPLES = ("cat.jpg", "coffee.jpg", "astronaut.jpg", "rocket.jpg", "shape_star.png", "shape_triangle.png")
TITLE = "ViT explorer: how a Vision Transformer sees your image"
# Requests served at once. One on a CPU (a forward already uses every core); on a GPU, 8, which the engine
# batches into one forward of the one model instance.
CONCURRENCY = int(os.environ.get("VITDEMO_CONCURRENCY", "8" if gpu_machine() else "1"))
METHOD_LABELS = [("Attention", "attention"), ("Rollout", "rollout"), ("Relevance", "relevance")]
CSS = """
#header {align-items: baseline; gap: 12px;}
#header h1 {font-size: 1.25rem; margin: 0;}
#status p, #summary p, #caption p, #patch-hint p {font-size: 0.8rem; margin: 0; opacity: 0.85;}
.gradio-container {padding-top: 6px !important;}
#recipe-table td {white-space: normal; font-size: 0.85rem;}
"""


def build_app(model: str | None = None, engine: Engine | None = None) -> gr.Blocks:
    """The demo. `model`: a registry key, hub id or folder (default: $VITDEMO_MODEL, else FlexiViT-B if it is
    cached or the hub answers, else the bundled model). Launch it with `launch_options()`."""
    requested = model or os.environ.get("VITDEMO_MODEL") or None
    engine = engine or Engine(choose_startup(requested))
    pending = engine.startup.pending
    probe = HubProbe(pending.source).start() if pending else None
    handlers = Handlers(engine)
    config = engine.config()
    with gr.Blocks(title="ViT explorer", analytics_enabled=False) as demo:
        ui = _layout(engine, config)
        _wire(demo, ui, handlers, engine, probe)
        register_endpoints(engine, _model_group())
    demo.queue(default_concurrency_limit=CONCURRENCY, max_size=int(os.environ.get("VITDEMO_QUEUE_SIZE", "64")))
    demo.vitdemo_engine = engine  # tests and benchmarks reach the cache through it
    return demo


def launch_options() -> dict[str, Any]:
    """Arguments for `demo.launch` that belong to the app (Gradio 6 takes theme and CSS here)."""
    return {"theme": gr.themes.Soft(primary_hue="indigo"), "css": CSS, "max_file_size": MAX_FILE_BYTES,
            "allowed_paths": [str(EXAMPLES_DIR)], "footer_links": ["api", "gradio"]}


def _model_group() -> dict[str, Any]:
    """Every event that may run the model shares one concurrency group: one forward at a time per instance."""
    return {"concurrency_id": "model", "concurrency_limit": CONCURRENCY}


def _layout(engine: Engine, config: Any) -> dict[str, Any]:
    ui: dict[str, Any] = {}
    with gr.Row(elem_id="header"):
        gr.Markdown(f"# {TITLE}")
        ui["status"] = gr.Markdown(engine.startup.reason, elem_id="status")
    with gr.Row(equal_height=False):
        with gr.Column(scale=3, min_width=260):
            ui["image"] = _image_input(engine)
            ui["model"] = gr.Dropdown(model_choices(engine), value=engine.default_key, label="Model",
                                      elem_id="model")
            ui["patch"] = gr.Radio(patch_choices(config), value=config.patch_size, label="Patch size (px)",
                                   elem_id="patch-size")
            ui["patch_hint"] = gr.Markdown(patch_hint(config), elem_id="patch-hint")
            ui["keep_aspect"] = gr.Checkbox(False, label="Keep aspect ratio (non-square grid)",
                                            elem_id="keep-aspect")
        with gr.Column(scale=9):
            ui["summary"] = gr.Markdown("", elem_id="summary")
            with gr.Row(equal_height=True):
                ui["grid"] = output_image(label="Patch grid", format="png", height=330,
                                      interactive=False, elem_id="grid", buttons=["download", "fullscreen"])
                ui["attention"] = output_image(label="Attention", format="jpeg", height=330,
                                           interactive=False, elem_id="attention", buttons=["download", "fullscreen"])
                ui["labels"] = gr.Label(num_top_classes=5, label="Top-5", elem_id="labels", min_width=200)
            ui["caption"] = gr.Markdown("", elem_id="caption")
            with gr.Row():
                ui["method"] = gr.Radio(METHOD_LABELS, value="attention", label="Method", elem_id="method",
                                        scale=3)
                ui["layer"] = gr.Slider(1, config.depth, value=config.depth, step=1, label="Layer",
                                        elem_id="layer", scale=2)
                ui["head"] = gr.Dropdown(head_choices(config.heads), value="mean", label="Head", elem_id="head",
                                         scale=2)
                ui["target"] = gr.Dropdown([("top-1", "")], value="", label="Class (relevance)", elem_id="target",
                                           scale=2)
            ui["examples"] = _examples(ui["image"])
            _display_options(ui)
    _tabs(ui, config)
    ui["key"] = gr.State(None)
    ui["patch_clicked"] = gr.State(None)
    ui["active_model"] = gr.State(engine.default_key)
    return ui


def _image_input(engine: Engine) -> Any:
    first = "shape_star.png" if engine.default_key == BUNDLED else "cat.jpg"
    image = upload_image(value=str(EXAMPLES_DIR / first), label="Image", height=230,
                        sources=["upload", "webcam", "clipboard"], format="png", elem_id="input-image",
                        placeholder=f"Drop an image here. {ACCEPTED_DESCRIPTION}.")
    return image


def _examples(image: Any) -> gr.Examples:
    """Clicking one sets the input image, whose change runs the (cached per image) analysis: examples are
    thereby cached lazily, on first use, for every later visitor."""
    return gr.Examples([[str(EXAMPLES_DIR / name)] for name in EXAMPLES if (EXAMPLES_DIR / name).exists()], [image],
                label="Examples", examples_per_page=len(EXAMPLES), elem_id="examples")


def _display_options(ui: dict[str, Any]) -> None:
    with gr.Accordion("Display options", open=False, elem_id="display-options"), gr.Row():
        ui["cmap"] = gr.Dropdown(list(COLORMAPS), value=DEFAULT_COLORMAP, label="Colormap",
                                 elem_id="colormap", min_width=120)
        ui["opacity"] = gr.Slider(0.0, 1.0, value=0.6, step=0.05, label="Opacity", elem_id="opacity")
        ui["discard"] = gr.Slider(0.0, 0.95, value=0.0, step=0.05, label="Rollout: discard weakest",
                                  elem_id="discard")
        with gr.Column(min_width=160):
            ui["smooth"] = gr.Checkbox(False, label="Smooth heatmap", elem_id="smooth")
            ui["indices"] = gr.Checkbox(False, label="Token indices", elem_id="show-indices")
            ui["order"] = gr.Checkbox(False, label="Token order", elem_id="show-order")


def _tabs(ui: dict[str, Any], config: Any) -> None:
    with gr.Tabs(elem_id="tabs"):
        with gr.Tab("All heads of this layer", id="heads", elem_id="tab-heads") as ui["tab_heads"]:
            ui["gallery"] = output_gallery(label="Class-token attention, one picture per head", columns=6, height=360,
                                       format="jpeg", elem_id="heads-gallery", object_fit="contain")
        with gr.Tab("Compare patch sizes", id="compare", elem_id="tab-compare") as ui["tab_compare"]:
            with gr.Row():
                ui["compare_sizes"] = gr.CheckboxGroup(patch_choices(config), value=_compare_default(config),
                                                       label="Pick 2 or 3 patch sizes", elem_id="compare-sizes",
                                                       scale=4)
                ui["compare_button"] = gr.Button("Compare", variant="primary", elem_id="compare-button", scale=1)
            ui["compare_gallery"] = output_gallery(label="Patch grids (top) and attention (bottom)", columns=3,
                                               height=560, format="jpeg", elem_id="compare-gallery",
                                               object_fit="contain")
        with gr.Tab("The recipe, live", id="recipe", elem_id="tab-recipe") as ui["tab_recipe"]:
            ui["recipe_table"] = gr.Markdown("", elem_id="recipe-table")
            ui["recipe_gallery"] = output_gallery(label="Stages", columns=6, height=300, format="png",
                                              elem_id="recipe-gallery", object_fit="contain")
        with gr.Tab("Model probing", id="probing", elem_id="tab-probing") as ui["tab_probing"]:
            gr.Markdown("The ViT paper's Fig. 7 for this model: embedding filters (left), position-embedding "
                        "similarity (centre) and each head's mean attention distance on this image (right).")
            with gr.Row():
                ui["probe_filters"] = output_image(label="Top principal components of the patch-embedding filters",
                                               format="png", elem_id="probe-filters", interactive=False)
                ui["probe_positions"] = output_image(label="Position-embedding similarity", format="png",
                                                 elem_id="probe-positions", interactive=False)
                ui["probe_distance"] = output_image(label="Mean attention distance", format="png",
                                                elem_id="probe-distance", interactive=False)


def _compare_default(config: Any) -> list[int]:
    offered = config.offered_patch_sizes()
    return sorted({offered[0], config.patch_size, offered[-1]})[:3]


def _wire(demo: gr.Blocks, ui: dict[str, Any], handlers: Handlers, engine: Engine, probe: HubProbe | None) -> None:
    hidden = {"api_visibility": "undocumented", **_model_group()}
    source = [ui["image"], ui["model"], ui["patch"], ui["keep_aspect"]]
    view = [ui[k] for k in ("method", "layer", "head", "target", "discard", "cmap", "opacity", "smooth", "indices",
                            "order")]
    analysed = [ui[k] for k in ("grid", "attention", "labels", "summary", "caption", "key", "patch_clicked",
                                "target")]
    tab = gr.State(None)  # the open tab, so a new analysis also refreshes the recipe or probing figures
    tab_outputs = [ui[k] for k in ("recipe_table", "recipe_gallery", "probe_filters", "probe_positions",
                                   "probe_distance")]

    def analyse(listener: Any, **kwargs: Any) -> None:
        """Run the analysis on `listener` (an event, or a `.then`/`.success` of one), then the head gallery and
        the open tab, which are below the fold and may come a moment later."""
        listener(handlers.analyse, source + view, analysed, show_progress="minimal", **hidden, **kwargs).then(
            handlers.heads_view, [ui["key"], ui["image"]] + view, ui["gallery"], **hidden).then(
            handlers.refresh_tab, [tab, ui["key"], ui["image"]], tab_outputs, **hidden)

    # A new image: the user's upload, webcam shot, paste or clear (`.input`; `.change` fires twice per upload),
    # or a click on an example (after Gradio's own event has put the example into the image).
    analyse(ui["image"].input, api_name="ui_analyse")
    analyse(ui["examples"].load_input_event.then)
    analyse(functools.partial(gr.on, [ui["patch"].input, ui["keep_aspect"].input]))
    model_outputs = [ui["model"], ui["active_model"], ui["patch"], ui["patch_hint"], ui["layer"], ui["head"],
                     ui["status"]]
    # `.select`, not `.input`: Gradio's dropdown fires `input` again when a failed switch puts the old value back.
    analyse(ui["model"].select(handlers.switch_model, [ui["model"], ui["active_model"]], model_outputs,
                               **hidden).success)
    analyse(demo.load(lambda: _settled(engine, probe), None, ui["model"], api_visibility="private").then(
        handlers.switch_model, [ui["model"], ui["active_model"]], model_outputs, **hidden).success)

    # View controls react to the user only (.input): a model switch also sets them, and then re-analyses.
    place = [ui["key"], ui["patch_clicked"], ui["image"]]
    attention = [ui["attention"], ui["caption"]]
    gr.on([ui[k].input for k in ("layer", "head", "target", "discard", "cmap", "opacity", "smooth")],
          handlers.attention_view, place + view, attention, **hidden, trigger_mode="always_last")
    ui["method"].input(lambda: None, None, ui["patch_clicked"], api_visibility="private").then(
        handlers.attention_view, place + view, attention, **hidden)
    gr.on([ui[k].input for k in ("indices", "order")], handlers.grid_view, place + view, ui["grid"], **hidden)
    gr.on([ui[k].input for k in ("layer", "cmap", "opacity")], handlers.heads_view, [ui["key"], ui["image"]] + view,
          ui["gallery"], **hidden, trigger_mode="always_last")
    for picture in ("grid", "attention"):
        ui[picture].select(handlers.select_patch, ui["key"], ui["patch_clicked"], **hidden).then(
            handlers.grid_view, place + view, ui["grid"], **hidden).then(
            handlers.attention_view, place + view, attention, **hidden)

    ui["compare_button"].click(handlers.compare, [ui["image"], ui["model"], ui["compare_sizes"], ui["keep_aspect"]]
                               + view, ui["compare_gallery"], **hidden)
    for name in ("heads", "compare", "recipe", "probing"):
        ui[f"tab_{name}"].select(lambda n=name: n, None, tab, api_visibility="private").then(
            handlers.refresh_tab, [tab, ui["key"], ui["image"]], tab_outputs, **hidden)


def _settled(engine: Engine, probe: HubProbe | None) -> Any:
    """On page load: the hub model to switch to if the probe found the hub, else the default model.

    Only while the probe is still out (online, model not cached) does this wait, and at most its timeout.
    """
    if probe is not None:
        probe.result(wait=probe.timeout)
    engine.startup = settle_pending(engine.startup, probe)
    pending = engine.startup.pending
    return gr.update(value=pending.key if pending is not None and probe is not None and probe.result()
                     else engine.default_key)
