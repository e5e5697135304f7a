"""The MLP's non-linearity and its derivative, by name: what a family's checkpoint was trained with.

The original ViT, DeiT and DINO use exact GELU; OpenAI's CLIP (and Chinese-CLIP's image tower) the cheaper
"quick GELU" x·σ(1.702x) its authors trained with; SigLIP the tanh approximation of GELU. The same weights under
another of the three move the embeddings visibly, so the name travels in `ViTConfig.mlp_act`. The derivatives
are here too because relevance and LeGrad differentiate the MLP by hand (`explain/backprop.py`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

ACTIVATIONS = ("gelu", "quick_gelu", "gelu_tanh")
QUICK = 1.702  # CLIP's constant: σ(1.702x) approximates Φ(x)


def activate(name: str, x: torch.Tensor) -> torch.Tensor:
    """`name`(x) elementwise."""
    if name == "gelu":
        return F.gelu(x)
    if name == "gelu_tanh":
        return F.gelu(x, approximate="tanh")
    if name == "quick_gelu":
        return x * torch.sigmoid(QUICK * x)
    raise ValueError(f"activation must be one of {ACTIVATIONS}, not {name!r}")


def activation_backward(name: str, grad: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """∂/∂x of `name`(x) from ∂/∂ its output: GELUs through the kernel autograd itself calls, quick GELU
    written out, d/dx x·σ(ax) = σ(ax) + a·x·σ(ax)·(1 − σ(ax))."""
    if name in ("gelu", "gelu_tanh"):
        return torch.ops.aten.gelu_backward(grad, x, approximate="tanh" if name == "gelu_tanh" else "none")
    if name == "quick_gelu":
        s = torch.sigmoid(QUICK * x)
        return grad * (s + QUICK * x * s * (1 - s))
    raise ValueError(f"activation must be one of {ACTIVATIONS}, not {name!r}")
