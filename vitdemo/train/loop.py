"""Train a ViT with the recipe's loss: AdamW, warm-up + cosine, and a random patch size per batch.

FlexiViT's observation (Beyer et al. 2022) is that one set of weights works at every patch size if each
batch is trained at a randomly chosen one: the model's patch embedding is PI-resized in the graph, so the
gradient of every size flows into the same base kernel and position embeddings. That is what lets the
app offer a slider of patch sizes for the bundled model.

Checkpoints are written each epoch (and on Ctrl-C) into the output folder in vitdemo's own format, so
`vitdemo.load(DIR)` reads them; `train_state.pt` next to them (tensors, numbers and strings only, read
back with `weights_only=True`) holds the optimizer, the schedule and the step, so `--resume` continues
exactly where training stopped: the batches are a function of (seed, step), see `train_data`.

Under torchrun the same loop runs in every process, each on its slice of every batch, with the gradients
averaged by DistributedDataParallel; see `distributed`.
"""

from __future__ import annotations

import math
import random
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm import tqdm

from .. import checkpoint
from ..config import Preprocessing, ViTConfig
from ..device import inference_dtype, pick_device
from ..model import ViT
from ..preprocessing import input_size
from . import aids as train_aids
from . import data as train_data
from . import distributed
from .saving import TRAIN_STATE, interrupts_deferred, load_train_state, save_checkpoint  # noqa: F401 (their old home)

NO_DECAY = ("cls_token", "dist_token", "pos_embed")  # and every bias and LayerNorm: 1-D tensors


@dataclass
class TrainOptions:
    """Everything that defines a training run; saved in config.json so a run can be reproduced.

    The defaults are the bundled model's recipe (see assets/bundled/MODEL_CARD.md for the trials behind it):
    on a CPU budget a small model (dim 96, MLP ×2) with a high learning rate learns shapes fastest.
    """

    data: str = "shapes"  # "shapes" or an image folder with one sub-folder per class
    out: str = "runs/vit"
    init: str | None = None  # fine-tune this checkpoint (hub id, local folder, "bundled") with a new head
    epochs: int = 10
    steps_per_epoch: int | None = None  # default: 200 for shapes, one pass for folders
    batch_size: int = 64
    lr: float | None = None  # peak; default: 1.5e-3 for a new model, 1e-4 to fine-tune (--init)
    weight_decay: float = 0.05
    warmup: int = 200  # optimizer steps of linear warm-up before the cosine decay
    label_smoothing: float = 0.1
    token_loss: float = 0.0  # shapes: weight of the per-patch loss (patches inside the object get its label)
    silhouette_loss: float = 0.0  # shapes: weight of the training-only per-patch silhouette head's loss
    silhouette_steps: int = 0  # shapes: steps of the curriculum that fades from silhouettes to the images
    easy_steps: int = 0  # shapes: steps of the curriculum that widens from large filled shapes to all scenes
    mimetic_init: bool = True  # new models: attention starts as "attend to similar tokens" (Trockman 2023)
    image_size: int | None = None  # default: 96 for a new model, the checkpoint's for --init
    patch_size: int = 16  # native: the size the embedding kernel is stored at
    patch_sizes: tuple[int, ...] = (8, 12, 16, 24, 32)  # one drawn at random per batch
    compute_balance: float = 0.5  # draw patch size p with probability ∝ tokens(p)^-this: 0 uniform, 1 equal time
    dim: int = 96
    depth: int = 6
    heads: int = 4
    mlp_ratio: float = 2.0
    seed: int = 0
    workers: int = 1
    precision: str = "auto"  # "auto" | "fp32" | "bf16"
    resume: bool = False
    max_minutes: float | None = None  # stop (with a checkpoint) after this much wall-clock time
    val_samples: int = 550  # shapes: held-out images (other seed) checked after each epoch
    val_fraction: float = 0.1  # folders: share of the images held out for validation
    save_fp16: bool = False  # halve the weights file (the loader casts back to float32)
    device: str | None = None
    threads: int | None = None  # intra-op threads; 1 is far faster when other programs share the CPU
    command: str = field(default="", repr=False)


@dataclass
class TrainResult:
    model: ViT
    step: int
    history: list[dict[str, float]]  # one row per epoch: loss, accuracy, val_accuracy, images/s
    seconds: float
    stopped_early: bool
    main_process: bool = True  # False on the ranks of a distributed run other than 0, which stay quiet


# --------------------------------------------------------------------------------------------------------
# Model, optimizer and schedule


def new_model(opts: TrainOptions, labels: list[str]) -> ViT:
    """A ViT sized by the options, whose config remembers the patch sizes it was trained to serve."""
    config = ViTConfig(
        image_size=opts.image_size or 96, patch_size=opts.patch_size, dim=opts.dim, depth=opts.depth,
        heads=opts.heads, mlp_dim=int(opts.dim * opts.mlp_ratio), num_classes=len(labels),
        native_patch_sizes=tuple(sorted(opts.patch_sizes)), patch_sizes=tuple(sorted(opts.patch_sizes)),
        name="vitdemo-" + Path(opts.out).name, preprocessing=Preprocessing(interpolation="bicubic"),
    )
    model = ViT(config, labels)
    if opts.mimetic_init:
        train_aids.mimetic_init_(model, torch.Generator().manual_seed(opts.seed))
    return model


def fine_tune_model(opts: TrainOptions, labels: list[str]) -> ViT:
    """The --init checkpoint in float32 with a fresh head (and distillation head) for `labels`, or with its
    own head when it already has exactly these labels: then training continues the same task."""
    from ..loading import load

    model = load(opts.init, device="cpu", precision="fp32")
    config = model.config
    config.patch_sizes = tuple(sorted(opts.patch_sizes)) if opts.patch_sizes else config.patch_sizes
    if list(model.labels) == list(labels) and config.num_classes == len(labels):
        return model.float().train()  # the same classes: keep training the head too (e.g. on broader data)
    config.num_classes = len(labels)
    config.name = f"{config.name or opts.init}-finetuned"
    head_in = 2 * config.dim if config.head_input == "class+mean" else config.dim  # DINOv2: [class; mean]
    model.head = nn.Linear(head_in, len(labels))  # also gives a headless model (DINO) a classifier
    nn.init.zeros_(model.head.weight), nn.init.zeros_(model.head.bias)  # start from "no opinion"
    if model.head_dist is not None:
        model.head_dist = nn.Linear(config.dim, len(labels))
        nn.init.zeros_(model.head_dist.weight), nn.init.zeros_(model.head_dist.bias)
    model.labels = list(labels)
    return model.float().train()


def optimizer_for(modules: list[nn.Module], opts: TrainOptions) -> torch.optim.AdamW:
    """AdamW with weight decay on matrices only: decaying norms, biases and tokens hurts small ViTs."""
    decay, no_decay = [], []
    for module in modules:
        for name, p in module.named_parameters():
            (no_decay if p.ndim <= 1 or name in NO_DECAY else decay).append(p)
    groups = [{"params": decay, "weight_decay": opts.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=peak_lr(opts), betas=(0.9, 0.999))


def peak_lr(opts: TrainOptions) -> float:
    """--lr, else a default that suits the run: small models from scratch want a high rate, pretrained
    weights a low one (1.5e-3 would wreck them in a few steps)."""
    return opts.lr if opts.lr is not None else (1e-4 if opts.init else 1.5e-3)


def warmup_cosine(warmup: int, total: int) -> Any:
    """Learning-rate factor at a step: linear from ~0 to 1 over `warmup` steps, then cosine to 0 at `total`."""

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = (step - warmup) / max(1, total - warmup)
        return 0.5 * (1.0 + math.cos(math.pi * min(1.0, progress)))

    return factor


def autocast_dtype(device: torch.device, precision: str) -> torch.dtype | None:
    """The autocast dtype for training, None for plain fp32: the same choice as inference
    (`device.inference_dtype`: bf16 where the hardware computes it natively, measured ~1.5-2× on this CPU),
    except that fp16 trains in fp32, since this loop has no gradient scaler."""
    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision must be auto, fp32 or bf16, not {precision!r}")
    dtype = inference_dtype(device, precision)
    return None if dtype in (torch.float32, torch.float16) else dtype


def batch_patch_size(opts: TrainOptions, seed: int, step: int) -> int:
    """The patch size of one step: random, yet a function of (seed, step) so a resumed run draws the same."""
    sizes, rng = sorted(opts.patch_sizes), random.Random(seed * 1_000_003 + step)
    return rng.choices(sizes, patch_size_weights(opts, sizes))[0] if opts.compute_balance else rng.choice(sizes)


def patch_size_weights(opts: TrainOptions, sizes: list[int]) -> list[float]:
    """Draw weights ∝ tokens^-compute_balance. A step's cost grows with its token count (at 96 px, patch 8
    has 145 tokens and patch 32 has 10; measured 8-12× the time on this project's CPU), so uniform draws
    spend about half the time on the finest size; 1 gives each size about the same time, and 0.5 (the
    bundled model's) ~1.5× more images per minute than uniform."""
    side = opts.image_size or 96
    return [((side // p) ** 2 + 1) ** -opts.compute_balance for p in sizes]


# --------------------------------------------------------------------------------------------------------
# The training loop


def train(opts: TrainOptions) -> TrainResult:
    """Run (or resume) a training run described by `opts`; returns the trained model and its history.

    Under torchrun every process runs this same function as one rank of a DDP run (see `distributed`).
    """
    torch.manual_seed(opts.seed)
    if opts.threads:
        torch.set_num_threads(opts.threads)
    ctx, device = distributed.setup(pick_device(opts.device), opts.batch_size)
    try:
        result = _prepare(opts, ctx, device).run()
        distributed.barrier(ctx)  # no rank leaves while rank 0 still writes the last checkpoint
        return result
    finally:
        distributed.teardown(ctx)


def _prepare(opts: TrainOptions, ctx: distributed.Context, device: torch.device) -> _Loop:
    """The model, optimizer and schedule of a new run, or all of them as saved when resuming (on every rank)."""
    out = Path(opts.out)
    source, val_source, per_epoch = sources(opts)
    if opts.resume:
        model = checkpoint.load_vitdemo_dir(out).train()
    else:
        model = (fine_tune_model if opts.init else new_model)(opts, source.labels)
    model.to(device)
    silhouette = train_aids.SilhouetteHead(model).to(device) if opts.silhouette_loss and source.has_masks else None
    total = opts.epochs * (per_epoch // opts.batch_size)
    optimizer = optimizer_for([model] + ([silhouette] if silhouette else []), opts)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, warmup_cosine(opts.warmup, total))
    loop = _Loop(opts, model, optimizer, scheduler, device, source, val_source, per_epoch, total)
    loop.ctx, loop.silhouette = ctx, silhouette
    if opts.resume:
        state = load_train_state(out)
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        if silhouette:
            silhouette.load_state_dict(state["silhouette_head"])
        loop.start_step = int(state["step"])
        earlier = checkpoint.read_meta(out).get("training", {})
        loop.history, loop.earlier_seconds = list(earlier.get("history", [])), float(earlier.get("seconds", 0.0))
    objective = train_aids.Objective(model, silhouette, opts.token_loss, opts.silhouette_loss, opts.label_smoothing)
    loop.net = distributed.wrap(objective, ctx)  # after loading: DDP starts every rank from rank 0's weights
    return loop


def sources(opts: TrainOptions) -> tuple[train_data.TrainingSource, train_data.TrainingSource | None, int]:
    """(training source, validation source or None, samples per epoch) for --data."""
    steps = opts.steps_per_epoch
    if opts.data == "shapes":
        per_epoch = (steps or 200) * opts.batch_size
        size = opts.image_size or 96
        train_src = train_data.shapes_source(opts.epochs * per_epoch, size, opts.seed,
                                             easy_ramp=opts.easy_steps * opts.batch_size)
        val_src = train_data.shapes_source(opts.val_samples, size, opts.seed + 1) if opts.val_samples else None
        return train_src, val_src, per_epoch
    train_src, val_src = train_data.split_source(train_data.folder_source(opts.data), opts.val_fraction, opts.seed)
    n = len(train_src.pairs)
    per_epoch = steps * opts.batch_size if steps else max(opts.batch_size, n - n % opts.batch_size)
    return train_src, val_src, per_epoch


class _Loop:
    """The state one run carries between steps; split out so `train` reads as setup, then run."""

    def __init__(self, opts: TrainOptions, model: ViT, optimizer: Any, scheduler: Any, device: torch.device,
                 source: Any, val_source: Any, per_epoch: int, total: int):
        self.opts, self.model, self.optimizer, self.scheduler, self.device = opts, model, optimizer, scheduler, device
        self.source, self.val_source, self.per_epoch, self.total = source, val_source, per_epoch, total
        self.steps_per_epoch = per_epoch // opts.batch_size
        self.amp = autocast_dtype(device, opts.precision)
        self.started = time.time()
        self.step_now = 0
        self.silhouette: train_aids.SilhouetteHead | None = None  # training-only, never saved with the model
        # what backward runs through: the model and its aids (`_prepare` adds the silhouette head), DDP-wrapped
        self.net: nn.Module = train_aids.Objective(model, None, opts.token_loss, 0.0, opts.label_smoothing)
        self.ctx = distributed.Context(device=device)  # which rank this is; a one-process run by default
        self.start_step, self.history = 0, []  # where a --resume continues
        self.interrupts = distributed.Interrupts()  # Ctrl-C while distributed, noted for all ranks to act on
        self.earlier_seconds = 0.0  # training time of the sessions before a --resume

    def run(self) -> TrainResult:
        stopped, step, history = False, self.start_step, self.history
        try:
            with distributed.interrupts_noted(self.ctx) as self.interrupts:  # one process: a plain KeyboardInterrupt
                while step < self.total and not stopped:
                    epoch, done = divmod(step, self.steps_per_epoch)
                    step, row, stopped = self.epoch(epoch, step, done)
                    if not stopped:
                        row["val_accuracy"] = self.validate()
                        history.append(row)
                    self.save(step, history)
        except KeyboardInterrupt:
            self.save(self.step_now, history)
            if self.ctx.is_main:
                print(f"\ninterrupted: checkpoint at step {self.step_now} in {self.opts.out}; --resume continues",
                      file=sys.stderr)
            raise
        return TrainResult(self.model.eval(), step, history, self.earlier_seconds + time.time() - self.started,
                           stopped, main_process=self.ctx.is_main)

    def epoch(self, epoch: int, step: int, done: int) -> tuple[int, dict[str, float], bool]:
        """Train from batch `done` of `epoch` to its end (or to the time limit)."""
        opts, ctx = self.opts, self.ctx
        draws = train_data.epoch_draws(self.source, epoch, self.per_epoch, opts.seed, done * opts.batch_size)
        draws = distributed.shard_draws(draws, opts.batch_size, ctx.rank, ctx.world_size)  # all when one process
        silhouettes = opts.silhouette_steps * opts.batch_size if self.source.has_masks else 0
        loader = train_data.batches(self.source, self.model.config, draws, opts.batch_size // ctx.world_size,
                                    opts.workers, opts.seed, silhouette_draws=silhouettes)
        self.model.train()
        sums = {"loss": 0.0, "correct": 0, "seen": 0}
        bar = tqdm(loader, desc=f"epoch {epoch + 1}/{opts.epochs}", total=len(loader), dynamic_ncols=True,
                   file=sys.stderr, disable=not ctx.is_main)
        t0 = time.time()
        self.step_now = step
        for pixels, labels, masks in bar:
            batch_loss, correct = self.train_step(pixels, labels, masks, batch_patch_size(opts, opts.seed, step))
            step += 1
            self.step_now = step
            sums["loss"] += batch_loss * len(labels)
            sums["correct"] += correct
            sums["seen"] += len(labels)
            rate = sums["seen"] * ctx.world_size / max(time.time() - t0, 1e-9)  # the ranks go in step
            bar.set_postfix(loss=f"{sums['loss'] / sums['seen']:.3f}", acc=f"{sums['correct'] / sums['seen']:.3f}",
                            img_s=f"{rate:.0f}", refresh=False)
            time_up = opts.max_minutes is not None and time.time() - self.started > 60 * opts.max_minutes
            time_up, interrupted = distributed.agree(ctx, time_up, self.interrupts.requested)
            if interrupted:  # torchrun's Ctrl-C, on every rank after this same step: rank 0 saves it (`run`)
                raise KeyboardInterrupt
            if time_up:
                bar.close()
                if ctx.is_main:
                    print(f"time limit of {opts.max_minutes} min reached at step {step}", file=sys.stderr)
                return step, {}, True
        bar.close()
        sums = distributed.sum_over_ranks(sums, ctx)  # the epoch's numbers over the whole batch, not one slice
        seen = max(sums["seen"], 1)
        row = {"epoch": epoch + 1, "step": step, "loss": sums["loss"] / seen, "accuracy": sums["correct"] / seen,
               "images_per_s": sums["seen"] / max(time.time() - t0, 1e-9)}
        return step, row, False

    def train_step(self, pixels: torch.Tensor, labels: torch.Tensor, masks: torch.Tensor,
                   patch_size: int) -> tuple[float, int]:
        """One optimizer step at `patch_size`; returns (loss, number correct)."""
        x = train_data.normalize(pixels, self.model.config, input_size(self.model.config, patch_size))
        x, labels, masks = x.to(self.device), labels.to(self.device), masks.to(self.device)
        with torch.autocast(self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None):
            value, logits = self.net(x, labels, masks, patch_size)
        self.optimizer.zero_grad(set_to_none=True)
        value.backward()  # under DDP, this also averages the gradients over the ranks
        torch.nn.utils.clip_grad_norm_([p for group in self.optimizer.param_groups for p in group["params"]], 1.0)
        self.optimizer.step()
        self.scheduler.step()
        return value.item(), int((logits.argmax(-1) == labels).sum())

    @torch.no_grad()
    def validate(self) -> float | None:
        """Top-1 on the held-out source at the native patch size (nan-free: None when there is none)."""
        if self.val_source is None:
            return None
        self.model.eval()
        draws = list(range(len(self.val_source.pairs)))
        loader = train_data.batches(self.val_source, self.model.config, draws, 128, 0, self.opts.seed,
                                    drop_last=False)
        correct = 0
        for pixels, labels, _ in loader:
            x = train_data.normalize(pixels, self.model.config).to(self.device)
            with torch.autocast(self.device.type, dtype=self.amp or torch.bfloat16, enabled=self.amp is not None):
                logits = self.model(x, output_attentions=False).logits
            correct += int((logits.argmax(-1).cpu() == labels).sum())
        self.model.train()
        return correct / len(draws)

    def save(self, step: int, history: list[dict[str, float]]) -> None:
        """Checkpoint the run (rank 0 only: the ranks' weights and optimizers are identical)."""
        if not self.ctx.is_main:
            return
        state = {"step": step, "optimizer": self.optimizer.state_dict(), "scheduler": self.scheduler.state_dict()}
        if self.silhouette is not None:
            state["silhouette_head"] = self.silhouette.state_dict()
        save_checkpoint(Path(self.opts.out), self.model, state, {"training": self.metadata(step, history)},
                        self.opts.save_fp16)

    def metadata(self, step: int, history: list[dict[str, float]]) -> dict[str, Any]:
        """What config.json records about the run: how to repeat it and how well it went."""
        opts = asdict(self.opts)
        opts["patch_sizes"] = list(opts["patch_sizes"])
        last = history[-1] if history else {}
        return {
            "command": self.opts.command, "options": opts, "peak_lr": peak_lr(self.opts), "seed": self.opts.seed,
            "step": step, "world_size": self.ctx.world_size,
            "total_steps": self.total, "seconds": round(self.earlier_seconds + time.time() - self.started, 1),
            "finished": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "torch": torch.__version__,
            "autocast": str(self.amp).replace("torch.", "") if self.amp else "fp32",
            "train_accuracy": last.get("accuracy"), "val_accuracy": last.get("val_accuracy"), "history": history,
        }
