"""Building blocks of the transformer head: recordable attention, encoder block, 2D positions.

Only what timm does not already provide lives here. ``Mlp``, ``DropPath``, the sin-cos table and
the positional-embedding resampler are timm's; the attention is our own because it must be able
to *record* its attention matrix (fused SDPA never materialises it, so hooks see nothing).
"""

from __future__ import annotations

import math
from typing import Literal

import torch
import torch.nn.functional as F
from einops import rearrange
from timm.layers import DropPath, Mlp, build_sincos2d_pos_embed, resample_abs_pos_embed, trunc_normal_
from torch import Tensor, nn

from .._checks import check_choice
from ..errors import InvalidArgumentError

__all__ = ["Attention", "EncoderBlock", "PosEmbedKind", "PositionalEmbedding2d"]

PosEmbedKind = Literal["learned", "sincos", "none"]
POS_EMBED_KINDS: tuple[str, ...] = ("learned", "sincos", "none")


class Attention(nn.Module):
    """Multi-head self-attention that runs fused SDPA unless asked to record its attention.

    Args:
        dim: Token width ``D``; must be divisible by ``num_heads``.
        num_heads: Number of attention heads.
        qkv_bias: Whether the query/key/value projection has a bias.
        attn_drop: Dropout on the attention probabilities (training only).
        proj_drop: Dropout after the output projection.

    Shapes:
        ``(B, N, D) -> (B, N, D)``. While ``recorder`` is a list, each forward appends the attention
        probabilities ``(B, heads, N, N)`` to it (the explicit path; same result within float
        tolerance, slower and heavier in memory).
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
    ) -> None:
        super().__init__()
        if num_heads < 1 or dim % num_heads != 0:
            raise InvalidArgumentError(
                f"embed_dim={dim} must be divisible by num_heads={num_heads} (each head gets "
                f"embed_dim // num_heads channels); choose e.g. num_heads in "
                f"{[h for h in (1, 2, 4, 8, 16) if dim % h == 0]} or change embed_dim."
            )
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.scale = self.head_dim**-0.5
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)
        # Not a buffer: recording is a transient debugging/explainability state, never saved.
        self.recorder: list[Tensor] | None = None

    def forward(self, x: Tensor) -> Tensor:
        q, k, v = rearrange(self.qkv(x), "b n (three h d) -> three b h n d", three=3, h=self.num_heads)
        drop = self.attn_drop if self.training else 0.0
        if self.recorder is None:
            x = F.scaled_dot_product_attention(q, k, v, dropout_p=drop)
        else:
            attn = ((q * self.scale) @ k.transpose(-2, -1)).softmax(dim=-1)
            self.recorder.append(attn)
            x = F.dropout(attn, p=drop, training=self.training) @ v
        x = rearrange(x, "b h n d -> b n (h d)")
        return self.proj_drop(self.proj(x))


class EncoderBlock(nn.Module):
    """Pre-norm transformer encoder layer: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    Args:
        dim: Token width ``D``.
        num_heads: Attention heads.
        mlp_ratio: Hidden width of the feed-forward layer as a multiple of ``dim``.
        qkv_bias: Bias on the query/key/value projection.
        proj_drop: Dropout after the attention projection and inside the MLP.
        attn_drop: Dropout on attention probabilities.
        drop_path: Stochastic-depth rate of both residual branches.
    """

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        proj_drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
    ) -> None:
        super().__init__()
        if mlp_ratio <= 0:
            raise InvalidArgumentError(
                f"mlp_ratio must be > 0 (hidden width = embed_dim * mlp_ratio); got {mlp_ratio}."
            )
        self.norm1 = nn.LayerNorm(dim)
        self.attn = Attention(dim, num_heads, qkv_bias=qkv_bias, attn_drop=attn_drop, proj_drop=proj_drop)
        self.drop_path1 = DropPath(drop_path) if drop_path > 0 else nn.Identity()
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, hidden_features=max(1, round(dim * mlp_ratio)), drop=proj_drop)
        self.drop_path2 = DropPath(drop_path) if drop_path > 0 else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        x = x + self.drop_path1(self.attn(self.norm1(x)))
        return x + self.drop_path2(self.mlp(self.norm2(x)))


class PositionalEmbedding2d(nn.Module):
    """Adds a 2D positional embedding to row-major patch tokens.

    ``learned`` keeps one vector per cell of the configured grid and is resampled (bicubic, as
    timm does for ViTs) when the feature map has another size; ``sincos`` is computed for whatever
    grid arrives; ``none`` adds nothing.

    Args:
        kind: ``"learned"``, ``"sincos"`` or ``"none"``.
        dim: Token width ``D`` (``sincos`` needs ``D % 4 == 0``).
        grid_size: Feature-map size ``(H, W)`` at the configured input size.

    Shapes:
        ``forward(tokens (B, H*W, D), grid (H, W)) -> (B, H*W, D)``.
    """

    def __init__(self, kind: str, dim: int, grid_size: tuple[int, int]) -> None:
        super().__init__()
        check_choice(kind, POS_EMBED_KINDS, "pos_embed")
        if kind == "sincos" and dim % 4 != 0:
            raise InvalidArgumentError(
                f"pos_embed='sincos' needs embed_dim divisible by 4; got embed_dim={dim}."
            )
        self.kind = kind
        self.dim = dim
        self.grid_size = grid_size
        self.weight: nn.Parameter | None = None
        if kind == "learned":
            self.weight = nn.Parameter(torch.zeros(1, grid_size[0] * grid_size[1], dim))
            trunc_normal_(self.weight, std=0.02)

    def forward(self, tokens: Tensor, grid: tuple[int, int]) -> Tensor:
        if self.kind == "none":
            return tokens
        if self.kind == "sincos":
            pos = build_sincos2d_pos_embed(list(grid), dim=self.dim, device=tokens.device, dtype=tokens.dtype)
            return tokens + pos.unsqueeze(0)
        assert self.weight is not None  # learned; kind was validated in __init__
        pos = self.weight
        if tuple(grid) != tuple(self.grid_size):
            pos = resample_abs_pos_embed(
                pos, new_size=list(grid), old_size=list(self.grid_size), num_prefix_tokens=0
            )
        return tokens + pos.to(tokens.dtype)


def feature_grid(img_size: tuple[int, int], num_downsamples: int) -> tuple[int, int]:
    """Feature-map size of a backbone made of ``num_downsamples`` stride-2 'same'-padded stages.

    Each stride-2 conv with 'same' padding maps ``n`` to ``ceil(n / 2)``.
    """
    h, w = img_size
    for _ in range(num_downsamples):
        h, w = math.ceil(h / 2), math.ceil(w / 2)
    return h, w
