"""Figures: confusion matrix, reliability diagram, training curves (matplotlib's object API, Agg canvas)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from ..errors import InvalidArgumentError, InvalidTypeError
from ._common import (
    _CURVE_METRIC_KEYS,
    _LOSS_KEYS,
    PathLike,
    _check_names,
    _check_number,
    _check_reliability,
    _figure_path,
    _save_figure,
    _square_matrix,
)

__all__ = ["plot_confusion_matrix", "plot_reliability", "plot_training_curves"]


def plot_confusion_matrix(
    matrix: ArrayLike, class_names: Sequence[str], path: PathLike, normalize: bool = True
) -> Path:
    """Draw a confusion matrix as a heat map with the counts written in each cell.

    Args:
        matrix: Square counts, rows = true class, columns = predicted class.
        class_names: One name per row/column.
        path: Output file; ``.png``, ``.pdf`` or ``.svg``. Parent folders are created.
        normalize: Colour cells by the fraction of their row (recall per true class) and add that
            percentage under each count; otherwise colour by the raw counts.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: The matrix is not square, has negative or non-finite entries, or its size does
            not match ``class_names``; or the suffix is not a supported format.
        TypeError: ``class_names`` is not a sequence of strings.

    Examples:
        >>> plot_confusion_matrix([[8, 2], [1, 9]], ["glioma", "pituitary"], "cm.png")
        PosixPath('cm.png')
    """
    names = _check_names(class_names, "class_names")
    counts = _square_matrix(matrix, "matrix")
    if counts.shape[0] != len(names):
        raise InvalidArgumentError(
            f"matrix is {counts.shape[0]}x{counts.shape[1]} but {len(names)} class names were given"
        )
    _figure_path(path)
    k = len(names)
    row_sums = counts.sum(axis=1, keepdims=True)
    fractions = np.divide(counts, row_sums, out=np.zeros_like(counts), where=row_sums > 0)
    colours = fractions if normalize else counts
    vmax = 1.0 if normalize else max(float(counts.max()), 1.0)
    integral = bool(np.all(counts == np.round(counts)))

    side = min(max(4.5, 0.9 * k + 2.0), 16.0)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(colours, cmap="Blues", vmin=0.0, vmax=vmax, interpolation="nearest")
    fig.colorbar(image, ax=ax, label="fraction of true class" if normalize else "count")
    fontsize = max(5.0, min(11.0, 60.0 / k))
    for i in range(k):
        for j in range(k):
            count = f"{int(counts[i, j])}" if integral else f"{counts[i, j]:.3g}"
            text = f"{count}\n{fractions[i, j]:.0%}" if normalize else count
            dark = colours[i, j] > 0.55 * vmax
            ax.text(
                j, i, text, ha="center", va="center", fontsize=fontsize, color="white" if dark else "black"
            )
    ax.set_xticks(range(k), names, rotation=45, ha="right", rotation_mode="anchor")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("Predicted class")
    ax.set_ylabel("True class")
    ax.set_title("Confusion matrix" + (" (colour: row-normalised)" if normalize else ""))
    return _save_figure(fig, path)


def plot_reliability(reliability: Mapping[str, Any], path: PathLike, ece: float | None = None) -> Path:
    """Draw a reliability diagram: accuracy per confidence bin against the diagonal, counts below.

    Args:
        reliability: ``{"bin_edges": [B+1], "confidence": [B], "accuracy": [B], "count": [B]}`` as in
            ``classification_report(...)["reliability"]``; empty bins may hold NaN or None.
        path: Output file; ``.png``, ``.pdf`` or ``.svg``. Parent folders are created.
        ece: Expected calibration error to show in the title, if given.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: A key is missing, the lengths disagree, or the edges are not increasing.

    Examples:
        >>> rel = {"bin_edges": [0, 0.5, 1], "confidence": [0.4, 0.8], "accuracy": [0.3, 0.9],
        ...        "count": [5, 20]}
        >>> plot_reliability(rel, "reliability.png", ece=0.07)
        PosixPath('reliability.png')
    """
    arrays = _check_reliability(reliability, "reliability")
    _check_number(ece, "ece", optional=True)
    _figure_path(path)
    edges, counts = arrays["bin_edges"], arrays["count"]
    confidence, accuracy = arrays["confidence"], arrays["accuracy"]
    widths = np.diff(edges)
    filled = (counts > 0) & np.isfinite(accuracy)

    fig = Figure(figsize=(5.5, 6.0), layout="constrained")
    top, bottom = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.bar(
        edges[:-1][filled],
        accuracy[filled],
        width=widths[filled],
        align="edge",
        color="tab:blue",
        edgecolor="black",
        linewidth=0.6,
        label="accuracy in bin",
    )
    gap = filled & np.isfinite(confidence)
    if np.any(gap):
        top.bar(
            edges[:-1][gap],
            (confidence - accuracy)[gap],
            bottom=accuracy[gap],
            width=widths[gap],
            align="edge",
            fill=False,
            hatch="///",
            edgecolor="tab:red",
            linewidth=0.6,
            label="gap to mean confidence",
        )
    lo, hi = float(min(edges[0], 0.0)), float(max(edges[-1], 1.0))
    top.plot([lo, hi], [lo, hi], linestyle="--", color="gray", label="perfect calibration")
    top.set_xlim(lo, hi)
    top.set_ylim(0.0, 1.0)
    top.set_ylabel("Accuracy")
    top.legend(loc="upper left", fontsize=8)
    title = "Reliability diagram"
    if ece is not None and math.isfinite(float(ece)):
        title += f" (ECE = {float(ece):.4f})"
    top.set_title(title)
    bottom.bar(edges[:-1], counts, width=widths, align="edge", color="gray", edgecolor="black", linewidth=0.6)
    bottom.set_xlabel("Confidence (max predicted probability)")
    bottom.set_ylabel("Count")
    return _save_figure(fig, path)


def _history_series(history: Sequence[Mapping[str, Any]], key: str) -> tuple[list[float], list[float]]:
    xs: list[float] = []
    ys: list[float] = []
    for i, entry in enumerate(history):
        value = entry.get(key)
        if value is None:
            continue
        _check_number(value, f"history[{i}][{key!r}]")
        if not math.isfinite(float(value)):
            continue
        epoch = entry.get("epoch", i + 1)
        _check_number(epoch, f"history[{i}]['epoch']")
        xs.append(float(epoch))
        ys.append(float(value))
    return xs, ys


def _check_history(history: Any) -> list[Mapping[str, Any]]:
    if isinstance(history, (str, bytes, Mapping)) or not isinstance(history, Sequence):
        raise InvalidTypeError(f"history must be a sequence of per-epoch dicts, got {type(history).__name__}")
    if len(history) == 0:
        raise InvalidArgumentError("history is empty")
    for i, entry in enumerate(history):
        if not isinstance(entry, Mapping):
            raise InvalidTypeError(f"history[{i}] must be a mapping, got {type(entry).__name__}")
    return list(history)


def plot_training_curves(history: Sequence[Mapping[str, Any]], path: PathLike) -> Path:
    """Draw loss curves (left) and validation metrics (right) against the epoch.

    Each epoch dict may lack any key: a curve uses the epochs that have it, and a panel with no data
    says so. Without an ``"epoch"`` key an entry's position (1-based) is used.

    Args:
        history: Per-epoch dicts such as ``{"epoch": 3, "train_loss": 0.4, "val_loss": 0.5,
            "val_accuracy": 0.85, "val_macro_f1": 0.83}`` (the trainer's JSONL log, parsed).
        path: Output file; ``.png``, ``.pdf`` or ``.svg``. Parent folders are created.

    Returns:
        ``path`` as a :class:`~pathlib.Path`.

    Raises:
        ValueError: ``history`` is empty.
        TypeError: An entry is not a mapping or holds a non-numeric value for a plotted key.

    Examples:
        >>> history = [{"epoch": 1, "train_loss": 1.0, "val_loss": 0.9, "val_accuracy": 0.6},
        ...            {"epoch": 2, "train_loss": 0.7, "val_accuracy": 0.7}]
        >>> plot_training_curves(history, "curves.png")
        PosixPath('curves.png')
    """
    entries = _check_history(history)
    _figure_path(path)
    fig = Figure(figsize=(10.0, 4.0), layout="constrained")
    loss_ax, metric_ax = fig.subplots(1, 2, sharex=True)
    panels = ((loss_ax, _LOSS_KEYS, "Loss", "loss"), (metric_ax, _CURVE_METRIC_KEYS, "Metric", "metrics"))
    for ax, keys, ylabel, what in panels:
        plotted = False
        for key in keys:
            xs, ys = _history_series(entries, key)
            if xs:
                ax.plot(xs, ys, marker="o" if len(xs) <= 30 else None, markersize=3, label=key)
                plotted = True
        if plotted:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no {what} recorded", ha="center", va="center", transform=ax.transAxes)
        ax.set_xlabel("Epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
    metric_ax.set_ylim(0.0, 1.02)
    loss_ax.set_title("Loss")
    metric_ax.set_title("Validation metrics")
    return _save_figure(fig, path)
