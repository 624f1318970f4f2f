"""Classification metrics, calibration, bootstrap confidence intervals and temperature scaling.

Everything works on numpy arrays; torch tensors (and nested lists) are accepted and converted.
The conventions are:

* ``y_true``: integer class indices, shape ``(N,)``, each in ``[0, C)``;
* ``probs``: predicted class probabilities, shape ``(N, C)``, entries in ``[0, 1]``, rows summing
  to 1 (within ``1e-3``);
* ``y_pred``: predicted class indices ``(N,)``, or scores/probabilities ``(N, C)`` reduced with
  ``argmax``;
* ``logits``: unnormalised scores, shape ``(N, C)``, finite.

Label metrics follow scikit-learn's definitions (``zero_division=0``), so numbers are comparable
with published results; scikit-learn itself is not needed. :func:`classification_report` gathers
every metric into one JSON-serialisable dict, and :func:`summarize_folds` averages reports across
cross-validation folds.

NaN is used, and only used, where a quantity is undefined: the ROC AUC of a class absent from
``y_true`` (or of every class when ``y_true`` holds a single class), the mean confidence and
accuracy of an empty reliability bin, a bootstrap bound when every resample was undefined, and the
standard deviation over a single fold.

The package's modules, one job each (every name is importable from ``brainvit_effnet.metrics``):
:mod:`~.labels` (label metrics), :mod:`~.probabilities` (probability and calibration metrics),
:mod:`~.bootstrap` (confidence intervals), :mod:`~.temperature` (temperature scaling),
:mod:`~.report` (the report and the cross-validation summary) and :mod:`~.types` (result
shapes). The report's keys are :class:`~brainvit_effnet.results.ClassificationReport`.

Examples:
    >>> import numpy as np
    >>> from brainvit_effnet.metrics import accuracy, classification_report
    >>> y = np.array([0, 1, 2, 2])
    >>> p = np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.5, 0.2, 0.3]])
    >>> accuracy(y, p)
    0.75
    >>> report = classification_report(y, p, class_names=["glioma", "meningioma", "pituitary"])
    >>> report["per_class"]["pituitary"]["recall"]
    0.5
"""

from __future__ import annotations

from ..results import ClassificationReport, MeanStd
from ._checks import ArrayLike as ArrayLike  # re-exported: importable as before
from ._checks import logger as logger
from .bootstrap import bootstrap_ci
from .labels import accuracy, balanced_accuracy, confusion_matrix, precision_recall_f1
from .probabilities import (
    brier_score,
    expected_calibration_error,
    negative_log_likelihood,
    reliability_diagram,
    roc_auc_ovr,
)
from .report import classification_report, summarize_folds
from .temperature import apply_temperature, fit_temperature
from .types import PrecisionRecallF1, ReliabilityDiagram, RocAuc

__all__ = [
    "ClassificationReport",
    "MeanStd",
    "PrecisionRecallF1",
    "ReliabilityDiagram",
    "RocAuc",
    "accuracy",
    "apply_temperature",
    "balanced_accuracy",
    "bootstrap_ci",
    "brier_score",
    "classification_report",
    "confusion_matrix",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "precision_recall_f1",
    "reliability_diagram",
    "roc_auc_ovr",
    "summarize_folds",
]
