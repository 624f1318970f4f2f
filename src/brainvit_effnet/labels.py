"""Canonical class names shared by models, datasets and reports.

Class indices follow the alphabetical order of the canonical names, so a 3-class Figshare model and
a 4-class Kaggle model agree on what ``glioma`` is called, and data adapters map their own folder or
release codes onto these names.
"""

from __future__ import annotations

__all__ = ["BRAIN_TUMOUR_CLASSES", "TUMOUR_TYPE_CLASSES"]

#: The four classes of the public Kaggle collections (tumour types plus healthy slices).
BRAIN_TUMOUR_CLASSES: tuple[str, ...] = ("glioma", "meningioma", "no_tumor", "pituitary")

#: The three tumour types of the Figshare release (Cheng et al.), as used by Zulfiqar et al. (2023).
TUMOUR_TYPE_CLASSES: tuple[str, ...] = ("glioma", "meningioma", "pituitary")
