"""A Vision Transformer, written as the recipe of Dosovitskiy et al. (2020) reads, step by step.

    image → patches → patch embeddings → [class token; patches] → + position embeddings
          → encoder blocks (pre-norm attention + MLP) → final norm → class-token output → linear head

Two things go beyond the paper, both because the demo is about *seeing* the model at any patch size:

* The forward returns every layer's post-softmax attention next to the logits (big_vision style), and on
  request each block's steps by name (`BlockRecord`), so the explanation code needs no hooks and no autograd.
* The patch size is chosen per call. The patch-embedding kernel is resized with FlexiViT's pseudo-inverse
  resize (PI-resize, Beyer et al. 2022) and the position embeddings are resampled to the new grid.

The families vitdemo loads differ from the recipe only in config switches: DeiT's distillation token and
second head, DINOv2's LayerScale and its head on [class token; mean of patch tokens], DINOv2's register
tokens (Darcet et al. 2024: extra tokens without positions, where the model can keep global scratch work
instead of in background patches), and no classifier at all (`num_classes=0`, DINO's self-supervised models).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from .activations import activate
from .config import ViTConfig

# --------------------------------------------------------------------------------------------------------
# Step 1-2: image → patches → patch embeddings


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """(B, C, H, W) → (B, N, C·p·p) with patches in row-major order; pixels beyond the last full patch drop."""
    return F.unfold(images, kernel_size=patch_size, stride=patch_size).transpose(1, 2)


def embed_patches_unfold(images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The paper's definition: flatten each patch and multiply by the embedding matrix E."""
    patches = patchify(images, weight.shape[-1])
    out = patches @ weight.flatten(1).T
    return out if bias is None else out + bias


def embed_patches_conv(images: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor | None) -> torch.Tensor:
    """The same linear map as a convolution with kernel = stride = p: what every library runs, faster."""
    p = weight.shape[-1]
    return F.conv2d(images, weight, bias, stride=p).flatten(2).transpose(1, 2)


@functools.lru_cache(maxsize=64)
@torch.inference_mode(False)  # the cached matrix must stay usable under autograd (relevance, training)
def pi_resize_matrix(old: int, new: int) -> torch.Tensor:
    """pinv(Bᵀ) of shape (new², old²), where B (new², old²) bilinearly resizes an old×old patch to new×new.

    With W' = pinv(Bᵀ)·W, an embedding of the resized patch equals the original one: ⟨W', Bx⟩ = ⟨W, x⟩
    whenever B has full column rank (new ≥ old). For new < old it is the least-squares best kernel.
    """
    basis = torch.eye(old * old, dtype=torch.float64).reshape(old * old, 1, old, old)
    resized = F.interpolate(basis, size=(new, new), mode="bilinear", align_corners=False)
    a = resized.reshape(old * old, new * new)  # row i = B·e_i, so this is Bᵀ
    # pinv through the small Gram matrix: the same result as torch.linalg.pinv (to 1e-15) without pinv's SVD of
    # the whole matrix, the slow part at these sizes (BENCHMARKS.md §1 times both).
    if new >= old:  # a has full row rank
        return (a.T @ torch.linalg.solve(a @ a.T, torch.eye(old * old, dtype=a.dtype))).to(torch.float32)
    return torch.linalg.solve(a.T @ a, a.T).to(torch.float32)  # full column rank


def pi_resize_kernel(weight: torch.Tensor, new: int) -> torch.Tensor:
    """Resize a (D, C, p, p) patch-embedding kernel to (D, C, new, new) with PI-resize; differentiable."""
    d, c, old, _ = weight.shape
    if new == old:
        return weight
    matrix = pi_resize_matrix(old, new).to(device=weight.device, dtype=torch.float32)
    resized = weight.float().reshape(d * c, old * old) @ matrix.T
    return resized.reshape(d, c, new, new).to(weight.dtype)


class PatchEmbedding(nn.Module):
    """The embedding matrix E, stored as a conv kernel (D, C, p, p) like every checkpoint stores it."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        p = config.patch_size
        self.weight = nn.Parameter(torch.empty(config.dim, config.in_channels, p, p))
        self.bias = nn.Parameter(torch.zeros(config.dim))
        nn.init.trunc_normal_(self.weight, std=math.sqrt(1.0 / (config.in_channels * p * p)))

    def kernel(self, patch_size: int) -> torch.Tensor:
        return pi_resize_kernel(self.weight, patch_size)

    def forward(self, images: torch.Tensor, patch_size: int, method: str = "conv") -> torch.Tensor:
        embed = {"conv": embed_patches_conv, "unfold": embed_patches_unfold}[method]
        return embed(images, self.kernel(patch_size), self.bias)


# --------------------------------------------------------------------------------------------------------
# Step 3-4: class token and position embeddings


def resample_grid(pos: torch.Tensor, new_grid: tuple[int, int], mode: str, antialias: bool = False,
                  offset: float = 0.0) -> torch.Tensor:
    """Resample (1, h·w, D) position embeddings laid out on a square grid to (1, H·W, D).

    Each family is resampled the way its model was run, since a different filter moves the logits:
    * bicubic: transformers' ViT/DeiT (our numerical reference) and DINOv2;
    * bicubic, `antialias`: DINOv2 with registers. PyTorch's antialiased bicubic is another kernel (Keys,
      a = -0.5, not -0.75), so it differs from plain bicubic even when enlarging;
    * bilinear: FlexiViT, whose authors resize with jax.image.resize, which antialiases when shrinking;
    * `offset`: DINO's and DINOv2's original code asks for a scale factor (new + 0.1) / old instead of a size
      ("historical kludge", kept there for compatibility): the same grid, sampled very slightly differently.
      Used only when asked for (`ViTConfig.position_resampling`): by default a checkpoint follows its library.
    """
    n, dim = pos.shape[1], pos.shape[2]
    side = math.isqrt(n)
    assert side * side == n, f"position embeddings of {n} tokens are not a square grid"
    if (side, side) == tuple(new_grid):
        return pos
    grid = pos.reshape(1, side, side, dim).permute(0, 3, 1, 2).float()
    shrinking = new_grid[0] < side or new_grid[1] < side
    antialias = antialias or (mode == "bilinear" and shrinking)
    if offset:
        scale = ((new_grid[0] + offset) / side, (new_grid[1] + offset) / side)
        grid = F.interpolate(grid, scale_factor=scale, mode=mode, align_corners=False, antialias=antialias)
        assert tuple(grid.shape[-2:]) == tuple(new_grid), f"offset {offset} missed the grid {new_grid}"
    else:
        grid = F.interpolate(grid, size=new_grid, mode=mode, align_corners=False, antialias=antialias)
    return grid.permute(0, 2, 3, 1).reshape(1, new_grid[0] * new_grid[1], dim).to(pos.dtype)


# --------------------------------------------------------------------------------------------------------
# Step 5: the Transformer encoder

HeadsEdit = Callable[[torch.Tensor], torch.Tensor]  # each head's output (B, heads, T, d) → the same, edited


class Attention(nn.Module):
    """Multi-head self-attention with fused [q; k; v] rows (timm's layout) that can return its weights.

    The block calls its three steps itself (qkv, `attend`, proj) so that it can keep qkv by name.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.heads = config.heads
        self.qkv = nn.Linear(config.dim, 3 * config.dim, bias=config.qkv_bias)
        self.proj = nn.Linear(config.dim, config.dim)

    def attend(self, qkv: torch.Tensor, need_weights: bool, heads_edit: HeadsEdit | None = None,
               rows: int | None = None) -> tuple[torch.Tensor, torch.Tensor | None]:
        """(B, T, 3D) [q; k; v] → (softmax(q·kᵀ/√d)·v of every head side by side (B, T, D), weights or None).

        `heads_edit` rewrites the heads' outputs (B, heads, T, d) before they are put side by side: head
        ablation (explain/ablation.py) zeroes some there, i.e. before the output projection mixes them.
        `rows` keeps the first `rows` queries only (every token still a key and a value): (B, rows, D)."""
        b, t, three_d = qkv.shape
        d = three_d // 3
        q, k, v = qkv.reshape(b, t, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        q = q[:, :, :rows]
        if need_weights:
            weights = ((q * (q.shape[-1] ** -0.5)) @ k.transpose(-2, -1)).softmax(dim=-1)
            out = weights @ v
        else:  # training and plain classification: the fused kernel is faster and leaner
            weights, out = None, F.scaled_dot_product_attention(q, k, v)
        if heads_edit is not None:
            out = heads_edit(out)
        return out.transpose(1, 2).reshape(b, q.shape[2], d), weights


class MLP(nn.Module):
    """fc2(act(fc1(x))), applied by the block step by step (it keeps fc1's output by name); act is GELU, or
    the family's variant (`config.mlp_act`, activations.py)."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.act = config.mlp_act
        self.fc1 = nn.Linear(config.dim, config.mlp_dim)
        self.fc2 = nn.Linear(config.mlp_dim, config.dim)


class LayerScale(nn.Module):
    """x · γ, one learned scale per channel (CaiT, Touvron et al. 2021; DINOv2).

    Initialised small in training (DINOv2: 1e-5 for the large models) so each residual branch starts near
    zero and deep stacks train stably; a loaded checkpoint brings its learned γ.
    """

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.gamma = nn.Parameter(torch.ones(config.dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gamma


@dataclass
class BlockRecord:
    """One encoder block's steps, by name: its input, what it computed on the way, its output.

    Relevance and LeGrad differentiate the blocks by hand from these (`explain/backprop.py`) rather than record
    an autograd graph: the forward computes every one of them anyway, so keeping them costs memory, not time.
    """

    inputs: torch.Tensor  # x, (B, T, D)
    qkv: torch.Tensor  # [q; k; v] of LN1(x), (B, T, 3D)
    attention: torch.Tensor | None  # softmax(q·kᵀ/√d) per head, (B, heads, T, T); None when not asked for
    mid: torch.Tensor  # the residual stream after the attention branch, (B, T, D)
    hidden: torch.Tensor  # fc1's output before GELU, (B, T, mlp)
    output: torch.Tensor  # (B, T, D)

    def map(self, fn: Callable[[torch.Tensor], torch.Tensor]) -> BlockRecord:
        """The same record with `fn` applied to each tensor (one image sliced out, moved to the CPU, ...)."""
        return BlockRecord(**{f.name: None if getattr(self, f.name) is None else fn(getattr(self, f.name))
                              for f in fields(self)})


class Block(nn.Module):
    """Pre-norm encoder block: x + Attention(LN(x)), then x + MLP(LN(x)); each branch LayerScaled if asked."""

    def __init__(self, config: ViTConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.attn = Attention(config)
        self.ls1 = LayerScale(config) if config.layer_scale else nn.Identity()
        self.norm2 = nn.LayerNorm(config.dim, eps=config.layer_norm_eps)
        self.mlp = MLP(config)
        self.ls2 = LayerScale(config) if config.layer_scale else nn.Identity()

    def forward(self, x: torch.Tensor, need_weights: bool, heads_edit: HeadsEdit | None = None,
                rows: int | None = None) -> BlockRecord:
        """Every step by name: the next block reads `output`, relevance's backward reads the others.

        `rows`: the output at the first `rows` tokens only (every token still attended to), all a last block
        has to compute when only the head reads it (`ViT.read_tokens`): a re-run of the top of the model
        (explain/ablation.py) skips the other tokens' projection and MLP."""
        inputs = x
        qkv = self.attn.qkv(self.norm1(x))
        attended, weights = self.attn.attend(qkv, need_weights, heads_edit, rows)
        x = x[:, :rows]  # the queries' own tokens: all of them unless `rows` is given
        mid = x + self.ls1(self.attn.proj(attended))
        hidden, output = self.feed_forward(mid)
        return BlockRecord(inputs, qkv, weights, mid, hidden, output)

    def feed_forward(self, mid: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(fc1's output before GELU, the block's output) from `mid`, the stream after the attention branch:
        the block's second half on its own, for callers that edit `mid` directly (head ablation)."""
        hidden = self.mlp.fc1(self.norm2(mid))
        return hidden, mid + self.ls2(self.mlp.fc2(activate(self.mlp.act, hidden)))


# --------------------------------------------------------------------------------------------------------
# Step 6: the whole model


@dataclass
class ViTOutput:
    """Logits plus the intermediates explanation code needs (big_vision returns the same next to logits)."""

    logits: torch.Tensor  # (B, num_classes); (B, 0) for a model without a classifier (num_classes = 0)
    attentions: tuple[torch.Tensor, ...]  # one (B, heads, T, T) per layer, post-softmax; () if not asked
    grid: tuple[int, int]  # (rows, cols) of patches
    patch_size: int
    intermediates: dict[str, torch.Tensor] | None = None  # stage name → tensor, when asked for
    records: tuple[BlockRecord, ...] = ()  # one per block, when asked for


class ViT(nn.Module):
    def __init__(self, config: ViTConfig, labels: list[str] | None = None):
        super().__init__()
        self.config = config
        self.labels = list(labels) if labels else [f"class {i}" for i in range(config.num_classes)]
        assert len(self.labels) == config.num_classes, "need one label per class"
        d, classes = config.dim, config.num_classes
        side = config.pos_grid or config.image_size // config.patch_size
        self.patch_embed = PatchEmbedding(config)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d)) if config.class_token else None  # None: SigLIP
        self.dist_token = nn.Parameter(torch.zeros(1, 1, d)) if config.distilled else None
        self.reg_token = nn.Parameter(torch.zeros(1, config.num_registers, d)) if config.num_registers else None
        self.pos_embed = nn.Parameter(torch.empty(1, config.num_positioned_prefix_tokens + side * side, d))
        if not self.pos_embed.is_meta:  # randn on "meta" would import torch's symbolic shapes (BENCHMARKS.md §12)
            nn.init.normal_(self.pos_embed, std=0.02)
        self.norm_pre = nn.LayerNorm(d, eps=config.layer_norm_eps) if config.pre_norm else None  # CLIP
        self.blocks = nn.ModuleList(Block(config) for _ in range(config.depth))
        self.norm = nn.LayerNorm(d, eps=config.layer_norm_eps)
        head_in = 2 * d if config.head_input == "class+mean" else d
        self.head = nn.Linear(head_in, classes) if classes else None  # None: no classifier (DINO)
        self.head_dist = nn.Linear(d, classes) if config.distilled and classes else None
        if not self.pos_embed.is_meta:  # a checkpoint is built on "meta" and loaded: nothing to initialise
            self.apply(_init_weights)
            if self.cls_token is not None:
                nn.init.normal_(self.cls_token, std=1e-6)

    @property
    def device(self) -> torch.device:
        return self.pos_embed.device

    @property
    def dtype(self) -> torch.dtype:
        return self.pos_embed.dtype

    def prefix_tokens(self, batch: int) -> torch.Tensor:
        """The class token (and DeiT's distillation token), (B, 0, 1 or 2, D); registers are added apart."""
        tokens = [t for t in (self.cls_token, self.dist_token) if t is not None]
        if not tokens:  # SigLIP: patches only
            return self.pos_embed.new_zeros(batch, 0, self.config.dim)
        return torch.cat(tokens, dim=1).expand(batch, -1, -1)

    def position_embeddings(self, grid: tuple[int, int]) -> tuple[torch.Tensor | None, torch.Tensor]:
        """(prefix part or None, patch part resampled to `grid`)."""
        c = self.config
        prefix = c.num_positioned_prefix_tokens
        patch_pos = resample_grid(self.pos_embed[:, prefix:], grid, c.pos_interpolation, c.pos_antialias,
                                  c.resampling_offset)
        return (self.pos_embed[:, :prefix] if prefix else None), patch_pos

    def embed(self, images: torch.Tensor, patch_size: int, method: str = "conv",
              stages: dict | None = None) -> torch.Tensor:
        """Steps 1-4: pixels → the token sequence the encoder reads, (B, prefix + rows·cols, D).

        The order is transformers': [class, (distillation,) registers..., patches]. Registers get no position
        embedding (Darcet et al. 2024): they stand for no place in the image.
        """
        grid = (images.shape[-2] // patch_size, images.shape[-1] // patch_size)
        patches = self.patch_embed(images, patch_size, method)
        prefix_pos, patch_pos = self.position_embeddings(grid)
        tokens = self.prefix_tokens(images.shape[0])
        registers = [self.reg_token.expand(images.shape[0], -1, -1)] if self.reg_token is not None else []
        with_prefix = torch.cat([tokens, *registers, patches], dim=1)
        if prefix_pos is not None:  # FlexiViT has none: positions on the patches only
            tokens = tokens + prefix_pos
        x = torch.cat([tokens, *registers, patches + patch_pos], dim=1)
        if self.norm_pre is not None:  # per token, so it commutes with `keep_patch_tokens`
            x = self.norm_pre(x)
        if stages is not None:
            stages.update(patches=patchify(images, patch_size), patch_embeddings=patches,
                          with_class_token=with_prefix, with_position=x)
        return x

    def forward(self, images: torch.Tensor, patch_size: int | None = None, output_attentions: bool = True,
                output_intermediates: bool = False, patch_method: str = "conv",
                keep: torch.Tensor | None = None, output_records: bool = False) -> ViTOutput:
        """Classify `images` (B, C, H, W) at `patch_size` (default: the native one), any H and W ≥ p.

        `keep` (K,) or (B', K) patch indices (row-major) runs the encoder on those patch tokens only, each with
        its own position embedding, after the prefix tokens: see `keep_patch_tokens`. Attentions then cover
        prefix + K tokens; `grid` stays the full one, and recipe stages before the encoder are the full image's.
        `output_records` keeps each block's `BlockRecord` (what the hand-written backward of relevance reads).
        """
        p = patch_size or self.config.patch_size
        if images.shape[-1] < p or images.shape[-2] < p:
            raise ValueError(f"image {tuple(images.shape[-2:])} is smaller than one {p}×{p} patch")
        stages: dict | None = {} if output_intermediates else None
        x = self.embed(images.to(self.dtype), p, patch_method, stages)
        if keep is not None:
            x = keep_patch_tokens(x, keep, self.config.num_prefix_tokens)
        attentions, records = [], []
        for i, block in enumerate(self.blocks):
            record = block(x, output_attentions)
            x = record.output
            if record.attention is not None:
                attentions.append(record.attention)
            if stages is not None:
                stages[f"block{i}"] = x
            if output_records:
                records.append(record)
        x = self.norm(x)
        logits = self.classify(x)
        if stages is not None:
            stages.update(encoded=x, class_token_output=x[:, 0], head_input=self.head_input(x), logits=logits)
        grid = (images.shape[-2] // p, images.shape[-1] // p)
        return ViTOutput(logits.float(), tuple(attentions), grid, p, stages, tuple(records))

    def classify(self, encoded: torch.Tensor) -> torch.Tensor:
        """Logits from final-normed tokens (B, T, D): the class token's head; DeiT averages its two heads.

        Apart from `forward` so that explanations can read any layer's tokens the way the model reads its
        last (LeGrad scores every layer with it). Without a classifier: (B, 0), so batches still slice.
        """
        if self.head is None:
            return encoded.new_zeros(encoded.shape[0], 0)
        logits = self.head(self.head_input(encoded))
        if self.head_dist is not None:  # DeiT at inference: average the class and distillation heads
            logits = (logits + self.head_dist(encoded[:, 1])) / 2
        return logits

    def probabilities(self, logits: torch.Tensor) -> torch.Tensor:
        """Logits → probabilities: a softmax over the classes (SigLIP's towers override it with a sigmoid)."""
        return logits.float().softmax(-1)

    @property
    def read_tokens(self) -> int | None:
        """How many leading tokens `classify` reads (class, and DeiT's distillation token); None for every
        token (DINOv2's head also reads the mean of the patches)."""
        if self.config.head_input == "class+mean":
            return None
        return 2 if self.head_dist is not None else 1

    def head_input(self, encoded: torch.Tensor) -> torch.Tensor:
        """What the head reads: the class token (B, D), or DINOv2's [class token; mean of patch tokens] (B, 2D)."""
        if self.config.head_input == "class+mean":
            patches = encoded[:, self.config.num_prefix_tokens:]
            # No patch tokens at all (`keep` empty: the start of an insertion curve): the mean of nothing is
            # taken as 0, not NaN, so the head still reads the class token.
            mean = patches.mean(dim=1) if patches.shape[1] else encoded.new_zeros(encoded.shape[0], encoded.shape[-1])
            return torch.cat([encoded[:, 0], mean], dim=-1)
        return encoded[:, 0]


def keep_patch_tokens(tokens: torch.Tensor, keep: torch.Tensor, prefix: int) -> torch.Tensor:
    """(B, prefix + N, D) embedded tokens → (B', prefix + K, D): the prefix, then patch tokens `keep`.

    How a ViT "removes" patches without painting over them: tokens carry their position embeddings, so any
    subset (in any order) is a valid input, and a subset is exactly the image with the others absent.
    `keep` is (K,) for every image, or (B', K) with one row per output (B' = B, or B = 1 broadcast: one
    image read under many subsets, embedded once). K = 0 leaves the prefix tokens alone.
    """
    keep = torch.as_tensor(keep, dtype=torch.long, device=tokens.device)
    if keep.ndim == 1:
        keep = keep.expand(tokens.shape[0], -1)
    if tokens.shape[0] not in (1, keep.shape[0]):
        raise ValueError(f"keep has {keep.shape[0]} rows for a batch of {tokens.shape[0]} images")
    n = tokens.shape[1] - prefix
    if keep.numel() and (int(keep.min()) < 0 or int(keep.max()) >= n):
        raise ValueError(f"keep indices must be patch indices in [0, {n})")
    tokens = tokens.expand(keep.shape[0], -1, -1)
    index = keep.unsqueeze(-1).expand(-1, -1, tokens.shape[-1])
    return torch.cat([tokens[:, :prefix], tokens[:, prefix:].gather(1, index)], dim=1)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, nn.Linear):
        nn.init.trunc_normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


def loss(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0) -> torch.Tensor:
    """The recipe's training objective: cross-entropy of the class-token logits against the labels."""
    return F.cross_entropy(logits.float(), targets, label_smoothing=label_smoothing)
