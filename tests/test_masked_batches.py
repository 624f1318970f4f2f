"""Scores against tumour masks read the masked slices only, and stop reading at their limit."""

from __future__ import annotations

import pytest
import torch

import brainvit_effnet as bve
from brainvit_effnet.errors import InvalidArgumentError
from brainvit_effnet.explain import score_explanations, tumour_reliance
from brainvit_effnet.explain._masked import masked_batches


class CountingSlices(torch.utils.data.Dataset):
    """``n`` slices, every third without a tumour mask; counts how many were read."""

    def __init__(self, n: int = 24) -> None:
        self.n, self.reads = n, 0

    def __len__(self) -> int:
        return self.n

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, torch.Tensor]:
        self.reads += 1
        mask = torch.zeros(32, 32, dtype=torch.bool)
        if i % 3:
            mask[8:16, 8:16] = True
        return torch.full((3, 32, 32), float(i)), i % 3, mask


def test_only_masked_slices_up_to_the_limit_are_yielded_in_order() -> None:
    data = CountingSlices()
    out = list(masked_batches(data, batch_size=4, limit=5, needed_by="test", progress=False, desc="test"))
    firsts = [int(v) for images, _, _ in out for v in images[:, 0, 0, 0]]
    assert firsts == [1, 2, 4, 5, 7]  # 0, 3, 6 have no mask
    assert all(masks.dtype == torch.bool and masks.flatten(1).any(1).all() for _, _, masks in out)
    assert data.reads == 8  # two batches: reading stops at the limit


@pytest.mark.parametrize("score", ["explanations", "reliance"])
def test_a_limit_stops_reading_the_data(score: str) -> None:
    model = bve.create_model("effnet_test", num_classes=3).eval()
    data = CountingSlices()
    if score == "explanations":
        report = score_explanations(model, data, methods=("gradcam",), limit=5, batch_size=4)
    else:
        report = tumour_reliance(model, data, limit=5, batch_size=4)
    assert report["n"] == 5 and data.reads == 8  # not a third batch to find out the limit is reached


def test_data_without_masks_names_the_caller_and_the_fix() -> None:
    with pytest.raises(InvalidArgumentError, match=r"score_explanations needs .*return_mask=True"):
        score_explanations(bve.create_model("effnet_test", num_classes=3), [(torch.zeros(3, 32, 32), 0)])
