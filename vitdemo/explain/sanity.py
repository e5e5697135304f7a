"""The cascading model-parameter randomisation test (Adebayo et al. 2018, "Sanity checks for saliency maps").

A map that explains what the model *learned* must change when what it learned is destroyed. So the model is
randomised from the top down, cumulatively: first the classifier head and the final norm (an image–text
tower's: the final norm and CLIP's projection or SigLIP's attention probe), then the last
block, then the one before, … down to the first, and after each step the method's map is computed again (for
the trained model's top-1 class, whatever the randomised model now predicts) and compared with the trained
model's map by Spearman rank correlation. A map that stays near 1 all the way down shows the input, or the
architecture, rather than the weights. Class-agnostic maps of the last layer's attention cannot move when
only the head changes (the head reads attention's result, not its weights): the first point is 1 for them.

Randomised weights are drawn as the model initialises them (`model._init_weights`: linear weights from a
truncated normal of std 0.02, biases 0, norms and LayerScale 1), from a generator seeded by `seed`, so a run
is reproducible. The cached model is never touched: each step works on a shallow copy of it whose
randomised parts are fresh copies, the rest shared.

Cost: no full forward. Blocks below the randomised ones compute what they did, so each step reruns only the
randomised blocks, from the input the analysis kept (L(L+1)/2 block passes in all, about L/2 forwards), and
each class method then runs its backward on the step's records. LeGrad's layers are independent of each other
(layer l reads block l's output through the norm and head), so a step recomputes only the layers whose block
or input it changed, L(L+1)/2 + L short backwards instead of L(L+1); relevance's one backward runs through
every layer at every step (its gradient comes down from the changed top).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

import numpy as np
import torch
from torch import nn

from ..model import BlockRecord, LayerScale, ViT, ViTOutput
from . import backprop
from .legrad import legrad_rows

if TYPE_CHECKING:
    from .analysis import Analysis

SEED = 0


def spearman(a: np.ndarray, b: np.ndarray) -> float:
    """Spearman's rank correlation of two equally shaped arrays: Pearson's of their ranks, ties sharing the
    mean of the ranks they span. 0.0 when either is constant (no order to agree with)."""
    ra, rb = ranks(np.ravel(a)), ranks(np.ravel(b))
    ra, rb = ra - ra.mean(), rb - rb.mean()
    scale = math.sqrt(float(ra @ ra) * float(rb @ rb))
    return float(ra @ rb) / scale if scale > 0 else 0.0


def ranks(values: np.ndarray) -> np.ndarray:
    """Ranks 1…n of `values` (float64), tied values all given the mean of the ranks they occupy."""
    values = np.asarray(values, dtype=np.float64)
    order = np.argsort(values, kind="stable")
    sorted_values = values[order]
    starts = np.flatnonzero(np.r_[True, sorted_values[1:] != sorted_values[:-1]])
    ends = np.r_[starts[1:], len(values)]  # each run of equal values is [start, end)
    mean_rank = (starts + ends + 1) / 2.0  # ranks start + 1 … end, averaged
    out = np.empty(len(values), dtype=np.float64)
    out[order] = np.repeat(mean_rank, ends - starts)
    return out


def redrawn(module: nn.Module, generator: torch.Generator) -> nn.Module:
    """A copy of `module` with every weight drawn again as the model initialises it (see the module docstring)."""
    fresh = copy.deepcopy(module)
    with torch.no_grad():
        for part in fresh.modules():
            if isinstance(part, nn.Linear):
                drawn = torch.empty(part.weight.shape, dtype=torch.float32)
                nn.init.trunc_normal_(drawn, std=0.02, generator=generator)
                part.weight.copy_(drawn)
                if part.bias is not None:
                    part.bias.zero_()
            elif isinstance(part, nn.LayerNorm):
                part.weight.fill_(1.0)
                part.bias.fill_(0.0)
            elif isinstance(part, LayerScale):
                part.gamma.fill_(1.0)
    return fresh


def randomised_analyses(analysis: Analysis, seed: int = SEED) -> Iterator[tuple[Analysis, int]]:
    """(the analysis of the same input on the cascade of randomised models, the first block whose weights or
    input that step changed): head and final norm (0: every layer's readout changed), then blocks L, L−1, …,
    1 on top; depth + 1 analyses, each valid until the next is drawn (they share one copy)."""
    from .analysis import Analysis

    model: ViT = analysis.model
    generator = torch.Generator().manual_seed(seed)
    randomised = _shallow_copy(model)
    randomised.norm = redrawn(model.norm, generator)
    if model.head is not None:
        randomised.head = redrawn(model.head, generator)
    if model.head_dist is not None:
        randomised.head_dist = redrawn(model.head_dist, generator)
    for pooling in ("proj", "probe"):  # an image–text tower's head: CLIP's projection, SigLIP's attention probe
        if getattr(model, pooling, None) is not None:
            setattr(randomised, pooling, redrawn(getattr(model, pooling), generator))
    records = [record.map(lambda t: t[None]) for record in analysis._tape()]
    yield Analysis(randomised, analysis.view, analysis.inputs, _output(randomised, analysis, records)), 0
    for layer in reversed(range(len(model.blocks))):
        randomised.blocks[layer] = redrawn(model.blocks[layer], generator)
        records[layer:] = _run(randomised, records[layer].inputs, layer)
        yield Analysis(randomised, analysis.view, analysis.inputs, _output(randomised, analysis, records)), layer


def correlations(analysis: Analysis, names: Sequence[str], seed: int = SEED) -> dict[str, list[float]]:
    """{method: [Spearman of its map on the trained model against each randomised one]}, depth + 1 each.

    Each map is the method's default (last layer, heads averaged) for the trained model's top-1 class."""
    target = int(analysis.probabilities.argmax()) if analysis.labels else None
    trained = {name: analysis.attention_map(name, target=target) for name in names}
    out: dict[str, list[float]] = {name: [] for name in names}
    for _, maps in randomised_maps(analysis, names, target, seed):
        for name in names:
            out[name].append(spearman(trained[name], maps[name]))
    return out


def randomised_maps(analysis: Analysis, names: Sequence[str], target: int | None,
                    seed: int = SEED) -> Iterator[tuple[ViT, dict[str, np.ndarray]]]:
    """(the randomised model, {method: its default map for `target`}) at each step of the cascade; the model
    is valid until the next step. LeGrad reuses the rows of the layers the step left unchanged."""
    rows: np.ndarray | None = None  # LeGrad's (layers, heads, T) of the step before
    for step, changed in randomised_analyses(analysis, seed):
        if "legrad" in names and target is not None:
            fresh = legrad_rows(backprop.legrad_gradients(step.model, step._tape(), target, start=changed))
            rows = fresh if rows is None else np.concatenate([rows[:changed], fresh])
            step._legrad_rows_given(target, rows)
        yield step.model, {name: step.attention_map(name, target=target) for name in names}


def _shallow_copy(model: ViT) -> ViT:
    """A ViT sharing every module of `model`, with a module table and a block list of its own, so that
    replacing one of its parts leaves `model` as it is."""
    twin = copy.copy(model)
    twin._modules = dict(model._modules)
    twin.blocks = nn.ModuleList(list(model.blocks))
    return twin


def _run(model: ViT, tokens: torch.Tensor, start: int) -> list[BlockRecord]:
    """The records of blocks `start`… of `model` from `tokens` (1, T, D), with their attentions, on the CPU."""
    out = []
    x = tokens.to(model.device, model.dtype)
    with torch.inference_mode():
        for block in model.blocks[start:]:
            record = block(x, True)
            x = record.output
            out.append(record.map(lambda t: t.detach().cpu()))
    return out


def _output(model: ViT, analysis: Analysis, records: list[BlockRecord]) -> ViTOutput:
    """What `ViT.forward` would have returned for the records' image (batch of one): logits, attentions, records."""
    with torch.inference_mode():
        encoded = model.norm(records[-1].output.to(model.device, model.dtype))
        logits = model.classify(encoded).float()
    attentions = tuple(record.attention.float() for record in records)
    # The final tokens, so that a model that pools with a probe (SigLIP) is followed through this model's probe row.
    return ViTOutput(logits, attentions, analysis.grid, analysis.patch_size, {"encoded": encoded.cpu()},
                     tuple(records))
