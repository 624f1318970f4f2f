"""Evaluation reports: figures, Markdown and JSON for one evaluation or a cross-validation run.

The input is the dict returned by ``brainvit_effnet.metrics.classification_report`` (keys ``n``,
``num_classes``, ``class_names``, ``accuracy``, ``balanced_accuracy``, ``macro_precision``,
``macro_recall``, ``macro_f1``, ``per_class``, ``confusion_matrix``, ``roc_auc_macro``, ``ece``,
``nll``, ``brier``, ``reliability`` and, with bootstrapping, ``ci95``). This module only reads that
schema; it does not import the metrics code.

* :func:`plot_confusion_matrix`, :func:`plot_reliability`, :func:`plot_training_curves` draw one
  figure each (PNG, PDF or SVG, chosen by the file suffix).
* :func:`render_markdown` turns a report into a Markdown page.
* :func:`write_evaluation_report` and :func:`write_cv_report` write a whole report folder.

Figures are drawn with matplotlib's object API on an Agg canvas: importing or using this module never
imports ``matplotlib.pyplot`` and never changes matplotlib's global backend. Every file is written to
a temporary file in the destination folder and renamed into place, so a crash or an error never
leaves a half-written file. The report writers draw every figure first and rename nothing until all
of them succeeded: when one step fails, the files of an earlier report in that folder stay as they
were. JSON is strict: NaN and infinities (e.g. the reliability bins with no samples) become ``null``.

Examples:
    >>> from brainvit_effnet.metrics import classification_report
    >>> from brainvit_effnet.reports import write_evaluation_report
    >>> report = classification_report(y_true, probs, class_names=["glioma", "meningioma", "pituitary"])
    >>> paths = write_evaluation_report(report, "runs/eval", history=history, extra={"model": "effnet_b2"})
    >>> sorted(paths)
    ['confusion_matrix', 'json', 'markdown', 'reliability', 'training_curves']
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator
from numpy.typing import ArrayLike

from ._atomic import reserve_temp, write_atomically, write_text_atomically
from ._json import dumps as dump_json

__all__ = [
    "DISCLAIMER",
    "plot_confusion_matrix",
    "plot_reliability",
    "plot_training_curves",
    "render_markdown",
    "write_cv_report",
    "write_evaluation_report",
]

#: The warning every generated page carries.
DISCLAIMER = (
    "**Not for clinical use.** These numbers describe a research model on one dataset and split; "
    "they are not evidence of diagnostic performance and must not guide decisions about patients."
)

PathLike = str | os.PathLike[str]

_REQUIRED_KEYS = (
    "n",
    "num_classes",
    "class_names",
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "per_class",
    "confusion_matrix",
    "roc_auc_macro",
    "ece",
    "nll",
    "brier",
    "reliability",
)
_HEADLINE_METRICS = (
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "roc_auc_macro",
)
_CALIBRATION_METRICS = ("ece", "nll", "brier")
_SCALAR_METRICS = _HEADLINE_METRICS + _CALIBRATION_METRICS
_PER_CLASS_KEYS = ("precision", "recall", "f1", "support", "roc_auc")
_RELIABILITY_KEYS = ("bin_edges", "confidence", "accuracy", "count")
_LABELS = {
    "n": "Samples",
    "accuracy": "Accuracy",
    "balanced_accuracy": "Balanced accuracy",
    "macro_precision": "Macro precision",
    "macro_recall": "Macro recall",
    "macro_f1": "Macro F1",
    "roc_auc_macro": "ROC AUC (macro, one-vs-rest)",
    "ece": "ECE (expected calibration error)",
    "nll": "NLL (mean negative log-likelihood)",
    "brier": "Brier score",
}
_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_DPI = 120
_LOSS_KEYS = ("train_loss", "val_loss")
_CURVE_METRIC_KEYS = ("train_accuracy", "val_accuracy", "val_balanced_accuracy", "val_macro_f1")

# ----------------------------------------------------------------------------------------------
# Atomic writing
# ----------------------------------------------------------------------------------------------


def _write_text(path: Path, text: str) -> Path:
    return write_text_atomically(path, text)


def _figure_path(path: PathLike) -> tuple[Path, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise TypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    out = Path(path)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise ValueError(f"unsupported figure format {out.suffix!r} for {out}; use one of {sorted(_FORMATS)}")
    return out, fmt


def _save_figure(fig: Figure, path: PathLike) -> Path:
    out, fmt = _figure_path(path)
    FigureCanvasAgg(fig)  # attaches an Agg canvas to this figure only; the global backend is untouched
    return write_atomically(out, lambda fh: fig.savefig(fh, format=fmt, dpi=_DPI))


# ----------------------------------------------------------------------------------------------
# Validation and conversion
# ----------------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_number(value: Any, where: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_number(value):
        kind = "a number or None" if optional else "a number"
        raise TypeError(f"{where} must be {kind}, got {type(value).__name__}")


def _check_names(class_names: Any, where: str) -> list[str]:
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise TypeError(f"{where} must be a sequence of strings, got {type(class_names).__name__}")
    names = list(class_names)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f"{where}[{i}] must be a str, got {type(name).__name__}")
    if len(set(names)) != len(names):
        raise ValueError(f"{where} has duplicate names: {names}")
    return names


def _square_matrix(matrix: ArrayLike, where: str, num_classes: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise TypeError(f"{where} must be a square numeric matrix (list of lists or array): {exc}") from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise ValueError(f"{where} must be a non-empty square matrix, got shape {arr.shape}")
    if num_classes is not None and arr.shape[0] != num_classes:
        raise ValueError(f"{where} is {arr.shape[0]}x{arr.shape[1]} but there are {num_classes} classes")
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise ValueError(f"{where} must hold finite, non-negative counts")
    return arr


def _check_reliability(reliability: Any, where: str) -> dict[str, np.ndarray]:
    if not isinstance(reliability, Mapping):
        raise TypeError(f"{where} must be a mapping, got {type(reliability).__name__}")
    for key in _RELIABILITY_KEYS:
        if key not in reliability:
            raise ValueError(f"{where} is missing key {key!r}")
    arrays: dict[str, np.ndarray] = {}
    for key in _RELIABILITY_KEYS:
        values = [np.nan if v is None else v for v in reliability[key]]
        for i, v in enumerate(values):
            _check_number(v, f"{where}[{key!r}][{i}]")
        arrays[key] = np.asarray(values, dtype=float).reshape(-1)
    n_bins = arrays["count"].size
    if n_bins == 0:
        raise ValueError(f"{where} has no bins")
    for key in ("confidence", "accuracy"):
        if arrays[key].size != n_bins:
            raise ValueError(f"{where}[{key!r}] has {arrays[key].size} values but there are {n_bins} bins")
    edges = arrays["bin_edges"]
    if edges.size != n_bins + 1:
        raise ValueError(f"{where}['bin_edges'] must have {n_bins + 1} values (bins + 1), got {edges.size}")
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise ValueError(f"{where}['bin_edges'] must be finite and strictly increasing")
    counts = arrays["count"]
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise ValueError(f"{where}['count'] must hold finite, non-negative counts")
    return arrays


def _validate_report(report: Any, where: str = "report") -> None:
    """Check the classification-report schema; raise ValueError/TypeError naming the offending key."""
    if not isinstance(report, Mapping):
        raise TypeError(
            f"{where} must be a mapping (a classification_report dict), got {type(report).__name__}"
        )
    missing = [key for key in _REQUIRED_KEYS if key not in report]
    if missing:
        raise ValueError(f"{where} is missing key(s): {', '.join(repr(k) for k in missing)}")
    for key in ("n", "num_classes"):
        value = report[key]
        if not isinstance(value, (int, np.integer)) or isinstance(value, (bool, np.bool_)) or value < 0:
            raise TypeError(f"{where}[{key!r}] must be a non-negative int, got {value!r}")
    num_classes = int(report["num_classes"])
    if num_classes < 1:
        raise ValueError(f"{where}['num_classes'] must be at least 1")
    names = _check_names(report["class_names"], f"{where}['class_names']")
    if len(names) != num_classes:
        raise ValueError(f"{where}['class_names'] has {len(names)} names but num_classes is {num_classes}")
    _square_matrix(report["confusion_matrix"], f"{where}['confusion_matrix']", num_classes)
    for key in _SCALAR_METRICS:
        _check_number(report[key], f"{where}[{key!r}]", optional=True)
    per_class = report["per_class"]
    if not isinstance(per_class, Mapping):
        raise TypeError(f"{where}['per_class'] must be a mapping, got {type(per_class).__name__}")
    for name in names:
        if name not in per_class:
            raise ValueError(f"{where}['per_class'] is missing class {name!r}")
        entry = per_class[name]
        if not isinstance(entry, Mapping):
            raise TypeError(f"{where}['per_class'][{name!r}] must be a mapping, got {type(entry).__name__}")
        for key in _PER_CLASS_KEYS:
            if key not in entry:
                raise ValueError(f"{where}['per_class'][{name!r}] is missing key {key!r}")
            _check_number(entry[key], f"{where}['per_class'][{name!r}][{key!r}]", optional=True)
    _check_reliability(report["reliability"], f"{where}['reliability']")
    if "ci95" in report:
        ci95 = report["ci95"]
        if not isinstance(ci95, Mapping):
            raise TypeError(f"{where}['ci95'] must be a mapping, got {type(ci95).__name__}")
        for metric, bounds in ci95.items():
            if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
                raise ValueError(f"{where}['ci95'][{metric!r}] must be a [low, high] pair, got {bounds!r}")
            for bound in bounds:
                _check_number(bound, f"{where}['ci95'][{metric!r}]", optional=True)


def _check_mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise TypeError(f"{where} must be a mapping or None, got {type(value).__name__}")
    return dict(value)


def _check_title(title: Any) -> str:
    if not isinstance(title, str):
        raise TypeError(f"title must be a str, got {type(title).__name__}")
    return title


def _settings(report: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run settings: ``extra``, or the ``"extra"`` of a reloaded report.json. Both at once is an error."""
    if extra is not None and "extra" in report:
        raise ValueError("report already has an 'extra' entry (a reloaded report.json?); pass extra=None")
    return _check_mapping(extra if extra is not None else report.get("extra"), "extra")


# ----------------------------------------------------------------------------------------------
# Figures
# ----------------------------------------------------------------------------------------------


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
        raise ValueError(
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
        raise TypeError(f"history must be a sequence of per-epoch dicts, got {type(history).__name__}")
    if len(history) == 0:
        raise ValueError("history is empty")
    for i, entry in enumerate(history):
        if not isinstance(entry, Mapping):
            raise TypeError(f"history[{i}] must be a mapping, got {type(entry).__name__}")
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


# ----------------------------------------------------------------------------------------------
# Markdown
# ----------------------------------------------------------------------------------------------


def _cell(text: str) -> str:
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def _fmt(value: Any, digits: int = 4) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, np.integer)):
        return str(int(value))
    if isinstance(value, (float, np.floating)):
        number = float(value)
        return f"{number:.{digits}f}" if math.isfinite(number) else "n/a"
    return _cell(str(value))


def _setting(value: Any) -> str:
    if isinstance(value, str):
        return _cell(value)
    if isinstance(value, (float, np.floating)):
        return _cell(repr(float(value)))
    if isinstance(value, (Mapping, list, tuple, np.ndarray)):
        return "`" + _cell(dump_json(value, "extra", indent=None)) + "`"
    return _fmt(value)


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], align: Sequence[str] | None = None) -> str:
    align = align or ["---"] + ["---:"] * (len(header) - 1)
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(align) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def _metric_table(report: Mapping[str, Any], metrics: Sequence[str], n_bins: int | None = None) -> str:
    ci95 = report.get("ci95")
    header = ["Metric", "Value"]
    if ci95 is not None:
        header += ["95% CI low", "95% CI high"]
    rows = []
    for key in metrics:
        label = _LABELS.get(key, key)
        if key == "ece" and n_bins is not None:
            label = f"ECE (expected calibration error, {n_bins} bins)"
        row = [label, _fmt(report[key])]
        if ci95 is not None:
            row += [_fmt(ci95[key][0]), _fmt(ci95[key][1])] if key in ci95 else ["-", "-"]
        rows.append(row)
    table = _table(header, rows)
    unit = report.get("ci_unit")
    if ci95 is not None and unit is not None:
        what = {"image": "slices", "patient": "patients", "group": "groups"}.get(str(unit), str(unit))
        table += f"\n\nIntervals: percentile bootstrap resampling {what}."
    return table


def _confusion_table(matrix: ArrayLike, names: Sequence[str]) -> str:
    counts = np.asarray(matrix, dtype=float)
    integral = bool(np.all(counts == np.round(counts)))
    header = ["True ↓ / Predicted →", *(_cell(n) for n in names)]
    rows = [
        [f"**{_cell(name)}**", *(f"{int(c)}" if integral else f"{c:.4g}" for c in counts[i])]
        for i, name in enumerate(names)
    ]
    return _table(header, rows)


def _settings_section(settings: Mapping[str, Any]) -> str:
    if not settings:
        return "None recorded."
    return _table(
        ["Setting", "Value"], [[_cell(str(k)), _setting(v)] for k, v in settings.items()], ["---", "---"]
    )


def _link(target: str) -> str:
    return f"<{target}>" if any(ch in target for ch in " ()<>") else target


def render_markdown(
    report: Mapping[str, Any],
    title: str,
    *,
    extra: Mapping[str, Any] | None = None,
    images: Mapping[str, str] | None = None,
) -> str:
    """Render a classification report as a Markdown page.

    Sections: a not-for-clinical-use warning, headline metrics (with 95% CI columns when the report
    has ``"ci95"``), per-class metrics, the confusion matrix with class names, calibration (ECE, NLL,
    Brier), the run settings and the figures. Missing values (None/NaN, e.g. an undefined AUC) are
    shown as ``n/a``.

    Args:
        report: A ``classification_report`` dict.
        title: Page title.
        extra: Run settings to list (model, checkpoint, split, seed, ...). When None, the ``"extra"``
            entry of a reloaded ``report.json`` is used if there is one.
        images: Caption -> relative link of figures to embed.

    Returns:
        The Markdown text.

    Raises:
        ValueError: The report lacks a key or is inconsistent (named in the message).
        TypeError: A field has the wrong type.

    Examples:
        >>> md = render_markdown(report, "Figshare fold 1", extra={"model": "effnet_b2_tf"},
        ...                      images={"Confusion matrix": "confusion_matrix.png"})
        >>> "Not for clinical use" in md
        True
    """
    _validate_report(report)
    title = _check_title(title)
    settings = _settings(report, extra)
    figures = _check_mapping(images, "images")
    for caption, target in figures.items():
        if not isinstance(target, str):
            raise TypeError(f"images[{caption!r}] must be a str link, got {type(target).__name__}")

    names = list(report["class_names"])
    n_bins = len(report["reliability"]["count"])
    per_class_rows = []
    for name in names:
        entry = report["per_class"][name]
        per_class_rows.append([_cell(name), *(_fmt(entry[key]) for key in _PER_CLASS_KEYS)])

    parts = [
        f"# {title}",
        f"> {DISCLAIMER}",
        "## Headline metrics",
        f"{report['n']} samples, {report['num_classes']} classes."
        + (" Intervals are 95% bootstrap confidence intervals." if "ci95" in report else ""),
        _metric_table(report, _HEADLINE_METRICS),
        "## Per-class metrics",
        _table(["Class", "Precision", "Recall", "F1", "Support", "ROC AUC (one-vs-rest)"], per_class_rows),
        "## Confusion matrix",
        "Rows are the true class, columns the predicted class; cells are counts.",
        _confusion_table(report["confusion_matrix"], names),
        "## Calibration",
        _metric_table(report, _CALIBRATION_METRICS, n_bins),
        "## Run settings",
        _settings_section(settings),
    ]
    if figures:
        parts += ["## Figures", "\n\n".join(f"![{_cell(c)}]({_link(t)})" for c, t in figures.items())]
    return "\n\n".join(parts) + "\n"


# ----------------------------------------------------------------------------------------------
# Report folders
# ----------------------------------------------------------------------------------------------


class _Staging:
    """Files drawn or written under temporary names, renamed into place together by :meth:`commit`."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[tuple[Path, Path]] = []

    def temp_for(self, name: str) -> Path:
        final = self.folder / name
        tmp = reserve_temp(final)
        self.pending.append((tmp, final))
        return tmp

    def text(self, name: str, text: str) -> None:
        _write_text(self.temp_for(name), text)

    def commit(self) -> dict[str, Path]:
        done: dict[str, Path] = {}
        for tmp, final in self.pending:
            os.replace(tmp, final)
            done[final.name] = final
        self.pending = []
        return done

    def discard(self) -> None:
        for tmp, _ in self.pending:
            tmp.unlink(missing_ok=True)
        self.pending = []


def _out_dir(out_dir: PathLike) -> Path:
    if not isinstance(out_dir, (str, os.PathLike)):
        raise TypeError(f"out_dir must be a str or os.PathLike, got {type(out_dir).__name__}")
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def write_evaluation_report(
    report: Mapping[str, Any],
    out_dir: PathLike,
    *,
    title: str = "Evaluation",
    history: Sequence[Mapping[str, Any]] | None = None,
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write a report folder: ``report.json``, ``report.md`` and the figures.

    Files: ``confusion_matrix.png``, ``reliability.png``, ``training_curves.png`` (only when
    ``history`` is given), ``report.json`` (the report plus ``"extra": {...settings}``, strict JSON
    with NaN written as null) and ``report.md``. All inputs are checked and all figures drawn (to
    temporary files) before anything is renamed into place, so when a step fails the folder keeps
    its earlier files unchanged and no temporary file is left. A ``training_curves.png`` from an
    earlier run is left alone when ``history`` is None.

    Args:
        report: A ``classification_report`` dict.
        out_dir: Folder to write; created if missing.
        title: Title of ``report.md``.
        history: Per-epoch training log dicts, if any.
        extra: Run settings (model, checkpoint, split, seed, ...); JSON-serialisable values, paths
            and numpy values are accepted.

    Returns:
        ``{"json", "markdown", "confusion_matrix", "reliability"[, "training_curves"]}`` -> path.

    Raises:
        ValueError: The report lacks a key or is inconsistent, or ``history`` is empty.
        TypeError: A field has the wrong type or ``extra`` holds something JSON cannot store.

    Examples:
        >>> paths = write_evaluation_report(report, "runs/fold1", title="Fold 1", extra={"seed": 0})
        >>> paths["markdown"].name
        'report.md'
    """
    _validate_report(report)
    title = _check_title(title)
    settings = _settings(report, extra)
    entries = None if history is None else _check_history(history)
    body = {key: value for key, value in report.items() if key != "extra"}
    json_text = dump_json({**body, "extra": settings}, "report")
    images = {"Confusion matrix": "confusion_matrix.png", "Reliability diagram": "reliability.png"}
    if entries is not None:
        images["Training curves"] = "training_curves.png"
    markdown = render_markdown(body, title, extra=settings, images=images)

    folder = _out_dir(out_dir)
    staging = _Staging(folder)
    try:
        plot_confusion_matrix(
            report["confusion_matrix"], report["class_names"], staging.temp_for("confusion_matrix.png")
        )
        plot_reliability(report["reliability"], staging.temp_for("reliability.png"), ece=report["ece"])
        if entries is not None:
            plot_training_curves(entries, staging.temp_for("training_curves.png"))
        staging.text("report.json", json_text)  # the JSON and Markdown are renamed into place last
        staging.text("report.md", markdown)
        written = staging.commit()
    finally:
        staging.discard()
    names = {
        "confusion_matrix.png": "confusion_matrix",
        "reliability.png": "reliability",
        "training_curves.png": "training_curves",
        "report.json": "json",
        "report.md": "markdown",
    }
    return {names[name]: path for name, path in written.items()}


def _check_summary(summary: Any) -> dict[str, Mapping[str, Any]]:
    if not isinstance(summary, Mapping):
        raise TypeError(
            f"summary must be a mapping metric -> {{'mean', 'std'}}, got {type(summary).__name__}"
        )
    for metric, stats in summary.items():
        if not isinstance(stats, Mapping):
            raise TypeError(f"summary[{metric!r}] must be a mapping with 'mean' and 'std'")
        for key in ("mean", "std"):
            if key not in stats:
                raise ValueError(f"summary[{metric!r}] is missing key {key!r}")
            _check_number(stats[key], f"summary[{metric!r}][{key!r}]", optional=True)
    return dict(summary)


def _render_cv_markdown(
    folds: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Mapping[str, Any]],
    title: str,
    settings: Mapping[str, Any],
) -> str:
    summary_rows = [
        [
            _cell(_LABELS.get(str(metric), str(metric))),
            _fmt(stats["mean"]),
            _fmt(stats["std"]),
            f"{_fmt(stats['mean'])} ± {_fmt(stats['std'])}",
        ]
        for metric, stats in summary.items()
    ]
    fold_header = ["Fold", "n", *(_LABELS[m].split(" (")[0] for m in _SCALAR_METRICS)]
    fold_rows = [
        [str(i + 1), str(fold["n"]), *(_fmt(fold[m]) for m in _SCALAR_METRICS)]
        for i, fold in enumerate(folds)
    ]
    parts = [
        f"# {title}",
        f"> {DISCLAIMER}",
        f"## Summary over {len(folds)} folds (mean ± std)",
        _table(["Metric", "Mean", "Std", "Mean ± std"], summary_rows)
        if summary_rows
        else "No summary given.",
        "## Per-fold metrics",
        _table(fold_header, fold_rows),
    ]
    names = list(folds[0]["class_names"])
    if all(list(fold["class_names"]) == names for fold in folds):
        pooled = sum(np.asarray(fold["confusion_matrix"], dtype=float) for fold in folds)
        parts += [
            "## Pooled confusion matrix",
            "Summed over folds; rows are the true class, columns the predicted class.",
            _confusion_table(pooled, names),
        ]
    parts += ["## Run settings", _settings_section(settings)]
    return "\n\n".join(parts) + "\n"


def write_cv_report(
    fold_reports: Sequence[Mapping[str, Any]],
    summary: Mapping[str, Mapping[str, float]],
    out_dir: PathLike,
    *,
    title: str = "Cross-validation",
    extra: Mapping[str, Any] | None = None,
) -> dict[str, Path]:
    """Write ``cv_report.json`` and ``cv_report.md`` for a cross-validation run.

    The Markdown has the mean ± std of each metric in ``summary``, a per-fold table of the headline
    and calibration metrics, the confusion matrix summed over folds (when all folds share their class
    names) and the run settings. The JSON holds ``{"title", "num_folds", "folds", "summary",
    "extra"}`` (strict JSON, NaN written as null). Both files are written atomically, JSON first.

    Args:
        fold_reports: One ``classification_report`` dict per fold, in fold order.
        summary: ``summarize_folds(fold_reports)``: metric -> ``{"mean": x, "std": y}``.
        out_dir: Folder to write; created if missing.
        title: Title of ``cv_report.md``.
        extra: Run settings (model, split protocol, seeds, ...).

    Returns:
        ``{"json": cv_report.json, "markdown": cv_report.md}``.

    Raises:
        ValueError: No folds, a fold lacks a key or is inconsistent, or a summary entry lacks
            ``mean``/``std``.
        TypeError: A field has the wrong type.

    Examples:
        >>> from brainvit_effnet.metrics import summarize_folds
        >>> paths = write_cv_report(reports, summarize_folds(reports), "runs/cv", extra={"folds": 5})
        >>> paths["markdown"].name
        'cv_report.md'
    """
    if isinstance(fold_reports, (str, bytes, Mapping)) or not isinstance(fold_reports, Sequence):
        raise TypeError(f"fold_reports must be a sequence of report dicts, got {type(fold_reports).__name__}")
    if len(fold_reports) == 0:
        raise ValueError("fold_reports is empty")
    for i, fold in enumerate(fold_reports):
        _validate_report(fold, f"fold_reports[{i}]")
    stats = _check_summary(summary)
    title = _check_title(title)
    settings = _check_mapping(extra, "extra")
    payload = {
        "title": title,
        "num_folds": len(fold_reports),
        "folds": list(fold_reports),
        "summary": stats,
        "extra": settings,
    }
    json_text = dump_json(payload, "cv report")
    markdown = _render_cv_markdown(fold_reports, stats, title, settings)

    folder = _out_dir(out_dir)
    staging = _Staging(folder)
    try:
        staging.text("cv_report.json", json_text)
        staging.text("cv_report.md", markdown)
        written = staging.commit()
    finally:
        staging.discard()
    return {"json": written["cv_report.json"], "markdown": written["cv_report.md"]}
