"""Shared by the report writers: constants, atomic file helpers, schema checks and JSON conversion."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from numpy.typing import ArrayLike

from .._atomic import write_atomically, write_text_atomically
from .._checks import is_int
from ..errors import InvalidArgumentError, InvalidTypeError
from ..results import (
    KEY_METRICS,
    LOWER_IS_BETTER,
    PER_CLASS_KEYS,
    RELIABILITY_KEYS,
    REPORT_KEYS,
    SCALAR_METRICS,
)

#: The warning every generated page carries.
DISCLAIMER = (
    "**Not for clinical use.** These numbers describe a research model on one dataset and split; "
    "they are not evidence of diagnostic performance and must not guide decisions about patients."
)

PathLike = str | os.PathLike[str]

_FORMATS = {".png": "png", ".pdf": "pdf", ".svg": "svg"}
_DPI = 120
_LOSS_KEYS = ("train_loss", "val_loss")
#: The epoch log's accuracy-like columns (the calibration ones would share the axis badly).
_CURVE_METRIC_KEYS = ("train_accuracy", *(f"val_{m}" for m in KEY_METRICS if m not in LOWER_IS_BETTER))


def _write_text(path: Path, text: str) -> Path:
    return write_text_atomically(path, text)


def _figure_path(path: PathLike) -> tuple[Path, str]:
    if not isinstance(path, (str, os.PathLike)):
        raise InvalidTypeError(f"path must be a str or os.PathLike, got {type(path).__name__}")
    out = Path(path)
    fmt = _FORMATS.get(out.suffix.lower())
    if fmt is None:
        raise InvalidArgumentError(
            f"unsupported figure format {out.suffix!r} for {out}; use one of {sorted(_FORMATS)}"
        )
    return out, fmt


def _save_figure(fig: Figure, path: PathLike) -> Path:
    out, fmt = _figure_path(path)
    FigureCanvasAgg(fig)  # attaches an Agg canvas to this figure only; the global backend is untouched
    return write_atomically(out, lambda fh: fig.savefig(fh, format=fmt, dpi=_DPI))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(
        value, (bool, np.bool_)
    )


def _check_number(value: Any, where: str, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if not _is_number(value):
        kind = "a number or None" if optional else "a number"
        raise InvalidTypeError(f"{where} must be {kind}, got {type(value).__name__}")


def _check_names(class_names: Any, where: str) -> list[str]:
    if isinstance(class_names, (str, bytes)) or not isinstance(class_names, Sequence):
        raise InvalidTypeError(f"{where} must be a sequence of strings, got {type(class_names).__name__}")
    names = list(class_names)
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise InvalidTypeError(f"{where}[{i}] must be a str, got {type(name).__name__}")
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"{where} has duplicate names: {names}")
    return names


def _square_matrix(matrix: ArrayLike, where: str, num_classes: int | None = None) -> np.ndarray:
    try:
        arr = np.asarray(matrix, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidTypeError(
            f"{where} must be a square numeric matrix (list of lists or array): {exc}"
        ) from exc
    if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] == 0:
        raise InvalidArgumentError(f"{where} must be a non-empty square matrix, got shape {arr.shape}")
    if num_classes is not None and arr.shape[0] != num_classes:
        raise InvalidArgumentError(
            f"{where} is {arr.shape[0]}x{arr.shape[1]} but there are {num_classes} classes"
        )
    if not np.all(np.isfinite(arr)) or np.any(arr < 0):
        raise InvalidArgumentError(f"{where} must hold finite, non-negative counts")
    return arr


def _check_reliability(reliability: Any, where: str) -> dict[str, np.ndarray]:
    if not isinstance(reliability, Mapping):
        raise InvalidTypeError(f"{where} must be a mapping, got {type(reliability).__name__}")
    for key in RELIABILITY_KEYS:
        if key not in reliability:
            raise InvalidArgumentError(f"{where} is missing key {key!r}")
    arrays: dict[str, np.ndarray] = {}
    for key in RELIABILITY_KEYS:
        values = [np.nan if v is None else v for v in reliability[key]]
        for i, v in enumerate(values):
            _check_number(v, f"{where}[{key!r}][{i}]")
        arrays[key] = np.asarray(values, dtype=float).reshape(-1)
    n_bins = arrays["count"].size
    if n_bins == 0:
        raise InvalidArgumentError(f"{where} has no bins")
    for key in ("confidence", "accuracy"):
        if arrays[key].size != n_bins:
            raise InvalidArgumentError(
                f"{where}[{key!r}] has {arrays[key].size} values but there are {n_bins} bins"
            )
    edges = arrays["bin_edges"]
    if edges.size != n_bins + 1:
        raise InvalidArgumentError(
            f"{where}['bin_edges'] must have {n_bins + 1} values (bins + 1), got {edges.size}"
        )
    if not np.all(np.isfinite(edges)) or np.any(np.diff(edges) <= 0):
        raise InvalidArgumentError(f"{where}['bin_edges'] must be finite and strictly increasing")
    counts = arrays["count"]
    if not np.all(np.isfinite(counts)) or np.any(counts < 0):
        raise InvalidArgumentError(f"{where}['count'] must hold finite, non-negative counts")
    return arrays


def _validate_report(report: Any, where: str = "report") -> None:
    """Check the classification-report schema; raise ValueError/TypeError naming the offending key."""
    if not isinstance(report, Mapping):
        raise InvalidTypeError(
            f"{where} must be a mapping (a classification_report dict), got {type(report).__name__}"
        )
    missing = [key for key in REPORT_KEYS if key not in report]
    if missing:
        raise InvalidArgumentError(f"{where} is missing key(s): {', '.join(repr(k) for k in missing)}")
    for key in ("n", "num_classes"):
        value = report[key]
        if not is_int(value) or value < 0:
            raise InvalidTypeError(f"{where}[{key!r}] must be a non-negative int, got {value!r}")
    num_classes = int(report["num_classes"])
    if num_classes < 1:
        raise InvalidArgumentError(f"{where}['num_classes'] must be at least 1")
    names = _check_names(report["class_names"], f"{where}['class_names']")
    if len(names) != num_classes:
        raise InvalidArgumentError(
            f"{where}['class_names'] has {len(names)} names but num_classes is {num_classes}"
        )
    _square_matrix(report["confusion_matrix"], f"{where}['confusion_matrix']", num_classes)
    for key in SCALAR_METRICS:
        _check_number(report[key], f"{where}[{key!r}]", optional=True)
    per_class = report["per_class"]
    if not isinstance(per_class, Mapping):
        raise InvalidTypeError(f"{where}['per_class'] must be a mapping, got {type(per_class).__name__}")
    for name in names:
        if name not in per_class:
            raise InvalidArgumentError(f"{where}['per_class'] is missing class {name!r}")
        entry = per_class[name]
        if not isinstance(entry, Mapping):
            raise InvalidTypeError(
                f"{where}['per_class'][{name!r}] must be a mapping, got {type(entry).__name__}"
            )
        for key in PER_CLASS_KEYS:
            if key not in entry:
                raise InvalidArgumentError(f"{where}['per_class'][{name!r}] is missing key {key!r}")
            _check_number(entry[key], f"{where}['per_class'][{name!r}][{key!r}]", optional=True)
    _check_reliability(report["reliability"], f"{where}['reliability']")
    if "ci95" in report:
        ci95 = report["ci95"]
        if not isinstance(ci95, Mapping):
            raise InvalidTypeError(f"{where}['ci95'] must be a mapping, got {type(ci95).__name__}")
        for metric, bounds in ci95.items():
            if isinstance(bounds, (str, bytes)) or not isinstance(bounds, Sequence) or len(bounds) != 2:
                raise InvalidArgumentError(
                    f"{where}['ci95'][{metric!r}] must be a [low, high] pair, got {bounds!r}"
                )
            for bound in bounds:
                _check_number(bound, f"{where}['ci95'][{metric!r}]", optional=True)


def _check_mapping(value: Any, where: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise InvalidTypeError(f"{where} must be a mapping or None, got {type(value).__name__}")
    return dict(value)


def _check_title(title: Any) -> str:
    if not isinstance(title, str):
        raise InvalidTypeError(f"title must be a str, got {type(title).__name__}")
    return title


def _settings(report: Mapping[str, Any], extra: Mapping[str, Any] | None) -> dict[str, Any]:
    """Run settings: ``extra``, or the ``"extra"`` of a reloaded report.json. Both at once is an error."""
    if extra is not None and "extra" in report:
        raise InvalidArgumentError(
            "report already has an 'extra' entry (a reloaded report.json?); pass extra=None"
        )
    return _check_mapping(extra if extra is not None else report.get("extra"), "extra")
