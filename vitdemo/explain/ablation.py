"""Head ablation: what the answer becomes with some attention heads switched off (Michel et al. 2019).

A head is switched off where its output leaves it: its slice of the attention output, before the output
projection mixes the heads, is set to zero ("zero") or to its own mean over the tokens ("mean", the gentler
mean-ablation of CLIP-InterpreT and activation-patching work: the head still adds its average, but no longer
anything token-specific). The edit is handed to the block as a per-call argument (`Block.forward(...,
heads_edit=)`, model.py), so the model holds no global switch and two requests never see each other's.

No full forward is repeated: the analysis kept every block's input (`BlockRecord.inputs`), so an ablation
runs only the blocks from the first ablated one on. Head effects switch off one head at a time: all heads of a
layer go in one batch (one row per head) to the logits, H·L(L−1)/2 block passes in L batched runs for L
layers and H heads, each as cheap as the answer allows while staying exact:

* the ablated layer's attention is not run again: after A·v a block is linear up to the residual sum, so
  switching head h off subtracts that head's share of the output projection, γ·(removed part of head h)·
  W_proj[:, h]ᵀ, from the kept stream `mid` (one small batched product), and only the MLP half runs;
* the last block computes only the tokens the head reads (`ViT.read_tokens`: the class token, and DeiT's
  distillation token), every token still a key and a value;
* nothing is recorded: no attention weights (the fused kernel runs), no copies.
BENCHMARKS.md §16 measures it against a bare batched forward and the bf16 GEMM limit.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np
import torch

from ..model import BlockRecord, HeadsEdit, ViT

MODES = ("zero", "mean")


def heads_edit(off: torch.Tensor, mode: str = "zero") -> HeadsEdit:
    """The edit that switches off, in batch row b, the heads h with `off[b, h]` True ((B, heads) or (1, heads))."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")

    def edit(out: torch.Tensor) -> torch.Tensor:  # (B, heads, T, d)
        gone = off.to(out.device)[:, :, None, None]
        return torch.where(gone, out - removed(out, mode), out)

    return edit


def removed(out: torch.Tensor, mode: str) -> torch.Tensor:
    """What switching a head off takes away from its output (..., T, d): all of it ("zero"), or what differs
    from its mean over the tokens ("mean")."""
    return out if mode == "zero" else out - out.mean(dim=-2, keepdim=True)


def checked_heads(heads: Iterable[tuple[int, int]], depth: int, per_layer: int) -> dict[int, list[int]]:
    """{layer: [head, ...]} from (layer, head) pairs counted from 0 (negative layers count from the end)."""
    chosen: dict[int, list[int]] = {}
    for pair in heads:
        layer, head = (int(v) for v in pair)
        if not -depth <= layer < depth:
            raise ValueError(f"layer must be in [-{depth}, {depth}), not {layer}")
        if not 0 <= head < per_layer:
            raise ValueError(f"head must be in [0, {per_layer}), not {head}")
        chosen.setdefault(layer % depth, []).append(head)
    return chosen


def run_from(model: ViT, tokens: torch.Tensor, start: int, edits: dict[int, HeadsEdit]) -> torch.Tensor:
    """Logits (B, classes), float32: blocks `start`… of `model` on `tokens` (B, T, D), that block's input, with
    `edits[layer]` applied in those layers, then the final norm and the head."""
    x = tokens.to(model.device, model.dtype)
    last = len(model.blocks) - 1
    with torch.inference_mode():
        for layer in range(start, last + 1):
            rows = model.read_tokens if layer == last and layer not in edits else None  # a mean needs all
            x = model.blocks[layer](x, False, edits.get(layer), rows).output
        return model.classify(model.norm(x)).float()


def ablated_logits(model: ViT, tape: Sequence[BlockRecord], heads: Iterable[tuple[int, int]],
                   mode: str = "zero") -> torch.Tensor:
    """(classes,) logits with `heads` ((layer, head) pairs from 0) switched off; `tape` holds one image's block
    records (the analysis's). With no heads: the last block's output read through norm and head."""
    chosen = checked_heads(heads, len(model.blocks), model.config.heads)
    if not chosen:
        with torch.inference_mode():
            return model.classify(model.norm(tape[-1].output[None].to(model.device, model.dtype)))[0].float().cpu()
    edits = {}
    for layer, off_heads in chosen.items():
        off = torch.zeros(1, model.config.heads, dtype=torch.bool)
        off[0, off_heads] = True
        edits[layer] = heads_edit(off, mode)
    start = min(chosen)
    return run_from(model, tape[start].inputs[None], start, edits)[0].cpu()


def head_effect_logits(model: ViT, tape: Sequence[BlockRecord], target: int, mode: str = "zero") -> np.ndarray:
    """(depth, heads): the target's logit with each single head switched off (one batch per layer)."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    out = np.empty((len(model.blocks), model.config.heads), dtype=np.float64)
    last = len(model.blocks) - 1
    with torch.inference_mode():
        for layer, record in enumerate(tape):
            block = model.blocks[layer]
            mids = one_head_off_each(block, record, mode)[:, :model.read_tokens if layer == last else None]
            logits = run_from(model, block.feed_forward(mids)[1], layer + 1, {})
            out[layer] = logits[:, target].cpu().numpy()
    return out


def one_head_off_each(block: torch.nn.Module, record: BlockRecord, mode: str) -> torch.Tensor:
    """(heads, T, D): `record.mid`, the stream after `block`'s attention branch, with head h switched off in row
    h, from the kept qkv: mid − γ·removed(O_h)·W_proj[:, h]ᵀ, O_h = softmax(q_h·k_hᵀ/√d)·v_h (one image)."""
    proj = block.attn.proj.weight  # (D, D): column block h reads head h
    heads = block.attn.heads
    dim = proj.shape[0]
    qkv = record.qkv.to(proj.device, proj.dtype)[None]
    outputs = block.attn.attend(qkv, False)[0][0].view(-1, heads, dim // heads).transpose(0, 1)  # (heads, T, d)
    share = torch.bmm(removed(outputs, mode), proj.view(dim, heads, dim // heads).permute(1, 2, 0))
    return record.mid.to(proj.device, proj.dtype)[None] - block.ls1(share)
