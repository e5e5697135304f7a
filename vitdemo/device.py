"""Where the model runs and in which number format: the fastest choice that keeps the same answers.

`precision="auto"` means bf16 on CPUs that compute it natively (AVX-512 BF16 / AMX: about 3× fp32 for
ViT-B/16) and fp32 on other CPUs, where emulated bf16 is slower; bf16 (or fp16 without bf16) on CUDA.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .settings import settings

PRECISIONS = ("auto", "fp32", "bf16", "fp16")


def pick_device(device: str | torch.device | None = None) -> torch.device:
    """The argument, else $VITDEMO_DEVICE, else cuda, then mps, then cpu."""
    choice = device or settings().device
    if choice:
        return torch.device(choice)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


@functools.lru_cache(maxsize=1)
def cpu_has_native_bf16() -> bool:
    """True when this CPU has bf16 dot-product instructions (avx512_bf16 or AMX), read from /proc/cpuinfo."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = f.read()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def inference_dtype(device: torch.device, precision: str | None = None) -> torch.dtype:
    """The dtype weights and activations use for `precision` ("auto", "fp32", "bf16", "fp16") on `device`."""
    precision = precision or settings().precision
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}, not {precision!r}")
    if precision != "auto":
        return {"fp32": torch.float32, "bf16": torch.bfloat16, "fp16": torch.float16}[precision]
    if device.type == "cuda":
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if device.type == "cpu" and cpu_has_native_bf16():
        return torch.bfloat16
    return torch.float32


def avoid_huge_page_stalls() -> None:
    """Ask NumPy to allocate big arrays in ordinary pages, not transparent huge pages.

    NumPy advises the kernel to back every large array with huge pages. Where the kernel then compacts
    memory on the spot to find them (`transparent_hugepage/defrag` = madvise, a common default, and this
    machine's), copying a patch-8 analysis's 355 MB of ViT-B attentions into a fresh array took 29-527 ms,
    median ~440 (measured six times in a row); with ordinary pages it takes a steady 76-95 ms. An analysis
    allocates such arrays on every image, so predictable beats occasionally faster. Process-wide, idempotent.
    """
    setter = getattr(getattr(getattr(np, "_core", None), "multiarray", None), "_set_madvise_hugepage", None)
    if setter is not None:  # a private NumPy 2 switch (np.core in NumPy 1): without it nothing changes
        setter(False)
