"""The app as users meet it: cold start to a served page, first analysis and view switch, per model, patch size
and precision, next to transformers eager measured in the same run.

    python benchmarks/bench_app.py [--models bundled vit-b16] [--precisions fp32 auto] [--patch-sizes 8 16 32]
                                   [--images 3] [--rounds 5] [--starts 3]

Per (model, precision), the same request sequence runs twice: for each patch size and each of `--images`
fresh images, a *first analysis* (/analyze of an image not seen at that patch size: one forward pass), two
*view switches* (the same image with method rollout, then layer 0 / head max: a cache hit, re-render only)
and the first *relevance* view (one backward pass). Medians are reported.

* **server**: the app's `/analyze` function called in this process (upload decode, analysis, both pictures
  rendered and written as PNG files as the app's outputs do, by `vitdemo.app.outputs.picture_file`), so
  Gradio's queue and HTTP are left out. This is what the targets (first analysis ≤ 0.5 s, view switch
  ≤ 50 ms) are about.
* **round trip**: `gradio_client` against `python app.py --model M` started by this script with
  VITDEMO_PRECISION set, on a free 127.0.0.1 port, offline: what a person waits for, uploads included.
  The same start gives the **cold start** (spawn → "/" answers 200) and the **first request** after it
  (the model may still be loading in the background).

Then the bare forward pass (every attention map and intermediate, as the app asks for it) of vitdemo is
timed against transformers' eager ViT of the same shape (fp32, `output_attentions=True`, random weights),
interleaved round-robin; "÷ tf" columns divide by that transformers time. `vit-b16` means random ViT-B/16
weights written with transformers' `save_pretrained` (the compute of google/vit-base-patch16-224, without
asking the hub); any other name is passed to `app.py --model` as is.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import torch
from gradio_client import handle_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app_client import check_analysis, example_images, new_client  # noqa: E402
from app_server import running_app, shown_command  # noqa: E402

KINDS = ("first analysis", "view switch", "relevance, first")
Analyze = Callable[[Path, "int | None", str, int, str], object]  # (image, patch, method, layer, head) → reply
Timings = dict[int, dict[str, float]]  # patch size → kind → median seconds


def scenario(image: Path, patch: int) -> Iterator[tuple[str, tuple]]:
    """The requests of one image at one patch size, in order, each with what it measures."""
    yield "first analysis", (image, patch, "attention", None, "mean")
    yield "view switch", (image, patch, "rollout", None, "mean")
    yield "view switch", (image, patch, "attention", 1, "max")
    yield "relevance, first", (image, patch, "relevance", None, "mean")


def timed_scenarios(analyze: Analyze, patch_sizes: list[int], images: list[Path]) -> Timings:
    """Median seconds of each kind of request, per patch size."""
    timings: Timings = {}
    for patch in patch_sizes:
        samples: dict[str, list[float]] = {kind: [] for kind in KINDS}
        for image in images:
            for kind, args in scenario(image, patch):
                start = time.perf_counter()
                analyze(*args)
                samples[kind].append(time.perf_counter() - start)
        timings[patch] = {kind: statistics.median(values) for kind, values in samples.items()}
    return timings


def server_timings(source: str, precision: str, patch_sizes: list[int], images: list[Path]) -> Timings:
    """The scenarios through the app's own /analyze function in this process (a fresh engine and cache)."""
    from vitdemo.app.api import Endpoints
    from vitdemo.app.models import choose_startup
    from vitdemo.app.outputs import PictureStore, as_file
    from vitdemo.app.service import Engine

    previous = os.environ.get("VITDEMO_PRECISION")
    os.environ["VITDEMO_PRECISION"] = precision  # read when the engine loads the model
    try:
        endpoints = Endpoints(Engine(choose_startup(source)))
        store = PictureStore()

        def analyze(image: Path, patch: int | None, method: str, layer: int, head: str) -> object:
            grid, attention, labels = endpoints.analyze(str(image), patch, method, layer, head, "")
            for picture in (grid, attention):  # what the app's format="png" outputs do before Gradio's
                as_file(store, picture, "png")
            return labels

        analyze(images[0], None, "attention", None, "mean")  # loads the model: not timed
        return timed_scenarios(analyze, patch_sizes, images[1:])
    finally:
        os.environ.pop("VITDEMO_PRECISION") if previous is None else os.environ.update(VITDEMO_PRECISION=previous)


def app_timings(source: str, precision: str, patch_sizes: list[int], images: list[Path],
                download_dir: str) -> tuple[float, float, Timings]:
    """(cold start s, first request s, round-trip timings) of a freshly started app."""
    with running_app(["--model", source], env={"VITDEMO_PRECISION": precision}) as app:
        client = new_client(app.url, download_dir)

        def analyze(image: Path, patch: int | None, method: str, layer: int, head: str) -> object:
            return check_analysis(client.predict(handle_file(str(image)), patch, method, layer, head, "",
                                                 api_name="/analyze"))

        start = time.perf_counter()
        analyze(images[0], None, "attention", None, "mean")
        first_request = time.perf_counter() - start
        return app.startup_s, first_request, timed_scenarios(analyze, patch_sizes, images[1:])


def cold_starts(model: str, count: int) -> list[float]:
    """Spawn → served page, `count` times in a row (each a fresh process; the OS file cache is warm)."""
    times = []
    for _ in range(count):
        with running_app(["--model", model]) as app:
            times.append(app.startup_s)
    return times


def random_vit_b16(out_dir: Path) -> str:
    """Random ViT-B/16 weights in transformers' format (what google/vit-base-patch16-224 looks like)."""
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    ViTForImageClassification(ViTConfig(num_labels=1000)).save_pretrained(out_dir)
    return str(out_dir)


def transformers_twin(config, patch_size: int, side: int):
    """transformers' eager ViT with `config`'s shape at this patch size and input side (random weights)."""
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    twin = ViTConfig(hidden_size=config.dim, num_hidden_layers=config.depth, num_attention_heads=config.heads,
                     intermediate_size=config.mlp_dim, image_size=side, patch_size=patch_size,
                     num_labels=config.num_classes, layer_norm_eps=config.layer_norm_eps, qkv_bias=config.qkv_bias,
                     attn_implementation="eager")
    return ViTForImageClassification(twin).eval()


def forward_times(model: str, precision: str, patch_sizes: list[int], image: Path, rounds: int) -> dict[int, tuple]:
    """patch size → (vitdemo ms, transformers eager fp32 ms, tokens), medians of interleaved rounds."""
    from PIL import Image

    import vitdemo
    from vitdemo.preprocessing import input_size, preprocess

    ours = vitdemo.load(model, device="cpu", precision=precision)
    picture = Image.open(image).convert("RGB")
    results = {}
    for p in patch_sizes:
        x = preprocess(picture, ours.config, patch_size=p)
        theirs = transformers_twin(ours.config, p, input_size(ours.config, p))
        calls = {"ours": lambda x=x, p=p: ours(x, patch_size=p, output_attentions=True, output_intermediates=True),
                 "theirs": lambda x=x, m=theirs: m(pixel_values=x, output_attentions=True)}
        with torch.inference_mode():
            ms = interleaved(calls, rounds)
        results[p] = (ms["ours"], ms["theirs"], (x.shape[-1] // p) * (x.shape[-2] // p))
    return results


def interleaved(calls: dict[str, Callable[[], object]], rounds: int) -> dict[str, float]:
    """Median ms of each call, alternating between them every round after one warm-up call each."""
    for call in calls.values():
        call()
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(rounds):
        for name, call in calls.items():
            start = time.perf_counter()
            call()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def timing_rows(name: str, precision: str, server: Timings, trip: Timings, forward: dict[int, tuple]) -> list[str]:
    """One row per patch size: server and round-trip ms of each kind, the forward passes and their ratios."""
    rows = []
    for p in server:
        ours, theirs, tokens = forward[p]
        s, t = server[p], trip[p]
        cells = [f"{s[k] * 1000:.0f} / {t[k] * 1000:.0f}" for k in KINDS]
        cells[0] += f" ({s['first analysis'] * 1000 / theirs:.2f}× tf)"
        rows.append(f"| {name} | {precision} | {p} | {tokens} | {' | '.join(cells)} | {ours:.0f} | {theirs:.0f} "
                    f"| {ours / theirs:.2f}× |")
    return rows


def model_rows(name: str, source: str, args: argparse.Namespace, images: list[Path], tmp: str) -> tuple[list, list]:
    """(cold-start rows, timing rows) for one model at every precision asked for."""
    import vitdemo

    offered = vitdemo.load(source, device="cpu", precision="fp32").config.offered_patch_sizes()
    patches = [p for p in args.patch_sizes if p in offered] or [offered[0]]
    start_rows, rows = [], []
    for precision in args.precisions:
        cold, first, trip = app_timings(source, precision, patches, images, tmp)
        server = server_timings(source, precision, patches, images)
        forward = forward_times(source, precision, patches, images[1], args.rounds)
        start_rows.append(f"| {name} | {precision} | {cold:.1f} | {first * 1000:.0f} |")
        rows += timing_rows(name, precision, server, trip, forward)
        print(start_rows[-1], *rows[-len(patches):], sep="\n", flush=True)
    return start_rows, rows


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", nargs="+", default=["bundled", "vit-b16"],
                        help="app models; vit-b16 = random ViT-B/16 weights in transformers' format")
    parser.add_argument("--precisions", nargs="+", default=["fp32", "auto"], choices=["fp32", "auto", "bf16", "fp16"])
    parser.add_argument("--patch-sizes", type=int, nargs="+", default=[8, 16, 32],
                        help="patch sizes (those a model does not offer are skipped)")
    parser.add_argument("--images", type=int, default=3, help="fresh images per patch size (median)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved forward-pass rounds (median)")
    parser.add_argument("--starts", type=int, default=3, help="extra cold starts of the first model (median)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    command = shown_command("benchmarks/bench_app.py", sys.argv[1:] if argv is None else argv)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from vitdemo.device import inference_dtype

    start_rows = ["| model | precision | cold start to served page (s) | first /analyze after start (ms) |",
                  "|---|---|---|---|"]
    rows = ["| model | precision | patch | tokens | first analysis, ms: server / round trip | view switch, ms "
            "| relevance first, ms | vitdemo forward (ms) | transformers eager fp32 forward (ms) "
            "| vitdemo ÷ tf |", "|---|---|---|---|---|---|---|---|---|---|"]
    with tempfile.TemporaryDirectory(prefix="vitdemo-bench-") as tmp:
        images = example_images(Path(tmp))[: args.images + 1]
        for name in args.models:
            source = random_vit_b16(Path(tmp) / "vit-b16") if name == "vit-b16" else name
            starts, timings = model_rows(name, source, args, images, tmp)
            start_rows += starts
            rows += timings
        again = "bundled" if args.models[0] == "vit-b16" else args.models[0]
        repeated = cold_starts(again, args.starts)
    auto = str(inference_dtype(torch.device("cpu"), "auto")).replace("torch.", "")
    lines = [f"`{command}`", "", f"torch {torch.__version__}, {torch.get_num_threads()} CPU threads, auto = {auto} "
             "on this CPU. Server: the /analyze function in-process; round trip: gradio_client over 127.0.0.1.",
             "", *start_rows]
    if repeated:
        lines.append(f"| {again} (again, ×{len(repeated)}) | auto | median {statistics.median(repeated):.1f} "
                     f"(min {min(repeated):.1f}, max {max(repeated):.1f}) | – |")
    lines += ["", *rows]
    print("\n" + "\n".join(lines))


if __name__ == "__main__":
    main()
