"""The guided tour: the forward of `vitdemo/model.py` opened one step at a time, on the user's own image.

    image → patches (F.unfold) → the same as conv2d, kernel = stride → patch embeddings → + class token
          → + position embeddings → encoder block 1 … L → class-token output → linear head → softmax, loss
          → (looking back) what each layer knows: the head read from every block, the logit lens

Each step brings the tensor that step produced (its shape read from the tensor), a picture of it, the numbers
its explanation quotes (`facts`), and the code that computed it, read from `vitdemo/model.py` with
`inspect.getsource` when the step is asked for: the tour shows the code that runs, so it cannot drift from
it. The tensors are the stages the analysis's one forward kept (the same ones `recipe.py` reads): showing a
step runs no forward pass. The cross-entropy of the loss step is `vitdemo.model.loss` itself, on the stored
logits, for whichever label the user picks.

No UI here: the words around each step (why it exists, how its facts read) are the app's (`app/tour.py`).
"""

from __future__ import annotations

import inspect
import textwrap
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from PIL import Image

from .. import model as model_code
from ..numbering import shown
from .analysis import Analysis
from .probing import position_similarity, similarity_image
from .recipe import as_rows as folded
from .recipe import patch_embedding_difference, patches_picture
from .render import display_scale, matrix_picture, overlay, patch_grid, upscaled

PICTURE_SIDE = 320  # the tour's picture is the step's main view: larger than the recipe's thumbnails
LAYOUT_MARGIN = 0.1  # neighbours this much more alike than all pairs: the positions encode the 2-D layout
BAR_COUNT = 8  # classes drawn in the head and loss pictures (the picked label is added when it is not among them)

# The steps, in order, and the objects of vitdemo/model.py whose code each one shows.
SOURCES: dict[str, tuple[str, ...]] = {
    "image": ("ViT.forward",),
    "patches": ("patchify",),
    "unfold_conv": ("embed_patches_unfold", "embed_patches_conv"),
    "embeddings": ("PatchEmbedding",),
    "class_token": ("ViT.embed",),
    "position": ("resample_grid",),
    "encoder": ("Block", "Attention", "MLP"),
    "class_output": ("ViT.head_input",),
    "head": ("ViT.classify",),
    "loss": ("loss",),
    "lens": ("ViT.classify",),  # the logit lens: the same readout on every block's tokens (lens.py)
}
STEP_KEYS = tuple(SOURCES)
CLASSIFIER_STEPS = ("head", "loss", "lens")  # a model without a classifier (DINO) ends at the class-token output


@dataclass
class Step:
    """One step of the tour: its key, the shape of the tensor it produced, its code, a picture, its numbers."""

    key: str
    shape: tuple[int, ...]
    sources: tuple[str, ...]  # dotted names in vitdemo.model, e.g. "ViT.embed"
    code: str  # their source, dedented, in that order, a blank line apart
    picture: Image.Image | None = None
    facts: dict[str, Any] = field(default_factory=dict)


def source_code(name: str) -> str:
    """The source of `vitdemo.model.<name>` ("patchify", "ViT.embed"), dedented so methods read flush left."""
    target: Any = model_code
    for part in name.split("."):
        target = getattr(target, part)
    return textwrap.dedent(inspect.getsource(target))


def has_classifier(analysis: Analysis) -> bool:
    return analysis.logits.numel() > 0


def step_keys(analysis: Analysis) -> tuple[str, ...]:
    """The steps this analysis's model has, in order: without a classifier the tour stops at its class token."""
    return STEP_KEYS if has_classifier(analysis) else tuple(k for k in STEP_KEYS if k not in CLASSIFIER_STEPS)


def tour(analysis: Analysis, block: int = -1, label: int | str | None = None) -> list[Step]:
    """Every step, in order (see `step`)."""
    return [step(analysis, key, block=block, label=label) for key in step_keys(analysis)]


def step(analysis: Analysis, key: str, *, block: int = -1, label: int | str | None = None) -> Step:
    """Step `key` of the tour on `analysis`. `block` (0-based, negative from the end) is the encoder block
    the "encoder" step opens; `label` (index or name, default the top-1) is the loss step's target."""
    if key not in step_keys(analysis):
        raise ValueError(f"no tour step {key!r} for this model; its steps are {step_keys(analysis)}")
    if not analysis.intermediates:
        raise ValueError("this analysis kept no intermediates: make it with vitdemo.analyze")
    sources = SOURCES[key]
    shape, picture, facts = _STEPS[key](analysis, block=block, label=label)
    return Step(key, tuple(shape), sources, "\n\n".join(source_code(name) for name in sources), picture, facts)


# --------------------------------------------------------------------------------------------------------
# One function per step: (shape, picture, facts)

Made = tuple[tuple[int, ...], Image.Image | None, dict[str, Any]]


def _batched(analysis: Analysis, tensor: torch.Tensor) -> tuple[int, ...]:
    """The stored stage's shape with its batch of one put back, as the model produced it."""
    return (analysis.inputs.shape[0], *tensor.shape)


def _image(analysis: Analysis, **_: Any) -> Made:
    width, height = analysis.view.size
    picture = upscaled(analysis.view, display_scale(analysis.view.size, PICTURE_SIDE))
    return tuple(analysis.inputs.shape), picture, {"width": width, "height": height,
                                                   "channels": analysis.inputs.shape[1]}


def _grid_facts(analysis: Analysis) -> dict[str, Any]:
    (rows, cols), p, channels = analysis.grid, analysis.patch_size, analysis.inputs.shape[1]
    return {"rows": rows, "cols": cols, "count": rows * cols, "p": p, "channels": channels,
            "values": channels * p * p, "dim": analysis.intermediates["patch_embeddings"].shape[-1]}


def _patches(analysis: Analysis, **_: Any) -> Made:
    picture = patches_picture(analysis)
    picture = upscaled(picture, max(1, PICTURE_SIDE // max(picture.size)))
    return _batched(analysis, analysis.intermediates["patches"]), picture, _grid_facts(analysis)


def _unfold_conv(analysis: Analysis, **_: Any) -> Made:
    facts = {**_grid_facts(analysis), "difference": patch_embedding_difference(analysis)}
    picture = patch_grid(analysis, show_order=True, min_side=PICTURE_SIDE)  # the kernel's stride-p walk
    return _batched(analysis, analysis.intermediates["patch_embeddings"]), picture, facts


def _embeddings(analysis: Analysis, **_: Any) -> Made:
    embeddings = analysis.intermediates["patch_embeddings"]
    return _batched(analysis, embeddings), matrix_picture(embeddings, size=(384, 192)), _grid_facts(analysis)


def _class_token(analysis: Analysis, **_: Any) -> Made:
    tokens = analysis.intermediates["with_class_token"]
    config = analysis.model.config
    facts = {**_grid_facts(analysis), "prefix": tokens.shape[0] - analysis.grid[0] * analysis.grid[1],
             "tokens": tokens.shape[0], "distilled": bool(config.distilled), "registers": config.num_registers}
    return _batched(analysis, tokens), matrix_picture(tokens, size=(384, 192)), facts


def _position(analysis: Analysis, **_: Any) -> Made:
    similarity = position_similarity(analysis.model, analysis.grid)
    facts = {**_grid_facts(analysis), **_similarity_facts(similarity)}
    return _batched(analysis, analysis.intermediates["with_position"]), similarity_image(similarity), facts


def _similarity_facts(similarity: np.ndarray) -> dict[str, Any]:
    """Mean cosine similarity of positions next to each other (a row or column apart) and of all pairs, and
    whether neighbours are clearly more alike (`layout`: untrained or 1-D-only positions are not)."""
    rows, cols = similarity.shape[:2]
    flat = similarity.reshape(rows * cols, rows * cols)
    index = np.arange(rows * cols).reshape(rows, cols)
    pairs = [(a, b) for a, b in zip(index[:, :-1].ravel(), index[:, 1:].ravel())]
    pairs += [(a, b) for a, b in zip(index[:-1].ravel(), index[1:].ravel())]
    neighbours = float(np.mean([flat[a, b] for a, b in pairs])) if pairs else 1.0
    others = flat[~np.eye(rows * cols, dtype=bool)]
    overall = float(others.mean()) if others.size else 1.0
    return {"neighbours": neighbours, "overall": overall, "layout": neighbours - overall > LAYOUT_MARGIN}


def _encoder(analysis: Analysis, block: int = -1, **_: Any) -> Made:
    if not -analysis.depth <= block < analysis.depth:
        raise ValueError(f"block must be in [1, {analysis.depth}] (0-based: [0, {analysis.depth - 1}]), not {block}")
    index = block % analysis.depth
    where = analysis.attention_map("attention", layer=index)
    row, col = np.unravel_index(int(np.argmax(where)), where.shape)
    tokens = analysis.intermediates[f"block{index}"]
    facts = {"block": shown(index), "depth": analysis.depth, "heads": analysis.heads, "tokens": tokens.shape[0],
             "row": shown(int(row)), "col": shown(int(col)), "share": float(where[row, col]),
             "attention_shape": (analysis.inputs.shape[0], *analysis.attentions[index].shape)}
    return _batched(analysis, tokens), overlay(analysis, where, min_side=PICTURE_SIDE), facts


def _class_output(analysis: Analysis, **_: Any) -> Made:
    vector = analysis.intermediates["class_token_output"]
    head_input = analysis.intermediates["head_input"]
    facts = {"dim": vector.shape[-1], "head_dim": head_input.shape[-1], "classifier": has_classifier(analysis),
             "with_mean": head_input.shape[-1] != vector.shape[-1]}
    return _batched(analysis, vector), matrix_picture(folded(vector), size=(384, 96)), facts


def _head(analysis: Analysis, **_: Any) -> Made:
    logits = analysis.intermediates["logits"]
    best = int(torch.argmax(logits))
    facts = {"classes": logits.shape[-1], "dim": analysis.intermediates["head_input"].shape[-1],
             "top": analysis.labels[best], "top_logit": float(logits[best])}
    return _batched(analysis, logits), bars(analysis.labels, logits.numpy(), highlight=best), facts


def _loss(analysis: Analysis, label: int | str | None = None, **_: Any) -> Made:
    target = label_index(analysis, label)
    value = model_code.loss(analysis.logits[None], torch.tensor([target]))
    probabilities = analysis.probabilities
    facts = {"label": analysis.labels[target], "index": target, "probability": float(probabilities[target]),
             "loss": float(value), "top": analysis.top(1)[0][0], "top_probability": analysis.top(1)[0][1]}
    return tuple(value.shape), bars(analysis.labels, probabilities.numpy(), highlight=target, percent=True), facts


def label_index(analysis: Analysis, label: int | str | None) -> int:
    """The class index of `label` (an index, a label name, or None for the top-1)."""
    if label is None or label == "":
        return int(torch.argmax(analysis.logits))
    if isinstance(label, str) and not label.lstrip("-").isdigit():
        if label not in analysis.labels:
            raise ValueError(f"{label!r} is not one of this model's {len(analysis.labels)} labels")
        return analysis.labels.index(label)
    index = int(label)
    if not 0 <= index < len(analysis.labels):
        raise ValueError(f"label index must be in [0, {len(analysis.labels)}), not {index}")
    return index


def _lens(analysis: Analysis, **_: Any) -> Made:
    from .lens import settled_layer

    lens = analysis.logit_lens()
    answer, first = int(lens[-1].argmax()), int(lens[0].argmax())
    facts = {"depth": analysis.depth, "answer": analysis.labels[answer], "probability": float(lens[-1, answer]),
             "first": analysis.labels[first], "first_probability": float(lens[0, first]),
             "settled": settled_layer(lens) + 1}
    return tuple(lens.shape), layer_bars(analysis.labels, lens), facts


_STEPS = {"image": _image, "patches": _patches, "unfold_conv": _unfold_conv, "embeddings": _embeddings,
          "class_token": _class_token, "position": _position, "encoder": _encoder, "class_output": _class_output,
          "head": _head, "loss": _loss, "lens": _lens}
assert tuple(_STEPS) == STEP_KEYS, "every step needs its function"


def bars(labels: list[str], values: np.ndarray, highlight: int, percent: bool = False,
         count: int = BAR_COUNT) -> Image.Image:
    """Horizontal bars of the `count` largest `values` (plus `highlight`, drawn in another colour, if it is
    not among them), named by their labels: the head's logits, or the softmax's probabilities."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    values = np.asarray(values, dtype=np.float64)
    order = list(np.argsort(-values)[:count])
    if highlight not in order:
        order.append(highlight)
    figure = Figure(figsize=(4.8, 0.32 * len(order) + 0.5), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    shown = values[order] * (100 if percent else 1)
    colors = ["#f59e0b" if i == highlight else "#6366f1" for i in order]
    axes.barh(range(len(order)), shown, color=colors)
    axes.set_yticks(range(len(order)), [labels[i] for i in order], fontsize=8)
    axes.invert_yaxis()
    axes.axvline(0, color="#444", linewidth=0.6)
    for y, v in enumerate(shown):
        axes.text(v, y, f" {v:.1f}%" if percent else f" {v:.2f}", va="center", fontsize=7,
                  ha="left" if v >= 0 else "right")
    axes.spines[["top", "right"]].set_visible(False)
    axes.tick_params(axis="x", labelsize=7)
    low, high = min(0.0, float(shown.min())), max(0.0, float(shown.max()))
    pad = 0.25 * ((high - low) or 1.0)
    axes.set_xlim(low - (pad if low < 0 else 0), high + pad)
    figure.tight_layout()
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")


def layer_bars(labels: list[str], lens: np.ndarray) -> Image.Image:
    """One bar per layer: the probability of the model's final answer if it stopped there, each bar named with
    that layer's own top-1 (bars where that is the final answer in one colour, the others in another)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    answer = int(lens[-1].argmax())
    tops = lens.argmax(axis=-1)
    figure = Figure(figsize=(4.8, 3.2), dpi=100)
    canvas = FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    layers = np.arange(1, len(lens) + 1)
    axes.bar(layers, lens[:, answer] * 100, color=["#f59e0b" if t == answer else "#6366f1" for t in tops])
    for x, top in zip(layers, tops):
        axes.text(x, lens[x - 1, answer] * 100 + 2, f"{labels[top]}\n{lens[x - 1, top]:.0%}", ha="center",
                  va="bottom", fontsize=7)
    axes.set_xticks(layers)
    axes.set_ylim(0, 125)  # room for the names above a bar at 100%
    axes.set_yticks(range(0, 101, 20))
    axes.set_xlabel("layer", fontsize=8)
    axes.set_ylabel(f"p({labels[answer]}) %", fontsize=8)
    axes.tick_params(labelsize=7)
    axes.spines[["top", "right"]].set_visible(False)
    figure.tight_layout()
    canvas.draw()
    return Image.frombuffer("RGBA", canvas.get_width_height(), canvas.buffer_rgba()).convert("RGB")
