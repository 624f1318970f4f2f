"""Deprecated alias of :mod:`brainvit_effnet.explain.scoring`; import from there instead.

The module was renamed because it scores explanations (localisation against tumour masks and
faithfulness), which "evaluate" did not say. Importing this name still works, re-exports the same
objects and emits a :class:`DeprecationWarning`.
"""

from __future__ import annotations

import warnings

from .scoring import METHODS, available_methods, explain, score_explanations, write_explanation_report

__all__ = ["METHODS", "available_methods", "explain", "score_explanations", "write_explanation_report"]

warnings.warn(
    "brainvit_effnet.explain.evaluate is deprecated; import from brainvit_effnet.explain.scoring "
    "(or brainvit_effnet.explain) instead.",
    DeprecationWarning,
    stacklevel=2,
)
