"""`python -m vitdemo figure IMAGE ...`: one figure of one image, written as PNG, SVG, PDF or GIF.

The arguments are checked with the app's own checks (`vitdemo.app.validation`, which import neither torch nor
Gradio), so the command and the page refuse the same values with the same sentence. A refusal is one line
on stderr and exit status 2, never a traceback: the cheap checks (file, method, suffix) run before torch is
imported, the model's limits (patch size, layer, head) right after it loads, before the forward pass.
The figure itself is `vitdemo.explain.figure`'s.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING

from .constants import LOGIT_LENS  # no method of the table (no map summing to 1): a figure of its own

if TYPE_CHECKING:
    from .explain.analysis import Analysis

USAGE_ERROR = 2
DEFAULT_MODEL = "bundled"


def figure_methods() -> list[str]:
    """What --method accepts, in the order the help and a refusal list them: the table's methods, then the lens."""
    from .app.choices import method_choices

    return [*method_choices(), LOGIT_LENS]


def add_figure_arguments(parser: argparse.ArgumentParser) -> None:
    """The figure command's options; argparse's own errors become one line and exit 2 as well."""
    from . import methods
    from .constants import COLORMAPS, DEFAULT_COLORMAP, HEAD_FUSIONS

    parser.add_argument("image", metavar="IMAGE", help="the picture: PNG, JPEG, GIF, WebP, BMP or TIFF")
    parser.add_argument("--model", default=DEFAULT_MODEL, help="a hub id, a local folder or 'bundled' (default: "
                        "%(default)s, which works offline)")
    parser.add_argument("--patch-size", default=None, metavar="P", help="pixels per patch side (default: the "
                        "model's own)")
    parser.add_argument("--method", default="attention", help=f"{', '.join(figure_methods())} ({LOGIT_LENS}: what "
                        "each layer would answer, a figure of its own) (default: %(default)s)")
    chained = ", ".join(m.name for m in methods.rows() if m.chains_layers)
    parser.add_argument("--layer", default=None, metavar="L", help=f"counted from 1, as on the page; for {chained} "
                        "the last layer accumulated (default: the last)")
    parser.add_argument("--head", default="mean", help=f"{', '.join(HEAD_FUSIONS)} or a head counted from 1, as on "
                        "the page (default: %(default)s)")
    explaining = ", ".join(m.name for m in methods.rows() if m.needs_class)
    parser.add_argument("--target", default=None, help=f"the class {explaining} explain (default: the top-1)")
    parser.add_argument("--prompts", default=None, metavar="TEXT", help="an image-text model (CLIP, SigLIP, "
                        "Chinese-CLIP): what to look for, comma separated; --target then names one of them "
                        "(default: its English defaults)")
    parser.add_argument("--cmap", default=DEFAULT_COLORMAP, help=f"{', '.join(COLORMAPS)} (default: %(default)s)")
    parser.add_argument("--opacity", default="0.6", help="of the map over the image, 0 to 1 (default: %(default)s)")
    parser.add_argument("--out", default=None, metavar="FILE", help="where to write; the suffix picks the format: "
                        ".png (1760 px wide), .svg, .pdf, or .gif (the map through the layers, one frame per layer) "
                        "(default: IMAGE's name + _p<P>_<method>_layer<L>.png, in the current folder)")
    parser.epilog = ("Counting: --layer and --head count from 1, as the page, the API and the figure's own text do "
                     "(--layer 1 --head 1 is the first layer's first head); the Python library "
                     "(vitdemo.analyze, Analysis.attention_map) takes 0-based indices instead.")
    parser.error = lambda message: sys.exit(_refuse(f"{parser.prog}: {message}"))  # type: ignore[method-assign]


def run_figure(args: argparse.Namespace, argv: object = None) -> int:
    """Check the arguments, analyse the image once, write the figure; print where it went."""
    from .app import validation

    started = time.perf_counter()
    try:
        if not Path(args.image).is_file():
            raise ValueError(f"{args.image}: no such file")
        method = _figure_method(args.method)
        lens = method == LOGIT_LENS
        cmap = validation.colormap(args.cmap)
        opacity = validation.fraction(args.opacity, "opacity")
        from .app import prompts as prompt_text

        prompts = prompt_text.parse(args.prompts)
        if args.out is not None:
            from .explain.figure import format_of

            format_of(args.out)
        from .app.uploads import decode_image

        image = decode_image(args.image)
    except ValueError as exc:  # UserError and ImageInputError are ValueErrors
        return _refuse(str(exc))
    import vitdemo

    from .explain.figure import FigureView, save

    try:
        model = vitdemo.load(args.model)
        config = model.config
        patch = validation.patch_size_of(args.patch_size, config)
        layer = validation.layer(args.layer, config.depth)
        head = validation.head(args.head, config.heads)
        prompts = _prompts_for(model, prompts, args.model)
        target = validation.target(args.target, prompts if prompts is not None else model.labels)
    except (ValueError, OSError) as exc:  # CheckpointNotFound is a FileNotFoundError
        return _refuse(str(exc))
    if lens and not config.has_classifier and prompts is None:
        return _refuse(f"{config.name or args.model} has no classifier, so it has no logit lens: the lens reads each "
                       "layer through the classifier.")
    analysis = vitdemo.analyze(model, image, patch_size=patch, prompts=prompts)
    if lens:
        return _lens_figure(args, analysis, layer, opacity, started)
    view = FigureView(method=method, layer=validation.layer_index(layer, config.depth),
                      head=validation.head_index(head), target=target, cmap=cmap, opacity=opacity)
    out = Path(args.out) if args.out else Path(f"{Path(args.image).stem}_p{patch}_{method}_layer"
                                               f"{validation.layer_number(layer, config.depth)}.png")
    try:
        save(analysis, out, view, title=config.name or args.model)
    except ValueError as exc:  # a class-specific map of a model without a classifier
        return _refuse(str(exc))
    except OSError as exc:
        return _refuse(f"{out}: could not write the figure ({exc.strerror or exc})")
    print(f"wrote {out} ({time.perf_counter() - started:.1f} s)")
    return 0


def _lens_figure(args: argparse.Namespace, analysis: Analysis, layer: int | None, opacity: float,
                 started: float) -> int:
    """Write the logit lens figure (explain/lens_figure.py) at `layer` (from 1, None = the last)."""
    from .app import validation
    from .explain import lens_figure

    index = validation.layer_index(layer, analysis.depth)
    name = f"{Path(args.image).stem}_p{analysis.patch_size}_{LOGIT_LENS}_layer{index + 1}.png"
    out = Path(args.out) if args.out else Path(name)
    try:
        lens_figure.save(analysis, out, layer=index, opacity=opacity, title=analysis.model.config.name or args.model)
    except OSError as exc:
        return _refuse(f"{out}: could not write the figure ({exc.strerror or exc})")
    print(f"wrote {out} ({time.perf_counter() - started:.1f} s)")
    return 0


def _figure_method(value: object) -> str:
    """`value` as one of `figure_methods()`, lower-cased; the app's sentence listing all of them otherwise."""
    from .app.i18n import Message
    from .app.validation import UserError, echo

    text = str(value).strip().lower()
    offered = figure_methods()
    if text not in offered:
        raise UserError(Message("errors.one_of", name="method", choices=", ".join(offered), sent=echo(value)))
    return text


def _prompts_for(model: object, prompts: list[str], name: str) -> list[str] | None:
    """The prompts to analyse with: None for a classifier (refusing any given), else those given or the
    defaults (the app's rule, `Engine.prompts`)."""
    from .app import prompts as prompt_text
    from .app.i18n import Message
    from .app.validation import UserError

    if not prompt_text.is_image_text(model):
        if prompts:
            raise UserError(Message("prompts.not_image_text", title=name))
        return None
    return prompts or prompt_text.defaults()


def _refuse(message: str) -> int:
    """Say `message` in one line on stderr; the exit status for it (2, argparse's code for a bad command line)."""
    print(f"error: {message}", file=sys.stderr)
    return USAGE_ERROR
