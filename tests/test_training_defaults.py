"""Training defaults follow how the backbone starts: from scratch or from pretrained weights."""

from __future__ import annotations

import argparse
import json
import warnings
from pathlib import Path

import pytest
import torch
from torch import nn
from torch.utils.data import TensorDataset

import brainvit_effnet as bve
from brainvit_effnet.cli import build_parser
from brainvit_effnet.cli.train import experiment as _experiment
from brainvit_effnet.recipes import DEFAULT_RECIPE, RECIPES, recipe_config
from brainvit_effnet.train.config import default_backbone_lr_scale


def blobs(n: int = 12, size: int = 64) -> TensorDataset:
    g = torch.Generator().manual_seed(0)
    data = TensorDataset(torch.rand(n, 3, size, size, generator=g), torch.arange(n) % 3)
    data.targets = (torch.arange(n) % 3).tolist()  # type: ignore[attr-defined]
    return data


class NoBackbone(nn.Module):
    num_classes = 3

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3 * 64 * 64, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x.flatten(1))


def fit(model: nn.Module, tmp_path: Path, **kwargs: object) -> bve.Trainer:
    cfg = bve.TrainConfig(epochs=1, batch_size=6, lr=1e-3, output_dir=str(tmp_path / "run"), **kwargs)  # type: ignore[arg-type]
    trainer = bve.Trainer(model, cfg)
    trainer.fit(blobs())
    return trainer


def backbone_lrs(trainer: bve.Trainer) -> set[float]:
    return {round(g["lr"], 12) for g in trainer._param_groups() if g["name"].startswith("backbone")}


def test_from_scratch_the_backbone_learns_at_the_full_rate(tmp_path: Path) -> None:
    trainer = fit(bve.create_model("effnet_test", num_classes=3), tmp_path)
    assert backbone_lrs(trainer) == {1e-3}
    saved = json.loads((tmp_path / "run" / "train_config.json").read_text())
    assert saved["pretrained"] is False and saved["backbone_lr_scale"] == 1.0
    assert saved["channels_last"] is True  # the fast memory format is the default
    first = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[0])
    assert "from scratch" in first["lr_rule"]


def test_loaded_weights_are_fine_tuned_with_a_lower_backbone_rate(tmp_path: Path) -> None:
    folder = bve.save_pretrained(bve.create_model("effnet_test", num_classes=3), tmp_path / "saved")
    model = bve.create_model("effnet_test", checkpoint_path=folder)
    assert str(folder) in model.weights_source
    trainer = fit(model, tmp_path)
    assert trainer.config.pretrained is True
    assert backbone_lrs(trainer) == {1e-4}
    assert default_backbone_lr_scale(True) == 0.1 and default_backbone_lr_scale(False) == 1.0
    first = json.loads((tmp_path / "run" / "log.jsonl").read_text().splitlines()[0])
    assert "pretrained backbone" in first["lr_rule"] and str(folder) in first["lr_rule"]


def test_explicit_settings_win_over_the_rule(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test", num_classes=3)
    trainer = fit(model, tmp_path, backbone_lr_scale=0.5, channels_last=False)
    assert backbone_lrs(trainer) == {5e-4}
    assert trainer.config.channels_last is False
    trainer = fit(bve.create_model("effnet_test", num_classes=3), tmp_path / "b", pretrained=True)
    assert backbone_lrs(trainer) == {1e-4}


def test_options_that_cannot_apply_warn(tmp_path: Path) -> None:
    with pytest.warns(UserWarning, match=r"backbone_lr_scale=0.1 cannot apply: NoBackbone has no 'backbone'"):
        fit(NoBackbone(), tmp_path / "a", backbone_lr_scale=0.1)
    with pytest.warns(UserWarning, match=r"freeze_backbone_epochs=1 cannot apply"):
        fit(NoBackbone(), tmp_path / "b", freeze_backbone_epochs=1)
    with pytest.warns(UserWarning, match="not loaded from pretrained weights"):
        fit(bve.create_model("effnet_test", num_classes=3), tmp_path / "c", freeze_backbone_epochs=1)
    with warnings.catch_warnings():  # the defaults never warn, with or without a backbone
        warnings.simplefilter("error")
        fit(NoBackbone(), tmp_path / "d")
        fit(bve.create_model("effnet_test", num_classes=3), tmp_path / "e")


def parse(*argv: str) -> argparse.Namespace:
    return build_parser().parse_args(["train", *argv])


def test_cli_pretrained_flags_and_recipes() -> None:
    assert _experiment(parse("--pretrained")).pretrained is True
    assert _experiment(parse("--no-pretrained")).pretrained is False
    assert _experiment(parse()).pretrained is False  # ExperimentConfig's default: from scratch
    cfg = _experiment(parse("--recipe", DEFAULT_RECIPE, "--data", "figshare:/x", "--epochs", "3"))
    assert cfg.model == RECIPES[DEFAULT_RECIPE].config["model"] and cfg.train.epochs == 3
    assert cfg.data == "figshare:/x" and cfg.train.backbone_lr_scale == 1.0
    with pytest.raises(ValueError, match="either --recipe or --config"):
        _experiment(parse("--recipe", DEFAULT_RECIPE, "--config", "x.yaml"))
    with pytest.raises(ValueError, match="did you mean 'scratch_b0'"):
        recipe_config("scratch_b1")
    with pytest.raises(SystemExit):
        parse("--recipe", "nope")
