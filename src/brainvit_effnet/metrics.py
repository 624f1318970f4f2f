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

import logging
import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, TypedDict

import numpy as np
import torch
from numpy.typing import NDArray
from scipy.optimize import minimize_scalar
from scipy.special import log_softmax, logsumexp
from scipy.stats import rankdata

from ._checks import is_int, is_real
from ._tensors import to_numpy

__all__ = [
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

logger = logging.getLogger(__name__)

#: Anything convertible to a numpy array: ndarray, torch tensor, nested lists.
ArrayLike = Any

_ROW_SUM_ATOL = 1e-3
_PROB_ATOL = 1e-6
_NLL_EPS = float(np.finfo(np.float64).eps)
_DEFAULT_SUMMARY_KEYS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc_macro", "ece")
_CI_METRICS = ("accuracy", "balanced_accuracy", "macro_f1", "roc_auc_macro", "ece")
# Bootstrap indices are drawn in chunks of at most this many entries, to bound memory.
_BOOTSTRAP_CHUNK = 1 << 22


class PrecisionRecallF1(TypedDict):
    """Per-class and macro-averaged precision, recall and F1 (see :func:`precision_recall_f1`)."""

    precision: NDArray[np.float64]
    recall: NDArray[np.float64]
    f1: NDArray[np.float64]
    support: NDArray[np.int64]
    macro_precision: float
    macro_recall: float
    macro_f1: float


class RocAuc(TypedDict):
    """Per-class one-vs-rest ROC AUC and their macro average (see :func:`roc_auc_ovr`)."""

    per_class: NDArray[np.float64]
    macro: float


class ReliabilityDiagram(TypedDict):
    """Per-bin calibration statistics (see :func:`reliability_diagram`)."""

    bin_edges: NDArray[np.float64]
    confidence: NDArray[np.float64]
    accuracy: NDArray[np.float64]
    count: NDArray[np.int64]


# --------------------------------------------------------------------------------------------------
# Input validation
# --------------------------------------------------------------------------------------------------


def _to_numpy(x: ArrayLike, name: str) -> NDArray[Any]:
    """Convert an ndarray, torch tensor or nested sequence to a numpy array."""
    if isinstance(x, torch.Tensor):
        return to_numpy(x, name)
    if isinstance(x, (str, bytes)) or x is None:
        raise TypeError(
            f"{name} must be a numpy array, torch tensor or list of numbers; got {type(x).__name__}. "
            f"Pass e.g. np.asarray(...)."
        )
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{name} must be a numpy array, torch tensor or list of numbers; got {type(x).__name__} "
            f"that numpy cannot convert ({exc}). Make every row the same length."
        ) from exc
    if arr.dtype == object:
        raise TypeError(
            f"{name} must hold numbers; got an object array (ragged rows or mixed types). "
            "Make every row the same length and use numeric values."
        )
    return arr


def _check_labels(x: ArrayLike, name: str, num_classes: int | None = None) -> NDArray[np.int64]:
    """Validate 1-D integer class indices, in ``[0, num_classes)`` when given."""
    arr = _to_numpy(x, name)
    if arr.ndim != 1:
        raise ValueError(
            f"{name} must be 1-D class indices of shape (N,); got shape {arr.shape}. "
            + (
                "If these are per-class scores, take argmax(axis=1) first."
                if arr.ndim == 2
                else "Flatten it with .reshape(-1)."
            )
        )
    if arr.size == 0:
        raise ValueError(f"{name} is empty; metrics need at least one sample.")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise TypeError(
            f"{name} must hold integer class indices; got dtype {arr.dtype}. "
            f"Convert with {name}.astype(int) (numpy) or {name}.long() (torch)."
        )
    labels = arr.astype(np.int64, copy=False)
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise ValueError(
            f"{name} must hold class indices >= 0; got {low} (at index {int(np.argmin(labels))}). "
            "Map labels to 0..C-1 first."
        )
    if num_classes is not None and high >= num_classes:
        raise ValueError(
            f"{name} must hold class indices in [0, {num_classes}) for {num_classes} classes; got {high} "
            f"(at index {int(np.argmax(labels))}). Check that the label mapping and the number of "
            "classes (probability columns) agree."
        )
    return labels


def _check_num_classes(num_classes: object) -> int:
    if not is_int(num_classes):
        raise TypeError(
            f"num_classes must be an int >= 1; got {num_classes!r} ({type(num_classes).__name__})."
        )
    if int(num_classes) < 1:
        raise ValueError(f"num_classes must be >= 1; got {num_classes}.")
    return int(num_classes)


def _check_same_length(n_true: int, n_other: int, other: str) -> None:
    if n_true != n_other:
        raise ValueError(
            f"y_true and {other} must have the same number of samples; got {n_true} labels and "
            f"{n_other} rows in {other}. Pass predictions for exactly the labelled samples."
        )


def _check_scores(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Validate a finite float matrix of shape ``(N, C)`` with ``C >= 2``."""
    arr = _to_numpy(x, name)
    if arr.ndim != 2:
        raise ValueError(
            f"{name} must have shape (N, C) (one row per sample, one column per class); got shape "
            f"{arr.shape}. For a single sample use {name}[None, :]."
        )
    if arr.shape[1] < 2:
        raise ValueError(
            f"{name} must have at least 2 class columns; got shape {arr.shape}. For a binary task "
            "pass both columns, e.g. np.stack([1 - p, p], axis=1)."
        )
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise TypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    out = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(out)):
        row = int(np.nonzero(~np.all(np.isfinite(out), axis=1))[0][0])
        raise ValueError(
            f"{name} must be finite; row {row} holds {out[row].tolist()}. Look for NaN/inf produced "
            "upstream (e.g. a diverged model or a division by zero)."
        )
    return out


def _check_probs(x: ArrayLike, name: str = "probs") -> NDArray[np.float64]:
    """Validate probabilities: finite ``(N, C)``, entries in ``[0, 1]``, rows summing to 1."""
    probs = _check_scores(x, name)
    if probs.min() < -_PROB_ATOL or probs.max() > 1 + _PROB_ATOL:
        bad = float(probs.min()) if probs.min() < -_PROB_ATOL else float(probs.max())
        raise ValueError(
            f"{name} must be probabilities in [0, 1]; got a value {bad:.6g}. If these are logits, "
            "convert them with apply_temperature(logits, 1.0) (a softmax) first."
        )
    sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _ROW_SUM_ATOL:
        raise ValueError(
            f"each row of {name} must sum to 1 (within {_ROW_SUM_ATOL}); row {worst} sums to "
            f"{sums[worst]:.6g}. Apply a softmax over the class axis (apply_temperature(logits, 1.0)), "
            "or normalise with probs / probs.sum(axis=1, keepdims=True)."
        )
    return probs


def _check_labels_probs(y_true: ArrayLike, probs: ArrayLike) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    p = _check_probs(probs)
    y = _check_labels(y_true, "y_true", num_classes=p.shape[1])
    _check_same_length(y.shape[0], p.shape[0], "probs")
    return y, p


def _check_labels_logits(
    y_true: ArrayLike, logits: ArrayLike
) -> tuple[NDArray[np.int64], NDArray[np.float64]]:
    z = _check_scores(logits, "logits")
    y = _check_labels(y_true, "y_true", num_classes=z.shape[1])
    _check_same_length(y.shape[0], z.shape[0], "logits")
    return y, z


def _check_predictions(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None
) -> tuple[NDArray[np.int64], NDArray[np.int64], int]:
    """Validate labels and predictions (labels, or scores reduced by argmax); infer ``num_classes``."""
    if num_classes is not None:
        num_classes = _check_num_classes(num_classes)
    pred_arr = _to_numpy(y_pred, "y_pred")
    if pred_arr.ndim == 2:
        scores = _check_scores(pred_arr, "y_pred")
        if num_classes is not None and scores.shape[1] != num_classes:
            raise ValueError(
                f"y_pred has {scores.shape[1]} score columns but num_classes={num_classes}. "
                "Pass num_classes equal to the number of columns, or pass predicted labels."
            )
        num_classes = scores.shape[1]
        pred = np.argmax(scores, axis=1).astype(np.int64)
    else:
        pred = _check_labels(pred_arr, "y_pred", num_classes=num_classes)
    y = _check_labels(y_true, "y_true", num_classes=num_classes)
    _check_same_length(y.shape[0], pred.shape[0], "y_pred")
    if num_classes is None:
        num_classes = int(max(y.max(), pred.max())) + 1
    return y, pred, num_classes


def _check_n_bins(n_bins: object) -> int:
    if not is_int(n_bins):
        raise TypeError(f"n_bins must be an int >= 1; got {n_bins!r} ({type(n_bins).__name__}).")
    if int(n_bins) < 1:
        raise ValueError(f"n_bins must be >= 1; got {n_bins}. 15 is the usual choice.")
    return int(n_bins)


# --------------------------------------------------------------------------------------------------
# Unchecked kernels (shared by the public functions and the bootstrap)
# --------------------------------------------------------------------------------------------------


def _confusion(y: NDArray[np.int64], pred: NDArray[np.int64], num_classes: int) -> NDArray[np.int64]:
    flat = np.bincount(y * num_classes + pred, minlength=num_classes * num_classes)
    return flat.reshape(num_classes, num_classes).astype(np.int64)


def _safe_divide(num: NDArray[np.float64], den: NDArray[np.float64]) -> NDArray[np.float64]:
    """``num / den`` with 0 where ``den == 0`` (scikit-learn's ``zero_division=0``)."""
    out = np.zeros_like(num, dtype=np.float64)
    np.divide(num, den, out=out, where=den > 0)
    return out


def _balanced_accuracy(cm: NDArray[np.int64]) -> float:
    support = cm.sum(axis=1)
    present = support > 0
    return float(np.mean(np.diag(cm)[present] / support[present]))


def _prf1(cm: NDArray[np.int64]) -> PrecisionRecallF1:
    tp = np.diag(cm).astype(np.float64)
    predicted = cm.sum(axis=0).astype(np.float64)
    support = cm.sum(axis=1)
    precision = _safe_divide(tp, predicted)
    recall = _safe_divide(tp, support.astype(np.float64))
    # 2TP / (2TP + FP + FN) equals the harmonic mean of precision and recall, and is 0 (not 0/0)
    # when a class is neither present nor predicted, as scikit-learn >= 1.3 with zero_division=0.
    f1 = _safe_divide(2 * tp, predicted + support)
    return {
        "precision": precision,
        "recall": recall,
        "f1": f1,
        "support": support.astype(np.int64),
        "macro_precision": float(precision.mean()),
        "macro_recall": float(recall.mean()),
        "macro_f1": float(f1.mean()),
    }


def _roc_auc(y: NDArray[np.int64], probs: NDArray[np.float64]) -> RocAuc:
    n, num_classes = probs.shape
    per_class = np.full(num_classes, np.nan)
    counts = np.bincount(y, minlength=num_classes)
    for k in range(num_classes):
        n_pos = int(counts[k])
        n_neg = n - n_pos
        if n_pos == 0 or n_neg == 0:
            continue
        ranks = rankdata(probs[:, k])  # average ranks: ties count one half (Mann-Whitney U)
        u = ranks[y == k].sum() - n_pos * (n_pos + 1) / 2.0
        per_class[k] = u / (n_pos * n_neg)
    defined = ~np.isnan(per_class)
    macro = float(per_class[defined].mean()) if defined.any() else math.nan
    return {"per_class": per_class, "macro": macro}


def _bin_index(
    probs: NDArray[np.float64], n_bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.intp]]:
    """Bin edges, top-label confidence and the bin of each sample."""
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    conf = np.clip(probs.max(axis=1), 0.0, 1.0)
    # Bins are right-closed, (e_{i-1}, e_i], as in Guo et al. (2017); a confidence of 0 goes to bin 0.
    idx = np.clip(np.searchsorted(edges, conf, side="left") - 1, 0, n_bins - 1)
    return edges, conf, idx


def _bin_stats(
    y: NDArray[np.int64], probs: NDArray[np.float64], n_bins: int
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.int64]]:
    """Per-bin sums of confidence and correctness, and counts, for top-label confidence."""
    edges, conf, idx = _bin_index(probs, n_bins)
    correct = (np.argmax(probs, axis=1) == y).astype(np.float64)
    count = np.bincount(idx, minlength=n_bins).astype(np.int64)
    conf_sum = np.bincount(idx, weights=conf, minlength=n_bins).astype(np.float64)
    correct_sum = np.bincount(idx, weights=correct, minlength=n_bins).astype(np.float64)
    return edges, conf_sum, correct_sum, count


def _ece(y: NDArray[np.int64], probs: NDArray[np.float64], n_bins: int) -> float:
    _, conf_sum, correct_sum, _ = _bin_stats(y, probs, n_bins)
    return float(np.abs(conf_sum - correct_sum).sum() / y.shape[0])


def _nll(y: NDArray[np.int64], probs: NDArray[np.float64]) -> float:
    p = np.clip(probs[np.arange(y.shape[0]), y], _NLL_EPS, 1.0)
    return float(-np.log(p).mean())


def _brier(y: NDArray[np.int64], probs: NDArray[np.float64]) -> float:
    onehot = np.zeros_like(probs)
    onehot[np.arange(y.shape[0]), y] = 1.0
    return float(((probs - onehot) ** 2).sum(axis=1).mean())


def _softmax(logits: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    out: NDArray[np.float64] = np.exp(log_softmax(logits / temperature, axis=1))
    return out


# --------------------------------------------------------------------------------------------------
# Label metrics
# --------------------------------------------------------------------------------------------------


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Fraction of samples whose predicted class equals the true class.

    Args:
        y_true: True class indices, shape ``(N,)``.
        y_pred: Predicted class indices ``(N,)``, or scores/probabilities ``(N, C)`` (argmax is taken).

    Returns:
        Accuracy in ``[0, 1]``, as scikit-learn's ``accuracy_score``.

    Examples:
        >>> accuracy([0, 1, 1, 2], [0, 1, 2, 2])
        0.75
    """
    y, pred, _ = _check_predictions(y_true, y_pred, None)
    return float(np.mean(y == pred))


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Mean per-class recall over the classes present in ``y_true``.

    Classes that occur only in the predictions are ignored, as in scikit-learn's
    ``balanced_accuracy_score`` (``adjusted=False``). Chance level is ``1 / (number of classes)``
    whatever the class imbalance.

    Args:
        y_true: True class indices, shape ``(N,)``.
        y_pred: Predicted class indices ``(N,)``, or scores/probabilities ``(N, C)`` (argmax is taken).

    Returns:
        Balanced accuracy in ``[0, 1]``.

    Examples:
        >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
        0.5
    """
    y, pred, num_classes = _check_predictions(y_true, y_pred, None)
    return _balanced_accuracy(_confusion(y, pred, num_classes))


def confusion_matrix(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> NDArray[np.int64]:
    """Count matrix with true classes as rows and predicted classes as columns.

    Args:
        y_true: True class indices, shape ``(N,)``.
        y_pred: Predicted class indices ``(N,)``, or scores/probabilities ``(N, C)`` (argmax is taken).
        num_classes: Number of classes ``C``. Defaults to the number of score columns, else to
            ``max(label) + 1``; pass it explicitly so that a class never predicted nor present
            still gets its row and column.

    Returns:
        ``int64`` array of shape ``(C, C)``; entry ``[i, j]`` counts samples of class ``i``
        predicted as ``j`` (scikit-learn's ``confusion_matrix`` with ``labels=range(C)``).

    Examples:
        >>> confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=3).tolist()
        [[1, 0, 0], [1, 1, 0], [0, 0, 0]]
    """
    y, pred, n_classes = _check_predictions(y_true, y_pred, num_classes)
    return _confusion(y, pred, n_classes)


def precision_recall_f1(
    y_true: ArrayLike, y_pred: ArrayLike, num_classes: int | None = None
) -> PrecisionRecallF1:
    """Per-class precision, recall, F1 and support, with their macro (unweighted) averages.

    A ratio whose denominator is zero is 0.0 (scikit-learn's ``zero_division=0``): precision of a
    class never predicted, recall of a class absent from ``y_true``, F1 of a class neither present
    nor predicted. Macro averages run over all ``num_classes`` classes, as scikit-learn's
    ``precision_recall_fscore_support(..., labels=range(C), average="macro", zero_division=0)``.

    Args:
        y_true: True class indices, shape ``(N,)``.
        y_pred: Predicted class indices ``(N,)``, or scores/probabilities ``(N, C)`` (argmax is taken).
        num_classes: Number of classes ``C`` (inferred as in :func:`confusion_matrix` when omitted).

    Returns:
        Dict with ``"precision"``, ``"recall"``, ``"f1"`` (float arrays of shape ``(C,)``),
        ``"support"`` (int array ``(C,)``, true samples per class) and ``"macro_precision"``,
        ``"macro_recall"``, ``"macro_f1"`` (floats).

    Examples:
        >>> out = precision_recall_f1([0, 0, 1, 1], [0, 1, 1, 1], num_classes=2)
        >>> out["precision"].tolist(), out["macro_recall"]
        ([1.0, 0.6666666666666666], 0.75)
    """
    y, pred, n_classes = _check_predictions(y_true, y_pred, num_classes)
    return _prf1(_confusion(y, pred, n_classes))


# --------------------------------------------------------------------------------------------------
# Probability metrics
# --------------------------------------------------------------------------------------------------


def roc_auc_ovr(y_true: ArrayLike, probs: ArrayLike) -> RocAuc:
    """One-vs-rest ROC AUC per class, and its macro average.

    The AUC of class ``k`` is the Mann-Whitney statistic: the probability that a random sample of
    class ``k`` gets a higher ``probs[:, k]`` than a random sample of another class, ties counting
    one half (computed from average ranks in ``O(N log N)``). It equals scikit-learn's
    ``roc_auc_score(y_true == k, probs[:, k])``.

    A class absent from ``y_true`` (no positives), or a class that is the only one present (no
    negatives), has an undefined AUC: it is NaN and excluded from the macro average. When every
    class is undefined the macro average is NaN too. With all classes present, the macro average
    equals ``roc_auc_score(y_true, probs, multi_class="ovr", average="macro")``.

    Args:
        y_true: True class indices, shape ``(N,)``, in ``[0, C)``.
        probs: Class probabilities, shape ``(N, C)``.

    Returns:
        Dict with ``"per_class"`` (float array ``(C,)``, NaN where undefined) and ``"macro"`` (float).

    Examples:
        >>> out = roc_auc_ovr([0, 0, 1, 1], [[0.9, 0.1], [0.4, 0.6], [0.6, 0.4], [0.2, 0.8]])
        >>> out["per_class"].tolist(), out["macro"]
        ([0.75, 0.75], 0.75)
    """
    y, p = _check_labels_probs(y_true, probs)
    return _roc_auc(y, p)


def negative_log_likelihood(y_true: ArrayLike, probs: ArrayLike) -> float:
    """Mean negative log-likelihood (cross-entropy, log loss) of the true class.

    Probabilities are clipped to ``[eps, 1]`` with ``eps`` the float64 machine epsilon, as
    scikit-learn's ``log_loss``, so a confident mistake costs about 36 nats rather than infinity.

    Args:
        y_true: True class indices, shape ``(N,)``.
        probs: Class probabilities, shape ``(N, C)``.

    Returns:
        ``-mean(log(probs[i, y_true[i]]))`` in nats, ``>= 0``.

    Examples:
        >>> round(negative_log_likelihood([0, 1], [[0.5, 0.5], [0.5, 0.5]]), 4)
        0.6931
    """
    y, p = _check_labels_probs(y_true, probs)
    return _nll(y, p)


def brier_score(y_true: ArrayLike, probs: ArrayLike) -> float:
    """Multi-class Brier score: mean over samples of the squared distance to the one-hot label.

    ``mean_i sum_k (probs[i, k] - [y_true[i] == k]) ** 2``, in ``[0, 2]`` (Brier, 1950; equal to
    scikit-learn's multi-class ``brier_score_loss``). Lower is better.

    Args:
        y_true: True class indices, shape ``(N,)``.
        probs: Class probabilities, shape ``(N, C)``.

    Returns:
        The Brier score.

    Examples:
        >>> brier_score([0, 1], [[1.0, 0.0], [0.5, 0.5]])
        0.25
    """
    y, p = _check_labels_probs(y_true, probs)
    return _brier(y, p)


def expected_calibration_error(y_true: ArrayLike, probs: ArrayLike, n_bins: int = 15) -> float:
    """Expected calibration error of the top-label confidence (Guo et al., 2017).

    Each sample's confidence ``max_k probs[i, k]`` falls in one of ``n_bins`` equal-width,
    right-closed bins on ``[0, 1]``. ECE is the average over bins of ``|accuracy - mean confidence|``
    weighted by the fraction of samples in the bin: ``sum_b (n_b / N) |acc_b - conf_b|``. Zero for a
    perfectly calibrated model (up to sampling noise); an overconfident model scores high.

    Args:
        y_true: True class indices, shape ``(N,)``.
        probs: Class probabilities, shape ``(N, C)``.
        n_bins: Number of equal-width bins.

    Returns:
        ECE in ``[0, 1]``.

    Examples:
        >>> round(expected_calibration_error([0, 0, 1, 1], [[0.9, 0.1]] * 4), 6)  # 90 % sure, 50 % right
        0.4
    """
    bins = _check_n_bins(n_bins)
    y, p = _check_labels_probs(y_true, probs)
    return _ece(y, p, bins)


def reliability_diagram(y_true: ArrayLike, probs: ArrayLike, n_bins: int = 15) -> ReliabilityDiagram:
    """Per-bin statistics of top-label confidence, for plotting a reliability diagram.

    Bins are those of :func:`expected_calibration_error`. Plot ``accuracy`` against ``confidence``
    (or bar ``accuracy`` over the bin centres); a calibrated model lies on the diagonal.

    Args:
        y_true: True class indices, shape ``(N,)``.
        probs: Class probabilities, shape ``(N, C)``.
        n_bins: Number of equal-width bins.

    Returns:
        Dict with ``"bin_edges"`` (float ``(n_bins + 1,)``, from 0 to 1), ``"confidence"`` (mean
        top-label confidence per bin), ``"accuracy"`` (fraction correct per bin), both float
        ``(n_bins,)`` and NaN for empty bins, and ``"count"`` (int ``(n_bins,)``, summing to ``N``).

    Examples:
        >>> d = reliability_diagram([0, 0], [[0.9, 0.1], [0.3, 0.7]], n_bins=2)
        >>> d["count"].tolist(), d["accuracy"].tolist()
        ([0, 2], [nan, 0.5])
    """
    bins = _check_n_bins(n_bins)
    y, p = _check_labels_probs(y_true, probs)
    edges, conf_sum, correct_sum, count = _bin_stats(y, p, bins)
    nonempty = count > 0
    confidence = np.full(bins, np.nan)
    acc = np.full(bins, np.nan)
    confidence[nonempty] = conf_sum[nonempty] / count[nonempty]
    acc[nonempty] = correct_sum[nonempty] / count[nonempty]
    return {"bin_edges": edges, "confidence": confidence, "accuracy": acc, "count": count}


# --------------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------------


def _resample_chunks(
    y: NDArray[np.int64], n_resamples: int, seed: int, stratify: bool
) -> Iterator[NDArray[np.int64]]:
    """Yield bootstrap indices as ``(m, N)`` chunks, ``n_resamples`` rows in all, deterministic in ``seed``.

    Chunks bound memory to about ``_BOOTSTRAP_CHUNK`` indices. With ``stratify`` each class's
    indices are resampled within the class, so class counts stay fixed.
    """
    rng = np.random.default_rng(seed)
    n = y.shape[0]
    rows = max(1, _BOOTSTRAP_CHUNK // n)
    groups = [np.flatnonzero(y == c) for c in np.unique(y)] if stratify else []
    done = 0
    while done < n_resamples:
        m = min(rows, n_resamples - done)
        if stratify:
            chunk = np.concatenate(
                [g[rng.integers(0, g.shape[0], size=(m, g.shape[0]))] for g in groups], axis=1
            )
        else:
            chunk = rng.integers(0, n, size=(m, n))
        yield chunk
        done += m


def _percentile_interval(values: NDArray[np.float64], alpha: float, name: str) -> tuple[float, float]:
    """``alpha/2`` and ``1 - alpha/2`` percentiles of the non-NaN bootstrap values (NaN if none)."""
    finite = values[~np.isnan(values)]
    if finite.size < values.size:
        logger.warning(
            "bootstrap of %s: %d of %d resamples gave NaN (e.g. a class missing from the resample) "
            "and were dropped; consider stratify=True",
            name,
            values.size - finite.size,
            values.size,
        )
    if finite.size == 0:
        return math.nan, math.nan
    low, high = np.percentile(finite, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return float(low), float(high)


def _bootstrap_values(
    fn: Callable[[Any, Any], float],
    y: NDArray[np.int64],
    data: NDArray[Any],
    n_resamples: int,
    seed: int,
    stratify: bool,
) -> NDArray[np.float64]:
    """Metric value on each resample (generic path: one call of ``fn`` per resample)."""
    values = np.empty(n_resamples)
    r = 0
    for chunk in _resample_chunks(y, n_resamples, seed, stratify):
        for idx in chunk:
            values[r] = fn(y[idx], data[idx])
            r += 1
    return values


def _group_weight_chunks(
    codes: NDArray[np.int64], n_resamples: int, seed: int
) -> Iterator[NDArray[np.float64]]:
    """Multiplicity weights ``(m, N)`` of a cluster bootstrap: whole groups drawn with replacement."""
    rng = np.random.default_rng(seed)
    n_groups = int(codes.max()) + 1
    rows = max(1, _BOOTSTRAP_CHUNK // max(n_groups, codes.shape[0]))
    done = 0
    while done < n_resamples:
        m = min(rows, n_resamples - done)
        drawn = rng.integers(0, n_groups, size=(m, n_groups))
        flat = (drawn + (np.arange(m) * n_groups)[:, None]).ravel()
        group_weights = np.bincount(flat, minlength=m * n_groups).reshape(m, n_groups).astype(np.float64)
        yield group_weights[:, codes]
        done += m


def _report_bootstrap_values(
    y: NDArray[np.int64],
    probs: NDArray[np.float64],
    n_resamples: int,
    seed: int,
    n_bins: int,
    groups: NDArray[np.int64] | None = None,
) -> dict[str, NDArray[np.float64]]:
    """The report's five metrics on each resample, vectorised over resamples.

    A resample is summarised by its multiplicity weights ``W[r, i]`` (how often sample ``i`` was
    drawn), so counts become matrix products ``W @ indicator`` and the ROC AUC becomes a weighted
    Mann-Whitney statistic over the full data's sort order, which needs no re-sorting. Resamples are
    those of :func:`bootstrap_ci` with the same seed, and values equal the per-resample functions'.
    """
    n, num_classes = probs.shape
    pred = np.argmax(probs, axis=1)
    correct = (pred == y).astype(np.float64)
    cells = np.zeros((n, num_classes * num_classes))
    cells[np.arange(n), y * num_classes + pred] = 1.0
    _, conf, bin_idx = _bin_index(probs, n_bins)
    conf_in_bin = np.zeros((n, n_bins))
    conf_in_bin[np.arange(n), bin_idx] = conf
    correct_in_bin = np.zeros((n, n_bins))
    correct_in_bin[np.arange(n), bin_idx] = correct
    # Per class: sort order of its scores, start of each run of tied scores, positives in that order.
    orders, starts, positives = [], [], []
    for k in range(num_classes):
        order = np.argsort(probs[:, k], kind="stable")
        sorted_scores = probs[order, k]
        starts.append(np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]]))
        orders.append(order)
        positives.append((y[order] == k).astype(np.float64))

    out = {name: np.empty(n_resamples) for name in _CI_METRICS}
    r = 0

    def image_weights() -> Iterator[NDArray[np.float64]]:
        for chunk in _resample_chunks(y, n_resamples, seed, stratify=False):
            m = chunk.shape[0]
            flat = (chunk + (np.arange(m) * n)[:, None]).ravel()
            yield np.bincount(flat, minlength=m * n).reshape(m, n).astype(np.float64)

    chunks = image_weights() if groups is None else _group_weight_chunks(groups, n_resamples, seed)
    for weights in chunks:
        m = weights.shape[0]
        size = weights.sum(axis=1)  # n for images; varies when whole groups are drawn
        rows = slice(r, r + m)

        out["accuracy"][rows] = weights @ correct / size
        cm = (weights @ cells).reshape(m, num_classes, num_classes)
        tp = np.diagonal(cm, axis1=1, axis2=2)
        support, predicted = cm.sum(axis=2), cm.sum(axis=1)
        present = support > 0
        recall = _safe_divide(tp, support)
        out["balanced_accuracy"][rows] = (recall * present).sum(axis=1) / present.sum(axis=1)
        out["macro_f1"][rows] = _safe_divide(2 * tp, predicted + support).mean(axis=1)
        out["ece"][rows] = np.abs(weights @ conf_in_bin - weights @ correct_in_bin).sum(axis=1) / size

        auc_sum, auc_count = np.zeros(m), np.zeros(m)
        for order, start, pos in zip(orders, starts, positives, strict=True):
            w = weights[:, order]
            pos_w = np.add.reduceat(w * pos, start, axis=1)  # per run of tied scores
            neg_w = np.add.reduceat(w * (1.0 - pos), start, axis=1)
            below = np.cumsum(neg_w, axis=1) - neg_w  # negatives with a strictly lower score
            u = (pos_w * (below + 0.5 * neg_w)).sum(axis=1)
            n_pos, n_neg = pos_w.sum(axis=1), neg_w.sum(axis=1)
            defined = (n_pos > 0) & (n_neg > 0)
            auc_sum += _safe_divide(u, n_pos * n_neg)
            auc_count += defined
        out["roc_auc_macro"][rows] = np.where(auc_count > 0, auc_sum / np.maximum(auc_count, 1), np.nan)
        r += m
    return out


def _check_bootstrap_args(n_resamples: object, alpha: object, seed: object) -> None:
    if not is_int(n_resamples):
        raise TypeError(
            f"n_resamples must be an int >= 1; got {n_resamples!r} ({type(n_resamples).__name__})."
        )
    if int(n_resamples) < 1:
        raise ValueError(f"n_resamples must be >= 1; got {n_resamples}. 1000 or more is usual.")
    if not is_real(alpha):
        raise TypeError(f"alpha must be a float in (0, 1); got {alpha!r} ({type(alpha).__name__}).")
    if not 0.0 < float(alpha) < 1.0:
        raise ValueError(f"alpha must be in (0, 1); got {alpha}. Use alpha=0.05 for a 95 % interval.")
    if not is_int(seed):
        raise TypeError(f"seed must be an int; got {seed!r} ({type(seed).__name__}).")


def bootstrap_ci(
    metric_fn: Callable[[Any, Any], float],
    y_true: ArrayLike,
    probs: ArrayLike,
    n_resamples: int = 1000,
    alpha: float = 0.05,
    seed: int = 0,
    *,
    stratify: bool = False,
) -> tuple[float, float, float]:
    """Point estimate and percentile-bootstrap confidence interval of a metric.

    Samples (rows of ``y_true`` and ``probs`` together) are drawn with replacement ``n_resamples``
    times; the interval is the ``alpha/2`` and ``1 - alpha/2`` percentiles of the metric over the
    resamples. Resamples where the metric is NaN (e.g. ROC AUC with a class missing) are dropped
    with a logged warning. With ``stratify=True`` each class is resampled within itself, keeping
    the class counts fixed (every class stays present). The result depends only on the data and
    ``seed``; indices are drawn vectorised in chunks, ``metric_fn`` is called once per resample with
    numpy arrays.

    The percentile interval assumes the metric is roughly unbiased under resampling. ECE is not
    (resampling adds noise that ECE counts as miscalibration), so its interval tends to sit above
    the point estimate and may not contain it.

    Args:
        metric_fn: ``metric_fn(y_true, probs) -> float``, e.g. :func:`accuracy` or
            ``lambda y, p: roc_auc_ovr(y, p)["macro"]``.
        y_true: True class indices, shape ``(N,)``.
        probs: Second argument of ``metric_fn``, indexed along its first axis ``(N, ...)``:
            usually probabilities ``(N, C)``, but predicted labels ``(N,)`` work too.
        n_resamples: Number of bootstrap resamples.
        alpha: ``1 -`` the coverage; 0.05 gives a 95 % interval.
        seed: Seed of the numpy generator drawing the resamples.
        stratify: Resample within each class of ``y_true``.

    Returns:
        ``(estimate, low, high)``: the metric on the full data and the interval bounds (NaN when
        every resample was undefined).

    Examples:
        >>> import numpy as np
        >>> y = np.array([0, 1] * 50)
        >>> est, low, high = bootstrap_ci(accuracy, y, np.eye(2)[y], n_resamples=200)
        >>> est, low, high
        (1.0, 1.0, 1.0)
    """
    if not callable(metric_fn):
        raise TypeError(
            f"metric_fn must be a callable metric_fn(y_true, probs) -> float; got {type(metric_fn).__name__}."
        )
    _check_bootstrap_args(n_resamples, alpha, seed)
    y = _check_labels(y_true, "y_true")
    data = _to_numpy(probs, "probs")
    if data.ndim == 0:
        raise ValueError(f"probs must have a sample axis of length N={y.shape[0]}; got a scalar.")
    _check_same_length(y.shape[0], data.shape[0], "probs")

    def fn(a: Any, b: Any) -> float:
        value = metric_fn(a, b)
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"metric_fn must return a float; got {type(value).__name__}. If it returns a dict "
                "(e.g. roc_auc_ovr), wrap it: lambda y, p: roc_auc_ovr(y, p)['macro']."
            ) from exc

    estimate = fn(y, data)
    values = _bootstrap_values(fn, y, data, int(n_resamples), int(seed), stratify)
    name = getattr(metric_fn, "__name__", "metric_fn")
    low, high = _percentile_interval(values, float(alpha), name)
    return estimate, low, high


# --------------------------------------------------------------------------------------------------
# Temperature scaling
# --------------------------------------------------------------------------------------------------


def _check_temperature(temperature: object) -> float:
    if not is_real(temperature):
        raise TypeError(
            f"temperature must be a positive float; got {temperature!r} ({type(temperature).__name__})."
        )
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise ValueError(
            f"temperature must be finite and > 0; got {t}. Use fit_temperature(val_logits, val_labels) "
            "to choose one; 1.0 leaves the logits unchanged."
        )
    return t


def fit_temperature(
    logits: ArrayLike,
    y_true: ArrayLike,
    *,
    bounds: tuple[float, float] = (0.01, 100.0),
    tol: float = 1e-6,
) -> float:
    """Fit the temperature ``T`` minimising the NLL of ``softmax(logits / T)`` (Guo et al., 2017).

    Fit on held-out validation logits, never on the test set. The NLL is minimised over
    ``log T`` within ``log(bounds)`` by bounded Brent search (it is smooth and unimodal in
    practice). ``T > 1`` softens an overconfident model, ``T < 1`` sharpens an underconfident one;
    the argmax, hence accuracy, never changes. A warning is logged when the optimum sits at a bound.

    Args:
        logits: Validation logits (pre-softmax scores), shape ``(N, C)``, finite.
        y_true: Validation class indices, shape ``(N,)``, in ``[0, C)``.
        bounds: Search interval ``(T_min, T_max)`` with ``0 < T_min < T_max``.
        tol: Absolute tolerance on ``log T``.

    Returns:
        The fitted temperature ``T > 0``.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> true_logits = rng.normal(size=(2000, 3)) * 2
        >>> y = np.array([rng.choice(3, p=p) for p in apply_temperature(true_logits, 1.0)])
        >>> T = fit_temperature(true_logits * 3, y)  # a model 3x too confident
        >>> 2.5 < T < 3.5
        True
    """
    y, z = _check_labels_logits(y_true, logits)
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2 or not all(is_real(b) for b in bounds):
        raise TypeError(f"bounds must be a pair of floats (T_min, T_max); got {bounds!r}.")
    t_min, t_max = float(bounds[0]), float(bounds[1])
    if not (0 < t_min < t_max and math.isfinite(t_max)):
        raise ValueError(f"bounds must satisfy 0 < T_min < T_max < inf; got {bounds!r}. E.g. (0.01, 100.0).")
    if not is_real(tol) or not float(tol) > 0:
        raise ValueError(f"tol must be a float > 0; got {tol!r}.")

    rows = np.arange(y.shape[0])
    true_logit = z[rows, y]

    def nll(log_t: float) -> float:
        scaled = z / math.exp(log_t)
        return float(np.mean(logsumexp(scaled, axis=1) - true_logit / math.exp(log_t)))

    result = minimize_scalar(
        nll, bounds=(math.log(t_min), math.log(t_max)), method="bounded", options={"xatol": float(tol)}
    )
    temperature = math.exp(float(result.x))
    if math.isclose(temperature, t_min, rel_tol=1e-3) or math.isclose(temperature, t_max, rel_tol=1e-3):
        logger.warning(
            "fit_temperature: optimum T=%.4g is at the search bound %s; the logits may be degenerate "
            "(e.g. all predictions wrong or perfectly separated). Widen bounds if this is expected.",
            temperature,
            (t_min, t_max),
        )
    logger.debug("fit_temperature: T=%.6g, NLL %.6g -> %.6g", temperature, nll(0.0), float(result.fun))
    return temperature


def apply_temperature(logits: ArrayLike, temperature: float) -> NDArray[np.float64]:
    """Probabilities ``softmax(logits / temperature)``, computed stably in float64.

    Args:
        logits: Logits, shape ``(N, C)``, finite.
        temperature: ``T > 0``, e.g. from :func:`fit_temperature`; 1.0 is a plain softmax.

    Returns:
        Probabilities, float64 array of shape ``(N, C)`` with rows summing to 1.

    Examples:
        >>> apply_temperature([[0.0, 0.0], [2.0, 0.0]], 2.0).round(4).tolist()
        [[0.5, 0.5], [0.7311, 0.2689]]
    """
    t = _check_temperature(temperature)
    z = _check_scores(logits, "logits")
    return _softmax(z, t)


# --------------------------------------------------------------------------------------------------
# Reports
# --------------------------------------------------------------------------------------------------


def _check_class_names(class_names: Sequence[str] | None, num_classes: int) -> list[str]:
    if class_names is None:
        return [str(k) for k in range(num_classes)]
    if isinstance(class_names, str) or not isinstance(class_names, Sequence):
        raise TypeError(
            f"class_names must be a sequence of {num_classes} strings; got {type(class_names).__name__}. "
            'E.g. class_names=["glioma", "meningioma", "pituitary"].'
        )
    names = list(class_names)
    if len(names) != num_classes:
        raise ValueError(
            f"class_names must name each of the {num_classes} classes (probability columns); got "
            f"{len(names)} names {names!r}."
        )
    if not all(isinstance(name, str) for name in names):
        raise TypeError(f"class_names must all be strings; got {names!r}.")
    if len(set(names)) != len(names):
        raise ValueError(f"class_names must be unique (they key per_class); got {names!r}.")
    return names


def classification_report(
    y_true: ArrayLike,
    probs: ArrayLike,
    class_names: Sequence[str] | None = None,
    n_bins: int = 15,
    bootstrap: int = 0,
    seed: int = 0,
    groups: Sequence[Any] | None = None,
) -> dict[str, Any]:
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
        The report dict described above.

    Examples:
        >>> import json
        >>> r = classification_report([0, 1, 1], [[0.7, 0.3], [0.4, 0.6], [0.8, 0.2]], ["a", "b"])
        >>> r["accuracy"], r["confusion_matrix"], r["per_class"]["b"]["support"]
        (0.6666666666666666, [[1, 0], [1, 1]], 2)
        >>> _ = json.dumps(r)
    """
    bins = _check_n_bins(n_bins)
    if not is_int(bootstrap) or int(bootstrap) < 0:
        raise ValueError(
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

    per_class = {
        name: {
            "precision": float(prf["precision"][k]),
            "recall": float(prf["recall"][k]),
            "f1": float(prf["f1"][k]),
            "support": int(prf["support"][k]),
            "roc_auc": float(auc["per_class"][k]),
        }
        for k, name in enumerate(names)
    }
    report: dict[str, Any] = {
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
                raise ValueError(f"groups has {len(keys)} entries for {len(y)} samples; give one per sample.")
            _, inverse = np.unique(np.asarray([str(k) for k in keys]), return_inverse=True)
            codes = inverse.astype(np.int64) if inverse.max() > 0 else None  # one group: images
        values = _report_bootstrap_values(y, p, int(bootstrap), int(seed), bins, groups=codes)
        report["ci95"] = {name: list(_percentile_interval(v, 0.05, name)) for name, v in values.items()}
        report["ci_unit"] = "image" if codes is None else "group"
    return report


def summarize_folds(
    reports: Sequence[Mapping[str, Any]],
    keys: Sequence[str] = _DEFAULT_SUMMARY_KEYS,
) -> dict[str, dict[str, float]]:
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
        raise TypeError(
            f"reports must be a sequence (list) of per-fold report dicts; got {type(reports).__name__}. "
            "Wrap a single report as [report]."
        )
    if len(reports) == 0:
        raise ValueError("reports is empty; pass one classification_report per fold.")
    if isinstance(keys, str) or not isinstance(keys, Sequence) or not all(isinstance(k, str) for k in keys):
        raise TypeError(
            f'keys must be a sequence of metric names, e.g. ("accuracy", "macro_f1"); got {keys!r}.'
        )
    summary: dict[str, dict[str, float]] = {}
    for key in keys:
        values = []
        for i, report in enumerate(reports):
            if not isinstance(report, Mapping):
                raise TypeError(
                    f"reports[{i}] must be a dict (a classification_report); got {type(report).__name__}."
                )
            if key not in report:
                raise ValueError(
                    f"reports[{i}] has no metric {key!r}; it has {sorted(report)}. Pass keys= with metrics "
                    "present in every report."
                )
            value = report[key]
            if not is_real(value):
                raise TypeError(
                    f"reports[{i}][{key!r}] must be a number; got {value!r} ({type(value).__name__})."
                )
            values.append(float(value))
        arr = np.asarray(values)
        std = float(np.std(arr, ddof=1)) if arr.size > 1 else math.nan
        summary[key] = {"mean": float(np.mean(arr)), "std": std}
    return summary
