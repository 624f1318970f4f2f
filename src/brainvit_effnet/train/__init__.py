"""Training: ``Trainer``, ``TrainConfig``, callbacks, checkpoints and torchrun support."""

from .config import TrainConfig
from .tensorboard import TensorBoardLogger
from .trainer import Callback, Trainer, TrainingDivergedError, default_prepare_batch

__all__ = [
    "Callback",
    "TensorBoardLogger",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "default_prepare_batch",
]
