"""Label metrics: accuracy, balanced accuracy, confusion matrix, precision/recall/F1 (as scikit-learn)."""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from ._checks import ArrayLike, _check_predictions
from ._kernels import _balanced_accuracy, _confusion, _prf1
from .types import PrecisionRecallF1

__all__ = ["accuracy", "balanced_accuracy", "confusion_matrix", "precision_recall_f1"]


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
