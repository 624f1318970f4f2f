"""Input validation shared by the metrics: each check names the argument, what it got and the fix."""

from __future__ import annotations

import logging
from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray

from .._checks import is_int
from .._tensors import to_numpy
from ..errors import InvalidArgumentError, InvalidTypeError

logger = logging.getLogger("brainvit_effnet.metrics")

#: Anything convertible to a numpy array: ndarray, torch tensor, nested lists.
ArrayLike = Any

_ROW_SUM_ATOL = 1e-3
_PROB_ATOL = 1e-6


def _to_numpy(x: ArrayLike, name: str) -> NDArray[Any]:
    """Convert an ndarray, torch tensor or nested sequence to a numpy array."""
    if isinstance(x, torch.Tensor):
        return to_numpy(x, name)
    if isinstance(x, (str, bytes)) or x is None:
        raise InvalidTypeError(
            f"{name} must be a numpy array, torch tensor or list of numbers; got {type(x).__name__}. "
            f"Pass e.g. np.asarray(...)."
        )
    try:
        arr = np.asarray(x)
    except (TypeError, ValueError) as exc:
        raise InvalidTypeError(
            f"{name} must be a numpy array, torch tensor or list of numbers; got {type(x).__name__} "
            f"that numpy cannot convert ({exc}). Make every row the same length."
        ) from exc
    if arr.dtype == object:
        raise InvalidTypeError(
            f"{name} must hold numbers; got an object array (ragged rows or mixed types). "
            "Make every row the same length and use numeric values."
        )
    return arr


def _check_labels(x: ArrayLike, name: str, num_classes: int | None = None) -> NDArray[np.int64]:
    """Validate 1-D integer class indices, in ``[0, num_classes)`` when given."""
    arr = _to_numpy(x, name)
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"{name} must be 1-D class indices of shape (N,); got shape {arr.shape}. "
            + (
                "If these are per-class scores, take argmax(axis=1) first."
                if arr.ndim == 2
                else "Flatten it with .reshape(-1)."
            )
        )
    if arr.size == 0:
        raise InvalidArgumentError(f"{name} is empty; metrics need at least one sample.")
    if arr.dtype == np.bool_ or not np.issubdtype(arr.dtype, np.integer):
        raise InvalidTypeError(
            f"{name} must hold integer class indices; got dtype {arr.dtype}. "
            f"Convert with {name}.astype(int) (numpy) or {name}.long() (torch)."
        )
    labels = arr.astype(np.int64, copy=False)
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise InvalidArgumentError(
            f"{name} must hold class indices >= 0; got {low} (at index {int(np.argmin(labels))}). "
            "Map labels to 0..C-1 first."
        )
    if num_classes is not None and high >= num_classes:
        raise InvalidArgumentError(
            f"{name} must hold class indices in [0, {num_classes}) for {num_classes} classes; got {high} "
            f"(at index {int(np.argmax(labels))}). Check that the label mapping and the number of "
            "classes (probability columns) agree."
        )
    return labels


def _check_num_classes(num_classes: object) -> int:
    if not is_int(num_classes):
        raise InvalidTypeError(
            f"num_classes must be an int >= 1; got {num_classes!r} ({type(num_classes).__name__})."
        )
    if int(num_classes) < 1:
        raise InvalidArgumentError(f"num_classes must be >= 1; got {num_classes}.")
    return int(num_classes)


def _check_same_length(n_true: int, n_other: int, other: str) -> None:
    if n_true != n_other:
        raise InvalidArgumentError(
            f"y_true and {other} must have the same number of samples; got {n_true} labels and "
            f"{n_other} rows in {other}. Pass predictions for exactly the labelled samples."
        )


def _check_scores(x: ArrayLike, name: str) -> NDArray[np.float64]:
    """Validate a finite float matrix of shape ``(N, C)`` with ``C >= 2``."""
    arr = _to_numpy(x, name)
    if arr.ndim != 2:
        raise InvalidArgumentError(
            f"{name} must have shape (N, C) (one row per sample, one column per class); got shape "
            f"{arr.shape}. For a single sample use {name}[None, :]."
        )
    if arr.shape[1] < 2:
        raise InvalidArgumentError(
            f"{name} must have at least 2 class columns; got shape {arr.shape}. For a binary task "
            "pass both columns, e.g. np.stack([1 - p, p], axis=1)."
        )
    if arr.dtype == np.bool_ or not (
        np.issubdtype(arr.dtype, np.floating) or np.issubdtype(arr.dtype, np.integer)
    ):
        raise InvalidTypeError(f"{name} must be numeric; got dtype {arr.dtype}.")
    out = arr.astype(np.float64, copy=False)
    if not np.all(np.isfinite(out)):
        row = int(np.nonzero(~np.all(np.isfinite(out), axis=1))[0][0])
        raise InvalidArgumentError(
            f"{name} must be finite; row {row} holds {out[row].tolist()}. Look for NaN/inf produced "
            "upstream (e.g. a diverged model or a division by zero)."
        )
    return out


def _check_probs(x: ArrayLike, name: str = "probs") -> NDArray[np.float64]:
    """Validate probabilities: finite ``(N, C)``, entries in ``[0, 1]``, rows summing to 1."""
    probs = _check_scores(x, name)
    if probs.min() < -_PROB_ATOL or probs.max() > 1 + _PROB_ATOL:
        bad = float(probs.min()) if probs.min() < -_PROB_ATOL else float(probs.max())
        raise InvalidArgumentError(
            f"{name} must be probabilities in [0, 1]; got a value {bad:.6g}. If these are logits, "
            "convert them with apply_temperature(logits, 1.0) (a softmax) first."
        )
    sums = probs.sum(axis=1)
    worst = int(np.argmax(np.abs(sums - 1.0)))
    if abs(sums[worst] - 1.0) > _ROW_SUM_ATOL:
        raise InvalidArgumentError(
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
            raise InvalidArgumentError(
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
        raise InvalidTypeError(f"n_bins must be an int >= 1; got {n_bins!r} ({type(n_bins).__name__}).")
    if int(n_bins) < 1:
        raise InvalidArgumentError(f"n_bins must be >= 1; got {n_bins}. 15 is the usual choice.")
    return int(n_bins)
