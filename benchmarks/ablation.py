"""What head ablation and the randomisation sanity check cost, after the analysis's forward (issue 24).

    python -m benchmarks.ablation [--model bundled] [--repeat 5] [--b16-repeat 1] [--threads N] [--no-b16]
                                  [--precision fp32] [--clock cpu]

For one picture (assets/examples/cat.jpg) and each subject (the given model at its native patch size, then a
random ViT-B/16 in bf16, the app's precision on this CPU), each round analyses the picture afresh and times:

* head effects: `Analysis.head_effects()`, every head switched off alone (L batched runs of the blocks from
  that head's layer on: H·L(L+1)/2 block passes), for the top-1;
* one ablation: `Analysis.ablate` of two heads in the middle layer (what a click in the gallery costs);
* sanity: `Analysis.sanity_comparison()`, every method's curve over the depth + 1 randomised models.

Each subject also runs, in the same rounds (so background load hits all alike), the yardsticks head effects is
read against:

* bare batched forward: a plain forward of H copies of the picture (one per head), nothing recorded, the fused
  attention kernel. The straightforward exact re-run (every head's layer and all above it, H·L(L+1)/2 block
  passes) is (L+1)/2 of these; "effects ÷ bare" divides by that;
* bf16 GEMM limit (bf16 models only): the matrix products of that batched forward alone, as bare bf16 GEMMs
  (`benchmarks/bench_core.py`'s `GemmLimit`), times (L+1)/2: the straightforward re-run if nothing but its
  matrix products cost anything. Head effects skips work that re-run does (ablation.py), so it can go under 1.

Medians over `--repeat` rounds (`--b16-repeat` for ViT-B/16) after one warm-up (a forward, one ablation and
the yardsticks, not a whole round: a ViT-B/16 round takes minutes on a loaded CPU). The load average is printed
before and after: this CPU is shared, and wall times follow it; the ratios are what to compare. On a busy
machine, `--threads 1 --clock cpu` times this process's CPU seconds instead (time.process_time), which
follow the load far less than wall seconds (waiting for a core is not counted). Targets
(issue 24): bundled head effects ≤ 0.3 s and sanity for every method ≤ 1 s; ViT-B/16 head effects ≤ 5 s,
sanity ≤ 10 s. Prints a markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path

import torch
from PIL import Image

from vitdemo.config import ViTConfig
from vitdemo.explain import analyze
from vitdemo.model import ViT

from .bench_core import GemmLimit

ROOT = Path(__file__).resolve().parents[1]
CLOCK = time.perf_counter  # `--clock cpu`: time.process_time
TARGETS = {"bundled": (0.3, 1.0), "b16": (5.0, 10.0)}  # (head effects, sanity) in seconds


def random_vit_b16() -> ViT:
    torch.manual_seed(0)
    model = ViT(ViTConfig(name="random ViT-B/16")).to(torch.bfloat16).eval()
    model.precision = "bf16"
    return model


def seconds(model: ViT, image: Image.Image, repeat: int) -> dict[str, float]:
    """Median seconds of the forward, the yardsticks (bare batched forward, GEMM limit), head effects, one
    two-head ablation and every method's sanity curve."""
    c = model.config
    middle = c.depth // 2
    side = c.image_size // c.patch_size
    batch = analyze(model, image).inputs.expand(c.heads, -1, -1, -1)
    limit = (GemmLimit(c.heads, side * side + c.num_prefix_tokens, side * side, c.dim, c.depth, c.heads, c.mlp_dim,
                       c.in_channels * c.patch_size ** 2, c.num_classes) if model.dtype == torch.bfloat16 else None)

    def bare() -> None:
        with torch.inference_mode():
            model(batch, output_attentions=False)

    analyze(model, image).ablate([(middle, 0)])  # warm-up: kernels, allocator
    bare()
    if limit is not None:
        limit()
    rounds: dict[str, list[float]] = {k: [] for k in ("forward", "bare", "limit", "effects", "ablate", "sanity")}
    for _ in range(repeat):
        start = CLOCK()
        a = analyze(model, image)
        t1 = CLOCK()
        bare()
        t2 = CLOCK()
        if limit is not None:
            limit()
        t3 = CLOCK()
        a.head_effects()
        t4 = CLOCK()
        a.ablate([(middle, 0), (middle, 1)])
        t5 = CLOCK()
        a.sanity_comparison()
        t6 = CLOCK()
        for key, value in zip(rounds, (t1 - start, t2 - t1, t3 - t2 if limit else float("nan"), t4 - t3, t5 - t4,
                                       t6 - t5), strict=True):
            rounds[key].append(value)
    return {key: statistics.median(values) for key, values in rounds.items()}


def verdict(value: float, target: float | None) -> str:
    if target is None:
        return ""
    return f"≤ {target:g} s: " + ("met" if value <= target else "**not met**")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="bundled", help='"bundled", a hub id or a local folder')
    parser.add_argument("--precision", default="fp32", help="fp32 | bf16 | auto")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--b16-repeat", type=int, default=1, help="rounds for ViT-B/16 (each takes a minute)")
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice)")
    parser.add_argument("--no-b16", action="store_true", help="time the given model only")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="cpu: this process's CPU seconds (with --threads 1, on a busy machine)")
    args = parser.parse_args()
    global CLOCK
    CLOCK = time.process_time if args.clock == "cpu" else time.perf_counter
    if args.threads:
        torch.set_num_threads(args.threads)

    from vitdemo.loading import load

    model = load(args.model, precision=args.precision)
    picture = Image.open(ROOT / "assets" / "examples" / "cat.jpg").convert("RGB")
    subjects = [(model, model.config.name or args.model, TARGETS.get(args.model, (None, None)), args.repeat)]
    if not args.no_b16:
        subjects.append((random_vit_b16(), "random ViT-B/16", TARGETS["b16"], args.b16_repeat))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock; "
          f"load average {os.getloadavg()[0]:.1f}\n")
    print("| model | precision | rounds | layers × heads | grid | forward (s) | bare forward ×H (s) | "
          "GEMM limit ×H (s) | head effects (s) | effects ÷ bare | effects ÷ limit | one ablation (s) | "
          "sanity, every method (s) | sanity ÷ forward | head effects target | sanity target |")
    print("|---|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---|")
    for subject, name, (effects_target, sanity_target), repeat in subjects:
        t = seconds(subject, picture, repeat)
        c = subject.config
        side = c.image_size // c.patch_size
        rerun = (c.depth + 1) / 2  # the straightforward re-run, in batched forwards
        limit = "–" if t["limit"] != t["limit"] else f"{t['limit']:.3f}"
        over_limit = "–" if t["limit"] != t["limit"] else f"{t['effects'] / (rerun * t['limit']):.2f}"
        print(f"| {name} | {getattr(subject, 'precision', '')} | {repeat} | {c.depth} × {c.heads} | "
              f"{side}×{side} | {t['forward']:.3f} | {t['bare']:.3f} | {limit} | {t['effects']:.3f} | "
              f"{t['effects'] / (rerun * t['bare']):.2f} | {over_limit} | {t['ablate']:.3f} | {t['sanity']:.3f} | "
              f"{t['sanity'] / t['forward']:.1f} | {verdict(t['effects'], effects_target)} | "
              f"{verdict(t['sanity'], sanity_target)} |", flush=True)
    print(f"\nload average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
