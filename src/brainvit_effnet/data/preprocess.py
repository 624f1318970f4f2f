"""Intensity scaling and the study's brain-contour crop, without OpenCV.

Zulfiqar et al. (2023) crop every MRI slice to the brain before resizing it. Their OpenCV code is::

    gray = cv2.GaussianBlur(gray, (5, 5), 0)
    thresh = cv2.threshold(gray, 45, 255, cv2.THRESH_BINARY)[1]
    thresh = cv2.erode(thresh, None, iterations=2)
    thresh = cv2.dilate(thresh, None, iterations=2)
    cnts = cv2.findContours(thresh, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    c = max(cnts, key=cv2.contourArea)
    # crop to the extreme left/right/top/bottom points of c

:func:`brain_bbox` reimplements it with :mod:`scipy.ndimage`; the comments in :func:`_foreground_mask`
and :func:`_largest_component_box` say how each OpenCV step is matched. :func:`crop_to_brain` applies
the box to a ``(C, H, W)`` image tensor and, optionally, its tumour mask.

Examples:
    >>> import numpy as np
    >>> image = np.zeros((64, 64), dtype=np.uint8)
    >>> image[10:40, 20:50] = 200
    >>> brain_bbox(image)  # the blur lets the threshold reach one pixel past a sharp edge
    (9, 41, 19, 51)
"""

from __future__ import annotations

import logging
import math
from typing import Any

import numpy as np
import torch
from scipy import ndimage

from .._checks import is_int, is_real
from ..errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "MAX_CROP_ASPECT",
    "MIN_CROP_AREA",
    "brain_bbox",
    "crop_is_plausible",
    "crop_to_brain",
    "to_unit_float",
]

#: A brain box covering less than this fraction of the slice has collapsed onto a fragment (the
#: study's contour crop fires on 3 of the 3064 Figshare slices at 0.10, one cutting the tumour off).
MIN_CROP_AREA = 0.10
#: ... or one this elongated (a sliver along the skull); Figshare's most elongated sound box is 2.1.
MAX_CROP_ASPECT = 3.0

logger = logging.getLogger(__name__)

# cv2.getGaussianKernel(n, sigma<=0) does not sample a Gaussian for n <= 9: it returns these fixed
# tables (getGaussianKernelBitExact in OpenCV's imgproc/src/smooth.dispatch.cpp). For n = 5 that is
# the binomial [1, 4, 6, 4, 1] / 16, close to (but not the same as) a Gaussian with
# sigma = 0.3 * ((5 - 1) * 0.5 - 1) + 0.8 = 1.1 sampled on a 5-tap support.
_CV_FIXED_GAUSSIAN_KERNELS: dict[int, tuple[int, ...]] = {
    1: (1,),
    3: (1, 2, 1),
    5: (1, 4, 6, 4, 1),
    7: (2, 7, 14, 18, 14, 7, 2),
    9: (4, 13, 30, 51, 60, 51, 30, 13, 4),
}
_SQUARE = np.ones((3, 3), dtype=bool)  # 8-neighbourhood; also cv2's default (kernel=None) 3x3 element


def to_unit_float(image: np.ndarray) -> np.ndarray:
    """Scale a greyscale image to float32 in ``[0, 1]``.

    ``uint8`` images are divided by 255 (so 8-bit images keep their absolute grey levels). Every other
    integer or floating dtype (for example the ``int16`` slices in the Figshare MATLAB files, or a
    float image) is min-max scaled per image; a constant image becomes all zeros. Booleans map to
    0 and 1.

    Args:
        image: A ``(H, W)`` array.

    Returns:
        A ``(H, W)`` float32 array with values in ``[0, 1]``.

    Raises:
        TypeError: ``image`` is not a numpy array, or has a non-numeric dtype.
        ValueError: ``image`` is not 2-D, or contains NaN/inf.

    Examples:
        >>> to_unit_float(np.array([[0, 255]], dtype=np.uint8))
        array([[0., 1.]], dtype=float32)
        >>> to_unit_float(np.array([[-100, 300]], dtype=np.int16))
        array([[0., 1.]], dtype=float32)
    """
    if not isinstance(image, np.ndarray):
        hint = " Convert a tensor with tensor.cpu().numpy()." if isinstance(image, torch.Tensor) else ""
        raise InvalidTypeError(
            f"to_unit_float expects a numpy array of shape (H, W); got {type(image).__name__}.{hint}"
        )
    if image.ndim != 2:
        raise InvalidArgumentError(
            f"to_unit_float expects a single greyscale image of shape (H, W); got shape {image.shape}. "
            "Select one slice/channel first (e.g. image[..., 0] or image.mean(axis=-1) for RGB)."
        )
    if image.dtype == np.uint8:
        return image.astype(np.float32) / np.float32(255.0)
    if image.dtype == np.bool_:
        return image.astype(np.float32)
    if not (np.issubdtype(image.dtype, np.integer) or np.issubdtype(image.dtype, np.floating)):
        raise InvalidTypeError(
            f"to_unit_float expects an integer or floating-point image; got dtype {image.dtype}. "
            "Convert it to a real-valued array first."
        )
    values = image.astype(np.float64)
    if values.size == 0:
        return values.astype(np.float32)
    if not np.isfinite(values).all():
        raise InvalidArgumentError(
            "to_unit_float got an image containing NaN or infinite values; "
            "replace them first, e.g. with np.nan_to_num(image)."
        )
    low, high = values.min(), values.max()
    if high == low:
        return np.zeros(image.shape, dtype=np.float32)
    return ((values - low) / (high - low)).astype(np.float32)


def _to_gray255(image: np.ndarray) -> np.ndarray:
    """Validate a ``(H, W)`` image and return it on the integer 0-255 grid, as float64."""
    if not isinstance(image, np.ndarray):
        hint = " Convert a tensor with tensor.cpu().numpy()." if isinstance(image, torch.Tensor) else ""
        raise InvalidTypeError(
            f"brain_bbox expects a numpy array of shape (H, W); got {type(image).__name__}.{hint}"
        )
    if image.ndim != 2 or image.shape[0] == 0 or image.shape[1] == 0:
        raise InvalidArgumentError(
            f"brain_bbox expects a non-empty greyscale image of shape (H, W); got shape {image.shape}. "
            "Pass one channel, e.g. image[0] for a (C, H, W) array."
        )
    if image.dtype == np.uint8:
        return image.astype(np.float64)
    if np.issubdtype(image.dtype, np.floating):
        values = image.astype(np.float64)
        if not np.isfinite(values).all():
            raise InvalidArgumentError(
                "brain_bbox got an image containing NaN or infinite values; replace them first."
            )
        low, high = values.min(), values.max()
        if low < -1e-3 or high > 1 + 1e-3:
            raise InvalidArgumentError(
                f"brain_bbox expects a float image in [0, 1] (or uint8 in 0-255); got values in "
                f"[{low:g}, {high:g}]. Rescale it with to_unit_float(image) or pass it as uint8."
            )
        # The authors' images are 8-bit, so a float image is put on the same 8-bit grid (what saving it
        # as uint8 would do); this makes u / 255 and u give identical boxes and keeps every later step
        # exact.
        return np.rint(np.clip(values, 0.0, 1.0) * 255.0)
    if np.issubdtype(image.dtype, np.integer):
        # e.g. int16 MATLAB slices: min-max to [0, 1] first, like to_unit_float.
        return np.rint(to_unit_float(image).astype(np.float64) * 255.0)
    raise InvalidTypeError(
        f"brain_bbox expects a uint8 (0-255) or float ([0, 1]) image; got dtype {image.dtype}. "
        "Convert it with to_unit_float(image)."
    )


def _gaussian_kernel(size: int) -> np.ndarray:
    """The 1-D kernel of ``cv2.GaussianBlur((size, size), 0)``."""
    fixed = _CV_FIXED_GAUSSIAN_KERNELS.get(size)
    if fixed is not None:
        kernel = np.asarray(fixed, dtype=np.float64)
        return kernel / kernel.sum()  # sums are powers of two, so these weights are exact binary fractions
    # Larger kernels: cv2 samples a Gaussian with sigma = 0.3 * ((ksize - 1) * 0.5 - 1) + 0.8.
    sigma = 0.3 * ((size - 1) * 0.5 - 1) + 0.8
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    kernel = np.exp(-(x**2) / (2 * sigma**2))
    return kernel / kernel.sum()


def _foreground_mask(
    gray255: np.ndarray, threshold: float, blur_size: int, erode_iterations: int, dilate_iterations: int
) -> np.ndarray:
    """Blur, threshold, erode and dilate a 0-255 image as the authors' OpenCV code does.

    Args:
        gray255: ``(H, W)`` float64 array of integers in ``[0, 255]``.
        threshold: Grey level that the blurred image must exceed.
        blur_size: Odd Gaussian kernel size.
        erode_iterations: Number of 3x3 erosions.
        dilate_iterations: Number of 3x3 dilations.

    Returns:
        ``(H, W)`` bool mask.
    """
    # cv2.GaussianBlur(gray, (k, k), 0): a separable filter with the kernel above and OpenCV's default
    # border, BORDER_REFLECT_101 (dcb|abcd|cba), which is scipy's mode="mirror". With the fixed tables
    # (weights k / 2**s, s <= 8) and integer input, every value after either pass is a multiple of
    # 2**-(2s) below 256: at most 24 significant bits, exact in float32, which is 4x faster here
    # than float64. Other kernel sizes keep float64.
    kernel = _gaussian_kernel(blur_size)
    exact32 = blur_size in _CV_FIXED_GAUSSIAN_KERNELS
    blurred = gray255.astype(np.float32) if exact32 else gray255
    blurred = ndimage.correlate1d(blurred, kernel, axis=0, mode="mirror")
    blurred = ndimage.correlate1d(blurred, kernel, axis=1, mode="mirror")
    # A uint8 blur returns uint8: OpenCV's bit-exact fixed-point path rounds halves up.
    blurred = np.floor(blurred + 0.5)
    # cv2.threshold(gray, t, 255, THRESH_BINARY) keeps pixels strictly above t (for 8-bit input cv2
    # uses floor(t), which gives the same result on integer grey levels).
    mask = blurred > threshold
    # cv2.erode/dilate with kernel=None use a 3x3 square. Their default border value
    # (morphologyDefaultBorderValue) never erodes/dilates from outside the image: border_value=1 for
    # erosion, 0 for dilation. Iterating a 3x3 square n times equals cv2's iterations=n.
    # n iterations of a 3x3 square are one pass of a (2n+1)-square, which is separable: a running
    # minimum (erosion; outside counts as 1) or maximum (dilation; outside counts as 0) along each
    # axis, several times faster than iterated binary morphology and identical to it.
    if erode_iterations > 0:
        mask = _square_filter(mask, erode_iterations, ndimage.minimum_filter1d, outside=1)
    if dilate_iterations > 0:
        mask = _square_filter(mask, dilate_iterations, ndimage.maximum_filter1d, outside=0)
    return np.asarray(mask, dtype=bool)


def _square_filter(mask: np.ndarray, iterations: int, filter1d: Any, outside: int) -> np.ndarray:
    """``iterations`` 3x3-square erosions or dilations of ``mask`` as one separable running filter."""
    size = 2 * iterations + 1
    out = filter1d(mask.astype(np.uint8), size, axis=0, mode="constant", cval=outside)
    return filter1d(out, size, axis=1, mode="constant", cval=outside).astype(bool)


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """``ndimage.binary_fill_holes(mask)``: background not 4-connected to the image's edge is filled.

    Labels the background once instead of propagating a dilation until it settles (several times
    faster on a 512 x 512 slice, identical result).
    """
    background, count = ndimage.label(~mask)  # scipy's default structure: 4-connected
    touches_edge = np.zeros(count + 1, dtype=bool)
    for edge in (background[0], background[-1], background[:, 0], background[:, -1]):
        touches_edge[edge] = True
    touches_edge[0] = False  # label 0 is the foreground itself
    return ~touches_edge[background]


def _inner_border(region: np.ndarray) -> np.ndarray:
    """Pixels of ``region`` with a 4-neighbour outside it or outside the image: ``region & ~erosion``
    by the 4-neighbourhood with nothing outside the image (shifted ANDs instead of binary_erosion)."""
    inner = region.copy()
    inner[1:] &= region[:-1]
    inner[:-1] &= region[1:]
    inner[:, 1:] &= region[:, :-1]
    inner[:, :-1] &= region[:, 1:]
    inner[0] = inner[-1] = False
    inner[:, 0] = inner[:, -1] = False
    return region & ~inner


def _largest_component_box(mask: np.ndarray) -> tuple[int, int, int, int] | None:
    """Bounding box of the region enclosed by the largest external contour, or None if mask is empty."""
    if not mask.any():
        return None
    # cv2.findContours(RETR_EXTERNAL) traces the outer border of each 8-connected foreground component
    # (the background being 4-connected); a component nested in another's hole has no external
    # contour. Filling holes (4-connected background, scipy's default) and labelling 8-connected
    # components therefore gives exactly one region per external contour.
    filled = _fill_holes(mask)
    labels, count = ndimage.label(filled, structure=_SQUARE)
    # cv2.contourArea is the area of the polygon through the border pixels' centres, which by Pick's
    # theorem is (pixel count) - (border pixel count) / 2 - 1 for a simple contour. Ranking by
    # count - border / 2 therefore ranks like contourArea (filled area alone would favour thin,
    # long regions). Ties go to the first component in raster order.
    border = _inner_border(filled)
    areas = np.bincount(labels.ravel(), minlength=count + 1).astype(np.float64)
    borders = np.bincount(labels[border], minlength=count + 1).astype(np.float64)
    scores = areas[1:] - borders[1:] / 2
    best = int(np.argmax(scores))
    # The contour's extreme points are its bounding box. The authors slice image[top:bottom,
    # left:right] with the extreme points themselves, dropping the last row/column; this box is
    # exclusive at bottom/right *after* the extreme point, so it keeps them.
    objects = ndimage.find_objects(labels)
    rows, cols = objects[best]
    return int(rows.start), int(rows.stop), int(cols.start), int(cols.stop)


def brain_bbox(
    image: np.ndarray,
    threshold: float = 45,
    blur_size: int = 5,
    erode_iterations: int = 2,
    dilate_iterations: int = 2,
) -> tuple[int, int, int, int]:
    """Bounding box of the brain in an MRI slice, as the study's OpenCV contour crop computes it.

    Steps (Zulfiqar et al.): ``blur_size`` x ``blur_size`` Gaussian blur, keep grey levels above
    ``threshold``, erode then dilate with a 3x3 square, take the largest external contour and its
    extreme points. Small bright specks and noise are removed by the erosion or lose to the brain
    on area. Designed to follow ``cv2`` exactly for 8-bit input (see the module source for how each
    step is matched).

    Args:
        image: ``(H, W)`` greyscale slice, ``uint8`` in 0-255 or floating point in ``[0, 1]`` (put on the
            0-255 grid by ``rint(image * 255)``). Other integer dtypes (e.g. ``int16``) are min-max
            scaled first, as :func:`to_unit_float` does.
        threshold: Grey level (0-255 scale) that the blurred image must exceed.
        blur_size: Odd Gaussian kernel size (1 disables the blur).
        erode_iterations: Number of 3x3 erosions.
        dilate_iterations: Number of 3x3 dilations.

    Returns:
        ``(top, bottom, left, right)`` with ``bottom``/``right`` exclusive, so
        ``image[top:bottom, left:right]`` is the crop. If no pixel survives the threshold and
        erosion, the whole image ``(0, H, 0, W)`` (logged at debug level).

    Raises:
        TypeError: ``image`` is not a numpy array, or a parameter has the wrong type.
        ValueError: ``image`` is not a non-empty 2-D image in the expected range, or a parameter is
            out of range.

    Examples:
        >>> image = np.zeros((64, 64), dtype=np.float32)
        >>> image[5:30, 8:60] = 0.8
        >>> brain_bbox(image)  # one pixel wider on each side: the blurred edge still exceeds 45
        (4, 31, 7, 61)
    """
    _check_params(threshold, blur_size, erode_iterations, dilate_iterations)
    gray = _to_gray255(image)
    height, width = gray.shape
    mask = _foreground_mask(gray, float(threshold), blur_size, erode_iterations, dilate_iterations)
    box = _largest_component_box(mask)
    if box is None:
        logger.debug(
            "brain_bbox: no pixel above threshold %s survived blur/erosion in a %dx%d image; "
            "returning the full image box.",
            threshold,
            height,
            width,
        )
        return 0, height, 0, width
    return box


def _check_params(threshold: float, blur_size: int, erode_iterations: int, dilate_iterations: int) -> None:
    if not is_real(threshold):
        raise InvalidTypeError(
            f"threshold must be a number on the 0-255 scale; got {type(threshold).__name__}."
        )
    if not math.isfinite(float(threshold)):
        raise InvalidArgumentError(
            f"threshold must be a finite number on the 0-255 scale (e.g. 45); got {threshold}."
        )
    for name, value in (("erode_iterations", erode_iterations), ("dilate_iterations", dilate_iterations)):
        if not is_int(value):
            raise InvalidTypeError(f"{name} must be an int >= 0; got {type(value).__name__} {value!r}.")
        if value < 0:
            raise InvalidArgumentError(f"{name} must be >= 0 (0 skips the step); got {value}.")
    if not is_int(blur_size):
        raise InvalidTypeError(
            f"blur_size must be an odd int >= 1; got {type(blur_size).__name__} {blur_size!r}."
        )
    if blur_size < 1 or blur_size % 2 == 0:
        raise InvalidArgumentError(
            f"blur_size must be an odd int >= 1 (like cv2.GaussianBlur's ksize; 1 disables the blur); "
            f"got {blur_size}."
        )


def crop_is_plausible(box: tuple[int, int, int, int], shape: tuple[int, int]) -> bool:
    """Whether a :func:`brain_bbox` box looks like a brain, not a collapsed fragment.

    A sanity check of our own (the study has none): the box must cover at least
    :data:`MIN_CROP_AREA` of the slice and be no more elongated than :data:`MAX_CROP_ASPECT`.
    Callers fall back to the uncropped slice when it fails.
    """
    top, bottom, left, right = box
    h, w = bottom - top, right - left
    if h <= 0 or w <= 0:
        return False
    return (h * w) / (shape[0] * shape[1]) >= MIN_CROP_AREA and max(h / w, w / h) <= MAX_CROP_ASPECT


def crop_to_brain(
    image: torch.Tensor, mask: torch.Tensor | None = None, **bbox_kwargs: Any
) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Crop an image (and its mask) to the brain box that :func:`brain_bbox` finds on the first channel.

    Args:
        image: ``(C, H, W)`` tensor, float in ``[0, 1]`` (or uint8 in 0-255); ``C = 1`` is typical.
        mask: Optional ``(H, W)`` or ``(1, H, W)`` tensor (any dtype), cropped identically.
        **bbox_kwargs: Passed to :func:`brain_bbox` (``threshold``, ``blur_size``,
            ``erode_iterations``, ``dilate_iterations``).

    Returns:
        ``(image[:, top:bottom, left:right], mask[..., top:bottom, left:right] or None)``. Both are
        views of the inputs; call ``.clone()`` before modifying them in place.

    Raises:
        TypeError: ``image`` or ``mask`` is not a tensor.
        ValueError: the shapes are not as described, or ``image`` is out of range.

    Examples:
        >>> image = torch.zeros(1, 64, 64)
        >>> image[:, 10:40, 20:50] = 0.9
        >>> mask = torch.zeros(64, 64, dtype=torch.bool)
        >>> cropped, cropped_mask = crop_to_brain(image, mask)
        >>> cropped.shape, cropped_mask.shape
        (torch.Size([1, 32, 32]), torch.Size([32, 32]))
    """
    if not isinstance(image, torch.Tensor):
        raise InvalidTypeError(
            f"crop_to_brain expects image as a torch.Tensor of shape (C, H, W); got {type(image).__name__}. "
            "Use brain_bbox for numpy arrays, or torch.from_numpy(array)[None]."
        )
    if image.ndim != 3 or image.shape[0] == 0:
        hint = " Add a channel dimension with image.unsqueeze(0)." if image.ndim == 2 else ""
        raise InvalidArgumentError(
            f"crop_to_brain expects image of shape (C, H, W) with C >= 1; "
            f"got shape {tuple(image.shape)}.{hint}"
        )
    height, width = image.shape[-2:]
    if mask is not None:
        if not isinstance(mask, torch.Tensor):
            raise InvalidTypeError(
                f"crop_to_brain expects mask as a torch.Tensor of shape (H, W) or (1, H, W); "
                f"got {type(mask).__name__}. Convert it with torch.as_tensor(mask)."
            )
        if not (mask.ndim == 2 or (mask.ndim == 3 and mask.shape[0] == 1)) or mask.shape[-2:] != (
            height,
            width,
        ):
            raise InvalidArgumentError(
                f"crop_to_brain expects mask of shape ({height}, {width}) or (1, {height}, {width}) to match "
                f"the image; got {tuple(mask.shape)}. Resize or transpose the mask to the image's size."
            )
    plane = image[0].detach().cpu()
    if plane.is_floating_point():
        plane = plane.float()
    top, bottom, left, right = brain_bbox(plane.numpy(), **bbox_kwargs)
    cropped = image[:, top:bottom, left:right]
    cropped_mask = mask[..., top:bottom, left:right] if mask is not None else None
    return cropped, cropped_mask
