"""Resident memory of relevance for new classes, one after another, on one analysis (issue 21's per-class attack).

    python benchmarks/attack_memory.py                       # 8 classes at patch 8, both request paths
    python benchmarks/attack_memory.py --classes 4 --paths api --patch-size 16

What this adds to benchmarks/attack.py (the one replay of issue 21, over HTTP, whose relevance rows give
the server's growth for 8 classes at once): the growth class by class and what the cache counts for it,
in-process: no server, no HTTP. A random ViT-B/16 (transformers' `ViTForImageClassification` with the
default config, written with `save_pretrained`, loaded with `vitdemo.load` as the app loads a folder, default
precision) analyses one photo at `--patch-size` (8: 785 tokens), then relevance is asked for `--classes`
classes other than the top-1, one after another, the way a request path asks:

* api: `attention_map("relevance", layer=-1, head="mean", target=c)`, what /analyze computes;
* explorer: `payload.map_stack(a, "relevance", target=c)`, every layer of the three head fusions, what the
  explorer's relevance function sends.

Each path runs in a fresh process (memory freed by one would be reused by the next and hide its cost). The
table gives, after each class, the process's resident memory (VmRSS) and its growth since the analysis, the
peak (VmHWM, reset after the analysis via /proc/self/clear_refs) and what the app's cache counts for the
analysis (`vitdemo.app.cache.analysis_nbytes`). Target (issue 21): 8 more classes at patch 8 add ≤ 400 MB.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

MB = 2**20
TARGET_MB = 400.0
PATHS = ("api", "explorer")

from memory_bounds import peak_resettable as reset_peak  # noqa: E402
from memory_bounds import status_mb  # noqa: E402


def random_vit_b16(folder: str) -> None:
    """A random ViT-B/16 in transformers' layout, written to `folder`."""
    import torch
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(0)
    ViTForImageClassification(ViTConfig(num_labels=1000)).save_pretrained(folder)


def relevance_memory(model: Any, image: Any, patch_size: int = 8, classes: int = 8,
                     path: str = "api") -> list[dict[str, Any]]:
    """Rows {step, rss_mb, grown_mb, peak_mb, cache_mb, seconds}: after the analysis, then after relevance for
    each of `classes` classes (not the top-1) asked the way `path` ("api" or "explorer") asks."""
    import gc

    from vitdemo.app.cache import analysis_nbytes
    from vitdemo.explain import analyze, payload

    a = analyze(model, image, patch_size=patch_size)
    gc.collect()
    base = status_mb("VmRSS")
    reset_peak()
    rows = [dict(step="analysed", rss_mb=base, grown_mb=0.0, peak_mb=status_mb("VmHWM"),
                 cache_mb=analysis_nbytes(a) / MB, seconds=0.0)]
    top = int(a.probabilities.argmax())
    for n, target in enumerate([c for c in range(classes + 1) if c != top][:classes], start=1):
        start = time.perf_counter()
        if path == "api":
            a.attention_map("relevance", layer=-1, head="mean", target=target)
        else:
            payload.map_stack(a, "relevance", target=target)
        seconds = time.perf_counter() - start
        gc.collect()
        rss = status_mb("VmRSS")
        rows.append(dict(step=f"class {n}", rss_mb=rss, grown_mb=rss - base, peak_mb=status_mb("VmHWM"),
                         cache_mb=analysis_nbytes(a) / MB, seconds=seconds))
    return rows


def child(folder: str, patch_size: int, classes: int, path: str) -> None:
    """One path in this (fresh) process; prints its rows as JSON."""
    import numpy as np
    from PIL import Image

    import vitdemo

    model = vitdemo.load(folder, device="cpu")
    photo = Image.fromarray(np.random.default_rng(0).integers(0, 256, (224, 224, 3), dtype=np.uint8))
    relevance_memory(model, photo, patch_size=16, classes=1, path=path)  # warm: lazy imports, torch's pools
    info = dict(dtype=str(model.dtype).replace("torch.", ""), loaded_mb=status_mb("VmRSS"))
    print(json.dumps(dict(info, rows=relevance_memory(model, photo, patch_size, classes, path))))


def table(path: str, result: dict[str, Any]) -> list[str]:
    lines = [f"**{path}** ({result['dtype']}; model loaded and warmed: {result['loaded_mb']:.0f} MB)", "",
             "| after | RSS (MB) | grown since the analysis (MB) | peak since the analysis (MB) "
             "| the cache counts (MB) | s |", "|---|---|---|---|---|---|"]
    for row in result["rows"]:
        lines.append(f"| {row['step']} | {row['rss_mb']:.0f} | {row['grown_mb']:+.0f} | {row['peak_mb']:.0f} "
                     f"| {row['cache_mb']:.0f} | {row['seconds']:.2f} |")
    grown = result["rows"][-1]["grown_mb"]
    verdict = "met" if grown <= TARGET_MB else "**missed**"
    return lines + ["", f"{len(result['rows']) - 1} classes: {grown:+.0f} MB (target ≤ +{TARGET_MB:.0f} MB): "
                        f"{verdict}", ""]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--classes", type=int, default=8)
    parser.add_argument("--patch-size", type=int, default=8)
    parser.add_argument("--paths", nargs="+", choices=PATHS, default=list(PATHS))
    parser.add_argument("--child", nargs=2, metavar=("FOLDER", "PATH"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.patch_size, args.classes, args.child[1])
        return
    print(f"`python benchmarks/attack_memory.py {' '.join(sys.argv[1:])}`: random ViT-B/16, patch "
          f"{args.patch_size}, relevance for {args.classes} new classes one after another\n")
    with tempfile.TemporaryDirectory() as folder:
        random_vit_b16(folder)
        for path in args.paths:
            command = [sys.executable, __file__, "--child", folder, path, "--classes", str(args.classes),
                       "--patch-size", str(args.patch_size)]
            out = subprocess.run(command, capture_output=True, text=True, check=True).stdout
            print("\n".join(table(path, json.loads(out.strip().splitlines()[-1]))))


if __name__ == "__main__":
    main()
