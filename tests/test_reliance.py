"""tumour_reliance: hiding the tumour hurts a model that looks at it, and only that model."""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import pytest
import torch
from torch import nn

from brainvit_effnet.errors import InvalidArgumentError
from brainvit_effnet.explain import hide_region, place_control_region, tumour_reliance

MEAN, STD = (0.5, 0.5, 0.5), (0.25, 0.25, 0.25)


class BrightSpotModel(nn.Module):
    """Class 0 when the slice has a spot brighter than the brain (the 'tumour'), else class 1."""

    pretrained_cfg: ClassVar[dict[str, object]] = {
        "mean": MEAN,
        "std": STD,
        "label_names": ("tumour", "other"),
    }

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        raw = x[:, 0] * STD[0] + MEAN[0]
        has_spot = (raw > 0.9).flatten(1).any(1).float()
        return torch.stack([has_spot, 1 - has_spot], dim=1)


class ConstantModel(BrightSpotModel):
    """Always class 0: right on every 'tumour' slice without looking at anything."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.tensor([[1.0, 0.0]]).expand(len(x), 2)


def _slice(rng: np.random.Generator) -> tuple[torch.Tensor, int, torch.Tensor]:
    raw = torch.zeros(64, 64)
    raw[6:58, 6:58] = 0.5  # the brain
    top, left = (int(v) for v in rng.integers(12, 40, size=2))
    mask = torch.zeros(64, 64, dtype=torch.bool)
    mask[top : top + 6, left : left + 6] = True
    raw[mask] = 1.0  # the tumour
    image = ((raw - MEAN[0]) / STD[0]).expand(3, 64, 64).clone()
    return image, 0, mask


def _data(n: int = 12) -> list[tuple[torch.Tensor, int, torch.Tensor]]:
    rng = np.random.default_rng(1)
    return [_slice(rng) for _ in range(n)]


def test_a_model_that_looks_at_the_tumour_loses_it_and_not_the_control() -> None:
    report = tumour_reliance(BrightSpotModel(), _data())
    overall = report["overall"]
    assert overall["clean"] == 1.0
    assert overall["tumour_hidden"] == 0.0 and overall["tumour_drop"] == 1.0
    assert overall["n_control"] == 12 and overall["random_drop"] == 0.0
    # The true class's probability: softmax of (1, 0) as is and of (0, 1) with the tumour hidden.
    assert overall["p_true_clean"] == pytest.approx(0.7311, abs=1e-4)
    assert overall["p_true_tumour_hidden"] == pytest.approx(0.2689, abs=1e-4)
    assert overall["p_true_random_hidden"] == pytest.approx(overall["p_true_clean"])
    assert list(report["per_class"]) == ["tumour"]


def test_a_model_that_ignores_the_tumour_keeps_its_accuracy() -> None:
    overall = tumour_reliance(ConstantModel(), _data())["overall"]
    assert overall["clean"] == overall["tumour_hidden"] == 1.0
    assert overall["tumour_drop"] == 0.0


def test_the_report_is_reproducible_and_leaves_the_model_in_its_mode() -> None:
    model = BrightSpotModel().train()
    first = tumour_reliance(model, _data(), seed=3)
    assert model.training
    assert tumour_reliance(model, _data(), seed=3) == first


def test_hidden_region_is_black_before_normalisation() -> None:
    image, _, mask = _data(1)[0]
    black = -torch.tensor(MEAN).view(3, 1, 1) / torch.tensor(STD).view(3, 1, 1)
    hidden = hide_region(image[None], mask[None], black)[0]
    raw = hidden * STD[0] + MEAN[0]
    assert torch.all(raw[:, mask] == 0) and torch.equal(hidden[:, ~mask], image[:, ~mask])


def test_control_keeps_the_shape_stays_in_the_brain_and_off_the_tumour() -> None:
    region = np.zeros((64, 64), dtype=bool)
    region[10:14, 20:29] = True
    brain = np.zeros((64, 64), dtype=bool)
    brain[5:60, 5:60] = True
    moved = place_control_region(region, brain, region, np.random.default_rng(0))
    assert moved is not None and moved.sum() == region.sum()
    assert not (moved & region).any() and brain[moved].mean() >= 0.95
    rows, cols = np.nonzero(moved)
    assert rows.max() - rows.min() == 3 and cols.max() - cols.min() == 8  # a translation of the same box
    # No room in the brain: no control rather than one outside it.
    assert place_control_region(region, region.copy(), region, np.random.default_rng(0)) is None


def test_data_without_masks_is_refused_with_the_fix() -> None:
    with pytest.raises(InvalidArgumentError, match="return_mask=True"):
        tumour_reliance(BrightSpotModel(), [(torch.zeros(3, 64, 64), 0)] * 2)
    empty = [(torch.zeros(3, 64, 64), 0, torch.zeros(64, 64, dtype=torch.bool))]
    with pytest.raises(InvalidArgumentError, match="no slice with a non-empty tumour mask"):
        tumour_reliance(BrightSpotModel(), empty)
