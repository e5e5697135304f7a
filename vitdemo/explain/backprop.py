"""The backward pass relevance and LeGrad need, written out by hand from what the analysis forward kept.

Both ask for ∂(class score)/∂A_l, the gradient of one score with respect to each layer's post-softmax
attention. Autograd gets it by recording a second forward (the analysis forward runs in inference mode, on
fused kernels that have no backward) and then walking back through it: about one forward plus a backward.
But the forward that made the analysis already computed every activation the backward reads, so here the
backward runs on those, one block at a time, and no forward is repeated:

    block l:  n1 = LN1(x);  qkv = n1·W_qkvᵀ;  A = softmax(q·kᵀ/√d);  O = A·v
              mid = x + γ1·(O·W_projᵀ);  h = LN2(mid)·W_1ᵀ;  out = mid + γ2·(GELU(h)·W_2ᵀ)
    backward: ∂/∂mid = ∂/∂out + LN2ᵀ(((γ2·∂out)·W_2 ⊙ GELU′(h))·W_1)
              ∂/∂A   = ((γ1·∂mid)·W_proj, per head)·vᵀ                  ← what relevance and LeGrad read
              ∂/∂x   = ∂mid + LN1ᵀ([∂q; ∂k; ∂v]·W_qkv), through the softmax and q·kᵀ   (not needed at layer 0)

It needs each block's input x, its fused qkv, `mid` and the pre-GELU `h` (a "tape"), plus the attentions.
On the CPU bf16 fast path the forward records them (`fast.recording`, kept as stages "block{l}.qkv",
"block{l}.mid", "block{l}.hidden"); elsewhere (fp32, GPUs) they are replayed from each block's stored input
and attention: the forward minus its last product, once per analysis. The class score's own gradient, the
model's head on the final norm, is a small autograd call (`legrad.model_readout`), so every head the
families use (DeiT's two, DINOv2's class + patch mean) is differentiated as the model computes it.

Products run in the model's dtype (bf16 on the CPU fast path, as autograd's backward of a bf16 model would),
the residual stream's gradient is carried in float32. tests/test_backprop.py compares every layer's
gradient with autograd's.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from .legrad import model_readout

TAPE_STAGES = ("qkv", "mid", "hidden")  # what the fast path records per block (see the module docstring)


def stage_key(block: int, name: str) -> str:
    """The intermediates key of one recorded tape stage, e.g. "block3.qkv"."""
    return f"block{block}.{name}"


def is_tape_stage(key: str) -> bool:
    """True for the keys `stage_key` makes (kept in the model's dtype: they feed products in it)."""
    return "." in key and key.rsplit(".", 1)[1] in TAPE_STAGES


@dataclass
class Tape:
    """One image's forward, batch dimension dropped, on the model's device and in its dtype."""

    tokens: list[torch.Tensor]  # depth + 1: the encoder's input, then each block's output, (T, D)
    attention: Callable[[int], torch.Tensor]  # layer → its post-softmax weights (heads, T, T)
    qkv: list[torch.Tensor]  # per block (T, 3D)
    mid: list[torch.Tensor]  # per block (T, D): the residual stream after the attention branch
    hidden: list[torch.Tensor]  # per block (T, mlp): fc1's output before GELU


def tape(model: nn.Module, stages: Mapping[str, torch.Tensor], attentions: np.ndarray) -> Tape:
    """The tape of an analysis: its stages (batch dropped) and its (layers, heads, T, T) float32 attentions.

    Recorded stages are used as they are; without them each block is replayed from its stored input.
    """
    device, dtype = model.device, model.dtype
    depth = len(model.blocks)

    def native(tensor: torch.Tensor) -> torch.Tensor:
        return tensor.to(device=device, dtype=dtype)

    def attention(layer: int) -> torch.Tensor:
        return native(torch.from_numpy(attentions[layer]))

    tokens = [native(stages["with_position"])] + [native(stages[f"block{i}"]) for i in range(depth)]
    recorded = all(stage_key(i, name) in stages for i in range(depth) for name in TAPE_STAGES)
    if recorded:
        kept = {name: [native(stages[stage_key(i, name)]) for i in range(depth)] for name in TAPE_STAGES}
    else:
        with torch.inference_mode():
            replays = [_replayed(block, tokens[i], attention(i)) for i, block in enumerate(model.blocks)]
        kept = {name: [replay[j] for replay in replays] for j, name in enumerate(TAPE_STAGES)}
    return Tape(tokens, attention, **kept)


def attention_gradients(model: nn.Module, tape: Tape, target: int) -> list[torch.Tensor]:
    """[∂ logit[target] / ∂ A_l for every layer l], each (heads, T, T): relevance's gradients, one backward."""
    grad = readout_gradient(model, tape.tokens[-1], target)
    grads: list[torch.Tensor] = []
    with torch.inference_mode():
        for layer in reversed(range(len(model.blocks))):
            g_attention, grad = block_backward(model.blocks[layer], tape, layer, grad, input_grad=layer > 0)
            grads.append(g_attention)
    return grads[::-1]


def legrad_gradients(model: nn.Module, tape: Tape, target: int) -> list[torch.Tensor]:
    """[∂ s^l / ∂ A_l for every layer l], s^l the target's score read from block l's output (legrad.py)."""
    grads = []
    for layer, block in enumerate(model.blocks):
        grad = readout_gradient(model, tape.tokens[layer + 1], target)
        with torch.inference_mode():
            grads.append(block_backward(block, tape, layer, grad, input_grad=False)[0])
    return grads


def readout_gradient(model: nn.Module, tokens: torch.Tensor, target: int) -> torch.Tensor:
    """∂ (the model's final norm and head on `tokens` (T, D))[target] / ∂ tokens, float32 (T, D): autograd on
    that small graph alone."""
    with torch.inference_mode(False), torch.enable_grad():
        leaf = tokens.detach().clone().unsqueeze(0).requires_grad_(True)  # a clone: not an inference tensor
        score = model_readout(model)(leaf)[0, target].float()
        (grad,) = torch.autograd.grad(score, leaf)
    return grad[0].float()


def block_backward(block: nn.Module, tape: Tape, layer: int, grad: torch.Tensor,
                   input_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(∂/∂A of this block's attention (heads, T, T), ∂/∂ its input (T, D) float32 or None), given `grad`,
    the float32 gradient of the block's output; the step-by-step chain rule of the module docstring.

    GELU, softmax and LayerNorm are differentiated by the kernels autograd's own backward calls (one pass
    each, in the model's dtype, float32 inside), so those steps give autograd's numbers.
    """
    attn, mlp = block.attn, block.mlp
    qkv = tape.qkv[layer]
    t, d = qkv.shape[0], qkv.shape[1] // 3
    heads, head_dim = attn.heads, d // attn.heads
    g_hidden = torch.ops.aten.gelu_backward(_times(_scaled(grad, block.ls2), mlp.fc2), tape.hidden[layer])
    g_mid = grad + _layer_norm_backward(block.norm2, tape.mid[layer], _times(g_hidden, mlp.fc1))
    g_out = _times(_scaled(g_mid, block.ls1), attn.proj).view(t, heads, head_dim).transpose(0, 1)
    q, k, v = qkv.view(t, 3, heads, head_dim).permute(1, 2, 0, 3)  # each (heads, T, head_dim), strided views
    g_attention = torch.bmm(g_out, v.transpose(1, 2))
    if not input_grad:
        return g_attention, None
    attention = tape.attention(layer)
    g_v = torch.bmm(attention.transpose(1, 2), g_out)
    g_scores = torch.ops.aten._softmax_backward_data(g_attention, attention, -1, attention.dtype)
    g_q = torch.bmm(g_scores, k).mul_(head_dim ** -0.5)  # scores = (q/√d)·kᵀ
    g_k = torch.bmm(g_scores.transpose(1, 2), q).mul_(head_dim ** -0.5)
    g_qkv = torch.stack([g_q, g_k, g_v]).permute(2, 0, 1, 3).reshape(t, 3 * d)  # back to [q; k; v] columns
    return g_attention, g_mid + _layer_norm_backward(block.norm1, tape.tokens[layer], _times(g_qkv, attn.qkv))


def _replayed(block: nn.Module, x: torch.Tensor, attention: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """(qkv, mid, hidden) of `model.Block.forward` on input x (T, D) with its stored attention."""
    attn = block.attn
    qkv = attn.qkv(block.norm1(x))
    t, d = x.shape
    v = qkv.view(t, 3, attn.heads, d // attn.heads)[:, 2].transpose(0, 1)  # (heads, T, head_dim)
    mid = x + block.ls1(attn.proj((attention @ v).transpose(0, 1).reshape(t, d)))
    return qkv, mid, block.mlp.fc1(block.norm2(mid))


def _times(grad: torch.Tensor, layer: nn.Linear) -> torch.Tensor:
    """∂/∂ input of `layer` from ∂/∂ its output: grad · W, multiplied (and returned) in the weight's dtype."""
    return grad.to(layer.weight.dtype) @ layer.weight


def _scaled(grad: torch.Tensor, scale: nn.Module) -> torch.Tensor:
    """Through a LayerScale (x·γ) or an identity."""
    return grad * scale.gamma.float() if hasattr(scale, "gamma") else grad


def _layer_norm_backward(norm: nn.LayerNorm, x: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """∂/∂x of `norm`(x) (T, D) from ∂/∂ its output, float32; the statistics are recomputed (T·D, cheap)."""
    shape = norm.normalized_shape
    _, mean, rstd = torch.native_layer_norm(x, shape, norm.weight, norm.bias, norm.eps)
    grads = torch.ops.aten.native_layer_norm_backward(grad.to(x.dtype), x, shape, mean, rstd, norm.weight,
                                                      norm.bias, [True, False, False])
    return grads[0].float()
