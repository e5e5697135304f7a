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
    num_classes: int = 1000
    layer_norm_eps: float = 1e-6
    qkv_bias: bool = True
    distilled: bool = False  # DeiT: a distillation token after the class token, and a second head
    pos_embed_prefix: bool = True  # False for FlexiViT (timm's no_embed_class): no class-token slot
    pos_interpolation: str = "bicubic"  # how position embeddings are resampled to a new grid
    native_patch_sizes: tuple[int, ...] = ()  # sizes the model was trained at (FlexiViT: 8..48)
    patch_sizes: tuple[int, ...] = ()  # sizes offered to users; the others go through PI-resize
    name: str = ""
    preprocessing: Preprocessing = field(default_factory=Preprocessing)

    def __post_init__(self) -> None:
        assert self.dim % self.heads == 0, f"dim {self.dim} is not divisible by heads {self.heads}"
        if isinstance(self.preprocessing, dict):
            self.preprocessing = Preprocessing(**_known(Preprocessing, self.preprocessing))
        for name in ("native_patch_sizes", "patch_sizes"):
            setattr(self, name, tuple(int(p) for p in getattr(self, name)))
        self.preprocessing.mean = tuple(self.preprocessing.mean)
        self.preprocessing.std = tuple(self.preprocessing.std)
        if not self.native_patch_sizes:
            self.native_patch_sizes = (self.patch_size,)

    @property
    def num_prefix_tokens(self) -> int:
        """Tokens before the patches: the class token, and DeiT's distillation token."""
        return 2 if self.distilled else 1

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
        """Build from a saved dict, ignoring keys this version does not know (forward compatibility)."""
        return cls(**_known(cls, data))


def _known(cls: type, data: dict[str, Any]) -> dict[str, Any]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in data.items() if k in names}
