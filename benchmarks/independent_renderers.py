"""Does the model know shapes, or only its generator? Accuracy and where the maps land, per renderer and patch size.

    python -m benchmarks.independent_renderers [--model bundled] [--count 220] [--patch-sizes 8 12 16 24 32]
                                               [--renderers plain mouse shapes] [--no-maps]

Renderers (`--count` images each, the eleven classes in turn, seeds from 70 000 on, which no test uses):
* `plain`: tests/renderers/plain.py, filled PIL shapes on flat / gradient / noise backgrounds, 3-25% of
  the image; shares no code with `vitdemo.data`;
* `mouse`: tests/renderers/mouse.py, dark wobbly mouse-like outlines on light paper (no shared code either);
* `shapes`: the project's own generator (`vitdemo.data.shapes`, held-out seed 12345), for comparison.

For every image: top-1 (an outlined circle counts only as "circle", never as "ring"; how often a circle was
called a ring is counted apart), and, for rollout and relevance (top-1 class), through the app's own
`analyze`:
* **mass on the object**: the share of the map on patches at least half inside the object
  (`vitdemo.data.masks.patch_cover` ≥ 0.5; the renderers' object is the silhouette: for an outline, the ink
  and the region it bounds). Averaged over the images that have such a patch (the count is printed: at
  patch 32 a small object covers no patch half-way);
* **pointing game**: the map's top patch touches the object (`explanation_quality.map_scores`).
"chance" is a uniform map: the share of patches at least half inside. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from benchmarks.explanation_quality import map_scores, mask_in_view
from vitdemo.data.masks import patch_cover
from vitdemo.data.shapes import SHAPE_LABELS, render_sample
from vitdemo.explain import analyze
from vitdemo.model import ViT

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from renderers import CLASSES  # noqa: E402  (tests/ is not a package)
from renderers.mouse import render_mouse  # noqa: E402
from renderers.plain import render_plain  # noqa: E402

FIRST_SEED = 70_000
HELD_OUT_SEED = 12345
MAPS = ("rollout", "relevance")
INSIDE = 0.5  # a patch is "on the object" when at least half of its pixels are


def drawings(renderer: str, count: int, image_size: int) -> Iterator[tuple[str, Image.Image, np.ndarray]]:
    """(true label, image, object mask) for `count` images of one renderer."""
    for i in range(count):
        if renderer == "shapes":
            sample = render_sample(HELD_OUT_SEED, i, image_size)
            yield sample.name, sample.image, sample.mask
            continue
        name = CLASSES[i % len(CLASSES)]
        drawing = (render_plain if renderer == "plain" else render_mouse)(name, FIRST_SEED + i, image_size)
        yield drawing.label, drawing.image, drawing.mask


@dataclass
class Tally:
    """One (renderer, patch size) cell: hits, and per map its mass on the object and pointing hits."""

    correct: list[bool] = field(default_factory=list)
    circle_as_ring: int = 0
    mass: dict[str, list[float]] = field(default_factory=dict)
    pointing: dict[str, list[bool]] = field(default_factory=dict)
    chance: list[float] = field(default_factory=list)

    def add_map(self, name: str, mass: float | None, hit: bool) -> None:
        if mass is not None:
            self.mass.setdefault(name, []).append(mass)
        self.pointing.setdefault(name, []).append(hit)


def mass_on_object(attention_map: np.ndarray, cover: np.ndarray) -> float | None:
    """The share of the map on patches at least half inside the object; None when there are none."""
    inside = cover >= INSIDE
    if not inside.any():
        return None
    return float(attention_map[inside].sum() / attention_map.sum())


def score(model: ViT, renderer: str, count: int, patch_size: int, maps: bool) -> Tally:
    tally = Tally()
    for label, image, mask in drawings(renderer, count, model.config.image_size):
        a = analyze(model, image, patch_size)
        top = a.labels[int(a.probabilities.argmax())]
        tally.correct.append(top == label)
        tally.circle_as_ring += int(label == "circle" and top == "ring")
        if not maps:
            continue
        cover = patch_cover(mask_in_view(mask, model.config, patch_size), a.grid)[0, :, 0].reshape(a.grid).numpy()
        if (cover >= INSIDE).any():
            tally.chance.append(float((cover >= INSIDE).mean()))
        for name in MAPS:
            m = a.attention_map(method=name)
            tally.add_map(name, mass_on_object(m, cover), map_scores(m, cover)[1])
    return tally


def pct(values: list) -> str:
    return f"{100 * np.mean(values):.1f}%" if len(values) else "–"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help="what vitdemo.load reads (default: bundled)")
    parser.add_argument("--count", type=int, default=220, help="images per renderer (default: 220, 20 per class)")
    parser.add_argument("--patch-sizes", type=int, nargs="*", help="default: every size the model offers")
    parser.add_argument("--renderers", nargs="*", default=["plain", "mouse", "shapes"])
    parser.add_argument("--no-maps", action="store_true", help="accuracy only (no relevance backward: faster)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from vitdemo.loading import load

    model = load(args.model, device="cpu", precision="fp32")
    assert set(CLASSES) <= set(model.labels) and set(SHAPE_LABELS) <= set(model.labels), "a shapes model"
    sizes = args.patch_sizes or list(model.config.offered_patch_sizes())
    t0 = time.time()
    cells = {(r, p): score(model, r, args.count, p, not args.no_maps) for r in args.renderers for p in sizes}
    print(f"model: {model.config.name or args.model}; {args.count} images per renderer; fp32; "
          f"{time.time() - t0:.0f} s\n")
    print("| renderer | " + " | ".join(f"p{p}" for p in sizes) + " |")
    print("|---|" + "---:|" * len(sizes))
    for r in args.renderers:
        ring = sum(cells[r, p].circle_as_ring for p in sizes)
        note = f" (circle→ring {ring} of {len(sizes) * args.count // len(CLASSES)})" if r != "shapes" else ""
        print(f"| {r}{note} | " + " | ".join(pct(cells[r, p].correct) for p in sizes) + " |")
    if args.no_maps:
        return
    print("\n| renderer | patch | images with a patch ≥ half inside | map | mass on object (chance) | pointing |")
    print("|---|---:|---:|---|---:|---:|")
    for r in args.renderers:
        for p in sizes:
            cell = cells[r, p]
            for name in MAPS:
                print(f"| {r} | {p} | {len(cell.chance)} | {name} | {pct(cell.mass.get(name, []))} "
                      f"({pct(cell.chance)}) | {pct(cell.pointing[name])} |")


if __name__ == "__main__":
    main()
