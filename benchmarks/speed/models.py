"""The models of one size group: which ones, how they are built, what input size they get."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import timm
import torch
from torch import nn

import brainvit_effnet as bve


@dataclass
class Entry:
    """One model of a size group, and what the current phase measured for it."""

    name: str
    role: str  # "timm", "timm_tf", "baseline", "transformer"
    module: nn.Module
    params: int
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    iters: int = 1
    rounds: list[float] = field(default_factory=list)  # img/s per round
    samples_ms: list[float] = field(default_factory=list)
    first_call_s: float | None = None
    calls: int = 0  # calls made so far: indexes the input pool, so every call gets the next input
    train_step: Callable[[int], None] | None = None  # kept from the training phase for the CUDA memory one


def count_params(model: nn.Module) -> int:
    """Number of parameters (trainable or not)."""
    return sum(p.numel() for p in model.parameters())


def native_size(model: nn.Module) -> tuple[int, int, int]:
    """``(channels, height, width)`` from the model's ``pretrained_cfg``: what its group is fed."""
    cfg = cast("dict[str, Any]", model.pretrained_cfg)  # nn.Module.__getattr__ is typed Tensor | Module
    c, h, w = cfg["input_size"]
    return int(c), int(h), int(w)


def group_names(size: str) -> dict[str, str]:
    """role -> model name for one size (the timm names come from the backbone effnet_X wraps)."""
    backbone = str(bve.create_model(f"effnet_{size}", num_classes=3).backbone_name)
    names = {"timm": backbone, "baseline": f"effnet_{size}", "transformer": f"effnet_{size}_tf"}
    tf_name = f"tf_{backbone}"
    if timm.is_model(tf_name):
        names = {"timm": backbone, "timm_tf": tf_name, **{k: v for k, v in names.items() if k != "timm"}}
    return names


def create(name: str) -> nn.Module:
    """A 3-class model with random weights: brainvit-effnet for ``effnet_*``, timm otherwise."""
    if name.startswith("effnet_"):
        return bve.create_model(name, num_classes=3)
    return timm.create_model(name, num_classes=3)


def selected(name: str, patterns: Sequence[str] | None) -> bool:
    """Whether ``name`` matches one of the wildcard ``patterns`` (``None``: everything matches)."""
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)
