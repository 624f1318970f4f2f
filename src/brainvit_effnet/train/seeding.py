"""One seed for every random number generator a run draws from (Python, NumPy, torch)."""

from __future__ import annotations

import random

import numpy as np
import torch

__all__ = ["seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Call it before building a model, so its initial weights are the same in every process: the
    Trainer seeds again at the start of ``fit`` for data order and dropout, but by then the model
    already exists.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device
