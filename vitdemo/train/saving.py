"""Checkpoints during training: written atomically, with the train state that `--resume` reads back.

`save_checkpoint` writes the model in vitdemo's own format (so `vitdemo.load(DIR)` reads it) and
`train_state.pt` next to it: the optimizer, the schedule, the step and any training-only head, as tensors,
numbers and strings only, read back with `weights_only=True`, never as code.
"""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any

import torch

from .. import checkpoint
from ..model import ViT

TRAIN_STATE = "train_state.pt"


def save_checkpoint(out: Path, model: ViT, state: dict[str, Any], extra: dict[str, Any], save_fp16: bool) -> None:
    """Write weights, config and train state to a staging folder, then move them in with Ctrl-C deferred.

    A Ctrl-C while writing loses only the staging folder; the previous checkpoint stays intact.
    """
    staging = out / ".staging"
    staging.mkdir(parents=True, exist_ok=True)
    checkpoint.save(model, staging, extra, dtype=torch.float16 if save_fp16 else torch.float32)
    torch.save(state, staging / TRAIN_STATE)
    with interrupts_deferred():
        for name in (checkpoint.WEIGHTS, "config.json", TRAIN_STATE):  # state last: it marks completeness
            (staging / name).replace(out / name)
    staging.rmdir()


@contextlib.contextmanager
def interrupts_deferred():
    """Hold SIGINT for the few renames that must happen together; re-raise it afterwards."""
    received: list[Any] = []
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, lambda *args: received.append(args))
    except ValueError:  # not the main thread: nothing to defer
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
        if received:
            raise KeyboardInterrupt


def load_train_state(out: Path) -> dict[str, Any]:
    """The saved step, optimizer, scheduler and training-only head; tensors and plain values only, never code."""
    return torch.load(out / TRAIN_STATE, map_location="cpu", weights_only=True)
