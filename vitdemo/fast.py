"""The encoder block's inference fast path on CPUs: the same arithmetic as `model.Block`, fewer memory passes.

`model.py` is the readable recipe; this module is what it calls, in inference only, when the numbers allow
it. Measured on ViT-B/16 in bf16 (batch 1, every attention map: see `benchmarks/bench_core.py`), the time
outside the matrix products went to elementwise passes each written as its own kernel: the bias copied into
every linear layer's output before the product, GELU, the two residual adds, the attention scale, and the
copies that `q @ kᵀ` makes of permuted q, k and v. Here oneDNN (the library PyTorch's CPU matrix products
already run on) does the bias, GELU and residual add inside the product ("post-ops"), and attention reads
q, k and v straight out of the fused qkv output. Each product then rounds to bf16 once instead of after
every step: as close to fp32 as the plain bf16 path (tests/test_fast.py), logits at a cosine of 0.9999 on
ViT-B/16.

When it applies (`applies`): a CPU tensor in bf16 with autograd off (inference mode or `torch.no_grad()`),
and a PyTorch built with oneDNN. Training (which needs the autograd graph), fp32 (the reference numbers) and
GPUs run the plain recipe. Relevance and LeGrad need no graph: under `recording()` (the analysis forward)
each block also keeps what their hand-written backward reads (`explain/backprop.py`).
"""

from __future__ import annotations

import contextlib
import threading
import weakref
from collections.abc import Iterator

import torch
import torch.nn.functional as F
from torch import nn

_POINTWISE = getattr(torch.ops.mkldnn, "_linear_pointwise", None) if torch.backends.mkldnn.is_available() else None
_enabled = True
_PACKED: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # nn.Linear → (weight, stamp, packed)
_RECORDING = threading.local()  # .tape: the list `recording()` fills, per thread (the app batches in threads)


def applies(x: torch.Tensor) -> bool:
    """True when `x` may take the fast path: bf16 on a CPU, no autograd, oneDNN's fused linear available."""
    return (_enabled and _POINTWISE is not None and x.dtype == torch.bfloat16 and x.device.type == "cpu"
            and not torch.is_grad_enabled())


@contextlib.contextmanager
def disabled() -> Iterator[None]:
    """Run the plain recipe even where the fast path applies (benchmarks and tests compare the two).

    Process-wide, for every thread: not meant for serving."""
    global _enabled
    previous, _enabled = _enabled, False
    try:
        yield
    finally:
        _enabled = previous


@contextlib.contextmanager
def recording() -> Iterator[list[dict[str, torch.Tensor]]]:
    """Within it, each block the fast path runs appends {"qkv", "mid", "hidden"} to the list it yields.

    qkv is the fused q, k, v output, mid the residual stream after the attention branch, hidden fc1's
    output before GELU: what `explain/backprop.py` needs to differentiate the block without autograd. The
    tensors are kept, not copied (hidden costs one GELU pass of its own instead of the fused one).
    """
    previous = getattr(_RECORDING, "tape", None)
    _RECORDING.tape = tape = []
    try:
        yield tape
    finally:
        _RECORDING.tape = previous


def packed_weight(layer: nn.Linear) -> torch.Tensor:
    """`layer.weight` reordered once into oneDNN's blocked layout (products read it ~5% faster), kept until
    the weight changes (training, `load_state_dict`, `.to()`): a second copy of each linear weight in memory."""
    weight = layer.weight
    stamp = (weight.data_ptr(), weight._version)  # new storage, or an in-place change
    cached = _PACKED.get(layer)
    if cached is None or cached[0]() is not weight or cached[1] != stamp:  # or another tensor (`.to()`)
        cached = _PACKED[layer] = (weakref.ref(weight), stamp, torch.ops.mkldnn._reorder_linear_weight(weight.detach()))
    return cached[2]


def linear(x: torch.Tensor, layer: nn.Linear, activation: str = "none") -> torch.Tensor:
    """`activation(layer(x))` as one oneDNN product: bias and (exact, erf) GELU applied before rounding."""
    return _POINTWISE(x, packed_weight(layer), layer.bias, activation, [], "none" if activation == "gelu" else "")


def linear_add(x: torch.Tensor, layer: nn.Linear, residual: torch.Tensor) -> torch.Tensor:
    """`residual + layer(x)` as one oneDNN product (the residual is added before rounding)."""
    return _POINTWISE.binary(x, residual, packed_weight(layer), layer.bias, "add")


def attention(qkv: torch.Tensor, heads: int, need_weights: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Multi-head attention from the fused (B, T, 3·D) qkv output: ((B, T, D) before proj, weights or None).

    q, k and v stay strided views of `qkv` (no permuted copies); the 1/√d scale is applied inside the
    q·kᵀ product (`baddbmm`'s alpha) rather than as a pass over q.
    """
    b, t, three_d = qkv.shape
    d = three_d // 3
    head_dim = d // heads
    q, k, v = qkv.view(b, t, 3, heads, head_dim).unbind(2)  # each (B, T, heads, head_dim), strided
    if not need_weights:
        out = F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2).reshape(b, t, d), None
    q, k, v = (z.transpose(1, 2).reshape(b * heads, t, head_dim) for z in (q, k, v))  # views when B = 1
    scores = torch.baddbmm(q.new_empty(()), q, k.transpose(1, 2), beta=0.0, alpha=head_dim ** -0.5)
    weights = scores.softmax(dim=-1)
    out = torch.bmm(weights, v).view(b, heads, t, head_dim).transpose(1, 2).reshape(b, t, d)
    return out, weights.view(b, heads, t, t)


def block_forward(block: nn.Module, x: torch.Tensor, need_weights: bool) -> tuple[torch.Tensor, torch.Tensor | None]:
    """`model.Block.forward` for inputs where `applies(x)`: x + Attention(LN(x)), then x + MLP(LN(x))."""
    attn, mlp, tape = block.attn, block.mlp, getattr(_RECORDING, "tape", None)
    qkv = linear(block.norm1(x), attn.qkv)
    attended, weights = attention(qkv, attn.heads, need_weights)
    mid = _residual(x, attended, attn.proj, block.ls1)
    if tape is None:
        hidden = linear(block.norm2(mid), mlp.fc1, "gelu")
    else:  # keep fc1's output before GELU: the GELU's derivative needs it
        before = linear(block.norm2(mid), mlp.fc1)
        tape.append({"qkv": qkv, "mid": mid, "hidden": before})
        hidden = F.gelu(before)
    return _residual(mid, hidden, mlp.fc2, block.ls2), weights


def _residual(x: torch.Tensor, branch_input: torch.Tensor, layer: nn.Linear, scale: nn.Module) -> torch.Tensor:
    """x + scale(layer(branch_input)); one fused product when there is no LayerScale."""
    if isinstance(scale, nn.Identity):
        return linear_add(branch_input, layer, x)
    return x + scale(linear(branch_input, layer))
