"""DICOM and NIfTI: the formats MRI comes in, read as the greyscale slices the models take.

Needs the ``mri`` extra (``pip install "brainvit-effnet[mri]"``: pydicom and nibabel); without
it, reading such a file raises an ``ImportError`` that names the extra.

**DICOM** (``.dcm``, or a folder holding one series): the stored values go through the modality
LUT (``RescaleSlope``/``RescaleIntercept``), then the file's own window (``WindowCenter``/
``WindowWidth``, the first one when several are given) through pydicom's VOI LUT. Without a window
the slice is min-max scaled (the documented default). ``MONOCHROME1`` slices (high values dark)
are inverted so that tissue is bright, as in every other format. The patient, study and series
ids are the grouping keys (:func:`dicom_ids`), so splits stay patient-disjoint.

**NIfTI** (``.nii``, ``.nii.gz``): a 2-D image, or a 3-D volume sliced along ``axis`` after
reorienting it to the closest canonical (RAS+) orientation with nibabel: ``axis=2`` (default)
gives axial slices, ``1`` coronal, ``0`` sagittal. Each slice is laid out as DICOM stores an
axial slice and radiology viewers show it: anterior (or superior) up, the patient's right on the
left of the image (radiological convention, as in the Figshare release). A volume is scaled once, by its 0.5th
and 99.5th percentiles, so that slices of one volume share one intensity scale.

A slice of a volume is addressed as ``"<file>::<axis>=<index>"``, e.g. ``"t1.nii.gz::z=042"``.
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidArgumentError, MissingDependencyError, MissingFileError

__all__ = [
    "DICOM_SUFFIXES",
    "MRI_SUFFIXES",
    "NIFTI_SUFFIXES",
    "check_decoder",
    "check_mri",
    "dicom_ids",
    "dicom_series",
    "file_part",
    "is_dicom",
    "is_mri_file",
    "nifti_slices",
    "read_dicom",
    "read_mri_slice",
    "read_nifti_slice",
]

DICOM_SUFFIXES = (".dcm", ".dicom")
NIFTI_SUFFIXES = (".nii", ".nii.gz")
MRI_SUFFIXES = DICOM_SUFFIXES + NIFTI_SUFFIXES
_AXES = "xyz"
_SLICE = re.compile(r"^(?P<path>.+)::(?P<axis>[xyz])=(?P<index>\d+)$")


def _require(module: str) -> Any:
    try:
        return __import__(module)
    except ImportError as e:
        raise MissingDependencyError(
            f'reading MRI files needs {module}: pip install "brainvit-effnet[mri]" (pydicom and nibabel).'
        ) from e


def file_part(source: str | os.PathLike[str]) -> str:
    """The file of a source: ``"vol.nii.gz::z=3"`` -> ``"vol.nii.gz"``; a real file whose path holds
    ``::`` (a folder named so) is itself."""
    text = os.fspath(source)
    return text if "::" not in text or os.path.isfile(text) else text.split("::", 1)[0]


#: Image suffixes (Pillow) that are never DICOM, so their files are not opened to look.
_IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".gif", ".mat", ".zip", ".csv", ".json")


def is_dicom(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` is a DICOM file: by its suffix (``.dcm``, ``.dicom``), or, for a file with
    none or another one (scanners write ``IM0001`` or UID-named files), by the ``DICM`` magic at
    byte 128 of a DICOM Part-10 file."""
    name = file_part(path)
    lowered = name.lower()
    if lowered.endswith(DICOM_SUFFIXES):
        return True
    if lowered.endswith(NIFTI_SUFFIXES) or lowered.endswith(_IMAGE_SUFFIXES) or not os.path.isfile(name):
        return False
    try:
        with open(name, "rb") as fh:
            fh.seek(128)
            return fh.read(4) == b"DICM"
    except OSError:
        return False


def is_mri_file(path: str | os.PathLike[str]) -> bool:
    """Whether ``path`` (or the file of a volume slice ``file::z=N``) is DICOM (by suffix or content)
    or NIfTI (by suffix)."""
    return file_part(path).lower().endswith(NIFTI_SUFFIXES) or is_dicom(path)


# -- DICOM ----------------------------------------------------------------------------------------
def _read_dataset(path: str | os.PathLike[str], *, pixels: bool = True) -> Any:
    pydicom = _require("pydicom")
    try:
        ds = pydicom.dcmread(str(path), stop_before_pixels=not pixels)
    except (pydicom.errors.InvalidDicomError, OSError, ValueError, EOFError) as e:
        raise InvalidArgumentError(f"{path}: not a readable DICOM file ({e}).") from e
    if "DirectoryRecordSequence" in ds:
        raise InvalidArgumentError(
            f"{path} is a DICOMDIR, the index of a DICOM media set, not an image: give the folder "
            f"that holds the image files (the DICOMDIR lists them; it is skipped in folders)."
        )
    return ds


#: What to install for a compressed transfer syntax, by the decoder plugin pydicom names.
_PLUGIN_INSTALL = {
    "pylibjpeg": "pip install pylibjpeg pylibjpeg-libjpeg pylibjpeg-openjpeg pylibjpeg-rle",
    "gdcm": "pip install python-gdcm",
    "pyjpegls": "pip install pyjpegls",
}


def check_decoder(ds: Any, path: str | os.PathLike[str]) -> None:
    """Refuse a DICOM file whose pixels no installed decoder reads, naming the plugin to install.

    Reads only the transfer syntax from the header, so the check costs no decoding.

    Raises:
        ValueError: no decoder exists in pydicom for the transfer syntax, or none is installed.
    """
    uid = getattr(getattr(ds, "file_meta", None), "TransferSyntaxUID", None)
    if uid is None:  # no file meta (an old ACR-NEMA file): pydicom assumes implicit little endian
        return
    from pydicom.pixels import get_decoder

    try:
        decoder = get_decoder(uid)
    except NotImplementedError:
        raise InvalidArgumentError(
            f"{path}: its pixels are stored as {uid.name} ({uid}), which no DICOM decoder in pydicom "
            f"reads. Convert the file to an uncompressed transfer syntax (e.g. gdcmconv --raw, or "
            f"dcmdjpeg) and read that."
        ) from None
    if decoder.is_available:
        return
    plugins = [d.split(" - ")[0] for d in decoder.missing_dependencies]
    installs = [_PLUGIN_INSTALL[p] for p in plugins if p in _PLUGIN_INSTALL]
    raise InvalidArgumentError(
        f"{path}: its pixels are compressed as {uid.name} ({uid}), and no decoder for it is "
        f"installed. Install one of the plugins pydicom names ({'; '.join(decoder.missing_dependencies)}),"
        f" e.g. {' or '.join(installs) or 'the plugin of one of them'}."
    )


def read_dicom(path: str | os.PathLike[str]) -> np.ndarray:
    """One DICOM slice as a ``(H, W)`` float32 array in ``[0, 1]`` (see the module docstring).

    Raises:
        ImportError: pydicom is missing (the message names the extra).
        ValueError: not a DICOM slice (unreadable, no pixels, colour, or more than one frame).
    """
    from pydicom.pixels import apply_modality_lut, apply_voi_lut

    ds = _read_dataset(path)
    if "PixelData" not in ds:
        raise InvalidArgumentError(f"{path}: this DICOM file holds no image (no PixelData).")
    check_decoder(ds, path)
    try:
        stored = ds.pixel_array
    except Exception as e:  # pydicom raises assorted errors for unsupported compression
        raise InvalidArgumentError(f"{path}: cannot decode the DICOM pixels ({e}).") from e
    if stored.ndim != 2:
        raise InvalidArgumentError(
            f"{path}: expected one greyscale slice, got pixel data of shape {stored.shape} "
            f"(multi-frame or colour DICOM is not supported)."
        )
    values = np.asarray(apply_modality_lut(stored, ds), dtype=np.float64)
    if "WindowCenter" in ds and "WindowWidth" in ds:
        values = np.asarray(apply_voi_lut(values, ds, index=0), dtype=np.float64)
    low, high = float(values.min()), float(values.max())
    scaled = (values - low) / (high - low) if high > low else np.zeros_like(values)
    if str(ds.get("PhotometricInterpretation", "MONOCHROME2")).strip() == "MONOCHROME1":
        scaled = 1.0 - scaled  # MONOCHROME1 stores high values as dark
    return scaled.astype(np.float32)


def dicom_ids(path: str | os.PathLike[str]) -> dict[str, str | None]:
    """``{"patient", "study", "series", "instance"}`` ids of a DICOM file (header only)."""
    ds = _read_dataset(path, pixels=False)

    def get(keyword: str) -> str | None:
        value = ds.get(keyword)
        return str(value) if value not in (None, "") else None

    return {
        "patient": get("PatientID"),
        "study": get("StudyInstanceUID"),
        "series": get("SeriesInstanceUID"),
        "instance": get("InstanceNumber"),
    }


def dicom_series(folder: str | os.PathLike[str]) -> list[Path]:
    """The DICOM files of a folder holding one series, in slice order (instance number, then name).

    Raises:
        ValueError: the folder holds no DICOM file, or files of more than one series.
    """
    files = sorted(
        p for p in Path(folder).iterdir() if p.is_file() and p.name.upper() != "DICOMDIR" and is_dicom(p)
    )
    if not files:
        raise InvalidArgumentError(f"{folder}: no DICOM files ({', '.join(DICOM_SUFFIXES)}).")
    ids = {f: dicom_ids(f) for f in files}
    series = {i["series"] for i in ids.values()}
    if len(series) > 1:
        raise InvalidArgumentError(f"{folder} holds {len(series)} DICOM series; give one series per folder.")
    return sorted(files, key=lambda f: (int(ids[f]["instance"] or 0), f.name))


# -- NIfTI ----------------------------------------------------------------------------------------
def _load_nifti(path: str | os.PathLike[str]) -> np.ndarray:
    nib = _require("nibabel")
    try:
        image = nib.as_closest_canonical(nib.load(str(path)))
        data = np.asarray(image.get_fdata(dtype=np.float32))
    except Exception as e:  # nibabel raises ImageFileError, OSError, EOFError, gzip errors...
        raise InvalidArgumentError(f"{path}: not a readable NIfTI file ({e}).") from e
    if data.size == 0:
        raise InvalidArgumentError(
            f"{path}: the image holds no voxels (shape {data.shape}); nothing to read."
        )
    data = np.squeeze(data)
    if data.ndim not in (2, 3):
        raise InvalidArgumentError(f"{path}: expected a 2-D slice or a 3-D volume, got shape {data.shape}.")
    if not np.isfinite(data).any():
        raise InvalidArgumentError(
            f"{path}: every voxel is NaN or infinite; there is no image to classify. Check the export "
            f"that wrote it (a failed resampling or a division by zero)."
        )
    return data


def _scaled(data: np.ndarray) -> np.ndarray:
    finite = data[np.isfinite(data)]
    if finite.size == 0:
        return np.zeros_like(data, dtype=np.float32)
    low, high = np.percentile(finite, [0.5, 99.5])
    if high <= low:
        low, high = float(finite.min()), float(finite.max())
    if high <= low:
        return np.zeros_like(data, dtype=np.float32)
    return np.clip((np.nan_to_num(data, nan=low) - low) / (high - low), 0.0, 1.0).astype(np.float32)


@functools.lru_cache(maxsize=2)
def _scaled_volume(path: str, stamp: tuple[int, int]) -> np.ndarray:
    """The scaled volume, kept for the next slice of the same file (``stamp``: size, mtime)."""
    return _scaled(_load_nifti(path))


def _volume(path: str) -> np.ndarray:
    st = os.stat(path)
    return _scaled_volume(path, (st.st_size, st.st_mtime_ns))


def check_mri(source: str) -> None:
    """A cheap check of a DICOM or NIfTI file's header (no pixel decoding).

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: its header is unreadable, or (DICOM) no installed decoder reads its transfer
            syntax (:func:`check_decoder` names the plugin).
    """
    path = file_part(source)
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: no such file (a missing file or a dangling link).")
    if is_dicom(path):
        check_decoder(_read_dataset(path, pixels=False), path)
        return
    nib = _require("nibabel")
    try:
        nib.load(path)  # reads the header; the data stays on disk
    except Exception as e:
        raise InvalidArgumentError(f"{path}: not a readable NIfTI file ({e}).") from e


def nifti_slices(path: str | os.PathLike[str], axis: int = 2) -> list[str]:
    """Slice addresses (``"file::z=000"``...) of a NIfTI volume, or ``[path]`` for a 2-D image."""
    if axis not in (0, 1, 2):
        raise InvalidArgumentError(f"axis must be 0 (sagittal), 1 (coronal) or 2 (axial); got {axis!r}.")
    data = _volume(str(path))  # kept: the slices are read from it next
    if data.ndim == 2:
        return [str(path)]
    width = len(str(data.shape[axis] - 1))
    return [f"{path}::{_AXES[axis]}={i:0{width}d}" for i in range(data.shape[axis])]


def read_nifti_slice(source: str) -> np.ndarray:
    """A 2-D NIfTI image, or one slice ``"file::z=N"`` of a volume, as ``(H, W)`` float32 in ``[0, 1]``."""
    match = _SLICE.match(source)
    path = match["path"] if match else source
    data = _volume(path)
    if data.ndim == 3:
        if not match:
            raise InvalidArgumentError(
                f"{path} is a 3-D volume of shape {data.shape}; address one slice as '{path}::z=N', "
                f"or list them with nifti_slices()."
            )
        axis, index = _AXES.index(match["axis"]), int(match["index"])
        if index >= data.shape[axis]:
            raise InvalidArgumentError(
                f"{source}: slice {index} is outside the volume's {data.shape[axis]} slices."
            )
        plane = np.take(data, index, axis=axis)
    else:
        plane = data
    # A RAS+ plane indexes (x: patient right, y: anterior). Shown as DICOM stores an axial slice
    # (rows run anterior to posterior, columns from the patient's right to left: radiological
    # convention, as the Figshare slices are): row r, column c is plane[n_x - 1 - c, n_y - 1 - r].
    return np.ascontiguousarray(np.rot90(plane)[:, ::-1])


def read_mri_slice(source: str) -> np.ndarray:
    """Any DICOM file or NIfTI image/slice address as ``(H, W)`` float32 in ``[0, 1]``."""
    if is_dicom(source):
        return read_dicom(file_part(source))
    if file_part(source).lower().endswith(NIFTI_SUFFIXES):
        return read_nifti_slice(source)
    raise InvalidArgumentError(f"{source}: not a DICOM or NIfTI file ({', '.join(MRI_SUFFIXES)}).")
