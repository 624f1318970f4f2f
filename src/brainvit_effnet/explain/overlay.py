"""Pictures of explanations: colour maps, heatmap overlays, tumour outlines and captioned grids.

PIL, numpy and torch draw everything (no OpenCV); the colour maps are matplotlib's. The conventions are:

* ``image``: the MRI slice as a float tensor or array ``(1, H, W)``, ``(3, H, W)`` or ``(H, W)`` with
  values in ``[0, 1]``, or a PIL image. A model input that was normalised with ``(x - mean) / std``
  is shown correctly when the same ``mean``/``std`` are passed. The slice is always drawn in grey
  (a three-channel image is reduced with the ITU-R 601-2 luma weights, like PIL's ``convert("L")``,
  which returns the slice itself when the channels are copies of one slice);
* ``heatmap``: ``(H, W)`` float in ``[0, 1]`` (torch or numpy); it is resized bilinearly to the image
  when the sizes differ;
* ``outline``: ``(K, 2)`` float array of ``(x=column, y=row)`` pixel coordinates of the tumour border;
* ``mask``: ``(H, W)`` bool array, ``True`` inside the tumour.

The overlay's per-pixel opacity is ``alpha * heatmap``: a pixel with zero attribution keeps its
grey value exactly and only attributed pixels are tinted, whatever the colour map gives for 0.

Examples:
    >>> import torch
    >>> from brainvit_effnet.explain.overlay import explanation_grid, overlay_heatmap
    >>> image = torch.rand(1, 64, 64)
    >>> heat = torch.zeros(64, 64)
    >>> heat[20:40, 20:40] = 1.0
    >>> overlay_heatmap(image, heat).size
    (64, 64)
    >>> grid = explanation_grid(image[None], heat[None], true_labels=[0], pred_labels=[0],
    ...                         probs=[0.9], class_names=["glioma", "meningioma", "pituitary"])
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, TypeAlias

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .._atomic import write_atomically
from .._checks import is_int
from .._tensors import to_numpy as _to_numpy
from ..errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "COLORMAPS",
    "FIGURE_FORMATS",
    "Colormap",
    "colorize",
    "draw_outline",
    "explanation_grid",
    "overlay_heatmap",
    "save_grid",
    "save_overlay",
]

logger = logging.getLogger(__name__)

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

# -- grid layout ------------------------------------------------------------------------------------
_GRID_PADDING = 4
_BACKGROUND: RGB = (0, 0, 0)
_CAPTION_CORRECT: RGB = (0, 140, 0)
_CAPTION_WRONG: RGB = (190, 0, 0)
_CAPTION_UNKNOWN: RGB = (70, 70, 70)
_TEXT: RGB = (255, 255, 255)
_RANGE_ATOL = 1e-3
_CAPTION_MEANING = {
    _CAPTION_CORRECT: "caption: prediction correct",
    _CAPTION_WRONG: "caption: prediction wrong",
    _CAPTION_UNKNOWN: "caption: true label unknown",
}
_OUTLINE_LABEL = "outline: tumour mask"

#: File suffixes :func:`save_grid` and :func:`save_overlay` write (PDF and SVG through matplotlib).
FIGURE_FORMATS = (".png", ".pdf", ".svg")


# -- input conversion -------------------------------------------------------------------------------
def _check_heatmap(heatmap: HeatmapLike, name: str = "heatmap") -> NDArray[np.float32]:
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


def _check_color(color: Sequence[int], name: str = "color") -> RGB:
    vals = tuple(color)
    if len(vals) != 3 or not all(isinstance(v, (int, np.integer)) and 0 <= v <= 255 for v in vals):
        raise InvalidArgumentError(f"{name} must be an (R, G, B) tuple of ints in [0, 255]; got {color!r}.")
    return (int(vals[0]), int(vals[1]), int(vals[2]))


# -- public functions -------------------------------------------------------------------------------
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
    h = _check_heatmap(heatmap)
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
    h = _check_heatmap(heatmap)
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


def _check_outline_or_mask(
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
    rgb = _check_color(color)
    out = image.convert("RGB")  # always a copy
    kind, arr = _check_outline_or_mask(outline, (out.height, out.width))
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


def _atomic_save_png(image: Image.Image, path: str | os.PathLike[str]) -> Path:
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


def save_overlay(
    path: str | os.PathLike[str],
    image: ImageLike,
    heatmap: HeatmapLike,
    outline: NDArray[Any] | torch.Tensor | None = None,
    *,
    outline_color: Sequence[int] = (0, 255, 0),
    outline_width: int = 1,
    **kw: Any,
) -> Path:
    """Write :func:`overlay_heatmap` (plus an optional outline) as a PNG, PDF or SVG, atomically.

    The file is written to a temporary file in the same folder and moved into place with
    ``os.replace``, so readers never see a half-written file; parent folders are created.

    Args:
        path: Destination, ending in ``.png``, ``.pdf`` or ``.svg`` (the format).
        image: As for :func:`overlay_heatmap`.
        heatmap: As for :func:`overlay_heatmap`.
        outline: Optional ``(K, 2)`` outline or ``(H, W)`` bool mask, as for :func:`draw_outline`.
        outline_color: Outline colour ``(R, G, B)``.
        outline_width: Outline width in pixels.
        **kw: ``alpha``, ``colormap``, ``mean``, ``std`` for :func:`overlay_heatmap`.

    Returns:
        The written path.

    Examples:
        >>> import torch
        >>> save_overlay("out/case_0.png", torch.rand(1, 64, 64), torch.rand(64, 64))  # doctest: +SKIP
        PosixPath('out/case_0.png')
    """
    img = overlay_heatmap(image, heatmap, **kw)
    if outline is not None:
        img = draw_outline(img, outline, color=outline_color, width=outline_width)
    return _atomic_save_png(img, path)


# -- grids ------------------------------------------------------------------------------------------
def _split_batch(x: Any, name: str, ndim_item: int) -> list[Any]:
    """Split a batched tensor/array along dim 0, or accept a sequence of items."""
    if isinstance(x, (torch.Tensor, np.ndarray)):
        if x.ndim == ndim_item + 1:
            return list(x)
        raise InvalidArgumentError(
            f"{name} as one tensor/array must be batched with {ndim_item + 1} dimensions; "
            f"got shape {tuple(x.shape)}. Add a batch dimension (x[None]) or pass a list."
        )
    if isinstance(x, (list, tuple)):
        return list(x)
    raise InvalidTypeError(f"{name} must be a tensor/array or a list of them; got {type(x).__name__}.")


def _label_list(labels: Any, name: str, n: int) -> list[Any] | None:
    if labels is None:
        return None
    items = (
        _to_numpy(labels, name).tolist() if isinstance(labels, (torch.Tensor, np.ndarray)) else list(labels)
    )
    if len(items) != n:
        raise InvalidArgumentError(f"{name} must have one entry per image ({n}); got {len(items)}.")
    return items


def _label_name(label: Any, class_names: Sequence[str] | None, name: str) -> str:
    if isinstance(label, str):
        return label
    if is_int(label):
        if class_names is None:
            return str(int(label))
        if not 0 <= int(label) < len(class_names):
            raise InvalidArgumentError(
                f"{name} {int(label)} is outside class_names (0..{len(class_names) - 1}); "
                "pass the class_names the model was trained with."
            )
        return class_names[int(label)]
    raise InvalidTypeError(
        f"{name} entries must be ints (class indices) or str (class names); got {label!r}."
    )


def _fit_font_text(
    draw: ImageDraw.ImageDraw,
    text: str,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    max_w: int,
    suffix: str = "",
) -> str:
    """``text + suffix``, with ``text`` cut and ended with "..." when the whole is wider than ``max_w``."""
    if draw.textlength(text + suffix, font=font) <= max_w:
        return text + suffix
    while text and draw.textlength(text + "..." + suffix, font=font) > max_w:
        text = text[:-1]
    return text + "..." + suffix


def _caption_lines(
    true_name: str | None,
    pred_name: str | None,
    prob: float | None,
    draw: ImageDraw.ImageDraw,
    font: ImageFont.ImageFont | ImageFont.FreeTypeFont,
    max_w: int,
) -> list[str]:
    parts: list[tuple[str, str]] = []  # (text that may be cut, suffix that is kept)
    if true_name is not None:
        parts.append((f"true: {true_name}", ""))
    if pred_name is not None or prob is not None:
        pred = f"pred: {pred_name}" if pred_name is not None else "p"
        parts.append((pred, f" {prob:.2f}" if prob is not None else ""))
    if not parts:
        return []
    one_line = " | ".join(text + suffix for text, suffix in parts)
    if draw.textlength(one_line, font=font) <= max_w:
        return [one_line]
    return [_fit_font_text(draw, text, font, max_w, suffix) for text, suffix in parts]


def _fit_size(h: int, w: int, tile: int) -> tuple[int, int]:
    scale = tile / max(h, w)
    return max(1, round(h * scale)), max(1, round(w * scale))


def _tile_outline(
    outline: Any, mask: Any, src_hw: tuple[int, int], dst_hw: tuple[int, int], index: int
) -> NDArray[Any] | None:
    """Outline polygon or mask rescaled from the source image size to the tile size."""
    sy, sx = dst_hw[0] / src_hw[0], dst_hw[1] / src_hw[1]
    if outline is not None:
        kind, arr = _check_outline_or_mask(outline, src_hw)
        if kind == "outline":
            # pixel centres: x' + 0.5 = (x + 0.5) * scale
            return np.stack([(arr[:, 0] + 0.5) * sx - 0.5, (arr[:, 1] + 0.5) * sy - 0.5], axis=1)
        mask = arr
    if mask is None:
        return None
    m = _to_numpy(mask, f"masks[{index}]")
    if m.dtype != np.bool_ or m.shape != src_hw:
        raise InvalidArgumentError(
            f"masks[{index}] must be an (H, W) bool array of the image's shape {src_hw}; "
            f"got shape {tuple(m.shape)} dtype {m.dtype}."
        )
    resized = Image.fromarray(m.astype(np.uint8) * 255).resize(
        (dst_hw[1], dst_hw[0]), Image.Resampling.NEAREST
    )
    return np.asarray(resized) > 127


def explanation_grid(
    images: Any,
    heatmaps: Any,
    *,
    true_labels: Any = None,
    pred_labels: Any = None,
    probs: Any = None,
    class_names: Sequence[str] | None = None,
    outlines: Sequence[Any] | None = None,
    masks: Any = None,
    ncols: int = 4,
    tile: int = 192,
    mean: Stats = None,
    std: Stats = None,
    title: str | None = None,
    alpha: float = 0.45,
    colormap: Colormap = "inferno",
    outline_color: Sequence[int] = (0, 255, 0),
    colorbar: bool = True,
    legend: bool | None = None,
    ids: Sequence[str] | None = None,
) -> Image.Image:
    """Lay out one captioned overlay tile per sample.

    Tiles run left to right, top to bottom, ``min(ncols, B)`` columns and ``ceil(B / ncols)`` rows,
    with a 4-pixel black gap around every cell. Each cell is an overlay fitted into a ``tile`` x
    ``tile`` square (aspect kept, centred) with the tumour outline drawn on it when known, above a
    caption band such as ``"true: glioma | pred: meningioma 0.87"`` in PIL's default font (wrapped
    onto two lines when too wide). The band is green when the prediction is right, red when it is
    wrong, and grey when either label is missing. ``title`` adds a band across the top.

    Args:
        images: ``(B, C, H, W)`` tensor/array or a list of ``B`` images (any form accepted by
            :func:`overlay_heatmap`; sizes may differ between samples).
        heatmaps: ``(B, h, w)`` tensor/array or a list of ``B`` ``(h, w)`` maps in ``[0, 1]``.
        true_labels: ``B`` class indices or names, or ``None``.
        pred_labels: ``B`` class indices or names, or ``None``; derived from ``probs`` by argmax when
            ``probs`` is ``(B, C)`` and this is ``None``.
        probs: ``B`` probabilities of the predicted class, or ``(B, C)`` class probabilities (the
            predicted class's entry is shown), or ``None``.
        class_names: Names for integer labels; integers are shown as numbers without it.
        outlines: ``B`` entries, each a ``(K, 2)`` outline in the image's pixel coordinates, an
            ``(H, W)`` bool mask, or ``None``.
        masks: ``(B, H, W)`` bool or ``B`` entries (``None`` allowed); used for samples without an
            outline (an outline wins when both are given).
        ncols: Maximum number of columns, ``>= 1``.
        tile: Tile edge in pixels, ``>= 16``.
        mean: Normalisation mean to undo on ``images``, as for :func:`overlay_heatmap`.
        std: Normalisation standard deviation, like ``mean``.
        title: Optional title drawn above the grid.
        alpha: Overlay opacity, as for :func:`overlay_heatmap`.
        colormap: Colour map name.
        colorbar: Add a colour bar under the tiles: the colour map from 0 (no relevance) to 1
            (the most relevant pixel of each map; every heatmap is min-max scaled on its own).
        outline_color: Outline colour ``(R, G, B)``.
        legend: Add a legend under the tiles (and the colour bar): a swatch and a label for the
            outline colour when an outline is drawn and for each caption colour in use ("caption:
            prediction correct" / "wrong" / "true label unknown"). ``None`` (default): with the
            colour bar.
        ids: ``B`` names of the samples (e.g. the slice's file name), shown as the first caption
            line so a tile can be traced back to its slice; ``None`` shows none.

    Returns:
        RGB PIL image of width ``cols * tile + (cols + 1) * 4``. Its ``info["legend"]`` lists the
        legend's labels, in order (empty without a legend).

    Raises:
        ValueError: on mismatched lengths, bad shapes, labels outside ``class_names``, bad layout.
        TypeError: on unsupported input types.

    Examples:
        >>> import torch
        >>> grid = explanation_grid(torch.rand(6, 1, 64, 64), torch.rand(6, 64, 64), ncols=3, tile=96,
        ...                         true_labels=[0, 1, 2, 0, 1, 2], pred_labels=[0, 1, 1, 0, 2, 2],
        ...                         class_names=["glioma", "meningioma", "pituitary"])
        >>> grid.width
        304
    """
    cells = _grid_cells(
        images,
        heatmaps,
        true_labels,
        pred_labels,
        probs,
        class_names,
        outlines,
        masks,
        ncols,
        tile,
        outline_color,
    )
    if ids is not None and len(ids) != cells.n:
        raise InvalidArgumentError(f"ids has {len(ids)} entries for {cells.n} samples; give one per sample.")
    layout = _grid_layout(cells, class_names, ncols, tile, title, colorbar, legend, ids)
    grid = Image.new("RGB", (layout.width, layout.height), _BACKGROUND)
    grid.info["legend"] = [label for _, label in layout.legend_entries]
    draw = ImageDraw.Draw(grid)
    _draw_cells(grid, draw, cells, layout, alpha=alpha, colormap=colormap, mean=mean, std=std)
    _draw_title_colorbar_legend(grid, draw, layout, title=title, colormap=colormap, colorbar=colorbar)
    return grid


@dataclass(frozen=True)
class _GridCells:
    """The checked, per-sample inputs of :func:`explanation_grid` (all lists of length ``n``)."""

    images: list[Any]
    heatmaps: list[Any]
    trues: list[Any] | None
    preds: list[Any] | None
    probs: list[float] | None
    outlines: list[Any]
    masks: list[Any]
    outline_color: RGB

    @property
    def n(self) -> int:
        return len(self.images)


def _grid_cells(
    images: Any,
    heatmaps: Any,
    true_labels: Any,
    pred_labels: Any,
    probs: Any,
    class_names: Sequence[str] | None,
    outlines: Sequence[Any] | None,
    masks: Any,
    ncols: int,
    tile: int,
    outline_color: Sequence[int],
) -> _GridCells:
    """Check :func:`explanation_grid`'s arguments and split them into one entry per sample."""
    if not is_int(ncols) or ncols < 1:
        raise InvalidArgumentError(f"ncols must be an int >= 1; got {ncols!r}.")
    if not is_int(tile) or tile < 16:
        raise InvalidArgumentError(f"tile must be an int >= 16 pixels; got {tile!r}.")
    image_list = _split_batch(images, "images", 3)
    heat_list = _split_batch(heatmaps, "heatmaps", 2)
    n = len(image_list)
    if n == 0:
        raise InvalidArgumentError("images is empty; pass at least one sample.")
    if len(heat_list) != n:
        raise InvalidArgumentError(f"heatmaps must have one map per image ({n}); got {len(heat_list)}.")
    trues = _label_list(true_labels, "true_labels", n)
    preds = _label_list(pred_labels, "pred_labels", n)
    prob_list: list[float] | None = None
    if probs is not None:
        preds, prob_list = _predicted_probs(probs, preds, class_names, n)
    outline_list = list(outlines) if outlines is not None else [None] * n
    mask_list = _split_batch(masks, "masks", 2) if masks is not None else [None] * n
    if len(outline_list) != n or len(mask_list) != n:
        raise InvalidArgumentError(
            f"outlines and masks must have one entry per image ({n}); "
            f"got {len(outline_list)} outlines and {len(mask_list)} masks. Use None for unknown entries."
        )
    colour = _check_color(outline_color, "outline_color")
    return _GridCells(image_list, heat_list, trues, preds, prob_list, outline_list, mask_list, colour)


def _predicted_probs(
    probs: Any, preds: list[Any] | None, class_names: Sequence[str] | None, n: int
) -> tuple[list[Any] | None, list[float]]:
    """``(pred_labels, probability of each predicted class)`` from ``probs`` ``(B,)`` or ``(B, C)``.

    The predicted labels come from the arg-max of ``(B, C)`` probabilities when not given.
    """
    p = np.asarray(_to_numpy(probs, "probs") if isinstance(probs, torch.Tensor) else probs, dtype=np.float64)
    if p.ndim == 2 and p.shape[0] == n:
        if preds is None:
            preds = [int(i) for i in p.argmax(axis=1)]
        idx = []
        for i, lab in enumerate(preds):
            if isinstance(lab, str):
                if class_names is None or lab not in class_names:
                    raise InvalidArgumentError(
                        f"pred_labels[{i}] = {lab!r} cannot index probs (B, C) without it in class_names."
                    )
                idx.append(list(class_names).index(lab))
            else:
                idx.append(int(lab))
        if any(not 0 <= j < p.shape[1] for j in idx):
            raise InvalidArgumentError(f"pred_labels must index probs' {p.shape[1]} columns; got {idx}.")
        return preds, [float(p[i, j]) for i, j in enumerate(idx)]
    if p.ndim == 1 and p.shape[0] == n:
        return preds, [float(v) for v in p]
    raise InvalidArgumentError(
        f"probs must have shape ({n},) (predicted-class probability) or ({n}, C); got {tuple(p.shape)}."
    )


@dataclass(frozen=True)
class _GridLayout:
    """Where everything of an :func:`explanation_grid` goes, in pixels, and what the captions say."""

    font: Any
    line_h: int
    tile: int
    ncols: int
    rows: int
    width: int
    height: int
    title_h: int
    cap_h: int
    bar_h: int
    legend_h: int
    captions: list[tuple[list[str], RGB]]
    shapes: list[Any]
    legend_entries: list[tuple[RGB, str]]
    legend_rows: list[list[tuple[int, tuple[RGB, str]]]]


def _grid_layout(
    cells: _GridCells,
    class_names: Sequence[str] | None,
    ncols: int,
    tile: int,
    title: str | None,
    colorbar: bool,
    legend: bool | None,
    ids: Sequence[str] | None = None,
) -> _GridLayout:
    """Caption text and colour, tile outline, legend entries, and the size of every band."""
    n = cells.n
    font = ImageFont.load_default()
    probe = ImageDraw.Draw(Image.new("RGB", (1, 1)))
    line_h = int(probe.textbbox((0, 0), "Ag|", font=font)[3]) + 2
    text_w = tile - 4

    captions: list[tuple[list[str], RGB]] = []
    for i in range(n):
        t = _label_name(cells.trues[i], class_names, "true_labels") if cells.trues is not None else None
        pr = _label_name(cells.preds[i], class_names, "pred_labels") if cells.preds is not None else None
        pv = cells.probs[i] if cells.probs is not None else None
        lines = _caption_lines(t, pr, pv, probe, font, text_w)
        if ids is not None:
            lines = [_fit_font_text(probe, str(ids[i]), font, text_w, ""), *lines]
        band = (
            _CAPTION_UNKNOWN if t is None or pr is None else (_CAPTION_CORRECT if t == pr else _CAPTION_WRONG)
        )
        captions.append((lines, band))
    n_lines = max((len(lines) for lines, _ in captions), default=0)
    cap_h = n_lines * line_h + 4 if n_lines else 0

    pad = _GRID_PADDING
    cols = min(ncols, n)
    rows = math.ceil(n / ncols)
    title_h = line_h + 2 * pad if title else 0
    width = cols * tile + (cols + 1) * pad
    bar_h = 2 * line_h + 2 * pad if colorbar else 0
    shapes = [
        _tile_outline(cells.outlines[i], cells.masks[i], *_tile_sizes(cells.images[i], tile), i)
        for i in range(n)
    ]
    entries: list[tuple[RGB, str]] = []
    if colorbar if legend is None else legend:
        if any(shape is not None for shape in shapes):
            entries.append((cells.outline_color, _OUTLINE_LABEL))
        if cap_h:
            used = {band for _, band in captions}
            entries += [(band, label) for band, label in _CAPTION_MEANING.items() if band in used]
    legend_rows = _legend_layout(entries, probe, font, width - 2 * pad, line_h)
    legend_h = len(legend_rows) * line_h + 2 * pad if legend_rows else 0
    height = title_h + rows * (tile + cap_h) + (rows + 1) * pad + bar_h + legend_h
    return _GridLayout(
        font=font,
        line_h=line_h,
        tile=tile,
        ncols=ncols,
        rows=rows,
        width=width,
        height=height,
        title_h=title_h,
        cap_h=cap_h,
        bar_h=bar_h,
        legend_h=legend_h,
        captions=captions,
        shapes=shapes,
        legend_entries=entries,
        legend_rows=legend_rows,
    )


def _draw_cells(
    grid: Image.Image,
    draw: ImageDraw.ImageDraw,
    cells: _GridCells,
    layout: _GridLayout,
    *,
    alpha: float,
    colormap: Colormap,
    mean: Stats,
    std: Stats,
) -> None:
    """Paste each sample's overlay (with its outline) into its cell and draw its caption band."""
    pad, tile, cap_h, font = _GRID_PADDING, layout.tile, layout.cap_h, layout.font
    for i in range(cells.n):
        r, c = divmod(i, layout.ncols)
        x0 = pad + c * (tile + pad)
        y0 = layout.title_h + pad + r * (tile + cap_h + pad)
        overlay = overlay_heatmap(
            cells.images[i], cells.heatmaps[i], alpha=alpha, colormap=colormap, mean=mean, std=std
        )
        src_hw = (overlay.height, overlay.width)
        dst_hw = _fit_size(*src_hw, tile)
        overlay = overlay.resize((dst_hw[1], dst_hw[0]), Image.Resampling.BILINEAR)
        shape = layout.shapes[i]
        if shape is not None:
            overlay = draw_outline(overlay, shape, color=cells.outline_color, width=1)
        grid.paste(overlay, (x0 + (tile - dst_hw[1]) // 2, y0 + (tile - dst_hw[0]) // 2))
        lines, band = layout.captions[i]
        if cap_h:
            draw.rectangle((x0, y0 + tile, x0 + tile - 1, y0 + tile + cap_h - 1), fill=band)
            for k, line in enumerate(lines):
                draw.text((x0 + 2, y0 + tile + 2 + k * layout.line_h), line, fill=_TEXT, font=font)


def _draw_title_colorbar_legend(
    grid: Image.Image,
    draw: ImageDraw.ImageDraw,
    layout: _GridLayout,
    *,
    title: str | None,
    colormap: Colormap,
    colorbar: bool,
) -> None:
    """Draw the bands around the cells: the title on top, the colour bar and the legend below."""
    pad, font, line_h, height = _GRID_PADDING, layout.font, layout.line_h, layout.height
    if title:
        draw.text(
            (pad, pad), _fit_font_text(draw, title, font, layout.width - 2 * pad), fill=_TEXT, font=font
        )
    if colorbar:
        top = height - layout.legend_h - layout.bar_h
        _draw_colorbar(grid, draw, font, colormap, top=top, height=line_h, pad=pad)
    for k, row in enumerate(layout.legend_rows):
        y = height - layout.legend_h + pad + k * line_h
        for x, (swatch, label) in row:
            draw.rectangle((x, y + 1, x + line_h - 4, y + line_h - 3), fill=swatch, outline=_TEXT)
            draw.text((x + line_h, y), label, fill=_TEXT, font=font)


def _tile_sizes(image: Any, tile: int) -> tuple[tuple[int, int], tuple[int, int]]:
    """(source, tile) sizes ``(H, W)`` of one image in the grid."""
    if isinstance(image, Image.Image):
        src_hw = (image.height, image.width)
    else:
        shape = tuple(_to_numpy(image, "image").shape)
        src_hw = (int(shape[-2]), int(shape[-1]))
    return src_hw, _fit_size(*src_hw, tile)


def _legend_layout(
    entries: Sequence[tuple[RGB, str]], draw: ImageDraw.ImageDraw, font: Any, max_w: int, line_h: int
) -> list[list[tuple[int, tuple[RGB, str]]]]:
    """Legend entries placed left to right, wrapped onto new rows: rows of ``(x, entry)``."""
    rows: list[list[tuple[int, tuple[RGB, str]]]] = []
    x = _GRID_PADDING
    for entry in entries:
        w = line_h + int(draw.textlength(entry[1], font=font)) + 12
        if not rows or (x + w > max_w + _GRID_PADDING and x > _GRID_PADDING):
            rows.append([])
            x = _GRID_PADDING
        rows[-1].append((x, entry))
        x += w
    return rows


def _draw_colorbar(
    grid: Image.Image,
    draw: ImageDraw.ImageDraw,
    font: Any,
    colormap: Colormap,
    *,
    top: int,
    height: int,
    pad: int,
) -> None:
    """A horizontal strip of the colour map with its ends labelled, at ``top`` of the grid."""
    labels = ("0 low", "relevance (each map scaled to its maximum)", "1 high")
    widths = [int(draw.textbbox((0, 0), t, font=font)[2]) for t in labels]
    length = max(16, grid.width - 2 * pad - widths[0] - widths[2] - 8)
    strip = colorize(np.tile(np.linspace(0.0, 1.0, length), (height, 1)), colormap)
    x = pad + widths[0] + 4
    grid.paste(Image.fromarray(strip, "RGB"), (x, top + pad))
    draw.text((pad, top + pad), labels[0], fill=_TEXT, font=font)
    draw.text((x + length + 4, top + pad), labels[2], fill=_TEXT, font=font)
    draw.text(
        (x + max(0, (length - widths[1]) // 2), top + pad + height + 1), labels[1], fill=_TEXT, font=font
    )


def save_grid(path: str | os.PathLike[str], images: Any, heatmaps: Any, **kwargs: Any) -> Path:
    """Write :func:`explanation_grid` as a PNG, PDF or SVG, atomically (temporary file + ``os.replace``).

    Args:
        path: Destination, ending in ``.png``, ``.pdf`` or ``.svg`` (the format; PDF and SVG hold
            the grid's pixels, through matplotlib); parent folders are created.
        images: As for :func:`explanation_grid`.
        heatmaps: As for :func:`explanation_grid`.
        **kwargs: Keyword arguments of :func:`explanation_grid`.

    Returns:
        The written path.

    Examples:
        >>> save_grid("out/grid.png", images, heatmaps, true_labels=y, probs=p)  # doctest: +SKIP
        PosixPath('out/grid.png')
    """
    return _atomic_save_png(explanation_grid(images, heatmaps, **kwargs), path)
