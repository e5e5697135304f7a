"""The two named endpoints, `/classify` and `/analyze`, for `gradio_client` and the "Use via API" page.

They are bound to hidden components of their own rather than to the visible controls, so their parameters
have stable names, types and defaults whatever model the page shows, and calling them changes nobody's UI.
Both share the forward-pass cache with the UI: analysing the same image again with another method, layer
or head is a view switch and runs no forward pass.

    from gradio_client import Client, handle_file
    client = Client("http://127.0.0.1:7860/")
    client.predict(handle_file("cat.jpg"), 16, api_name="/classify")
    grid, attention, labels = client.predict(handle_file("cat.jpg"), 16, "rollout", -1, "mean", "",
                                             api_name="/analyze")
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from . import views
from .choices import METHODS
from .components import upload_image
from .errors import shown_to_user
from .outputs import output_image
from .service import Engine

CLASSIFY_DESCRIPTION = (
    "Classify an image with the app's default model. Parameters: image (a file: PNG, JPEG, GIF, WebP, BMP or "
    "TIFF); patch_size (pixels per patch side; empty or 0 = the model's native size). Returns the top-5 labels "
    "with their probabilities.")
ANALYZE_DESCRIPTION = (
    "Analyse an image: returns (1) the patch grid the model sees, (2) the attention heatmap over it, and (3) the "
    "top-5 labels, in that order. Parameters: image; patch_size (empty or 0 = native); method = 'attention' "
    "(the class token's attention in one layer), 'rollout' (attention followed through the layers) or "
    "'relevance' (class-specific, for the top-1 class); layer = 0-based, negative counts from the end "
    "(-1 = last); head = 'mean', 'max', 'min' or a head index; model = a model key (bundled, flexivit-b, "
    "vit-b16, deit-tiny, deit-small) or empty for the app's default. The forward pass is cached per "
    "(image, model, patch size), so asking again with another method, layer or head is fast.")


class Endpoints:
    """The endpoint functions; their parameter names are the API's."""

    def __init__(self, engine: Engine):
        self.engine = engine

    @shown_to_user
    def classify(self, image: Any, patch_size: float | None = None) -> dict[str, float]:
        """Classify an image: top-5 labels with probabilities."""
        result = self.engine.analysis(self.engine.decode(image), None, patch_size)
        return views.top_labels(result.analysis)

    @shown_to_user
    def analyze(self, image: Any, patch_size: float | None = None, method: str = "attention", layer: float = -1,
                head: str = "mean", model: str = "") -> tuple:
        """Analyse an image: (patch grid image, attention image, top-5 labels)."""
        settings = views.ViewSettings(method=views.checked_method(method), layer=_whole(layer, "layer"),
                                      head=views.parse_head(head))
        analysis = self.engine.analysis(self.engine.decode(image), model or None, patch_size).analysis
        if not -analysis.depth <= settings.layer < analysis.depth:
            raise ValueError(f"layer must be from {-analysis.depth} to {analysis.depth - 1} for this model, "
                             f"not {settings.layer}.")
        if isinstance(settings.head, int) and not -analysis.heads <= settings.head < analysis.heads:
            raise ValueError(f"head must be below {analysis.heads} for this model, not {settings.head}.")
        return (views.grid_picture(analysis, settings), views.attention_picture(analysis, settings),
                views.top_labels(analysis))


def _whole(value: Any, name: str) -> int:
    try:
        number = float(-1 if value is None or value == "" else value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, not {value!r}.") from None
    if number != int(number):
        raise ValueError(f"{name} must be a whole number, not {value!r}.")
    return int(number)


def register_endpoints(engine: Engine, concurrency: dict[str, Any]) -> Endpoints:
    """Create the hidden components and bind `/classify` and `/analyze` (call inside the `gr.Blocks`)."""
    endpoints = Endpoints(engine)
    with gr.Column(visible=False):
        image = upload_image(label="image", elem_id="api-image")
        patch_size = gr.Number(value=None, precision=0, label="patch_size", elem_id="api-patch-size")
        method = gr.Dropdown(list(METHODS), value="attention", label="method", elem_id="api-method")
        layer = gr.Number(value=-1, precision=0, label="layer", elem_id="api-layer")
        head = gr.Textbox(value="mean", label="head", elem_id="api-head")
        model = gr.Dropdown(list(engine.entries), value="", allow_custom_value=True, label="model",
                            elem_id="api-model")
        grid = output_image(format="png", label="grid", elem_id="api-grid")
        attention = output_image(format="png", label="attention", elem_id="api-attention")
        labels = gr.Label(num_top_classes=5, label="labels", elem_id="api-labels")
        classify_button = gr.Button(visible=False, elem_id="api-classify")
        analyze_button = gr.Button(visible=False, elem_id="api-analyze")
    classify_button.click(endpoints.classify, [image, patch_size], labels, api_name="classify",
                          api_description=CLASSIFY_DESCRIPTION, show_progress="hidden", **concurrency)
    analyze_button.click(endpoints.analyze, [image, patch_size, method, layer, head, model],
                         [grid, attention, labels], api_name="analyze", api_description=ANALYZE_DESCRIPTION,
                         show_progress="hidden", **concurrency)
    return endpoints
