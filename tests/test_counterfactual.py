"""Counterfactual occlusion: hidden tumours get uniform targets, controls keep theirs, runs reproduce."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import brainvit_effnet as bve
from brainvit_effnet.errors import InvalidArgumentError
from brainvit_effnet.train import TrainConfig, Trainer
from brainvit_effnet.train.counterfactual import CounterfactualOcclusion

MEAN, STD = (0.5,), (0.25,)


def _batch(n: int = 64) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    raw = torch.zeros(n, 1, 48, 48)
    raw[:, :, 4:44, 4:44] = 0.5  # the brain
    masks = torch.zeros(n, 48, 48, dtype=torch.bool)
    masks[:, 20:26, 20:26] = True
    raw[:, 0][masks] = 1.0  # the tumour
    masks[-4:] = False  # slices without an outline are never occluded
    return (raw - MEAN[0]) / STD[0], torch.arange(n) % 3, masks


def test_hidden_tumours_get_uniform_targets_and_controls_their_label() -> None:
    torch.manual_seed(0)
    images, labels, masks = _batch()
    occlude = CounterfactualOcclusion(3, 0.25, MEAN, STD, smoothing=0.1)
    out, targets = occlude(images, labels, masks)
    black = -MEAN[0] / STD[0]
    tumour_black = (out[:, 0, 20:26, 20:26] == black).flatten(1).all(1)
    changed = (out != images).flatten(1).any(1)
    uniform = torch.isclose(targets, torch.full_like(targets, 1 / 3)).all(1)
    assert torch.equal(tumour_black, uniform)  # hidden tumour <=> uniform target
    controls = changed & ~tumour_black
    assert controls.any() and tumour_black.any()
    # A control hides as many pixels as the (dilated) tumour, none of them tumour.
    for i in torch.nonzero(controls).flatten().tolist():
        assert (out[i, 0, 20:26, 20:26] == images[i, 0, 20:26, 20:26]).all()
        assert targets[i, labels[i]] == pytest.approx(0.9 + 0.1 / 3)
    assert not changed[-4:].any()  # no mask: left alone
    assert torch.allclose(targets.sum(1), torch.ones(len(labels)))
    # About prob of the masked slices each (60 slices, prob 0.25): loose bounds, fixed seed.
    assert 5 <= int(tumour_black.sum()) <= 25 and 5 <= int(controls.sum()) <= 25


def test_occlusions_follow_torch_manual_seed() -> None:
    images, labels, masks = _batch()
    occlude = CounterfactualOcclusion(3, 0.5, MEAN, STD)
    torch.manual_seed(3)
    first = occlude(images, labels, masks)
    torch.manual_seed(3)
    again = occlude(images, labels, masks)
    assert torch.equal(first[0], again[0]) and torch.equal(first[1], again[1])


def test_bad_settings_are_refused_with_the_option_named(tmp_path: Path) -> None:
    with pytest.raises(InvalidArgumentError, match=r"counterfactual_prob must be in \[0, 0.5\]"):
        TrainConfig(counterfactual_prob=0.7)
    model = bve.create_model("effnet_test", num_classes=3)
    with pytest.raises(InvalidArgumentError, match="mixup_alpha"):
        Trainer(model, TrainConfig(counterfactual_prob=0.2, mixup_alpha=0.2, output_dir=str(tmp_path)))
    with pytest.raises(InvalidArgumentError, match="no soft-target form"):
        Trainer(model, TrainConfig(counterfactual_prob=0.2, loss="focal", output_dir=str(tmp_path)))


def test_training_without_masks_says_what_the_data_must_yield(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test", num_classes=3)
    data = [(torch.randn(3, 64, 64), i % 3) for i in range(8)]
    trainer = Trainer(
        model, TrainConfig(epochs=1, batch_size=4, counterfactual_prob=0.2, output_dir=str(tmp_path))
    )
    with pytest.raises(InvalidArgumentError, match="return_mask=True"):
        trainer.fit(data)


def test_an_experiment_trains_on_masks_and_resumes_exactly(tmp_path: Path) -> None:
    """The recipe's path: run_experiment gives the training part masks; a rerun reproduces it."""
    from brainvit_effnet.experiment import ExperimentConfig, run_experiment

    def run(out: Path) -> dict:
        cfg = ExperimentConfig.from_dict(
            {
                "model": "effnet_test",
                "data": "sample",
                "test_folds": [1],
                "val_folds": [2],
                "bootstrap": 0,
                "augment": {"rotation": 0.0, "shift": 0.0},
                "train": {"epochs": 1, "output_dir": str(out), "progress": False, "counterfactual_prob": 0.5},
            }
        )
        return run_experiment(cfg)

    first, second = run(tmp_path / "a"), run(tmp_path / "b")
    assert first["fit"]["history"][0]["train_loss"] == second["fit"]["history"][0]["train_loss"]
