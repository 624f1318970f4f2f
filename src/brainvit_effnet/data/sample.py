"""The Figshare sample bundled with the package: the offline default for demos, docs and examples.

96 real slices (32 per tumour type, all five official folds) at 160x160, with labels, folds and
tumour outlines; CC BY 4.0, attribution in ``sample_data/README.md``.

A second bundled set, :func:`load_heldout_sample`, holds 153 slices of official fold 1 (51 per
type): the fold the bundled model ``effnet_b0.figshare`` never saw, so ``brainvit-effnet demo``
can score it on patients it has not met. Keep the two apart: the first sample's other folds
trained that model.

Examples:
    >>> from brainvit_effnet.data import load_heldout_sample, load_sample
    >>> sample = load_sample()
    >>> len(sample), sample.classes
    (96, ('glioma', 'meningioma', 'pituitary'))
    >>> len(load_heldout_sample()), sorted({r.fold for r in load_heldout_sample().records})
    (153, [1])
"""

from __future__ import annotations

from importlib.resources import as_file, files
from pathlib import Path
from typing import Any

from .figshare import FigshareDataset

__all__ = ["SAMPLE_ATTRIBUTION", "heldout_root", "load_heldout_sample", "load_sample", "sample_root"]

SAMPLE_ATTRIBUTION = (
    'J. Cheng, "brain tumor dataset", figshare, 2017 (CC BY 4.0); Cheng J. et al., PLoS One '
    "10(10):e0140381, 2015 and 11(6):e0157112, 2016."
)


def _package_folder(name: str) -> Path:
    with as_file(files("brainvit_effnet.data") / name) as path:
        return Path(path)


def sample_root() -> Path:
    """Folder of the bundled sample (a regular folder: the package is installed unzipped)."""
    return _package_folder("sample_data")


def heldout_root() -> Path:
    """Folder of the bundled held-out slices (official fold 1; see :func:`load_heldout_sample`)."""
    return _package_folder("heldout_data")


def load_sample(folds: list[int] | None = None, **kwargs: Any) -> FigshareDataset:
    """The bundled sample as a :class:`~brainvit_effnet.data.FigshareDataset`.

    Args:
        folds: Official folds to keep (1-5), e.g. ``[5]`` for a held-out test set.
        **kwargs: Passed on (``transform``, ``crop``, ``return_mask``, ``cache``, ``classes``).
    """
    return FigshareDataset(sample_root(), folds=folds, **kwargs)


def load_heldout_sample(**kwargs: Any) -> FigshareDataset:
    """153 slices of official Figshare fold 1 (51 per tumour type, with tumour outlines).

    Fold 1 is the fold the bundled model ``effnet_b0.figshare`` was never trained, tuned or
    selected on, so accuracy on these slices is held-out accuracy for it. 21 of the slices are
    also in :func:`load_sample` (its fold-1 part).

    Args:
        **kwargs: Passed on to :class:`~brainvit_effnet.data.FigshareDataset` (``transform``,
            ``crop``, ``return_mask``, ``cache``, ``classes``).
    """
    return FigshareDataset(heldout_root(), **kwargs)
