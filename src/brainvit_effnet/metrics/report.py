"""Every metric in one JSON-serialisable report, and the mean ± std of reports across folds."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .._checks import is_int, is_real
from ..errors import InvalidArgumentError, InvalidTypeError
from ..results import CI_METRICS, ClassificationReport, MeanStd, PerClassMetrics
from ._checks import ArrayLike, _check_labels_probs, _check_n_bins
from ._kernels import _balanced_accuracy, _brier, _confusion, _ece, _nll, _prf1, _roc_auc
from .bootstrap import _percentile_interval, _report_bootstrap_values
from .probabilities import reliability_diagram

__all__ = ["classification_report", "summarize_folds"]


def _check_class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(k) for k in range(num_classes)]
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise InvalidTypeError(
            f"class_names must be a sequence of {num_classes} strings; got {type(class_names).__name__}. "
            'E.g. class_names=["glioma", "meningioma", "pituitary"].'
        )
    names = list(class_names)
    if len(names) != num_classes:
        raise InvalidArgumentError(
            f"class_names must name each of the {num_classes} classes (probability columns); got "
            f"{len(names)} names {names!r}."
        )
    if not all(isinstance(name, str) for name in names):
        raise InvalidTypeError(f"class_names must all be strings; got {names!r}.")
    if len(set(names)) != len(names):
        raise InvalidArgumentError(f"class_names must be unique (they key per_class); got {names!r}.")
    return names


def classification_report(
    y_true: ArrayLike,
    probs: ArrayLike,
    class_names: Sequence[str] | None = None,
    n_bins: int = 15,
    bootstrap: int = 0,
    seed: int = 0,
    groups: Sequence[Any] | None = None,
) -> ClassificationReport:
    """Every metric of this module in one JSON-serialisable dict.

    Predictions are ``argmax(probs, axis=1)``. The keys are exactly:

    * ``"n"`` (int), ``"num_classes"`` (int), ``"class_names"`` (list of str);
    * ``"accuracy"``, ``"balanced_accuracy"``, ``"macro_precision"``, ``"macro_recall"``,
      ``"macro_f1"`` (floats; see :func:`precision_recall_f1`);
    * ``"per_class"``: ``{name: {"precision", "recall", "f1", "support", "roc_auc"}}``, support an
      int, ``roc_auc`` NaN for a class absent from ``y_true``;
    * ``"confusion_matrix"``: list of ``C`` lists of ``C`` ints (rows true, columns predicted);
    * ``"roc_auc_macro"`` (float, NaN only when no class has a defined AUC), ``"ece"``, ``"nll"``,
      ``"brier"`` (floats);
    * ``"reliability"``: :func:`reliability_diagram` as lists (NaN for empty bins);
    * only when ``bootstrap > 0``: ``"ci95"``: ``{metric: [low, high]}`` for ``"accuracy"``,
      ``"balanced_accuracy"``, ``"macro_f1"``, ``"roc_auc_macro"`` and ``"ece"``: 95 % percentile
      bootstrap intervals over ``bootstrap`` resamples shared by all five metrics, and
      ``"ci_unit"``: what was resampled, ``"image"`` or ``"group"`` (see ``groups``).

    Values are plain Python ``int``/``float``/``str``/``list``/``dict``; ``json.dumps`` works (NaN is
    written as ``NaN``; pass ``allow_nan=False`` after replacing NaN if strict JSON is needed).

    Args:
        y_true: True class indices, shape ``(N,)``.
        probs: Class probabilities, shape ``(N, C)``.
        class_names: ``C`` unique names; defaults to ``"0"``, ``"1"``, ...
        n_bins: Number of calibration bins for ``"ece"`` and ``"reliability"``.
        bootstrap: Number of bootstrap resamples for ``"ci95"``; 0 skips it.
        seed: Seed of the bootstrap (same seed, same interval as :func:`bootstrap_ci`).
        groups: A group (patient) key per sample: the bootstrap then draws whole groups with
            replacement (a cluster bootstrap), since slices of one patient are not independent
            and an image-level interval is too narrow. ``None``, or a single group, resamples images.

    Returns:
        The report dict described above (typed as :class:`~brainvit_effnet.results.ClassificationReport`,
        whose keys are :data:`~brainvit_effnet.results.REPORT_KEYS`).

    Examples:
        >>> import json
        >>> r = classification_report([0, 1, 1], [[0.7, 0.3], [0.4, 0.6], [0.8, 0.2]], ["a", "b"])
        >>> r["accuracy"], r["confusion_matrix"], r["per_class"]["b"]["support"]
        (0.6666666666666666, [[1, 0], [1, 1]], 2)
        >>> _ = json.dumps(r)
    """
    bins = _check_n_bins(n_bins)
    if not is_int(bootstrap) or int(bootstrap) < 0:
        raise InvalidArgumentError(
            f"bootstrap must be an int >= 0 (number of resamples; 0 = no CIs); got {bootstrap!r}."
        )
    y, p = _check_labels_probs(y_true, probs)
    n, num_classes = p.shape
    names = _check_class_names(class_names, num_classes)

    pred = np.argmax(p, axis=1).astype(np.int64)
    cm = _confusion(y, pred, num_classes)
    prf = _prf1(cm)
    auc = _roc_auc(y, p)
    rel = reliability_diagram(y, p, n_bins=bins)

    per_class: dict[str, PerClassMetrics] = {
        name: {
            "precision": float(prf["precision"][k]),
            "recall": float(prf["recall"][k]),
            "f1": float(prf["f1"][k]),
            "support": int(prf["support"][k]),
            "roc_auc": float(auc["per_class"][k]),
        }
        for k, name in enumerate(names)
    }
    report: ClassificationReport = {
        "n": int(n),
        "num_classes": int(num_classes),
        "class_names": names,
        "accuracy": float(np.mean(y == pred)),
        "balanced_accuracy": _balanced_accuracy(cm),
        "macro_precision": prf["macro_precision"],
        "macro_recall": prf["macro_recall"],
        "macro_f1": prf["macro_f1"],
        "per_class": per_class,
        "confusion_matrix": cm.tolist(),
        "roc_auc_macro": auc["macro"],
        "ece": _ece(y, p, bins),
        "nll": _nll(y, p),
        "brier": _brier(y, p),
        "reliability": {
            "bin_edges": [float(v) for v in rel["bin_edges"]],
            "confidence": [float(v) for v in rel["confidence"]],
            "accuracy": [float(v) for v in rel["accuracy"]],
            "count": [int(v) for v in rel["count"]],
        },
    }
    if bootstrap > 0:
        codes = None
        if groups is not None:
            keys = list(groups)
            if len(keys) != len(y):
                raise InvalidArgumentError(
                    f"groups has {len(keys)} entries for {len(y)} samples; give one per sample."
                )
            _, inverse = np.unique(np.asarray([str(k) for k in keys]), return_inverse=True)
            codes = inverse.astype(np.int64) if inverse.max() > 0 else None  # one group: images
        values = _report_bootstrap_values(y, p, int(bootstrap), int(seed), bins, groups=codes)
        report["ci95"] = {name: list(_percentile_interval(v, 0.05, name)) for name, v in values.items()}
        report["ci_unit"] = "image" if codes is None else "group"
    return report


def summarize_folds(
    reports: Sequence[Mapping[str, Any]],
    keys: Sequence[str] = CI_METRICS,
) -> dict[str, MeanStd]:
    """Mean and sample standard deviation of metrics across cross-validation folds.

    Args:
        reports: One :func:`classification_report` (or any mapping of metric name to number) per fold.
        keys: Metrics to summarise; each must be a number in every report.

    Returns:
        ``{key: {"mean": float, "std": float}}``. ``std`` uses ``ddof=1`` (sample standard
        deviation) and is NaN for a single fold; a NaN value in any fold (e.g. an undefined
        ``roc_auc_macro``) makes that metric's mean and std NaN.

    Examples:
        >>> s = summarize_folds([{"accuracy": 0.8}, {"accuracy": 0.9}], keys=["accuracy"])
        >>> round(s["accuracy"]["mean"], 4), round(s["accuracy"]["std"], 4)
        (0.85, 0.0707)
    """
    if isinstance(reports, Mapping) or not isinstance(reports, Sequence):
        raise InvalidTypeError(
            f"reports must be a sequence (list) of per-fold report dicts; got {type(reports).__name__}. "
            "Wrap a single report as [report]."
        )
    if len(reports) == 0:
        raise InvalidArgumentError("reports is empty; pass one classification_report per fold.")
    if isinstance(keys, str) or not isinstance(keys, Sequence) or not all(isinstance(k, str) for k in keys):
        raise InvalidTypeError(
            f'keys must be a sequence of metric names, e.g. ("accuracy", "macro_f1"); got {keys!r}.'
        )
    summary: dict[str, MeanStd] = {}
    for key in keys:
        values = []
        for i, report in enumerate(reports):
            if not isinstance(report, Mapping):
                raise InvalidTypeError(
                    f"reports[{i}] must be a dict (a classification_report); got {type(report).__name__}."
                )
            if key not in report:
                raise InvalidArgumentError(
                    f"reports[{i}] has no metric {key!r}; it has {sorted(report)}. Pass keys= with metrics "
                    "present in every report."
                )
            value = report[key]
            if not is_real(value):
                raise InvalidTypeError(
                    f"reports[{i}][{key!r}] must be a number; got {value!r} ({type(value).__name__})."
                )
            values.append(float(value))
        arr = np.asarray(values)
        std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
        summary[key] = {"mean": float(np.mean(arr)), "std": std}
    return summary
