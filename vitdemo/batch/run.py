"""One batch of the folder command: decode, one forward for every image, each image's map, PNG and row.

The forward asks for what the method reads and no more: attention weights for the class-token methods
(attention, rollout), plus each block's record for the class methods' backward (relevance, LeGrad), which
then runs per image, as on the page. Each image's `Analysis` is the library's, built on its slice of the
batch (`explain.analysis.per_image`), so a map here is the map `vitdemo.analyze` gives that image alone.
A file that fails to decode, or an image whose map cannot be drawn or written, becomes an error row with
one sentence; the batch goes on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .. import methods
from ..app.i18n import Message
from ..explain.analysis import Analysis, forward_with_everything, model_inputs, per_image
from ..model import ViT
from ..numbering import shown
from .curves import batched_aucs
from .files import TOP, Row, map_path, top5_text


@dataclass(frozen=True)
class Job:
    """What every image of a run gets: the method's map at `layer` (0-based; the command counts from 1),
    at `patch_size`, scored by deletion and insertion (`faithfulness`, `steps`) for the top-1 class."""

    method: str
    layer: int
    patch_size: int
    model: str = ""  # how the command named it, for the table
    faithfulness: bool = True
    steps: int = 10

    def settings(self) -> Row:
        """The columns that say how a row was made (`files.SETTINGS`), as the table writes them."""
        return {"model": self.model, "method": self.method, "layer": str(shown(self.layer)),
                "patch_size": str(self.patch_size)}


def decoded(path: Path) -> Image.Image | str:
    """The file as the page would read it, or the one sentence that says why not (the page's own)."""
    from ..app.uploads import decode_image

    try:
        return decode_image(path)
    except (ValueError, OSError) as exc:  # ImageInputError is a ValueError
        said = exc.args[0] if exc.args else None  # the page's "<problem>. Accepted: …": the problem is the sentence
        return str(said.values.get("problem", said)) if isinstance(said, Message) else str(exc)


def error_row(name: str, job: Job, error: str) -> Row:
    return {"file": name, "error": error, **job.settings()}


def forward(model: ViT, inputs: torch.Tensor, job: Job) -> list:
    """One `ViTOutput` per image of one batched forward with what `job.method` reads."""
    if methods.method(job.method).needs_class:
        return per_image(forward_with_everything(model, inputs, job.patch_size))
    with torch.inference_mode():
        return per_image(model(inputs, job.patch_size, output_attentions=True))


def explain_batch(model: ViT, images: Sequence[tuple[str, Image.Image]], job: Job, out: Path) -> list[Row]:
    """The rows of `images` ([(name, picture)], decoded), each map written under `out`."""
    prepared = [model_inputs(model, image, job.patch_size) for _, image in images]
    rows: list[Row] = []
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, (_, tensor) in enumerate(prepared):
        by_shape.setdefault(tuple(tensor.shape), []).append(i)
    for indices in by_shape.values():
        inputs = torch.cat([prepared[i][1] for i in indices])
        outputs = forward(model, inputs, job)
        analyses = [Analysis(model, prepared[i][0], inputs[k:k + 1], outputs[k]) for k, i in enumerate(indices)]
        rows += explained(model, inputs, [images[i][0] for i in indices], analyses, job, out)
    order = {name: i for i, (name, _) in enumerate(images)}
    return sorted(rows, key=lambda row: order[row["file"]])


def explained(model: ViT, inputs: torch.Tensor, names: list[str], analyses: list[Analysis], job: Job,
              out: Path) -> list[Row]:
    """Each image's map drawn and written, and its row; the AUCs of the maps drawn, in shared forwards."""
    from ..explain import render

    rows, maps = [], {}
    for k, (name, analysis) in enumerate(zip(names, analyses, strict=True)):
        try:
            chosen = analysis.attention_map(job.method, layer=job.layer)
            target = map_path(out, name)
            target.parent.mkdir(parents=True, exist_ok=True)
            render.overlay(analysis, chosen).save(target, "PNG", compress_level=1)  # fast: a map is a few colours
        except (ValueError, OSError) as exc:
            rows.append(error_row(name, job, f"could not draw or write its map: {exc}"))
            continue
        maps[k] = chosen
        top = analysis.top(TOP)
        rows.append({"file": name, "label": top[0][0] if top else "", "probability": f"{top[0][1]:.6f}" if top else "",
                     "error": "", "top5": top5_text(top), **job.settings(), "map": target.relative_to(out).as_posix()})
    scored = [k for k in maps if analyses[k].top(1)] if job.faithfulness else []
    if scored:
        targets = [int(analyses[k].probabilities.argmax()) for k in scored]
        aucs = batched_aucs(model, inputs[scored], job.patch_size, [np.asarray(maps[k]) for k in scored], targets,
                            [float(analyses[k].probabilities[t]) for k, t in zip(scored, targets, strict=True)],
                            steps=job.steps)
        by_name = {row["file"]: row for row in rows}
        for k, (deletion, insertion) in zip(scored, aucs, strict=True):
            by_name[names[k]].update(deletion_auc=f"{deletion:.6f}", insertion_auc=f"{insertion:.6f}")
    return rows
