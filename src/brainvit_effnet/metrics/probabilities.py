"""Probability metrics: one-vs-rest ROC AUC, NLL, Brier score, calibration error and reliability diagram."""

from __future__ import annotations

import numpy as np

from ._checks import ArrayLike, _check_labels_probs, _check_n_bins
from ._kernels import _bin_stats, _brier, _ece, _nll, _roc_auc
from .types import ReliabilityDiagram, RocAuc

__all__ = [
    "brier_score",
    "expected_calibration_error",
    "negative_log_likelihood",
    "reliability_diagram",
    "roc_auc_ovr",
]


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
