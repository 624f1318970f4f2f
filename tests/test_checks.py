"""The scalar predicates every argument check uses: bools are not numbers, numpy scalars are."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest

from brainvit_effnet import losses
from brainvit_effnet._checks import is_int, is_real


@pytest.mark.parametrize("value", [0, 3, -2, np.int64(4), np.uint8(1)])
def test_integers(value: object) -> None:
    assert is_int(value) and is_real(value)


@pytest.mark.parametrize("value", [True, False, np.bool_(True), 1.0, "1", None, [1]])
def test_not_integers(value: object) -> None:
    assert not is_int(value)


@pytest.mark.parametrize("value", [0.5, float("nan"), np.float32(0.1), np.float64(2), Fraction(1, 3)])
def test_reals(value: object) -> None:
    assert is_real(value) and not is_int(value)


@pytest.mark.parametrize("value", [True, np.bool_(False), "0.5", None, 1j])
def test_not_reals(value: object) -> None:
    assert not is_real(value)


def test_callers_still_refuse_bools_with_their_own_message() -> None:
    with pytest.raises(TypeError, match="gamma must be a real number"):
        losses.FocalLoss(gamma=True)
    with pytest.raises(TypeError, match="smoothing must be a real number"):
        losses.LabelSmoothingCrossEntropy(smoothing=False)
    assert losses.FocalLoss(gamma=np.float32(1.5)).gamma == 1.5  # numpy scalars count as numbers


def test_check_choice_names_the_argument_and_suggests() -> None:
    from brainvit_effnet._checks import check_choice

    assert check_choice("max", ("mean", "max"), "head_fusion") == "max"
    with pytest.raises(
        ValueError, match=r"head_fusion must be one of \('mean', 'max'\); got 'maxx'\..*'max'"
    ):
        check_choice("maxx", ("mean", "max"), "head_fusion")
    with pytest.raises(ValueError, match=r"reduction must be one of \['mean'\] \(a note\); got 3\.$"):
        check_choice(3, ["mean"], "reduction", " (a note)")
