"""Whole report folders: one evaluation (:func:`write_evaluation_report`) or a cross-validation."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import reserve_temp
from .._json import dumps as dump_json
from ..errors import InvalidArgumentError, InvalidTypeError
from ..results import METRIC_LABELS, SCALAR_METRICS
from ._common import (
    DISCLAIMER,
    PathLike,
    _check_mapping,
    _check_number,
    _check_title,
    _settings,
    _validate_report,
    _write_text,
)
from .figures import _check_history, plot_confusion_matrix, plot_reliability, plot_training_curves
from .markdown import _cell, _confusion_table, _fmt, _settings_section, _table, render_markdown

__all__ = ["write_cv_report", "write_evaluation_report"]


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
        raise InvalidTypeError(f"out_dir must be a str or os.PathLike, got {type(out_dir).__name__}")
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
        raise InvalidTypeError(
            f"summary must be a mapping metric -> {{'mean', 'std'}}, got {type(summary).__name__}"
        )
    for metric, stats in summary.items():
        if not isinstance(stats, Mapping):
            raise InvalidTypeError(f"summary[{metric!r}] must be a mapping with 'mean' and 'std'")
        for key in ("mean", "std"):
            if key not in stats:
                raise InvalidArgumentError(f"summary[{metric!r}] is missing key {key!r}")
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
            _cell(METRIC_LABELS.get(str(metric), str(metric))),
            _fmt(stats["mean"]),
            _fmt(stats["std"]),
            f"{_fmt(stats['mean'])} ± {_fmt(stats['std'])}",
        ]
        for metric, stats in summary.items()
    ]
    fold_header = ["Fold", "n", *(METRIC_LABELS[m].split(" (")[0] for m in SCALAR_METRICS)]
    fold_rows = [
        [str(i + 1), str(fold["n"]), *(_fmt(fold[m]) for m in SCALAR_METRICS)] for i, fold in enumerate(folds)
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
    summary: Mapping[str, Mapping[str, Any]],
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
        raise InvalidTypeError(
            f"fold_reports must be a sequence of report dicts, got {type(fold_reports).__name__}"
        )
    if len(fold_reports) == 0:
        raise InvalidArgumentError("fold_reports is empty")
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
