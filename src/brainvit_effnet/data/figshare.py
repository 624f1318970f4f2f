"""The Figshare brain-tumour dataset (Cheng et al.): 3064 T1-weighted CE slices, 233 patients, 3 classes.

Three layouts are read, detected from the folder's content:

* ``mat``: the release's ``1.mat`` ... ``3064.mat`` in one folder (plus ``cvind.mat`` for folds);
* ``zip``: the four ``brainTumorDataPublic_*.zip`` parts as downloaded, read without unzipping;
* ``converted``: ``metadata.csv`` + ``images/N.jpg`` (+ ``tumor_borders.csv``, ``cvind5fold.mat``),
  the layout of the converted copy and of the sample bundled with this package.

Examples:
    >>> from brainvit_effnet.data import FigshareDataset
    >>> train = FigshareDataset("brain_tumor_dataset", folds=[1, 2, 3])  # doctest: +SKIP
    >>> test = FigshareDataset("brain_tumor_dataset", folds=[5])  # doctest: +SKIP
"""

from __future__ import annotations

import csv
import io
import json
import os
import re
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..errors import InvalidArgumentError, MissingFileError
from ..labels import TUMOUR_TYPE_CLASSES
from .base import BadFiles, Decoded, MRIDataset, SampleRecord, dataset_folder
from .images import read_grey
from .mat import FIGSHARE_LABELS, MatFormatError, fill_border, read_cjdata, read_cjdata_header, read_fold_ids
from .preprocess import to_unit_float

__all__ = ["FIGSHARE_ZIP_PARTS", "FigshareDataset"]


#: The four parts of the release, as named on figshare.
FIGSHARE_ZIP_PARTS = (
    "brainTumorDataPublic_1-766.zip",
    "brainTumorDataPublic_767-1532.zip",
    "brainTumorDataPublic_1533-2298.zip",
    "brainTumorDataPublic_2299-3064.zip",
)
_SLICE = re.compile(r"^(\d+)\.mat$")
_FOLD_FILES = ("cvind.mat", "cvind5fold.mat")
#: The release's patient-disjoint cross-validation folds.
_OFFICIAL_FOLDS = (1, 2, 3, 4, 5)
_IGNORED = re.compile(r"^(readme.*|cvind.*\.mat|brainTumorDataPublic_.*\.zip|label\.mat)$", re.IGNORECASE)


class _ZipReader:
    """Per-process zip handles (a ZipFile cannot be shared across forked DataLoader workers)."""

    def __init__(self) -> None:
        self._pid = -1
        self._open: dict[str, zipfile.ZipFile] = {}

    def open(self, archive: str) -> zipfile.ZipFile:
        if self._pid != os.getpid():
            self._pid, self._open = os.getpid(), {}
        if archive not in self._open:
            self._open[archive] = zipfile.ZipFile(archive)
        return self._open[archive]

    def __getstate__(self) -> dict[str, Any]:
        return {"_pid": -1, "_open": {}}


class FigshareDataset(MRIDataset):
    """The Figshare release, as downloaded or converted; yields ``(image, label)``.

    Classes are ``("glioma", "meningioma", "pituitary")`` (release codes 2, 1, 3), or the subset
    given as ``classes``. Every record carries the patient id (``.mat`` layouts), the official
    patient-disjoint fold and the release index; :meth:`decode` also gives the tumour mask and
    border, the mask filled from the border where the layout has no mask.

    Args:
        root: Folder in one of the layouts of the module docstring.
        folds: Keep only these official folds (1-5), e.g. ``[1, 2, 3]`` for training. Folds are
            patient-disjoint, so datasets built from disjoint fold lists never share a patient.
        classes: Class subset and order (default: all three).
        transform: See :class:`~brainvit_effnet.data.base.MRIDataset`.
        crop: Crop to the brain (the study's preprocessing).
        return_mask: Yield ``(image, label, mask)``.
        cache: Keep decoded slices in memory.
        strict: Raise on unreadable files or stray files (default); ``False`` skips them with one
            warning giving their count.

    Raises:
        FileNotFoundError: no known layout, or a zip part missing.
        ValueError: stray or unreadable files (strict), labels outside the release's codes, a fold
            requested without fold information.
    """

    def __init__(
        self,
        root: str | os.PathLike[str],
        folds: Sequence[int] | None = None,
        *,
        classes: Sequence[str] = TUMOUR_TYPE_CLASSES,
        transform: Callable[..., Any] | None = None,
        crop: bool = True,
        return_mask: bool = False,
        cache: bool = False,
        strict: bool = True,
    ) -> None:
        self.root = dataset_folder(root, "Figshare folder")
        unknown = [c for c in classes if c not in FIGSHARE_LABELS.values()]
        if unknown or not classes:
            raise InvalidArgumentError(
                f"classes {list(classes)} must be a non-empty subset of {list(TUMOUR_TYPE_CLASSES)}."
            )
        self._bad = BadFiles(strict, self.root)
        self.skipped = self._bad.skipped
        self._zips = _ZipReader()
        self._borders: dict[int, np.ndarray] = {}
        self.layout, records = self._scan()
        _check_each_slice_once(records)
        self._check_fold_info(records, folds)
        records = [r for r in records if r.class_name in classes and (folds is None or r.fold in folds)]
        records = [_relabel(r, classes) for r in records]
        self._bad.warn()
        super().__init__(
            records, classes, transform=transform, crop=crop, return_mask=return_mask, cache=cache
        )

    # -- scanning ---------------------------------------------------------------------------------
    def _scan(self) -> tuple[str, list[SampleRecord]]:
        names = sorted(p.name for p in self.root.iterdir())
        if "metadata.csv" in names:
            return "converted", self._scan_converted()
        if any(n.startswith("brainTumorDataPublic_") and n.endswith(".zip") for n in names):
            return "zip", self._scan_zips(names)
        if any(_SLICE.match(n) for n in names):
            return "mat", self._scan_mat_folder(names)
        raise MissingFileError(
            f"{self.root} holds no Figshare layout: expected 1.mat ... 3064.mat, the four "
            f"brainTumorDataPublic_*.zip parts, or metadata.csv with images/ (the converted layout)."
        )

    def _folds_by_index(self) -> np.ndarray | None:
        for name in _FOLD_FILES:
            if (self.root / name).is_file():
                return read_fold_ids(self.root / name)
        return None

    def _fold_of(self, folds: np.ndarray | None, index: int, name: str) -> int | None:
        if folds is None:
            return None
        if not 1 <= index <= len(folds):
            raise InvalidArgumentError(
                f"{name}: release index {index} is outside the fold file's 1..{len(folds)}."
            )
        fold = int(folds[index - 1])
        if fold not in _OFFICIAL_FOLDS:
            raise InvalidArgumentError(
                f"{name}: the fold file gives slice {index} fold {fold}, not an official fold "
                f"({_OFFICIAL_FOLDS[0]}-{_OFFICIAL_FOLDS[-1]}); use the release's cvind.mat."
            )
        return fold

    def _scan_mat_folder(self, names: list[str]) -> list[SampleRecord]:
        folds = self._folds_by_index()
        records = []
        for name in names:
            path = self.root / name
            match = _SLICE.match(name)
            if not match:
                if not _IGNORED.match(name) and not path.is_dir():
                    self._bad(
                        str(path), f"{path}: stray file in a Figshare .mat folder (expected N.mat slices)."
                    )
                continue
            try:
                code, pid = read_cjdata_header(path)
            except (MatFormatError, OSError) as e:
                self._bad(str(path), str(e))
                continue
            index = int(match.group(1))
            records.append(_record(str(path), code, pid, self._fold_of(folds, index, str(path)), index))
        return sorted(records, key=lambda r: r.index or 0)

    def _scan_zips(self, names: list[str]) -> list[SampleRecord]:
        missing = [p for p in FIGSHARE_ZIP_PARTS if p not in names]
        if missing:
            raise MissingFileError(
                f"{self.root}: zip part(s) {missing} of the release are missing (found "
                f"{[n for n in names if n.endswith('.zip')]}). Download all four parts into this folder."
            )
        folds = self._folds_by_index()
        records = []
        for part in FIGSHARE_ZIP_PARTS:
            archive = str(self.root / part)
            try:
                members = self._zips.open(archive).namelist()
            except zipfile.BadZipFile as e:
                raise InvalidArgumentError(
                    f"{archive} is not a readable zip ({e}); download it again."
                ) from e
            for member in members:
                match = _SLICE.match(Path(member).name)
                if member.endswith("/") or not match:
                    continue
                source = f"{archive}::{member}"
                try:
                    with self._zips.open(archive).open(member) as fh:
                        code, pid = read_cjdata_header(_seekable(fh), name=source)
                except (MatFormatError, OSError, zipfile.BadZipFile) as e:
                    self._bad(source, str(e))
                    continue
                index = int(match.group(1))
                records.append(_record(source, code, pid, self._fold_of(folds, index, source), index))
        return sorted(records, key=lambda r: r.index or 0)

    def _scan_converted(self) -> list[SampleRecord]:
        metadata = self.root / "metadata.csv"
        rows = list(csv.DictReader(metadata.read_text(encoding="utf-8").splitlines()))
        required = {"index", "label", "image"}
        if not rows or not required <= rows[0].keys():
            raise InvalidArgumentError(
                f"{metadata} must have columns {sorted(required)} (and cv_fold); "
                f"got {list(rows[0]) if rows else 'no rows'}."
            )
        fold_file = next((self.root / n for n in _FOLD_FILES if (self.root / n).is_file()), None)
        folds = read_fold_ids(fold_file) if fold_file is not None else None
        records = []
        root = self.root.resolve()
        for line, row in enumerate(rows, start=2):
            index, code = _int(row["index"], metadata, line), _int(row["label"], metadata, line)
            if code not in FIGSHARE_LABELS:
                raise InvalidArgumentError(
                    f"{metadata} line {line}: label {row['label']} is outside the release's codes "
                    f"{sorted(FIGSHARE_LABELS)} (1 meningioma, 2 glioma, 3 pituitary)."
                )
            name = row.get("class_name")
            if name and name != FIGSHARE_LABELS[code]:
                raise InvalidArgumentError(
                    f"{metadata} line {line}: class_name {name!r} contradicts label {code} "
                    f"({FIGSHARE_LABELS[code]!r}); fix the file rather than guess which is right."
                )
            fold = (
                _int(row["cv_fold"], metadata, line)
                if row.get("cv_fold")
                else self._fold_of(folds, index, str(metadata))
            )
            if fold is not None and fold not in _OFFICIAL_FOLDS:
                raise InvalidArgumentError(
                    f"{metadata} line {line}: cv_fold {fold} is not an official fold "
                    f"({_OFFICIAL_FOLDS[0]}-{_OFFICIAL_FOLDS[-1]}); fix the file."
                )
            image = self.root / row["image"]
            if Path(row["image"]).is_absolute() or not image.resolve().is_relative_to(root):
                raise InvalidArgumentError(
                    f"{metadata} line {line}: image {row['image']!r} is outside the dataset folder "
                    f"{self.root}; paths in metadata.csv are relative to it and stay inside it (no '../', "
                    f"no absolute paths)."
                )
            records.append(_record(str(image), code, None, fold, index))
        borders = self.root / "tumor_borders.csv"
        if borders.is_file():
            for line, row in enumerate(
                csv.DictReader(borders.read_text(encoding="utf-8").splitlines()), start=2
            ):
                index = _int(row["index"], borders, line)
                if index in self._borders:  # the later row would silently give a slice another's mask
                    raise InvalidArgumentError(
                        f"{borders} line {line}: slice {index} has a second outline; each slice has one. "
                        f"Fix the file."
                    )
                self._borders[index] = np.asarray(json.loads(row["tumor_border_xy"]), dtype=np.float64)
        return records

    @staticmethod
    def _check_fold_info(records: list[SampleRecord], folds: Sequence[int] | None) -> None:
        if folds is None:
            return
        if any(r.fold is None for r in records):
            raise InvalidArgumentError(
                "folds= needs the official fold ids, but this folder has none: put the release's cvind.mat "
                "next to the slices (or a cv_fold column in metadata.csv)."
            )
        known = sorted({r.fold for r in records if r.fold is not None})
        bad = [f for f in folds if f not in known]
        if bad:
            raise InvalidArgumentError(f"folds {bad} do not exist; this dataset has folds {known}.")

    # -- decoding ---------------------------------------------------------------------------------
    def decode_record(self, record: SampleRecord) -> Decoded:
        """Upright image in ``[0, 1]`` with its tumour mask and border."""
        if self.layout == "converted":
            return self._decode_converted(record)
        if "::" in record.source:
            archive, member = record.source.split("::", 1)
            with self._zips.open(archive).open(member) as fh:
                data = read_cjdata(_seekable(fh), name=record.source)
        else:
            data = read_cjdata(record.source)
        image = torch.from_numpy(to_unit_float(data.image))[None]
        return Decoded(image, torch.from_numpy(data.mask), data.border)

    def _decode_converted(self, record: SampleRecord) -> Decoded:
        pixels = read_grey(record.source)
        image = torch.from_numpy(to_unit_float(pixels))[None]
        border = self._borders.get(record.index) if record.index is not None else None
        mask = torch.from_numpy(fill_border(border, pixels.shape)) if border is not None else None
        return Decoded(image, mask, border)


def _check_each_slice_once(records: list[SampleRecord]) -> None:
    """A release index or a file listed twice would count a slice twice, and could put it in two
    folds: on both sides of a split. Refused, naming both entries."""
    seen_index: dict[int | None, str] = {}
    seen_file: dict[str, int | None] = {}
    for r in records:
        if r.index in seen_index:  # every Figshare record has its release index
            raise InvalidArgumentError(
                f"slice {r.index} is listed twice: {seen_index[r.index]} and {r.source} (the same .mat in "
                f"two zip parts, or two metadata rows). Each slice must appear once, or it could be "
                f"trained on and tested on; remove the duplicate."
            )
        if r.source in seen_file:
            raise InvalidArgumentError(
                f"{r.source} is listed twice (as slices {seen_file[r.source]} and {r.index}); each file must "
                f"appear once. Fix metadata.csv."
            )
        seen_index[r.index] = r.source
        seen_file[r.source] = r.index


def _record(source: str, code: int, pid: str | None, fold: int | None, index: int) -> SampleRecord:
    return SampleRecord(
        source, label=-1, class_name=FIGSHARE_LABELS[code], patient_id=pid, fold=fold, index=index
    )


def _relabel(record: SampleRecord, classes: Sequence[str]) -> SampleRecord:
    return replace(record, label=list(classes).index(record.class_name))


def _int(value: str, path: Path, line: int) -> int:
    try:
        return int(float(value))
    except ValueError as e:
        raise InvalidArgumentError(f"{path} line {line}: expected an integer, got {value!r}.") from e


#: The most a zip member of the release may inflate to (its slices are under 2 MB).
MAX_MEMBER_BYTES = 64 * 2**20


def _seekable(fh: Any) -> io.BytesIO:
    """h5py needs random access; zip members are streams, so read the member into memory.

    Reading the whole member is also the faster way to get only a header. h5py seeks back and forth
    (the HDF5 end-of-file address is checked against the file's size first), and every backward seek
    in a deflated ``ZipExtFile`` restarts decompression from the member's start: on the release's
    slices, in-memory header reads took 20 ms a member against 27 ms through the zip stream
    (deflated; 11 against 11.5 ms stored). A prefix of the member is not enough either, since the
    size check fails on it.
    """
    # Bounded: a slice of the release is under 2 MB inflated; a member that inflates past the bound
    # is refused rather than read whole (a 1 MB zip bomb inflated to 2.9 GB of memory).
    data = fh.read(MAX_MEMBER_BYTES + 1)
    if len(data) > MAX_MEMBER_BYTES:
        name = getattr(fh, "name", "a zip member")
        raise InvalidArgumentError(
            f"{name} inflates to more than {MAX_MEMBER_BYTES // 2**20} MB, far more than a slice of the "
            f"release (under 2 MB): not read. Download the zip part again from the release."
        )
    return io.BytesIO(data)
