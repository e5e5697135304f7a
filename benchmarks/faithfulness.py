"""How faithful are the maps? Deletion and insertion AUCs on held-out shapes, and the readout's cost (issue 13).

    python -m benchmarks.faithfulness [--model bundled] [--count 200] [--patch-sizes 16 8]
                                      [--modes tokens blur] [--steps 10] [--images DIR] [--no-timing]
                                      [--no-quality] [--no-b16] [--threads N] [--repeat 5] [--precision fp32]

Quality: for each image, the top-1 class, each method's default map (attention: last layer, heads
averaged; rollout; relevance and LeGrad for the top-1) and a random map (seeded by the image's index) are
scored with `Analysis.faithfulness_comparison` (vitdemo/explain/faithfulness.py: deletion and insertion
curves, `steps` steps, patches removed as tokens or blurred). Images are drawn by tests/simple_renderer.py, a
renderer that shares no code with the training data (circle, square, triangle, star; seeds from 50 000 on,
which no test uses), at the model's image size, or read from `--images`. Mean ± standard error over the
images; "Δ vs random" is the paired difference (random − map for deletion, map − random for insertion),
so positive means better than random on both. Target (issue 13): relevance and LeGrad beat the random map
by ≥ 0.05 in deletion AUC, and have a higher insertion AUC.

Timing: the readout of one image — the four methods' maps (the first relevance/LeGrad request runs the
autograd forward and the backward passes) and the curves of those four and a random map — after the
analysis's forward, on the given model and on a random ViT-B/16 in bf16, over `--repeat` fresh analyses
(median, fastest, CPU seconds: see `readout_seconds`). Targets, judged on the median: ≤ 0.2 s bundled,
≤ 1.5 s ViT-B/16. Prints markdown tables.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from vitdemo import methods
from vitdemo.config import ViTConfig
from vitdemo.explain import Analysis, analyze
from vitdemo.model import ViT

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))
from simple_renderer import SIMPLE_SHAPES, render_simple  # noqa: E402  (tests/ is not a package)

FIRST_SEED = 50_000
TARGETED = ("relevance", "legrad")


def shapes(count: int, image_size: int) -> Iterator[tuple[str, Image.Image]]:
    """`count` held-out simple-renderer images, the four shapes in turn: (true label, image)."""
    for i in range(count):
        name = SIMPLE_SHAPES[i % len(SIMPLE_SHAPES)]
        yield name, render_simple(name, FIRST_SEED + i, image_size)


def folder_images(folder: Path, count: int) -> Iterator[tuple[str, Image.Image]]:
    files = sorted(p for p in folder.iterdir() if p.suffix.lower() in {".jpg", ".jpeg", ".png", ".webp"})
    for path in files[:count]:
        yield path.stem, Image.open(path).convert("RGB")


def mean_se(values: list[float]) -> tuple[float, float]:
    array = np.asarray(values, dtype=np.float64)
    se = array.std(ddof=1) / np.sqrt(len(array)) if len(array) > 1 else float("nan")
    return float(array.mean()), float(se)


def fmt(values: list[float]) -> str:
    mean, se = mean_se(values)
    return f"{mean:.3f} ± {se:.3f}"


def quality(model: ViT, images: list[tuple[str, Image.Image]], patch_size: int, modes: list[str],
            steps: int) -> tuple[dict, float]:
    """{(mode, map name): {"deletion": [...], "insertion": [...]}}, and top-1 accuracy on the true labels."""
    scores: dict[tuple[str, str], dict[str, list[float]]] = {}
    correct = []
    for i, (label, image) in enumerate(images):
        a = analyze(model, image, patch_size)
        correct.append(a.top(1)[0][0] == label)
        for mode in modes:
            for name, result in a.faithfulness_comparison(random_seed=i, steps=steps, mode=mode).items():
                entry = scores.setdefault((mode, name), {"deletion": [], "insertion": []})
                entry["deletion"].append(result.deletion_auc)
                entry["insertion"].append(result.insertion_auc)
    return scores, float(np.mean(correct))


def target_verdict(deletion_gain: list[float], insertion_gain: list[float]) -> str:
    """Issue 13's target on paired gains over the random map: deletion ≥ 0.05 and insertion > 0, the latter
    counted only when it is more than two standard errors above 0 (else noise could have given it)."""
    d, (n, n_se) = float(np.mean(deletion_gain)), mean_se(insertion_gain)
    if d >= 0.05 and n > 2 * n_se:
        return "met"
    misses = (["deletion"] if d < 0.05 else []) + (["insertion"] if n <= 0 else [])
    if not misses:
        return "**not met**: insertion gain within 2 SE of 0"
    return "**not met**: " + " and ".join(misses)


def print_quality(title: str, patch_size: int, grid: tuple[int, int], scores: dict, accuracy: float) -> None:
    for (mode, name), entry in scores.items():
        baseline = scores[(mode, "random")]
        if name == "random":
            delta_del = delta_ins = "–"
            verdict = ""
        else:
            d = [r - m for r, m in zip(baseline["deletion"], entry["deletion"], strict=True)]
            n = [m - r for r, m in zip(baseline["insertion"], entry["insertion"], strict=True)]
            delta_del, delta_ins = fmt(d), fmt(n)
            verdict = target_verdict(d, n) if name in TARGETED else ""
        print(f"| {title} | {patch_size} ({grid[0]}×{grid[1]}) | {accuracy:.1%} | {mode} | {name} | "
              f"{fmt(entry['deletion'])} | {fmt(entry['insertion'])} | {delta_del} | {delta_ins} | {verdict} |")


def readout_seconds(model: ViT, image: Image.Image, patch_size: int | None, steps: int, mode: str,
                    repeat: int) -> dict[str, float]:
    """Seconds of the one-image readout over `repeat` rounds, each on a fresh analysis: medians of the
    analysis forward, the maps, the curves and the readout (maps + curves), the fastest readout, and the
    readout's median CPU seconds (this process, all its threads).

    Other jobs share this CPU, so wall times swing; the fastest round and the CPU seconds (with one thread:
    what the readout costs when it has a core to itself) move much less, and so does readout ÷ forward.
    """
    rounds: dict[str, list[float]] = {k: [] for k in ("forward", "maps", "curves", "readout", "cpu")}
    for _ in range(repeat + 1):  # the first round warms up (kernels, the PI-resize cache) and is dropped
        begin = time.perf_counter()
        a: Analysis = analyze(model, image, patch_size)
        start, cpu = time.perf_counter(), time.process_time()
        maps = {m: a.attention_map(m) for m in methods.names()}
        middle = time.perf_counter()
        a.faithfulness_comparison(maps, random_seed=0, steps=steps, mode=mode)
        end = time.perf_counter()
        for key, value in (("forward", start - begin), ("maps", middle - start), ("curves", end - middle),
                           ("readout", end - start), ("cpu", time.process_time() - cpu)):
            rounds[key].append(value)
    out = {key: statistics.median(values[1:]) for key, values in rounds.items()}
    out["fastest"] = min(rounds["readout"][1:])
    return out


def random_vit_b16() -> ViT:
    torch.manual_seed(0)
    model = ViT(ViTConfig(name="random ViT-B/16")).to(torch.bfloat16).eval()
    model.precision = "bf16"
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help='"bundled", a hub id or a local folder')
    parser.add_argument("--precision", default="fp32", help="fp32 | bf16 | auto (quality runs)")
    parser.add_argument("--count", type=int, default=200, help="images per patch size")
    parser.add_argument("--patch-sizes", type=int, nargs="*", help="default: the model's native one")
    parser.add_argument("--modes", nargs="*", default=["tokens", "blur"], choices=["tokens", "blur"])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--images", type=Path, help="a folder of pictures instead of the simple shapes")
    parser.add_argument("--repeat", type=int, default=5, help="timing rounds (median)")
    parser.add_argument("--no-timing", action="store_true")
    parser.add_argument("--no-quality", action="store_true")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-b16", action="store_true", help="time the given model only")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    from vitdemo.loading import load

    model = load(args.model, precision=args.precision)
    name = model.config.name or args.model
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; model {name} ({model.precision}); "
          f"{args.steps} steps\n")
    if not args.no_quality:
        source = f"{args.images}" if args.images else f"simple renderer, seeds {FIRST_SEED}…"
        images = list(folder_images(args.images, args.count) if args.images
                      else shapes(args.count, model.config.image_size))
        print(f"{len(images)} images ({source})\n")
        print("| model | patch (grid) | top-1 | removal | map | deletion AUC ↓ | insertion AUC ↑ | "
              "Δ deletion vs random | Δ insertion vs random | target |\n|---|---|---:|---|---|---|---|---|---|---|")
        for p in args.patch_sizes or [model.config.patch_size]:
            start = time.perf_counter()
            scores, accuracy = quality(model, images, p, args.modes, args.steps)
            grid = analyze(model, images[0][1], p).grid
            print_quality(name, p, grid, scores, accuracy)
            print(f"<!-- patch {p}: {time.perf_counter() - start:.0f} s -->", flush=True)
    if not args.no_timing:
        print("\n| model | precision | threads | patch (grid) | removal | forward (s) | maps (s) | curves (s) | "
              "readout (s) | fastest readout (s) | readout CPU (s) | readout ÷ forward | target |")
        print("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---|")
        picture = Image.open(ROOT / "assets" / "examples" / "cat.jpg").convert("RGB")
        target = 0.2 if args.model == "bundled" else None
        subjects = [(model, p, target) for p in args.patch_sizes or [model.config.patch_size]]
        subjects += [] if args.no_b16 else [(random_vit_b16(), 16, 1.5)]
        for subject, p, target in subjects:
            side = subject.config.image_size // p
            for mode in args.modes:
                t = readout_seconds(subject, picture, p, args.steps, mode, args.repeat)
                met = target is not None and t["readout"] <= target  # the median, not the fastest round
                verdict = "" if target is None else f"≤ {target} s: " + ("met" if met else "**not met**")
                print(f"| {subject.config.name or args.model} | {subject.precision} | {torch.get_num_threads()} | "
                      f"{p} ({side}×{side}) | {mode} | {t['forward']:.3f} | {t['maps']:.3f} | {t['curves']:.3f} | "
                      f"{t['readout']:.3f} | {t['fastest']:.3f} | {t['cpu']:.3f} | "
                      f"{t['readout'] / t['forward']:.0f}× | {verdict} |", flush=True)


if __name__ == "__main__":
    main()
