"""The logit lens: what the model would answer if it stopped after each block (nostalgebraist 2020, for GPT-2;
for ViTs: ViT-Prisma's patch logit lens, ViT-Explainer, arXiv 2604.02182).

Every block leaves a sequence of tokens in the residual stream. The model reads only the last block's, through
its final norm and its head; the lens reads each block's the same way, with the model's own code
(`ViT.norm`, then `ViT.classify`), so each family's readout is the one it was trained with: the class
token's head, DeiT's class and distillation heads averaged, DINOv2's head on [class token; mean of the patch
tokens], and for an image–text model analysed with prompts its pooling and projection scored against the
prompts' text embeddings (CLIP: the class token; SigLIP: its attention probe over the patches). The last
layer's row is then exactly the model's answer, its `probabilities` (softmax; SigLIP: a sigmoid per prompt).

The per-patch lens reads each patch token through the same norm and head, as if that token were the whole
image: every token the head reads (the class token, DeiT's distillation token, DINOv2's mean of patches)
is replaced by that patch's token, so DINOv2's head sees [patch; patch] and DeiT's two heads both read the
patch. It gives each patch, at each layer, the class it would answer and that class's probability.

Both read the block outputs the analysis forward kept (`Analysis.intermediates["block{l}"]`): no forward
pass, one norm and one head per layer (per patch and layer for the per-patch lens, in chunks of bounded size).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from .analysis import Analysis

# One colour per class, the same on the page, in figures and in the tour: Tableau's 10 and one more, the model's
# answer first; the classes past them share grey.
PALETTE = ((31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189), (140, 86, 75),
           (227, 119, 194), (188, 189, 34), (23, 190, 207), (255, 187, 120), (152, 223, 138))
OTHER = (150, 150, 150)
CHUNK_TOKENS = 4096  # patch tokens read through the head at once: (4096, 1000) logits are 16 MB in float32


class PatchLens(NamedTuple):
    """The per-patch logit lens: at each layer, each patch's most probable class and its probability."""

    classes: np.ndarray  # (layers, rows, cols) int64 class indices
    probabilities: np.ndarray  # (layers, rows, cols) float32


def require_classifier(analysis: Analysis) -> None:
    """ValueError in one sentence for an analysis without classes: the lens reads each layer as the model's
    answer, which needs a classifier, or prompts for an image–text model."""
    if analysis.labels:
        return
    if hasattr(analysis.model, "with_prompts"):
        raise ValueError("this image–text model was analysed without prompts: the logit lens scores each layer "
                         "against the prompts, so analyse it with prompts=[...]")
    raise ValueError("this model has no classifier (DINO-style, num_classes=0): the logit lens reads each "
                     "layer through the classifier's head, so it needs one")


def block_outputs(analysis: Analysis, tokens: slice = slice(None)) -> torch.Tensor:
    """(layers, T, D): every block's output `tokens` as the forward kept them, on the model's device and dtype."""
    if f"block{analysis.depth - 1}" not in analysis.intermediates:
        raise ValueError("this analysis kept no block outputs: make it with vitdemo.analyze")
    model = analysis.model
    return torch.stack([analysis.intermediates[f"block{i}"][tokens] for i in range(analysis.depth)]).to(
        device=model.device, dtype=model.dtype)


def layer_logits(analysis: Analysis) -> torch.Tensor:
    """(layers, classes) float32: the head's logits read from each block's output, the model's own readout."""
    require_classifier(analysis)
    model = analysis.model
    # The norm is per token, so a head that reads the prefix tokens only (not DINOv2's mean, not SigLIP's probe
    # over the patches) needs only those.
    reads_patches = model.config.head_input == "class+mean" or model.config.pool == "probe"
    read = slice(None) if reads_patches else slice(analysis.num_prefix_tokens)
    with torch.inference_mode():
        return model.classify(model.norm(block_outputs(analysis, read))).float().cpu()


def logit_lens(analysis: Analysis) -> np.ndarray:
    """(layers, classes): row l the probabilities the model would give if it stopped after block l + 1."""
    return analysis.model.probabilities(layer_logits(analysis)).numpy()


def patch_lens(analysis: Analysis) -> PatchLens:
    """Each patch token of each layer read through the final norm and head as if it were the whole image."""
    require_classifier(analysis)
    model, prefix = analysis.model, analysis.num_prefix_tokens
    patches = block_outputs(analysis, slice(prefix, None)).reshape(-1, 1, model.config.dim)  # (layers · N, 1, D)
    # One sequence per patch token, that token in every place the head reads: the prefix and the patches.
    copies = prefix + 1
    classes, probabilities = [], []
    with torch.inference_mode():
        for chunk in patches.split(CHUNK_TOKENS):
            logits = model.classify(model.norm(chunk).expand(-1, copies, -1)).float()  # the norm is per token
            best = model.probabilities(logits).max(dim=-1)
            classes.append(best.indices.cpu())
            probabilities.append(best.values.cpu())
    shape = (analysis.depth, *analysis.grid)
    return PatchLens(torch.cat(classes).reshape(shape).numpy().astype(np.int64),
                     torch.cat(probabilities).reshape(shape).numpy().astype(np.float32))


def top_by_layer(lens: np.ndarray, k: int = 3) -> list[list[tuple[int, float]]]:
    """Per layer, the k most probable (class index, probability), best first."""
    order = np.argsort(-lens, axis=-1, kind="stable")[:, :k]
    return [[(int(i), float(row[i])) for i in indices] for row, indices in zip(lens, order)]


def settled_layer(lens: np.ndarray) -> int:
    """The first layer (0-based) from which the top-1 is the model's final answer at every later layer."""
    tops = lens.argmax(axis=-1)
    layer = len(tops) - 1
    while layer > 0 and tops[layer - 1] == tops[-1]:
        layer -= 1
    return layer


def class_colours(lens: np.ndarray, patch: PatchLens) -> dict[int, tuple[int, int, int]]:
    """A colour for every class the patches or the class token name, kept across layers so that a class keeps
    its colour while the layer changes: the model's answer first, then the classes most patches name over all
    layers (ties: the lower index), `OTHER` past the palette."""
    answer = int(lens[-1].argmax())
    named = set(np.unique(patch.classes).tolist()) | {int(i) for i in np.argsort(-lens, axis=-1)[:, :3].ravel()}
    counts = {c: int(n) for c, n in zip(*np.unique(patch.classes, return_counts=True))}
    ranked = sorted(named, key=lambda c: (c != answer, -counts.get(c, 0), c))
    return {c: PALETTE[i] if i < len(PALETTE) else OTHER for i, c in enumerate(ranked)}


def class_picture(classes: np.ndarray, colours: dict[int, tuple[int, int, int]]) -> np.ndarray:
    """(rows, cols, 3) uint8: each patch in the colour of its class."""
    table = np.array([colours.get(int(c), OTHER) for c in np.unique(classes)], dtype=np.uint8)
    return table[np.searchsorted(np.unique(classes), classes)]
