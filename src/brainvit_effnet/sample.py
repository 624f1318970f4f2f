"""Three real MRI slices shipped with the package, for offline demos and smoke tests.

They come from the Figshare brain-tumour release (Cheng et al., CC BY 4.0; attribution in
``sample_data/README.md``): one glioma, one meningioma and one pituitary tumour, 128x128 greyscale.

Example:
    >>> from brainvit_effnet.sample import demo_slices
    >>> [s.label for s in demo_slices()]
    ['glioma', 'meningioma', 'pituitary']
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from importlib.resources import files

from PIL import Image

__all__ = ["DemoSlice", "demo_slices"]

_PACKAGE_DATA = files("brainvit_effnet") / "sample_data"


@dataclass(frozen=True)
class DemoSlice:
    """One bundled slice: its file name, tumour type, official Figshare fold and the image."""

    name: str
    label: str
    fold: int
    image: Image.Image


def demo_slices() -> list[DemoSlice]:
    """Load the bundled slices as greyscale PIL images, in file order of ``labels.csv``."""
    rows = list(csv.DictReader((_PACKAGE_DATA / "labels.csv").read_text(encoding="utf-8").splitlines()))
    slices = []
    for row in rows:
        with (_PACKAGE_DATA / row["file"]).open("rb") as fh:
            image = Image.open(fh).convert("L")
        slices.append(DemoSlice(row["file"], row["label"], int(row["cv_fold"]), image))
    return slices
