"""An analysis on CLIP-B/16 against ViT-B/16 (issue 25's target: ≤ 1.3× for the image side), the text side apart.

    python -m benchmarks.bench_image_text [--repeat 5] [--threads N] [--prompts 5]

Both models have random weights at the hub's shapes, built locally with transformers and `save_pretrained`
(no download), then loaded with `vitdemo.load`: ViT-B/16 (`ViTForImageClassification`, 1000 classes) and
CLIP ViT-B/16 (`CLIPModel` as openai/clip-vit-base-patch16: image tower 768 wide, 12 layers of 12 heads; text
tower 512 wide, 12 layers, vocabulary 49408; projection 512) with a small BPE tokenizer of this project
(tests/image_text_models.py: the text model's shapes are the hub's, its inputs a few tokens long like the
page's prompts). Both at 224 px, 14×14 patches + the class token.

Image side: what the page computes for a new image, `analyze` (with `--prompts` prompts for CLIP, already
embedded) and the explorer's bundle, and LeGrad's first map (one short backward per layer). Text side: the
text tower embedding the same prompts from scratch (its cache emptied), what a newly typed prompt list costs
once. The two models alternate within each repetition after one warm-up each; median and fastest.
"""

from __future__ import annotations

import argparse
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
TARGET = 1.3
PROMPTS = ["cat", "dog", "red car", "star", "heart", "circle", "blue star", "the cat", "a dog", "a red car"]


def build_models(folder: Path) -> dict[str, Path]:
    import transformers as tf

    from tests.image_text_models import clip_tokenizer

    vit = tf.ViTForImageClassification(tf.ViTConfig(patch_size=16, image_size=224, num_labels=1000))
    tokenizer = clip_tokenizer()
    clip = tf.CLIPModel(tf.CLIPConfig(text_config=dict(hidden_size=512, intermediate_size=2048, num_attention_heads=8,
                                                       vocab_size=49408, max_position_embeddings=77,
                                                       bos_token_id=tokenizer.bos_token_id,
                                                       eos_token_id=tokenizer.eos_token_id,
                                                       pad_token_id=tokenizer.pad_token_id),
                                      vision_config=dict(patch_size=16), projection_dim=512))
    paths = {"ViT-B/16": folder / "vit-b16", "CLIP ViT-B/16": folder / "clip-b16"}
    vit.save_pretrained(paths["ViT-B/16"])
    clip.save_pretrained(paths["CLIP ViT-B/16"])
    tokenizer.save_pretrained(paths["CLIP ViT-B/16"])
    tf.CLIPImageProcessorPil().save_pretrained(paths["CLIP ViT-B/16"])
    return paths


def page_analysis(model: Any, image: Any, prompts: list[str] | None) -> Any:
    from vitdemo.explain import analyze
    from vitdemo.explain.payload import explorer_payload

    analysis = analyze(model, image, prompts=prompts)
    explorer_payload(analysis, key=("bench", model.source, analysis.patch_size, False))
    return analysis


def timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def text_side(model: Any, prompts: list[str]) -> Any:
    model.text._cache.clear()
    return model.text.embed([model.template.format(p) for p in prompts])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.bench_image_text", description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's)")
    parser.add_argument("--prompts", type=int, default=5, help="how many prompts CLIP ranks")
    args = parser.parse_args(argv)

    import torch
    from PIL import Image

    import vitdemo

    if args.threads:
        torch.set_num_threads(args.threads)
    image = Image.open(IMAGE).convert("RGB")
    prompts = PROMPTS[:args.prompts]
    print(f"load average before: {os.getloadavg()[0]:.2f} · torch threads {torch.get_num_threads()} · "
          f"repeat {args.repeat} · {len(prompts)} prompts")
    with tempfile.TemporaryDirectory() as tmp:
        paths = build_models(Path(tmp))
        models = {name: vitdemo.load(path, device="cpu", precision="fp32") for name, path in paths.items()}
        vit_name, clip_name = list(models)
        asks = {vit_name: None, clip_name: prompts}
        rows: dict[str, Callable[[str], Any]] = {
            "analysis + explorer bundle (the page)": lambda n: page_analysis(models[n], image, asks[n]),
            "LeGrad, first map (on demand)": lambda n: vitdemo.analyze(models[n], image, prompts=asks[n])
            .attention_map("legrad"),
        }
        print(f"\n| what (of {args.repeat}, fp32) | {vit_name}: median, fastest | {clip_name}: median, fastest | "
              "ratio of medians | ratio of fastest | target (medians) |")
        print("|---|---:|---:|---:|---:|---|")
        for row, fn in rows.items():
            for name in models:
                fn(name)  # warm-up
            samples: dict[str, list[float]] = {name: [] for name in models}
            for _ in range(args.repeat):
                for name in models:
                    samples[name].append(timed(lambda n=name, f=fn: f(n)))
            vit, clip = samples[vit_name], samples[clip_name]
            ratio = statistics.median(clip) / statistics.median(vit)
            target = f"≤ {TARGET}× {'✓' if ratio <= TARGET else '✗'}" if "page" in row else ""
            print(f"| {row} | {statistics.median(vit) * 1000:.0f}, {min(vit) * 1000:.0f} ms | "
                  f"{statistics.median(clip) * 1000:.0f}, {min(clip) * 1000:.0f} ms | {ratio:.2f}× | "
                  f"{min(clip) / min(vit):.2f}× | {target} |")
        text = [timed(lambda: text_side(models[clip_name], prompts)) for _ in range(args.repeat)]
        print(f"| text side: {len(prompts)} new prompts embedded | | {statistics.median(text) * 1000:.0f}, "
              f"{min(text) * 1000:.0f} ms | | | measured apart |")
    print(f"\nload average after: {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
