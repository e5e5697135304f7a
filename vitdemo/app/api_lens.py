"""The `/logit_lens` endpoint: what the model would answer if it stopped after each layer, as JSON.

Bound to the hidden inputs of `/analyze` (image, patch_size, layer, model: the same checks, the same
forward-pass cache), so asking for the lens of an image already analysed runs no forward pass. Layers count
from 1 as on the page; an empty layer gives every layer. The numbers are `Analysis.logit_lens` and
`Analysis.patch_lens` (vitdemo/explain/lens.py); this module only checks and shapes them.

    client.predict(handle_file("cat.jpg"), 16, 3, "", api_name="/logit_lens")
    # {"depth": 12, "grid": [14, 14], "patch_size": 16, "layers": [{"layer": 3, "top": [["tabby", 0.41], ...],
    #  "patches": [["tabby", ...], ...], "patch_probabilities": [[0.52, ...], ...]}]}
"""

from __future__ import annotations

from typing import Any

import gradio as gr

from . import validation
from .errors import shown_to_user
from .i18n import Message
from .service import Engine
from .validation import UserError

TOP = 5  # classes listed per layer for the class token


def description() -> str:
    """The /logit_lens text on the API page."""
    return ("The logit lens: what the model would answer if it stopped after each layer, each layer's tokens read "
            "through the model's own final norm and head. Parameters: image (a file upload); patch_size (empty or "
            "0 = native); layer = counted from 1, as on the page (empty = every layer); model (empty = the app's "
            "default). Returns JSON: depth, grid [rows, cols], patch_size, and per layer asked: layer (from 1), top "
            f"(the class token's top-{TOP} [label, probability]), patches (rows × cols: the class each patch's own "
            "token would answer) and patch_probabilities. Models without a classifier are refused.")


def lens_answer(analysis: Any, layer: int | None) -> dict[str, Any]:
    """The endpoint's JSON for one analysis: every layer, or the one `layer` (from 1)."""
    lens, patch = analysis.logit_lens(), analysis.patch_lens()
    labels, asked = analysis.labels, range(analysis.depth) if layer is None else [layer - 1]
    layers = []
    for index in asked:
        best = lens[index].argsort()[::-1][:TOP]
        layers.append({"layer": index + 1, "top": [[labels[i], round(float(lens[index][i]), 6)] for i in best],
                       "patches": [[labels[c] for c in row] for row in patch.classes[index].tolist()],
                       "patch_probabilities": [[round(p, 6) for p in row]
                                               for row in patch.probabilities[index].tolist()]})
    return {"depth": analysis.depth, "grid": list(analysis.grid), "patch_size": analysis.patch_size,
            "layers": layers}


class LensEndpoint:
    def __init__(self, engine: Engine):
        self.engine = engine

    @shown_to_user
    def logit_lens(self, image: Any, patch_size: Any = None, layer: Any = None, model: Any = "") -> dict[str, Any]:
        """The logit lens of an image (see the module docstring); checked before the image is decoded."""
        key = validation.model(model, self.engine.entries)
        config = self.engine.config(key)
        validation.patch_size_of(patch_size, config)
        chosen = validation.layer(layer, config.depth)
        if not getattr(config, "has_classifier", True):
            raise UserError(Message("errors.lens_no_classifier", title=self.engine.entry(key).title))
        analysis = self.engine.analysis(self.engine.decode(image), key, patch_size).analysis
        return lens_answer(analysis, chosen)


def register_logit_lens(engine: Engine, inputs: list[Any], concurrency: dict[str, Any]) -> LensEndpoint:
    """Bind `/logit_lens` to `inputs` (the hidden image, patch_size, layer and model of the API; inside the
    `gr.Blocks`)."""
    endpoint = LensEndpoint(engine)
    with gr.Column(visible=False):
        answer = gr.JSON(label="logit_lens", elem_id="api-logit-lens")
        button = gr.Button(visible=False, elem_id="api-logit-lens-button")
    button.click(endpoint.logit_lens, inputs, answer, api_name="logit_lens", api_description=description(),
                 show_progress="hidden", **concurrency)
    return endpoint
