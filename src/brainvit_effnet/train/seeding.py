"""One seed for every random number generator a run draws from (Python, NumPy, torch)."""

from __future__ import annotations

import contextlib
import random
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["SeededSamples", "isolated_rng", "seed_everything"]


def seed_everything(seed: int) -> None:
    """Seed Python's ``random``, NumPy's global generator and torch (CPU and every CUDA device).

    Call it before building a model, so its initial weights are the same in every process: the
    Trainer seeds again at the start of ``fit`` for data order and dropout, but by then the model
    already exists.
    """
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)  # also seeds every CUDA device


@contextlib.contextmanager
def isolated_rng(seed: int) -> Iterator[None]:
    """Run a block with Python's, NumPy's and torch's CPU generators seeded from ``seed``, then put
    back the states they had: what the block draws neither depends on nor moves the caller's."""
    states = random.getstate(), np.random.get_state(), torch.get_rng_state()
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    try:
        yield
    finally:
        random.setstate(states[0])
        np.random.set_state(states[1])
        torch.set_rng_state(states[2])


class SeededSamples(Dataset[Any]):
    """A dataset whose every sample is drawn with generators seeded from ``(seed, index)``.

    The Trainer wraps its training data in it (``seed`` combines the run's seed and the epoch), so
    a sample's random augmentation depends on the run, the epoch and the sample only: not on which
    samples were drawn before it, in which process or worker. That makes a resume from a
    checkpoint saved mid-epoch bit-identical to the uninterrupted run, with augmentation and with
    any number of workers, and loading a batch never moves the main process's generators
    (dropout, mixing and occlusion draw from those).

    Transforms that draw from Python's ``random``, NumPy's global generator or torch's (torchvision,
    TorchIO, the library's own) are covered; one that keeps a private generator (MONAI's
    ``Randomizable`` transforms hold their own ``RandomState``) is not.
    """

    def __init__(self, data: Dataset[Any], seed: int) -> None:
        self.data, self.seed = data, seed

    def __len__(self) -> int:
        return len(self.data)  # type: ignore[arg-type]

    def __getitem__(self, index: int) -> Any:
        sample_seed = int(np.random.SeedSequence([self.seed, int(index)]).generate_state(1, np.uint64)[0])
        with isolated_rng(sample_seed % 2**63):
            return self.data[index]
