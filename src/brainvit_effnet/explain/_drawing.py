"""Drawing one picture: colour maps, input checks, heatmap overlays, tumour outlines, and
writing a figure file (PNG, or PDF and SVG through matplotlib).

The public functions are documented, and imported, through :mod:`brainvit_effnet.explain.overlay`.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from .._atomic import write_atomically
from .._checks import is_int
from .._tensors import to_numpy as _to_numpy
from ..errors import InvalidArgumentError, InvalidTypeError

logger = logging.getLogger("brainvit_effnet.explain.overlay")


#: Names accepted by ``colormap=``.
Colormap: TypeAlias = Literal["jet", "inferno", "viridis"]

#: An image: tensor/array ``(C, H, W)`` with ``C`` in {1, 3}, ``(H, W)``, or a PIL image.
ImageLike: TypeAlias = "torch.Tensor | NDArray[Any] | Image.Image"
#: A heatmap: tensor/array ``(H, W)``.
HeatmapLike: TypeAlias = "torch.Tensor | NDArray[Any]"
#: Mean/std for un-normalising: one float, or one per channel.
Stats: TypeAlias = "float | Sequence[float] | None"
RGB: TypeAlias = tuple[int, int, int]

# -- colour maps ------------------------------------------------------------------------------------
_LUT_SIZE = 256


def _lut(name: str) -> NDArray[np.uint8]:
    """matplotlib's colour map ``name`` sampled into a read-only ``(256, 3)`` uint8 table."""
    import matplotlib

    table = matplotlib.colormaps[name](np.linspace(0.0, 1.0, _LUT_SIZE))[:, :3]
    lut = np.clip(np.rint(table * 255.0), 0, 255).astype(np.uint8)
    lut.setflags(write=False)
    return lut


#: 256-entry RGB lookup tables ``(256, 3)`` uint8, by colour-map name: matplotlib's own maps.
COLORMAPS: dict[str, NDArray[np.uint8]] = {name: _lut(name) for name in ("jet", "inferno", "viridis")}


#: How far outside [0, 1] a heatmap or un-normalised image may stray (float rounding) before it is refused.
_RANGE_ATOL = 1e-3

#: File suffixes :func:`save_grid` and :func:`save_overlay` write (PDF and SVG through matplotlib).
FIGURE_FORMATS = (".png", ".pdf", ".svg")


# -- input conversion -------------------------------------------------------------------------------
def check_heatmap(heatmap: HeatmapLike, name: str = "heatmap") -> NDArray[np.float32]:
    h = _to_numpy(heatmap, name)
    if h.ndim != 2:
        raise InvalidArgumentError(
            f"{name} must have shape (H, W); got shape {tuple(h.shape)}. "
            "Pass one sample's map (e.g. heatmaps[i]), squeezing any channel dimension."
        )
    if h.dtype == np.bool_ or not (np.issubdtype(h.dtype, np.floating) or np.issubdtype(h.dtype, np.integer)):
        raise InvalidTypeError(f"{name} must be a float array with values in [0, 1]; got dtype {h.dtype}.")
    h = h.astype(np.float32)
    if not np.isfinite(h).all():
        raise InvalidArgumentError(
            f"{name} contains NaN or infinite values; replace them (np.nan_to_num) first."
        )
    lo, hi = float(h.min()), float(h.max())
    if lo < -_RANGE_ATOL or hi > 1.0 + _RANGE_ATOL:
        raise InvalidArgumentError(
            f"{name} values must lie in [0, 1]; got range [{lo:.4g}, {hi:.4g}]. "
            "Min-max normalise it first: (h - h.min()) / (h.max() - h.min())."
        )
    return np.clip(h, 0.0, 1.0)


def _stats_vector(value: float | Sequence[float], name: str, channels: int) -> NDArray[np.float32]:
    vec = np.atleast_1d(np.asarray(value, dtype=np.float32))
    if vec.ndim != 1 or vec.size not in (1, channels):
        raise InvalidArgumentError(
            f"{name} must be one float or {channels} per-channel values; got {np.asarray(value).tolist()}. "
            "Pass the mean/std the model inputs were normalised with."
        )
    if not np.isfinite(vec).all():
        raise InvalidArgumentError(f"{name} must be finite; got {vec.tolist()}.")
    return np.broadcast_to(vec, (channels,)).astype(np.float32)


def _image_to_grey(image: ImageLike, mean: Stats = None, std: Stats = None) -> NDArray[np.float32]:
    """Return the image as an ``(H, W)`` float32 grey array in ``[0, 1]``."""
    if isinstance(image, Image.Image):
        if mean is not None or std is not None:
            raise InvalidArgumentError(
                "mean/std un-normalise a model input tensor; got them with a PIL image. "
                "Drop mean/std, or pass the normalised tensor instead of a PIL image."
            )
        return np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    arr = _to_numpy(image, "image")
    if arr.ndim == 2:
        arr = arr[None]
    if arr.ndim != 3 or arr.shape[0] not in (1, 3):
        raise InvalidArgumentError(
            f"image must have shape (1, H, W), (3, H, W) or (H, W); got {tuple(arr.shape)}. "
            "Pass one sample (images[i]) in channels-first layout."
        )
    if (
        not (np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer))
        or arr.dtype == np.bool_
    ):
        raise InvalidTypeError(f"image must be a float array; got dtype {arr.dtype}.")
    if np.issubdtype(arr.dtype, np.integer):
        raise InvalidTypeError(
            f"image must be float in [0, 1]; got integer dtype {arr.dtype}. "
            "Divide uint8 images by 255, or pass a PIL image."
        )
    arr = arr.astype(np.float32)
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("image contains NaN or infinite values.")
    channels = arr.shape[0]
    if (mean is None) != (std is None):
        raise InvalidArgumentError("pass both mean and std to un-normalise the image, or neither.")
    if mean is not None and std is not None:
        m = _stats_vector(mean, "mean", channels)
        s = _stats_vector(std, "std", channels)
        if (s <= 0).any():
            raise InvalidArgumentError(f"std must be > 0; got {s.tolist()}.")
        arr = arr * s[:, None, None] + m[:, None, None]
    lo, hi = float(arr.min()), float(arr.max())
    if lo < -_RANGE_ATOL or hi > 1.0 + _RANGE_ATOL:
        hint = (
            "Check that mean/std are the ones the input was normalised with."
            if mean is not None
            else "It looks normalised: pass the mean= and std= it was normalised with."
        )
        raise InvalidArgumentError(
            f"image values must lie in [0, 1] for display; got range [{lo:.4g}, {hi:.4g}]. {hint}"
        )
    arr = np.clip(arr, 0.0, 1.0)
    if channels == 3:
        weights = np.array([0.299, 0.587, 0.114], dtype=np.float32)
        return np.tensordot(weights, arr, axes=1).astype(np.float32)
    return arr[0]


def _resize_float(h: NDArray[np.float32], size_hw: tuple[int, int]) -> NDArray[np.float32]:
    """Bilinear resize of an ``(H, W)`` float map (``align_corners=False``)."""
    if h.shape == size_hw:
        return h
    t = torch.from_numpy(np.ascontiguousarray(h))[None, None]
    out = F.interpolate(t, size=size_hw, mode="bilinear", align_corners=False)[0, 0].numpy()
    return np.clip(out, 0.0, 1.0).astype(np.float32)


def check_color(color: Sequence[int], name: str = "color") -> RGB:
    vals = tuple(color)
    if len(vals) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in vals):
        raise InvalidArgumentError(f"{name} must be an (R, G, B) tuple of ints in [0, 255]; got {color!r}.")
    return (int(vals[0]), int(vals[1]), int(vals[2]))


# -- overlays and outlines -------------------------------------------------------------------------
def colorize(heatmap: HeatmapLike, colormap: Colormap = "inferno") -> NDArray[np.uint8]:
    """Map a heatmap to RGB colours with a built-in colour map.

    Args:
        heatmap: ``(H, W)`` float map in ``[0, 1]`` (torch or numpy).
        colormap: ``"jet"``, ``"inferno"`` or ``"viridis"`` (matplotlib's tables, 256 entries).

    Returns:
        ``(H, W, 3)`` uint8 RGB array.

    Raises:
        ValueError: on a wrong shape, values outside ``[0, 1]``, NaNs, or an unknown colour map.
        TypeError: if ``heatmap`` is not a float tensor/array.

    Examples:
        >>> import numpy as np
        >>> colorize(np.array([[0.0, 1.0]]), "jet").tolist()
        [[[0, 0, 128], [128, 0, 0]]]
    """
    if colormap not in COLORMAPS:
        raise InvalidArgumentError(f"colormap must be one of {sorted(COLORMAPS)}; got {colormap!r}.")
    h = check_heatmap(heatmap)
    idx = np.rint(h * (_LUT_SIZE - 1)).astype(np.intp)
    return COLORMAPS[colormap][idx]


def overlay_heatmap(
    image: ImageLike,
    heatmap: HeatmapLike,
    alpha: float = 0.45,
    colormap: Colormap = "inferno",
    mean: Stats = None,
    std: Stats = None,
) -> Image.Image:
    """Blend a coloured heatmap over the grey MRI slice.

    Each pixel is ``grey * (1 - a) + colour * a`` with ``a = alpha * heatmap``, so pixels with zero
    attribution stay exactly grey. The heatmap is resized bilinearly to the image if sizes differ.

    Args:
        image: ``(1, H, W)``, ``(3, H, W)`` or ``(H, W)`` float in ``[0, 1]`` (torch or numpy), or a PIL
            image. A normalised model input is accepted together with its ``mean``/``std``.
        heatmap: ``(h, w)`` float map in ``[0, 1]``.
        alpha: Opacity of the colour where the heatmap is 1, in ``[0, 1]``.
        colormap: ``"jet"``, ``"inferno"`` or ``"viridis"``.
        mean: Normalisation mean (one value or one per channel) to undo, ``x * std + mean``.
        std: Normalisation standard deviation, like ``mean``.

    Returns:
        RGB PIL image of size ``(W, H)``.

    Raises:
        ValueError: on bad shapes, ranges, ``alpha`` or ``mean``/``std``.
        TypeError: on non-array inputs or integer images.

    Examples:
        >>> import torch
        >>> x = (torch.rand(3, 32, 32) - 0.5) / 0.25          # a normalised model input
        >>> img = overlay_heatmap(x, torch.rand(8, 8), mean=0.5, std=0.25)
        >>> img.size, img.mode
        ((32, 32), 'RGB')
    """
    if not (isinstance(alpha, (int, float)) and 0.0 <= float(alpha) <= 1.0):
        raise InvalidArgumentError(f"alpha must be a float in [0, 1]; got {alpha!r}.")
    if colormap not in COLORMAPS:
        raise InvalidArgumentError(f"colormap must be one of {sorted(COLORMAPS)}; got {colormap!r}.")
    grey = _image_to_grey(image, mean, std)
    h = check_heatmap(heatmap)
    if h.shape != grey.shape:
        logger.debug("resizing heatmap %s to image size %s", h.shape, grey.shape)
        h = _resize_float(h, (grey.shape[0], grey.shape[1]))
    colours = colorize(h, colormap)
    a = (float(alpha) * h)[..., None]
    grey_rgb = np.repeat(grey[..., None] * 255.0, 3, axis=2)
    out = grey_rgb * (1.0 - a) + colours.astype(np.float32) * a
    return Image.fromarray(np.clip(np.rint(out), 0, 255).astype(np.uint8), mode="RGB")


def _mask_boundary(mask: NDArray[np.bool_], width: int) -> NDArray[np.bool_]:
    """Pixels of ``mask`` within ``width`` 4-connected steps of the outside (image edge counts as outside)."""
    inner = mask.copy()
    for _ in range(width):
        padded = np.pad(inner, 1, mode="constant", constant_values=False)
        inner = (
            padded[1:-1, 1:-1] & padded[:-2, 1:-1] & padded[2:, 1:-1] & padded[1:-1, :-2] & padded[1:-1, 2:]
        )
    return mask & ~inner


def check_outline_or_mask(
    outline: NDArray[Any] | torch.Tensor, size_hw: tuple[int, int]
) -> tuple[Literal["outline", "mask"], NDArray[Any]]:
    arr = _to_numpy(outline, "outline")
    if arr.dtype == np.bool_:
        if arr.shape != size_hw:
            raise InvalidArgumentError(
                f"mask must have the image's shape {size_hw} (H, W); got {tuple(arr.shape)}. "
                "Resize it with nearest-neighbour interpolation first."
            )
        return "mask", arr
    if arr.ndim != 2 or arr.shape[1] != 2:
        raise InvalidArgumentError(
            f"outline must be a (K, 2) float array of (x=column, y=row) points or an (H, W) bool mask; "
            f"got shape {tuple(arr.shape)} dtype {arr.dtype}. Convert a 0/1 mask with mask.astype(bool)."
        )
    arr = arr.astype(np.float64)
    if not np.isfinite(arr).all():
        raise InvalidArgumentError("outline contains NaN or infinite coordinates.")
    return "outline", arr


def draw_outline(
    image: Image.Image,
    outline: NDArray[Any] | torch.Tensor,
    color: Sequence[int] = (0, 255, 0),
    width: int = 1,
) -> Image.Image:
    """Draw a tumour outline (closed polygon) or a mask's boundary on a copy of ``image``.

    Args:
        image: PIL image (converted to RGB); it is not modified.
        outline: ``(K, 2)`` float array of ``(x=column, y=row)`` pixel coordinates, drawn as a closed
            polygon through the points (``K == 1`` draws a point, ``K == 0`` draws nothing); or an
            ``(H, W)`` bool mask of the image's size, whose boundary pixels (inside the mask, within
            ``width`` 4-connected steps of the outside or the image edge) are coloured.
        color: ``(R, G, B)`` ints in ``[0, 255]``.
        width: Line width in pixels, ``>= 1``.

    Returns:
        A new RGB PIL image.

    Raises:
        ValueError: on a bad outline/mask shape, non-finite points, colour or width.
        TypeError: if ``image`` is not a PIL image.

    Examples:
        >>> import numpy as np
        >>> from PIL import Image
        >>> img = Image.new("RGB", (32, 32))
        >>> square = np.array([[4.0, 4.0], [20.0, 4.0], [20.0, 12.0], [4.0, 12.0]])
        >>> draw_outline(img, square).getpixel((4, 4))
        (0, 255, 0)
    """
    if not isinstance(image, Image.Image):
        raise InvalidTypeError(
            f"image must be a PIL.Image.Image; got {type(image).__name__}. "
            "Make one with overlay_heatmap(...) or Image.fromarray(...)."
        )
    if not is_int(width) or width < 1:
        raise InvalidArgumentError(f"width must be an int >= 1; got {width!r}.")
    rgb = check_color(color)
    out = image.convert("RGB")  # always a copy
    kind, arr = check_outline_or_mask(outline, (out.height, out.width))
    if kind == "mask":
        boundary = _mask_boundary(arr, int(width))
        pixels = np.array(out)
        pixels[boundary] = rgb
        return Image.fromarray(pixels, mode="RGB")
    if len(arr) == 0:
        logger.debug("empty outline: nothing drawn")
        return out
    draw = ImageDraw.Draw(out)
    points = [(float(x), float(y)) for x, y in arr]
    if len(points) == 1:
        draw.point(points, fill=rgb)
    else:
        draw.line([*points, points[0]], fill=rgb, width=int(width), joint="curve" if width > 2 else None)
    return out


def _save_vector(image: Image.Image, fh: Any, fmt: str) -> None:
    """The picture, pixel for pixel, as a one-page PDF or an SVG (matplotlib, no axes or margins).

    The tiles are pixels whatever the container; PDF and SVG let a paper place the figure at any
    size and keep the file's metadata clean (no creation date: the same grid gives the same file).
    """
    import matplotlib

    matplotlib.use("Agg")  # no display needed; harmless when a backend is already in use
    from matplotlib.figure import Figure  # no pyplot: no global figure state

    dpi = 100
    fig = Figure(figsize=(image.width / dpi, image.height / dpi), dpi=dpi)
    fig.figimage(np.asarray(image.convert("RGB")), xo=0, yo=0, origin="upper", resize=False)
    metadata = {"Creator": "brainvit-effnet", "CreationDate": None} if fmt == "pdf" else {"Date": None}
    with matplotlib.rc_context({"svg.hashsalt": "brainvit-effnet"}):  # fixed SVG ids, not random ones
        fig.savefig(fh, format=fmt, dpi=dpi, metadata=metadata)


def write_figure(image: Image.Image, path: str | os.PathLike[str]) -> Path:
    """Write ``image`` as PNG, PDF or SVG (by the suffix of ``path``), atomically."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix not in FIGURE_FORMATS:
        raise InvalidArgumentError(
            f"path must end in .png, .pdf or .svg; got {str(target)!r}. Use one of those file names."
        )
    if suffix == ".png":
        write_atomically(target, lambda fh: image.save(fh, format="PNG"))
    else:
        write_atomically(target, lambda fh: _save_vector(image, fh, suffix[1:]))
    logger.debug("wrote %s", target)
    return target
