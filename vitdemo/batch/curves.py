"""Deletion and insertion AUCs of many images' maps, batched across the images.

`explain.faithfulness.perturbation_curves` scores one image's maps: its kept-token sets of one size share
a forward, so one map of one image runs ~`steps` forwards of two rows each. Over a folder the images share
the grid, so here every image's sets of one size share the forward (`keep` takes one row per image): the
same probabilities (tests check against the library's one-image curves) in ~`steps` forwards per batch of
images instead of per image. The protocol, the rounding of the steps and the areas are faithfulness.py's.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from ..explain.faithfulness import area, kept_sets, ranking, step_counts
from ..model import ViT

Aucs = tuple[float, float]  # (deletion, insertion)


def batched_aucs(model: ViT, inputs: torch.Tensor, patch_size: int, maps: Sequence[np.ndarray],
                 targets: Sequence[int], wholes: Sequence[float], steps: int = 10, batch_size: int = 64) -> list[Aucs]:
    """[(deletion AUC, insertion AUC)] of each image's (rows, cols) map for its class, images `inputs`
    (B, C, H, W) of one grid; `wholes` are P(target) on each whole image (its forward already gave them)."""
    rows, cols = inputs.shape[-2] // patch_size, inputs.shape[-1] // patch_size
    n = rows * cols
    counts = step_counts(n, steps)
    curves = [kept_sets(ranking(m), counts) for m in maps]
    known = [{tuple(range(n)): float(w)} for w in wholes]
    todo = list(dict.fromkeys((i, s) for i, (deletion, insertion) in enumerate(curves)
                              for s in (*deletion, *insertion) if s not in known[i]))
    by_size: dict[int, list[tuple[int, tuple[int, ...]]]] = {}
    for item in todo:
        by_size.setdefault(len(item[1]), []).append(item)
    with torch.inference_mode():
        for size, items in by_size.items():
            for start in range(0, len(items), batch_size):
                chunk = items[start:start + batch_size]
                images = torch.tensor([i for i, _ in chunk], dtype=torch.long, device=inputs.device)
                keep = torch.tensor([s for _, s in chunk], dtype=torch.long, device=inputs.device)
                logits = model(inputs[images], patch_size, output_attentions=False,
                               keep=keep.reshape(len(chunk), size)).logits.float()
                wanted = torch.tensor([targets[i] for i, _ in chunk], device=logits.device)
                chosen = logits.softmax(-1).gather(1, wanted[:, None])[:, 0].tolist()
                for (i, s), p in zip(chunk, chosen, strict=True):
                    known[i][s] = p
    fractions = counts / n
    return [(area(fractions, [known[i][s] for s in deletion]), area(fractions, [known[i][s] for s in insertion]))
            for i, (deletion, insertion) in enumerate(curves)]
