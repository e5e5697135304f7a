"""The ViT recipe, live on the user's image: every stage of the stored forward with its shape and a picture.

    image → unfold patches → patch embeddings → + class token → + position embeddings
          → encoder block 1 … L → class-token output → logits

Everything comes from the stages the one forward of `analyze` kept (`Analysis.intermediates`): showing the
recipe runs no forward pass. The one extra computation is the check that the paper's definition of the
patch embedding (flatten each patch, multiply by E) and the convolution every library runs are the same
linear map: their measured max difference.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from ..model import embed_patches_conv, embed_patches_unfold
from ..numbering import shown
from .analysis import Analysis
from .render import colorize, matrix_picture, tile_grid, upscaled

PICTURE_SIDE = 160  # recipe pictures are thumbnails: the stages are the point, not the pixels


@dataclass
class Stage:
    """One step of the recipe: what it is called, the tensor it produced (batch left out), and what it did.

    `kind` and `values` say the same as `name` and `note` for a reader in another language: the page words
    them from its string tables (vitdemo/app/strings/recipe.py, held to these English sentences by a test).
    """

    name: str
    shape: tuple[int, ...]
    note: str
    picture: Image.Image | None = None
    kind: str = ""
    values: dict[str, object] = field(default_factory=dict)


def patch_embedding_difference(analysis: Analysis) -> float:
    """Max |unfold-matmul − conv2d| over this image's patch embeddings, both in float32.

    float32 on purpose: the question is whether the two are the same map, not how far bf16 rounding goes.
    """
    embed = analysis.model.patch_embed
    with torch.inference_mode():
        kernel, bias = embed.kernel(analysis.patch_size).float(), embed.bias.float()
        images = analysis.inputs.float()
        unfold = embed_patches_unfold(images, kernel, bias)
        conv = embed_patches_conv(images, kernel, bias)
    return float((unfold - conv).abs().max())


def recipe(analysis: Analysis) -> list[Stage]:
    """Every stage, in order, from the stored forward; pictures are small and cheap (no matplotlib)."""
    s = analysis.intermediates
    if not s:
        raise ValueError("this analysis kept no intermediates: make it with vitdemo.analyze")
    p, (rows, cols), prefix = analysis.patch_size, analysis.grid, analysis.num_prefix_tokens
    n, dim = rows * cols, s["patch_embeddings"].shape[-1]
    channels = analysis.inputs.shape[1]
    names = "class token" + (" and distillation token" if prefix > 1 else "")
    width, height, numbers = analysis.view.width, analysis.view.height, channels * p * p
    difference = f"{patch_embedding_difference(analysis):.2e}"
    stages = [
        Stage("image", tuple(analysis.inputs.shape[1:]), f"the {width}×{height} px "
              "the model sees after resize and crop, normalised per channel", _thumbnail(analysis.view),
              "image", {"width": width, "height": height}),
        Stage("unfold patches", tuple(s["patches"].shape),
              f"cut into {rows}×{cols} = {n} patches of {p}×{p}×{channels} = {numbers} numbers, "
              "row by row", patches_picture(analysis),
              "unfold", {"rows": rows, "cols": cols, "n": n, "p": p, "channels": channels, "numbers": numbers}),
        Stage("patch embeddings", tuple(s["patch_embeddings"].shape),
              f"each patch times E ({numbers}×{dim}) plus a bias: one {dim}-d token per patch; "
              f"max |unfold-matmul − conv2d| = {difference}",
              matrix_picture(s["patch_embeddings"]), "embed",
              {"numbers": numbers, "dim": dim, "difference": difference}),
        Stage("+ class token", tuple(s["with_class_token"].shape),
              f"the learned {names} put in front: {prefix} + {n} = {prefix + n} tokens",
              matrix_picture(s["with_class_token"]), "class_distilled" if prefix > 1 else "class",
              {"prefix": prefix, "n": n, "tokens": prefix + n}),
        Stage("+ position embeddings", tuple(s["with_position"].shape),
              f"a learned vector added to each token, resampled to the {rows}×{cols} grid, so order is known",
              matrix_picture(s["with_position"]), "position", {"rows": rows, "cols": cols}),
    ]
    for i in range(analysis.depth):
        stages.append(Stage(f"encoder block {shown(i)}", tuple(s[f"block{i}"].shape),
                            "x + attention(LN(x)), then x + MLP(LN(x)); picture: where the class token looked",
                            _map_picture(analysis, analysis.attention_map("attention", layer=i)),
                            "block", {"block": shown(i)}))
    stages.append(Stage("class-token output", tuple(s["class_token_output"].shape),
                        "the final layer norm of token 0: the whole image summarised in one vector",
                        matrix_picture(as_rows(s["class_token_output"]), size=(256, 64)), "output"))
    top = analysis.top(1)
    if top:  # a model without a classifier (DINO) stops at the class-token output
        label, probability = top[0]
        stages.append(Stage("logits", tuple(s["logits"].shape),
                            f"a linear head on that vector; softmax gives {label!r} at {probability:.1%}",
                            matrix_picture(as_rows(s["logits"]), size=(256, 64)),
                            "logits", {"label": repr(label), "probability": f"{probability:.1%}"}))
    return stages


def patches_picture(analysis: Analysis, gap: int = 2) -> Image.Image:
    """The view cut apart into its patches, in place, with gaps between them: what `unfold` does."""
    p, (rows, cols) = analysis.patch_size, analysis.grid
    pixels = np.asarray(analysis.view)[: rows * p, : cols * p]
    tiles = [Image.fromarray(np.ascontiguousarray(pixels[r * p:(r + 1) * p, c * p:(c + 1) * p]))
             for r in range(rows) for c in range(cols)]
    scale = max(1, PICTURE_SIDE // (max(rows, cols) * p))
    return tile_grid([upscaled(t, scale) for t in tiles], cols, gap)


def _map_picture(analysis: Analysis, attention_map: np.ndarray) -> Image.Image:
    rows, cols = attention_map.shape
    scale = max(1, PICTURE_SIDE // max(rows, cols))
    return upscaled(Image.fromarray(colorize(attention_map / attention_map.max(), low=0.0, high=1.0)), scale)


def _thumbnail(view: Image.Image) -> Image.Image:
    return upscaled(view, max(1, PICTURE_SIDE // max(view.size)))


def as_rows(vector: torch.Tensor, width: int = 64) -> np.ndarray:
    """A long vector folded into rows of `width` (zero-padded), so it reads as a block rather than a hair."""
    values = np.asarray(vector, dtype=np.float32).ravel()
    width = min(width, values.size)
    rows = -(-values.size // width)
    return np.pad(values, (0, rows * width - values.size)).reshape(rows, width)
