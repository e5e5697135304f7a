"""What timm's model registry knows from a model's name alone, for checkpoints that carry no config.json.

`timm.create_model("vit_base_patch16_224.augreg2_in21k_ft_in1k", pretrained=True)` downloads only
`model.safetensors` from the hub repo `timm/vit_base_patch16_224.augreg2_in21k_ft_in1k`: the shapes and the
eval transform live in timm's code, not in the repo. So a hub cache filled by timm holds weights and no
config, and the repo id is all there is to read them by. The name gives the shapes (`TIMM_SIZES`), and
`pretrained_cfg` gives the eval transform by the rules timm's `default_cfgs` follow for every model vitdemo
can build (checked against vision_transformer.py and deit.py of timm at aa4b585, all 68 such pretrained tags).
"""

from __future__ import annotations

import re
from typing import Any

from .config import HALF, IMAGENET_MEAN, IMAGENET_STD

TIMM_NAME = re.compile(r"^(?P<family>vit|deit|flexivit)_(?P<size>tiny|small|medium|base|large|huge)"
                       r"(?P<distilled>_distilled)?(?:_patch(?P<patch>\d+))?(?:_(?P<img>\d+))?")
TIMM_SIZES = {  # name → (embed_dim, depth, num_heads), as timm's model registry defines them
    "tiny": (192, 12, 3), "small": (384, 12, 6), "medium": (512, 12, 8),
    "base": (768, 12, 12), "large": (1024, 24, 16), "huge": (1280, 32, 16),
}
IMAGENET_STATS_TAGS = ("dino", "mae")  # self-supervised weights that keep ImageNet's mean and std


def pretrained_cfg(architecture: str, tag: str = "") -> dict[str, Any]:
    """The eval-transform part of timm's pretrained cfg for `architecture.tag`.

    timm's `_cfg` defaults (bicubic, crop_pct 0.9, Inception mean/std 0.5 for ViT and FlexiViT, ImageNet's
    for DeiT), with its per-tag overrides: 384 px models crop_pct 1.0, FlexiViT 240 px at 0.95, and the
    DINO and MAE weights ImageNet's mean and std.
    """
    match = TIMM_NAME.fullmatch(architecture)
    assert match, f"not a timm ViT/DeiT/FlexiViT name: {architecture!r}"
    flexi = match["family"] == "flexivit"
    size = int(match["img"] or (240 if flexi else 224))
    imagenet = match["family"] == "deit" or tag in IMAGENET_STATS_TAGS
    return {
        "tag": tag,  # as timm writes it in a hub config.json (DINO's weights resample positions their own way)
        "input_size": [3, size, size],
        "interpolation": "bicubic",
        "crop_pct": 0.95 if flexi else 1.0 if size >= 384 else 0.9,
        "crop_mode": "center",
        "mean": list(IMAGENET_MEAN if imagenet else HALF),
        "std": list(IMAGENET_STD if imagenet else HALF),
    }


def config_from_repo_id(repo_id: str) -> dict[str, Any] | None:
    """A timm config.json for `org/architecture.tag` (e.g. timm/vit_base_patch16_224.augreg2_in21k_ft_in1k),
    or None when the name is not one of timm's ViT/DeiT/FlexiViT architectures."""
    architecture, _, tag = repo_id.rsplit("/", 1)[-1].partition(".")
    if not TIMM_NAME.fullmatch(architecture):
        return None
    return {"architecture": architecture, "pretrained_cfg": pretrained_cfg(architecture, tag)}
