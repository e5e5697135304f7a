"""The feature checks of `gpu_bench.py`: every model family, the explorer bundle, faithfulness, torchrun training.

Each function returns markdown lines (a table or a sentence) and prints them as it goes, so a run cut short by
a time limit still shows what it reached. Weights are random and built here (nothing is downloaded); full
sizes on a GPU, small ones with `small=True` (what `--quick` runs on a CPU).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent

# family → (transformers config class, model class, full-size config, the hub model it stands in for)
FAMILIES: dict[str, tuple[str, str, dict[str, Any], str]] = {
    "vit": ("ViTConfig", "ViTForImageClassification", dict(num_labels=1000), "google/vit-base-patch16-224"),
    "deit": ("DeiTConfig", "DeiTForImageClassificationWithTeacher",
             dict(hidden_size=384, num_attention_heads=6, intermediate_size=1536, num_labels=1000),
             "facebook/deit-small-distilled-patch16-224"),
    "dino": ("ViTConfig", "ViTModel", dict(hidden_size=384, num_attention_heads=6, intermediate_size=1536,
                                           patch_size=8), "facebook/dino-vits8"),
    "dinov2": ("Dinov2Config", "Dinov2ForImageClassification",
               dict(hidden_size=384, num_attention_heads=6, patch_size=14, image_size=224, num_labels=1000),
               "facebook/dinov2-small-imagenet1k-1-layer"),
    "registers": ("Dinov2WithRegistersConfig", "Dinov2WithRegistersForImageClassification",
                  dict(hidden_size=384, num_attention_heads=6, patch_size=14, image_size=224, num_labels=1000,
                       num_register_tokens=4), "facebook/dinov2-with-registers-small-imagenet1k-1-layer"),
}
SMALL = dict(hidden_size=64, num_hidden_layers=2, num_attention_heads=4)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timed(fn: Callable[[], object], device: torch.device, repeat: int) -> float:
    """Median seconds of `fn` over `repeat` calls after one warm-up call."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def transformers_family(family: str, small: bool, seed: int = 0) -> Any:
    """A random transformers model of `family` with eager attention, eval mode."""
    import transformers

    config_name, model_name, full, _ = FAMILIES[family]
    config = dict(full, **(SMALL if small else {}))
    if small and "intermediate_size" in config:
        config["intermediate_size"] = 128
    if small and family.startswith(("dinov2", "registers")):
        config["mlp_ratio"] = 2
    torch.manual_seed(seed)
    model = getattr(transformers, model_name)(getattr(transformers, config_name)(**config, attn_implementation="eager"))
    with torch.no_grad():  # default inits (zero biases and registers, unit norms) would hide mix-ups
        for name, p in model.named_parameters():
            noise = torch.randn_like(p)
            if "norm" in name and name.endswith("weight") or "lambda1" in name:
                p.copy_(1 + 0.1 * noise)
            elif name.endswith("bias") or "register" in name or "token" in name:
                p.copy_(0.05 * noise)
            else:
                p.add_(0.02 * noise)
    return model.eval()


def flexivit_folder(folder: str, small: bool) -> str:
    """A random FlexiViT in vitdemo's own format (transformers has no FlexiViT): bilinear positions on the
    patches only, trained sizes 8–48, the native grid 15×15 at 240 px."""
    from vitdemo.checkpoint import save
    from vitdemo.config import ViTConfig
    from vitdemo.model import ViT

    shape = dict(dim=64, depth=2, heads=4, mlp_dim=128) if small else {}
    torch.manual_seed(0)
    config = ViTConfig(image_size=240, patch_size=16, pos_embed_prefix=False, pos_interpolation="bilinear",
                       native_patch_sizes=(8, 10, 12, 15, 16, 20, 24, 30, 40, 48), name="flexivit (random)", **shape)
    save(ViT(config), folder)
    return folder


def family_rows(device: torch.device, small: bool, batch: int, repeat: int) -> list[str]:
    """Per family: fp32 agreement with transformers, then images/s of both in auto precision at `batch`."""
    import vitdemo
    from vitdemo.device import inference_dtype

    dtype = inference_dtype(device, "auto")
    rows = [f"| family (stands in for) | tokens | fp32 max abs diff, logits / last attention | vitdemo auto "
            f"(images/s, batch {batch}) | transformers {str(dtype).removeprefix('torch.')} (images/s) "
            "| vitdemo / transformers |", "|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for family in FAMILIES:
        rows.append(_family_row(family, device, small, batch, repeat, dtype))
        print(rows[-1], flush=True)
    with tempfile.TemporaryDirectory() as folder:
        model = vitdemo.load(flexivit_folder(folder, small), device=str(device), precision="auto")
    x = torch.randn(batch, 3, 240, 240, device=device)
    with torch.inference_mode():
        finite = all(bool(torch.isfinite(model(x[:1], patch_size=p).logits).all()) for p in (8, 16, 30, 48))
        seconds = timed(lambda: model(x, patch_size=16), device, repeat)
    rows.append(f"| flexivit (vitdemo format, patch 16 at 240 px; patch 8/16/30/48 finite: {finite}) | 226 | – "
                f"| {batch / seconds:,.1f} | – | – |")
    print(rows[-1], flush=True)
    return rows


def _family_row(family: str, device: torch.device, small: bool, batch: int, repeat: int, dtype: torch.dtype) -> str:
    import vitdemo

    theirs = transformers_family(family, small).to(device)
    with tempfile.TemporaryDirectory() as folder:
        theirs.save_pretrained(folder)
        ours32 = vitdemo.load(folder, device=str(device), precision="fp32")
        ours = vitdemo.load(folder, device=str(device), precision="auto")
    x = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1)).to(device)
    with torch.inference_mode():
        a, b = ours32(x), theirs(pixel_values=x, output_attentions=True)
        theirs_logits = getattr(b, "logits", None)  # DINO's ViTModel has no classifier
        logits = (a.logits - theirs_logits).abs().max().item() if theirs_logits is not None else 0.0
        attention = (a.attentions[-1] - b.attentions[-1]).abs().max().item()
        theirs = theirs.to(dtype)
        xb = torch.randn(batch, 3, 224, 224, device=device)
        ours_s = timed(lambda: ours(xb), device, repeat)
        theirs_s = timed(lambda: theirs(pixel_values=xb.to(dtype), output_attentions=True), device, repeat)
    return (f"| {family} ({FAMILIES[family][3]}) | {a.attentions[-1].shape[-1]} | {logits:.1e} / {attention:.1e} "
            f"| {batch / ours_s:,.1f} | {batch / theirs_s:,.1f} | {theirs_s / ours_s:.2f}× |")


def explorer_rows(weights_dir: str, device: torch.device, repeat: int) -> list[str]:
    """One analysis as the app serves it, at patch 16 and 8: forward, stored analysis, explorer bundle; then
    the relevance bundle and the faithfulness curves of every method (with a random map)."""
    import vitdemo

    model = vitdemo.load(weights_dir, device=str(device), precision="auto")
    rows = ["| explorer (the throughput model, auto) | forward (ms) | stored analysis (ms) | explorer bundle (ms) "
            "| relevance bundle (ms) | faithfulness, 5 maps × 10 steps (ms) |", "|---|---|---|---|---|---|"]
    print("\n".join(rows), flush=True)
    for patch in (16, 8):
        rows.append(_explorer_row(model, patch, device, repeat))
        print(rows[-1], flush=True)
    return rows


def _explorer_row(model: Any, patch: int, device: torch.device, repeat: int) -> str:
    from PIL import Image

    from vitdemo.explain.analysis import Analysis, forward_with_everything, model_inputs
    from vitdemo.explain.payload import explorer_payload, map_stack

    image = Image.fromarray((np.random.default_rng(0).random((224, 224, 3)) * 255).astype(np.uint8))
    view, inputs = model_inputs(model, image, patch)
    out = forward_with_everything(model, inputs, patch)
    forward = timed(lambda: forward_with_everything(model, inputs, patch), device, repeat)
    store = timed(lambda: Analysis(model, view, inputs, out), device, repeat)
    bundle = timed(lambda: explorer_payload(Analysis(model, view, inputs, out), key=("gpu", patch)), device, 1)
    relevance = timed(lambda: map_stack(Analysis(model, view, inputs, out), "relevance"), device, 1)
    analysis = Analysis(model, view, inputs, out)
    curves = timed(lambda: analysis.faithfulness_comparison(random_seed=0), device, 1)
    aucs = analysis.faithfulness_comparison(random_seed=0)
    sane = all(0.0 <= f.deletion_auc <= 1.0 and 0.0 <= f.insertion_auc <= 1.0 for f in aucs.values())
    return (f"| patch {patch}, {analysis.attentions.shape[-1]} tokens (AUCs in [0, 1]: {sane}) "
            f"| {forward * 1000:.0f} | {store * 1000:.0f} | {bundle * 1000:.0f} | {relevance * 1000:.0f} "
            f"| {curves * 1000:.0f} |")


TRAIN_ARGS = ["--data", "shapes", "--image-size", "64", "--patch-size", "8", "--patch-sizes", "8,16", "--dim", "64",
              "--depth", "2", "--heads", "2", "--mlp-ratio", "2", "--batch-size", "32", "--warmup", "2",
              "--workers", "0", "--val-samples", "64", "--epochs", "1"]


def training_rows(device: torch.device, steps: int) -> list[str]:
    """`torchrun --standalone --nproc_per_node=1 -m vitdemo train` for `steps` steps: exit status, time, last line."""
    with tempfile.TemporaryDirectory() as out:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=1", "-m",
                   "vitdemo", "train", *TRAIN_ARGS, "--steps-per-epoch", str(steps), "--device", device.type,
                   "--out", out]
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        start = time.perf_counter()
        done = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
        seconds = time.perf_counter() - start
        saved = (Path(out) / "model.safetensors").exists()
    lines = (done.stdout + done.stderr).strip().splitlines()
    last = next((line for line in reversed(lines) if line.strip()), "")[:160].replace("|", "/")
    shown = " ".join(command[1:]).replace(sys.executable, "python")
    rows = ["| training | exit status | checkpoint written | seconds (start-up included) | last line |",
            "|---|---|---|---|---|",
            f"| `python {shown[:60]}…` ({steps} steps, {device.type}) | {done.returncode} | {saved} | {seconds:.0f} "
            f"| {last} |"]
    print("\n".join(rows), flush=True)
    return rows
