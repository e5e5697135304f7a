"""The command line: `python -m vitdemo <command> ...`.

Each command is a (parser builder, runner) pair in `COMMANDS`, so another one (an app launcher, an
export) is one more entry; this file only translates arguments, the work lives in the modules.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING

from .explain_cli import add_explain_arguments, run_explain
from .figure_cli import add_figure_arguments, run_figure

if TYPE_CHECKING:
    from .train.loop import TrainOptions

DEFAULTS_NOTE = "(default: %(default)s)"


def add_train_arguments(parser: argparse.ArgumentParser) -> None:
    """Every field of `train.TrainOptions` as an option, with the same defaults."""
    from .train.loop import TrainOptions

    d = TrainOptions()
    data = parser.add_argument_group("data")
    data.add_argument("--data", default=d.data, help="'shapes' (the synthetic dataset, generated on the fly) or "
                      "an image folder with one sub-folder per class " + DEFAULTS_NOTE)
    data.add_argument("--out", default=d.out, help="output folder: model.safetensors, config.json and "
                      "train_state.pt, rewritten each epoch; `vitdemo.load(OUT)` reads it " + DEFAULTS_NOTE)
    data.add_argument("--workers", type=int, default=d.workers, help="DataLoader worker processes that "
                      "draw and decode images (0: in the training process) " + DEFAULTS_NOTE)
    data.add_argument("--val-samples", type=int, default=d.val_samples, help="shapes: held-out images (a "
                      "different seed) scored after each epoch; 0 skips " + DEFAULTS_NOTE)
    data.add_argument("--val-fraction", type=float, default=d.val_fraction, help="image folder: share of the "
                      "images held out for validation; 0 trains on all " + DEFAULTS_NOTE)

    schedule = parser.add_argument_group("optimisation")
    schedule.add_argument("--epochs", type=int, default=d.epochs, help=DEFAULTS_NOTE)
    schedule.add_argument("--steps-per-epoch", type=int, default=d.steps_per_epoch, help="optimizer steps per "
                          "epoch; for shapes each step draws --batch-size new images (default: 200 for shapes, "
                          "one pass over the images for a folder)")
    schedule.add_argument("--batch-size", type=int, default=d.batch_size, help="images per optimizer step; under "
                          "torchrun the global batch, split evenly over the processes " + DEFAULTS_NOTE)
    schedule.add_argument("--lr", type=float, default=d.lr, help="peak AdamW learning rate (default: 1.5e-3 "
                          "for a new model, 1e-4 when fine-tuning with --init)")
    schedule.add_argument("--weight-decay", type=float, default=d.weight_decay, help="AdamW weight decay on "
                          "weight matrices (not on biases, norms or tokens) " + DEFAULTS_NOTE)
    schedule.add_argument("--warmup", type=int, default=d.warmup, help="steps of linear learning-rate warm-up "
                          "before the cosine decay to zero " + DEFAULTS_NOTE)
    schedule.add_argument("--label-smoothing", type=float, default=d.label_smoothing, help=DEFAULTS_NOTE)
    schedule.add_argument("--token-loss", type=float, default=d.token_loss, help="shapes: weight of a per-patch "
                          "cross-entropy that gives every patch at least half inside the object the object's label, "
                          "through the same head (token labelling); 0 trains the class token only " + DEFAULTS_NOTE)
    schedule.add_argument("--silhouette-loss", type=float, default=d.silhouette_loss, help="shapes: weight of a "
                          "training-only head on a middle block that predicts each patch's object pixels (4×4 per "
                          "patch) from the object masks; dropped after training " + DEFAULTS_NOTE)
    schedule.add_argument("--silhouette-steps", type=int, default=d.silhouette_steps, help="shapes: for this many "
                          "first steps, blend the images with the object's white-on-black silhouette, fading to the "
                          "plain images (a curriculum: random colours are what makes shapes slow to learn) "
                          + DEFAULTS_NOTE)
    schedule.add_argument("--easy-steps", type=int, default=d.easy_steps, help="shapes: over this many first "
                          "steps, widen the scenes from large, filled, unoccluded shapes to the full distribution "
                          "(a curriculum: from scratch, tiny objects and thin outlines teach little until the "
                          "model knows some shapes) " + DEFAULTS_NOTE)
    schedule.add_argument("--seed", type=int, default=d.seed, help="seeds the weights, the data and the "
                          "patch size of every step " + DEFAULTS_NOTE)
    schedule.add_argument("--precision", choices=("auto", "fp32", "bf16"), default=d.precision, help="'auto': "
                          "bf16 autocast on GPUs and on CPUs with native bf16, else fp32 " + DEFAULTS_NOTE)
    schedule.add_argument("--device", default=d.device, help="cpu, cuda, mps (default: the fastest available)")
    schedule.add_argument("--threads", type=int, default=d.threads, help="compute threads of the training "
                          "process (default: torch's choice, one per core); 1 is several times faster when other "
                          "programs busy the CPU, as threads then wait for each other")
    schedule.add_argument("--max-minutes", type=float, default=d.max_minutes, help="stop after this much "
                          "wall-clock time, saving a checkpoint that --resume continues (default: no limit)")
    schedule.add_argument("--resume", action="store_true", help="continue the run saved in --out from its "
                          "last checkpoint, with the same batches it would have seen")

    model = parser.add_argument_group("model")
    model.add_argument("--init", default=d.init, help="fine-tune this checkpoint (a local folder, a Hugging "
                       "Face id or 'bundled') with a new head for the data's classes (default: a new model)")
    model.add_argument("--image-size", type=int, default=d.image_size, help="input side in pixels (default: 96, "
                       "or the --init checkpoint's)")
    model.add_argument("--patch-size", type=int, default=d.patch_size, help="native patch size: the size the "
                       "embedding kernel and the position grid are stored at " + DEFAULTS_NOTE)
    model.add_argument("--patch-sizes", type=_int_list, default=d.patch_sizes, help="comma-separated patch "
                       "sizes, one drawn at random per batch (FlexiViT); saved as the sizes the app offers "
                       "(default: 8,12,16,24,32)")
    model.add_argument("--compute-balance", type=float, default=d.compute_balance, help="draw each batch's "
                       "patch size with probability ∝ tokens^-BALANCE: 0 is uniform (FlexiViT), 1 gives every "
                       "size the same compute time, so coarse sizes get more steps and a minute more images "
                       + DEFAULTS_NOTE)
    model.add_argument("--dim", type=int, default=d.dim, help="token width " + DEFAULTS_NOTE)
    model.add_argument("--depth", type=int, default=d.depth, help="encoder blocks " + DEFAULTS_NOTE)
    model.add_argument("--heads", type=int, default=d.heads, help="attention heads per block " + DEFAULTS_NOTE)
    model.add_argument("--mlp-ratio", type=float, default=d.mlp_ratio, help="MLP width / token width "
                       + DEFAULTS_NOTE)
    model.add_argument("--mimetic-init", action=argparse.BooleanOptionalAction, default=d.mimetic_init,
                       help="start a new model's attention as 'attend to similar tokens' (mimetic initialisation), "
                       "which shortens the slow start of small ViTs " + DEFAULTS_NOTE)
    model.add_argument("--save-fp16", action="store_true", help="store the weights as float16 (half the file; "
                       "the loader casts back to float32)")


def train_options(args: argparse.Namespace, argv: Sequence[str]) -> TrainOptions:
    """The parsed `train` arguments as the options `train.train` takes, with the command that gave them."""
    from .train.loop import TrainOptions

    names = {f.name for f in fields(TrainOptions)}
    opts = TrainOptions(**{k: v for k, v in vars(args).items() if k in names})
    opts.patch_sizes = tuple(opts.patch_sizes)
    opts.command = "python -m vitdemo " + shlex.join(argv)
    return opts


def run_train(args: argparse.Namespace, argv: Sequence[str]) -> int:
    from .train.loop import train

    opts = train_options(args, argv)
    try:
        result = train(opts)
    except KeyboardInterrupt:
        return 130
    if not result.main_process:  # another rank of a torchrun run: rank 0 reports for all
        return 0
    last = result.history[-1] if result.history else {}
    print(f"saved {opts.out} after {result.step} steps in {result.seconds / 60:.1f} min"
          + (f"; held-out accuracy {last['val_accuracy']:.3f}" if last.get("val_accuracy") is not None else ""))
    return 0


def _int_list(text: str) -> tuple[int, ...]:
    try:
        return tuple(int(p) for p in text.replace(" ", "").split(",") if p)
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"expected comma-separated integers, got {text!r}") from e


COMMANDS: dict[str, tuple[str, Callable[[argparse.ArgumentParser], None], Callable[..., int]]] = {
    "train": ("train a ViT on the shapes dataset or an image folder (on several processes or GPUs: start it "
              "with `torchrun --standalone --nproc_per_node=N -m vitdemo train ...`)", add_train_arguments, run_train),
    "figure": ("draw a figure of one image for slides and papers: the input, the patch grid, a map with its colour "
               "bar and the map through every layer (PNG, SVG, PDF; .gif: an animation through the layers)",
               add_figure_arguments, run_figure),
    "explain": ("explain every image under a folder: one map PNG per image and OUT/results.csv (label, probability, "
                "top-5, the method's deletion and insertion AUCs, or the error), batched through the model; a "
                "second run with the same OUT skips what is done", add_explain_arguments, run_explain),
}


def parser() -> argparse.ArgumentParser:
    root = argparse.ArgumentParser(prog="python -m vitdemo", description="vitdemo: see inside a Vision Transformer")
    sub = root.add_subparsers(dest="subcommand", required=True, metavar="COMMAND")
    for name, (help_text, add_arguments, _) in COMMANDS.items():
        add_arguments(sub.add_parser(name, help=help_text, description=help_text))
    return root


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parser().parse_args(argv)
    return COMMANDS[args.subcommand][2](args, argv)


if __name__ == "__main__":
    sys.exit(main())
