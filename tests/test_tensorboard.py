"""TensorBoardLogger: the curves of a tiny run land in event files; without the extra, it says so."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import brainvit_effnet as bve
from brainvit_effnet.train import TensorBoardLogger


def _data(n: int = 12) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    return TensorDataset(torch.rand(n, 3, 16, 16, generator=g), torch.arange(n) % 3)


class _Linear(nn.Module):
    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 16 * 16, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were absent
    with pytest.raises(ImportError, match=r'pip install "brainvit-effnet\[tensorboard\]"'):
        TensorBoardLogger()


def test_bad_every_n_steps_is_refused() -> None:
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    with pytest.raises(ValueError, match="every_n_steps"):
        TensorBoardLogger(every_n_steps=0)


def test_a_run_writes_step_and_epoch_curves(tmp_path: Path) -> None:
    pytest.importorskip("tensorboard", reason="the tensorboard extra is not installed")
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    config = bve.TrainConfig(epochs=2, batch_size=4, output_dir=str(tmp_path / "run"), progress=False)
    logger = TensorBoardLogger(every_n_steps=2)
    trainer = bve.Trainer(_Linear(), config, callbacks=[logger])
    trainer.fit(_data(), _data(6))
    assert logger.log_dir == tmp_path / "run" / "tensorboard" and logger.writer is None  # closed
    events = EventAccumulator(str(logger.log_dir))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"train/loss", "train/lr", "train/epoch_loss", "val/accuracy", "val/loss"} <= tags, tags
    assert [e.step for e in events.Scalars("train/loss")] == [2, 4, 6]  # 3 steps an epoch, every 2nd
    history = trainer.progress.history
    epoch_curve = events.Scalars("val/accuracy")
    assert [e.step for e in epoch_curve] == [h["step"] for h in history] == [3, 6]
    assert [e.value for e in epoch_curve] == pytest.approx([h["val_accuracy"] for h in history])
