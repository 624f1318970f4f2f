"""Unchecked metric kernels on validated arrays, shared by the public functions and the bootstrap."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import log_softmax

from .types import PrecisionRecallF1, RocAuc

_NLL_EPS = float(np.finfo(np.float64).eps)


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
    # Imported here, not with the module: scipy.stats would cost every `import brainvit_effnet` ~0.7 s.
    from scipy.stats import rankdata

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
