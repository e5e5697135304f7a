"""The folder command's throughput against the bare batched forward, in one run (issue 26 item 2).

    python benchmarks/bench_explain_folder.py            # bundled model, 64 images; random ViT-B/16, 16 images
    python benchmarks/bench_explain_folder.py --quick    # 32 and 8 images, 2 rounds

Per model, on one folder of PNG files (shapes drawn by `vitdemo.data.shapes` at the model's input size), three
contenders run interleaved (round-robin, median kept), so background load hits all alike:

* **bare forward**: what classifying the folder in batches needs at least: read and decode each file (the
  page's decoder), preprocess, one fused forward (no attention weights) per batch of `--batch-size`.
* **command**: `vitdemo.explain_cli.explain_folder`, what `python -m vitdemo explain DIR --out OUT` runs
  (attention maps, one PNG each, results.csv, and the deletion and insertion AUCs of each map), fresh OUT.
* **command, no AUCs**: the same without the deletion/insertion scoring (`Job(faithfulness=False)`), to show
  what the AUCs cost: each map's curves read ~(steps − 1) whole images of tokens (faithfulness.py).

Target (issue 26): the command at ≥ 80% of the bare forward's images per second. Prints a Markdown table.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import vitdemo  # noqa: E402
from vitdemo.batch.run import Job  # noqa: E402
from vitdemo.explain_cli import explain_folder  # noqa: E402

TARGET = 0.80


def write_folder(folder: Path, count: int, size: int) -> None:
    from vitdemo.data.shapes import render_sample

    folder.mkdir(parents=True, exist_ok=True)
    for i in range(count):
        render_sample(7, i, size).image.save(folder / f"{i:04d}.png")


def bare_forward(model, folder: Path, batch: int) -> float:
    """Seconds to decode, preprocess and classify every file in batches (fused attention)."""
    from vitdemo.app.uploads import decode_image
    from vitdemo.explain.analysis import model_inputs

    started = time.perf_counter()
    paths = sorted(folder.iterdir())
    for start in range(0, len(paths), batch):
        inputs = torch.cat([model_inputs(model, decode_image(p))[1] for p in paths[start:start + batch]])
        with torch.inference_mode():
            model(inputs, model.config.patch_size, output_attentions=False).logits.softmax(-1).cpu()
    return time.perf_counter() - started


def command(model, folder: Path, batch: int, faithfulness: bool) -> float:
    job = Job("attention", model.config.depth - 1, model.config.patch_size, "bench", faithfulness=faithfulness)
    with tempfile.TemporaryDirectory() as out:
        started = time.perf_counter()
        explained, failed = explain_folder(model, folder, Path(out), job, batch, progress=False)
        seconds = time.perf_counter() - started
    assert failed == 0 and explained == len(list(folder.iterdir()))
    return seconds


def rows_for(name: str, model, count: int, batch: int, rounds: int) -> str:
    contenders = {"bare": lambda f: bare_forward(model, f, batch),
                  "command": lambda f: command(model, f, batch, True),
                  "no_auc": lambda f: command(model, f, batch, False)}
    times: dict[str, list[float]] = {k: [] for k in contenders}
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "images"
        write_folder(folder, count, model.config.image_size)
        for fn in contenders.values():
            fn(folder)  # warm-up: first calls allocate
        for _ in range(rounds):
            for key, fn in contenders.items():
                times[key].append(fn(folder))
    rate = {k: count / statistics.median(v) for k, v in times.items()}
    dtype = str(next(model.parameters()).dtype).removeprefix("torch.")
    return (f"| {name} ({dtype}), {count} images, batch {batch} | {rate['bare']:.2f} | {rate['command']:.2f} "
            f"({rate['command'] / rate['bare']:.0%}) | {rate['no_auc']:.2f} ({rate['no_auc'] / rate['bare']:.0%}) "
            f"| ≥ {TARGET:.0%} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch-size", type=int, default=16)
    args = parser.parse_args()
    rounds = 2 if args.quick else 3
    from vitdemo.checkpoint import save
    from vitdemo.config import ViTConfig
    from vitdemo.model import ViT

    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; images/s, median of {rounds} rounds")
    print("| model | bare forward img/s | command img/s (÷ bare) | command without AUCs img/s (÷ bare) | target |")
    print("|---|---|---|---|---|")
    print(rows_for("bundled", vitdemo.load("bundled"), 32 if args.quick else 64, args.batch_size, rounds), flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        save(ViT(ViTConfig()), tmp)
        print(rows_for("random ViT-B/16, 224 px", vitdemo.load(tmp), 8 if args.quick else 16, args.batch_size,
                       rounds), flush=True)


if __name__ == "__main__":
    main()
