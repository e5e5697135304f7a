"""An analysis on DINOv2-S/14 against ViT-S/16 at the same token count (issue 12's target: ≤ 1.2×).

    python -m benchmarks.bench_families [--repeat 7] [--precision fp32 auto] [--threads N]

"An analysis" is what the page runs for a new image: `vitdemo.analyze` (one forward pass with every
attention map and stage) and the explorer's bundle of it (`explain.payload.explorer_payload`: attention and
rollout of every layer and head, click-a-patch rows, the lenses). Relevance is not in it (the page asks for
it only when the visitor picks it), so it is timed on its own row: the first relevance map of the top-1
class (the autograd forward and one backward pass).

Both models have random weights and are built locally with transformers and `save_pretrained` (no
download), then loaded with `vitdemo.load`, as a hub checkpoint would be: ViT-S/16 (`ViTForImageClassification`,
384 wide, 12 layers of 6 heads) at 224 px, and DINOv2-S/14 with its ImageNet linear head
(`Dinov2ForImageClassification`, position grid 37×37 as on the hub, LayerScale, the head on [class; mean of
patches]) at 196 px from a preprocessor that crops 196: both 14×14 = 196 patches + 1 class token. The two
alternate within each repetition (same image, same load on the machine), after one warm-up each; each row
reports the median over `--repeat` and the fastest run (what the code costs when the machine lets it run: on
a shared CPU the median also carries other processes' bursts), and the ratios of both.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parents[1]
IMAGE = ROOT / "assets" / "examples" / "cat.jpg"
TARGET = 1.2
# DINOv2's BitImageProcessor as the hub ships it, but cropping 196 px (14×14 patches of 14).
DINOV2_PROCESSOR = {"crop_size": {"height": 196, "width": 196}, "do_center_crop": True, "do_convert_rgb": True,
                    "do_normalize": True, "do_rescale": True, "do_resize": True,
                    "image_mean": [0.485, 0.456, 0.406], "image_std": [0.229, 0.224, 0.225],
                    "image_processor_type": "BitImageProcessor", "resample": 3,
                    "rescale_factor": 0.00392156862745098, "size": {"shortest_edge": 224}}


def build_models(folder: Path) -> dict[str, Path]:
    """Random ViT-S/16 and DINOv2-S/14 checkpoints (hub shapes), written with save_pretrained."""
    import transformers as tf

    vit = tf.ViTForImageClassification(tf.ViTConfig(hidden_size=384, num_attention_heads=6, intermediate_size=1536,
                                                    patch_size=16, image_size=224, num_labels=1000))
    dinov2 = tf.Dinov2ForImageClassification(tf.Dinov2Config(hidden_size=384, num_attention_heads=6, patch_size=14,
                                                             image_size=518, num_labels=1000))
    paths = {"ViT-S/16 @ 224 px": folder / "vit-s16", "DINOv2-S/14 @ 196 px": folder / "dinov2-s14"}
    vit.save_pretrained(paths["ViT-S/16 @ 224 px"])
    dinov2.save_pretrained(paths["DINOv2-S/14 @ 196 px"])
    (paths["DINOv2-S/14 @ 196 px"] / "preprocessor_config.json").write_text(json.dumps(DINOV2_PROCESSOR))
    return paths


def page_analysis(model: Any, image: Any) -> Any:
    """What the page computes for a new image: the analysis and the explorer's bundle of it."""
    from vitdemo.explain import analyze
    from vitdemo.explain.payload import explorer_payload

    analysis = analyze(model, image)
    explorer_payload(analysis, key=("bench", model.source, analysis.patch_size, False))
    return analysis


def relevance(model: Any, image: Any) -> Any:
    """A fresh analysis's first relevance map (top-1 class): the autograd forward and one backward pass."""
    from vitdemo.explain import analyze

    return analyze(model, image).attention_map("relevance")


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def measure(models: dict[str, Any], image: Any, repeat: int) -> dict[str, dict[str, list[float]]]:
    """Seconds of every repetition per (row, model); models alternate within each repetition, after one warm-up
    each."""
    from vitdemo.explain import analyze

    rows: dict[str, Callable[[Any], Any]] = {
        "forward (analyze)": lambda m: analyze(m, image),
        "analysis + explorer bundle (the page)": lambda m: page_analysis(m, image),
        "relevance, first map (on demand)": lambda m: relevance(m, image),
    }
    out: dict[str, dict[str, list[float]]] = {}
    for row, fn in rows.items():
        for model in models.values():
            fn(model)  # warm-up: kernels, resampled position embeddings, PI-resize caches
        samples: dict[str, list[float]] = {name: [] for name in models}
        for _ in range(repeat):
            for name, model in models.items():
                samples[name].append(timed(lambda m=model, f=fn: f(m)))
        out[row] = samples
    return out


def tokens(model: Any, image: Any) -> str:
    from vitdemo.explain import analyze

    analysis = analyze(model, image)
    rows, cols = analysis.grid
    return f"{rows}×{cols} + {analysis.num_prefix_tokens}"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_families", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--precision", nargs="+", default=["fp32", "auto"])
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    args = parser.parse_args(argv)

    import torch
    from PIL import Image

    import vitdemo

    if args.threads:
        torch.set_num_threads(args.threads)
    image = Image.open(IMAGE).convert("RGB")
    print(f"load average before: {os.getloadavg()[0]:.2f} · torch threads {torch.get_num_threads()} · "
          f"repeat {args.repeat}")
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_models(Path(tmp))
        for precision in args.precision:
            models = {name: vitdemo.load(path, device="cpu", precision=precision) for name, path in paths.items()}
            vit_name, dino_name = list(models)
            chosen = models[vit_name].precision
            print(f"\n### {precision} ({chosen}); tokens: " +
                  ", ".join(f"{name} {tokens(model, image)}" for name, model in models.items()))
            print(f"\n| what (of {args.repeat}) | {vit_name}: median, fastest | {dino_name}: median, fastest | "
                  "ratio of medians | ratio of fastest | target (medians) |")
            print("|---|---:|---:|---:|---:|---|")
            for row, samples in measure(models, image, args.repeat).items():
                vit, dino = samples[vit_name], samples[dino_name]
                ratio = statistics.median(dino) / statistics.median(vit)
                target = f"≤ {TARGET}× {'✓' if ratio <= TARGET else '✗'}" if "page" in row else ""
                print(f"| {row} | {statistics.median(vit) * 1000:.0f}, {min(vit) * 1000:.0f} ms | "
                      f"{statistics.median(dino) * 1000:.0f}, {min(dino) * 1000:.0f} ms | {ratio:.2f}× | "
                      f"{min(dino) / min(vit):.2f}× | {target} |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
