"""The shapes of the array-valued metrics' results (``TypedDict``: plain dicts with known keys)."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from numpy.typing import NDArray

__all__ = ["PrecisionRecallF1", "ReliabilityDiagram", "RocAuc"]


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
