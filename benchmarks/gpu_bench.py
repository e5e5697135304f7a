"""The GPU check: every model family, the explorer bundle, faithfulness, torchrun training, and throughput
with attention maps against transformers eager — same weights, same run, one results file.

    python benchmarks/gpu_bench.py --device cuda --out gpu_results.md     # what gpu_check.sh runs (~5 min)
    python benchmarks/gpu_bench.py --device cpu --quick                    # small models: checks the script

Sections, in order (each row says what it measured):

1. **Agreement**: random ViT-B/16 weights written once with transformers' `save_pretrained` and read back by
   vitdemo; fp32 logits of the two on random images.
2. **Families**: ViT, DeiT (distilled), FlexiViT (vitdemo's own format, run at several patch sizes), DINO,
   DINOv2 and DINOv2 with registers, random weights built locally (nothing is downloaded): fp32 logits and
   last-layer attention against transformers eager, then images/s of both in `auto` precision.
3. **Explorer and faithfulness**: one analysis as the app serves it (forward, stored analysis, explorer
   bundle) at patch 16 and patch 8, the relevance bundle, and the deletion/insertion curves of every map.
4. **Training**: `torchrun --nproc_per_node=1 -m vitdemo train` on the shapes data (a few steps).
5. **Throughput**: ViT-B/16 images/s at batch 1/32/128 and fp32/bf16/fp16, every layer's attention
   (`output_attentions=True`, transformers' eager attention: its only path that returns them). Each precision
   runs both libraries round-robin so clock boosts and background load hit both alike; transformers at
   fp16/bf16 is the model cast to that dtype.

`--quick` swaps ViT-B for small models and shortens every timing, so the whole script runs on a CPU in
about a minute (tests/test_gpu_bench.py runs it that way).
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import gpu_checks  # noqa: E402  (the family, explorer, faithfulness and training checks)

DTYPES = {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class Case:
    """One batch size at one precision: the measured images/s of each library."""

    batch: int
    precision: str
    vitdemo: float
    transformers: float
    peak_mb: tuple[float, float] | None  # vitdemo's and transformers' peak allocated GPU memory


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def images_per_second(fn: Callable[[], object], batch: int, device: torch.device, min_seconds: float,
                      min_calls: int) -> float:
    """Throughput of `fn` over at least `min_calls` calls and `min_seconds`, after one warm-up call."""
    fn()
    synchronize(device)
    calls, start = 0, time.perf_counter()
    while calls < min_calls or time.perf_counter() - start < min_seconds:
        fn()
        calls += 1
    synchronize(device)
    return batch * calls / (time.perf_counter() - start)


SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128)  # --quick


def transformers_vit_b16(seed: int = 0, small: bool = False):
    """A randomly initialised transformers ViT-B/16 classifier (small: 2 layers of width 64) with eager attention."""
    from transformers import ViTConfig, ViTForImageClassification

    torch.manual_seed(seed)
    config = ViTConfig(patch_size=16, image_size=224, num_labels=1000, attn_implementation="eager",
                       **(SMALL if small else {}))
    return ViTForImageClassification(config).eval()


def agreement_row(ours, theirs, device: torch.device, size: int = 224) -> str:
    """Max |Δlogit| and top-1 agreement of the two fp32 models on one random batch."""
    x = torch.randn(4, 3, size, size, generator=torch.Generator().manual_seed(1)).to(device)
    with torch.inference_mode():
        a = ours(x, output_attentions=True).logits.float()
        b = theirs(pixel_values=x, output_attentions=True).logits.float()
    diff = (a - b).abs().max().item()
    same = (a.argmax(-1) == b.argmax(-1)).float().mean().item()
    return f"fp32 logits, vitdemo vs transformers on 4 random images: max |Δ| = {diff:.2e}, top-1 agreement {same:.0%}"


def measure_precision(weights_dir: str, hf_fp32, precision: str, batches: list[int], device: torch.device,
                      min_seconds: float, rounds: int, min_calls: int) -> list[Case]:
    """Every batch size at one precision, the two libraries alternating `rounds` times (median kept)."""
    import vitdemo

    ours = vitdemo.load(weights_dir, device=str(device), precision=precision)
    theirs = hf_fp32 if precision == "fp32" else _cast_copy(hf_fp32, DTYPES[precision])
    cases = []
    for batch in batches:
        x = torch.randn(batch, 3, 224, 224, device=device)
        x_theirs = x.to(DTYPES[precision])

        def run_ours(x=x, model=ours):
            return model(x, output_attentions=True)

        def run_theirs(x=x_theirs, model=theirs):
            return model(pixel_values=x, output_attentions=True)

        samples: dict[str, list[float]] = {"ours": [], "theirs": []}
        peaks = {"ours": 0.0, "theirs": 0.0}
        with torch.inference_mode():
            for _ in range(rounds):
                for name, fn in (("ours", run_ours), ("theirs", run_theirs)):
                    if device.type == "cuda":
                        torch.cuda.reset_peak_memory_stats(device)
                    samples[name].append(images_per_second(fn, batch, device, min_seconds, min_calls))
                    if device.type == "cuda":
                        peaks[name] = max(peaks[name], torch.cuda.max_memory_allocated(device) / 2**20)
        peak = (peaks["ours"], peaks["theirs"]) if device.type == "cuda" else None
        cases.append(Case(batch, precision, statistics.median(samples["ours"]),
                          statistics.median(samples["theirs"]), peak))
        print(_row(cases[-1]), flush=True)
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return cases


def _cast_copy(model, dtype: torch.dtype):
    import copy

    return copy.deepcopy(model).to(dtype)


def _row(case: Case) -> str:
    peak = f"{case.peak_mb[0]:,.0f} / {case.peak_mb[1]:,.0f}" if case.peak_mb is not None else "–"
    return (f"| {case.batch} | {case.precision} | {case.vitdemo:,.1f} | {case.transformers:,.1f} "
            f"| {case.vitdemo / case.transformers:.2f}× | {peak} |")


def speedup_rows(cases: list[Case]) -> list[str]:
    """vitdemo's reduced-precision throughput over its own fp32 (and transformers' likewise), per batch."""
    fp32 = {c.batch: c for c in cases if c.precision == "fp32"}
    rows = ["| batch | precision | vitdemo vs its fp32 | transformers vs its fp32 |", "|---|---|---|---|"]
    for c in cases:
        if c.precision != "fp32" and c.batch in fp32:
            base = fp32[c.batch]
            rows.append(f"| {c.batch} | {c.precision} | {c.vitdemo / base.vitdemo:.2f}× "
                        f"| {c.transformers / base.transformers:.2f}× |")
    return rows


def environment_lines(device: torch.device) -> list[str]:
    import transformers

    lines = [f"- torch {torch.__version__}, transformers {transformers.__version__}, Python "
             f"{platform.python_version()}"]
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        lines.append(f"- GPU: {props.name}, {props.total_memory / 2**30:.0f} GiB, CUDA {torch.version.cuda}, "
                     f"TF32 matmul {'on' if torch.backends.cuda.matmul.allow_tf32 else 'off'}")
    else:
        lines.append(f"- CPU: {platform.processor() or platform.machine()}, {torch.get_num_threads()} threads")
    return lines


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda", help="cuda (default), cuda:1, cpu, ...")
    parser.add_argument("--quick", action="store_true", help="batches 1 and 2, fp32 and bf16, short timings")
    parser.add_argument("--batches", type=int, nargs="+", help="batch sizes (default 1 32 128)")
    parser.add_argument("--precisions", nargs="+", choices=list(DTYPES), help="default fp32 bf16 fp16")
    parser.add_argument("--seconds", type=float, default=1.0, help="minimum timed seconds per sample")
    parser.add_argument("--rounds", type=int, default=3, help="alternating samples per case (median kept)")
    parser.add_argument("--calls", type=int, default=3, help="minimum timed calls per sample")
    parser.add_argument("--out", default="gpu_results.md", help="results file (markdown)")
    parser.add_argument("--train-steps", type=int, default=20, help="optimizer steps of the torchrun training check")
    parser.add_argument("--skip", nargs="+", default=[], choices=["families", "explorer", "training", "throughput"],
                        help="sections to leave out")
    args = parser.parse_args(argv)
    if args.quick:
        args.batches = args.batches or [1, 2]
        args.precisions = args.precisions or ["fp32", "bf16"]
        args.seconds, args.rounds, args.calls = min(args.seconds, 0.2), 1, 1
        args.train_steps = min(args.train_steps, 2)
    args.batches = args.batches or [1, 32, 128]
    args.precisions = args.precisions or ["fp32", "bf16", "fp16"]
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    device = torch.device(args.device)
    if device.type == "cuda" and not torch.cuda.is_available():
        sys.exit("CUDA is not available to torch; pass --device cpu to check the script on a CPU")
    command = "python benchmarks/gpu_bench.py " + " ".join(sys.argv[1:] if argv is None else argv)
    started = time.perf_counter()
    small, repeat = args.quick, max(1, args.rounds)
    hf = transformers_vit_b16(small=small).to(device)
    header = ["| batch | precision | vitdemo (images/s) | transformers eager (images/s) | vitdemo / transformers "
              "| peak GPU memory, vitdemo / transformers (MB) |", "|---|---|---|---|---|---|"]
    sections: list[str] = []
    cases: list[Case] = []
    with tempfile.TemporaryDirectory() as weights_dir:
        hf.save_pretrained(weights_dir)
        import vitdemo

        agreement = agreement_row(vitdemo.load(weights_dir, device=str(device), precision="fp32"), hf, device)
        print(agreement, flush=True)
        if "families" not in args.skip:
            sections += ["## Model families (random weights, built locally)", "",
                         *gpu_checks.family_rows(device, small, batch=2 if small else 32, repeat=repeat), ""]
        if "explorer" not in args.skip:
            sections += ["## The explorer and faithfulness", "",
                         *gpu_checks.explorer_rows(weights_dir, device, repeat=repeat), ""]
        if "training" not in args.skip:
            sections += ["## Training with torchrun, one process", "",
                         *gpu_checks.training_rows(device, args.train_steps), ""]
        if "throughput" not in args.skip:
            print("\n".join(header), flush=True)
            for precision in args.precisions:
                cases += measure_precision(weights_dir, hf, precision, args.batches, device, args.seconds,
                                           args.rounds, args.calls)
    model_name = "a small ViT (--quick)" if small else "ViT-B/16"
    lines = [f"# GPU check on {args.device}: families, explorer, training, {model_name} throughput", "",
             f"`{command}`", "", *environment_lines(device), f"- {agreement}",
             f"- total benchmark time {time.perf_counter() - started:.0f} s", "", *sections]
    if cases:
        lines += [f"## Throughput with attention maps ({model_name})", "", *header, *[_row(c) for c in cases], "",
                  *speedup_rows(cases), ""]
    Path(args.out).write_text("\n".join(lines))
    print("\n".join(lines[:8]))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
