"""audit_outlines: wrongly scaled outlines, outlines off the head, and crops that cut the tumour."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainvit_effnet.data import FigshareDataset
from brainvit_effnet.data.outline_audit import audit_outlines, crop_box, head_hull

FIGSHARE = Path(__file__).resolve().parents[2] / "shared" / "data" / "figshare"


def _head() -> np.ndarray:
    y, x = np.mgrid[:128, :128]
    return np.where((y - 64) ** 2 + (x - 64) ** 2 < 50**2, 150, 0).astype(np.uint8)


def _release(
    tmp_path: Path, outlines: dict[int, list[list[float]]], boxes: dict[int, tuple[float, ...]]
) -> Path:
    """A converted release: 128-px slices of one bright head, outlines and metadata tumour boxes."""
    (tmp_path / "images").mkdir(parents=True)
    rows = []
    for index in outlines:
        Image.fromarray(_head()).save(tmp_path / "images" / f"{index}.png")
        xc, yc, w, h = boxes[index]
        row = {"index": index, "label": 3, "class_name": "pituitary", "cv_fold": 1}
        rows.append(
            {**row, "image": f"images/{index}.png", "bbox_xc": xc, "bbox_yc": yc, "bbox_w": w, "bbox_h": h}
        )
    with (tmp_path / "metadata.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    with (tmp_path / "tumor_borders.csv").open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=["index", "tumor_border_xy"])
        writer.writeheader()
        writer.writerows({"index": i, "tumor_border_xy": json.dumps(o)} for i, o in outlines.items())
    return tmp_path


def _square(left: float, top: float, side: float) -> list[list[float]]:
    return [[left, top], [left + side, top], [left + side, top + side], [left, top + side]]


def test_an_outline_left_at_half_scale_is_reported_and_a_right_one_is_not(tmp_path: Path) -> None:
    # The tumour is a 16-px square at (80, 72); slice 2's outline was left at half scale, as the
    # 15 Figshare outlines of 256-px originals were.
    box = ((80 + 8) / 128, (72 + 8) / 128, 16 / 128, 16 / 128)
    outlines = {1: _square(80, 72, 16), 2: _square(40, 36, 8)}
    data = FigshareDataset(_release(tmp_path, outlines, {1: box, 2: box}), crop=False)
    findings = audit_outlines(data)
    assert [(f.index, f.kind) for f in findings] == [(2, "box_mismatch")]
    assert findings[0].value == 0.0 and "IoU 0.00" in findings[0].detail


def test_an_outline_off_the_head_and_a_crop_that_cuts_it_are_reported(tmp_path: Path) -> None:
    outlines = {1: _square(2, 2, 10)}  # in the black corner, outside the head
    data = FigshareDataset(_release(tmp_path, outlines, {1: (0.05, 0.05, 0.08, 0.08)}), crop=False)
    kinds = {f.kind: f.value for f in audit_outlines(data)}
    assert set(kinds) == {"outside_brain", "crop_cuts_tumour"}
    assert kinds["outside_brain"] == 0.0 and kinds["crop_cuts_tumour"] == 0.0
    # A margin large enough to reach the corner keeps part of it.
    kept = {f.kind: f.value for f in audit_outlines(data, crop_margin=6)}["crop_cuts_tumour"]
    assert 0 < kept < 1


def test_head_hull_and_crop_box_of_a_disc() -> None:
    image = _head().astype(np.float32) / 255
    hull = head_hull(image)
    assert hull[64, 64] and not hull[2, 2]
    top, bottom, left, right = crop_box(image)
    assert (top, left) < (20, 20) and (bottom, right) > (108, 108)
    assert crop_box(image, margin=1000) == (0, 128, 0, 128)


@pytest.mark.skipif(not FIGSHARE.is_dir(), reason="the Figshare release (../shared/data/figshare) is absent")
def test_the_corrected_release_outlines_agree_with_their_boxes() -> None:
    """The 15 outlines corrected on 2026-12-07 (pituitary, fold 1) now pass the box check."""
    data = FigshareDataset(FIGSHARE, folds=[1], crop=False)
    fixed = [
        i
        for i, r in enumerate(data.records)
        if r.index in (955, 956, 957, *range(1070, 1077), *range(1203, 1208))
    ]
    assert len(fixed) == 15
    assert [f for f in audit_outlines(data, indices=fixed) if f.kind == "box_mismatch"] == []
