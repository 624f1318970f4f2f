"""Br35H ("Br35H :: Brain Tumor Detection 2020", Kaggle): tumour or no tumour, in both its layouts.

* **Classification**: ``yes/`` (tumour) and ``no/`` (no tumour) class folders; the release's
  ``pred/`` folder holds unlabelled images and is ignored.
* **Detection** (the YOLO layout): split folders (``traindata/``, ``valdata/``, ``testdata/``, or
  ``train/``...) that hold the images themselves, named ``y<N>.jpg`` (tumour) or ``no<N>.jpg`` (no
  tumour), each with a YOLO box file beside it: ``y<N>.txt``, one ``class x_centre y_centre width
  height`` line per box, in fractions of the image's width and height. YOLO's own arrangement,
  ``<split>/images/y<N>.jpg`` with ``<split>/labels/y<N>.txt``, reads the same way.

The class comes from the folder (classification) or from the release's file-name convention
(detection); a name that follows neither is an error that names the file, never a guess. Boxes,
where there are any, become the slice's tumour mask (the union of its boxes), so localisation
scores (pointing game, energy inside) can be measured against them as against Figshare's outlines.
A box is coarser than an outline: it holds tissue around the tumour too, so the same heatmap scores
higher against boxes.

Examples:
    >>> from brainvit_effnet.data import Br35HDataset
    >>> data = Br35HDataset("br35h", return_mask=True)  # doctest: +SKIP
    >>> data.classes  # doctest: +SKIP
    ['no_tumor', 'tumor']
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import torch

from ..errors import InvalidArgumentError
from .base import Decoded, SampleRecord
from .folders import IMAGE_EXTENSIONS, FolderDataset, holds_images, is_split_name
from .images import read_unit

__all__ = ["Br35HDataset", "read_yolo_boxes"]

#: The detection layout's file names: ``y12.jpg`` a tumour, ``no7.jpg`` none.
_NAMED = re.compile(r"(?i)(?P<prefix>no|y)[ _-]?\(?\d+\)?")
_PREFIX_CLASS = {"no": "no_tumor", "y": "tumor"}
_IMAGE_SUFFIXES_ANY_CASE = tuple(dict.fromkeys(s for e in IMAGE_EXTENSIONS for s in (e, e.upper())))
#: How far outside [0, 1] a box coordinate may stray (rounding in the tools that write them).
_BOX_ATOL = 1e-3


def read_yolo_boxes(path: str | Path) -> np.ndarray:
    """The boxes of a YOLO label file as ``(K, 4)`` ``x0, y0, x1, y1`` fractions of the image.

    Each line is ``class x_centre y_centre width height`` (fractions of the image's width and
    height); blank lines are allowed, and an empty file means no box.

    Raises:
        ValueError: a line that is not five numbers, a class that is not a whole number, a
            coordinate outside ``[0, 1]`` or a box without area, naming the file and the line.
    """
    boxes = []
    text = Path(path).read_text(encoding="utf-8-sig", errors="replace")  # Windows tools write a BOM
    for number, line in enumerate(text.splitlines(), 1):
        fields = line.split()
        if not fields:
            continue
        where = f"{path}, line {number}"
        try:
            cls, xc, yc, w, h = (float(f) for f in fields)
        except ValueError:
            raise InvalidArgumentError(
                f"{where}: {line.strip()!r} is not a YOLO box (class x_centre y_centre width height); "
                f"fix or remove the line."
            ) from None
        values = np.array([xc, yc, w, h])
        if not cls.is_integer() or cls < 0:
            raise InvalidArgumentError(f"{where}: the class {fields[0]!r} is not a whole number >= 0.")
        if not np.isfinite(values).all() or (values < -_BOX_ATOL).any() or (values > 1 + _BOX_ATOL).any():
            raise InvalidArgumentError(
                f"{where}: coordinates must be fractions of the image in [0, 1]; got {fields[1:]}. "
                f"Pixel boxes need converting to YOLO's normalised form."
            )
        if w <= 0 or h <= 0:
            raise InvalidArgumentError(f"{where}: a box of width {w} and height {h} has no area.")
        boxes.append([xc - w / 2, yc - h / 2, xc + w / 2, yc + h / 2])
    return np.clip(np.array(boxes, dtype=np.float64).reshape(-1, 4), 0.0, 1.0)


def _box_mask(boxes: np.ndarray, height: int, width: int) -> torch.Tensor:
    """The union of ``boxes`` (fractions) as an ``(H, W)`` bool mask; a box covers at least a pixel."""
    mask = torch.zeros(height, width, dtype=torch.bool)
    for x0, y0, x1, y1 in boxes:
        r0, c0 = int(np.floor(y0 * height)), int(np.floor(x0 * width))
        r1, c1 = max(int(np.ceil(y1 * height)), r0 + 1), max(int(np.ceil(x1 * width)), c0 + 1)
        mask[r0:r1, c0:c1] = True
    return mask


def _box_file(image: Path) -> Path | None:
    """The YOLO box file of ``image``: beside it, or in ``labels/`` beside its ``images/`` folder."""
    candidates = [image.with_suffix(".txt")]
    if image.parent.name == "images":
        candidates.append(image.parent.parent / "labels" / f"{image.stem}.txt")
    return next((c for c in candidates if c.is_file()), None)


class Br35HDataset(FolderDataset):
    """Br35H in either layout; classes ``no_tumor`` and ``tumor``; YOLO boxes become masks.

    Takes the arguments of :class:`~brainvit_effnet.data.folders.FolderDataset`. ``return_mask=True``
    yields the union of an image's boxes as its mask (all false for an image without boxes).

    Raises:
        ValueError: besides FolderDataset's: (strict) an image of the detection layout whose name
            says no class, a box file that is not YOLO, or boxes on an image named as tumour-free.
    """

    expected_folders = frozenset({"yes", "no"})
    ignored_folders = frozenset({"pred"})
    release = "Br35H release"

    def _scan(self, split_dirs: list[tuple[str | None, Path]]) -> list[SampleRecord]:
        self._boxes: dict[str, np.ndarray] = {}  # source -> its YOLO boxes, for the masks
        return super()._scan(split_dirs)

    def _is_split(self, folder: Path) -> bool:
        # The detection layout's split folders hold the images themselves.
        return is_split_name(folder.name)

    def _scan_folder(self, folder: Path, split: str | None) -> list[SampleRecord]:
        if (folder / "images").is_dir():  # YOLO's own layout: images/ and labels/ side by side
            return self._scan_folder(folder / "images", split)
        if not holds_images(folder):
            return super()._scan_folder(folder, split)
        # The detection layout: images straight in the folder, their class in their names.
        records = []
        for path in self._images_in(folder, recursive=False):
            match = _NAMED.fullmatch(path.stem)
            if match is None:
                self._bad(
                    str(path),
                    f"{path}: not named as Br35H names its images (y<N> for a tumour, no<N> for none), "
                    f"so its class is unknown. Rename it, or sort the images into yes/ and no/ folders.",
                )
                continue
            records += self._records_of(path, _PREFIX_CLASS[match["prefix"].lower()], split)
        return records

    def _is_side_car(self, path: Path) -> bool:
        # A few stat calls per .txt, not a scan of its folder: a release folder holds thousands.
        return path.suffix.lower() == ".txt" and any(
            path.with_suffix(suffix).is_file() for suffix in _IMAGE_SUFFIXES_ANY_CASE
        )

    def _records_of(self, path: Path, class_name: str, split: str | None) -> list[SampleRecord]:
        """The image's record, with its boxes read; refused when the boxes contradict its class."""
        side_car = _box_file(path)
        if side_car is not None:
            try:
                boxes = read_yolo_boxes(side_car)
            except ValueError as e:
                self._bad(str(path), str(e))
                return []
            if class_name == "no_tumor" and len(boxes):
                self._bad(
                    str(path),
                    f"{path}: filed as no tumour, but {side_car.name} marks {len(boxes)} tumour box(es): "
                    f"the labels disagree. Fix the name or folder, or the box file.",
                )
                return []
            self._boxes[str(path)] = boxes
        return super()._records_of(path, class_name, split)

    def decode_record(self, record: SampleRecord) -> Decoded:
        """Greyscale image in ``[0, 1]``, and the union of its boxes as the mask when it has a box file."""
        image = torch.from_numpy(read_unit(record.source))[None]
        boxes = self._boxes.get(record.source)
        if boxes is None:
            return Decoded(image)
        return Decoded(image, _box_mask(boxes, *image.shape[-2:]))
