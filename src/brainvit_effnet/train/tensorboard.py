"""TensorBoard logging of a training run, as a :class:`~brainvit_effnet.train.Callback`.

Needs the ``tensorboard`` extra (``pip install "brainvit-effnet[tensorboard]"``); the writer is
PyTorch's own :class:`torch.utils.tensorboard.SummaryWriter`. Without the extra, creating the
callback raises an ``ImportError`` that names it.

Examples:
    >>> from brainvit_effnet.train import Trainer, TrainConfig
    >>> from brainvit_effnet.train.tensorboard import TensorBoardLogger
    >>> logger = TensorBoardLogger(every_n_steps=10)  # doctest: +SKIP
    >>> trainer = Trainer(model, TrainConfig(output_dir="runs/b0"), callbacks=[logger])  # doctest: +SKIP
    >>> trainer.fit(train, val)  # doctest: +SKIP

    then ``tensorboard --logdir runs/b0/tensorboard``.
"""

from __future__ import annotations

import math
import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._checks import is_int, is_real
from ..errors import InvalidArgumentError, MissingDependencyError
from . import distributed as dist
from .trainer import Callback

if TYPE_CHECKING:
    from ..results import FitResult
    from .trainer import Trainer

__all__ = ["TensorBoardLogger"]

# Epoch-log keys that are not curves (the learning-rate rule is a sentence; the step is the x axis).
_NOT_SCALARS = frozenset({"epoch", "step", "lr_rule"})


def _summary_writer() -> Any:
    """PyTorch's SummaryWriter class, or an ImportError that names the extra."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError as e:  # torch raises this when the tensorboard package is missing
        raise MissingDependencyError(
            'TensorBoardLogger needs the tensorboard package: pip install "brainvit-effnet[tensorboard]".'
        ) from e
    return SummaryWriter


def _tag(key: str) -> str:
    """``val_accuracy`` -> ``val/accuracy``; ``train_loss`` -> ``train/epoch_loss``; others ``epoch/...``."""
    if key.startswith("val_"):
        return f"val/{key[4:]}"
    if key == "train_loss":
        return "train/epoch_loss"
    return f"epoch/{key}"


class TensorBoardLogger(Callback):
    """Write the training curves to TensorBoard event files.

    Every ``every_n_steps`` optimiser steps: ``train/loss`` and ``train/lr`` at that step. After
    every epoch: ``train/epoch_loss``, each validation metric as ``val/<name>`` (``val/loss``,
    ``val/accuracy``, ``val/macro_f1``, ...) and ``epoch/img_per_s``, ``epoch/seconds``, all at
    the epoch's last optimiser step, so that step and epoch curves share one x axis. Under
    torchrun only rank 0 writes.

    Args:
        log_dir: Folder of the event files; default ``<output_dir>/tensorboard`` of the trainer.
        every_n_steps: Log the step curves every this many optimiser steps (``>= 1``).

    Raises:
        ImportError: The ``tensorboard`` extra is not installed (the message names it).
        ValueError: ``every_n_steps`` below 1.
    """

    def __init__(self, log_dir: str | os.PathLike[str] | None = None, *, every_n_steps: int = 1) -> None:
        self._writer_class = _summary_writer()  # fail when the callback is made, not mid-training
        if not is_int(every_n_steps) or every_n_steps < 1:
            raise InvalidArgumentError(f"every_n_steps must be an int >= 1; got {every_n_steps!r}.")
        self.log_dir = Path(log_dir) if log_dir is not None else None
        self.every_n_steps = every_n_steps
        self.writer: Any = None

    def on_fit_start(self, trainer: Trainer) -> None:
        """Open the writer (rank 0 only)."""
        if not dist.is_main():
            return
        folder = self.log_dir if self.log_dir is not None else trainer.output_dir / "tensorboard"
        self.log_dir = folder
        self.writer = self._writer_class(log_dir=str(folder))

    def on_step_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """``train/loss`` and ``train/lr`` every ``every_n_steps`` steps."""
        if self.writer is None or logs["step"] % self.every_n_steps:
            return
        self.writer.add_scalar("train/loss", float(logs["loss"]), logs["step"])
        self.writer.add_scalar("train/lr", float(logs["lr"]), logs["step"])

    def on_epoch_end(self, trainer: Trainer, logs: dict[str, Any]) -> None:
        """The epoch's numbers (train loss, validation metrics, throughput) at its last step."""
        if self.writer is None:
            return
        for key, value in logs.items():
            if key in _NOT_SCALARS or not is_real(value):
                continue  # None (e.g. no throughput measured) and text are not curves
            if math.isfinite(value):
                self.writer.add_scalar(_tag(key), float(value), logs["step"])
        self.writer.flush()  # an epoch's curves are visible while the next one trains

    def on_fit_end(self, trainer: Trainer, result: FitResult) -> None:
        """Close the writer (the event files are complete)."""
        if self.writer is not None:
            self.writer.close()
            self.writer = None
