"""The slices of a dataset that have a tumour mask, in batches: what every score against masks reads."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from .._progress import progress_bar
from ..errors import InvalidArgumentError


def masked_batches(
    data: Dataset[Any] | Sequence[Any],
    *,
    batch_size: int,
    limit: int | None,
    needed_by: str,
    progress: bool | None,
    desc: str,
) -> Iterator[tuple[Tensor, Tensor, Tensor]]:
    """``(images, labels, masks)`` of the slices with a non-empty mask, in order, up to ``limit`` slices.

    Slices whose mask is empty (no tumour, or no outline) are left out; a batch left with none is
    skipped. Reading stops as soon as ``limit`` slices are yielded, so a limit on a large dataset
    does not decode the rest of it. ``masks`` are boolean. ``progress`` and ``desc``: the bar over
    the batches (see :func:`brainvit_effnet._progress.progress_bar`).

    Raises:
        InvalidArgumentError: the data yields no masks (``needed_by`` names the caller in the message).
    """
    seen = 0
    loader = DataLoader(data, batch_size=batch_size, shuffle=False)
    bar = progress_bar(loader, progress=progress, desc=desc, unit="batch", leave=False)
    try:
        for batch in bar:
            if len(batch) != 3:
                raise InvalidArgumentError(
                    f"{needed_by} needs data that yields (image, label, mask): create the dataset with "
                    "return_mask=True, or use data with tumour outlines (Figshare)."
                )
            images, labels, masks = batch
            keep = masks.flatten(1).any(dim=1)
            if limit is not None:  # the first masked slices, counted among masked slices only
                keep &= keep.cumsum(0) <= limit - seen
            if keep.any():
                seen += int(keep.sum())
                yield images[keep], labels[keep], masks[keep].bool()
            if limit is not None and seen >= limit:
                break
    finally:
        bar.close()  # also when the limit, or an error, ended the loop early
