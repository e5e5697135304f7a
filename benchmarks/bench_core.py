"""vitdemo's ViT against the CPU's bf16 matrix-multiply limit and transformers, all measured in one run.

    python benchmarks/bench_core.py                 # ~3 min on 2 cores: the targets, the breakdown, the rest
    python benchmarks/bench_core.py --quick         # ~1 min: ViT-B/16 batch 1 and the explanation rows only
    OPENBLAS_NUM_THREADS=1 python benchmarks/bench_core.py --quick --threads 1 --clock cpu   # on a busy machine

Random ViT-B weights written by transformers' `save_pretrained` and loaded by `vitdemo.load`; 224 px; every
contender returns every layer's attention (transformers: eager attention, `output_attentions=True`).

* **bf16 GEMM limit**: the model's own matrix products and nothing else — patch embedding, per layer qkv,
  q·kᵀ, A·v, proj, fc1, fc2, then the head — each a bare bf16 `mm`/`bmm` on contiguous operands at the
  model's shapes, one weight matrix per layer as in the model. Their sum is the time a forward would take
  if everything outside the matrix products were free; its FLOPs divided by it is the measured GEMM rate.
* Every contender and the limit run **interleaved** (round-robin, median kept), so background load hits all
  alike: the ratios are what to read, the milliseconds move with the machine's load (printed).
* **Where the time goes**: torch.profiler over vitdemo's bf16 forward, self time per kind of operation;
  "Python and dispatch" is the wall time the operations do not account for.
* **Explanations**: relevance and LeGrad, first request (the hand-written backward of
  `vitdemo/explain/backprop.py` on the activations the analysis forward kept, then the map), against the
  analysis forward, and a first analysis at patch 8 (785 tokens) as the app serves it: forward, stored
  `Analysis`, explorer bundle.

Patch 8 uses a ViT-B/8-shaped transformers model (transformers cannot change the patch size at run time);
vitdemo runs the B/16 weights at patch 8 through PI-resize, the same compute. Also measured, each in a
fresh process: peak RSS of a loaded ViT-B/16 answering single images, and the import cost of vitdemo.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

TARGETS = {"limit": 1.15, "tf16": 0.75, "tf32": 0.25}  # vitdemo auto ÷ each, ViT-B/16, batch 1, patch 16
RELEVANCE_TARGET, PATCH8_TARGET_MS = 2.0, 500.0


def hf_model(patch_size: int):
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(patch_size=patch_size, num_labels=1000, attn_implementation="eager")
    return ViTForImageClassification(config).eval()


CLOCK = time.perf_counter  # `--clock cpu`: time.process_time, the CPU time of this process (one thread only)


def interleaved(fns: dict[str, Callable[[], object]], rounds: int, warmup: int = 2) -> dict[str, float]:
    """Median ms per callable, alternating between them each round after `warmup` calls each."""
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            start = CLOCK()
            fn()
            times[name].append((CLOCK() - start) * 1000)
    return {name: statistics.median(ts) for name, ts in times.items()}


# --------------------------------------------------------------------------------------------------------
# The limit: the model's matrix products alone


class GemmLimit:
    """The matrix products of one ViT forward at batch `batch` and `tokens` tokens, as bare bf16 GEMMs.

    Operands are allocated once (one set of weights per layer, like the model: the weights do not stay in
    cache between layers any more than they do in the model); `__call__` runs the products in model order.
    """

    def __init__(self, batch: int, tokens: int, patches: int, dim: int = 768, depth: int = 12, heads: int = 12,
                 mlp: int = 3072, patch_pixels: int = 3 * 16 * 16, classes: int = 1000):
        bf = torch.bfloat16
        rows, head_dim = batch * tokens, dim // heads

        def rand(*shape):
            return torch.randn(*shape, dtype=bf) * 0.02

        self.embed = (rand(batch * patches, patch_pixels), rand(patch_pixels, dim))
        self.layers = [dict(x=rand(rows, dim), qkv=rand(dim, 3 * dim), q=rand(batch * heads, tokens, head_dim),
                            kt=rand(batch * heads, head_dim, tokens), a=rand(batch * heads, tokens, tokens),
                            v=rand(batch * heads, tokens, head_dim), proj=rand(dim, dim), fc1=rand(dim, mlp),
                            h=rand(rows, mlp), fc2=rand(mlp, dim)) for _ in range(depth)]
        self.head = (rand(batch, dim), rand(dim, classes))
        matmuls = [(batch * patches, patch_pixels, dim), (batch, dim, classes)]
        per_layer = [(rows, dim, 3 * dim), (rows, dim, dim), (rows, dim, mlp), (rows, mlp, dim),
                     (batch * heads * tokens, head_dim, tokens), (batch * heads * tokens, tokens, head_dim)]
        self.flops = 2 * sum(m * k * n for m, k, n in matmuls + per_layer * depth)

    def __call__(self) -> None:
        torch.mm(*self.embed)
        for p in self.layers:
            torch.mm(p["x"], p["qkv"])
            torch.bmm(p["q"], p["kt"])
            torch.bmm(p["a"], p["v"])
            torch.mm(p["x"], p["proj"])
            torch.mm(p["x"], p["fc1"])
            torch.mm(p["h"], p["fc2"])
        torch.mm(*self.head)


# --------------------------------------------------------------------------------------------------------
# Forward passes side by side


def speed_table(weights_dir: str, hf16, rounds: int, quick: bool) -> tuple[list[str], dict[str, float]]:
    """The ViT-B cases; returns the markdown rows and the batch-1 patch-16 medians (for the targets)."""
    import vitdemo

    ours32 = vitdemo.load(weights_dir, device="cpu", precision="fp32")
    auto = vitdemo.load(weights_dir, device="cpu", precision="auto")
    auto_name = str(auto.dtype).removeprefix("torch.")
    rows = ["| batch | patch | tokens | bf16 GEMM limit (ms) | vitdemo auto (ms) "
            "| transformers bf16 autocast (ms) | transformers fp32 eager (ms) | vitdemo fp32 (ms) "
            "| auto ÷ limit | auto ÷ tf bf16 | auto ÷ tf fp32 | GEMM rate (GFLOP/s) |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    cases = [(1, 16)] + ([] if quick else [(8, 16), (1, 8)])
    first: dict[str, float] = {}
    for batch, patch in cases:
        hf = hf16 if patch == 16 else hf_model(patch)
        x = torch.randn(batch, 3, 224, 224)
        patches = (224 // patch) ** 2
        limit = GemmLimit(batch, patches + 1, patches, patch_pixels=3 * patch * patch)

        def tf16(hf=hf, x=x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                hf(pixel_values=x, output_attentions=True)

        fns = {"limit": limit, "auto": lambda x=x, p=patch: auto(x, patch_size=p), "tf16": tf16,
               "tf32": lambda hf=hf, x=x: hf(pixel_values=x, output_attentions=True),
               "ours32": lambda x=x, p=patch: ours32(x, patch_size=p)}
        with torch.inference_mode():
            ms = interleaved(fns, rounds if batch == 1 and patch == 16 else max(3, rounds // 3))
        ms["rate"] = limit.flops / ms["limit"] / 1e6
        first = first or ms
        rows.append(f"| {batch} | {patch} | {patches + 1} | {ms['limit']:.1f} | {ms['auto']:.1f} ({auto_name}) "
                    f"| {ms['tf16']:.1f} | {ms['tf32']:.1f} | {ms['ours32']:.1f} "
                    f"| {ms['auto'] / ms['limit']:.2f}× | {ms['auto'] / ms['tf16']:.2f}× "
                    f"| {ms['auto'] / ms['tf32']:.2f}× | {ms['rate']:.0f} |")
        print(rows[-1], flush=True)
    return rows, first


CATEGORIES = {  # profiler op name → the kind of work it is
    "matrix products": ("aten::addmm", "aten::mm", "aten::bmm", "aten::mkldnn_convolution",
                        "aten::_scaled_dot_product_flash_attention_for_cpu"),
    "softmax": ("aten::_softmax",),
    "LayerNorm": ("aten::native_layer_norm",),
    "GELU": ("aten::gelu",),
    "adds and scales": ("aten::add", "aten::mul", "aten::div", "aten::add_", "aten::mul_"),
    "copies and casts": ("aten::copy_", "aten::cat", "aten::_to_copy", "aten::clone", "aten::contiguous"),
}


def breakdown_rows(weights_dir: str, forwards: int) -> list[str]:
    """Self time per kind of operation, ms per forward, of vitdemo's forward at `precision="auto"`."""
    import vitdemo

    model = vitdemo.load(weights_dir, device="cpu", precision="auto")
    x = torch.randn(1, 3, 224, 224)
    with torch.inference_mode():
        for _ in range(3):
            model(x)
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as prof:
            start = time.perf_counter()
            for _ in range(forwards):
                model(x)
            wall = (time.perf_counter() - start) * 1000 / forwards
    totals = {kind: 0.0 for kind in (*CATEGORIES, "other operations")}
    for event in prof.key_averages():
        kind = next((k for k, ops in CATEGORIES.items() if event.key in ops), "other operations")
        totals[kind] += event.self_cpu_time_total / 1000 / forwards
    totals["Python and dispatch"] = max(0.0, wall - sum(totals.values()))
    totals["total (profiled wall)"] = wall
    rows = [f"| where the time goes (ViT-B/16, batch 1, {str(model.dtype).removeprefix('torch.')}, profiled) "
            "| vitdemo auto (ms) |", "|---|---|"]
    rows += [f"| {kind} | {ms:.1f} |" for kind, ms in totals.items()]
    return rows


# --------------------------------------------------------------------------------------------------------
# Explanations: relevance against the forward, the patch-8 analysis as the app serves it


def explanation_rows(weights_dir: str, rounds: int) -> tuple[list[str], dict[str, float]]:
    from PIL import Image

    import vitdemo
    from vitdemo.explain.analysis import Analysis, forward_with_everything, model_inputs
    from vitdemo.explain.payload import explorer_payload, map_stack

    model = vitdemo.load(weights_dir, device="cpu", precision="auto")
    image = Image.fromarray((np.random.default_rng(0).random((224, 224, 3)) * 255).astype(np.uint8))
    view, inputs = model_inputs(model, image, 16)
    outputs: list = []

    def forward():
        outputs.append(forward_with_everything(model, inputs, 16))

    def relevance():  # a fresh analysis of the last forward, so the first relevance request is timed each time
        Analysis(model, view, inputs, outputs[-1]).attention_map("relevance")

    def relevance_bundle():  # what the explorer asks for: every layer × head fusion of relevance for a class
        map_stack(Analysis(model, view, inputs, outputs[-1]), "relevance", target=None)

    def legrad():
        Analysis(model, view, inputs, outputs[-1]).attention_map("legrad")

    ms = interleaved({"forward": forward, "relevance": relevance, "bundle": relevance_bundle, "legrad": legrad},
                     rounds)
    rows = ["| explanation (ViT-B/16, bf16) | median ms | ÷ forward | target |", "|---|---|---|---|",
            f"| analysis forward (inference, every attention and stage, the blocks' records), patch 16 "
            f"| {ms['forward']:.0f} | 1.00× | |",
            f"| relevance, first request: backward on the kept activations + map | {ms['relevance']:.0f} "
            f"| {ms['relevance'] / ms['forward']:.2f}× | ≤ {RELEVANCE_TARGET}× |",
            f"| the explorer's relevance bundle (every layer, 3 head fusions), first request | {ms['bundle']:.0f} "
            f"| {ms['bundle'] / ms['forward']:.2f}× | |",
            f"| LeGrad, first request: one partial backward per layer + map | {ms['legrad']:.0f} "
            f"| {ms['legrad'] / ms['forward']:.2f}× | |"]
    view8, inputs8 = model_inputs(model, image, 8)
    parts: dict[str, list[float]] = {"forward": [], "Analysis": [], "payload": [], "total": []}
    for _ in range(max(2, rounds // 3) + 1):
        t0 = CLOCK()
        out = forward_with_everything(model, inputs8, 8)
        t1 = CLOCK()
        analysis = Analysis(model, view8, inputs8, out)
        t2 = CLOCK()
        explorer_payload(analysis, key=("bench", 8))
        t3 = CLOCK()
        for name, seconds in (("forward", t1 - t0), ("Analysis", t2 - t1), ("payload", t3 - t2), ("total", t3 - t0)):
            parts[name].append(seconds * 1000)
        del out, analysis
    p8 = {name: statistics.median(values[1:]) for name, values in parts.items()}  # the first is a warm-up
    rows.append(f"| patch-8 analysis as served (785 tokens): forward {p8['forward']:.0f} + stored Analysis "
                f"{p8['Analysis']:.0f} + explorer bundle {p8['payload']:.0f} | {p8['total']:.0f} "
                f"| {p8['total'] / ms['forward']:.2f}× | ≤ {PATCH8_TARGET_MS:.0f} ms |")
    for row in rows[2:]:
        print(row, flush=True)
    return rows, {"relevance": ms["relevance"] / ms["forward"], "patch8": p8["total"]}


# --------------------------------------------------------------------------------------------------------
# Memory and import, each in a fresh process


RSS_SCRIPT = """
import sys, torch
sys.path.insert(0, {root!r})
import vitdemo
model = vitdemo.load({path!r}, device='cpu', precision={precision!r})
with torch.inference_mode():
    for _ in range(10):
        out = model(torch.randn(1, 3, 224, 224))
# VmHWM, not ru_maxrss: Linux carries the parent's high-water mark into ru_maxrss across fork + exec,
# so a child of this (large) benchmark process would report the parent's peak.
print(int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0]) / 1024)
"""

IMPORT_SCRIPT = """
import time, sys
sys.path.insert(0, {root!r})
t0 = time.perf_counter(); import torch; t1 = time.perf_counter()
import vitdemo; vitdemo.load; vitdemo.ViT; vitdemo.preprocess; t2 = time.perf_counter()
print(t1 - t0, t2 - t1)
"""


def run_python(code: str) -> str:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout


def memory_and_import_rows() -> list[str]:
    from vitdemo.checkpoint import save
    from vitdemo.config import ViTConfig
    from vitdemo.model import ViT

    rows = ["| measure | value |", "|---|---|"]
    with tempfile.TemporaryDirectory() as tmp:
        save(ViT(ViTConfig()), tmp)
        for precision in ("fp32", "auto"):
            code = RSS_SCRIPT.format(root=str(ROOT), path=tmp, precision=precision)
            mb = float(run_python(code).split()[-1])
            rows.append(f"| peak RSS, ViT-B/16 loaded ({precision}), 10 single images with attention | {mb:.0f} MB |")
    torch_s, ours_s = map(float, run_python(IMPORT_SCRIPT.format(root=str(ROOT))).split())
    rows.append(f"| `import torch` | {torch_s:.2f} s |")
    rows.append(f"| `import vitdemo` + load/ViT/preprocess, beyond torch | {ours_s:.2f} s |")
    return rows


# --------------------------------------------------------------------------------------------------------


def verdicts(first: dict[str, float], explain: dict[str, float] | None) -> list[str]:
    """One line per target: measured, target, met or not."""
    lines = []
    for key, label in (("limit", "the bf16 GEMM limit"), ("tf16", "transformers bf16 autocast"),
                       ("tf32", "transformers fp32 eager")):
        ratio = first["auto"] / first[key]
        floor = "" if key == "limit" else f"; the GEMM limit itself is {first['limit'] / first[key]:.2f}× it"
        lines.append(f"- vitdemo auto ÷ {label}: {ratio:.2f}× (target ≤ {TARGETS[key]}×{floor}): "
                     f"{'met' if ratio <= TARGETS[key] else 'missed'}")
    if explain:
        lines.append(f"- relevance ÷ forward: {explain['relevance']:.2f}× (target ≤ {RELEVANCE_TARGET}×): "
                     f"{'met' if explain['relevance'] <= RELEVANCE_TARGET else 'missed'}")
        lines.append(f"- patch-8 analysis: {explain['patch8']:.0f} ms (target ≤ {PATCH8_TARGET_MS:.0f} ms): "
                     f"{'met' if explain['patch8'] <= PATCH8_TARGET_MS else 'missed'}")
    return lines


def load_line() -> str:
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15, help="timed rounds at batch 1, patch 16 (others: a third)")
    parser.add_argument("--quick", action="store_true", help="batch 1 patch 16 and the explanations only")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads for every contender (default: one per core)")
    parser.add_argument("--no-extras", action="store_true", help="skip the breakdown, memory and import rows")
    parser.add_argument("--clock", choices=("wall", "cpu"), default="wall",
                        help="'cpu': time each call by this process's CPU time, which a busy machine does not "
                             "inflate by descheduling it (needs --threads 1: with more, waiting threads count)")
    args = parser.parse_args()
    if args.clock == "cpu":
        if args.threads != 1:
            parser.error("--clock cpu needs --threads 1")
        global CLOCK
        CLOCK = time.process_time
    torch.set_num_threads(args.threads)
    command = "python benchmarks/bench_core.py " + " ".join(sys.argv[1:])
    print(f"`{command}`\n\ntorch {torch.__version__}, {torch.get_num_threads()} threads, {args.clock} clock, "
          f"{platform.processor() or platform.machine()}, random ViT-B weights, 224 px; at start: {load_line()}\n")
    hf16 = hf_model(16)
    with tempfile.TemporaryDirectory() as weights_dir:
        hf16.save_pretrained(weights_dir)
        speed, first = speed_table(weights_dir, hf16, args.rounds, args.quick)
        explain_rows, explain = explanation_rows(weights_dir, max(3, args.rounds // 2))
        breakdown = [] if args.no_extras else breakdown_rows(weights_dir, forwards=10)
    print("\n" + "\n".join(speed) + "\n")
    print("\n".join(verdicts(first, explain)) + "\n")
    print("\n".join(explain_rows) + "\n")
    if breakdown:
        print("\n".join(breakdown) + "\n")
        print("\n".join(memory_and_import_rows()) + "\n")
    print(f"at end: {load_line()}")


if __name__ == "__main__":
    main()
