"""The logit lens's cost: payload growth and lens time, bundled model and a random ViT-B/16 (issue 24).

    python -m benchmarks.bench_logit_lens [--repeat 5]      # from the repository root

Target: the lens adds ≤ 15% to the explorer's bundle on the bundled model. The bundle is measured as the
JSON the page receives (`explorer_payload`), with and without its "logit_lens" entry; the lens time is the
class-token lens and the per-patch lens on a fresh analysis (nothing cached), median of `--repeat`, and the
bundle's build time with the lens's share of it (what each analysis shown on the page waits for). Prints a
markdown table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

import vitdemo
from vitdemo.config import ViTConfig
from vitdemo.explain import analyze
from vitdemo.explain.payload import explorer_payload, logit_lens_bundle
from vitdemo.model import ViT

STAR = Path(__file__).resolve().parents[1] / "assets" / "examples" / "shape_star.png"
PHOTO = Path(__file__).resolve().parents[1] / "assets" / "textures" / "brick.png"
TARGET = 0.15


def vit_b16() -> ViT:
    torch.manual_seed(0)
    return ViT(ViTConfig(name="ViT-B/16 random")).eval()


def lens_ms(model: ViT, image: Image.Image, patch: int, repeat: int) -> tuple[float, float]:
    """Median ms of (class-token lens, per-patch lens), each on a fresh analysis."""
    token, patches = [], []
    for _ in range(repeat):
        a = analyze(model, image, patch)
        start = time.perf_counter()
        a.logit_lens()
        middle = time.perf_counter()
        a.patch_lens()
        token.append((middle - start) * 1000)
        patches.append((time.perf_counter() - middle) * 1000)
    return statistics.median(token), statistics.median(patches)


def bundle_ms(model: ViT, image: Image.Image, patch: int, repeat: int) -> tuple[float, float]:
    """Median ms of (the whole bundle, its lens part) on fresh analyses: what the lens adds to each page update."""
    whole, lens = [], []
    for _ in range(repeat):
        a = analyze(model, image, patch)
        start = time.perf_counter()
        explorer_payload(a)
        whole.append((time.perf_counter() - start) * 1000)
        a = analyze(model, image, patch)
        start = time.perf_counter()
        logit_lens_bundle(a)
        lens.append((time.perf_counter() - start) * 1000)
    return statistics.median(whole), statistics.median(lens)


def row(label: str, model: ViT, image: Image.Image, patch: int, repeat: int) -> str:
    a = analyze(model, image, patch)
    bundle = explorer_payload(a)
    with_lens = len(json.dumps(bundle))
    without = len(json.dumps({k: v for k, v in bundle.items() if k != "logit_lens"}))
    lens_only = len(json.dumps(logit_lens_bundle(a)))
    growth = with_lens / without - 1
    token, patches = lens_ms(model, image, patch, repeat)
    whole, lens = bundle_ms(model, image, patch, repeat)
    rows, cols = a.grid
    met = "met" if growth <= TARGET else "missed"
    return (f"| {label} | {patch} ({rows}×{cols}) | {without / 1024:.1f} | {lens_only / 1024:.1f} | "
            f"+{growth:.1%} ({met if label.startswith('bundled') else 'no target'}) | {token:.1f} | {patches:.1f} | "
            f"{whole:.0f} | {lens / whole:.0%} |")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    torch.set_grad_enabled(False)
    star, photo = Image.open(STAR).convert("RGB"), Image.open(PHOTO).convert("RGB")
    bundled = vitdemo.load("bundled", device="cpu", precision="fp32")
    big = vit_b16()
    print("| model | patch (grid) | bundle without lens (KiB) | lens (KiB) | growth (target ≤ 15%, bundled) | "
          "class-token lens (ms) | per-patch lens (ms) | bundle build (ms) | lens share of it |")
    print("|---|---|---|---|---|---|---|---|---|")
    for patch in (16, 8):
        print(row("bundled", bundled, star, patch, args.repeat), flush=True)
    for patch in (16, 8):
        print(row("ViT-B/16 random, fp32", big, photo, patch, args.repeat), flush=True)
    big = big.to(torch.bfloat16)
    for patch in (16, 8):
        print(row("ViT-B/16 random, bf16", big, photo, patch, args.repeat), flush=True)


if __name__ == "__main__":
    main()
