"""Checkpoint layouts → vitdemo: pure functions from a config dict + state dict to (ViTConfig, labels, weights).

Each library names the same tensors differently; these functions only rename (and fuse q, k, v into the
[q; k; v] rows vitdemo and timm use). Like nanoGPT's `from_pretrained`, every converted tensor is then
checked against the shapes a vitdemo ViT built from the derived config expects, and leftover tensors are
an error, so a checkpoint that does something our ViT does not (LayerScale, registers, pooling heads...)
fails loudly instead of giving quietly wrong answers.

Supported layouts:
* **transformers** (`config.json` with `model_type` "vit", "deit", "dinov2" or "dinov2_with_registers"):
  the names `save_pretrained` writes. transformers 5 renames modules in memory (`vit.layers.N.attention.q_proj`,
  `o_proj`, `mlp.fc1`), but 5.24 still writes the hub names (`vit.encoder.layer.N.attention.attention.query`,
  `attention.output.dense`, `intermediate.dense`, `output.dense`); both are accepted. Models without a
  classifier (`ViTModel`: DINO; `Dinov2Model`, `Dinov2WithRegistersModel`) load with `num_classes=0`.
* **timm** (`config.json` with `architecture`, optional `model_args` and `pretrained_cfg`), or just
  `model.safetensors` in a hub cache (what `timm.create_model` leaves: `timm_registry.config_from_repo_id`);
  converted by layouts_timm.py.
* **vitdemo**'s own format is read by `checkpoint.load_vitdemo_dir`; it is only detected here.

One reference rule: a checkpoint reproduces the library of its layout (transformers for a transformers
folder, timm for a timm one), position resampling included. Where the family's original code resamples
otherwise (DINO's and DINOv2's +0.1 on the grid side), the converted config records that offset in
`pos_offset`, and `config.position_resampling = "original"` applies it.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import torch

from .config import HALF, IMAGENET_MEAN, IMAGENET_STD, Preprocessing, ViTConfig
from .labels import generic_labels
from .model import ViT

HF_MODEL_TYPES = ("vit", "deit", "dinov2", "dinov2_with_registers")
SUPPORTED = ("transformers ViT/DeiT/DINO/DINOv2 (config.json with model_type 'vit', 'deit', 'dinov2' or "
             "'dinov2_with_registers'), timm ViT/DeiT/FlexiViT (config.json with 'architecture'), "
             "vitdemo (config.json with format 'vitdemo')")
State = dict[str, torch.Tensor]
# facebookresearch/dino and dinov2 resample positions to a scale factor (side + 0.1) / old side (dinov2's
# `interpolate_offset`; its register models use 0); transformers 5 and timm resample to the size.
ORIGINAL_OFFSET = 0.1
DINO_REPO = re.compile(r"^facebook/dino-vit[sb]\d+$")  # DINO v1 on the hub: a plain transformers ViTModel


class CheckpointError(ValueError):
    """A checkpoint vitdemo cannot read: an unknown layout, or weights that do not fit the config."""


class Converted(NamedTuple):
    config: ViTConfig
    labels: list[str]
    state_dict: State  # vitdemo names, float32, shapes checked


def detect_layout(config: dict[str, Any]) -> str:
    """"vitdemo", "transformers" or "timm", read from a checkpoint's config.json."""
    if config.get("format") == "vitdemo":
        return "vitdemo"
    if "model_type" in config:
        if config["model_type"] in HF_MODEL_TYPES:
            return "transformers"
        raise CheckpointError(f"transformers model_type {config['model_type']!r} is not a ViT vitdemo knows; "
                              f"supported: {SUPPORTED}")
    if "architecture" in config:
        return "timm"
    raise CheckpointError(f"config.json names no layout vitdemo knows; supported: {SUPPORTED}")


def convert(layout: str, config: dict[str, Any], state: State,
            preprocessor: dict[str, Any] | None = None, repo_id: str | None = None) -> Converted:
    """Dispatch to `from_transformers` or `from_timm` (`repo_id`, when known, tells DINO v1 from another ViT)."""
    if layout == "transformers":
        return from_transformers(config, state, preprocessor, repo_id)
    if layout == "timm":
        from .layouts_timm import from_timm  # imports this module's shared helpers, so imported when used

        return from_timm(config, state)
    raise CheckpointError(f"no converter for layout {layout!r}; supported: {SUPPORTED}")


# --------------------------------------------------------------------------------------------------------
# Shared: renaming, fusing q/k/v, checking against the model

Rules = list[tuple[str, str]]


def rename(state: State, rules: Rules, ignore: tuple[str, ...] = ()) -> State:
    """Apply the first matching (regex, replacement) rule to each key; unmatched keys are an error."""
    out, leftover = {}, []
    for key, tensor in state.items():
        for pattern, replacement in rules:
            new, n = re.subn(pattern, replacement, key, count=1)
            if n:
                out[new] = tensor
                break
        else:
            if not key.startswith(ignore):
                leftover.append(key)
    if leftover:
        raise CheckpointError(f"tensors vitdemo's ViT has no place for (an unsupported variant?): "
                              f"{_some(leftover)}")
    return out


def fuse_qkv(state: State) -> State:
    """Replace `blocks.N.attn.{q,k,v}.{weight,bias}` with one `blocks.N.attn.qkv` holding [q; k; v] rows."""
    out = {k: v for k, v in state.items() if not re.search(r"\.attn\.[qkv]\.", k)}
    for key in state:
        if ".attn.q." in key:
            parts = [state.get(key.replace(".attn.q.", f".attn.{n}.")) for n in "qkv"]
            if any(p is None for p in parts):
                raise CheckpointError(f"{key}: query without key or value")
            out[key.replace(".attn.q.", ".attn.qkv.")] = torch.cat(parts, dim=0)
    return out


def check_against_model(config: ViTConfig, state: State) -> State:
    """Every tensor a ViT(config) expects, present and of the right shape, and nothing else; as float32."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in ViT(config).state_dict().items()}
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        raise CheckpointError(f"checkpoint does not match the config: missing {_some(missing)}; "
                              f"unexpected {_some(extra)}")
    for key, shape in expected.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(f"{key}: the checkpoint has shape {tuple(state[key].shape)}, the config "
                                  f"(dim {config.dim}, patch {config.patch_size}, image {config.image_size}) "
                                  f"needs {shape}")
    return {k: v.float() for k, v in state.items()}


def _some(keys: list[str], n: int = 5) -> str:
    return "none" if not keys else ", ".join(keys[:n]) + (f" (+{len(keys) - n} more)" if len(keys) > n else "")


def _square(value: Any, what: str) -> int:
    """An int from an int or an (h, w) pair with h == w: vitdemo's checkpoints are square at their native size."""
    if isinstance(value, (list, tuple)):
        if len(set(value)) != 1:
            raise CheckpointError(f"{what} {value} is not square")
        value = value[0]
    return int(value)


# --------------------------------------------------------------------------------------------------------
# transformers

HF_MEMORY_TO_FILE: Rules = [  # transformers 5 in-memory names → the hub names save_pretrained writes
    (r"^layers\.(\d+)\.", r"encoder.layer.\1."),
    (r"\.attention\.q_proj\.", ".attention.attention.query."),
    (r"\.attention\.k_proj\.", ".attention.attention.key."),
    (r"\.attention\.v_proj\.", ".attention.attention.value."),
    (r"\.attention\.o_proj\.", ".attention.output.dense."),
    (r"\.mlp\.fc1\.", ".intermediate.dense."),
    (r"\.mlp\.fc2\.", ".output.dense."),
]
HF_TO_VITDEMO: Rules = [  # hub names (after the "vit."/"deit."/"dinov2." prefix) → vitdemo
    (r"^embeddings\.cls_token$", "cls_token"),
    (r"^embeddings\.distillation_token$", "dist_token"),
    (r"^embeddings\.register_tokens$", "reg_token"),
    (r"^embeddings\.position_embeddings$", "pos_embed"),
    (r"^embeddings\.patch_embeddings\.projection\.", "patch_embed."),
    (r"^encoder\.layer\.(\d+)\.layernorm_before\.", r"blocks.\1.norm1."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.query\.", r"blocks.\1.attn.q."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.key\.", r"blocks.\1.attn.k."),
    (r"^encoder\.layer\.(\d+)\.attention\.attention\.value\.", r"blocks.\1.attn.v."),
    (r"^encoder\.layer\.(\d+)\.attention\.output\.dense\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layer\.(\d+)\.layernorm_after\.", r"blocks.\1.norm2."),
    (r"^encoder\.layer\.(\d+)\.intermediate\.dense\.", r"blocks.\1.mlp.fc1."),
    (r"^encoder\.layer\.(\d+)\.output\.dense\.", r"blocks.\1.mlp.fc2."),
    (r"^encoder\.layer\.(\d+)\.(norm1|norm2)\.", r"blocks.\1.\2."),  # DINOv2's names
    (r"^encoder\.layer\.(\d+)\.layer_scale([12])\.lambda1$", r"blocks.\1.ls\2.gamma"),
    (r"^layernorm\.", "norm."),
    (r"^(classifier|cls_classifier)\.", "head."),
    (r"^distillation_classifier\.", "head_dist."),
]
HF_UNUSED = ("pooler.", "embeddings.mask_token")  # ViTModel's pooler, the masked-modelling token: never used here
PIL_RESAMPLE = {0: "nearest", 1: "lanczos", 2: "bilinear", 3: "bicubic"}


def hf_state_to_vitdemo(state: State) -> State:
    """transformers names (files or in-memory, with or without the "vit."/"deit." prefix) → vitdemo names."""
    plain = {re.sub(r"^(vit|deit|dinov2|dinov2_with_registers)\.", "", k): v for k, v in state.items()}
    for pattern, replacement in HF_MEMORY_TO_FILE:
        plain = {re.sub(pattern, replacement, k): v for k, v in plain.items()}
    return fuse_qkv(rename(plain, HF_TO_VITDEMO, ignore=HF_UNUSED))


def from_transformers(config: dict[str, Any], state: State, preprocessor: dict[str, Any] | None = None,
                      repo_id: str | None = None) -> Converted:
    """A transformers ViT, DeiT, DINOv2 or DINOv2-with-registers checkpoint, with a classifier or without.

    With: ViTForImageClassification, DeiTForImageClassificationWithTeacher, Dinov2(WithRegisters)For-
    ImageClassification. Without (`num_classes=0`): ViTModel (DINO), Dinov2Model, Dinov2WithRegistersModel.
    DINOv2 runs at its processor's crop (224 px) with position embeddings learned at `image_size` (518 px),
    resampled as transformers does (to the grid's size; antialiased for the register models). DINO v1 (known by
    its hub `repo_id`) and DINOv2 record the original code's +0.1 in `pos_offset`, for `position_resampling =
    "original"`.
    """
    model_type = config["model_type"]
    if config.get("hidden_act", "gelu") != "gelu":
        raise CheckpointError(f"hidden_act {config['hidden_act']!r}: vitdemo's MLP uses exact GELU only")
    if config.get("use_swiglu_ffn"):
        raise CheckpointError("use_swiglu_ffn: DINOv2's SwiGLU MLP (the giant model) is not supported")
    mapped = hf_state_to_vitdemo(state)
    deit, dinov2, registers = model_type == "deit", model_type.startswith("dinov2"), model_type.endswith("registers")
    dino = model_type == "vit" and bool(repo_id and DINO_REPO.match(repo_id))
    if deit and "head.weight" in mapped and "head_dist.weight" not in mapped:
        raise CheckpointError("DeiTForImageClassification (class head only) is not supported: use a "
                              "DeiTForImageClassificationWithTeacher checkpoint (distilled, two heads)")
    patch = _square(config.get("patch_size", 16), "patch_size")
    trained_size = _square(config.get("image_size", 224), "image_size")
    image_size = hf_input_size(preprocessor, trained_size)
    dim = config.get("hidden_size", 768)
    vit_config = ViTConfig(
        image_size=image_size,
        patch_size=patch,
        in_channels=config.get("num_channels", 3),
        dim=dim,
        depth=config.get("num_hidden_layers", 12),
        heads=config.get("num_attention_heads", 12),
        mlp_dim=int(dim * config.get("mlp_ratio", 4)) if dinov2 else config.get("intermediate_size", 3072),
        num_classes=int(mapped["head.weight"].shape[0]) if "head.weight" in mapped else 0,
        layer_norm_eps=config.get("layer_norm_eps", 1e-6 if dinov2 else 1e-12),
        qkv_bias=config.get("qkv_bias", True),
        distilled=deit,
        num_registers=config.get("num_register_tokens", 4) if registers else 0,
        layer_scale=dinov2,
        head_input="class+mean" if dinov2 else "class",
        pos_grid=trained_size // patch if trained_size // patch != image_size // patch else 0,
        pos_antialias=registers,
        pos_offset=ORIGINAL_OFFSET if dino or (dinov2 and not registers) else 0.0,
        name=(config.get("architectures") or [model_type])[0],
        preprocessing=hf_preprocessing(preprocessor, model_type, image_size),
    )
    return Converted(vit_config, hf_labels(config, vit_config.num_classes), check_against_model(vit_config, mapped))


def hf_labels(config: dict[str, Any], num_classes: int) -> list[str]:
    """`id2label` in class order; transformers' placeholder names ("LABEL_3") count as no names."""
    id2label = {int(k): v for k, v in (config.get("id2label") or {}).items()}
    names = [id2label.get(i) for i in range(num_classes)]
    if any(n is None for n in names) or all(n == f"LABEL_{i}" for i, n in enumerate(names)):
        return generic_labels(num_classes)
    return names


def hf_preprocessing(pre: dict[str, Any] | None, model_type: str, image_size: int) -> Preprocessing:
    """ViTImageProcessor / DeiTImageProcessor / BitImageProcessor (DINOv2) settings as vitdemo's Preprocessing.

    transformers resizes to `size` (a square `{"height", "width"}`, or a bare int in old feature extractors:
    `squash`; `{"shortest_edge"}`: keep the aspect ratio), then centre-crops to `crop_size` when
    `do_center_crop` (DeiT: 256 → 224, i.e. crop_pct 0.875). Without a preprocessor_config.json we use the
    defaults transformers' processors have for that model type, and DINOv2's own evaluation transform.
    """
    if pre is None:
        if model_type == "deit":
            return Preprocessing(IMAGENET_MEAN, IMAGENET_STD, 224 / 256, "bicubic", squash=True, crop_offset="floor")
        if model_type.startswith("dinov2"):  # dinov2/data/transforms.py: shorter side 256, crop 224, bicubic
            return Preprocessing(IMAGENET_MEAN, IMAGENET_STD, 224 / 256, "bicubic")
        return Preprocessing(HALF, HALF, crop_pct=1.0, interpolation="bilinear", squash=True, crop_offset="floor")
    default_mean, default_std = (HALF, HALF) if model_type == "vit" else (IMAGENET_MEAN, IMAGENET_STD)
    mean, std = tuple(pre.get("image_mean", default_mean)), tuple(pre.get("image_std", default_std))
    if not pre.get("do_normalize", True):
        mean, std = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0)
    resized, squash = _hf_size(pre.get("size"), image_size)
    if pre.get("do_center_crop", False):
        crop_pct = _hf_size(pre.get("crop_size"), image_size)[0] / resized
    else:
        crop_pct = 1.0 if squash else image_size / resized
    interpolation = PIL_RESAMPLE.get(pre.get("resample", 2), "bilinear")
    return Preprocessing(mean, std, crop_pct=min(crop_pct, 1.0), interpolation=interpolation, squash=squash,
                         crop_offset="floor")


def hf_input_size(pre: dict[str, Any] | None, default: int) -> int:
    """The side of the square the processor hands the model: its crop when it crops, else `default`."""
    if pre is None or not pre.get("do_center_crop", False):
        return default
    return _hf_size(pre.get("crop_size"), default)[0]


def _hf_size(size: Any, default: int) -> tuple[int, bool]:
    """(side, squash) from a transformers `size`: int or {"height", "width"} squash; {"shortest_edge"} not."""
    if size is None:
        return default, True
    if isinstance(size, (int, float)):
        return int(size), True
    if "shortest_edge" in size:
        return int(size["shortest_edge"]), False
    return int(size["height"]), True
