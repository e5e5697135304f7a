"""The named endpoints, `/classify`, `/analyze`, what the model computes (`/ablate`, `/head_effects`, `/sanity`)
and `/logit_lens` (api_lens.py), for `gradio_client` and the "Use via API" page.

They are bound to hidden components of their own rather than to the visible controls, so their parameters
have stable names, types and defaults whatever model the page shows, and calling them changes nobody's UI.
Both share the forward-pass cache with the UI: analysing the same image again with another method, layer
or head is a view switch and runs no forward pass.

The hidden inputs hand every value over unconverted (`components.raw_number`, `components.raw_choice`),
so each is checked by `validation`, the same checks the page's controls go through, and a bad value gets
one sentence naming the parameter instead of Gradio's bare "Error" and a traceback in the server log.
Layers and heads count from 1 here as on the page (empty layer = the last; head 1 is the library's head 0,
`vitdemo.numbering`). Refusals are in English for API clients,
in Chinese when the request's Accept-Language asks for it (the page's rule, `i18n.language`), and so are the
bundled model's class names in the top-5 (a `target` may be named either way: "圆" or "circle"); the API page's
descriptions stay English.

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("cat.jpg"), 16, "", api_name="/classify")
    grid, attention, labels = client.predict(handle_file("cat.jpg"), 16, "rollout", None, "mean", "", "",
                                             api_name="/analyze")
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import gradio as gr

from .. import class_names, methods, numbering
from ..constants import HEAD_FUSIONS
from . import prompts as prompt_text
from . import validation, views
from .api_lens import register_logit_lens
from .choices import method_choices
from .components import check_first, no_file, optional_trailing, raw_choice, raw_number, raw_text, upload_image
from .errors import shown_to_user
from .i18n import ENGLISH, Message, current_language, text
from .outputs import PictureStore, output_image
from .service import Engine
from .validation import UserError

Labels = dict[str, float]
IMAGE_SENT = ("PNG, JPEG, GIF, WebP, BMP or TIFF; over MCP a data: URL, data:image/png;base64,...; a URL to fetch "
              "or a path on the server is refused")


def classify_description(keys: list[str]) -> str:
    """The /classify text on the API page; `keys` are the models this instance accepts."""
    return ("Classify an image: returns the top-5 labels with their probabilities. Parameters: image (a file "
            f"upload: {IMAGE_SENT}); patch_size (pixels per "
            "patch side, a whole number; empty or 0 = the model's native size); model (one of "
            f"{', '.join(keys)}; empty = the app's default); prompts (image–text models: CLIP, SigLIP, "
            "Chinese-CLIP: what to look for, comma or newline separated, English or Chinese; the labels are then "
            "the prompts, ranked by the model's softmax, or SigLIP's independent sigmoid; empty = the defaults).")


def analyze_description(keys: list[str]) -> str:
    """The /analyze text on the API page; `keys` are the models this instance accepts."""
    return ("Analyse an image: returns (1) the patch grid the model sees, (2) the attention heatmap over it, and "
            "(3) the top-5 labels (empty for a model without a classifier, such as DINO; /classify refuses "
            f"those models), in that order. Parameters: image (a file upload: {IMAGE_SENT}); patch_size (empty or 0 = "
            f"native); method = {described_methods()}; layer = counted "
            "from 1, as on the page (empty = the last layer); head = "
            f"{', '.join(repr(f) for f in HEAD_FUSIONS)} or a head counted from 1, as on the page (1 = the "
            "first head); model = one of "
            f"{', '.join(keys)} (empty = the app's default); target = the class a class method ("
            f"{', '.join(m.name for m in methods.rows() if m.needs_class)}) explains, one of "
            "the model's labels, for the bundled shapes also their Chinese names (empty = the top-1). Labels "
            "come back in Chinese when the request's Accept-Language asks for Chinese. The forward pass is "
            "cached per (image, model, patch size), so asking again with another method, layer, head or "
            "target is fast. prompts = for an image–text model, what to look for (comma or newline separated); "
            "a target is then one of them.")


ABLATE_DESCRIPTION = (
    "Classify an image with some attention heads switched off: returns the top-5. Parameters: image, patch_size "
    "and model as for /classify; heads = the heads to switch off as layer.head pairs counted from 1, as on the "
    "page, e.g. '3.1, 5.2'; mode = 'zero' (each head's output set to 0 before the output projection) or 'mean' "
    "(set to its mean over the tokens).")
HEAD_EFFECTS_DESCRIPTION = (
    "How much each attention head alone raises a class's logit: returns {target, effects}, effects[l][h] being "
    "the logit minus the logit with head h + 1 of layer l + 1 switched off (zeroed), so rows and columns are "
    "layers and heads counted from 1. Parameters: image, patch_size, model as for /classify; target = a label "
    "of the model (empty = the top-1).")
SANITY_DESCRIPTION = (
    "The cascading model-parameter randomisation test (Adebayo et al. 2018): returns {steps, correlations}, the "
    "Spearman rank correlation of each method's map (last layer, heads averaged, the top-1 class) with the same "
    "map on the model randomised step by step: the head and final norm, then layers L down to 1 (steps names "
    "them, counted from 1). Parameters: image, patch_size, model as for /classify; method = one method, or "
    "empty for every one.")


def figure_description(keys: list[str]) -> str:
    """The /figure text on the API page and for MCP agents; `keys` are the models this instance accepts."""
    return ("Draw a figure of one image for slides and papers: returns one PNG picture with the input, the patch "
            "grid, the chosen map over the image with its colour bar, the map through every layer, and a caption "
            "(model, patch size, method, top-1 class). Parameters as /analyze: image (a file upload: "
            f"{IMAGE_SENT}); patch_size; method = {', '.join(method_choices())}; layer counted from 1 (empty = "
            "the last); head = mean, max, min or a head counted from 1; model = one of "
            f"{', '.join(keys)}; target = the class a class method explains (empty = the top-1).")


def described_methods() -> str:
    """Every method with what it computes: "'attention' (the class token's attention in one layer), …"."""
    described = [f"'{m.name}' ({text(m.description_key, ENGLISH)})" for m in methods.rows()]
    return ", ".join(described[:-1]) + " or " + described[-1] if len(described) > 1 else described[0]


class Endpoints:
    """The endpoint functions; their parameter names are the API's."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @shown_to_user
    def classify(self, image: Any, patch_size: Any = None, model: Any = "", prompts: Any = "") -> Labels:
        """Classify an image: top-5 labels (an image–text model: prompts) with probabilities.

        Args:
            image: the picture; over MCP a data: URL (data:image/png;base64,...).
            patch_size: pixels per patch side, a whole number; empty or 0 = the model's native size.
            model: one of the models this app lists; empty = the app's default.
            prompts: for an image–text model (CLIP, SigLIP), what to look for, comma or newline separated.

        Returns:
            the top-5 labels with their probabilities (in Chinese for the bundled shapes when the request's
            Accept-Language asks for Chinese).
        """
        key = self._model_key(model)
        config = self.engine.config(key)
        validation.patch_size_of(patch_size, config)  # before the image is decoded
        wanted = prompt_text.parse(prompts)
        if not getattr(config, "has_classifier", True) and not self._ranks_prompts(key):
            raise UserError(Message("messages.no_classifier_classify", title=self.engine.entry(key).title))
        analysed = self.engine.analysis(self.engine.decode(image), key, patch_size, prompts=wanted)
        return views.top_labels(analysed.analysis, lang=current_language())

    @shown_to_user
    def analyze(self, image: Any, patch_size: Any = None, method: Any = "attention", layer: Any = None,
                head: Any = "mean", model: Any = "", target: Any = "", prompts: Any = "") -> tuple[Any, Any, Labels]:
        """Analyse an image: (patch grid picture, attention picture, top-5 labels).

        Args:
            image: the picture; over MCP a data: URL (data:image/png;base64,...).
            patch_size: pixels per patch side; empty or 0 = the model's native size.
            method: attention, rollout, relevance or legrad.
            layer: counted from 1, as on the page; empty = the last layer.
            head: mean, max, min, or a head counted from 1.
            model: one of the models this app lists; empty = the app's default.
            target: the class relevance or legrad explains, one of the model's labels; empty = the top-1.
            prompts: for an image–text model (CLIP, SigLIP), what to look for, comma or newline separated.

        Returns:
            the patch grid the model sees, the map over the image, the top-5 labels.

        Every parameter is checked before the image is decoded and the model run: the patch size, layer
        and head against the model's config (so a refusal names this model's range), the rest by
        `validation.view`; only the target, one of the model's labels, waits for the analysis.
        """
        key = self._model_key(model)
        config = self.engine.config(key)
        validation.patch_size_of(patch_size, config)
        validation.layer(layer, config.depth)
        validation.head(head, config.heads)
        chosen = validation.view({"method": method, "layer": layer, "head": head, "target": target})
        wanted = prompt_text.parse(prompts)
        analysis = self.engine.analysis(self.engine.decode(image), key, patch_size, prompts=wanted).analysis
        chosen = validation.fit(analysis, replace(chosen, target=class_names.label_of(chosen.target, analysis.labels)))
        return (views.grid_picture(analysis, chosen), views.attention_picture(analysis, chosen),
                views.top_labels(analysis, lang=current_language()))

    @shown_to_user
    def ablate(self, image: Any, patch_size: Any = None, heads: Any = "", mode: Any = "zero",
               model: Any = "") -> Labels:
        """The top-5 with the `heads` ("layer.head, ..." from 1) switched off."""
        analysis = self._classified(image, patch_size, model)
        probabilities = analysis.ablate(validation.layer_heads(heads, analysis.depth, analysis.heads),
                                        validation.ablation_mode(mode))
        return {analysis.labels[i]: float(probabilities[i]) for i in probabilities.argsort()[::-1][:5]}

    @shown_to_user
    def head_effects(self, image: Any, patch_size: Any = None, target: Any = "", model: Any = "") -> dict[str, Any]:
        """{target, effects}: (layers, heads) of the class's logit minus its logit with that head zeroed."""
        analysis = self._classified(image, patch_size, model)
        chosen = validation.target(target, analysis.labels) or analysis.top(1)[0][0]
        return {"target": chosen, "effects": analysis.head_effects(chosen).tolist()}

    @shown_to_user
    def sanity(self, image: Any, patch_size: Any = None, method: Any = "", model: Any = "") -> dict[str, Any]:
        """{steps, correlations}: each method's Spearman correlation along the cascading randomisation."""
        names = None if validation.is_empty(method) else [validation.method(method)]
        analysis = self._classified(image, patch_size, model)
        steps = ["head"] + [f"layer {numbering.shown(i)}" for i in reversed(range(analysis.depth))]
        return {"steps": steps, "correlations": analysis.sanity_comparison(names)}

    def _classified(self, image: Any, patch_size: Any, model: Any) -> Any:
        """The analysis of `image` by a model with a classifier (refused otherwise, before the image is read)."""
        key = self._model_key(model)
        config = self.engine.config(key)
        validation.patch_size_of(patch_size, config)
        if not getattr(config, "has_classifier", True):
            raise UserError(Message("messages.no_classifier_classify", title=self.engine.entry(key).title))
        return self.engine.analysis(self.engine.decode(image), key, patch_size).analysis

    def _ranks_prompts(self, key: str | None) -> bool:
        """Whether the model is an image–text one (loading it: its config alone does not say)."""
        return prompt_text.is_image_text(self.engine.model(key))

    @shown_to_user
    def figure(self, image: Any, patch_size: Any = None, method: Any = "attention", layer: Any = None,
               head: Any = "mean", model: Any = "", target: Any = "") -> Any:
        """Draw the figure of one image: input, patch grid, the map with its colour bar, the map through every
        layer, a caption; what `python -m vitdemo figure` writes, as one PNG.

        Args:
            image: the picture; over MCP a data: URL (data:image/png;base64,...).
            patch_size: pixels per patch side; empty or 0 = the model's native size.
            method: attention, rollout, relevance or legrad.
            layer: counted from 1, as on the page; empty = the last layer.
            head: mean, max, min, or a head counted from 1.
            model: one of the models this app lists; empty = the app's default.
            target: the class relevance or legrad explains, one of the model's labels; empty = the top-1.

        Returns:
            the figure, one PNG picture.
        """
        from ..explain.figure import FigureView, picture

        key = self._model_key(model)
        config = self.engine.config(key)
        validation.patch_size_of(patch_size, config)
        validation.layer(layer, config.depth)
        validation.head(head, config.heads)
        chosen = validation.view({"method": method, "layer": layer, "head": head, "target": target})
        if chosen.method not in method_choices():
            raise UserError(Message("errors.one_of", name="method", choices=", ".join(method_choices()),
                                    sent=repr(chosen.method)))
        analysis = self.engine.analysis(self.engine.decode(image), key, patch_size).analysis
        chosen = validation.fit(analysis, replace(chosen, target=class_names.label_of(chosen.target, analysis.labels)))
        view = FigureView(method=chosen.method, layer=validation.layer_index(chosen.layer, analysis.depth),
                          head=validation.head_index(chosen.head), target=chosen.target)
        return picture(analysis, view, self.engine.entry(key).title)

    def _model_key(self, model: Any) -> str | None:
        """The key of a model this instance offers, named by key or source; None for the app's default."""
        return validation.model(model, self.engine.entries)


def register_endpoints(engine: Engine, concurrency: dict[str, Any], store: PictureStore | None = None) -> Endpoints:
    """Create the hidden components and bind `/classify` and `/analyze` (call inside the `gr.Blocks`).

    `store` holds the pictures the endpoints return; the page passes its own so each picture is on disk once.
    """
    endpoints = Endpoints(engine)
    store = store or PictureStore()
    keys = list(engine.entries)
    config = engine.config()
    with gr.Column(visible=False):
        image = upload_image(label="image", elem_id="api-image")
        patch_size = raw_number(config.patch_size, "pixels per patch side; empty or 0 = the model's own",
                                label="patch_size", elem_id="api-patch-size")
        method = raw_choice(method_choices(), value="attention", label="method", elem_id="api-method")
        layer = raw_number(config.depth, "counted from 1, as on the page; empty = the last layer", label="layer",
                           elem_id="api-layer")
        head = raw_text("mean", f"{', '.join(HEAD_FUSIONS)} or a head counted from 1, as on the page", value="mean",
                        label="head", elem_id="api-head")
        model = raw_choice(keys, "empty = the app's default", value="", label="model", elem_id="api-model")
        target = raw_text("", "the class a class method explains, one of the model's labels; empty = the top-1",
                          value="", label="target", elem_id="api-target")
        prompts = raw_text("", "image–text models only: what to look for, comma or newline separated; empty = "
                           "the defaults", value="", label="prompts", elem_id="api-prompts")
        grid = output_image(store, format="png", label="grid", elem_id="api-grid")
        attention = output_image(store, format="png", label="attention", elem_id="api-attention")
        labels = gr.Label(num_top_classes=5, label="labels", elem_id="api-labels")
        figure = output_image(store, format="png", label="figure", elem_id="api-figure")
        figure_button = gr.Button(visible=False, elem_id="api-figure-run")
        classify_button = gr.Button(visible=False, elem_id="api-classify")
        analyze_button = gr.Button(visible=False, elem_id="api-analyze")
    classify_button.click(endpoints.classify, [image, patch_size, model, prompts], labels, api_name="classify",
                          api_description=classify_description(keys), show_progress="hidden", **concurrency)
    analyze_button.click(endpoints.analyze, [image, patch_size, method, layer, head, model, target, prompts],
                         [grid, attention, labels], api_name="analyze", api_description=analyze_description(keys),
                         show_progress="hidden", **concurrency)
    register_logit_lens(engine, [image, patch_size, layer, model], concurrency)
    figure_button.click(endpoints.figure, [image, patch_size, method, layer, head, model, target], figure,
                        api_name="figure", api_description=figure_description(keys), show_progress="hidden",
                        **concurrency)
    # the image checks itself (upload_image)
    for component in (patch_size, method, layer, head, model, target, prompts):
        check_first(component, no_file(component.label or "value"))
    optional_trailing(prompts)
    _register_computation(endpoints, concurrency, image, patch_size, model, target)
    return endpoints


def _register_computation(endpoints: Endpoints, concurrency: dict[str, Any], image: Any, patch_size: Any,
                          model: Any, target: Any) -> None:
    """/ablate, /head_effects and /sanity, on the hidden inputs /analyze uses and a few of their own."""
    with gr.Column(visible=False):
        heads = raw_text("1.1", "layer.head pairs counted from 1, e.g. 3.1, 5.2", value="", label="heads",
                         elem_id="api-heads")
        mode = raw_choice(["zero", "mean"], "zero: the heads' outputs set to 0; mean: to their mean over tokens",
                          value="zero", label="mode", elem_id="api-mode")
        method = raw_choice(["", *methods.names()], "one method, or empty for every one", value="", label="method",
                            elem_id="api-sanity-method")
        labels = gr.Label(num_top_classes=5, label="labels", elem_id="api-ablated-labels")
        effects = gr.JSON(label="effects", elem_id="api-head-effects")
        correlations = gr.JSON(label="sanity", elem_id="api-sanity")
        buttons = [gr.Button(visible=False, elem_id=f"api-{name}") for name in ("ablate", "head-effects", "sanity")]
    calls = [(endpoints.ablate, [image, patch_size, heads, mode, model], labels, "ablate", ABLATE_DESCRIPTION),
             (endpoints.head_effects, [image, patch_size, target, model], effects, "head_effects",
              HEAD_EFFECTS_DESCRIPTION),
             (endpoints.sanity, [image, patch_size, method, model], correlations, "sanity", SANITY_DESCRIPTION)]
    for button, (fn, inputs, output, name, description) in zip(buttons, calls, strict=True):
        button.click(fn, inputs, output, api_name=name, api_description=description, show_progress="hidden",
                     **concurrency)
    for component in (heads, mode, method):
        check_first(component, no_file(component.label or "value"))
