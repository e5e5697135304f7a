"""Training batches: images from the shapes generator or an image folder, as uint8 tensors ready to normalise.

Every sample is addressed by a *draw number* (epoch × samples-per-epoch + position), and everything random
about it (which shape is drawn, which folder image is picked, how it is augmented) is a function of that
number and the seed. So an epoch's batches are the same whether training runs straight through or resumes
from a checkpoint, even mid-epoch, and the workers need no shared random state.

Workers return uint8 pixels (a quarter of the bytes of float32); the main process normalises a whole batch
at once with the model's mean and std, which is faster than `preprocessing.preprocess` image by image and
gives the same numbers (see `normalize`).

Shapes come with their object masks, which power two optional training aids (see `train`): a silhouette
curriculum (early images blended with the object's white-on-black mask, because random colours are what makes
shapes slow for a ViT to learn, while silhouettes are learnt in a few hundred steps) and per-patch labels.
"""

from __future__ import annotations

import random
import signal
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from ..config import ViTConfig
from ..preprocessing import model_view

CROP_SCALE = (0.6, 1.0)  # folder augmentation: area fraction kept by the random crop
CROP_RATIO = (3 / 4, 4 / 3)


@dataclass
class TrainingSource:
    """Where images come from: `pairs[i]` → (PIL image, label[, bool mask]); `fresh`: every draw is new."""

    pairs: Sequence
    labels: list[str]
    fresh: bool  # the shapes generator: draw n is image n, no repeats, no augmentation needed
    augment: bool
    has_masks: bool = False


class ShapesPairs:
    """ShapesDataset as plain (image, label, mask) tuples, which pickle cheaply to the workers."""

    def __init__(self, length: int, image_size: int, seed: int, easy_ramp: int = 0):
        from ..data.shapes import ShapesDataset  # imported on use: the package stays importable without it

        self.dataset = ShapesDataset(length, image_size=image_size, seed=seed, easy_ramp=easy_ramp)

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, i: int) -> tuple[Image.Image, int, np.ndarray]:
        sample = self.dataset[i]
        return sample.image, int(sample.label), sample.mask


def shapes_source(total_draws: int, image_size: int, seed: int, easy_ramp: int = 0) -> TrainingSource:
    """The shapes generator; its first `easy_ramp` draws rise from the easiest scenes to the full distribution."""
    from ..data.shapes import SHAPE_LABELS

    return TrainingSource(ShapesPairs(total_draws, image_size, seed, easy_ramp), list(SHAPE_LABELS), fresh=True,
                          augment=False, has_masks=True)


def folder_source(root: str, augment: bool = True) -> TrainingSource:
    from ..data.folder import ImageFolder  # skips broken files with a warning that names them

    folder = ImageFolder(root)
    if len(folder) == 0:
        raise ValueError(f"no readable images found under {root}")
    return TrainingSource(folder, list(folder.labels), fresh=False, augment=augment)


def split_source(source: TrainingSource, fraction: float, seed: int) -> tuple[TrainingSource, TrainingSource | None]:
    """(train, validation) split of a folder by a seeded shuffle; validation is never augmented."""
    n = len(source.pairs)
    n_val = int(round(n * fraction))
    if source.fresh or n_val == 0 or n_val >= n:
        return source, None
    order = list(range(n))
    random.Random(seed).shuffle(order)
    val = [order[i] for i in sorted(order[:n_val])]
    train = sorted(order[n_val:])
    return (TrainingSource(_Subset(source.pairs, train), source.labels, False, source.augment),
            TrainingSource(_Subset(source.pairs, val), source.labels, False, False))


class _Subset:
    def __init__(self, pairs: Sequence, indices: list[int]):
        self.pairs, self.indices = pairs, indices

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, i: int):
        return self.pairs[self.indices[i]]


class DrawDataset(Dataset):
    """Draw number → (uint8 (3, S, S) pixels as the model sees them, label, mask), S = the config's image size.

    The mask is the object's bool (S, S) mask for shapes (empty for folders); draws before `silhouette_draws`
    are blended with it (see `silhouette_blend`).
    """

    def __init__(self, source: TrainingSource, config: ViTConfig, seed: int, silhouette_draws: int = 0):
        self.source, self.config, self.seed, self.silhouette_draws = source, config, seed, silhouette_draws

    def __len__(self) -> int:
        return len(self.source.pairs)

    def __getitem__(self, draw: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        image, label, *mask = self.source.pairs[draw if self.source.fresh else draw % len(self.source.pairs)]
        if self.source.augment:
            image = augmented(image, random.Random(self.seed * 1_000_003 + draw))
        view = np.asarray(model_view(image, self.config, self.config.patch_size), dtype=np.uint8)
        if not mask:
            return torch.from_numpy(view.copy()).permute(2, 0, 1), label, torch.zeros(0, dtype=torch.bool)
        assert mask[0].shape == view.shape[:2], "shapes are rendered at the model's input size"
        if draw < self.silhouette_draws:
            view = silhouette_blend(view, mask[0], draw / self.silhouette_draws)
        return torch.from_numpy(view.copy()).permute(2, 0, 1), label, torch.from_numpy(mask[0])


def silhouette_blend(pixels: np.ndarray, mask: np.ndarray, weight: float) -> np.ndarray:
    """`weight` × the image + (1 − weight) × the object drawn white on black: 0 is the bare silhouette."""
    silhouette = mask[..., None].astype(np.float32) * 255.0
    return (weight * pixels + (1.0 - weight) * silhouette + 0.5).astype(np.uint8)


def augmented(image: Image.Image, rng: random.Random) -> Image.Image:
    """A random crop of 60-100% of the area (aspect 3:4 to 4:3), mirrored half the time: cheap and label-safe."""
    w, h = image.size
    for _ in range(10):
        area = w * h * rng.uniform(*CROP_SCALE)
        ratio = np.exp(rng.uniform(np.log(CROP_RATIO[0]), np.log(CROP_RATIO[1])))
        cw, ch = round((area * ratio) ** 0.5), round((area / ratio) ** 0.5)
        if 0 < cw <= w and 0 < ch <= h:
            left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
            image = image.crop((left, top, left + cw, top + ch))
            break
    return image.transpose(Image.FLIP_LEFT_RIGHT) if rng.random() < 0.5 else image


def epoch_draws(source: TrainingSource, epoch: int, per_epoch: int, seed: int, start: int = 0) -> list[int]:
    """The draw numbers of one epoch in order, skipping the first `start` (already trained before a resume)."""
    base = epoch * per_epoch
    if source.fresh:
        draws = list(range(base, base + per_epoch))
    else:
        order = list(range(per_epoch))
        random.Random(seed * 7919 + epoch).shuffle(order)
        draws = [base + i for i in order]
    return draws[start:]


def batches(source: TrainingSource, config: ViTConfig, draws: list[int], batch_size: int, workers: int,
            seed: int, drop_last: bool = True, silhouette_draws: int = 0) -> DataLoader:
    """A DataLoader over the given draws; `drop_last` keeps every optimizer step the same size."""
    dataset = DrawDataset(source, config, seed, silhouette_draws)
    return DataLoader(dataset, batch_size=batch_size, sampler=draws, drop_last=drop_last, num_workers=workers,
                      persistent_workers=False, prefetch_factor=4 if workers else None,
                      worker_init_fn=_ignore_interrupts if workers else None)


def _ignore_interrupts(worker_id: int) -> None:
    """Workers leave Ctrl-C to the training process, which stops them. torchrun sends its SIGINT to each rank's
    whole process group, workers included: a worker that quit on it would break the rank's next batch
    before the rank could stop cleanly (see `distributed.interrupts_noted`)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def normalize(pixels: torch.Tensor, config: ViTConfig, size: int | None = None) -> torch.Tensor:
    """uint8 (B, 3, H, W) → float input normalised like `preprocess.to_tensor`, resized to `size` if given.

    Resizing a batch on the fly lets one loader feed every patch size even when a size needs a slightly
    different input side (`preprocess.input_size`), e.g. 224 px at patch 48 → 240 px.
    """
    x = pixels.float().div_(255.0)
    if size is not None and size != x.shape[-1]:
        x = F.interpolate(x, size=(size, size), mode="bicubic", align_corners=False, antialias=True).clamp_(0, 1)
    mean = torch.tensor(config.preprocessing.mean).view(1, 3, 1, 1)
    std = torch.tensor(config.preprocessing.std).view(1, 3, 1, 1)
    return (x - mean) / std
