"""Torch helpers any layer may use: a train/eval switch that restores exactly, tensors to numpy,
the check that a value is an image batch."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

from .errors import InvalidArgumentError, InvalidTypeError

__all__ = ["check_image_batch", "eval_mode", "to_numpy"]


def check_image_batch(x: object, what: str = "x", layout: str = "(B, C, H, W)") -> torch.Tensor:
    """``x`` if it is a 4-D tensor; else an error that names ``what`` and the expected ``layout``.

    Raises:
        TypeError: ``x`` is not a tensor.
        ValueError: ``x`` is not 4-D (a 3-D tensor gets the ``unsqueeze(0)`` hint).
    """
    if not isinstance(x, torch.Tensor):
        raise InvalidTypeError(f"{what} must be a torch.Tensor of shape {layout}; got {type(x).__name__}.")
    if x.ndim != 4:
        hint = " For one image use x.unsqueeze(0)." if x.ndim == 3 else ""
        raise InvalidArgumentError(
            f"{what} must be a 4-D image batch {layout}; got shape {tuple(x.shape)}.{hint}"
        )
    return x


@contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode and restore every submodule's train/eval flag afterwards.

    Flags are restored one by one (not with ``model.train(mode)``), so a model whose submodules were
    in mixed modes (e.g. a frozen backbone kept in eval) comes back exactly as it was, also on
    exceptions.

    Examples:
        >>> with eval_mode(model):  # doctest: +SKIP
        ...     logits = model(x)
    """
    was_training = [module for module in model.modules() if module.training]
    if not was_training:  # already in eval mode everywhere: nothing to switch or restore
        yield model
        return
    model.eval()
    try:
        yield model
    finally:
        for module in was_training:
            module.training = True


def to_numpy(x: object, name: str) -> NDArray[Any]:
    """A tensor (detached, on the CPU) or an array as a numpy array; anything else is a ``TypeError``.

    Reduced-precision floats (``float16``, ``bfloat16``) become ``float32``: numpy has no bfloat16
    and float16 arithmetic there is slow and lossy.
    """
    if isinstance(x, torch.Tensor):
        t = x.detach().cpu()
        if t.is_floating_point() and t.dtype not in (torch.float32, torch.float64):
            t = t.float()
        return t.numpy()
    if isinstance(x, np.ndarray):
        return x
    raise InvalidTypeError(
        f"{name} must be a torch.Tensor or numpy.ndarray; got {type(x).__name__}. "
        "Convert it with torch.as_tensor(...) or np.asarray(...)."
    )
