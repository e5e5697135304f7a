"""How much of each patch an object mask covers: the one measure behind the training aids' dense targets
(`train.aids`), the model card's "rollout mass inside the mask" (`train.evaluate`) and the explanation-quality
benchmark, so all three count a patch as "on the object" the same way."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F


def patch_cover(masks: torch.Tensor | np.ndarray, grid: tuple[int, int], sub: int = 1,
                side: int | None = None) -> torch.Tensor:
    """(B, rows·cols, sub²): the share of object pixels in each of a patch's sub×sub cells.

    `masks`: (B, H, W) or one (H, W) mask, bool or float, aligned with the model's input. A mask of another
    size than the input (`side`, square) is area-resampled to it first; rows and columns beyond a whole
    number of patches are left out, as the patch embedding leaves them out.
    """
    m = torch.as_tensor(np.asarray(masks, dtype=np.float32) if isinstance(masks, np.ndarray) else masks).float()
    m = m[None] if m.dim() == 2 else m
    if side is not None and m.shape[-1] != side:
        m = F.interpolate(m[:, None], size=(side, side), mode="area")[:, 0]
    rows, cols = grid
    cells_y, cells_x = rows * sub, cols * sub
    m = m[:, : m.shape[-2] // cells_y * cells_y, : m.shape[-1] // cells_x * cells_x]
    cover = F.adaptive_avg_pool2d(m[:, None], (cells_y, cells_x))
    return cover.reshape(-1, rows, sub, cols, sub).permute(0, 1, 3, 2, 4).reshape(-1, rows * cols, sub * sub)
