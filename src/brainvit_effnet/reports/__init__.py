"""Evaluation reports: figures, Markdown and JSON for one evaluation or a cross-validation run.

The input is the dict returned by ``brainvit_effnet.metrics.classification_report`` (keys ``n``,
``num_classes``, ``class_names``, ``accuracy``, ``balanced_accuracy``, ``macro_precision``,
``macro_recall``, ``macro_f1``, ``per_class``, ``confusion_matrix``, ``roc_auc_macro``, ``ece``,
``nll``, ``brier``, ``reliability`` and, with bootstrapping, ``ci95``: the keys of
:class:`~brainvit_effnet.results.ClassificationReport`). This package only reads that schema, and
checks it (a report may come from a JSON file or another tool); it does not import the metrics code.

The package's modules: :mod:`~.figures` (the three figures), :mod:`~.markdown` (the page) and
:mod:`~.folders` (whole report folders); every name is importable from ``brainvit_effnet.reports``.

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

from ._common import DISCLAIMER
from ._common import PathLike as PathLike  # re-exported: importable as before
from .figures import plot_confusion_matrix, plot_reliability, plot_training_curves
from .folders import write_cv_report, write_evaluation_report
from .markdown import render_markdown

__all__ = [
    "DISCLAIMER",
    "plot_confusion_matrix",
    "plot_reliability",
    "plot_training_curves",
    "render_markdown",
    "write_cv_report",
    "write_evaluation_report",
]
