"""Deletion and insertion: does a map rank the patches the way the model uses them? (Petsiuk et al. 2018)

Every method here agrees with its reference implementation; whether its map shows what the model used is
another question, and this is the standard cheap answer (RISE's deletion and insertion games; the
perturbation tests of Chefer et al. 2021). For one image, one class c (the analysed one) and a map:

* Rank the patches by the map, highest first; ties go to the lower row-major index (a stable sort).
* **Deletion**: remove the top n_k patches, n_k = round(k·N / steps) (halves up) for k = 0 … steps, and
  read P(c) each time. A map that finds what the model uses makes P(c) fall fast: a *low* area.
* **Insertion**: start from no patches and add the top n_k: a good map makes P(c) rise fast: a *high* area.
* **Area under the curve**: trapezoids over the fractions n_k / N actually removed or present (not k/steps,
  which differs by rounding on small grids), over [0, 1]; probabilities lie in [0, 1], so the areas do too.

Removing a patch, two ways (`mode`):

* **"tokens"** (default): the patch's token is not given to the model (`ViT.forward(keep=…)`). A ViT reads
  any subset of its patch tokens, each with its own position embedding, so no grey or blurred square is
  invented for the model to react to. Prefix tokens (class, distillation, registers) always stay, so
  insertion starts from the class token alone, where deletion ends: one forward shared by every map.
  The caveat: a model trained on full grids reads a shorter sequence it never saw, which can change its
  calibration at large removals (the curves' ends) for reasons no map is responsible for.
* **"blur"** (RISE style): a removed patch's pixels are replaced by a blurred copy's (Gaussian on the
  normalised input, replicate padding, 3σ kernel radius), and the model reads every token; insertion starts
  from the blurred image. σ defaults to one patch: RISE's σ = 5 px at 224 px is a third of a ViT-B/16 patch
  and leaves most of a patch's content in place, while the maps rank patches, so a removed patch should
  keep only what is coarser than a patch (its colours).

Both modes can be compared on the same maps: where they disagree, the removal itself (a missing token or
a blurred square) is moving the probability.

Cost: each distinct set of kept patches is read once, for every map and both curves (the whole image's
probability can be passed in: an analysis has it). Tokens: forwards grouped by how many tokens they keep,
so the 2·(steps − 1) inner sets of each map fall into about `steps` groups (deletion at k and insertion at
steps − k keep as many), and 5 maps × 10 steps take ~10 batched forwards. The work is fixed by the protocol:
each map's curves read (steps − 1)·N patch tokens, about steps − 1 whole-image forwards (ViT-B/16: ~45 for
5 maps, BENCHMARKS.md §9). Blur: 2·(steps − 1) whole images per map, `batch_size` per forward. No attention
weights are asked for (the fused kernel runs).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from ..model import ViT

MODES = ("tokens", "blur")
KeptSet = tuple[int, ...]  # row-major indices of the patches the model reads, sorted


@dataclass(frozen=True, eq=False)  # arrays inside: compare fields, not objects
class Faithfulness:
    """One map's deletion and insertion curves for one image and class (see the module docstring)."""

    name: str
    mode: str
    target: int
    fractions: np.ndarray  # (steps + 1,) share of patches removed (deletion) or present (insertion), 0 → 1
    deletion: np.ndarray  # (steps + 1,) P(target) with the top fractions[k] of patches removed
    insertion: np.ndarray  # (steps + 1,) P(target) with only the top fractions[k] of patches present

    @property
    def deletion_auc(self) -> float:
        """Area under the deletion curve in [0, 1]: lower means the map found what the model needs."""
        return area(self.fractions, self.deletion)

    @property
    def insertion_auc(self) -> float:
        """Area under the insertion curve in [0, 1]: higher means the map's top patches suffice."""
        return area(self.fractions, self.insertion)

    def as_dict(self) -> dict[str, Any]:
        """Plain floats and lists, for JSON (the API) and tables."""
        return {"name": self.name, "mode": self.mode, "target": self.target,
                "fractions": self.fractions.tolist(), "deletion": self.deletion.tolist(),
                "insertion": self.insertion.tolist(), "deletion_auc": self.deletion_auc,
                "insertion_auc": self.insertion_auc}


def step_counts(patches: int, steps: int) -> np.ndarray:
    """(steps + 1,) patches removed (or added) at each step: round(k·N / steps), halves rounded up."""
    if not isinstance(steps, (int, np.integer)) or isinstance(steps, bool) or steps < 1:
        raise ValueError(f"steps must be a positive integer, not {steps!r}")
    k = np.arange(steps + 1)
    return (2 * k * patches + steps) // (2 * steps)


def ranking(values: np.ndarray) -> np.ndarray:
    """Row-major patch indices, highest map value first; ties keep the lower index first."""
    return np.argsort(-np.asarray(values, dtype=np.float64).ravel(), kind="stable")


def area(fractions: Sequence[float], values: Sequence[float]) -> float:
    """Trapezoidal area under values(fractions)."""
    x, y = np.asarray(fractions, dtype=np.float64), np.asarray(values, dtype=np.float64)
    return float(np.sum(np.diff(x) * (y[1:] + y[:-1]) / 2))


def random_map(grid: tuple[int, int], seed: int = 0) -> np.ndarray:
    """A (rows, cols) map of uniform random values: the baseline every method should beat."""
    out = np.random.default_rng(seed).random(grid).astype(np.float32)
    out.setflags(write=False)
    return out


def kept_sets(order: np.ndarray, counts: np.ndarray) -> tuple[list[KeptSet], list[KeptSet]]:
    """(deletion, insertion): at step k, the patches still read once the top counts[k] are removed, and the
    top counts[k] alone. Sorted, since token order is irrelevant (each token carries its position)."""
    order = np.asarray(order)
    deletion = [tuple(sorted(order[c:].tolist())) for c in counts]
    insertion = [tuple(sorted(order[:c].tolist())) for c in counts]
    return deletion, insertion


def gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of (B, C, H, W), radius round(3σ), replicate padding (scipy's 'nearest')."""
    if not sigma > 0:
        raise ValueError(f"blur_sigma must be positive, not {sigma}")
    radius = int(3 * sigma + 0.5)
    x = torch.arange(-radius, radius + 1, dtype=torch.float32, device=images.device)
    kernel = torch.exp(-(x * x) / (2 * sigma * sigma))
    kernel = kernel / kernel.sum()
    c = images.shape[1]
    out = F.conv2d(F.pad(images.float(), (radius, radius, 0, 0), mode="replicate"),
                   kernel.view(1, 1, 1, -1).expand(c, 1, 1, -1), groups=c)
    return F.conv2d(F.pad(out, (0, 0, radius, radius), mode="replicate"),
                    kernel.view(1, 1, -1, 1).expand(c, 1, -1, 1), groups=c)


def perturbation_curves(model: ViT, inputs: torch.Tensor, patch_size: int, maps: Mapping[str, np.ndarray],
                        target: int, *, steps: int = 10, mode: str = "tokens", blur_sigma: float | None = None,
                        whole: float | None = None, batch_size: int = 64) -> dict[str, Faithfulness]:
    """{name: Faithfulness} of each (rows, cols) map for one image `inputs` (1, C, H, W), in shared forwards.

    `whole` is P(target) on the whole image if already known (it saves one forward); `blur_sigma` is in
    pixels of `inputs` (default: `patch_size`).
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if inputs.shape[0] != 1:
        raise ValueError(f"one image at a time, not a batch of {inputs.shape[0]}")
    grid = (inputs.shape[-2] // patch_size, inputs.shape[-1] // patch_size)
    n = grid[0] * grid[1]
    for name, values in maps.items():
        if np.shape(values) != grid or not np.isfinite(values).all():
            raise ValueError(f"map {name!r} must be a finite {grid[0]}×{grid[1]} array, not {np.shape(values)}")
    counts = step_counts(n, steps)
    curves = {name: kept_sets(ranking(values), counts) for name, values in maps.items()}
    known: dict[KeptSet, float] = {} if whole is None else {tuple(range(n)): float(whole)}
    wanted = [s for deletion, insertion in curves.values() for s in (*deletion, *insertion)]
    todo = list(dict.fromkeys(s for s in wanted if s not in known))
    if mode == "tokens":
        known.update(zip(todo, _token_probabilities(model, inputs, patch_size, todo, target, batch_size)))
    else:
        sigma = float(patch_size if blur_sigma is None else blur_sigma)
        known.update(zip(todo, _blur_probabilities(model, inputs, patch_size, todo, target, batch_size, sigma)))
    fractions = _frozen(counts / n)
    return {name: Faithfulness(name, mode, int(target), fractions, _frozen([known[s] for s in deletion]),
                               _frozen([known[s] for s in insertion]))
            for name, (deletion, insertion) in curves.items()}


def probabilities_without(model: ViT, inputs: torch.Tensor, patch_size: int, hidden: Sequence[int],
                          mode: str = "tokens", blur_sigma: float | None = None) -> np.ndarray:
    """(classes,) probabilities with the `hidden` patches (row-major indices) removed: click-to-hide.

    One forward on the other patch tokens ("tokens"), or on the image with those patches blurred ("blur").
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    rows, cols = inputs.shape[-2] // patch_size, inputs.shape[-1] // patch_size
    gone = {int(j) for j in hidden}
    if any(not 0 <= j < rows * cols for j in gone):
        raise ValueError(f"hidden patches must be indices in [0, {rows * cols})")
    present = tuple(j for j in range(rows * cols) if j not in gone)
    with torch.inference_mode():
        if mode == "tokens":
            keep = torch.tensor(present, dtype=torch.long, device=inputs.device)
            logits = model(inputs, patch_size, output_attentions=False, keep=keep).logits
        else:
            original = inputs.float()
            blurred = gaussian_blur(original, float(patch_size if blur_sigma is None else blur_sigma))
            logits = model(_composite(original, blurred, [present], patch_size), patch_size,
                           output_attentions=False).logits
    return model.probabilities(logits)[0].cpu().numpy()


def _token_probabilities(model: ViT, inputs: torch.Tensor, patch_size: int, sets: list[KeptSet], target: int,
                         batch_size: int) -> list[float]:
    """P(target) reading each set's patch tokens only; one forward per kept-token count (and batch)."""
    by_size: dict[int, list[int]] = {}
    for i, s in enumerate(sets):
        by_size.setdefault(len(s), []).append(i)
    out = [0.0] * len(sets)
    with torch.inference_mode():
        for size, indices in by_size.items():
            for chunk in _batches(indices, batch_size):
                keep = torch.tensor([sets[i] for i in chunk], dtype=torch.long).reshape(len(chunk), size)
                logits = model(inputs, patch_size, output_attentions=False, keep=keep.to(inputs.device)).logits
                for i, p in zip(chunk, model.probabilities(logits)[:, target].tolist(), strict=True):
                    out[i] = p
    return out


def _blur_probabilities(model: ViT, inputs: torch.Tensor, patch_size: int, sets: list[KeptSet], target: int,
                        batch_size: int, sigma: float) -> list[float]:
    """P(target) with every patch outside each set replaced by the blurred image's pixels."""
    out: list[float] = []
    with torch.inference_mode():
        original = inputs.float()
        blurred = gaussian_blur(original, sigma)
        for chunk in _batches(sets, batch_size):
            logits = model(_composite(original, blurred, chunk, patch_size), patch_size,
                           output_attentions=False).logits
            out.extend(model.probabilities(logits)[:, target].tolist())
    return out


def _composite(original: torch.Tensor, blurred: torch.Tensor, sets: list[KeptSet], patch_size: int) -> torch.Tensor:
    """(len(sets), C, H, W): the original pixels on each set's patches, the blurred ones elsewhere (pixels
    past the last full patch, which the model never reads, stay original)."""
    height, width = original.shape[-2:]
    rows, cols = height // patch_size, width // patch_size
    present = torch.zeros(len(sets), rows * cols, device=original.device)
    for i, s in enumerate(sets):
        present[i, list(s)] = 1.0
    mask = present.reshape(-1, 1, rows, cols).repeat_interleave(patch_size, 2).repeat_interleave(patch_size, 3)
    mask = F.pad(mask, (0, width - cols * patch_size, 0, height - rows * patch_size), value=1.0)
    return blurred + mask * (original - blurred)


def _batches(items: list, size: int) -> Iterator[list]:
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _frozen(values: Any) -> np.ndarray:
    out = np.asarray(values, dtype=np.float64)
    out.setflags(write=False)
    return out
