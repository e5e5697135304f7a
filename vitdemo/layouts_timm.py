"""timm checkpoints → vitdemo: `VisionTransformer` / `VisionTransformerDistilled` (ViT, DeiT, FlexiViT).

Like layouts.py (whose shared renaming and checks it uses), pure renaming onto vitdemo's ViT, checked against
the shapes the derived config needs. timm already fuses [q; k; v], so only the patch embedding is renamed; the
config comes from `architecture` (the name's size and patch, timm_registry.py) and `model_args`, anything that
would change the network beyond what vitdemo's ViT reproduces an error; preprocessing and labels come from
`pretrained_cfg` and `label_names`, as timm's own data config reads them.
"""

from __future__ import annotations

import math
import re
from typing import Any

from .config import HALF, IMAGENET_MEAN, IMAGENET_STD, Preprocessing, ViTConfig
from .constants import FLEXIVIT_PATCH_SIZES
from .labels import IMAGENET_CLASSES, generic_labels, imagenet_labels
from .layouts import ORIGINAL_OFFSET, CheckpointError, Converted, Rules, State, check_against_model, rename
from .timm_registry import TIMM_NAME, TIMM_SIZES

TIMM_TO_VITDEMO: Rules = [  # timm already fuses [q; k; v]; only the patch embedding is renamed
    (r"^patch_embed\.proj\.", "patch_embed."),
    (r"^(cls_token|dist_token|pos_embed)$", r"\1"),
    (r"^(blocks\.\d+\.(?:norm1|norm2|attn\.qkv|attn\.proj|mlp\.fc1|mlp\.fc2)\.(?:weight|bias))$", r"\1"),
    (r"^((?:norm|head|head_dist)\.(?:weight|bias))$", r"\1"),
]
TIMM_ALLOWED = {  # model_args that change the network: the values vitdemo's ViT reproduces
    "class_token": (True,), "global_pool": ("token", ""), "reg_tokens": (0,), "init_values": (None,),
    "pre_norm": (False,), "final_norm": (True,), "fc_norm": (None, False), "qk_norm": (False,),
    "act_layer": (None, "gelu"), "pos_embed": ("learn",), "class_token_pos": (None,),
}
TIMM_HARMLESS = {"dynamic_img_size", "dynamic_img_pad", "strict_img_size", "weight_init", "fix_init", "in_chans",
                 "num_classes", "embed_dim", "depth", "num_heads", "patch_size", "img_size", "mlp_ratio",
                 "qkv_bias", "no_embed_class", "distilled", "flexi"}
SYNSET = re.compile(r"n\d{8}")


def timm_args(config: dict[str, Any]) -> dict[str, Any]:
    """Model arguments: those the architecture name implies (timm's registry), overridden by `model_args`."""
    name = config["architecture"]
    match = TIMM_NAME.match(name)
    args: dict[str, Any] = {"mlp_ratio": 4.0, "qkv_bias": True}
    if match:
        dim, depth, heads = TIMM_SIZES[match["size"]]
        flexi = match["family"] == "flexivit"
        args.update(embed_dim=dim, depth=depth, num_heads=heads, patch_size=int(match["patch"] or 16),
                    no_embed_class=flexi, distilled=bool(match["distilled"]), flexi=flexi)
    args.update(config.get("model_args") or {})
    missing = [k for k in ("embed_dim", "depth", "num_heads") if k not in args]
    if missing:
        raise CheckpointError(f"unknown timm architecture {name!r}: give {', '.join(missing)} in model_args "
                              "(known: vit_/deit_/flexivit_ tiny|small|medium|base|large|huge)")
    for key, value in args.items():
        if key.endswith("drop_rate") or key in TIMM_HARMLESS:
            continue
        if value not in TIMM_ALLOWED.get(key, ()):
            raise CheckpointError(f"timm {name}: {key}={value!r} is not supported by vitdemo's ViT")
    if config.get("global_pool", "token") not in ("token", ""):
        raise CheckpointError(f"timm {name}: global_pool {config['global_pool']!r}; vitdemo reads the class token")
    return args


def from_timm(config: dict[str, Any], state: State) -> Converted:
    """A timm VisionTransformer / VisionTransformerDistilled checkpoint (ViT, DeiT, FlexiViT); without `head`
    (timm's num_classes=0, e.g. the DINO weights) it loads with no classifier. Positions resample as timm's
    do; DINO's (pretrained tag "dino") record the original code's +0.1 in `pos_offset`."""
    args = timm_args(config)
    mapped = rename(state, TIMM_TO_VITDEMO)
    for key in ("patch_embed.weight", "pos_embed"):
        if key not in mapped:
            raise CheckpointError(f"timm {config['architecture']}: no {key} (an unsupported variant?)")
    distilled = bool(args.get("distilled")) or "dist_token" in mapped
    patch = int(mapped["patch_embed.weight"].shape[-1])
    no_embed_class = bool(args.get("no_embed_class", False))
    side = _pos_grid_side(mapped["pos_embed"].shape[1], 0 if no_embed_class else 1 + distilled)
    pretrained = config.get("pretrained_cfg") or {}
    flexi = bool(args.get("flexi"))
    vit_config = ViTConfig(
        image_size=side * patch,  # from the weights: FlexiViT's hub checkpoints are 240 px (15×15 at 16)
        patch_size=patch,
        in_channels=int(mapped["patch_embed.weight"].shape[1]),
        dim=args["embed_dim"],
        depth=args["depth"],
        heads=args["num_heads"],
        mlp_dim=int(args["embed_dim"] * args["mlp_ratio"]),
        num_classes=int(mapped["head.weight"].shape[0]) if "head.weight" in mapped else 0,
        layer_norm_eps=1e-6,
        qkv_bias=args["qkv_bias"],
        distilled=distilled,
        pos_embed_prefix=not no_embed_class,
        pos_interpolation="bilinear" if flexi else "bicubic",
        pos_offset=ORIGINAL_OFFSET if pretrained.get("tag") == "dino" else 0.0,  # timm's DINO weights
        native_patch_sizes=FLEXIVIT_PATCH_SIZES if flexi else (),
        name=config["architecture"],
        preprocessing=timm_preprocessing(pretrained, config["architecture"]),
    )
    return Converted(vit_config, timm_labels(config, vit_config.num_classes), check_against_model(vit_config, mapped))


def _pos_grid_side(tokens: int, prefix: int) -> int:
    side = math.isqrt(tokens - prefix)
    if side * side != tokens - prefix:
        raise CheckpointError(f"pos_embed holds {tokens} tokens: not {prefix} prefix tokens plus a square grid")
    return side


def timm_preprocessing(pretrained_cfg: dict[str, Any], architecture: str) -> Preprocessing:
    """timm's eval transform: shorter side to size / crop_pct, centre crop (or `crop_mode` "squash")."""
    deit = architecture.startswith("deit")
    interpolation = pretrained_cfg.get("interpolation", "bicubic")
    return Preprocessing(
        mean=tuple(pretrained_cfg.get("mean", IMAGENET_MEAN if deit else HALF)),
        std=tuple(pretrained_cfg.get("std", IMAGENET_STD if deit else HALF)),
        crop_pct=float(pretrained_cfg.get("crop_pct", 0.9)),
        interpolation=interpolation if interpolation in ("bilinear", "bicubic", "nearest") else "bicubic",
        squash=pretrained_cfg.get("crop_mode") == "squash",
    )


def timm_labels(config: dict[str, Any], num_classes: int) -> list[str]:
    """`label_names` (with `label_descriptions` if given); ImageNet synset ids become the shipped names."""
    pretrained = config.get("pretrained_cfg") or {}
    names = config.get("label_names") or pretrained.get("label_names")
    descriptions = config.get("label_descriptions") or pretrained.get("label_descriptions") or {}
    if isinstance(names, dict):
        names = [names.get(str(i), names.get(i)) for i in range(num_classes)]
    if not names or len(names) != num_classes or any(n is None for n in names):
        return generic_labels(num_classes)
    if descriptions:
        return [descriptions.get(n, n) for n in names]
    if num_classes == IMAGENET_CLASSES and all(SYNSET.fullmatch(n) for n in names):
        return imagenet_labels()
    return [str(n) for n in names]
