"""vitdemo's ViT against transformers' eager ViT on the same random ViT-B weights, in one run.

    python benchmarks/bench_core.py [--rounds 7] [--quick]

Every case runs both libraries interleaved (round-robin), so background load hits both alike, and the
table reports medians and the ratio vitdemo / transformers-fp32-eager measured side by side. Both return
every layer's attention (transformers: `output_attentions=True`, eager attention). Patch 8 uses a
ViT-B/8-shaped transformers model (transformers cannot change the patch size at run time; vitdemo runs
the B/16 weights at patch 8 through PI-resize, the same compute). Also measured, each in a fresh process:
peak RSS of a loaded ViT-B/16 answering single images, and the import cost of vitdemo beyond torch.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def hf_model(patch_size: int):
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    config = ViTConfig(patch_size=patch_size, num_labels=1000, attn_implementation="eager")
    return ViTForImageClassification(config).eval()


def time_once(fn) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def interleaved(fns: dict[str, callable], rounds: int) -> dict[str, float]:
    """Median ms per callable, alternating between them each round after two warm-up calls each."""
    for fn in fns.values():
        fn()
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            times[name].append(time_once(fn))
    return {name: statistics.median(ts) for name, ts in times.items()}


def speed_table(rounds: int, quick: bool) -> list[str]:
    import vitdemo

    rows = ["| batch | patch | transformers fp32 eager (ms) | transformers bf16 autocast (ms) "
            "| vitdemo fp32 (ms) | vitdemo auto (ms) | vitdemo fp32 / tf fp32 | vitdemo auto / tf fp32 |",
            "|---|---|---|---|---|---|---|---|"]
    hf16 = hf_model(16)
    with tempfile.TemporaryDirectory() as tmp:
        hf16.save_pretrained(tmp)
        ours32 = vitdemo.load(tmp, device="cpu", precision="fp32")
        ours_auto = vitdemo.load(tmp, device="cpu", precision="auto")
    auto_name = str(ours_auto.dtype).replace("torch.", "")
    cases = [(1, 16), (8, 16), (1, 8)] + ([] if quick else [(8, 8)])
    for batch, patch in cases:
        hf = hf16 if patch == 16 else hf_model(8)
        x = torch.randn(batch, 3, 224, 224)

        def tf_fp32(hf=hf, x=x):
            hf(pixel_values=x, output_attentions=True)

        def tf_bf16(hf=hf, x=x):
            with torch.autocast("cpu", dtype=torch.bfloat16):
                hf(pixel_values=x, output_attentions=True)

        with torch.inference_mode():
            ms = interleaved({"tf32": tf_fp32, "tf16": tf_bf16,
                              "ours32": lambda x=x, p=patch: ours32(x, patch_size=p),
                              "auto": lambda x=x, p=patch: ours_auto(x, patch_size=p)},
                             rounds if batch == 1 else max(3, rounds // 2))
        rows.append(f"| {batch} | {patch} | {ms['tf32']:.0f} | {ms['tf16']:.0f} | {ms['ours32']:.0f} "
                    f"| {ms['auto']:.0f} ({auto_name}) | {ms['ours32'] / ms['tf32']:.2f}× "
                    f"| {ms['auto'] / ms['tf32']:.2f}× |")
        print(rows[-1], flush=True)
    return rows


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7, help="timed rounds per case (batch 8: half)")
    parser.add_argument("--quick", action="store_true", help="skip batch 8 at patch 8")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(),
                        help="torch threads for both libraries (default: one per core)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, random ViT-B weights, 224 px\n")
    table = speed_table(args.rounds, args.quick)
    print("\n".join(table) + "\n")
    print("\n".join(memory_and_import_rows()))


if __name__ == "__main__":
    main()
