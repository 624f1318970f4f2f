"""What every dataset adapter shares: per-sample records, decoding, the study's crop, a cache.

An adapter only lists its samples (:class:`SampleRecord`) and decodes one (:meth:`MRIDataset.decode`).
This base turns that into a torch ``Dataset`` yielding ``(image_tensor, label)``:

1. decode: a float32 ``(1, H, W)`` image in ``[0, 1]``, with the tumour mask and border when known;
2. optionally crop to the brain (the study's contour crop; the mask and border follow);
3. optionally keep the result in an in-memory cache (uint8, longest side capped), so later epochs
   skip file reading, decoding and cropping;
4. the transform (e.g. :func:`~brainvit_effnet.data.transforms.create_transforms`).
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from ..errors import InvalidArgumentError, MissingFileError, NotAFolderError
from .duplicates import ImageRef
from .preprocess import MAX_CROP_ASPECT, MIN_CROP_AREA, brain_bbox, crop_is_plausible

__all__ = ["BadFiles", "Decoded", "MRIDataset", "SampleRecord", "dataset_folder"]

_logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SampleRecord:
    """Everything known about one slice besides its pixels.

    Attributes:
        source: File path, or ``"archive.zip::member"`` for a file inside a zip.
        label: Class index into the dataset's ``classes``.
        class_name: Canonical class name (``glioma``, ``meningioma``, ``no_tumor``, ``pituitary``...).
        patient_id: Patient identifier where the release has one (Figshare ``.mat``), else ``None``.
        fold: Official cross-validation fold (Figshare: 1-5), else ``None``.
        split: The release's own split (``"train"``/``"test"`` for Kaggle folders), else ``None``.
        index: The sample's number in its release (Figshare ``N`` of ``N.mat``), else ``None``.
    """

    source: str
    label: int
    class_name: str
    patient_id: str | None = None
    fold: int | None = None
    split: str | None = None
    index: int | None = None

    @property
    def group(self) -> str:
        """Grouping key for leakage-safe splits: the patient, else the official fold, else the file."""
        if self.patient_id is not None:
            return f"patient:{self.patient_id}"
        if self.fold is not None:
            return f"fold:{self.fold}"
        return f"file:{self.source}"


@dataclass
class Decoded:
    """One decoded slice.

    Attributes:
        image: ``(1, H, W)`` float32 in ``[0, 1]``.
        mask: ``(H, W)`` bool tumour mask, or ``None`` when the release has none.
        border: ``(K, 2)`` float tumour outline as ``(x=column, y=row)`` pixel coordinates, or ``None``.
    """

    image: Tensor
    mask: Tensor | None = None
    border: np.ndarray | None = None


Transform = Callable[..., Any]


def dataset_folder(root: str | os.PathLike[str], what: str, *, file_hint: str | None = None) -> Path:
    """The dataset root ``root`` (``~`` expanded), which must be an existing folder.

    Args:
        root: The folder a dataset reads.
        what: How the error names it, e.g. ``"Figshare folder"``.
        file_hint: When given, a file at ``root`` is a :class:`NotADirectoryError` ending with this
            advice instead of "does not exist".

    Raises:
        NotADirectoryError: ``root`` is a file and ``file_hint`` is given.
        FileNotFoundError: ``root`` is not a folder.
    """
    folder = Path(root).expanduser()
    if file_hint is not None and folder.is_file():
        raise NotAFolderError(f"{folder} is a file; {file_hint}")
    if not folder.is_dir():
        raise MissingFileError(f"{what} {folder} does not exist.")
    return folder


class BadFiles:
    """Strict or lenient handling of unreadable and stray files while an adapter scans a folder.

    Strict: the first bad file raises a ``ValueError`` naming it. Lenient: bad files are
    remembered in :attr:`skipped` and :meth:`warn` logs one warning with their count.
    """

    def __init__(self, strict: bool, root: str | os.PathLike[str]) -> None:
        self.strict = strict
        self.root = root
        self.skipped: list[str] = []

    def __call__(self, name: str, message: str) -> None:
        """Raise (strict) or remember a bad file; ``message`` names the file and the problem."""
        if self.strict:
            raise InvalidArgumentError(
                f"{message} Pass strict=False (CLI: --lenient) to skip such files with one warning."
            )
        self.skipped.append(name)

    def warn(self) -> None:
        """One warning for everything skipped (nothing when nothing was)."""
        if self.skipped:
            _logger.warning(
                "Skipped %d bad file(s) or folder(s) in %s (strict=False), e.g. %s",
                len(self.skipped),
                self.root,
                self.skipped[0],
            )


class MRIDataset(Dataset[tuple[Any, ...]]):
    """Base class of the adapters: a list of records plus decoding; see the module docstring.

    Args:
        records: One record per sample.
        classes: Class names; ``record.label`` indexes into them.
        transform: Called as ``transform(image)``, or ``transform(image, mask)`` when
            ``return_mask`` is set (it must then return ``(image, mask)``).
        crop: Crop each slice to the brain (the study's preprocessing) before the transform.
        return_mask: Yield ``(image, label, mask)`` instead of ``(image, label)``.
        cache: Keep decoded (and cropped) slices in memory; see :meth:`warm_cache`.
        cache_max_side: Longest side of cached slices; larger ones are downscaled (bilinear).
    """

    def __init__(
        self,
        records: Sequence[SampleRecord],
        classes: Sequence[str],
        *,
        transform: Transform | None = None,
        crop: bool = True,
        return_mask: bool = False,
        cache: bool = False,
        cache_max_side: int | None = 512,
    ) -> None:
        self.records: list[SampleRecord] = list(records)
        self.classes: tuple[str, ...] = tuple(classes)
        self.class_to_idx = {c: i for i, c in enumerate(self.classes)}
        self.transform = transform
        self.crop = crop
        self.return_mask = return_mask
        self.cache_max_side = cache_max_side
        # Keyed by record.source, so subsets of one dataset share what was already decoded.
        self._cache: dict[str, Decoded] | None = {} if cache else None
        #: Slices whose brain crop collapsed (see :func:`~.preprocess.crop_is_plausible`) and were
        #: used uncropped; shared with subsets, like the cache.
        self.crop_fallbacks: set[str] = set()

    # -- what adapters implement ------------------------------------------------------------------
    def decode_record(self, record: SampleRecord) -> Decoded:
        """Read and decode one sample from its file (no crop, no cache, no transform)."""
        raise NotImplementedError

    # -- shared behaviour -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.records)

    @property
    def targets(self) -> list[int]:
        """Class index of every sample, in order (torchvision's convention)."""
        return [r.label for r in self.records]

    @property
    def groups(self) -> list[str]:
        """Grouping key of every sample (patient, else fold, else file), for grouped splits."""
        return [r.group for r in self.records]

    def class_counts(self) -> dict[str, int]:
        """Number of samples per class name (unlabelled files, as ``ImageFiles`` reads, count under
        their own name, e.g. ``unknown``)."""
        counts = dict.fromkeys(self.classes, 0)
        for r in self.records:
            counts[r.class_name] = counts.get(r.class_name, 0) + 1
        return counts

    def decode(self, index: int) -> Decoded:
        """Read and decode sample ``index`` from its file (no crop, no cache, no transform)."""
        return self.decode_record(self.records[index])

    def sample(self, index: int) -> Decoded:
        """Decoded and (if enabled) cropped sample, served from the cache when present."""
        key = self.records[index].source
        if self._cache is not None and key in self._cache:
            cached = self._cache[key]
            return Decoded(cached.image.float() / 255.0, cached.mask, cached.border)
        decoded = self.decode(index)
        if self.crop:
            cropped = crop_decoded(decoded)
            if cropped is None:
                if key not in self.crop_fallbacks:
                    warn_crop_fallback(key)
                    self.crop_fallbacks.add(key)
            else:
                decoded = cropped
        if self._cache is not None:
            # Stored as uint8 (8-bit, as the JPEG releases are) at a capped size: ~4x less memory.
            small = _shrink(decoded, self.cache_max_side)
            stored = Decoded((small.image * 255.0).round().to(torch.uint8), small.mask, small.border)
            self._cache[key] = stored
            decoded = Decoded(stored.image.float() / 255.0, stored.mask, stored.border)
        return decoded

    def warm_cache(self) -> None:
        """Fill the cache now, in this process.

        Call it before creating a ``DataLoader`` with workers: forked workers then share the
        filled cache instead of each decoding everything again.
        """
        if self._cache is None:
            raise InvalidArgumentError(
                "this dataset was created with cache=False; pass cache=True to use a cache."
            )
        for i in range(len(self)):
            self.sample(i)

    def check_files(self) -> None:
        """Check every image file's header before a long job, so a corrupt file stops it at once.

        Cheap (no pixel decoding; see :func:`~.images.check_image`); files that are not images
        (``.mat`` slices, zip members) are checked when their adapter scans them.

        Raises:
            ValueError: the first unreadable image, named.
        """
        from .images import check_image
        from .mri import is_mri_file

        for record in self.records:
            if is_mri_file(record.source) or (
                "::" not in record.source and not record.source.endswith(".mat")
            ):
                check_image(record.source)

    def __getitem__(self, index: int) -> tuple[Any, ...]:
        decoded = self.sample(index)
        label = self.records[index].label
        if self.return_mask:
            mask = (
                decoded.mask
                if decoded.mask is not None
                else torch.zeros(decoded.image.shape[-2:], dtype=torch.bool)
            )
            if self.transform is not None:
                image, mask = self.transform(decoded.image, mask)
            else:
                image = decoded.image
            return image, label, mask
        image = self.transform(decoded.image) if self.transform is not None else decoded.image
        return image, label

    def subset(
        self,
        indices: Sequence[int] | np.ndarray,
        transform: Transform | None = None,
        *,
        return_mask: bool | None = None,
    ) -> MRIDataset:
        """The same dataset restricted to ``indices``, sharing files and cache.

        Args:
            indices: Positions to keep, e.g. the ``train`` array of a split.
            transform: A different transform for the subset (e.g. the eval one for a test split);
                defaults to this dataset's.
            return_mask: Whether the subset yields masks; defaults to this dataset's (``False``
                gives the ``(image, label)`` pairs evaluation takes from a dataset read with masks).
        """
        view = copy.copy(self)
        view.records = [self.records[int(i)] for i in indices]
        if transform is not None:
            view.transform = transform
        if return_mask is not None:
            view.return_mask = return_mask
        return view

    def image_refs(self) -> list[ImageRef]:
        """The samples as :class:`~brainvit_effnet.data.duplicates.ImageRef` for duplicate checks.

        Raises:
            ValueError: samples that are not image files (``.mat`` slices, zip members), which the
                perceptual hash cannot read; use the converted Figshare layout for those.
        """
        from .mri import is_mri_file  # NIfTI volume slices ("file::z=N") are images; zip members are not

        not_images = [
            r.source
            for r in self.records
            if not is_mri_file(r.source) and ("::" in r.source or r.source.endswith(".mat"))
        ]
        if not_images:
            raise InvalidArgumentError(
                f"duplicate checks read image files, but {not_images[0]} (and {len(not_images) - 1} more) "
                f"are MATLAB slices; check the converted layout (JPG/PNG + metadata.csv) instead."
            )
        return [ImageRef(r.source, label=r.class_name, split=r.split, key=r.source) for r in self.records]

    def __repr__(self) -> str:
        counts = ", ".join(f"{k}={v}" for k, v in self.class_counts().items())
        fallbacks = f", crop_fallbacks={len(self.crop_fallbacks)}" if self.crop_fallbacks else ""
        return f"{type(self).__name__}(n={len(self)}, {counts}, crop={self.crop}{fallbacks})"


def warn_crop_fallback(source: str) -> None:
    """Say that the brain crop of ``source`` collapsed and the uncropped slice is used (once per file
    in a dataset; every call of a single-image preprocess)."""
    _logger.warning(
        "%s: the brain crop collapsed to a fragment (under %.0f%% of the slice, or elongated over "
        "%.0f:1); using the uncropped slice.",
        source,
        100 * MIN_CROP_AREA,
        MAX_CROP_ASPECT,
    )


def crop_decoded(decoded: Decoded) -> Decoded | None:
    """Crop image, mask and border to the brain's bounding box (the study's contour crop).

    Returns ``None`` when the box has collapsed onto a fragment (:func:`~.preprocess.crop_is_plausible`).
    """
    box = brain_bbox(decoded.image[0].numpy())
    height, width = decoded.image.shape[-2:]
    if not crop_is_plausible(box, (int(height), int(width))):
        return None
    top, bottom, left, right = box
    image = decoded.image[:, top:bottom, left:right]
    mask = decoded.mask[top:bottom, left:right] if decoded.mask is not None else None
    border = (
        decoded.border - np.array([left, top], dtype=decoded.border.dtype)
        if decoded.border is not None
        else None
    )
    return Decoded(image, mask, border)


def _shrink(decoded: Decoded, max_side: int | None) -> Decoded:
    h, w = decoded.image.shape[-2:]
    if max_side is None or max(h, w) <= max_side:
        return decoded
    scale = max_side / max(h, w)
    size = (max(1, round(h * scale)), max(1, round(w * scale)))
    image = F.interpolate(
        decoded.image[None], size=size, mode="bilinear", antialias=True, align_corners=False
    )[0]
    mask = None
    if decoded.mask is not None:
        mask = F.interpolate(decoded.mask[None, None].float(), size=size, mode="nearest")[0, 0].bool()
    border = decoded.border * np.array([size[1] / w, size[0] / h]) if decoded.border is not None else None
    return Decoded(image.clamp(0, 1), mask, border)
