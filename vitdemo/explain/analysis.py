"""Where does the class token look? One forward pass, then every attention view of it without another.

    a = analyze(model, image, patch_size=12)   # the only forward pass
    a.attention_map("attention", layer=-1, head="max")
    a.attention_map("rollout", discard_ratio=0.9)
    a.attention_map("relevance", target="star")  # the first request per target runs one backward
    a.attention_map("legrad")                    # one short backward per layer, no forward
    a.faithfulness("relevance").deletion_auc     # how well the map predicts what the model uses

An image–text model (CLIP, SigLIP, Chinese-CLIP) is analysed with `prompts=[...]`: they are its classes
(`top`, `target`). SigLIP has no class token: wherever a view starts from the class token's row e₀, it starts
from its attention probe's row p over the patches instead (`query`, `query_rows`), so attention is pᵀ·A_l and
rollout and relevance are pᵀ·(the product).

Four maps, all over the patch grid, all non-negative and summing to 1, prefix tokens (class token and
DeiT's distillation token) left out, any grid shape and patch size:

* **attention**: the class token's row of one layer's attention, one head or heads fused (mean/max/min).
* **rollout** (Abnar & Zuidema 2020): per layer Â = (A + I)/2 renormalised over keys, multiplied across
  layers, to follow information through the residual stream.
* **relevance** (Chefer et al. 2021): R ← R + mean_h((∇A ⊙ A)⁺)·R from R = I, for one class.
* **legrad** (Bousselham et al. 2024): mean over layers l of mean_h,queries (∂s^l/∂A^l)⁺, s^l the class
  score read from layer l's tokens (legrad.py).

Relevance and LeGrad need gradients, which the inference-mode forward of `analyze` does not record (recording
them makes every first analysis slower and heavier). They need no second forward either: the backward is
written out by hand (backprop.py) and runs on the activations the analysis forward kept, so each target
costs one backward pass, its first request included. Every other view is pure arithmetic on the stored
attentions, cached per argument.

Memory: all an analysis holds is counted (`Analysis.nbytes`, which the app's cache evicts by), and what it
adds after its forward is bounded. Views live in a store of at most `VIEW_BYTES`, least recently used dropped
first (a class's are small: (layers, rows, cols) per head setting); a class's gradients, (layers, heads, T, T)
like the attentions, are kept for the last class asked only (one backward serves all its views).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import replace
from typing import Any

import numpy as np
import torch
from PIL import Image

from .. import methods
from ..device import avoid_huge_page_stalls
from ..image_text import looking_query
from ..model import BlockRecord, ViT, ViTOutput
from ..preprocessing import model_view, to_tensor
from . import backprop
from .interventions import Interventions
from .legrad import legrad_rows
from .maps import Head, as_distribution, fuse_heads
from .memo import Memo, held_bytes, picture_bytes

avoid_huge_page_stalls()  # every analysis copies its attentions into fresh arrays (355 MB at patch 8 on ViT-B)

# Computed views kept per analysis. At patch 8 on ViT-B/16 one (layers, rows, cols) float32 map is 37 KB, so all
# the explorer asks of an analysis (15 head settings of attention, 3 of rollout, 3 per class) is a few MB.
VIEW_BYTES = 64 * 2**20


def patch_at(analysis: Analysis, x: float, y: float, shown_size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(row, col) of the patch under a click at (x, y), clamped to the grid.

    Coordinates are in the model view's pixels, or in those of a picture of it shown at `shown_size`
    (width, height), such as the upscaled renderings.
    """
    width, height = analysis.view.size
    if shown_size is not None:
        x, y = x * width / shown_size[0], y * height / shown_size[1]
    rows, cols = analysis.grid
    p = analysis.patch_size
    return min(max(int(y // p), 0), rows - 1), min(max(int(x // p), 0), cols - 1)


# --------------------------------------------------------------------------------------------------------
# One image, analysed once


class Analysis(Interventions):
    """Everything one forward pass of `model` on one image tells, kept so that any view is arithmetic only.

    Results are stored as float32 numpy arrays with the batch dimension dropped, whatever the model's device
    and dtype (bf16 attentions would make rollout products drift): `attentions` is (layers, heads, T, T).
    What runs the model again on changed inputs or weights (faithfulness, hidden patches, ablation, sanity)
    is `Interventions`' (interventions.py).
    """

    def __init__(self, model: ViT, view: Image.Image, inputs: torch.Tensor, output: ViTOutput):
        self.model = model
        self.view = view
        self.inputs = inputs
        self.grid: tuple[int, int] = tuple(output.grid)
        self.patch_size: int = output.patch_size
        self.num_prefix_tokens: int = model.config.num_prefix_tokens
        self.logits = output.logits[0].detach().float().cpu()
        self.probabilities = model.probabilities(self.logits)
        self.attentions = _stacked(output.attentions)
        self.intermediates = {k: v[0].detach().float().cpu() for k, v in (output.intermediates or {}).items()}
        self.query = looking_query(model, (output.intermediates or {}).get("encoded"), self.attentions.shape[-1])
        self._views = Memo(VIEW_BYTES)
        self._last_gradients: tuple[int, list[torch.Tensor], int] | None = None  # (target, `_gradients`, bytes)
        # What the backward reads (backprop.py): each block's record, in the model's dtype since it feeds products.
        self._kept_tape: list[BlockRecord] | None = (backprop.one_image(output.records, self.attentions)
                                                     if output.records else None)
        self._backward_lock = threading.Lock()  # the app may ask for relevance from two requests at once
        self._sized: tuple[int, int] | None = None  # (id of the tape measured with the forward's results, bytes)

    @property
    def labels(self) -> list[str]:
        return self.model.labels

    @property
    def depth(self) -> int:
        return len(self.attentions)

    @property
    def heads(self) -> int:
        return self.attentions[0].shape[0]

    def _repr_html_(self) -> str:
        """In Jupyter: the page's explorer of this analysis, drawn in the notebook with no server
        (`vitdemo.explorer_html`, inside an iframe so its scripts and CSS stay apart from the notebook's)."""
        from ..notebook import explorer_iframe

        return explorer_iframe(self)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The k most probable (label, probability) pairs, best first; [] for a model without a classifier."""
        probs, indices = self.probabilities.topk(min(k, self.probabilities.numel()))
        return [(self.labels[i], float(p)) for p, i in zip(probs.tolist(), indices.tolist())]

    def attention_map(self, method: str = "attention", layer: int = -1, head: Head = None,
                      target: int | str | None = None, discard_ratio: float = 0.0) -> np.ndarray:
        """(rows, cols) map of where the class token looks, summing to 1 (see the module docstring).

        `layer` is the layer shown by "attention" and the last one accumulated by the methods that chain
        layers; `target` (class index or label, default the top-1) matters for class methods only, and
        `discard_ratio` for rollout. The method's own function is in `vitdemo.methods`.
        """
        chosen = methods.method(method)
        query = self._query(chosen, self._layer_index(layer), head, target, discard_ratio)
        return self._cached((chosen.name, query), lambda: chosen.map(self, query))

    def maps_by_layer(self, method: str = "attention", head: Head = None, target: int | str | None = None,
                      discard_ratio: float = 0.0) -> np.ndarray:
        """(layers, rows, cols): `attention_map(method, layer=l, ...)` for every layer l, in one pass.

        What a view that scrubs through the layers needs (the page's explorer gets all of them at once).
        """
        chosen = methods.method(method)
        query = self._query(chosen, -1, head, target, discard_ratio)
        return self._cached(("by-layer", chosen.name, query), lambda: chosen.by_layer(self, query))

    def _query(self, chosen: methods.Method, layer: int, head: Head, target: int | str | None,
               discard_ratio: float) -> methods.Query:
        """The arguments `chosen` reads, checked; the others left at their defaults so they do not split the cache."""
        return methods.Query(layer=layer, head="mean" if head is None else head,
                             target=self._target_index(target) if chosen.needs_class else None,
                             discard_ratio=float(discard_ratio) if chosen.discards else 0.0)

    def query_rows(self, layer: int) -> np.ndarray:
        """(heads, T): the class token's attention row of each head at `layer`; for a model that pools with
        a probe (SigLIP), the probe's row through that layer's attention, pᵀ·A (the class token's is e₀ᵀ·A)."""
        if isinstance(self.query, int):
            return self.attentions[layer][:, self.query]
        return np.einsum("t,hts->hs", self.query, self.attentions[layer])

    def class_map(self, matrix: np.ndarray) -> np.ndarray:
        """The class token's row (of a (T, T) matrix, or that row itself) over the patches, as a map."""
        row = matrix if matrix.ndim == 1 else matrix[0]
        return as_distribution(row[self.num_prefix_tokens:], self.grid)

    def class_maps(self, rows: Iterable[np.ndarray]) -> np.ndarray:
        """(layers, rows, cols): `class_map` of each layer's matrix or row."""
        return np.stack([self.class_map(row) for row in rows])

    def patch_attention(self, row: int, col: int, layer: int = -1, head: Head = None) -> np.ndarray:
        """(rows, cols): what the token of patch (row, col) attends to at `layer`, over patches only."""
        rows, cols = self.grid
        if not (0 <= row < rows and 0 <= col < cols):
            raise ValueError(f"patch ({row}, {col}) is outside the {rows}×{cols} grid")
        layer = self._layer_index(layer)
        query = self.num_prefix_tokens + row * cols + col
        return self._cached(("patch", row, col, layer, head), lambda: as_distribution(
            fuse_heads(self.attentions[layer], head)[query, self.num_prefix_tokens:], self.grid))

    def patch_maps(self, layer: int = -1, head: Head = None) -> np.ndarray:
        """(rows·cols, rows, cols): `patch_attention(r, c, layer, head)` for every patch, in patch order."""
        layer, prefix = self._layer_index(layer), self.num_prefix_tokens

        def compute() -> np.ndarray:
            rows = np.clip(fuse_heads(self.attentions[layer], head)[prefix:, prefix:], 0.0, None)
            totals = rows.sum(axis=-1, keepdims=True)
            uniform = np.full_like(rows, 1.0 / rows.shape[-1])
            out = np.where(totals > 0, rows / np.where(totals > 0, totals, 1.0), uniform).astype(np.float32)
            return out.reshape(-1, *self.grid)

        return self._cached(("patch-maps", layer, head), compute)

    def head_maps(self, layer: int = -1) -> np.ndarray:
        """(heads, rows, cols): each head's class-token attention at `layer`, each summing to 1."""
        layer = self._layer_index(layer)
        return self._cached(("heads", layer), lambda: np.stack([
            as_distribution(row, self.grid) for row in self.query_rows(layer)[:, self.num_prefix_tokens:]]))

    def qkv(self, layer: int) -> torch.Tensor:
        """Layer `layer`'s [q; k; v] of LN1(x), (T, 3D), as the forward computed them (the backward's record:
        kept by the analysis forward, so reading it costs no forward)."""
        return self._tape()[self._layer_index(layer)].qkv

    def gradients(self, target: int) -> np.ndarray:
        """(layers, heads, T, T) float32: ∂ logit[target] / ∂ A for every layer; one backward pass per new
        target (a new array each call: the analysis keeps them in the model's dtype, see `_gradients`)."""
        return _stacked([g[None] for g in self._gradients(target)])

    def _gradients(self, target: int) -> list[torch.Tensor]:
        """Each layer's ∂ logit[target] / ∂ A (heads, T, T), in the model's dtype, on its device.

        Kept for the last target only: one class's views (every layer, each head setting) read them several
        times, but each class's would add as much as the attentions hold. The model's dtype because that is
        what the backward computes in (converting is exact), at half float32's bytes in bf16.
        """
        with self._backward_lock:
            if self._last_gradients is None or self._last_gradients[0] != target:
                self._last_gradients = None  # freed before the next are made: one target's held at a time
                grads = backprop.attention_gradients(self.model, self._tape(), target)
                self._last_gradients = (target, grads, held_bytes(grads))
            return self._last_gradients[1]

    def gradient_layers(self, target: int) -> Sequence[np.ndarray]:
        """`gradients(target)` as a sequence of layers, each converted to float32 only when read."""
        return _Float32Layers(self._gradients(target))

    def legrad_rows(self, target: int) -> np.ndarray:
        """(layers, heads, T): LeGrad's per-layer, per-head rows for `target`; one short backward per layer."""
        with self._backward_lock:  # the backward runs once however many requests ask at the same time
            return self._cached(("legrad-rows", target), lambda: legrad_rows(
                backprop.legrad_gradients(self.model, self._tape(), target)))

    def logit_lens(self) -> np.ndarray:
        """(layers, classes): row l the probabilities if the model stopped after block l + 1, read through its
        own final norm and head; the last row is `probabilities`. No forward pass (lens.py)."""
        from . import lens

        return self._cached(("logit-lens",), lambda: lens.logit_lens(self))

    def patch_lens(self) -> Any:
        """Each patch token read through the final norm and head: `lens.PatchLens` of (layers, rows, cols)
        classes and probabilities (lens.py)."""
        from . import lens

        return self._cached(("patch-lens",), lambda: lens.patch_lens(self))

    def _legrad_rows_given(self, target: int, rows: np.ndarray) -> None:
        """Take LeGrad's rows for `target` from the caller (the sanity cascade computes only the layers a step
        changed, sanity.py) instead of running the short backwards."""
        with self._backward_lock:
            self._cached(("legrad-rows", target), lambda: rows)

    def nbytes(self) -> int:
        """Bytes this analysis holds now, exactly: the forward's results (attentions, stages, inputs, logits,
        the picture), the backward's tape, the last target's gradients and every computed view kept.

        It grows as views are asked for, after the app's cache stored it: the cache measures it again each
        time it is used. The model is not counted (its pool holds it).
        """
        gradients = self._last_gradients
        return self._fixed_bytes() + self._views.nbytes + (gradients[2] if gradients is not None else 0)

    def clear_cache(self) -> None:
        """Forget every computed map and gradient (memory); the forward's results, block records included, stay."""
        with self._backward_lock:
            self._views.clear()
            self._last_gradients = None

    def _tape(self) -> list[BlockRecord]:
        """What the hand-written backward reads: the analysis forward's block records; an analysis made from a
        forward that kept none (a plain `model(...)` call) gets them from one more forward."""
        if self._kept_tape is None:
            output = forward_with_everything(self.model, self.inputs, self.patch_size)
            self._kept_tape = backprop.one_image(output.records, self.attentions)
        return self._kept_tape

    def _cached(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        return self._views.get(key, compute)

    def _fixed_bytes(self) -> int:
        """Bytes of the forward's results and the backward's block records, measured together (the records'
        attentions are the stored ones, and in fp32 their block inputs and outputs are the stored stages) and
        again only when the records change."""
        tape = self._kept_tape
        if self._sized is None or self._sized[0] != id(tape):
            held = held_bytes(self.attentions, self.intermediates, self.inputs, self.logits, self.probabilities, tape)
            self._sized = (id(tape), held + picture_bytes(self.view))
        return self._sized[1]

    def _layer_index(self, layer: int) -> int:
        if not -self.depth <= layer < self.depth:
            raise ValueError(f"layer must be in [-{self.depth}, {self.depth}), not {layer}")
        return layer % self.depth

    def _target_index(self, target: int | str | None) -> int:
        if not self.labels:
            raise ValueError("this model has no classifier (DINO-style, num_classes=0): class-specific maps "
                             "(relevance, LeGrad, faithfulness) need one; attention and rollout work")
        if target is None:
            return int(self.probabilities.argmax())
        if isinstance(target, str):
            if target not in self.labels:
                raise ValueError(f"unknown label {target!r}")
            return self.labels.index(target)
        if not 0 <= int(target) < len(self.labels):
            raise ValueError(f"target must be a class index below {len(self.labels)}, not {target}")
        return int(target)


def _stacked(tensors: tuple[torch.Tensor, ...]) -> np.ndarray:
    """(layers, …) float32: the first item of each (1, …) tensor, each converted straight into one array.

    One pass over memory where `np.stack` of converted copies makes two: at patch 8 on ViT-B/16 the
    attentions are 355 MB in float32.
    """
    out = np.empty((len(tensors), *tensors[0].shape[1:]), dtype=np.float32)
    for i, tensor in enumerate(tensors):
        torch.from_numpy(out[i]).copy_(tensor[0].detach())
    return out


class _Float32Layers(Sequence):
    """Tensors read as float32 arrays one at a time, on the CPU. The relevance arithmetic reads the gradients
    layer by layer; converting them all first would hold another float32 copy (355 MB at patch 8 on ViT-B/16)."""

    def __init__(self, tensors: list[torch.Tensor]):
        self._tensors = tensors

    def __len__(self) -> int:
        return len(self._tensors)

    def __getitem__(self, index: int | slice) -> Any:
        if isinstance(index, slice):
            return _Float32Layers(self._tensors[index])
        return self._tensors[index].detach().float().cpu().numpy()


Forward = Callable[[torch.Tensor, int], ViTOutput]


def model_inputs(model: ViT, image: Image.Image, patch_size: int | None = None,
                 keep_aspect: bool = False) -> tuple[Image.Image, torch.Tensor]:
    """(the pixels the model sees, the (1, 3, H, W) input tensor on the model's device)."""
    view = model_view(image, model.config, patch_size, keep_aspect)
    return view, to_tensor(view, model.config).to(model.device)


def forward_with_everything(model: ViT, inputs: torch.Tensor, patch_size: int | None) -> ViTOutput:
    """The inference-mode forward an analysis keeps: every layer's attention, every recipe stage, and each
    block's record for the backward of relevance and LeGrad (backprop.py)."""
    with torch.inference_mode():
        return model(inputs, patch_size, output_attentions=True, output_intermediates=True, output_records=True)


def per_image(output: ViTOutput) -> list[ViTOutput]:
    """A batched forward's output as one `ViTOutput` per image, each a batch of one (views, not copies): what
    `analyze(..., forward=...)` takes, so a batch run once serves one analysis per image."""
    return [ViTOutput(output.logits[i:i + 1], tuple(a[i:i + 1] for a in output.attentions), output.grid,
                      output.patch_size, {k: v[i:i + 1] for k, v in (output.intermediates or {}).items()},
                      tuple(r.map(lambda t, i=i: t[i:i + 1]) for r in output.records))
            for i in range(output.logits.shape[0])]


def analyze(model: ViT, image: Image.Image, patch_size: int | None = None, keep_aspect: bool = False, *,
            prompts: Sequence[str] | None = None, forward: Forward | None = None) -> Analysis:
    """Run `model` once on `image` at `patch_size` and keep its attentions and stages for every view.

    `prompts`: for an image–text model (CLIP, SigLIP, Chinese-CLIP), the texts to rank and explain, as typed
    (the family's template is applied for the text tower): they are the analysis's classes, `top(k)` ranks
    them and any class-specific map takes one as `target`.
    `forward(inputs, patch_size)` replaces the plain call (the app batches concurrent requests through it);
    it must return what `forward_with_everything` returns, for a batch of one.
    """
    if prompts is not None:
        if not hasattr(model, "with_prompts"):
            raise ValueError("prompts need an image–text model (CLIP, SigLIP or Chinese-CLIP)")
        model = model.with_prompts(list(prompts))
    p = patch_size or model.config.patch_size
    view, inputs = model_inputs(model, image, p, keep_aspect)
    output = forward(inputs, p) if forward else forward_with_everything(model, inputs, p)
    if prompts is not None:  # a shared forward (the app's batches) ran the model without these prompts
        with torch.inference_mode():
            output = replace(output, logits=model.classify(output.intermediates["encoded"].to(model.device)).float())
    return Analysis(model, view, inputs, output)
