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

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from numpy.typing import NDArray
from PIL import Image, ImageDraw

from ..errors import InvalidArgumentError
from ._drawing import (
    COLORMAPS,
    FIGURE_FORMATS,
    Colormap,
    HeatmapLike,
    ImageLike,
    Stats,
    colorize,
    draw_outline,
    overlay_heatmap,
    write_figure,
)
from ._grid_layout import BACKGROUND, draw_cells, draw_title_colorbar_legend, grid_cells, grid_layout

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
    cells = grid_cells(
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
    layout = grid_layout(cells, class_names, ncols, tile, title, colorbar, legend, ids)
    grid = Image.new("RGB", (layout.width, layout.height), BACKGROUND)
    grid.info["legend"] = [label for _, label in layout.legend_entries]
    draw = ImageDraw.Draw(grid)
    draw_cells(grid, draw, cells, layout, alpha=alpha, colormap=colormap, mean=mean, std=std)
    draw_title_colorbar_legend(grid, draw, layout, title=title, colormap=colormap, colorbar=colorbar)
    return grid


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
    return write_figure(img, path)


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
    return write_figure(explanation_grid(images, heatmaps, **kwargs), path)
