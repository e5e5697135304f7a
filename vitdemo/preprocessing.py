"""Photo → model input, following the checkpoint's own recipe so accuracy matches the source library.

`model_view` returns the exact pixels the model sees (after resize and crop) as a PIL image: the patch grid
and the heatmaps are drawn over it, so what the user sees is what the model saw. `rgb_on_white` is the one
conversion of an arbitrary decoded image (transparent, palette, 16-bit, float) to RGB, shared by the app's
uploads and the training image folder.

torch is imported only by `to_tensor`, so the upload checks and the app's page can use this module without
paying for it.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from .config import ViTConfig

if TYPE_CHECKING:
    import torch

_RESAMPLE = {"bilinear": Image.BILINEAR, "bicubic": Image.BICUBIC, "nearest": Image.NEAREST,
             "lanczos": Image.LANCZOS}
MAX_KEEP_ASPECT = 3.0  # longest/shortest side kept when preserving the aspect ratio; beyond it we crop
# Longest/shortest side of the images we resize as they are. Why 10: panoramas are ~4:1 to 6:1, stitched
# 360° ones and web banners (728×90) reach ~8:1, so 10:1 takes every real photo with room to spare; beyond it
# the model (a centre square, or at most 3:1 with keep-aspect) sees under a tenth of the picture. Why any
# limit: the short side is scaled *up* to the input size before the crop, so a 40000×1 strip would become a
# 4,360,000×109 image (1.4 GB) to return 96×96 pixels. Up to 10:1 the resized image is at most ~13× what
# `model_view` returns (2.6 MB at 224 px). The app refuses wider uploads (`vitdemo.app.uploads`); here,
# for library callers, a wider image is first centre-cropped to 10:1, which keeps every pixel the model sees.
MAX_ASPECT_RATIO = 10.0
_WHITE = (255, 255, 255)


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
    rounded to whole patches (capped at 3:1), so a wide photo gives a wide patch grid. Both scale the short
    side up, so beyond 10:1 (`MAX_ASPECT_RATIO`) the image is centre-cropped to 10:1 first, which keeps the
    resize small. A checkpoint that squashes (transformers' processors) resizes straight to a square.
    """
    p = patch_size or config.patch_size
    size = input_size(config, p)
    pre = config.preprocessing
    resample = _RESAMPLE[pre.interpolation]
    if image.mode != "RGB":  # convert() copies even when nothing changes: 200 MB for a 50 MP photo
        image = image.convert("RGB")
    if pre.squash and not keep_aspect:  # a square resize (then a crop when crop_pct < 1): never large
        side = int(size / pre.crop_pct)
        return _center_crop(image.resize((side, side), resample), size, size, pre.crop_offset)
    image = crop_to_ratio(image, MAX_ASPECT_RATIO)  # the two paths below scale the short side up
    w, h = image.size
    if keep_aspect:
        scale = size / min(w, h)
        out_w = _whole_patches(min(w * scale, size * MAX_KEEP_ASPECT), p)
        out_h = _whole_patches(min(h * scale, size * MAX_KEEP_ASPECT), p)
        resized = image.resize((max(out_w, round(w * scale)), max(out_h, round(h * scale))), resample)
        return _center_crop(resized, out_w, out_h)
    new_w, new_h = shorter_side_to(w, h, math.floor(size / pre.crop_pct))
    resized = image.resize((max(size, new_w), max(size, new_h)), resample)
    return _center_crop(resized, size, size, pre.crop_offset)


def to_tensor(view: Image.Image, config: ViTConfig) -> torch.Tensor:
    """(1, 3, H, W) float tensor, normalised with the checkpoint's mean and std."""
    import torch

    pixels = torch.from_numpy(np.asarray(view, dtype=np.float32) / 255.0).permute(2, 0, 1)
    mean = torch.tensor(config.preprocessing.mean).view(3, 1, 1)
    std = torch.tensor(config.preprocessing.std).view(3, 1, 1)
    return ((pixels - mean) / std).unsqueeze(0)


def preprocess(image: Image.Image, config: ViTConfig, patch_size: int | None = None,
               keep_aspect: bool = False) -> torch.Tensor:
    """PIL image → (1, 3, H, W) input tensor for `model(x, patch_size)`."""
    return to_tensor(model_view(image, config, patch_size, keep_aspect), config)


def shorter_side_to(width: int, height: int, short: int) -> tuple[int, int]:
    """(width, height) scaled so the shorter side is `short`, the longer one truncated exactly as torchvision's
    `Resize(int)` computes it: timm's eval transform (and transformers' `shortest_edge`), 500×375 → 330×248.

    Rounding instead (331×248) shifts the crop's pixels by a fraction of a pixel: logits moved by 0.06–0.2.
    """
    if width <= height:
        return short, int(short * height / width)
    return int(short * width / height), short


def _whole_patches(length: float, p: int) -> int:
    return max(p, int(length // p) * p)


def _center_crop(image: Image.Image, width: int, height: int, offset: str = "round") -> Image.Image:
    """The centre width×height; an odd margin is split as the source library does: "round" is torchvision's
    CenterCrop (timm; Python rounds half to even), "floor" transformers' processors (`(w - width) // 2`)."""
    w, h = image.size
    if offset == "floor":
        left, top = (w - width) // 2, (h - height) // 2
    else:
        left, top = int(round((w - width) / 2.0)), int(round((h - height) / 2.0))
    return image.crop((left, top, left + width, top + height))


def crop_to_ratio(image: Image.Image, max_ratio: float) -> Image.Image:
    """The centre of `image`, cut so its longer side is at most `max_ratio` × its shorter side.

    Images within the ratio are returned as they are (not copied), so their model view is unchanged.
    """
    w, h = image.size
    if max(w, h) <= max_ratio * min(w, h):
        return image
    if w > h:
        keep = max(1, math.floor(h * max_ratio))
        left = (w - keep) // 2
        return image.crop((left, 0, left + keep, h))
    keep = max(1, math.floor(w * max_ratio))
    top = (h - keep) // 2
    return image.crop((0, top, w, top + keep))


def rgb_on_white(image: Image.Image) -> Image.Image:
    """Make one RGB image from any mode: deep greys are scaled, and transparency is flattened onto white.

    White, because a transparent logo or drawing usually sits on a white page. PIL's plain
    `convert("RGB")` would drop the alpha channel and show whatever colour the hidden pixels happen
    to hold (often black). An RGB image is returned as it is, not copied (a copy of a 50-megapixel photo
    costs 200 MB).
    """
    if image.mode in ("I", "F") or image.mode.startswith("I;16"):
        image = _to_8bit_grey(image)
    if image.has_transparency_data:  # RGBA, LA, PA, and palettes or greys with a transparent colour
        rgba = image if image.mode == "RGBA" else image.convert("RGBA")
        flat = Image.new("RGB", rgba.size, _WHITE)
        flat.paste(rgba, mask=rgba)  # blends by alpha, like compositing over white, with one buffer less
        return flat
    return image if image.mode == "RGB" else image.convert("RGB")


def _to_8bit_grey(image: Image.Image) -> Image.Image:
    """Scale 16-bit, 32-bit integer or float greyscale to 8 bits, instead of clipping it.

    PIL's `convert("L")` clips, so a 16-bit scan would come out almost all white. The I;16 modes have a
    known white level (65535). Modes I and F carry none, so we use the smallest usual one that covers the
    data (1.0 for normalised floats, then 255, then 65535). Data with negative values, or values beyond
    16 bits, is stretched from its own minimum to its maximum.
    """
    values = np.asarray(image).astype(np.float32)
    values[~np.isfinite(values)] = 0.0
    black, white = (0.0, 65535.0) if image.mode.startswith("I;16") else _levels(values)
    values -= black
    values *= 255.0 / max(white - black, 1e-12)
    np.clip(np.round(values, out=values), 0, 255, out=values)
    return Image.fromarray(values.astype(np.uint8))


def _levels(values: np.ndarray) -> tuple[float, float]:
    low, high = float(values.min()), float(values.max())
    if low >= 0:
        for white in (1.0, 255.0, 65535.0):
            if high <= white:
                return 0.0, white
    return low, high
