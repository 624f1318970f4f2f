"""Class-per-folder datasets: the Kaggle brain-MRI releases and any folder tree like them.

Layouts (split folders are optional; names are matched case-insensitively):

* Bhuvaji, "Brain Tumor Classification (MRI)": ``Training|Testing/{glioma_tumor, meningioma_tumor,
  no_tumor, pituitary_tumor}/``;
* Nickparvar, "Brain Tumor MRI Dataset": ``Training|Testing/{glioma, meningioma, notumor, pituitary}/``;
* Br35H: ``yes/`` and ``no/`` (tumour / no tumour), and its detection layout, in
  :mod:`~brainvit_effnet.data.br35h`;
* any ``[split/]class/image`` tree whose class folders map to canonical names through
  :data:`CLASS_ALIASES` (or aliases you add).

Class folders never get a label by guessing: an unknown folder name is an error (or, with
``strict=False``, skipped with a warning) until you map it with ``aliases=``.

Examples:
    >>> from brainvit_effnet.data import NickparvarDataset
    >>> train = NickparvarDataset("brain-tumor-mri-dataset", split="train",  # doctest: +SKIP
    ...                           classes=["glioma", "meningioma", "pituitary"])
"""

from __future__ import annotations

import dataclasses
import logging
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, ClassVar

import torch

from ..errors import InvalidArgumentError, MissingFileError
from ._walk import walk_files
from .base import BadFiles, Decoded, MRIDataset, SampleRecord, dataset_folder
from .images import read_unit
from .mri import MRI_SUFFIXES, NIFTI_SUFFIXES, dicom_ids, is_dicom, is_mri_file, nifti_slices

__all__ = [
    "CLASS_ALIASES",
    "IMAGE_EXTENSIONS",
    "BhuvajiDataset",
    "FolderDataset",
    "ImageFiles",
    "NickparvarDataset",
    "canonical_class",
]


#: Folder name (normalised: lower case, spaces and dashes as underscores) -> canonical class.
CLASS_ALIASES: dict[str, str] = {
    "glioma": "glioma",
    "glioma_tumor": "glioma",
    "glioma_tumour": "glioma",
    "meningioma": "meningioma",
    "meningioma_tumor": "meningioma",
    "meningioma_tumour": "meningioma",
    "pituitary": "pituitary",
    "pituitary_tumor": "pituitary",
    "pituitary_tumour": "pituitary",
    "no_tumor": "no_tumor",
    "no_tumour": "no_tumor",
    "notumor": "no_tumor",
    "notumour": "no_tumor",
    "no": "no_tumor",  # Br35H
    "normal": "no_tumor",
    "healthy": "no_tumor",
    "yes": "tumor",  # Br35H: a tumour of unspecified type
    "tumor": "tumor",
    "tumour": "tumor",
}
_SPLITS = {
    "training": "train",
    "train": "train",
    "traindata": "train",  # the Br35H release with YOLO side-car files: traindata/valdata
    "train_data": "train",
    "testing": "test",
    "test": "test",
    "testdata": "test",
    "test_data": "test",
    "validation": "val",
    "val": "val",
    "valdata": "val",
    "val_data": "val",
}
_logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
#: Every file suffix the datasets read: images, and DICOM/NIfTI with the ``mri`` extra.
SUPPORTED_SUFFIXES = IMAGE_EXTENSIONS + MRI_SUFFIXES


def _is_dicomdir(path: Path) -> bool:
    return path.name.upper() == "DICOMDIR"


def is_supported(path: str | os.PathLike[str]) -> bool:
    """Whether the datasets read ``path``: by suffix (``.nii.gz`` included), or a DICOM file without
    one, recognised by its content (scanners write ``IM0001``)."""
    return Path(path).suffix.lower() in IMAGE_EXTENSIONS or is_mri_file(path)


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-]+", "_", name.strip().lower())


def is_split_name(name: str) -> bool:
    """Whether a folder name is a split's (``Training``, ``test``, ``valdata``...), case-insensitively."""
    return _normalise(name) in _SPLITS


def holds_images(folder: Path) -> bool:
    """Whether ``folder`` holds image files itself (not only in subfolders)."""
    return any(p.is_file() and is_supported(p) for p in folder.iterdir())


def _detection_hint(folder: Path) -> str:
    """Advice when ``folder``, or a folder in it, holds images with YOLO box files beside them."""
    if not folder.is_dir():
        return ""
    for candidate in [folder, *(p for p in folder.iterdir() if p.is_dir())]:
        files = [p for p in candidate.iterdir() if p.is_file()]
        images = {p.stem for p in files if p.suffix.lower() in IMAGE_EXTENSIONS}
        if any(p.suffix.lower() == ".txt" and p.stem in images for p in files):
            return (
                f" {candidate} holds images with a YOLO box file (.txt) beside them: Br35H's detection "
                f"layout, which Br35HDataset reads (CLI: --data br35h:PATH)."
            )
    return ""


def canonical_class(folder_name: str, aliases: Mapping[str, str] | None = None) -> str | None:
    """Canonical class of a folder name, or ``None`` when neither the built-in nor given aliases know it."""
    table = {**CLASS_ALIASES, **{_normalise(k): v for k, v in (aliases or {}).items()}}
    return table.get(_normalise(folder_name))


class FolderDataset(MRIDataset):
    """Images in ``[split/]class/`` folders; yields ``(image, label)``.

    Args:
        root: The tree's top folder.
        split: ``"train"``, ``"test"`` or ``"val"`` to read one split folder (``Training``,
            ``Testing``...); ``None`` reads all of them (each record keeps its ``split``), or the
            class folders directly when there are no split folders.
        classes: Canonical classes to keep, in label order (e.g. the three tumour types of the
            study); default: every class found, sorted.
        aliases: Extra folder-name -> canonical-class mappings, e.g. ``{"menin": "meningioma"}``.
        transform: See :class:`~brainvit_effnet.data.base.MRIDataset`.
        crop: See :class:`~brainvit_effnet.data.base.MRIDataset`.
        return_mask: See :class:`~brainvit_effnet.data.base.MRIDataset`.
        cache: See :class:`~brainvit_effnet.data.base.MRIDataset`.
        strict: Raise on unknown or empty class folders, stray files and unreadable images
            (default). ``False`` skips them with one warning and a count; images are then checked
            once when the dataset is built.
        allow_missing_classes: Accept ``classes`` that have no folder here (listed in
            :attr:`absent_classes`): for evaluating a model on a test set that covers only some of
            its classes. Off by default: for training, a missing class is a mistake.

    Raises:
        FileNotFoundError: ``root`` or the split folder does not exist.
        ValueError: unknown/empty class folder, stray file, unreadable image (strict), or a
            requested class that is not there.
    """

    #: Class folder names a release-specific subclass expects (normalised); ``None``: any.
    expected_folders: ClassVar[frozenset[str] | None] = None
    #: Folders of a release that hold no labelled images (skipped without a warning).
    ignored_folders: ClassVar[frozenset[str]] = frozenset()
    release: ClassVar[str] = "class-per-folder tree"

    def __init__(
        self,
        root: str | os.PathLike[str],
        split: str | None = None,
        *,
        classes: Sequence[str] | None = None,
        aliases: Mapping[str, str] | None = None,
        transform: Callable[..., Any] | None = None,
        crop: bool = True,
        return_mask: bool = False,
        cache: bool = False,
        strict: bool = True,
        allow_missing_classes: bool = False,
    ) -> None:
        self.root = dataset_folder(
            root,
            "dataset folder",
            file_hint="give the folder that holds the class folders (e.g. its parent).",
        )
        self.aliases = dict(aliases or {})
        self._bad = BadFiles(strict, self.root)
        self.skipped = self._bad.skipped
        found = self._scan(self._split_dirs(split))
        names = sorted({r.class_name for r in found})
        if classes is None:
            classes = names
        missing = [c for c in classes if c not in names]
        if missing and not allow_missing_classes:
            raise InvalidArgumentError(
                f"classes {missing} are not in {self.root} (found {names}). To evaluate a model on the "
                f"classes a folder has, pass allow_missing_classes=True."
            )
        #: Classes asked for (e.g. a model's) that have no image here: an external test set often
        #: covers only some classes. Their labels keep their index; they simply have no samples.
        self.absent_classes: list[str] = missing
        records = [r for r in found if r.class_name in classes]
        #: Images of the classes left out by ``classes`` (class -> count), so callers can say so.
        self.excluded: dict[str, int] = {}
        for r in found:
            if r.class_name not in classes:
                self.excluded[r.class_name] = self.excluded.get(r.class_name, 0) + 1
        if self.excluded:
            _logger.info("%s: left out %s (not among classes=%s)", self.root, self.excluded, list(classes))
        records = [dataclasses.replace(r, label=list(classes).index(r.class_name)) for r in records]
        if not strict:
            records = [r for r in records if self._readable(r.source)]
        self._bad.warn()
        super().__init__(
            records, classes, transform=transform, crop=crop, return_mask=return_mask, cache=cache
        )

    # -- scanning ---------------------------------------------------------------------------------
    def _is_split(self, folder: Path) -> bool:
        """Whether ``folder`` is a split folder (``Training``, ``traindata``...) rather than a class folder.

        The name must be a split's, and the folder must hold folders, not the images themselves: a
        folder of images is a class folder whatever its name (mapped with ``aliases=``, as a user
        mapping always wins).
        """
        mapped = _normalise(folder.name) in {_normalise(k) for k in self.aliases}
        return is_split_name(folder.name) and not mapped and not holds_images(folder)

    def _split_dirs(self, split: str | None) -> list[tuple[str | None, Path]]:
        dirs = {
            _SPLITS[_normalise(p.name)]: p for p in self.root.iterdir() if p.is_dir() and self._is_split(p)
        }
        if split is not None:
            wanted = _SPLITS.get(_normalise(split))
            if wanted is None:
                raise InvalidArgumentError(f"split must be one of 'train', 'test', 'val'; got {split!r}.")
            if wanted not in dirs:
                raise MissingFileError(
                    f"{self.root} has no {wanted!r} split folder "
                    f"(found {sorted(p.name for p in dirs.values())}); "
                    f"pass split=None for a tree without split folders."
                )
            return [(wanted, dirs[wanted])]
        if dirs:
            beside = sorted(
                p.name
                for p in self.root.iterdir()
                if p.is_dir()
                and p not in dirs.values()
                and not p.name.startswith(".")
                and _normalise(p.name) not in self.ignored_folders  # a release's unlabelled folder
            )
            if beside:  # read nothing in silence: say which folders the split folders leave out
                _logger.warning(
                    "%s: reading the split folders %s; the folder(s) %s beside them are not read. Give "
                    "one of them as the root to read it.",
                    self.root,
                    sorted(p.name for p in dirs.values()),
                    beside,
                )
            return sorted(dirs.items())
        return [(None, self.root)]

    def _scan(self, split_dirs: list[tuple[str | None, Path]]) -> list[SampleRecord]:
        records = [r for split, folder in split_dirs for r in self._scan_folder(folder, split)]
        if not records:
            raise InvalidArgumentError(
                f"{self.root} holds no images in class folders.{_detection_hint(self.root)}"
            )
        return records

    def _scan_folder(self, folder: Path, split: str | None) -> list[SampleRecord]:
        """The images of the class folders in ``folder`` (the root, or one split folder)."""
        records: list[SampleRecord] = []
        for entry in sorted(folder.iterdir()):
            if not entry.is_dir():
                if not self._is_side_car(entry):
                    self._bad(str(entry), f"{entry}: stray file where class folders were expected.")
                continue
            if _normalise(entry.name) in self.ignored_folders:
                continue
            class_name = canonical_class(entry.name, self.aliases)
            mapped_by_user = _normalise(entry.name) in {_normalise(k) for k in self.aliases}
            if class_name is None or (
                self.expected_folders is not None
                and _normalise(entry.name) not in self.expected_folders
                and not mapped_by_user  # a release's own names, plus what aliases= maps
            ):
                known = sorted(self.expected_folders or CLASS_ALIASES)
                self._bad(
                    str(entry),
                    f"{entry}: unknown class folder {entry.name!r} for a {self.release} "
                    f"(known: {known}). Map it with aliases={{'{entry.name}': '<class>'}} "
                    f"(CLI: --alias '{entry.name}=<class>'), or use FolderDataset for other trees."
                    + _detection_hint(entry),
                )
                continue
            files = self._images_in(entry)
            if not files:
                self._bad(str(entry), f"{entry}: class folder {entry.name!r} holds no images.")
                continue
            for f in files:
                records += self._records_of(f, class_name, split)
        return records

    def _is_side_car(self, path: Path) -> bool:
        """Whether ``path`` is a release's companion of an image (read with it, not a stray file)."""
        return False

    def _records_of(self, path: Path, class_name: str, split: str | None) -> list[SampleRecord]:
        """One record per 2-D slice in ``path``: a 3-D NIfTI volume gives its axial slices.

        The slices of one volume share a group (the volume file), and DICOM files carry their
        PatientID, so leakage-safe splits keep one scan, or one patient, on one side.
        """
        name = path.name.lower()
        try:
            if name.endswith(NIFTI_SUFFIXES):
                sources = nifti_slices(path)
                group = str(path) if len(sources) > 1 else None
                return [SampleRecord(src, -1, class_name, patient_id=group, split=split) for src in sources]
            if is_dicom(path):
                patient = dicom_ids(path)["patient"]
                return [SampleRecord(str(path), -1, class_name, patient_id=patient, split=split)]
        except ValueError as e:  # an unreadable header: strict raises, lenient skips with the count
            self._bad(str(path), str(e))
            return []
        return [SampleRecord(str(path), -1, class_name, split=split)]

    def _images_in(self, folder: Path, recursive: bool = True) -> list[Path]:
        images = []
        if recursive:
            listed, unreadable = walk_files(folder)
            for where, message in unreadable.items():
                self._bad(where, message)
        else:
            listed = sorted(p for p in folder.iterdir() if not p.is_dir())
        for path in listed:
            if path.is_symlink() and not path.exists():
                self._bad(
                    str(path), f"{path}: dangling link (its target {os.readlink(path)} does not exist)."
                )
                continue
            if not path.is_file() or _is_dicomdir(path) or self._is_side_car(path):
                continue  # a DICOMDIR indexes the files beside it
            if is_supported(path):
                images.append(path)
            else:
                self._bad(
                    str(path), f"{path}: stray file (not an image: expected {', '.join(SUPPORTED_SUFFIXES)})."
                )
        return images

    def _readable(self, source: str) -> bool:
        try:
            read_unit(source)
        except (ValueError, FileNotFoundError):
            self.skipped.append(source)
            return False
        return True

    # -- decoding ---------------------------------------------------------------------------------
    def decode_record(self, record: SampleRecord) -> Decoded:
        """Greyscale image in ``[0, 1]``; folder releases have no masks."""
        return Decoded(torch.from_numpy(read_unit(record.source))[None])


class BhuvajiDataset(FolderDataset):
    """Bhuvaji et al., "Brain Tumor Classification (MRI)" (Kaggle, MIT): 4 classes, Training/Testing.

    Its test split contains exact and near copies of training images: check with
    :func:`~brainvit_effnet.data.duplicates.leakage_report` before trusting a test score.
    """

    expected_folders = frozenset({"glioma_tumor", "meningioma_tumor", "no_tumor", "pituitary_tumor"})
    release = "Bhuvaji release"


class NickparvarDataset(FolderDataset):
    """Nickparvar, "Brain Tumor MRI Dataset" (Kaggle, CC0): 4 classes, Training/Testing.

    Built from Figshare, Bhuvaji and Br35H images, so it overlaps them: never test on one of these
    after training on another without a duplicate check.
    """

    expected_folders = frozenset({"glioma", "meningioma", "notumor", "pituitary"})
    release = "Nickparvar release"


class ImageFiles(MRIDataset):
    """Unlabelled image files (for prediction); yields ``(image, -1)``.

    Args:
        paths: Image files and/or folders (searched recursively for image files).
        transform: See :class:`~brainvit_effnet.data.base.MRIDataset`.
        crop: See :class:`~brainvit_effnet.data.base.MRIDataset`.

    DICOM files and NIfTI images are read with the ``mri`` extra
    (:mod:`~brainvit_effnet.data.mri`); a 3-D NIfTI volume becomes one record per slice along
    ``axis`` (sources ``"file::z=N"``). DICOM records carry the patient id as their group.

    Attributes:
        unsupported: Files found in the folders that are not images of a supported type (hidden
            files aside), so a caller can say what it did not read instead of skipping it silently.
        companions: Box files (``y1.txt`` beside ``y1.jpg``, the YOLO layout) found in the folders:
            they belong to an image and are not inputs, so they are listed here, not as unsupported.
        volumes: Volume -> positions of its slice records: each 3-D NIfTI file, and each DICOM
            series (``"<folder>::series=<SeriesInstanceUID>"``), for per-volume summaries.
        errors: Files whose header could not be read while they were listed, and folders that could
            not be read (their images are not listed) -> the reason.

    Raises:
        FileNotFoundError: a path that does not exist, or no image found.
    """

    def __init__(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        transform: Callable[..., Any] | None = None,
        crop: bool = True,
        axis: int = 2,
    ) -> None:
        files: list[Path] = []
        self.unsupported: list[str] = []
        self.companions: list[str] = []
        unreadable_folders: dict[str, str] = {}
        for given in paths:
            path = Path(given).expanduser()
            if path.is_dir():
                listed, unreadable = walk_files(path)
                found = [p for p in listed if not p.name.startswith(".") and not _is_dicomdir(p)]
                unreadable_folders.update(unreadable)
                images = [p for p in found if p.is_file() and is_supported(p)]
                files += images
                stems = {(p.parent, p.stem) for p in images}
                for p in found:
                    if p.is_file() and p.suffix.lower() == ".txt" and (p.parent, p.stem) in stems:
                        self.companions.append(str(p))  # a YOLO box file beside its image: not an input
                    elif (p.is_file() and not is_supported(p)) or (p.is_symlink() and not p.exists()):
                        self.unsupported.append(str(p))
            elif path.is_file():
                files.append(path)
            elif path.exists():  # a device, a socket, a pipe: nothing to read as an image
                raise InvalidArgumentError(
                    f"{path} is neither a file nor a folder; give image files or folders."
                )
            else:
                raise MissingFileError(f"{path} does not exist.")
        if not files and not self.unsupported and not unreadable_folders:
            raise MissingFileError(
                f"no image files ({', '.join(SUPPORTED_SUFFIXES)}) in {[str(p) for p in paths]}."
            )
        records: list[SampleRecord] = []
        self.volumes: dict[str, list[int]] = {}
        # Files whose header could not be read while they were listed, and folders that could not be read.
        self.errors: dict[str, str] = dict(unreadable_folders)
        for f in files:
            name = f.name.lower()
            try:
                if name.endswith(NIFTI_SUFFIXES):
                    sources = nifti_slices(f, axis=axis)
                    if len(sources) > 1:
                        self.volumes[str(f)] = list(range(len(records), len(records) + len(sources)))
                    records += [SampleRecord(src, -1, "unknown") for src in sources]
                    continue
                if is_dicom(f):
                    ids = dicom_ids(f)
                    series = f"{f.parent}::series={ids['series']}" if ids["series"] else str(f)
                    self.volumes.setdefault(series, []).append(len(records))
                    records.append(SampleRecord(str(f), -1, "unknown", patient_id=ids["patient"]))
                    continue
            except ValueError as e:  # listed with its reason, so the caller can give it a row
                self.errors[str(f)] = str(e)
                continue
            records.append(SampleRecord(str(f), -1, "unknown"))
        # A "series" of one DICOM file is just a slice.
        self.volumes = {k: v for k, v in self.volumes.items() if len(v) > 1}
        super().__init__(records, (), transform=transform, crop=crop)

    def decode_record(self, record: SampleRecord) -> Decoded:
        return Decoded(torch.from_numpy(read_unit(record.source))[None])
