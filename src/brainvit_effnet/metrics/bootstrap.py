"""Bootstrap confidence intervals: any metric (:func:`bootstrap_ci`), and the report's five at once."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._checks import is_int, is_real
from ..errors import InvalidArgumentError, InvalidTypeError
from ..results import CI_METRICS
from ._checks import ArrayLike, _check_labels, _check_same_length, _to_numpy, logger
from ._kernels import _bin_index, _safe_divide

__all__ = ["bootstrap_ci"]


# Bootstrap indices are drawn in chunks of at most this many entries, to bound memory.
_BOOTSTRAP_CHUNK = 1 << 22


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

    out = {name: np.empty(n_resamples) for name in CI_METRICS}
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
        raise InvalidTypeError(
            f"n_resamples must be an int >= 1; got {n_resamples!r} ({type(n_resamples).__name__})."
        )
    if int(n_resamples) < 1:
        raise InvalidArgumentError(f"n_resamples must be >= 1; got {n_resamples}. 1000 or more is usual.")
    if not is_real(alpha):
        raise InvalidTypeError(f"alpha must be a float in (0, 1); got {alpha!r} ({type(alpha).__name__}).")
    if not 0.0 < float(alpha) < 1.0:
        raise InvalidArgumentError(
            f"alpha must be in (0, 1); got {alpha}. Use alpha=0.05 for a 95 % interval."
        )
    if not is_int(seed):
        raise InvalidTypeError(f"seed must be an int; got {seed!r} ({type(seed).__name__}).")


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
        >>> from brainvit_effnet.metrics import accuracy
        >>> y = np.array([0, 1] * 50)
        >>> est, low, high = bootstrap_ci(accuracy, y, np.eye(2)[y], n_resamples=200)
        >>> est, low, high
        (1.0, 1.0, 1.0)
    """
    if not callable(metric_fn):
        raise InvalidTypeError(
            f"metric_fn must be a callable metric_fn(y_true, probs) -> float; got {type(metric_fn).__name__}."
        )
    _check_bootstrap_args(n_resamples, alpha, seed)
    y = _check_labels(y_true, "y_true")
    data = _to_numpy(probs, "probs")
    if data.ndim == 0:
        raise InvalidArgumentError(f"probs must have a sample axis of length N={y.shape[0]}; got a scalar.")
    _check_same_length(y.shape[0], data.shape[0], "probs")

    def fn(a: Any, b: Any) -> float:
        value = metric_fn(a, b)
        try:
            return float(value)
        except (TypeError, ValueError) as exc:
            raise InvalidTypeError(
                f"metric_fn must return a float; got {type(value).__name__}. If it returns a dict "
                "(e.g. roc_auc_ovr), wrap it: lambda y, p: roc_auc_ovr(y, p)['macro']."
            ) from exc

    estimate = fn(y, data)
    values = _bootstrap_values(fn, y, data, int(n_resamples), int(seed), stratify)
    name = getattr(metric_fn, "__name__", "metric_fn")
    low, high = _percentile_interval(values, float(alpha), name)
    return estimate, low, high
