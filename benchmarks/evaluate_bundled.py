"""The bundled model's numbers for its model card and BENCHMARKS.md, on data it never saw.

    python -m benchmarks.evaluate_bundled [--model bundled] [--n 1100] [--seed 12345] [--simple 25]

For every offered patch size: top-1 on `n` freshly generated `shapes` images (seed ≠ the training seed),
the share of the class-token attention rollout that falls inside the object mask (and, for scale, the
share a uniform map would get: the mean mask area), and top-1 on the second, independent renderer's
circle/square/triangle/star images (`tests/simple_renderer.py`, `--simple` seeds per shape).
Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from vitdemo.checkpoint import read_meta
from vitdemo.loading import load, resolve
from vitdemo.model import ViT
from vitdemo.preprocessing import input_size
from vitdemo.train.evaluate import evaluate, evaluate_shapes

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from simple_renderer import SIMPLE_SHAPES, render_simple  # noqa: E402  (the second renderer lives with the tests)

SIMPLE_SEED_OFFSET = 1000  # seeds the test suite does not use (it uses 0..)


def simple_images(model: ViT, per_shape: int, image_size: int) -> tuple[list, list[int]]:
    images, labels = [], []
    for name in SIMPLE_SHAPES:
        for seed in range(SIMPLE_SEED_OFFSET, SIMPLE_SEED_OFFSET + per_shape):
            images.append(render_simple(name, seed, image_size))
            labels.append(model.labels.index(name))
    return images, labels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="bundled", help="what vitdemo.load reads (default: bundled)")
    parser.add_argument("--n", type=int, default=1100, help="held-out shapes images (default: 1100)")
    parser.add_argument("--seed", type=int, default=12345, help="held-out seed (default: 12345)")
    parser.add_argument("--simple", type=int, default=25, help="simple-renderer images per shape (default: 25)")
    parser.add_argument("--precision", default="fp32", help="auto|fp32|bf16 (default: fp32)")
    args = parser.parse_args()

    torch.manual_seed(0)
    model = load(args.model, device="cpu", precision=args.precision)
    t0 = time.time()
    shapes = evaluate_shapes(model, n=args.n, seed=args.seed)
    images, labels = simple_images(model, args.simple, model.config.image_size)
    simple = [evaluate(model, images, labels, r.patch_size) for r in shapes]
    meta = read_meta(resolve(args.model))
    native = model.config.patch_size

    print(f"model: {args.model} ({meta.get('config', {}).get('name', '')}), precision {args.precision}, "
          f"{args.n} held-out shapes (seed {args.seed}), {len(images)} simple-renderer images, "
          f"{time.time() - t0:.0f} s\n")
    print("| patch size | tokens | shapes top-1 | rollout mass in mask (uniform) | simple renderer top-1 |")
    print("|---:|---:|---:|---:|---:|")
    for r, s in zip(shapes, simple):
        side = input_size(model.config, r.patch_size) // r.patch_size
        mark = " (native)" if r.patch_size == native else ""
        print(f"| {r.patch_size}{mark} | {side}×{side} | {100 * r.accuracy:.1f}% | "
              f"{100 * r.rollout_mass:.1f}% ({100 * r.mask_fraction:.1f}%) | {100 * s.accuracy:.1f}% |")


if __name__ == "__main__":
    main()
