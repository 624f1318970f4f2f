"""Training: ``Trainer``, ``TrainConfig``, callbacks, checkpoints and torchrun support."""

from .config import TrainConfig
from .trainer import Callback, Trainer, TrainingDivergedError, default_prepare_batch

__all__ = ["Callback", "TrainConfig", "Trainer", "TrainingDivergedError", "default_prepare_batch"]
