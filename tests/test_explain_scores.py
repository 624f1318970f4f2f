"""Localisation and faithfulness scores on hand-made heatmaps, masks and toy models with known answers."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from brainvit_effnet.explain.scores import (
    _gaussian_blur,
    deletion_auc,
    energy_inside,
    insertion_auc,
    iou_at_threshold,
    mask_fraction,
    pointing_game,
)


def square_mask(size: int = 10, rows: slice = slice(2, 5), cols: slice = slice(2, 5)) -> np.ndarray:
    m = np.zeros((size, size), dtype=bool)
    m[rows, cols] = True
    return m


# -- pointing game ----------------------------------------------------------------------------------
def test_pointing_game_hit_and_miss() -> None:
    mask = square_mask()
    hit = np.zeros((10, 10))
    hit[3, 3] = 1.0
    miss = np.zeros((10, 10))
    miss[8, 8] = 1.0
    miss[3, 3] = 0.9  # high inside, but not the maximum
    out = pointing_game(np.stack([hit, miss]), np.stack([mask, mask]))
    assert out.dtype == np.float64
    assert out.tolist() == [1.0, 0.0]


def test_pointing_game_tolerance_is_euclidean_pixels() -> None:
    mask = square_mask()  # rows/cols 2..4
    heat = np.zeros((10, 10))
    heat[4, 8] = 1.0  # 4 columns right of the mask's edge (col 4)
    assert pointing_game(heat, mask, tolerance=3).tolist() == [0.0]
    assert pointing_game(heat, mask, tolerance=4).tolist() == [1.0]
    diag = np.zeros((10, 10))
    diag[7, 7] = 1.0  # (3, 3) from the corner (4, 4): distance sqrt(18) ~ 4.24
    assert pointing_game(diag, mask, tolerance=4).tolist() == [0.0]
    assert pointing_game(diag, mask, tolerance=5).tolist() == [1.0]


def test_pointing_game_ties_hit_if_any_maximum_inside() -> None:
    mask = square_mask()
    heat = np.zeros((10, 10))
    heat[9, 9] = 1.0
    heat[0, 9] = 1.0
    assert pointing_game(heat, mask).tolist() == [0.0]
    heat[2, 2] = 1.0  # a third, tied maximum inside the mask
    assert pointing_game(heat, mask).tolist() == [1.0]


def test_pointing_game_nan_for_empty_mask_and_constant_heatmap(caplog: pytest.LogCaptureFixture) -> None:
    heat = np.zeros((3, 10, 10))
    heat[0, 3, 3] = 1.0
    heat[1, 3, 3] = 1.0
    masks = np.stack([square_mask(), np.zeros((10, 10), dtype=bool), square_mask()])
    with caplog.at_level(logging.INFO, logger="brainvit_effnet.explain.scores"):
        out = pointing_game(heat, masks)
    assert out[0] == 1.0
    assert np.isnan(out[1])  # empty mask
    assert np.isnan(out[2])  # all-zero heatmap points nowhere
    assert "1 sample(s) with an empty mask and 1 with a constant heatmap" in caplog.text


def test_pointing_game_accepts_torch_and_single_sample() -> None:
    heat = torch.zeros(10, 10)
    heat[3, 4] = 2.0  # unnormalised values are fine for the pointing game
    assert pointing_game(heat, torch.from_numpy(square_mask())).tolist() == [1.0]


def test_pointing_game_resizes_heatmap_to_mask() -> None:
    heat = np.zeros((5, 5))
    heat[1, 1] = 1.0  # upsampled x2: the maximum lands around rows/cols 2..3
    assert pointing_game(heat, square_mask()).tolist() == [1.0]


@pytest.mark.parametrize("tolerance", [-1, 1.5, True])
def test_pointing_game_rejects_bad_tolerance(tolerance: object) -> None:
    with pytest.raises(ValueError, match="tolerance must be an int >= 0"):
        pointing_game(np.ones((4, 4)), np.ones((4, 4), dtype=bool), tolerance=tolerance)  # type: ignore[arg-type]


# -- energy inside and chance -----------------------------------------------------------------------
def test_energy_inside_exact_fractions() -> None:
    mask = np.zeros((4, 4), dtype=bool)
    mask[:2, :2] = True  # 4 of 16 pixels
    uniform = np.ones((4, 4))
    half = np.zeros((4, 4))
    half[0, 0] = 1.0
    half[3, 3] = 1.0
    weighted = np.zeros((4, 4))
    weighted[1, 1] = 3.0
    weighted[2, 2] = 1.0
    out = energy_inside(np.stack([uniform, half, weighted]), np.stack([mask] * 3))
    np.testing.assert_array_equal(out, [0.25, 0.5, 0.75])
    np.testing.assert_array_equal(mask_fraction(np.stack([mask] * 3)), [0.25, 0.25, 0.25])


def test_energy_inside_nan_for_zero_heatmap_and_empty_mask() -> None:
    heat = np.stack([np.zeros((4, 4)), np.ones((4, 4))])
    masks = np.stack([np.ones((4, 4), dtype=bool), np.zeros((4, 4), dtype=bool)])
    out = energy_inside(heat, masks)
    assert np.isnan(out).all()
    assert mask_fraction(masks).tolist() == [1.0, 0.0]


def test_energy_inside_rejects_negative_heatmaps() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        energy_inside(np.full((4, 4), -0.5), np.ones((4, 4), dtype=bool))


# -- IoU ----------------------------------------------------------------------------------------------
def test_iou_at_threshold_exact() -> None:
    heat = np.array([[0.0, 0.25, 0.5, 0.75, 1.0]])
    mask = np.array([[False, False, True, True, False]])
    # region >= 0.5: cols 2,3,4 -> inter 2, union 3
    assert iou_at_threshold(heat, mask, threshold=0.5).tolist() == [pytest.approx(2 / 3)]
    # region >= 0.75: cols 3,4 -> inter 1, union 3
    assert iou_at_threshold(heat, mask, threshold=0.75).tolist() == [pytest.approx(1 / 3)]
    # threshold 0 keeps everything: inter 2, union 5
    assert iou_at_threshold(heat, mask, threshold=0.0).tolist() == [pytest.approx(2 / 5)]


def test_iou_min_max_normalises_per_sample() -> None:
    mask = np.array([[False, False, True, True]])
    a = np.array([[0.0, 0.1, 0.2, 0.2]])  # normalised: 0, .5, 1, 1 -> region cols 1..3
    b = a * 40.0 + 3.0  # same after min-max
    out = iou_at_threshold(np.stack([a, b]), np.stack([mask, mask]), threshold=0.6)
    np.testing.assert_allclose(out, [1.0, 1.0])
    assert iou_at_threshold(a, mask, threshold=0.5).tolist() == [pytest.approx(2 / 3)]


def test_iou_nan_for_constant_heatmap_and_empty_mask() -> None:
    heat = np.stack([np.full((3, 3), 0.7), np.eye(3)])
    masks = np.stack([np.ones((3, 3), dtype=bool), np.zeros((3, 3), dtype=bool)])
    assert np.isnan(iou_at_threshold(heat, masks)).all()


@pytest.mark.parametrize("threshold", [-0.1, 1.5])
def test_iou_rejects_bad_threshold(threshold: float) -> None:
    with pytest.raises(ValueError, match=r"threshold must be a float in \[0, 1\]"):
        iou_at_threshold(np.eye(3), np.eye(3, dtype=bool), threshold=threshold)


# -- validation -----------------------------------------------------------------------------------------
def test_validation_messages() -> None:
    with pytest.raises(ValueError, match="same batch size"):
        energy_inside(np.ones((2, 4, 4)), np.ones((3, 4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"\(B, H, W\) or \(H, W\)"):
        energy_inside(np.ones((2, 1, 4, 4)), np.ones((2, 4, 4), dtype=bool))
    with pytest.raises(ValueError, match="NaN or infinite"):
        energy_inside(np.full((4, 4), np.nan), np.ones((4, 4), dtype=bool))
    with pytest.raises(ValueError, match="boolean"):
        energy_inside(np.ones((4, 4)), np.full((4, 4), 0.3))
    with pytest.raises(TypeError, match=r"torch\.Tensor or numpy\.ndarray"):
        energy_inside([[1.0]], np.ones((1, 1), dtype=bool))  # type: ignore[arg-type]
    # 0/1 integer masks are accepted
    assert energy_inside(np.ones((2, 2)), np.array([[1, 0], [0, 0]])).tolist() == [0.25]


# -- faithfulness ---------------------------------------------------------------------------------------
REGION = (slice(0, 4), slice(0, 4))  # the pixels the toy model looks at, in an 8x8 image


class RegionModel(nn.Module):
    """Class-0 probability is sigmoid(10 * mean(x over REGION) - 5): only REGION pixels matter."""

    def __init__(self) -> None:
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        s = 10.0 * x[:, :, REGION[0], REGION[1]].mean(dim=(1, 2, 3)) - 5.0
        return torch.stack([s, torch.zeros_like(s)], dim=1) + self.dummy


class FractionModel(nn.Module):
    """Class-0 probability equals the mean of the input (inputs in [0, 1])."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = x.mean(dim=(1, 2, 3)).clamp(1e-6, 1 - 1e-6)
        return torch.stack([m.log(), (1 - m).log()], dim=1)


class ConstantModel(nn.Module):
    def __init__(self, probs: list[float]) -> None:
        super().__init__()
        self.logits: torch.Tensor
        self.register_buffer("logits", torch.tensor(probs).log())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.logits.expand(x.shape[0], -1)


def region_heatmaps() -> tuple[torch.Tensor, torch.Tensor]:
    good = torch.zeros(8, 8)
    good[REGION] = 1.0
    bad = 1.0 - good
    return good, bad


def test_deletion_and_insertion_rank_a_faithful_heatmap_above_an_unfaithful_one() -> None:
    model = RegionModel()
    images = torch.ones(2, 1, 8, 8)
    good, bad = region_heatmaps()
    heat = torch.stack([good, bad])
    dele = deletion_auc(model, images, heat, targets=0, steps=16, baseline="zero")
    ins = insertion_auc(model, images, heat, targets=0, steps=16, baseline="zero")
    assert dele[0] < 0.2 < 0.7 < dele[1]
    assert ins[0] > 0.7 > 0.2 > ins[1]
    # the region is 16 of 64 pixels: removing it first kills the prediction by fraction 0.25
    _, curves = deletion_auc(model, images, heat, targets=0, steps=16, baseline="zero", return_curves=True)
    assert curves.shape == (2, 17)
    assert curves[0, 4] < 0.01 and curves[1, 4] > 0.99
    assert curves[0, 0] == pytest.approx(torch.sigmoid(torch.tensor(5.0)).item())


def test_auc_of_a_fraction_model_is_exact() -> None:
    images = torch.ones(1, 1, 4, 4)
    heat = torch.rand(1, 4, 4)
    auc, curves = deletion_auc(
        FractionModel(), images, heat, [0], steps=4, baseline="zero", return_curves=True
    )
    np.testing.assert_allclose(curves[0], [1.0, 0.75, 0.5, 0.25, 0.0], atol=1e-5)
    assert auc[0] == pytest.approx(0.5, abs=1e-5)
    auc, curves = insertion_auc(
        FractionModel(), images, heat, [0], steps=4, baseline="zero", return_curves=True
    )
    np.testing.assert_allclose(curves[0], [0.0, 0.25, 0.5, 0.75, 1.0], atol=1e-5)


@pytest.mark.parametrize("baseline", ["blur", "zero", "mean"])
@pytest.mark.parametrize("fn", [deletion_auc, insertion_auc])
def test_constant_probability_model_auc_equals_that_probability(
    baseline: str, fn: Callable[..., Any]
) -> None:
    model = ConstantModel([0.2, 0.3, 0.5])
    images = torch.rand(3, 3, 12, 12)
    auc = fn(
        model, images, torch.rand(3, 12, 12), targets=torch.tensor([2, 0, 1]), steps=5, baseline=baseline
    )
    np.testing.assert_allclose(auc, [0.5, 0.2, 0.3], atol=1e-6)


def test_batching_and_heatmap_resizing_do_not_change_results() -> None:
    model = RegionModel()
    images = torch.rand(3, 1, 8, 8)
    heat = torch.rand(3, 8, 8)
    a = deletion_auc(model, images, heat, targets=[0, 1, 0], steps=7, baseline="blur", batch_size=1)
    b = deletion_auc(model, images, heat, targets=[0, 1, 0], steps=7, baseline="blur", batch_size=100)
    np.testing.assert_allclose(a, b, atol=1e-6)
    small = torch.zeros(3, 4, 4)
    small[:, :2, :2] = 1.0  # upsampled to the 8x8 REGION
    good = torch.zeros(3, 8, 8)
    good[:, :4, :4] = 1.0
    ones = torch.ones(3, 1, 8, 8)
    np.testing.assert_allclose(
        insertion_auc(model, ones, small, 0, steps=8, baseline="zero"),
        insertion_auc(model, ones, good, 0, steps=8, baseline="zero"),
        atol=1e-6,
    )


def test_ties_are_broken_stably_in_row_major_order() -> None:
    # all-equal heatmap: deletion removes pixels in row-major order, so the first half hits REGION's rows
    model = RegionModel()
    images = torch.ones(1, 1, 8, 8)
    _, curves = deletion_auc(
        model, images, torch.zeros(1, 8, 8), 0, steps=2, baseline="zero", return_curves=True
    )
    # half = rows 0..3, which contains all of REGION
    assert curves[0, 1] < 0.01


def test_model_mode_is_restored_and_no_grad() -> None:
    model = RegionModel().train()
    deletion_auc(model, torch.ones(1, 1, 8, 8), torch.rand(1, 8, 8), 0, steps=2)
    assert model.training
    assert model.dummy.grad is None


def test_blur_baseline_is_a_heavy_smooth_blur() -> None:
    const = torch.full((1, 2, 16, 16), 0.3)
    torch.testing.assert_close(_gaussian_blur(const, 4.0), const)
    spike = torch.zeros(1, 1, 33, 33)
    spike[0, 0, 16, 16] = 1.0
    out = _gaussian_blur(spike, 3.0)
    assert out.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert out.max().item() < 0.02  # spread over ~2 pi sigma^2 pixels
    assert out[0, 0, 16, 19].item() == pytest.approx(out[0, 0, 19, 16].item())  # isotropic


def test_faithfulness_validation() -> None:
    model = RegionModel()
    x = torch.ones(2, 1, 8, 8)
    h = torch.rand(2, 8, 8)
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        deletion_auc(model, x[0], h, 0)
    with pytest.raises(ValueError, match="one map per image"):
        deletion_auc(model, x, h[:1], 0)
    with pytest.raises(ValueError, match="integer class indices"):
        deletion_auc(model, x, h, [0.5, 1.0])  # type: ignore[list-item]
    with pytest.raises(ValueError, match="< num_classes"):
        deletion_auc(model, x, h, [0, 2])
    with pytest.raises(ValueError, match="baseline must be one of"):
        deletion_auc(model, x, h, 0, baseline="noise")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="steps must be an int >= 1"):
        insertion_auc(model, x, h, 0, steps=0)
    with pytest.raises(ValueError, match="logits of shape"):
        insertion_auc(nn.Identity(), x, h, 0)
    with pytest.raises(TypeError, match=r"torch\.nn\.Module"):
        insertion_auc(lambda t: t, x, h, 0)  # type: ignore[call-overload]


def test_custom_baseline_tensor() -> None:
    model = FractionModel()
    x = torch.ones(1, 1, 4, 4)
    auc = deletion_auc(model, x, torch.rand(1, 4, 4), 0, steps=4, baseline=torch.full((1, 4, 4), 0.5))
    assert auc[0] == pytest.approx(0.75, abs=1e-5)


def test_deletion_and_insertion_keep_their_own_documented_signature() -> None:
    """The shared typing Protocol changes nothing at run time: plain functions, same parameters, own docs."""
    import inspect

    for fn in (deletion_auc, insertion_auc):
        assert inspect.isfunction(fn)
        assert fn.__doc__ and "Petsiuk" in fn.__doc__
    params = inspect.signature(deletion_auc).parameters
    assert list(params) == list(inspect.signature(insertion_auc).parameters)
    assert list(params)[:7] == ["model", "images", "heatmaps", "targets", "steps", "baseline", "batch_size"]
    assert params["return_curves"].kind is inspect.Parameter.KEYWORD_ONLY
    assert params["return_curves"].default is False
