"""The shift benchmark's transformations: deterministic, in range, and stronger with severity."""

from __future__ import annotations

import numpy as np
import pytest

from brainvit_effnet.data.shifts import SHIFTS, apply_shift
from brainvit_effnet.errors import InvalidArgumentError


def _slice() -> np.ndarray:
    """A bright disc (the head) with texture on a black background, larger than 256 px (as raw
    slices are: the resolution shift's sides are absolute)."""
    y, x = np.mgrid[:320, :320]
    head = ((y - 160) ** 2 + (x - 160) ** 2 < 130**2).astype(np.float32)
    texture = np.random.default_rng(0).random((320, 320), dtype=np.float32)
    return head * (0.3 + 0.5 * texture)


@pytest.mark.parametrize("name", sorted(SHIFTS))
def test_every_shift_is_deterministic_and_stays_in_range(name: str) -> None:
    image = _slice()
    for severity in range(1, len(SHIFTS[name].levels) + 1):
        first = apply_shift(image, name, severity, np.random.default_rng(7))
        again = apply_shift(image, name, severity, np.random.default_rng(7))
        assert np.array_equal(first, again)
        assert first.dtype == np.float32 and first.ndim == 2
        assert first.min() >= 0.0 and first.max() <= 1.0
        assert not np.array_equal(first, image), f"{name} severity {severity} changed nothing"


@pytest.mark.parametrize("name", [n for n, s in SHIFTS.items() if s.group not in ("framing", "mirror")])
def test_higher_severity_moves_further_from_the_original(name: str) -> None:
    image = _slice()
    distance = [
        float(np.abs(apply_shift(image, name, s, np.random.default_rng(1)) - image).mean()) for s in (1, 2, 3)
    ]
    assert distance[0] < distance[1] < distance[2], distance


def test_framing_changes_the_field_of_view_not_the_content() -> None:
    image = _slice()
    assert apply_shift(image, "zoom_in", 3, np.random.default_rng()).shape == (211, 211)
    out = apply_shift(image, "zoom_out", 1, np.random.default_rng())
    assert out.shape == (384, 384) and np.isclose(out.sum(), image.sum())
    shifted = apply_shift(image, "off_centre", 2, np.random.default_rng())
    assert np.array_equal(shifted[80:, 80:], image) and shifted[:80].max() == 0
    assert np.array_equal(apply_shift(image, "mirror", 1, np.random.default_rng()), image[:, ::-1])


def test_bad_requests_are_named() -> None:
    with pytest.raises(InvalidArgumentError, match="did you mean 'gamma_up'"):
        apply_shift(_slice(), "gamma_upp", 1, np.random.default_rng())
    with pytest.raises(InvalidArgumentError, match="severities 1-1"):
        apply_shift(_slice(), "mirror", 2, np.random.default_rng())
    with pytest.raises(InvalidArgumentError, match=r"one \(H, W\) slice"):
        apply_shift(np.zeros((2, 8, 8)), "blur", 1, np.random.default_rng())
