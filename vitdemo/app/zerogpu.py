"""Hugging Face ZeroGPU support: `@gpu` is `spaces.GPU` where the `spaces` package imports, else a no-op.

ZeroGPU patches torch's CUDA initialisation, so `spaces` must be imported before torch touches CUDA: this
module is the first thing `vitdemo.app` imports, and it imports nothing heavy itself.

On ZeroGPU a decorated call runs in a forked worker holding the GPU and its result is pickled back, so the
functions we decorate take and return plain CPU data (a model key, tensors) and never a model or a cache.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any, TypeVar

try:  # the package exists on Spaces (and can be pip-installed elsewhere, where its GPU() is a no-op)
    import spaces
except ImportError:  # everywhere else
    spaces = None

F = TypeVar("F", bound=Callable[..., Any])
GPU_SECONDS = 60  # the most one analysis may hold a ZeroGPU slice; a ViT-B forward needs well under 1 s


def on_zerogpu() -> bool:
    """True on a ZeroGPU Space (the platform sets SPACES_ZERO_GPU)."""
    from ..settings import settings

    return spaces is not None and settings().zero_gpu


def gpu_machine() -> bool:
    """A CUDA driver or ZeroGPU is present, judged without importing torch (the page is built before it)."""
    return on_zerogpu() or os.path.exists("/proc/driver/nvidia/version")


def gpu(fn: F) -> F:
    """`spaces.GPU(duration=GPU_SECONDS)(fn)` when `spaces` is importable, else `fn` unchanged."""
    if spaces is None:
        return fn
    return spaces.GPU(duration=GPU_SECONDS)(fn)
