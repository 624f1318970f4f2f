"""Markdown pages of a report (:func:`render_markdown`)."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from .._json import dumps as dump_json
from ..errors import InvalidTypeError
from ..results import CALIBRATION_METRICS, HEADLINE_METRICS, METRIC_LABELS, PER_CLASS_KEYS
from ._common import DISCLAIMER, _check_mapping, _check_title, _settings, _validate_report

__all__ = ["render_markdown"]


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
        label = METRIC_LABELS.get(key, key)
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
            raise InvalidTypeError(f"images[{caption!r}] must be a str link, got {type(target).__name__}")

    names = list(report["class_names"])
    n_bins = len(report["reliability"]["count"])
    per_class_rows = []
    for name in names:
        entry = report["per_class"][name]
        per_class_rows.append([_cell(name), *(_fmt(entry[key]) for key in PER_CLASS_KEYS)])

    parts = [
        f"# {title}",
        f"> {DISCLAIMER}",
        "## Headline metrics",
        f"{report['n']} samples, {report['num_classes']} classes."
        + (" Intervals are 95% bootstrap confidence intervals." if "ci95" in report else ""),
        _metric_table(report, HEADLINE_METRICS),
        "## Per-class metrics",
        _table(["Class", "Precision", "Recall", "F1", "Support", "ROC AUC (one-vs-rest)"], per_class_rows),
        "## Confusion matrix",
        "Rows are the true class, columns the predicted class; cells are counts.",
        _confusion_table(report["confusion_matrix"], names),
        "## Calibration",
        _metric_table(report, CALIBRATION_METRICS, n_bins),
        "## Run settings",
        _settings_section(settings),
    ]
    if figures:
        parts += ["## Figures", "\n\n".join(f"![{_cell(c)}]({_link(t)})" for c, t in figures.items())]
    return "\n\n".join(parts) + "\n"
