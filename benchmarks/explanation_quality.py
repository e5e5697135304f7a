"""Do the maps point at the object? Scored on held-out synthetic shapes whose object masks are known.

    python -m benchmarks.explanation_quality [--model bundled] [--count 300] [--seed 12345] [--patch-sizes 8 16]

For last-layer class-token attention (heads averaged), attention rollout and relevance (for the top-1
class), at two patch sizes, on `count` freshly generated `shapes` images (a seed the training never saw):

* **mass in mask**: the share of the map's mass on object pixels — each patch's mass counts in
  proportion to the fraction of its pixels inside the mask (mass spread evenly within a patch);
* **pointing game**: how often the map's top patch touches the object (at least one mask pixel).

The "chance" row is what a uniform map scores: mass = the mean object fraction of the image; pointing =
the mean fraction of patches that touch the object (a random patch). The "reference" row is a map spread
evenly over every patch that touches the object: the object region at patch resolution, outline patches
included, which shows how much mass a map can put "in the mask" without favouring the object's interior.
Prints a markdown table.
`--model random` runs an untrained model, to develop the script without the bundled one.
"""

from __future__ import annotations

import argparse
import time
from dataclasses import dataclass, field

import numpy as np
import torch
from PIL import Image

from vitdemo.config import ViTConfig
from vitdemo.data.masks import patch_cover
from vitdemo.data.shapes import SHAPE_LABELS, ShapesDataset
from vitdemo.explain import analyze
from vitdemo.model import ViT
from vitdemo.preprocessing import model_view

METHODS = {"last-layer attention": dict(method="attention"), "rollout": dict(method="rollout"),
           "relevance": dict(method="relevance")}


@dataclass
class Scores:
    """Running per-method sums over the images of one patch size."""

    mass: dict[str, list[float]] = field(default_factory=dict)
    hits: dict[str, list[float]] = field(default_factory=dict)  # 1.0 / 0.0 per image, or a hit rate
    correct: list[bool] = field(default_factory=list)
    grid: tuple[int, int] = (0, 0)

    def add(self, name: str, mass: float, hit: float) -> None:
        self.mass.setdefault(name, []).append(mass)
        self.hits.setdefault(name, []).append(float(hit))


def mask_in_view(mask: np.ndarray, config: ViTConfig, patch_size: int) -> np.ndarray:
    """The object mask resized and cropped exactly as the image is for the model (bool, view-sized)."""
    picture = Image.fromarray(mask.astype(np.uint8) * 255).convert("RGB")
    return np.asarray(model_view(picture, config, patch_size))[..., 0] >= 128


def map_scores(attention_map: np.ndarray, coverage: np.ndarray) -> tuple[float, bool]:
    """(share of mass on object pixels, whether the top patch touches the object)."""
    top = np.unravel_index(np.argmax(attention_map), attention_map.shape)
    return float((attention_map * coverage).sum()), bool(coverage[top] > 0)


def evaluate(model: ViT, samples: ShapesDataset, patch_size: int) -> Scores:
    scores = Scores()
    for sample in samples:
        a = analyze(model, sample.image, patch_size)
        scores.grid = a.grid
        scores.correct.append(a.labels[int(a.probabilities.argmax())] == SHAPE_LABELS[sample.label])
        coverage = patch_cover(mask_in_view(sample.mask, model.config, patch_size), a.grid)[0, :, 0]
        coverage = coverage.reshape(a.grid).numpy()
        scores.add("chance (uniform map)", float(coverage.mean()), float((coverage > 0).mean()))
        touching = (coverage > 0) / (coverage > 0).sum()
        scores.add("reference: even on every patch touching the object", *map_scores(touching, coverage))
        for name, arguments in METHODS.items():
            scores.add(name, *map_scores(a.attention_map(**arguments), coverage))
    return scores


def random_model() -> ViT:
    """An untrained model shaped like the bundled one, for developing this script."""
    torch.manual_seed(0)
    config = ViTConfig(image_size=96, patch_size=8, dim=96, depth=4, heads=4, mlp_dim=192,
                       num_classes=len(SHAPE_LABELS), native_patch_sizes=(8, 12, 16, 24), name="random")
    return ViT(config, labels=SHAPE_LABELS).eval()


def default_patch_sizes(model: ViT) -> list[int]:
    """The native patch size and the finest other one offered (the finer grid is where maps can be precise)."""
    native = model.config.patch_size
    others = [p for p in model.config.offered_patch_sizes() if p != native]
    return [native] + ([min(others)] if others else [])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help='"bundled", a folder or hub id, or "random"')
    parser.add_argument("--count", type=int, default=300, help="held-out images per patch size")
    parser.add_argument("--seed", type=int, default=12345, help="dataset seed (not the training seed)")
    parser.add_argument("--image-size", type=int, default=96)
    parser.add_argument("--patch-sizes", type=int, nargs="*", help="default: native and the finest offered")
    args = parser.parse_args()
    if args.model == "random":
        model = random_model()
    else:
        from vitdemo.loading import load

        model = load(args.model, precision="fp32")
    samples = ShapesDataset(args.count, image_size=args.image_size, seed=args.seed)
    print(f"model: {model.config.name or args.model}; {args.count} held-out shapes "
          f"({args.image_size} px, seed {args.seed})\n")
    print("| patch size | grid | top-1 | map | mass in mask | pointing game |\n|---:|---|---:|---|---:|---:|")
    for p in args.patch_sizes or default_patch_sizes(model):
        start = time.perf_counter()
        scores = evaluate(model, samples, p)
        accuracy = f"{np.mean(scores.correct):.1%}"
        for name in scores.mass:
            print(f"| {p} | {scores.grid[0]}×{scores.grid[1]} | {accuracy} | {name} | "
                  f"{np.mean(scores.mass[name]):.1%} | {np.mean(scores.hits[name]):.1%} |")
        print(f"<!-- patch {p}: {time.perf_counter() - start:.0f} s -->")


if __name__ == "__main__":
    main()
