"""Reading image files as greyscale, at their own bit depth: the one reader of every adapter.

8-bit images (greyscale, or colour reduced with the ITU-R 601-2 luma weights as PIL's
``convert("L")`` does) come back as ``uint8``; 16-bit, 32-bit integer and float images come back
as ``uint16``/``int32``/``float32`` arrays, never squeezed through an 8-bit conversion (PIL's
``convert("L")`` clips a 16-bit image to 0/255). :func:`~brainvit_effnet.data.preprocess.to_unit_float`
then divides 8-bit images by 255 and min-max scales the others.
"""

from __future__ import annotations

import os

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..errors import InvalidArgumentError, MissingFileError

__all__ = ["HIGH_DEPTH_MODES", "check_image", "grey_levels", "read_grey", "read_unit"]

#: PIL modes with more than 8 bits per pixel (no fixed range: min-max scaled downstream).
HIGH_DEPTH_MODES = ("I", "F", "I;16", "I;16B", "I;16L", "I;16N")


def grey_levels(image: Image.Image) -> np.ndarray:
    """A PIL image as a ``(H, W)`` array of grey levels at the image's own bit depth."""
    if image.mode in HIGH_DEPTH_MODES:
        levels = np.asarray(image)
        # PIL reads big-endian 16-bit PNGs as ">u2": native byte order for the arithmetic downstream.
        return levels.astype(levels.dtype.newbyteorder("="), copy=False)
    return np.asarray(image.convert("L"))


def _refuse_pages(image: Image.Image, path: str | os.PathLike[str]) -> None:
    """A file of several pages or frames (a multi-page TIFF, an animation) is refused: reading its
    first page alone would drop the others without a word."""
    pages = getattr(image, "n_frames", 1)
    if pages > 1:
        raise InvalidArgumentError(
            f"{path}: holds {pages} pages (a multi-page TIFF or an animation), and one image is read per "
            f"file. Save each page as its own file (e.g. tiffsplit, or PIL's ImageSequence), or convert "
            f"the stack to NIfTI, whose slices are read one by one."
        )


def read_grey(path: str | os.PathLike[str]) -> np.ndarray:
    """The grey levels of the image file ``path`` (see :func:`grey_levels`).

    Raises:
        FileNotFoundError: ``path`` does not exist (or is a dangling link).
        ValueError: the file is not a readable image, naming it and the cause.
    """
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: no such image file (a missing file or a dangling link).")
    try:
        with Image.open(path) as im:
            _refuse_pages(im, path)
            return grey_levels(im)
    except Image.DecompressionBombError as e:
        raise InvalidArgumentError(
            f"{path}: the image is larger than PIL's safety limit ({e}); downscale it, or raise "
            f"PIL.Image.MAX_IMAGE_PIXELS if you trust the file."
        ) from e
    except (OSError, UnidentifiedImageError, SyntaxError) as e:
        raise InvalidArgumentError(
            f"{path}: unreadable image ({e}); it may be truncated or corrupt. Replace or remove it."
        ) from e


def read_unit(source: str | os.PathLike[str]) -> np.ndarray:
    """Any supported file as the ``(H, W)`` float32 slice in ``[0, 1]`` the datasets use.

    Image files: :func:`read_grey`, then 8-bit levels divided by 255 and deeper ones min-max
    scaled (:func:`~brainvit_effnet.data.preprocess.to_unit_float`). DICOM and NIfTI (``.dcm``,
    ``.nii``, ``.nii.gz``, and volume slices ``"file::z=N"``): :mod:`~brainvit_effnet.data.mri`,
    which applies the file's own rescale and window.
    """
    from .mri import is_mri_file, read_mri_slice
    from .preprocess import to_unit_float

    if is_mri_file(source):
        return read_mri_slice(str(source))
    return to_unit_float(read_grey(source))


def check_image(path: str | os.PathLike[str]) -> None:
    """A cheap check that ``path`` is an intact image: its header and, where the format has them,
    its checksums (PIL's ``verify``), without decoding the pixels.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: naming the file, when it is not a readable image.
    """
    from .mri import check_mri, is_mri_file

    if is_mri_file(path):
        check_mri(str(path))
        return
    if not os.path.exists(path):
        raise MissingFileError(f"{path}: no such image file (a missing file or a dangling link).")
    try:
        with Image.open(path) as im:
            _refuse_pages(im, path)
            im.verify()
    except (OSError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError) as e:
        raise InvalidArgumentError(
            f"{path}: unreadable image ({e}); it may be truncated or corrupt. Replace or remove it."
        ) from e
