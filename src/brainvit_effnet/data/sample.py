"""The Figshare sample bundled with the package: the offline default for demos, docs and examples.

96 real slices (32 per tumour type, all five official folds) at 160x160, with labels, folds and
tumour outlines; CC BY 4.0, attribution in ``sample_data/README.md``.

Examples:
    >>> from brainvit_effnet.data import load_sample
    >>> sample = load_sample()
    >>> len(sample), sample.classes
    (96, ('glioma', 'meningioma', 'pituitary'))
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from .figshare import FigshareDataset

__all__ = ["SAMPLE_ATTRIBUTION", "load_sample", "sample_root"]

SAMPLE_ATTRIBUTION = (
    'J. Cheng, "brain tumor dataset", figshare, 2017 (CC BY 4.0); Cheng J. et al., PLoS One '
    "10(10):e0140381, 2015 and 11(6):e0157112, 2016."
)


def sample_root() -> Path:
    """Folder of the bundled sample (a regular folder: the package is installed unzipped)."""
    with as_file(files("brainvit_effnet.data") / "sample_data") as path:
        return Path(path)


def load_sample(folds: list[int] | None = None, **kwargs: Any) -> FigshareDataset:
    """The bundled sample as a :class:`~brainvit_effnet.data.FigshareDataset`.

    Args:
        folds: Official folds to keep (1-5), e.g. ``[5]`` for a held-out test set.
        **kwargs: Passed on (``transform``, ``crop``, ``return_mask``, ``cache``, ``classes``).
    """
    return FigshareDataset(sample_root(), folds=folds, **kwargs)
