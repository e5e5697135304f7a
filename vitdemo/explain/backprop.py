"""The backward pass relevance and LeGrad need, written out by hand from what the analysis forward kept.

Both ask for ∂(class score)/∂A_l, the gradient of one score with respect to each layer's post-softmax
attention. Autograd gets it by recording a second forward (the analysis forward runs in inference mode, with
no graph) and then walking back through it: about one forward plus a backward. But the forward that made the
analysis already computed every activation the backward reads, and each block handed them over by name
(`model.BlockRecord`), so here the backward runs on those, one block at a time, and no forward is repeated:

    block l:  n1 = LN1(x);  qkv = n1·W_qkvᵀ;  A = softmax(q·kᵀ/√d);  O = A·v
              mid = x + γ1·(O·W_projᵀ);  h = LN2(mid)·W_1ᵀ;  out = mid + γ2·(GELU(h)·W_2ᵀ)
    backward: ∂/∂mid = ∂/∂out + LN2ᵀ(((γ2·∂out)·W_2 ⊙ GELU′(h))·W_1)
              ∂/∂A   = ((γ1·∂mid)·W_proj, per head)·vᵀ                  ← what relevance and LeGrad read
              ∂/∂x   = ∂mid + LN1ᵀ([∂q; ∂k; ∂v]·W_qkv), through the softmax and q·kᵀ   (not needed at layer 0)

Every name on the left of the forward is a field of the block's record; this module reads nothing else of
the forward. The class score's own gradient, the model's head on the final norm, is a small autograd call
(`legrad.model_readout`), so every head the families use (DeiT's two, DINOv2's class + patch mean) is
differentiated as the model computes it.

Products run in the model's dtype (as autograd's backward of a bf16 model would), the residual stream's
gradient is carried in float32. tests/test_backprop.py compares every layer's gradient with autograd's.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import numpy as np
import torch
from torch import nn

from ..activations import activation_backward
from ..model import BlockRecord
from .legrad import Readout, layer_readout, model_readout


def one_image(records: Sequence[BlockRecord], attentions: np.ndarray) -> list[BlockRecord]:
    """The records of a batch of one as an analysis keeps them: batch dropped, on the CPU, in the model's
    dtype, each attention a view of the analysis's (layers, heads, T, T) float32 array, not a second copy
    (one tensor over the whole array, indexed, so that memory counts see one block: `memo.held_bytes`)."""
    stored = torch.from_numpy(attentions)
    return [replace(_own(replace(record, attention=None).map(lambda t: t[0].detach().cpu())),
                    attention=stored[layer]) for layer, record in enumerate(records)]


def attention_gradients(model: nn.Module, records: Sequence[BlockRecord], target: int) -> list[torch.Tensor]:
    """[∂ logit[target] / ∂ A_l for every layer l], each (heads, T, T): relevance's gradients, one backward.

    `records` are one image's (`one_image`)."""
    grad = readout_gradient(model, records[-1].output, target)
    grads: list[torch.Tensor] = []
    with torch.inference_mode():
        for layer in reversed(range(len(model.blocks))):
            g_attention, grad = block_backward(model.blocks[layer], records[layer], grad, input_grad=layer > 0)
            grads.append(g_attention)
    return grads[::-1]


def legrad_gradients(model: nn.Module, records: Sequence[BlockRecord], target: int,
                     start: int = 0) -> list[torch.Tensor]:
    """[∂ s^l / ∂ A_l for every layer l from `start` on], s^l the target's score read from block l's output
    (legrad.py). Each layer's is independent of the others', so a caller may keep some and ask for the rest."""
    grads = []
    for block, record in zip(model.blocks[start:], records[start:], strict=True):
        grad = readout_gradient(model, record.output, target, layer_readout(model))
        with torch.inference_mode():
            grads.append(block_backward(block, record, grad, input_grad=False)[0])
    return grads


def readout_gradient(model: nn.Module, tokens: torch.Tensor, target: int,
                     readout: Readout | None = None) -> torch.Tensor:
    """∂ (the model's final norm and head on `tokens` (T, D))[target] / ∂ tokens, float32 (T, D): autograd on
    that small graph alone."""
    with torch.inference_mode(False), torch.enable_grad():
        leaf = tokens.to(model.device, model.dtype).clone().unsqueeze(0).requires_grad_(True)  # not an inference tensor
        score = (readout or model_readout(model))(leaf)[0, target].float()
        (grad,) = torch.autograd.grad(score, leaf)
    return grad[0].float()


def block_backward(block: nn.Module, record: BlockRecord, grad: torch.Tensor,
                   input_grad: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(∂/∂A of this block's attention (heads, T, T), ∂/∂ its input (T, D) float32 or None), given `grad`,
    the float32 gradient of the block's output; the step-by-step chain rule of the module docstring.

    GELU, softmax and LayerNorm are differentiated by the kernels autograd's own backward calls (one pass
    each, in the model's dtype, float32 inside), so those steps give autograd's numbers.
    """
    attn, mlp = block.attn, block.mlp
    weight = attn.proj.weight

    def native(tensor: torch.Tensor) -> torch.Tensor:  # the record's tensors where and as the block computes
        return tensor.to(device=weight.device, dtype=weight.dtype)

    qkv = native(record.qkv)
    t, d = qkv.shape[0], qkv.shape[1] // 3
    heads, head_dim = attn.heads, d // attn.heads
    g_hidden = activation_backward(mlp.act, _times(_scaled(grad, block.ls2), mlp.fc2), native(record.hidden))
    g_mid = grad + _layer_norm_backward(block.norm2, native(record.mid), _times(g_hidden, mlp.fc1))
    g_out = _times(_scaled(g_mid, block.ls1), attn.proj).view(t, heads, head_dim).transpose(0, 1)
    q, k, v = qkv.view(t, 3, heads, head_dim).permute(1, 2, 0, 3)  # each (heads, T, head_dim), strided views
    g_attention = torch.bmm(g_out, v.transpose(1, 2))
    if not input_grad:
        return g_attention, None
    attention = native(record.attention)
    g_v = torch.bmm(attention.transpose(1, 2), g_out)
    g_scores = torch.ops.aten._softmax_backward_data(g_attention, attention, -1, attention.dtype)
    g_q = torch.bmm(g_scores, k).mul_(head_dim ** -0.5)  # scores = (q/√d)·kᵀ
    g_k = torch.bmm(g_scores.transpose(1, 2), q).mul_(head_dim ** -0.5)
    g_qkv = torch.stack([g_q, g_k, g_v]).permute(2, 0, 1, 3).reshape(t, 3 * d)  # back to [q; k; v] columns
    return g_attention, g_mid + _layer_norm_backward(block.norm1, native(record.inputs), _times(g_qkv, attn.qkv))


def _own(record: BlockRecord) -> BlockRecord:
    """`record` with each tensor in storage of its own: an image sliced out of a batched forward must not keep
    the whole batch's buffers alive (nor be counted as less than it holds)."""
    return record.map(lambda t: t.clone() if t.untyped_storage().nbytes() > t.nbytes else t)


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
