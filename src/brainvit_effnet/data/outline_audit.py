"""Audit tumour outlines before they are used to score explanations: three checks per slice.

Localisation scores are only as good as the masks they are scored against. In December 2026, 15
pituitary outlines of the Figshare release's converted copy turned out to be in 256-px coordinates
on 512-px images: up and left of the tumour, so every heatmap that found the tumour scored 0 there.
:func:`audit_outlines` reports each slice whose outline

* ``box_mismatch``: disagrees with the slice's tumour box from another source (the converted
  release's ``metadata.csv`` columns ``bbox_xc, bbox_yc, bbox_w, bbox_h``, normalised): their IoU is
  under ``min_box_iou``. This is the check that catches wrongly scaled outlines;
* ``outside_brain``: lies mostly outside the head (under ``min_inside`` of the mask inside the
  convex hull of the largest region brighter than 10% of the slice's 99th percentile; the hull,
  not the region, because the skull base and sinuses around a pituitary adenoma are dark). The
  head is found with a threshold relative to the slice, not the crop's fixed grey level 45, which
  on dark slices finds only a bright part of the head;
* ``crop_cuts_tumour``: is cut by the study's brain crop, as the datasets apply it (a collapsed
  crop falls back to the whole slice and cuts nothing): the crop keeps under ``min_kept`` of the
  mask, so a cropped training slice shows only part of its tumour, or none.

The checks are our own (no library audits tumour outlines against a second source).

Examples:
    >>> findings = audit_outlines(load_heldout_sample(return_mask=True))  # doctest: +SKIP
    >>> [f.kind for f in findings]  # doctest: +SKIP
    []
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import MRIDataset
from .preprocess import _foreground_mask, _to_gray255, brain_bbox, crop_is_plausible

__all__ = ["OutlineFinding", "audit_outlines", "crop_box", "head_hull", "mask_box", "read_tumour_boxes"]

_BOX_COLUMNS = ("bbox_xc", "bbox_yc", "bbox_w", "bbox_h")


@dataclass(frozen=True)
class OutlineFinding:
    """One problem with one slice's outline.

    Attributes:
        index: The slice's release index (``N`` of ``N.mat``), or ``None``.
        source: Its file.
        kind: ``"box_mismatch"``, ``"outside_brain"`` or ``"crop_cuts_tumour"``.
        value: The measured quantity (box IoU, share inside the brain, share kept by the crop).
        detail: One sentence for a person.
    """

    index: int | None
    source: str
    kind: str
    value: float
    detail: str


def read_tumour_boxes(metadata_csv: str | Path) -> dict[int, tuple[float, float, float, float]]:
    """The tumour boxes ``(xc, yc, w, h)`` (normalised) of a converted release's ``metadata.csv``.

    Returns ``{}`` when the file has no box columns.
    """
    with Path(metadata_csv).open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    if not rows or not set(_BOX_COLUMNS) <= rows[0].keys():
        return {}
    return {int(r["index"]): tuple(float(r[c]) for c in _BOX_COLUMNS) for r in rows}  # type: ignore[misc]


def mask_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """``(top, bottom, left, right)`` of a mask's pixels (bottom/right exclusive), or ``None`` if empty."""
    rows, cols = np.nonzero(mask)
    if rows.size == 0:
        return None
    return int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1


def head_hull(image: np.ndarray) -> np.ndarray:
    """``(H, W)`` bool: the convex hull of the head, the largest region brighter than 10% of the
    slice's 99th percentile (blurred, eroded and dilated as the crop's foreground is)."""
    from scipy import ndimage
    from scipy.spatial import ConvexHull, QhullError

    gray = _to_gray255(image)
    threshold = max(1.0, 0.1 * float(np.percentile(gray, 99)))
    foreground = ndimage.binary_fill_holes(_foreground_mask(gray, threshold, 5, 2, 2))
    labels, count = ndimage.label(foreground)
    if count == 0:
        return np.zeros(image.shape, dtype=bool)
    largest = labels == 1 + int(np.argmax(np.bincount(labels.ravel())[1:]))
    edge = np.argwhere(largest & ~ndimage.binary_erosion(largest))  # the hull of the edge is the region's
    try:
        facets = ConvexHull(edge).equations  # inside: normal . p + offset <= 0 for every facet
    except QhullError:  # a degenerate (flat) region: the region itself
        return largest
    grid = np.indices(image.shape).reshape(2, -1).T.astype(np.float64)
    inside = (grid @ facets[:, :2].T + facets[:, 2] <= 1e-9).all(axis=1)
    return inside.reshape(image.shape)


def crop_box(image: np.ndarray, margin: int = 0) -> tuple[int, int, int, int] | None:
    """The study's brain crop ``(top, bottom, left, right)`` grown by ``margin`` pixels, or ``None``
    where it collapses (the datasets then keep the whole slice)."""
    height, width = image.shape
    box = brain_bbox(image)
    if not crop_is_plausible(box, (height, width)):
        return None
    top, bottom, left, right = box
    return (
        max(0, top - margin),
        min(height, bottom + margin),
        max(0, left - margin),
        min(width, right + margin),
    )


def _iou(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    """IoU of two ``(top, bottom, left, right)`` boxes."""
    h = max(0.0, min(a[1], b[1]) - max(a[0], b[0]))
    w = max(0.0, min(a[3], b[3]) - max(a[2], b[2]))
    inter = h * w
    union = (a[1] - a[0]) * (a[3] - a[2]) + (b[1] - b[0]) * (b[3] - b[2]) - inter
    return inter / union if union > 0 else 0.0


def _normalised_box(box: tuple[float, float, float, float], shape: tuple[int, int]) -> tuple[float, ...]:
    xc, yc, w, h = box
    height, width = shape
    return (yc - h / 2) * height, (yc + h / 2) * height, (xc - w / 2) * width, (xc + w / 2) * width


def audit_outlines(
    dataset: MRIDataset,
    *,
    boxes: dict[int, tuple[float, float, float, float]] | None = None,
    min_box_iou: float = 0.5,
    min_inside: float = 0.5,
    min_kept: float = 1.0,
    crop_margin: int = 0,
    indices: Iterable[int] | None = None,
) -> list[OutlineFinding]:
    """Check every slice's tumour outline; see the module docstring.

    Args:
        dataset: Any adapter; slices without a mask are skipped. Decoded without its crop or cache.
        boxes: Release index -> normalised ``(xc, yc, w, h)`` tumour box. Default: read from the
            dataset folder's ``metadata.csv`` when it has the box columns (the converted release).
        min_box_iou: Report an outline whose box has a lower IoU with the given box.
        min_inside: Report an outline with a smaller share of its mask on the head's foreground.
        min_kept: Report a slice whose brain crop keeps a smaller share of the mask (1.0: any cut).
        crop_margin: Pixels the crop is grown by on each side (0: the study's crop).
        indices: Positions in ``dataset`` to check (default: all).

    Returns:
        The findings, in dataset order (an empty list when every outline passes).
    """
    if boxes is None:
        root = getattr(dataset, "root", None)
        metadata = Path(root) / "metadata.csv" if root is not None else None
        boxes = read_tumour_boxes(metadata) if metadata is not None and metadata.is_file() else {}
    findings: list[OutlineFinding] = []
    positions = range(len(dataset.records)) if indices is None else indices
    for position in positions:
        record = dataset.records[position]
        decoded = dataset.decode_record(record)
        if decoded.mask is None or not bool(decoded.mask.any()):
            continue
        mask = decoded.mask.numpy().astype(bool)
        image = decoded.image[0].numpy()
        shape = (int(mask.shape[0]), int(mask.shape[1]))
        outline_box = mask_box(mask)
        assert outline_box is not None  # the mask is not empty

        def report(kind: str, value: float, detail: str, record=record) -> None:
            findings.append(OutlineFinding(record.index, record.source, kind, float(value), detail))

        if record.index is not None and record.index in boxes:
            expected = _normalised_box(boxes[record.index], shape)
            iou = _iou(tuple(float(v) for v in outline_box), expected)  # type: ignore[arg-type]
            if iou < min_box_iou:
                report(
                    "box_mismatch",
                    iou,
                    f"the outline's box {outline_box} overlaps the tumour box of metadata.csv "
                    f"{tuple(round(v) for v in expected)} with IoU {iou:.2f}: wrong coordinates or scale?",
                )
        inside = float(head_hull(image)[mask].mean())
        if inside < min_inside:
            report("outside_brain", inside, f"only {inside:.0%} of the tumour mask lies inside the head.")
        box = crop_box(image, crop_margin)
        if box is None:
            continue
        top, bottom, left, right = box
        kept = float(mask[top:bottom, left:right].sum() / mask.sum())
        if kept < min_kept:
            report(
                "crop_cuts_tumour",
                kept,
                f"the brain crop (rows {top}-{bottom}, columns {left}-{right}) keeps {kept:.0%} "
                f"of the tumour.",
            )
    return findings
