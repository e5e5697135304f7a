"""Photo → model input, following the checkpoint's own recipe so accuracy matches the source library.

`model_view` returns the exact pixels the model sees (after resize and crop) as a PIL image: the patch grid
and the heatmaps are drawn over it, so what the user sees is what the model saw.
"""

from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from .config import ViTConfig

_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
             "lanczos": Image.LANCZOS}
MAX_KEEP_ASPECT = 3.0  # longest/shortest side kept when preserving the aspect ratio; beyond it we crop


def input_size(config: ViTConfig, patch_size: int | None = None) -> int:
    """Side of the square input: the native size, rounded to a whole number of patches of the chosen size.

    224 px at patch 48 is not a whole grid, so it becomes 240 px (5×5); never fewer than one patch.
    """
    p = patch_size or config.patch_size
    return max(p, round(config.image_size / p) * p)


def model_view(image: Image.Image, config: ViTConfig, patch_size: int | None = None,
               keep_aspect: bool = False) -> Image.Image:
    """The RGB image, resized and cropped exactly as the model will see it.

    By default: the shorter side to `size / crop_pct`, then a centre crop to size×size (timm's and
    transformers' recipe). With `keep_aspect`, the shorter side becomes `size` and the longer side is
    rounded to whole patches (capped at 3:1), so a wide photo gives a wide patch grid.
    """
    p = patch_size or config.patch_size
    size = input_size(config, p)
    pre = config.preprocessing
    resample = _RESAMPLE[pre.interpolation]
    image = image.convert("RGB")
    w, h = image.size
    if keep_aspect:
        scale = size / min(w, h)
        out_w = _whole_patches(min(w * scale, size * MAX_KEEP_ASPECT), p)
        out_h = _whole_patches(min(h * scale, size * MAX_KEEP_ASPECT), p)
        resized = image.resize((max(out_w, round(w * scale)), max(out_h, round(h * scale))), resample)
        return _center_crop(resized, out_w, out_h)
    if pre.squash:  # transformers' processors: a square resize (then a crop when crop_pct < 1)
        side = int(size / pre.crop_pct)
        return _center_crop(image.resize((side, side), resample), size, size)
    short = int(size / pre.crop_pct)
    scale = short / min(w, h)
    resized = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), resample)
    return _center_crop(resized, size, size)


def to_tensor(view: Image.Image, config: ViTConfig) -> torch.Tensor:
    """(1, 3, H, W) float tensor, normalised with the checkpoint's mean and std."""
    pixels = torch.from_numpy(np.asarray(view, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(config.preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(config.preprocessing.std).view(3, 1, 1)
    return ((pixels - mean) / std).unsqueeze(0)


def preprocess(image: Image.Image, config: ViTConfig, patch_size: int | None = None,
               keep_aspect: bool = False) -> torch.Tensor:
    """PIL image → (1, 3, H, W) input tensor for `model(x, patch_size)`."""
    return to_tensor(model_view(image, config, patch_size, keep_aspect), config)


def _whole_patches(length: float, p: int) -> int:
    return max(p, int(length // p) * p)


def _center_crop(image: Image.Image, width: int, height: int) -> Image.Image:
    w, h = image.size
    left, top = int(round((w - width) / 2.0)), int(round((h - height) / 2.0))
    return image.crop((left, top, left + width, top + height))
