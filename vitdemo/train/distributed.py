"""Training on several processes: `torchrun --standalone --nproc_per_node=N -m vitdemo train ...`.

Data parallel with DistributedDataParallel: every process (a *rank*) holds the whole model and trains on its
own share of each batch; during backward DDP averages the gradients over the ranks (all-reduce: gloo on CPU,
nccl on CUDA), so every rank's optimizer takes the same step and the weights stay identical without ever
being sent after the start.

`--batch-size` stays the *global* batch: rank r of N takes the r-th of N equal slices of every batch that one
process would draw (`shard_draws`). The mean of N per-slice mean losses is the mean loss of the whole batch,
so the averaged gradient is the one-process gradient, and the run's recipe (learning rate, schedule, which
images each step sees, the patch size of each step) does not depend on N: more ranks make it faster, not
different. (Only `--token-loss` shifts slightly: its mean is over the object patches of each slice.) To fill
bigger machines, raise `--batch-size` (and usually `--lr`), as on one GPU.

Everything random stays a function of (seed, draw) or (seed, step), so all ranks agree on each step's patch
size without talking (DDP needs the same parameters in every rank's graph) and `--resume` works unchanged:
every rank loads the same checkpoint. Rank 0 alone shows the progress bar, prints, validates and writes
checkpoints; the others wait for it at their next all-reduce.

Without torchrun (no RANK/WORLD_SIZE in the environment) none of this runs: one process, no process group.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

LAUNCH_VARIABLES = ("RANK", "WORLD_SIZE", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT")  # set by torchrun
# Rank 0 validates and writes checkpoints while the others wait in their next all-reduce: give it time
# (nccl's default is 10 minutes) for a large validation folder.
TIMEOUT = timedelta(minutes=30)


@dataclass(frozen=True)
class Context:
    """Which process this is; the defaults describe a plain one-process run."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    backend: str | None = None  # None: no process group
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # where collectives' tensors live

    @property
    def enabled(self) -> bool:
        return self.backend is not None

    @property
    def is_main(self) -> bool:
        """The rank that logs, validates and writes checkpoints."""
        return self.rank == 0


def launched(env: Mapping[str, str] = os.environ) -> bool:
    """True in a process started by torchrun (or any launcher that sets the env:// variables)."""
    return all(name in env for name in LAUNCH_VARIABLES)


def setup(device: torch.device, batch_size: int, env: Mapping[str, str] = os.environ) -> tuple[Context, torch.device]:
    """Join the process group when launched by torchrun; returns (context, this rank's device).

    Each rank on a CUDA machine takes the GPU of its local rank; CPU ranks use gloo. Raises ValueError, on
    every rank alike, for a batch that does not split evenly (DDP needs every rank to take the same number of
    steps) and for devices no backend serves (mps).
    """
    if not launched(env):
        return Context(device=device), device
    rank, world, local = int(env["RANK"]), int(env["WORLD_SIZE"]), int(env["LOCAL_RANK"])
    if batch_size % world:
        raise ValueError(f"--batch-size {batch_size} is the global batch and must split evenly over world size "
                         f"{world}; try {batch_size - batch_size % world or world}")
    if device.type == "cuda":
        device = torch.device("cuda", local if device.index is None else device.index)
        torch.cuda.set_device(device)
        backend = "nccl"
        dist.init_process_group(backend, timeout=TIMEOUT, device_id=device)
    elif device.type == "cpu":
        backend = "gloo"
        dist.init_process_group(backend, timeout=TIMEOUT)
    else:
        raise ValueError(f"distributed training runs on cuda (nccl) or cpu (gloo), not {device.type}; "
                         "pass --device cpu")
    ctx = Context(rank, world, local, backend, device)
    if ctx.is_main:  # the run's first log line
        print(f"world size {world}: {backend} on {device.type}, {batch_size // world} images per rank per step",
              file=sys.stderr, flush=True)
    return ctx, device


def teardown(ctx: Context) -> None:
    """Leave the process group, if this process joined one."""
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()


def wrap(module: nn.Module, ctx: Context) -> nn.Module:
    """`module` under DDP when distributed (its parameters are broadcast from rank 0 and their gradients
    averaged in backward), else `module` itself."""
    if not ctx.enabled:
        return module
    return DistributedDataParallel(module, device_ids=[ctx.device.index] if ctx.device.type == "cuda" else None)


def shard_draws(draws: Sequence[int], batch_size: int, rank: int, world_size: int) -> list[int]:
    """This rank's draws: the `rank`-th of `world_size` equal slices of every `batch_size` batch of `draws`.

    Batched `batch_size // world_size` at a time, step k of every rank together covers exactly batch k of the
    one-process run, the slices are disjoint, and every rank gets the same number of batches. An incomplete
    last batch is dropped, as the one-process loader drops it.
    """
    if batch_size % world_size:
        raise ValueError(f"batch size {batch_size} does not split over {world_size} ranks")
    share = batch_size // world_size
    whole = len(draws) - len(draws) % batch_size
    return [d for start in range(0, whole, batch_size)
            for d in draws[start + rank * share:start + (rank + 1) * share]]


def agree(ctx: Context, *flags: bool) -> tuple[bool, ...]:
    """Each flag, true on every rank if it is true on any: for decisions the ranks must take together (to stop
    at the time limit or on Ctrl-C: a rank that stopped alone would leave the others waiting in an all-reduce
    forever). One small all-reduce per call; the flags themselves in a one-process run."""
    if not ctx.enabled:
        return flags
    values = torch.tensor([float(f) for f in flags], device=ctx.device)
    dist.all_reduce(values, op=dist.ReduceOp.MAX)
    return tuple(bool(v) for v in values.tolist())


@dataclass
class Interrupts:
    requested: bool = False  # a Ctrl-C (SIGINT) arrived


@contextlib.contextmanager
def interrupts_noted(ctx: Context) -> Iterator[Interrupts]:
    """Within: a SIGINT sets `requested` instead of raising KeyboardInterrupt, in a distributed run.

    torchrun passes a Ctrl-C on to every rank as SIGINT. Raised wherever it lands, KeyboardInterrupt would stop
    the ranks at different points, one of them perhaps inside an all-reduce whose partner has already left,
    which then fails instead of saving. Noted, it stops all ranks together after a step they all finished
    (the loop asks `agree`), and rank 0 saves that step. A one-process run keeps the plain KeyboardInterrupt.
    """
    noted = Interrupts()
    if not ctx.enabled:
        yield noted
        return
    previous = signal.getsignal(signal.SIGINT)
    try:
        signal.signal(signal.SIGINT, lambda *args: setattr(noted, "requested", True))
    except ValueError:  # not the main thread: signals go to the main thread anyway
        yield noted
        return
    try:
        yield noted
    finally:
        signal.signal(signal.SIGINT, previous)


def sum_over_ranks(values: dict[str, float], ctx: Context) -> dict[str, float]:
    """Each value summed over the ranks (the epoch's loss, correct and seen counts), so logs describe the
    whole batch rather than rank 0's slice."""
    if not ctx.enabled:
        return values
    total = torch.tensor(list(values.values()), dtype=torch.float64, device=ctx.device)
    dist.all_reduce(total)
    return dict(zip(values, total.tolist()))


def barrier(ctx: Context) -> None:
    if ctx.enabled:
        dist.barrier()
