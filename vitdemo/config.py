"""The two small dataclasses every other module shares: what a ViT looks like and how it wants its pixels.

They live apart from `model.py` so that loading, preprocessing and the app can read a checkpoint's shape
without importing the network, and so that vitdemo's own `config.json` is just `asdict` of these.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
HALF = (0.5, 0.5, 0.5)
HEAD_INPUTS = ("class", "class+mean")
POOLS = ("token", "probe")
POSITION_RESAMPLINGS = ("library", "original")


@dataclass
class Preprocessing:
    """How the source library turned a photo into the model's input, so our accuracy matches theirs.

    The image is resized so that its shorter side is `image_size / crop_pct` (with `interpolation`), then
    centre-cropped to `image_size` (timm's recipe; `crop_pct=1.0` with `squash=True` is transformers' plain
    resize to a square), then normalised with `mean` and `std`.
    """

    mean: tuple[float, float, float] = HALF
    std: tuple[float, float, float] = HALF
    crop_pct: float = 1.0
    interpolation: str = "bicubic"  # "bilinear" | "bicubic" | "nearest"
    squash: bool = False  # resize straight to a square, ignoring the aspect ratio (transformers' ViT)
    crop_offset: str = "round"  # an odd crop margin: "round" (torchvision, timm) | "floor" (transformers)


@dataclass
class ViTConfig:
    """The shape of one Vision Transformer. Field names follow the paper, not any one library."""

    image_size: int = 224
    patch_size: int = 16
    in_channels: int = 3
    dim: int = 768
    depth: int = 12
    heads: int = 12
    mlp_dim: int = 3072
    num_classes: int = 1000  # 0: no classifier (DINO, DINOv2 backbones): logits are (B, 0)
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    distilled: bool = False  # DeiT: a distillation token after the class token, and a second head
    num_registers: int = 0  # DINOv2 with registers: learned tokens after the class token, no position
    layer_scale: bool = False  # DINOv2: a learned per-channel scale on each residual branch (LayerScale)
    head_input: str = "class"  # "class", or "class+mean" (DINOv2's heads: [class token; mean of patches])
    pos_embed_prefix: bool = True  # False for FlexiViT (timm's no_embed_class): no class-token slot
    pos_grid: int = 0  # side of the learned position grid, when not image_size // patch_size (DINOv2: 37)
    pos_interpolation: str = "bicubic"  # how position embeddings are resampled: "bicubic" | "bilinear"
    pos_antialias: bool = False  # antialiased bicubic (DINOv2 with registers); bilinear always antialiases
    pos_offset: float = 0.0  # the family's original code adds this to the new grid side (DINO, DINOv2: 0.1)
    position_resampling: str = "library"  # "library": as the layout's library does; "original": with pos_offset
    class_token: bool = True  # False for SigLIP's image tower: patches only, pooled by an attention probe
    pre_norm: bool = False  # CLIP: a LayerNorm on the embedded tokens before the first block ("pre_layrnorm")
    mlp_act: str = "gelu"  # "gelu" | "quick_gelu" (CLIP) | "gelu_tanh" (SigLIP): see activations.py
    pool: str = "token"  # what an image-text tower embeds: "token" (the class token) | "probe" (SigLIP's MAP)
    embed_dim: int = 0  # an image-text tower's projection to the shared space (CLIP); 0: none
    native_patch_sizes: tuple[int, ...] = ()  # sizes the model was trained at (FlexiViT: 8..48)
    patch_sizes: tuple[int, ...] = ()  # sizes offered to users; the others go through PI-resize
    name: str = ""
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    def __post_init__(self) -> None:
        assert self.dim % self.heads == 0, f"dim {self.dim} is not divisible by heads {self.heads}"
        assert self.head_input in HEAD_INPUTS, f"head_input must be one of {HEAD_INPUTS}, not {self.head_input!r}"
        assert self.pool in POOLS, f"pool must be one of {POOLS}, not {self.pool!r}"
        assert self.class_token or self.pool == "probe", "a ViT without a class token needs the probe pooling"
        assert self.position_resampling in POSITION_RESAMPLINGS, \
            f"position_resampling must be one of {POSITION_RESAMPLINGS}, not {self.position_resampling!r}"
        if isinstance(self.preprocessing, dict):
            self.preprocessing = Preprocessing(**_known(Preprocessing, self.preprocessing))
        for name in ("native_patch_sizes", "patch_sizes"):
            setattr(self, name, tuple(int(p) for p in getattr(self, name)))
        self.preprocessing.mean = tuple(self.preprocessing.mean)
        self.preprocessing.std = tuple(self.preprocessing.std)
        if not self.native_patch_sizes:
            self.native_patch_sizes = (self.patch_size,)

    @property
    def token_types(self) -> list[str]:
        """The kind of each token before the patches, in order: what the explanations must leave out.

        ["class"] for ViT, ["class", "distillation"] for DeiT, ["class", "register", ...] for DINOv2 with
        registers: transformers' order, [CLS, registers..., patches].
        """
        return ["class"] * self.class_token + ["distillation"] * self.distilled + ["register"] * self.num_registers

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the patches: the class token, DeiT's distillation token, and any registers."""
        return len(self.token_types)

    @property
    def num_positioned_prefix_tokens(self) -> int:
        """Prefix tokens with a slot in `pos_embed`: class (and distillation) unless FlexiViT; registers never."""
        return (int(self.class_token) + int(self.distilled)) if self.pos_embed_prefix else 0

    @property
    def resampling_offset(self) -> float:
        """What position resampling adds to the new grid side: `pos_offset` with the original code's
        resampling, else 0.

        A checkpoint reproduces the library its layout comes from: transformers 5 and timm resample to the
        grid's size, while DINO's and DINOv2's own code ask for a scale factor (side + 0.1) / old side, "a
        historical kludge" that samples the same grid very slightly differently. `position_resampling =
        "original"` gives the authors' numbers (what their published results were computed with).
        """
        return self.pos_offset if self.position_resampling == "original" else 0.0

    @property
    def has_classifier(self) -> bool:
        return self.num_classes > 0

    def offered_patch_sizes(self) -> tuple[int, ...]:
        """Patch sizes worth offering: the configured list, else the natives plus a few PI-resized ones."""
        if self.patch_sizes:
            return self.patch_sizes
        candidates = {self.patch_size, *self.native_patch_sizes}
        candidates |= {p for p in (8, 12, 14, 16, 20, 24, 28, 32, 40, 48) if self.image_size // p >= 4}
        return tuple(sorted(candidates))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ViTConfig:
        """Build from a saved dict, ignoring keys this version does not know (forward compatibility).

        A dict saved before `position_resampling` existed always applied its `pos_offset`: it keeps doing so.
        """
        known = _known(cls, data)
        if known.get("pos_offset") and "position_resampling" not in known:
            known["position_resampling"] = "original"
        return cls(**known)


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
