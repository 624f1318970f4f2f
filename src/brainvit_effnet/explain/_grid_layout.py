"""The layout of :func:`~brainvit_effnet.explain.overlay.explanation_grid`: checked cells, caption
bands, tile sizes, and the title, colour bar and legend drawn around the tiles."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray
from PIL import Image, ImageDraw, ImageFont

from .._checks import is_int
from .._tensors import to_numpy as _to_numpy
from ..errors import InvalidArgumentError, InvalidTypeError
from ._drawing import (
    RGB,
    Colormap,
    Stats,
    check_color,
    check_outline_or_mask,
    colorize,
    draw_outline,
    overlay_heatmap,
)

# -- grid layout ------------------------------------------------------------------------------------
_GRID_PADDING = 4
BACKGROUND: RGB = (0, 0, 0)
_CAPTION_CORRECT: RGB = (0, 140, 0)
_CAPTION_WRONG: RGB = (190, 0, 0)
_CAPTION_UNKNOWN: RGB = (70, 70, 70)
_TEXT: RGB = (255, 255, 255)
_CAPTION_MEANING = {
    _CAPTION_CORRECT: "caption: prediction correct",
    _CAPTION_WRONG: "caption: prediction wrong",
    _CAPTION_UNKNOWN: "caption: true label unknown",
}
_OUTLINE_LABEL = "outline: tumour mask"


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
        kind, arr = check_outline_or_mask(outline, src_hw)
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


def grid_cells(
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
    colour = check_color(outline_color, "outline_color")
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


def grid_layout(
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


def draw_cells(
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


def draw_title_colorbar_legend(
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
