"""Reading the Figshare release's MATLAB files (``N.mat`` slices and the ``cvind.mat`` folds).

Each slice is a MATLAB v7.3 file, i.e. HDF5 behind a 512-byte MATLAB header, holding struct
``cjdata`` with ``label`` (1 meningioma, 2 glioma, 3 pituitary), ``PID`` (characters),
``image`` (int16), ``tumorBorder`` ([x1, y1, x2, y2, ...]) and ``tumorMask``. MATLAB stores arrays
column-major, so HDF5 reports them with reversed dimensions: read naively, images come out
transposed. Everything here returns arrays the right way up.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import IO, Any

import h5py
import numpy as np
from PIL import Image, ImageDraw

from ..errors import InvalidArgumentError

__all__ = ["CJData", "MatFormatError", "fill_border", "read_cjdata", "read_cjdata_header", "read_fold_ids"]

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"
_FIELDS = ("label", "PID", "image", "tumorBorder", "tumorMask")
#: Figshare release label code -> canonical class name.
FIGSHARE_LABELS: dict[int, str] = {1: "meningioma", 2: "glioma", 3: "pituitary"}


class MatFormatError(InvalidArgumentError):
    """A ``.mat`` file that is not in the release's format (names the file and the problem)."""


@dataclass
class CJData:
    """One slice of the release.

    Attributes:
        label: Release code 1-3.
        pid: Patient id.
        image: ``(H, W)`` int16, upright.
        border: ``(K, 2)`` float outline as ``(x=column, y=row)``.
        mask: ``(H, W)`` bool tumour mask.
    """

    label: int
    pid: str
    image: np.ndarray
    border: np.ndarray
    mask: np.ndarray


Source = str | os.PathLike[str] | IO[bytes]


def _name(source: Source, name: str | None) -> str:
    if name:
        return name
    return (
        os.fspath(source) if isinstance(source, (str, os.PathLike)) else getattr(source, "name", "<stream>")
    )


def _check_v73(head: bytes, name: str) -> None:
    if head.startswith(b"MATLAB 5.0 MAT-file") and _HDF5_SIGNATURE not in head[:2048]:
        raise MatFormatError(
            f"{name} is a MATLAB v5 file; the Figshare release ships MATLAB v7.3 (HDF5) files. Use the "
            f"original release files, or re-save this one in MATLAB with save(file, 'cjdata', '-v7.3')."
        )
    if _HDF5_SIGNATURE not in head[:2048]:
        raise MatFormatError(
            f"{name} is not a MATLAB v7.3 (HDF5) file: it may be truncated, corrupted or not a .mat file. "
            f"Download the release again."
        )


def _open(source: Source, name: str) -> h5py.File:
    if isinstance(source, (str, os.PathLike)):
        with open(source, "rb") as fh:
            head = fh.read(2048)
    else:
        head = source.read(2048)
        source.seek(0)
    _check_v73(head, name)
    try:
        return h5py.File(source, "r")
    except OSError as e:
        raise MatFormatError(
            f"{name} could not be read as HDF5 ({e}); it may be truncated. Download it again."
        ) from e


def _struct(f: h5py.File, name: str, fields: tuple[str, ...]) -> Any:
    if "cjdata" not in f:
        raise MatFormatError(
            f"{name} has no 'cjdata' struct (variables: {sorted(f.keys())}); not a release slice file."
        )
    cj = f["cjdata"]
    missing = [k for k in fields if k not in cj]
    if missing:
        raise MatFormatError(f"{name}: struct cjdata lacks field(s) {missing}; expected {list(_FIELDS)}.")
    return cj


def _label(cj: Any, name: str) -> int:
    value = float(np.asarray(cj["label"]).ravel()[0])
    if value not in FIGSHARE_LABELS:
        raise MatFormatError(
            f"{name}: label {value:g} is outside the release's codes {sorted(FIGSHARE_LABELS)} "
            f"(1 meningioma, 2 glioma, 3 pituitary); the file is not from the release or was altered."
        )
    return int(value)


def _pid(cj: Any) -> str:
    # MATLAB char arrays are stored as uint16 code units.
    return "".join(chr(int(c)) for c in np.asarray(cj["PID"]).ravel()).strip()


def read_cjdata_header(source: Source, name: str | None = None) -> tuple[int, str]:
    """Only the label code and patient id of a slice file (fast: no pixels are read)."""
    name = _name(source, name)
    with _open(source, name) as f:
        cj = _struct(f, name, ("label", "PID"))
        return _label(cj, name), _pid(cj)


def fill_border(border: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Fill a ``(K, 2)`` ``(x, y)`` outline into a ``(H, W)`` bool mask (polygon with its outline)."""
    canvas = Image.new("L", (shape[1], shape[0]), 0)
    if len(border) >= 3:
        ImageDraw.Draw(canvas).polygon([(float(x), float(y)) for x, y in border], fill=1, outline=1)
    return np.asarray(canvas, dtype=bool)


def _orient_border(points: np.ndarray, mask: np.ndarray) -> np.ndarray:
    """Return the outline as (x=column, y=row), swapping if the file stores (row, column).

    The release documents [x1, y1, ...], but copies that store rows first exist; the mask decides.
    """
    if not mask.any() or len(points) < 3:
        return points
    as_xy, as_yx = fill_border(points, mask.shape), fill_border(points[:, ::-1], mask.shape)

    def iou(a: np.ndarray) -> float:
        return float((a & mask).sum()) / max(1, int((a | mask).sum()))

    return points[:, ::-1].copy() if iou(as_yx) > iou(as_xy) else points


def read_cjdata(source: Source, name: str | None = None) -> CJData:
    """Read one slice file of the release, upright.

    Args:
        source: Path or binary file object (e.g. a member opened from a zip).
        name: Name used in error messages (defaults to the path).

    Raises:
        MatFormatError: v5 instead of v7.3, truncated/corrupt, missing fields, label outside 1-3.
    """
    name = _name(source, name)
    with _open(source, name) as f:
        cj = _struct(f, name, _FIELDS)
        label = _label(cj, name)
        image = np.asarray(cj["image"]).T  # column-major on disk
        if image.ndim != 2:
            raise MatFormatError(f"{name}: cjdata.image has shape {image.shape}; expected a 2-D slice.")
        mask = np.asarray(cj["tumorMask"]).T.astype(bool)
        if mask.shape != image.shape:
            raise MatFormatError(f"{name}: tumorMask {mask.shape} and image {image.shape} differ in shape.")
        flat = np.asarray(cj["tumorBorder"], dtype=np.float64).ravel()
        if flat.size % 2:
            raise MatFormatError(
                f"{name}: tumorBorder has an odd number of values ({flat.size}); expected x, y pairs."
            )
        border = _orient_border(flat.reshape(-1, 2), mask)
        return CJData(
            label=label, pid=_pid(cj), image=image.astype(np.int16, copy=False), border=border, mask=mask
        )


def read_fold_ids(path: str | os.PathLike[str]) -> np.ndarray:
    """Read a fold-index file (``cvind.mat`` of the release, or ``cvind5fold.mat``): ``(N,)`` ints.

    Both MATLAB v7.3 (HDF5) and v5 files are accepted: fold files are plain numeric vectors.
    """
    name = os.fspath(path)
    with open(path, "rb") as fh:
        head = fh.read(2048)
    if _HDF5_SIGNATURE in head:
        with h5py.File(path, "r") as f:
            keys = [k for k in f if not k.startswith("#")]
            if len(keys) != 1:
                raise MatFormatError(f"{name}: expected one variable (the fold vector), found {keys}.")
            folds = np.asarray(f[keys[0]]).ravel()
    elif head.startswith(b"MATLAB 5.0 MAT-file"):
        from scipy.io import loadmat

        data = {k: v for k, v in loadmat(os.fspath(path)).items() if not k.startswith("__")}
        if len(data) != 1:
            raise MatFormatError(f"{name}: expected one variable (the fold vector), found {sorted(data)}.")
        folds = np.asarray(next(iter(data.values()))).ravel()
    else:
        raise MatFormatError(f"{name} is not a MATLAB file; expected the release's cvind.mat.")
    if folds.size == 0 or not np.all(np.isin(folds, np.arange(1, 100))):
        raise MatFormatError(
            f"{name}: fold ids must be positive integers; got values {np.unique(folds)[:10]}."
        )
    return folds.astype(np.int64)
