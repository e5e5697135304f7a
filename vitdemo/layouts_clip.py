"""Image–text checkpoints → vitdemo: transformers' `clip`, `siglip` and `chinese_clip` layouts.

Like layouts.py, pure renaming of the image tower's tensors onto vitdemo's ViT (image_text.py), checked
against the shapes the derived config needs, leftovers an error. The text tower's tensors are left for
text_tower.py, which hands them to transformers' own text model.

Read from the checkpoint's config (through transformers' config classes, so that values a saved config
leaves at their defaults are the library's defaults) and its preprocessor_config.json (each family's own
image processor: CLIP and Chinese-CLIP resize the shorter side and centre-crop, SigLIP squashes to a square).
A folder that the project writes in the same layout (CLIPModel.save_pretrained) loads the same way.
"""

from __future__ import annotations

import re
from typing import Any, NamedTuple

import torch

from .config import ViTConfig
from .image_text import ImageTextViT
from .layouts import CheckpointError, State, _some, fuse_qkv, hf_input_size, hf_preprocessing, rename

MODEL_TYPES = ("clip", "siglip", "chinese_clip")
TEMPLATES = {"clip": "a photo of a {}.", "siglip": "a photo of a {}.", "chinese_clip": "一张{}的照片。"}
OPENAI_MEAN = (0.48145466, 0.4578275, 0.40821073)
OPENAI_STD = (0.26862954, 0.26130258, 0.27577711)
DEFAULT_PROCESSORS = {  # each family's *ImageProcessor defaults, for a folder saved without one
    "clip": {"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224}, "do_center_crop": True,
             "resample": 3, "image_mean": OPENAI_MEAN, "image_std": OPENAI_STD},
    "chinese_clip": {"size": {"shortest_edge": 224}, "crop_size": {"height": 224, "width": 224},
                     "do_center_crop": True, "resample": 3, "image_mean": OPENAI_MEAN, "image_std": OPENAI_STD},
    "siglip": {"size": {"height": 224, "width": 224}, "resample": 3, "image_mean": (0.5,) * 3,
               "image_std": (0.5,) * 3},
}
ACTIVATIONS = {"quick_gelu": "quick_gelu", "gelu_pytorch_tanh": "gelu_tanh", "gelu": "gelu"}
TEXT_PREFIXES = ("text_model.", "text_projection.")

VISION_TO_VITDEMO = [  # names after "vision_model." → vitdemo's
    (r"^embeddings\.class_embedding$", "cls_token"),
    (r"^embeddings\.patch_embedding\.", "patch_embed."),
    (r"^embeddings\.position_embedding\.weight$", "pos_embed"),
    (r"^pre_layrnorm\.", "norm_pre."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.([qkv])_proj\.", r"blocks.\1.attn.\2."),
    (r"^encoder\.layers\.(\d+)\.self_attn\.out_proj\.", r"blocks.\1.attn.proj."),
    (r"^encoder\.layers\.(\d+)\.layer_norm([12])\.", r"blocks.\1.norm\2."),
    (r"^encoder\.layers\.(\d+)\.mlp\.(fc[12])\.", r"blocks.\1.mlp.\2."),
    (r"^post_layernorm\.", "norm."),
    (r"^head\.probe$", "probe.probe"),
    (r"^head\.attention\.in_proj_(weight|bias)$", r"probe.in_proj.\1"),
    (r"^head\.attention\.out_proj\.", "probe.out_proj."),
    (r"^head\.layernorm\.", "probe.norm."),
    (r"^head\.mlp\.(fc[12])\.", r"probe.\1."),
]


class ConvertedImageText(NamedTuple):
    config: ViTConfig
    family: str
    state_dict: State  # vitdemo names, float32, shapes checked


def from_image_text(config: dict[str, Any], state: State, preprocessor: dict[str, Any] | None) -> ConvertedImageText:
    """The image tower of a CLIPModel, SiglipModel or ChineseCLIPModel checkpoint, with its logit scale (and
    bias) and projection."""
    import transformers  # noqa: PLC0415 — only for image–text checkpoints, which need its text tower anyway

    family = config["model_type"]
    full = transformers.AutoConfig.for_model(**config)
    vision = full.vision_config
    if vision.hidden_act not in ACTIVATIONS:
        raise CheckpointError(f"{family}: hidden_act {vision.hidden_act!r} is not one vitdemo's MLP has")
    pre = preprocessor if preprocessor is not None else DEFAULT_PROCESSORS[family]
    image_size = hf_input_size(pre, int(vision.image_size))
    mapped = vision_state(state)
    siglip = family == "siglip"
    vit_config = ViTConfig(
        image_size=image_size,
        patch_size=int(vision.patch_size),
        in_channels=int(getattr(vision, "num_channels", 3)),
        dim=int(vision.hidden_size),
        depth=int(vision.num_hidden_layers),
        heads=int(vision.num_attention_heads),
        mlp_dim=int(vision.intermediate_size),
        num_classes=0,
        layer_norm_eps=float(vision.layer_norm_eps),
        class_token=not siglip,
        pre_norm=not siglip,
        mlp_act=ACTIVATIONS[vision.hidden_act],
        pool="probe" if siglip else "token",
        embed_dim=0 if siglip else int(full.projection_dim),
        pos_grid=(int(vision.image_size) // int(vision.patch_size)
                  if vision.image_size != image_size else 0),
        name=(config.get("architectures") or [family])[0],
        preprocessing=hf_preprocessing(pre, family, image_size),
    )
    return ConvertedImageText(vit_config, family, check_image_text(vit_config, family, mapped))


def vision_state(state: State) -> State:
    """The image tower's tensors under vitdemo's names (q, k, v fused; CLIP's bias-free patch kernel gets a
    zero bias; the token and position tables reshaped to vitdemo's (1, T, D))."""
    vision = {k.removeprefix("vision_model."): v for k, v in state.items() if k.startswith("vision_model.")}
    leftover = [k for k in state if not k.startswith(("vision_model.", *TEXT_PREFIXES))
                and k not in ("visual_projection.weight", "logit_scale", "logit_bias")]
    if leftover:
        raise CheckpointError(f"tensors vitdemo's image–text model has no place for: {_some(leftover)}")
    mapped = fuse_qkv(rename(vision, VISION_TO_VITDEMO))
    if "cls_token" in mapped:
        mapped["cls_token"] = mapped["cls_token"].reshape(1, 1, -1)
    mapped["pos_embed"] = mapped["pos_embed"].unsqueeze(0)
    if "patch_embed.bias" not in mapped:
        mapped["patch_embed.bias"] = torch.zeros(mapped["patch_embed.weight"].shape[0])
    if "visual_projection.weight" in state:
        mapped["proj.weight"] = state["visual_projection.weight"]
    mapped["logit_scale"] = state["logit_scale"].reshape(())
    mapped["logit_bias"] = state.get("logit_bias", torch.zeros(())).reshape(())
    return mapped


def check_image_text(config: ViTConfig, family: str, state: State) -> State:
    """Every tensor an `ImageTextViT(config)` expects, of the right shape, and nothing else; as float32."""
    with torch.device("meta"):
        expected = {k: tuple(v.shape) for k, v in ImageTextViT(config, family).state_dict().items()}
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    if missing or extra:
        raise CheckpointError(f"image–text checkpoint does not match its config: missing {_some(missing)}; "
                              f"unexpected {_some(extra)}")
    wrong = [k for k, shape in expected.items() if tuple(state[k].shape) != shape]
    if wrong:
        raise CheckpointError(f"{wrong[0]}: shape {tuple(state[wrong[0]].shape)}, the config needs "
                              f"{expected[wrong[0]]}")
    return {k: v.float() for k, v in state.items()}


def is_image_text_config(config: dict[str, Any]) -> bool:
    return config.get("model_type") in MODEL_TYPES


def text_state(state: State) -> State:
    """The text tower's tensors and its projection, as saved (text_tower.py reads them)."""
    return {k: v for k, v in state.items() if re.match(r"^text_(model|projection)\.", k)}
