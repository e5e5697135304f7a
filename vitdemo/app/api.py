"""The two named endpoints, `/classify` and `/analyze`, for `gradio_client` and the "Use via API" page.

They are bound to hidden components of their own rather than to the visible controls, so their parameters
have stable names, types and defaults whatever model the page shows, and calling them changes nobody's UI.
Both share the forward-pass cache with the UI: analysing the same image again with another method, layer
or head is a view switch and runs no forward pass.

The hidden inputs hand every value over unconverted (`components.raw_number`, `components.raw_choice`),
so each is checked by `validation`, the same checks the page's controls go through, and a bad value gets
one sentence naming the parameter instead of Gradio's bare "Error" and a traceback in the server log.
Layers and heads count from 1 here as on the page (empty layer = the last; head 1 is the library's head 0,
`vitdemo.numbering`). Refusals are in English for API clients,
in Chinese when the request's Accept-Language asks for it (the page's rule, `i18n.language`); the API page's
descriptions stay English.

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("cat.jpg"), 16, "", api_name="/classify")
    grid, attention, labels = client.predict(handle_file("cat.jpg"), 16, "rollout", None, "mean", "", "",
                                             api_name="/analyze")
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from .. import methods
from ..constants import HEAD_FUSIONS
from . import validation, views
from .choices import method_choices
from .components import check_first, no_file, raw_choice, raw_number, raw_text, upload_image
from .errors import shown_to_user
from .i18n import ENGLISH, Message, text
from .outputs import PictureStore, output_image
from .service import Engine
from .validation import UserError

Labels = dict[str, float]


def classify_description(keys: list[str]) -> str:
    """The /classify text on the API page; `keys` are the models this instance accepts."""
    return ("Classify an image: returns the top-5 labels with their probabilities. Parameters: image (a file "
            "upload: PNG, JPEG, GIF, WebP, BMP or TIFF; not a URL or a server path); patch_size (pixels per "
            "patch side, a whole number; empty or 0 = the model's native size); model (one of "
            f"{', '.join(keys)}; empty = the app's default).")


def analyze_description(keys: list[str]) -> str:
    """The /analyze text on the API page; `keys` are the models this instance accepts."""
    return ("Analyse an image: returns (1) the patch grid the model sees, (2) the attention heatmap over it, and "
            "(3) the top-5 labels (empty for a model without a classifier, such as DINO; /classify refuses "
            "those models), in that order. Parameters: image (a file upload); patch_size (empty or 0 = "
            f"native); method = {described_methods()}; layer = counted "
            "from 1, as on the page (empty = the last layer); head = "
            f"{', '.join(repr(f) for f in HEAD_FUSIONS)} or a head counted from 1, as on the page (1 = the "
            "first head); model = one of "
            f"{', '.join(keys)} (empty = the app's default); target = the class a class method ("
            f"{', '.join(m.name for m in methods.rows() if m.needs_class)}) explains, one of "
            "the model's labels (empty = the top-1). The forward pass is cached per (image, model, patch "
            "size), so asking again with another method, layer, head or target is fast.")


def described_methods() -> str:
    """Every method with what it computes: "'attention' (the class token's attention in one layer), …"."""
    described = [f"'{m.name}' ({text(m.description_key, ENGLISH)})" for m in methods.rows()]
    return ", ".join(described[:-1]) + " or " + described[-1] if len(described) > 1 else described[0]


class Endpoints:
    """The endpoint functions; their parameter names are the API's."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @shown_to_user
    def classify(self, image: Any, patch_size: Any = None, model: Any = "") -> Labels:
        """Classify an image: top-5 labels with probabilities."""
        key = self._model_key(model)
        config = self.engine.config(key)
        validation.patch_size_of(patch_size, config)  # before the image is decoded
        if not getattr(config, "has_classifier", True):
            raise UserError(Message("messages.no_classifier_classify", title=self.engine.entry(key).title))
        return views.top_labels(self.engine.analysis(self.engine.decode(image), key, patch_size).analysis)

    @shown_to_user
    def analyze(self, image: Any, patch_size: Any = None, method: Any = "attention", layer: Any = None,
                head: Any = "mean", model: Any = "", target: Any = "") -> tuple[Any, Any, Labels]:
        """Analyse an image: (patch grid picture, attention picture, top-5 labels).

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
        analysis = self.engine.analysis(self.engine.decode(image), key, patch_size).analysis
        validation.fit(analysis, chosen)
        return (views.grid_picture(analysis, chosen), views.attention_picture(analysis, chosen),
                views.top_labels(analysis))

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
        grid = output_image(store, format="png", label="grid", elem_id="api-grid")
        attention = output_image(store, format="png", label="attention", elem_id="api-attention")
        labels = gr.Label(num_top_classes=5, label="labels", elem_id="api-labels")
        classify_button = gr.Button(visible=False, elem_id="api-classify")
        analyze_button = gr.Button(visible=False, elem_id="api-analyze")
    classify_button.click(endpoints.classify, [image, patch_size, model], labels, api_name="classify",
                          api_description=classify_description(keys), show_progress="hidden", **concurrency)
    analyze_button.click(endpoints.analyze, [image, patch_size, method, layer, head, model, target],
                         [grid, attention, labels], api_name="analyze", api_description=analyze_description(keys),
                         show_progress="hidden", **concurrency)
    for component in (patch_size, method, layer, head, model, target):  # the image checks itself (upload_image)
        check_first(component, no_file(component.label or "value"))
    return endpoints
