"""Torch helpers any layer may use: a train/eval switch that restores exactly, tensors to numpy."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from torch import nn

__all__ = ["eval_mode", "to_numpy"]


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
    raise TypeError(
        f"{name} must be a torch.Tensor or numpy.ndarray; got {type(x).__name__}. "
        "Convert it with torch.as_tensor(...) or np.asarray(...)."
    )
