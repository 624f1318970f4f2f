"""The two model families: the Zulfiqar et al. baseline and the transformer-enhanced EfficientNet.

Both wrap a timm EfficientNet created with ``num_classes=0, global_pool=''`` so that
``backbone.forward_features`` yields the last feature map (after ``conv_head``/``bn2``, like
Keras' ``include_top=False``). Both follow timm's classifier interface, so trainers and explainers
written against timm work on them unchanged.

Examples:
    >>> import torch, brainvit_effnet as bve
    >>> model = bve.create_model("effnet_test_tf", num_classes=3).eval()
    >>> model(torch.randn(2, 3, 64, 64)).shape
    torch.Size([2, 3])
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, cast

import timm
import torch
from timm.layers import SelectAdaptivePool2d, trunc_normal_
from timm.layers.cbam import CbamModule
from timm.models import checkpoint_seq
from torch import Tensor, nn

from .._tensors import check_image_batch
from ..errors import InvalidArgumentError, InvalidTypeError
from .layers import Attention, EncoderBlock, PositionalEmbedding2d, feature_grid

__all__ = ["EffNetBaseline", "EffNetTransformer"]

#: Total stride of every EfficientNet: five stride-2 stages.
BACKBONE_DOWNSAMPLES = 5
#: Smallest input side: one 32-px patch per feature-map cell. Smaller inputs only pad the network.
MIN_INPUT_SIZE = 32


def _as_pair(size: int | tuple[int, int] | list[int]) -> tuple[int, int]:
    if isinstance(size, int):
        return size, size
    h, w = size
    return int(h), int(w)


class _EffNetBase(nn.Module):
    """Backbone handling shared by both families: creation, input checks, freezing, grouping."""

    # timm models are dynamically typed (attributes such as num_features, bn2 vary by family).
    backbone: Any
    head: nn.Module

    def __init__(
        self,
        backbone: str,
        in_chans: int,
        img_size: int | tuple[int, int],
        backbone_drop_path_rate: float,
    ) -> None:
        super().__init__()
        if in_chans < 1:
            raise InvalidArgumentError(
                f"in_chans must be >= 1 (3 for RGB-replicated MRI, 1 for greyscale); got {in_chans}."
            )
        self.in_chans = in_chans
        self.img_size = _as_pair(img_size)
        self.backbone_name = backbone
        self.backbone = timm.create_model(
            backbone,
            pretrained=False,
            num_classes=0,
            global_pool="",
            in_chans=in_chans,
            drop_path_rate=backbone_drop_path_rate,
        )
        self.backbone_features: int = self.backbone.num_features
        self.grad_checkpointing = False
        self._backbone_frozen = False

    # -- input validation -------------------------------------------------------------------------
    def _check_input(self, x: Tensor) -> None:
        """Raise a clear error for inputs the network cannot take (instead of a conv traceback)."""
        check_image_batch(x, "the model's input", f"(B, {self.in_chans}, H, W)")
        if x.shape[1] != self.in_chans:
            raise InvalidArgumentError(
                f"this model takes {self.in_chans}-channel images; got {x.shape[1]} channels "
                f"(shape {tuple(x.shape)}). Convert the images, or create the model with "
                f"in_chans={x.shape[1]} (the stem is adapted, pretrained weights included)."
            )
        if not x.is_floating_point():
            raise InvalidTypeError(
                f"expected a floating-point image normalised with model.pretrained_cfg['mean'/'std']; "
                f"got dtype {x.dtype}. Convert with x.float() and normalise first."
            )
        h, w = x.shape[-2:]
        if h < MIN_INPUT_SIZE or w < MIN_INPUT_SIZE:
            raise InvalidArgumentError(
                f"input {h}x{w} is smaller than the network's minimum {MIN_INPUT_SIZE}x{MIN_INPUT_SIZE} "
                f"(total stride 32); resize to the model's native size {self.img_size[0]}x{self.img_size[1]}."
            )

    def _place(self, device: torch.device | str | None, dtype: torch.dtype | None) -> None:
        # timm passes device/dtype to every model; honour them once everything is built.
        if device is not None or dtype is not None:
            self.to(device=device, dtype=dtype)

    def _backbone_features(self, x: Tensor) -> Tensor:
        self._check_input(x)
        return self.backbone.forward_features(x)

    # -- timm interface shared by both families -------------------------------------------------
    def set_grad_checkpointing(self, enable: bool = True) -> None:
        """Trade compute for memory in the backbone (and encoder blocks, where present)."""
        self.grad_checkpointing = enable
        self.backbone.set_grad_checkpointing(enable)

    def get_classifier(self) -> nn.Module:
        """The final linear layer (timm interface)."""
        return self.head

    def freeze_backbone(self, freeze: bool = True) -> None:
        """Stop (or resume) training the backbone.

        Frozen parameters get ``requires_grad=False`` and the backbone's BatchNorm layers stay in
        eval mode even under ``model.train()``, as Keras does for a non-trainable base model;
        otherwise running statistics would drift while the weights cannot adapt.
        """
        self._backbone_frozen = freeze
        for p in self.backbone.parameters():
            p.requires_grad_(not freeze)
        self.train(self.training)

    def train(self, mode: bool = True) -> _EffNetBase:
        super().train(mode)
        if self._backbone_frozen:
            self.backbone.eval()
        return self

    def cam_target_layers(self) -> list[nn.Module]:
        """Default Grad-CAM layers: the layer chosen for these weights, else the CNN's last activation.

        Trained weights whose provenance records a Grad-CAM layer chosen by measurement on a
        validation fold (``pretrained_cfg["provenance"]["localisation"]["layer"]``, written by
        ``tools/bundle_model.py`` from ``benchmarks/model_evidence.py``) use that layer. Otherwise:
        ``conv_head`` -> ``bn2`` + act. For the transformer variants that is still the right
        default: the encoder's last-block tokens give a class token no gradient, so CAMs are taken
        on the CNN map the tokens come from.
        """
        cfg = getattr(self, "pretrained_cfg", None) or {}
        layer = ((cfg.get("provenance") or {}).get("localisation") or {}).get("layer")
        if isinstance(layer, str):
            try:
                return [self.get_submodule(layer)]
            except AttributeError:  # a record from another architecture: fall back to the default
                pass
        return [self.backbone.bn2]

    def _backbone_group_matcher(self, coarse: bool) -> dict[str, Any]:
        blocks = r"^backbone\.blocks\.(\d+)" if coarse else r"^backbone\.blocks\.(\d+)\.(\d+)"
        return dict(
            stem=r"^backbone\.(?:conv_stem|bn1)\.",
            blocks=[(blocks, None), (r"^backbone\.(?:conv_head|bn2)\.", (99999,))],
        )


class EffNetBaseline(_EffNetBase):
    """EfficientNet -> [CBAM] -> global average pooling -> dropout -> linear (Zulfiqar et al., 2023).

    Args:
        backbone: timm EfficientNet name, e.g. ``"efficientnet_b2"``.
        num_classes: Output classes; 0 makes the model return pooled features.
        in_chans: Input channels; 1 adapts the stem to greyscale MRI.
        img_size: Native input size (recorded for preprocessing; any size >= 32 works).
        global_pool: ``"avg"`` (the study), ``"max"``, ``"avgmax"`` or ``"catavgmax"``.
        cbam: Insert a CBAM block between backbone and pooling, as the transformer variants do
            before their projection (so an ablation can cross CBAM with the transformer).
        drop_rate: Dropout before the classifier.
        backbone_drop_path_rate: Stochastic depth inside the backbone (Keras' ``drop_connect_rate``).

    Shapes:
        ``forward_features``: ``(B, C_in, H, W) -> (B, C, H/32, W/32)`` (after CBAM, if any);
        ``forward``: ``-> (B, num_classes)``.
    """

    def __init__(
        self,
        backbone: str,
        num_classes: int = 4,
        in_chans: int = 3,
        img_size: int | tuple[int, int] = 224,
        global_pool: str = "avg",
        cbam: bool = False,
        drop_rate: float = 0.2,
        backbone_drop_path_rate: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(backbone, in_chans, img_size, backbone_drop_path_rate)
        self.num_classes = num_classes
        self.drop_rate = drop_rate
        self.num_features = self.head_hidden_size = self.backbone_features
        self.cbam: nn.Module = CbamModule(self.backbone_features) if cbam else nn.Identity()
        self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = self._make_head(num_classes)
        self._place(device, dtype)

    def _make_head(self, num_classes: int) -> nn.Module:
        features = self.num_features * self.global_pool.feat_mult()
        return nn.Linear(features, num_classes) if num_classes > 0 else nn.Identity()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the head with a freshly initialised one for ``num_classes`` (timm interface)."""
        self.num_classes = num_classes
        if global_pool is not None:
            self.global_pool = SelectAdaptivePool2d(pool_type=global_pool, flatten=True)
        self.head = self._make_head(num_classes)

    def forward_features(self, x: Tensor) -> Tensor:
        """Backbone feature map ``(B, C, h, w)`` (refined by CBAM when the model has one)."""
        return self.cbam(self._backbone_features(x))

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool, dropout and classify a feature map; ``pre_logits=True`` stops before the linear layer."""
        x = self.head_drop(self.global_pool(x))
        return x if pre_logits else self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for layer-wise learning-rate decay (timm interface)."""
        matcher = self._backbone_group_matcher(coarse)
        matcher["neck"] = r"^cbam"
        return matcher

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Parameters exempt from weight decay (timm interface): none beyond norms and biases."""
        return set()


class EffNetTransformer(_EffNetBase):
    """EfficientNet feature map -> 1x1 conv -> tokens + 2D positions -> transformer -> pool -> linear.

    The transformer-enhanced model of the follow-up proposal. Defaults follow its configuration
    (``embed_dim=256``, one pre-norm encoder layer with 2 heads, feed-forward width 64, mean
    pooling over tokens, dropout 0.4). Unlike Keras' ``MultiHeadAttention(key_dim=16)``, each head
    attends over ``embed_dim // num_heads`` channels (the standard formulation SDPA is built for).

    Args:
        backbone: timm EfficientNet name.
        num_classes: Output classes; 0 makes the model return pooled features.
        in_chans: Input channels; 1 adapts the stem to greyscale MRI.
        img_size: Configured input size; the learned positional grid is sized for it and resampled
            for other sizes.
        embed_dim: Token width after the 1x1 projection.
        depth: Number of encoder layers.
        num_heads: Attention heads; must divide ``embed_dim``.
        mlp_ratio: Feed-forward width as a multiple of ``embed_dim``.
        qkv_bias: Bias on the attention projections.
        global_pool: ``"avg"`` (mean over tokens) or ``"token"`` (a learned class token).
        pos_embed: ``"learned"``, ``"sincos"`` or ``"none"``.
        cbam: Insert a CBAM block between backbone and projection (the proposal's ablation).
        drop_rate: Dropout before the classifier.
        proj_drop_rate: Dropout inside the encoder (attention output, MLP).
        attn_drop_rate: Dropout on attention probabilities.
        drop_path_rate: Stochastic depth of the encoder layers (linearly increasing with depth).
        backbone_drop_path_rate: Stochastic depth inside the backbone.

    Shapes:
        ``forward_features``: ``(B, C_in, H, W) -> (B, T, D)`` tokens after the final norm, with
        ``T = h*w`` (+1 with a class token first); ``forward``: ``-> (B, num_classes)``.
    """

    def __init__(
        self,
        backbone: str,
        num_classes: int = 4,
        in_chans: int = 3,
        img_size: int | tuple[int, int] = 224,
        embed_dim: int = 256,
        depth: int = 1,
        num_heads: int = 2,
        mlp_ratio: float = 0.25,
        qkv_bias: bool = True,
        global_pool: str = "avg",
        pos_embed: str = "learned",
        cbam: bool = False,
        drop_rate: float = 0.4,
        proj_drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        backbone_drop_path_rate: float = 0.0,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__(backbone, in_chans, img_size, backbone_drop_path_rate)
        if global_pool not in ("avg", "token"):
            raise InvalidArgumentError(
                f"global_pool must be 'avg' (mean over tokens) or 'token' (class token); got {global_pool!r}."
            )
        if depth < 1:
            raise InvalidArgumentError(
                f"depth must be >= 1 encoder layer; got {depth}. Use an effnet_bX model for no transformer."
            )
        if embed_dim < 1:
            raise InvalidArgumentError(f"embed_dim must be a positive integer; got {embed_dim}.")
        self.num_classes = num_classes
        self.global_pool = global_pool
        self.drop_rate = drop_rate
        self.embed_dim = self.num_features = self.head_hidden_size = embed_dim
        self.grid_size = feature_grid(self.img_size, BACKBONE_DOWNSAMPLES)
        # The last grid seen by forward_features; lets token activations be reshaped to maps later.
        self.feature_grid: tuple[int, int] = self.grid_size

        self.cbam: nn.Module = CbamModule(self.backbone_features) if cbam else nn.Identity()
        self.proj = nn.Conv2d(self.backbone_features, embed_dim, kernel_size=1)
        self.pos_embed = PositionalEmbedding2d(pos_embed, embed_dim, self.grid_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, embed_dim)) if global_pool == "token" else None
        self.num_prefix_tokens = 1 if self.cls_token is not None else 0
        dpr = (
            [drop_path_rate * i / max(depth - 1, 1) for i in range(depth)] if depth > 1 else [drop_path_rate]
        )
        self.blocks = nn.Sequential(
            *[
                EncoderBlock(
                    embed_dim,
                    num_heads,
                    mlp_ratio=mlp_ratio,
                    qkv_bias=qkv_bias,
                    proj_drop=proj_drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=dpr[i],
                )
                for i in range(depth)
            ]
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.head_drop = nn.Dropout(drop_rate)
        self.head: nn.Module = self._make_head(num_classes)
        if self.cls_token is not None:
            trunc_normal_(self.cls_token, std=0.02)
        self._place(device, dtype)

    def _make_head(self, num_classes: int) -> nn.Module:
        return nn.Linear(self.embed_dim, num_classes) if num_classes > 0 else nn.Identity()

    def reset_classifier(self, num_classes: int, global_pool: str | None = None) -> None:
        """Replace the head for ``num_classes``; ``global_pool`` may switch between 'avg' and 'token'."""
        self.num_classes = num_classes
        if global_pool is not None and global_pool != self.global_pool:
            if global_pool not in ("avg", "token") or (global_pool == "token" and self.cls_token is None):
                raise InvalidArgumentError(
                    f"global_pool={global_pool!r} is not available on this model (it was built with "
                    f"global_pool={self.global_pool!r}); create it with global_pool='token' to get a "
                    "class token."
                )
            self.global_pool = global_pool
        self.head = self._make_head(num_classes)

    # -- forward ----------------------------------------------------------------------------------
    def forward_features(self, x: Tensor) -> Tensor:
        """Encoder tokens after the final norm, ``(B, num_prefix_tokens + h*w, embed_dim)``."""
        fmap = self.proj(self.cbam(self._backbone_features(x)))
        grid = (fmap.shape[-2], fmap.shape[-1])
        self.feature_grid = grid
        tokens = self.pos_embed(fmap.flatten(2).transpose(1, 2), grid)
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        if self.grad_checkpointing and not torch.jit.is_scripting():
            tokens = checkpoint_seq(self.blocks, tokens)
        else:
            tokens = self.blocks(tokens)
        return self.norm(tokens)

    def forward_head(self, x: Tensor, pre_logits: bool = False) -> Tensor:
        """Pool tokens (mean over patch tokens, or the class token), dropout, classify."""
        x = x[:, 0] if self.global_pool == "token" else x[:, self.num_prefix_tokens :].mean(dim=1)
        x = self.head_drop(x)
        return x if pre_logits else self.head(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.forward_head(self.forward_features(x))

    # -- explainability seams ---------------------------------------------------------------------
    @contextmanager
    def record_attention(self) -> Iterator[list[Tensor]]:
        """Record attention probabilities while the context is open.

        Yields a list that each forward extends with one ``(B, heads, T, T)`` tensor per encoder
        layer, in layer order. Recording switches attention from fused SDPA to the explicit
        softmax path (same result within float tolerance); leaving the context switches back, also
        on exceptions.

        Examples:
            >>> with model.record_attention() as maps:
            ...     logits = model(x)
            >>> len(maps) == len(model.blocks)
            True
        """
        maps: list[Tensor] = []
        attns = [cast(Attention, blk.attn) for blk in self.blocks]
        for attn in attns:
            attn.recorder = maps
        try:
            yield maps
        finally:
            for attn in attns:
                attn.recorder = None

    def get_attention_maps(self, x: Tensor) -> list[Tensor]:
        """Run one forward and return each encoder layer's attention ``(B, heads, T, T)``."""
        with self.record_attention() as maps:
            self.forward_features(x)
        return maps

    def reshape_tokens(self, tokens: Tensor, grid_size: tuple[int, int] | None = None) -> Tensor:
        """Turn ``(B, T, D)`` tokens back into a ``(B, D, h, w)`` map, dropping any class token.

        ``grid_size`` defaults to the grid of the last forward pass. Usable as the
        ``reshape_transform`` of pytorch-grad-cam.
        """
        h, w = grid_size if grid_size is not None else self.feature_grid
        patch = tokens[:, -h * w :] if tokens.shape[1] == h * w + self.num_prefix_tokens else None
        if patch is None:
            raise InvalidArgumentError(
                f"expected {h * w + self.num_prefix_tokens} tokens for a {h}x{w} grid"
                f"{' plus a class token' if self.num_prefix_tokens else ''}; got {tokens.shape[1]}. "
                "Pass grid_size=(h, w) of the forward pass the tokens came from."
            )
        return patch.transpose(1, 2).reshape(tokens.shape[0], -1, h, w)

    def token_cam_target_layers(self) -> list[nn.Module]:
        """Token-level Grad-CAM layers (use with :meth:`reshape_tokens`): the last block's first norm.

        As in pytorch-grad-cam's ViT recipe, the input of the last block still receives gradient
        from every token, which the final block's output does not give a class token.
        """
        return [cast(EncoderBlock, self.blocks[-1]).norm1]

    # -- timm interface ---------------------------------------------------------------------------
    @torch.jit.ignore
    def group_matcher(self, coarse: bool = False) -> dict[str, Any]:
        """Parameter groups for layer-wise decay: stem, backbone blocks, neck, encoder layers, head."""
        matcher = self._backbone_group_matcher(coarse)
        matcher["neck"] = r"^(?:cbam|proj|pos_embed|cls_token)"
        matcher["encoder"] = [(r"^blocks\.(\d+)", None)]
        return matcher

    @torch.jit.ignore
    def no_weight_decay(self) -> set[str]:
        """Positional embedding and class token are exempt from weight decay (as in timm's ViT)."""
        names = {"cls_token"} if self.cls_token is not None else set()
        if self.pos_embed.weight is not None:
            names.add("pos_embed.weight")
        return names
