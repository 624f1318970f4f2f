"""Hiding a region of a normalised image: what the occlusion test and counterfactual training share.

"Hidden" means black before normalisation: intensity 0, which is ``-mean / std`` of the model's
``pretrained_cfg`` in the normalised input. A *control* region has the tumour's exact shape,
moved to a random place inside the brain that does not touch the tumour, so that hiding it
removes as many pixels, but no tumour.

Used by :func:`brainvit_effnet.explain.tumour_reliance` (is the model looking at the tumour?)
and :class:`brainvit_effnet.train.counterfactual.CounterfactualOcclusion` (train it to). This
module imports nothing of the library but its errors, so both layers can use it.

Examples:
    >>> import torch
    >>> mean, std = input_stats({"mean": (0.5,), "std": (0.25,)}, channels=1)
    >>> images = torch.zeros(1, 1, 4, 4)
    >>> region = torch.zeros(1, 4, 4, dtype=torch.bool); region[0, 1, 1] = True
    >>> hide_region(images, region, -mean / std)[0, 0, 1, 1].item()
    -2.0
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

__all__ = ["brain_region", "dilate", "hide_region", "input_stats", "place_control_region", "unnormalised"]

_PLACEMENT_TRIES = 200


def input_stats(cfg: Mapping[str, Any] | None, channels: int) -> tuple[Tensor, Tensor]:
    """``(mean, std)`` of a model's input as ``(C, 1, 1)`` tensors, from its ``pretrained_cfg``.

    A 3-value config on a greyscale stem gives its average, as
    :func:`~brainvit_effnet.data.create_transforms` does; a missing config means no normalisation.
    """
    cfg = cfg or {}
    mean = torch.as_tensor(cfg.get("mean", (0.0,) * channels), dtype=torch.float32)
    std = torch.as_tensor(cfg.get("std", (1.0,) * channels), dtype=torch.float32)
    if mean.numel() != channels:
        mean, std = mean.mean().expand(channels), std.mean().expand(channels)
    return mean.reshape(channels, 1, 1), std.reshape(channels, 1, 1)


def unnormalised(images: Tensor, mean: Tensor, std: Tensor) -> np.ndarray:
    """``(B, H, W)`` intensities in the input's original scale, averaged over channels."""
    return (images.detach().float().cpu() * std + mean).mean(1).numpy()


def hide_region(images: Tensor, regions: Tensor, black: Tensor) -> Tensor:
    """``images`` ``(B, C, H, W)`` with ``regions`` ``(B, H, W)`` set to ``black`` ``(C, 1, 1)``."""
    return torch.where(regions[:, None].to(images.device), black.to(images), images)


def dilate(mask: np.ndarray, pixels: int) -> np.ndarray:
    """``mask`` grown by ``pixels`` (a 3x3 cross per step); unchanged for 0."""
    if pixels <= 0:
        return mask
    from scipy import ndimage

    return np.asarray(ndimage.binary_dilation(mask, iterations=pixels))


def brain_region(image: np.ndarray, threshold: float = 0.05) -> np.ndarray:
    """Where an un-normalised slice is brighter than ``threshold``, holes filled: the head."""
    from scipy import ndimage

    return np.asarray(ndimage.binary_fill_holes(image > threshold))


def place_control_region(
    region: np.ndarray, brain: np.ndarray, avoid: np.ndarray, generator: np.random.Generator
) -> np.ndarray | None:
    """``region`` moved to a random place inside ``brain`` that does not touch ``avoid``, or ``None``.

    The shape and size are kept exactly (a translation). Up to 200 random offsets are tried; a
    placement is taken when at least 95% of the moved region lies inside the brain.
    """
    rows, cols = np.nonzero(region)
    if rows.size == 0:
        return None
    h, w = region.shape
    top, left, bottom, right = rows.min(), cols.min(), rows.max(), cols.max()
    for _ in range(_PLACEMENT_TRIES):
        dy = int(generator.integers(-top, h - bottom))
        dx = int(generator.integers(-left, w - right))
        moved_rows, moved_cols = rows + dy, cols + dx
        if avoid[moved_rows, moved_cols].any():
            continue
        if brain[moved_rows, moved_cols].mean() < 0.95:
            continue
        moved = np.zeros_like(region)
        moved[moved_rows, moved_cols] = True
        return moved
    return None
