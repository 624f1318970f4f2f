"""Attention explanations for the transformer variants: attention rollout and raw attention maps.

Attention rollout (Abnar & Zuidema, 2020; as in jacobgil/vit-explain) follows how information flows
from the input tokens through every encoder layer: each layer's attention is fused over heads,
optionally thinned (the lowest ``discard_ratio`` fraction of weights set to zero, per sample, never
in a class token's column), mixed with the identity for the residual connection and renormalised so
every row sums to 1; the layer matrices are then multiplied in order,
``joint = A_L @ ... @ A_1``. The readout is the row of the token the classifier reads: the class
token's row with ``global_pool="token"``, else the mean of the patch-token rows (mean pooling
attends through every token), restricted to the patch-token columns and reshaped to the feature grid.

Attention is recorded with ``model.record_attention()`` during one ordinary forward (eval mode, no
gradients), so it is exactly the attention of the forward that produced the logits. Only the model
interface is used: ``record_attention()``, ``feature_grid``, ``num_prefix_tokens`` and
``global_pool``.

Examples:
    >>> import torch, brainvit_effnet as bve
    >>> from brainvit_effnet.explain.attention import attention_rollout, upsample
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> x = torch.randn(2, 3, 128, 128)
    >>> maps = attention_rollout(model, x)  # (2, 4, 4): one value per feature-map cell
    >>> upsample(maps, x.shape[-2:]).shape
    torch.Size([2, 128, 128])
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .._checks import check_choice, is_real
from ..errors import InvalidArgumentError, InvalidTypeError
from .cam import check_images, eval_mode, minmax_normalize

__all__ = [
    "HEAD_FUSIONS",
    "AttentionRecord",
    "HeadFusion",
    "attention_rollout",
    "collect_attention",
    "discard_lowest",
    "fuse_heads",
    "last_layer_attention",
    "last_layer_attention_map",
    "readout",
    "rollout",
    "rollout_matrices",
    "rollout_step",
    "upsample",
]

HeadFusion: TypeAlias = Literal["mean", "max", "min"]
HEAD_FUSIONS: tuple[str, ...] = get_args(HeadFusion)


@dataclass(frozen=True)
class AttentionRecord:
    """The attention of one forward and what is needed to read it.

    Attributes:
        attentions: One ``(B, heads, T, T)`` softmax attention per encoder layer, in layer order.
        logits: The model output of that same forward ``(B, C)``.
        grid_size: Feature grid ``(h, w)`` of the patch tokens (``T = num_prefix_tokens + h*w``).
        num_prefix_tokens: Tokens before the patch tokens (1 with a class token, else 0).
        readout: ``"token"`` (the class token's row) or ``"mean"`` (mean of the patch-token rows).
    """

    attentions: tuple[Tensor, ...]
    logits: Tensor
    grid_size: tuple[int, int]
    num_prefix_tokens: int
    readout: Literal["token", "mean"]


# -- validation -------------------------------------------------------------------------------------
def _check_head_fusion(head_fusion: object) -> str:
    return check_choice(head_fusion, HEAD_FUSIONS, "head_fusion", " (how the heads of a layer are combined)")


def _check_discard_ratio(discard_ratio: object) -> float:
    if not is_real(discard_ratio):
        raise InvalidTypeError(
            f"discard_ratio must be a float in [0, 1); got {type(discard_ratio).__name__}."
        )
    ratio = float(discard_ratio)
    if not 0.0 <= ratio < 1.0:
        raise InvalidArgumentError(
            f"discard_ratio must be in [0, 1) (the fraction of the lowest attention weights to drop; "
            f"1 would drop everything); got {discard_ratio}. Typical values are 0.0-0.9."
        )
    return ratio


def _check_attention(attention: Tensor, ndim: int) -> None:
    shape = "(B, heads, T, T)" if ndim == 4 else "(B, T, T)"
    if (
        not isinstance(attention, Tensor)
        or attention.ndim != ndim
        or attention.shape[-1] != attention.shape[-2]
    ):
        got = tuple(attention.shape) if isinstance(attention, Tensor) else type(attention).__name__
        raise InvalidArgumentError(f"expected attention of shape {shape}; got {got}.")


def _check_prefix(num_prefix_tokens: int, num_tokens: int) -> None:
    if not 0 <= num_prefix_tokens < num_tokens:
        raise InvalidArgumentError(
            f"num_prefix_tokens must be in [0, T={num_tokens}); got {num_prefix_tokens}. It is 1 with a "
            "class token, else 0."
        )


# -- pure functions on attention tensors ------------------------------------------------------------
def fuse_heads(attention: Tensor, head_fusion: HeadFusion | str = "mean") -> Tensor:
    """Combine the heads of one layer: ``(B, heads, T, T) -> (B, T, T)`` by mean, max or min.

    Examples:
        >>> fuse_heads(torch.rand(2, 4, 5, 5), "max").shape
        torch.Size([2, 5, 5])
    """
    fusion = _check_head_fusion(head_fusion)
    _check_attention(attention, 4)
    if fusion == "mean":
        return attention.mean(dim=1)
    if fusion == "max":
        return attention.amax(dim=1)
    return attention.amin(dim=1)


def discard_lowest(attention: Tensor, discard_ratio: float, num_prefix_tokens: int = 0) -> Tensor:
    """Zero the lowest ``discard_ratio`` fraction of each sample's attention weights.

    Per sample, among the entries of its ``(T, T)`` matrix outside the prefix (class-token) columns,
    the ``int(n * discard_ratio)`` smallest are set to zero. Entries in the first
    ``num_prefix_tokens`` columns (attention *to* the class token, including its attention to itself)
    are never discarded. Rows are not renormalised here (see :func:`rollout_step`).

    Args:
        attention: Head-fused attention ``(B, T, T)``.
        discard_ratio: Fraction in ``[0, 1)``.
        num_prefix_tokens: Leading class/prefix tokens whose columns are protected.

    Returns:
        A new ``(B, T, T)`` tensor; the input is not modified.

    Examples:
        >>> discard_lowest(torch.rand(2, 5, 5), 0.5, num_prefix_tokens=1).shape
        torch.Size([2, 5, 5])
    """
    ratio = _check_discard_ratio(discard_ratio)
    _check_attention(attention, 3)
    b, t, _ = attention.shape
    _check_prefix(num_prefix_tokens, t)
    eligible = t * (t - num_prefix_tokens)
    k = int(eligible * ratio)
    if k == 0:
        return attention.clone()
    flat = attention.reshape(b, t * t)
    scores = flat
    if num_prefix_tokens:
        protected = torch.zeros(t, t, dtype=torch.bool, device=attention.device)
        protected[:, :num_prefix_tokens] = True
        scores = flat.masked_fill(protected.reshape(1, t * t), math.inf)
    drop = scores.topk(k, dim=1, largest=False).indices
    return flat.scatter(1, drop, 0.0).reshape(b, t, t)


def rollout_step(attention: Tensor, discard_ratio: float = 0.0, num_prefix_tokens: int = 0) -> Tensor:
    """One layer's rollout matrix: discard, add the identity (residual), renormalise rows to sum 1.

    Args:
        attention: Head-fused attention ``(B, T, T)``.
        discard_ratio: Fraction of the lowest weights to drop first (see :func:`discard_lowest`).
        num_prefix_tokens: Leading class/prefix tokens whose columns are never discarded.

    Returns:
        Row-stochastic ``(B, T, T)``.

    Examples:
        >>> step = rollout_step(torch.rand(2, 5, 5).softmax(-1))
        >>> torch.allclose(step.sum(-1), torch.ones(2, 5))
        True
    """
    a = discard_lowest(attention, discard_ratio, num_prefix_tokens) if discard_ratio else attention
    _check_attention(a, 3)
    a = a + torch.eye(a.shape[-1], dtype=a.dtype, device=a.device)
    return a / a.sum(dim=-1, keepdim=True)


def rollout(
    attentions: Sequence[Tensor],
    head_fusion: HeadFusion | str = "mean",
    discard_ratio: float = 0.0,
    num_prefix_tokens: int = 0,
) -> Tensor:
    """Joint attention ``A_L @ ... @ A_1`` over layers, each from :func:`fuse_heads` and :func:`rollout_step`.

    Args:
        attentions: Per-layer attention ``(B, heads, T, T)``, first layer first.
        head_fusion: ``"mean"``, ``"max"`` or ``"min"`` over heads.
        discard_ratio: Fraction in ``[0, 1)`` of each layer's lowest weights to drop.
        num_prefix_tokens: Leading class/prefix tokens (their columns are never discarded).

    Returns:
        Row-stochastic joint matrix ``(B, T, T)``; row ``i`` is how much token ``i`` of the last
        layer draws on each input token.

    Examples:
        >>> attn = [torch.rand(2, 2, 5, 5).softmax(-1) for _ in range(3)]
        >>> rollout(attn).shape
        torch.Size([2, 5, 5])
    """
    fusion = _check_head_fusion(head_fusion)
    ratio = _check_discard_ratio(discard_ratio)
    if len(attentions) == 0:
        raise InvalidArgumentError("attention rollout needs the attention of at least one layer; got none.")
    joint: Tensor | None = None
    for i, attention in enumerate(attentions):
        _check_attention(attention, 4)
        if joint is not None and attention.shape[-1] != joint.shape[-1]:
            raise InvalidArgumentError(
                f"layer {i} has {attention.shape[-1]} tokens, layer 0 has {joint.shape[-1]}; all layers of "
                "one forward must have the same tokens."
            )
        step = rollout_step(fuse_heads(attention.float(), fusion), ratio, num_prefix_tokens)
        joint = step if joint is None else step @ joint
    assert joint is not None  # attentions is non-empty
    return joint


def readout(joint: Tensor, num_prefix_tokens: int = 0, mode: Literal["token", "mean"] = "mean") -> Tensor:
    """Relevance of each patch token ``(B, h*w)`` from a ``(B, T, T)`` matrix.

    ``mode="token"`` reads the class token's row (``global_pool="token"``); ``"mean"`` averages the
    patch-token rows (mean pooling). Only the patch-token columns are kept.

    Examples:
        >>> readout(torch.eye(5)[None].expand(2, 5, 5), num_prefix_tokens=1, mode="token").shape
        torch.Size([2, 4])
    """
    _check_attention(joint, 3)
    _check_prefix(num_prefix_tokens, joint.shape[-1])
    if mode == "token":
        if num_prefix_tokens < 1:
            raise InvalidArgumentError("readout mode 'token' needs a class token (num_prefix_tokens >= 1).")
        return joint[:, 0, num_prefix_tokens:]
    if mode == "mean":
        return joint[:, num_prefix_tokens:, num_prefix_tokens:].mean(dim=1)
    raise InvalidArgumentError(f"readout mode must be 'token' or 'mean'; got {mode!r}.")


def upsample(maps: Tensor, size: int | Sequence[int]) -> Tensor:
    """Bilinearly resize maps ``(B, h, w)`` to ``size`` ``(H, W)`` (e.g. ``x.shape[-2:]``).

    Examples:
        >>> upsample(torch.rand(2, 4, 4), (64, 64)).shape
        torch.Size([2, 64, 64])
    """
    if not isinstance(maps, Tensor) or maps.ndim != 3:
        got = tuple(maps.shape) if isinstance(maps, Tensor) else type(maps).__name__
        raise InvalidArgumentError(
            f"upsample expects maps of shape (B, h, w); got {got}. Use maps[None] for one map."
        )
    out_size = (int(size), int(size)) if isinstance(size, int) else tuple(int(s) for s in size)
    if len(out_size) != 2 or min(out_size) < 1:
        raise InvalidArgumentError(
            f"size must be (H, W) with positive sides, e.g. x.shape[-2:]; got {size!r}."
        )
    src = maps if maps.is_floating_point() else maps.float()
    return F.interpolate(src[:, None], size=out_size, mode="bilinear", align_corners=False)[:, 0]


# -- model-level API -------------------------------------------------------------------------------
def collect_attention(model: nn.Module, x: Tensor) -> AttentionRecord:
    """Run one forward (eval mode, no gradients) and record every layer's attention.

    Args:
        model: A transformer variant offering ``record_attention()`` (e.g. ``effnet_b2_tf``).
        x: Images ``(B, C, H, W)``.

    Returns:
        An :class:`AttentionRecord` (attention ``(B, heads, T, T)`` per layer, logits, grid, readout).

    Raises:
        TypeError: The model cannot record attention (a CNN).

    Examples:
        >>> record = collect_attention(model, x)
        >>> last = record.attentions[-1]  # (B, heads, T, T)
    """
    recorder = getattr(model, "record_attention", None)
    if not callable(recorder):
        raise InvalidTypeError(
            f"attention rollout needs a transformer variant, e.g. effnet_b2_tf; {type(model).__name__} "
            "has no record_attention(). Use Grad-CAM (brainvit_effnet.explain.cam.GradCAM) for CNNs."
        )
    x = check_images(x)
    with eval_mode(model), torch.no_grad(), recorder() as maps:
        logits = model(x)
        attentions = tuple(a.detach() for a in maps)
    if not attentions:
        raise InvalidArgumentError(
            f"{type(model).__name__}.record_attention() recorded nothing during model(x); the model has "
            "no attention layers to explain."
        )
    num_tokens = attentions[0].shape[-1]
    prefix = int(getattr(model, "num_prefix_tokens", 0))
    _check_prefix(prefix, num_tokens)
    grid = _grid(model, num_tokens - prefix)
    pool = getattr(model, "global_pool", None)
    # The classifier reads the class token with global_pool="token" (or, for models that do not
    # say how they pool, whenever there is one); otherwise it averages the patch tokens.
    reads_token = pool == "token" or (not isinstance(pool, str) and prefix > 0)
    mode: Literal["token", "mean"] = "token" if reads_token else "mean"
    if mode == "token" and prefix < 1:
        raise InvalidArgumentError(
            f"{type(model).__name__} pools a class token but reports num_prefix_tokens=0."
        )
    return AttentionRecord(
        attentions=attentions,
        logits=logits.detach() if isinstance(logits, Tensor) else logits,
        grid_size=grid,
        num_prefix_tokens=prefix,
        readout=mode,
    )


def _grid(model: nn.Module, num_patches: int) -> tuple[int, int]:
    grid = getattr(model, "feature_grid", None)
    if isinstance(grid, tuple | list) and len(grid) == 2:
        h, w = int(grid[0]), int(grid[1])
    else:
        side = math.isqrt(num_patches)
        if side * side != num_patches:
            raise InvalidArgumentError(
                f"cannot tell the grid of {num_patches} patch tokens: {type(model).__name__} has no "
                "feature_grid and the count is not a square."
            )
        h = w = side
    if h * w != num_patches:
        raise InvalidArgumentError(
            f"model.feature_grid {h}x{w} does not match the {num_patches} patch tokens that were recorded."
        )
    return h, w


def rollout_matrices(
    model: nn.Module,
    x: Tensor,
    head_fusion: HeadFusion | str = "mean",
    discard_ratio: float = 0.0,
) -> Tensor:
    """The joint rollout matrix ``(B, T, T)`` (rows sum to 1) of ``model`` on ``x``.

    Examples:
        >>> joint = rollout_matrices(model, x)  # (B, T, T)
        >>> torch.allclose(joint.sum(-1), torch.ones(joint.shape[:2]), atol=1e-5)
        True
    """
    fusion = _check_head_fusion(head_fusion)
    ratio = _check_discard_ratio(discard_ratio)
    record = collect_attention(model, x)
    return rollout(record.attentions, fusion, ratio, record.num_prefix_tokens)


def attention_rollout(
    model: nn.Module,
    x: Tensor,
    head_fusion: HeadFusion | str = "mean",
    discard_ratio: float = 0.0,
    normalize: bool = True,
) -> Tensor:
    """Attention rollout map ``(B, h, w)`` on the feature grid, in ``[0, 1]`` per sample.

    Args:
        model: A transformer variant (``record_attention()``), e.g. ``effnet_b2_tf``.
        x: Images ``(B, C, H, W)``.
        head_fusion: ``"mean"``, ``"max"`` or ``"min"`` over heads.
        discard_ratio: Fraction in ``[0, 1)`` of each layer's lowest weights to drop (never the
            class token's column).
        normalize: Min-max normalise each map (``False`` returns the raw readout, whose entries
            sum to at most 1).

    Returns:
        ``(B, h, w)`` with ``(h, w) = model.feature_grid``; use :func:`upsample` for image size.

    Raises:
        ValueError: Bad ``head_fusion`` or ``discard_ratio``.
        TypeError: The model has no attention to record.

    Examples:
        >>> maps = attention_rollout(model, x, head_fusion="max", discard_ratio=0.9)
        >>> heat = upsample(maps, x.shape[-2:])  # (B, H, W)
    """
    fusion = _check_head_fusion(head_fusion)
    ratio = _check_discard_ratio(discard_ratio)
    record = collect_attention(model, x)
    joint = rollout(record.attentions, fusion, ratio, record.num_prefix_tokens)
    relevance = readout(joint, record.num_prefix_tokens, record.readout)
    maps = relevance.reshape(relevance.shape[0], *record.grid_size)
    return minmax_normalize(maps) if normalize else maps


def last_layer_attention(model: nn.Module, x: Tensor) -> Tensor:
    """The last encoder layer's raw attention ``(B, heads, T, T)``.

    Examples:
        >>> attn = last_layer_attention(model, x)  # (B, heads, T, T)
    """
    return collect_attention(model, x).attentions[-1]


def last_layer_attention_map(
    model: nn.Module,
    x: Tensor,
    head_fusion: HeadFusion | str = "mean",
    normalize: bool = True,
) -> Tensor:
    """Last-layer attention of the readout token(s) over the patch tokens, ``(B, h, w)`` in ``[0, 1]``.

    No identity or renormalisation: the class token's attention row (``global_pool="token"``) or the
    mean of the patch-token rows (mean pooling), heads fused by ``head_fusion``.

    Examples:
        >>> maps = last_layer_attention_map(model, x)  # (B, h, w) with (h, w) = model.feature_grid
    """
    fusion = _check_head_fusion(head_fusion)
    record = collect_attention(model, x)
    fused = fuse_heads(record.attentions[-1].float(), fusion)
    relevance = readout(fused, record.num_prefix_tokens, record.readout)
    maps = relevance.reshape(relevance.shape[0], *record.grid_size)
    return minmax_normalize(maps) if normalize else maps
