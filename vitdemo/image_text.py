"""An image–text model (CLIP, SigLIP, Chinese-CLIP) as vitdemo's ViT: its "classes" are the prompts typed.

The image tower is the ViT of model.py with three config switches (CLIP's LayerNorm before the encoder, its
quick GELU or SigLIP's tanh GELU, and no class token for SigLIP); what it adds is how the tower's tokens
become one image embedding and how that embedding scores a prompt:

    CLIP, Chinese-CLIP:  e = W_proj · LN_post(class token)            s_i = τ · cos(e, t_i)        softmax over i
    SigLIP:              e = MAP(LN_post(tokens)) (attention probe)   s_i = τ · cos(e, t_i) + b    sigmoid of each

t_i is the text tower's embedding of prompt i (text_tower.py, transformers' own text model), τ = exp(logit
scale) and b SigLIP's logit bias, both learned. The scores are this model's logits: `classify` returns them,
so every class-specific explanation (relevance, LeGrad, faithfulness, hiding patches) explains a prompt the way
it explains a class. The prompts belong to one question, not to the model: `with_prompts` returns a view of
the same weights with its own prompts, which two visitors can hold at once.

SigLIP's probe: one learned query attends over the final patch tokens (multi-head attention with its own
projections), then a LayerNorm and an MLP with a residual. Its attention row over the patches is where the
pooled embedding reads from: it takes the class token's place in every view (`looking_row`).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .activations import activate
from .config import ViTConfig
from .model import ViT

if TYPE_CHECKING:
    from .text_tower import TextTower

SIGMOID_FAMILIES = ("siglip",)


class Probe(nn.Module):
    """SigLIP's multi-head attention pooling (MAP): a learned query reads the tokens, then LN and MLP.

    Stored as transformers stores it (`nn.MultiheadAttention`'s fused `in_proj`), computed step by step so
    that its attention weights are at hand.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        d = config.dim
        self.heads, self.act = config.heads, config.mlp_act
        self.probe = nn.Parameter(torch.zeros(1, 1, d))
        self.in_proj = nn.Linear(d, 3 * d)
        self.out_proj = nn.Linear(d, d)
        self.norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        self.fc1 = nn.Linear(d, config.mlp_dim)
        self.fc2 = nn.Linear(config.mlp_dim, d)

    def attention(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, heads, N): the probe's attention over the tokens, per head."""
        b, n, d = tokens.shape
        w_q, w_k, _ = self.in_proj.weight.chunk(3)
        b_q, b_k, _ = self.in_proj.bias.chunk(3)
        q = F.linear(self.probe, w_q, b_q).reshape(1, 1, self.heads, -1).transpose(1, 2)
        k = F.linear(tokens, w_k, b_k).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        return ((q * q.shape[-1] ** -0.5) @ k.transpose(-2, -1)).softmax(-1)[:, :, 0]

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        """(B, N, D) → (B, D) pooled embedding; with no tokens at all (the start of an insertion curve) the
        probe reads nothing (0), not NaN."""
        b, n, d = tokens.shape
        _, _, w_v = self.in_proj.weight.chunk(3)
        _, _, b_v = self.in_proj.bias.chunk(3)
        v = F.linear(tokens, w_v, b_v).reshape(b, n, self.heads, d // self.heads).transpose(1, 2)
        read = (self.attention(tokens).unsqueeze(2) @ v).transpose(1, 2).reshape(b, d) if n else tokens.new_zeros(b, d)
        pooled = self.out_proj(read)
        return pooled + self.fc2(activate(self.act, self.fc1(self.norm(pooled))))


class ImageTextViT(ViT):
    """The image tower of an image–text model, its pooling and projection, and the prompts' scores."""

    prompts: list[str] = []  # class-level defaults: `ViT.__init__` reads `labels` before ours are set
    prompt_embeddings: torch.Tensor | None = None  # (P, E) unit rows, on the model's device

    def __init__(self, config: ViTConfig, family: str = "clip", template: str = "{}"):
        super().__init__(config)  # config.num_classes is 0: the prompts are the classes, set per question
        self.family, self.template = family, template
        self.proj = nn.Linear(config.dim, config.embed_dim, bias=False) if config.embed_dim else None
        self.probe = Probe(config) if config.pool == "probe" else None
        self.logit_scale = nn.Parameter(torch.zeros(()))  # log τ, as every image–text checkpoint stores it
        self.logit_bias = nn.Parameter(torch.zeros(()))  # SigLIP's b; 0 for the softmax families
        self.text: TextTower | None = None  # transformers' text tower, attached by the loader

    @property
    def uses_sigmoid(self) -> bool:
        """SigLIP scores each prompt on its own (a sigmoid); CLIP's prompts compete (a softmax)."""
        return self.family in SIGMOID_FAMILIES

    @property
    def labels(self) -> list[str]:
        return self.prompts

    @labels.setter
    def labels(self, value: list[str]) -> None:  # ViT.__init__ sets its generic labels: none for this model
        pass

    def with_prompts(self, prompts: list[str]) -> ImageTextViT:
        """A view of this model (the same weights, not copied) whose classes are `prompts`, as typed.

        The family's template is applied for the text tower ("a photo of a {}."), the labels stay as typed.
        """
        prompts = [str(p).strip() for p in prompts if str(p).strip()]
        if not prompts:
            raise ValueError("give at least one prompt")
        if self.text is None:
            raise ValueError("this image–text model has no text tower loaded")
        embeddings = self.text.embed([self.template.format(p) for p in prompts])
        view = copy.copy(self)  # shares parameters and submodules: a few attributes of its own
        object.__setattr__(view, "prompts", prompts)
        object.__setattr__(view, "prompt_embeddings", embeddings.to(self.device, self.dtype))
        view.config = copy.copy(self.config)
        view.config.num_classes = len(prompts)
        return view

    def image_embedding(self, encoded: torch.Tensor) -> torch.Tensor:
        """(B, E) from final-normed tokens (B, T, D): the pooled token, projected (CLIP) or not (SigLIP)."""
        pooled = self.head_input(encoded)
        return self.proj(pooled) if self.proj is not None else pooled

    @property
    def read_tokens(self) -> int | None:
        """The class token, or every token (the probe reads the patches)."""
        return None if self.probe is not None else 1

    def head_input(self, encoded: torch.Tensor) -> torch.Tensor:
        """The pooled token: the class token, or the probe's reading of the patch tokens (SigLIP)."""
        if self.probe is not None:
            return self.probe(encoded[:, self.config.num_prefix_tokens:])
        return encoded[:, 0]

    def classify(self, encoded: torch.Tensor) -> torch.Tensor:
        """(B, prompts) scores τ·cos(image, prompt) (+ b for SigLIP); (B, 0) before any prompt is set."""
        if self.prompt_embeddings is None:
            return encoded.new_zeros(encoded.shape[0], 0)
        return self.scores(self.image_embedding(encoded))

    def scores(self, image_embeddings: torch.Tensor) -> torch.Tensor:
        image = F.normalize(image_embeddings.float(), dim=-1)
        return self.logit_scale.float().exp() * image @ self.prompt_embeddings.float().T + self.logit_bias.float()

    def layer_scores(self, tokens: torch.Tensor) -> torch.Tensor:
        """LeGrad's score of any layer's tokens (B, T, D) for every prompt (legrad.py).

        CLIP: the authors' readout (WalBouss/LeGrad), the mean of all tokens through the final norm and the
        projection, cosine with each prompt. SigLIP: the model's own pooling (final norm, then the probe;
        the authors' SigLIP code pools without the norm and differentiates the probe's attention instead).
        The logit scale, a positive factor, and SigLIP's bias do not change a LeGrad map.
        """
        if self.probe is not None:
            pooled = self.probe(self.norm(tokens)[:, self.config.num_prefix_tokens:])
        else:
            pooled = self.norm(tokens.mean(dim=1))
            pooled = self.proj(pooled) if self.proj is not None else pooled
        return F.normalize(pooled.float(), dim=-1) @ self.prompt_embeddings.float().T

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        return torch.sigmoid(logits.float()) if self.uses_sigmoid else logits.float().softmax(-1)

    def looking_attention(self, encoded: torch.Tensor) -> torch.Tensor | None:
        """(B, heads, N) the probe's attention over the patches (SigLIP), None for a class-token model."""
        return None if self.probe is None else self.probe.attention(encoded[:, self.config.num_prefix_tokens:])


def looking_query(model: ViT, encoded: torch.Tensor | None, tokens: int) -> int | np.ndarray:
    """Whose row every view follows: the class token's (0), or for a model that pools with an attention probe
    (SigLIP) the probe's attention over the final-normed tokens `encoded` (1, T, D), heads averaged, (T,)."""
    if not isinstance(model, ImageTextViT) or model.probe is None or encoded is None:
        return 0
    with torch.inference_mode():
        weights = model.looking_attention(encoded.to(model.device, model.dtype))
    row = np.zeros(tokens, dtype=np.float32)
    row[model.config.num_prefix_tokens:] = weights[0].float().mean(0).cpu().numpy()
    return row
