"""An on-disk copy of a dataset's slice cache, so a study decodes and crops its data once.

Decoding a Figshare slice and cropping it to the brain costs far more than an epoch's use of it,
and every experiment on the same data repeats that work: each fold of a cross-validation, each
run of an ablation, each process of a study split into lanes. :func:`save_slice_cache` writes the
in-memory cache of :class:`~brainvit_effnet.data.base.MRIDataset` (uint8 slices at the capped
size, masks, tumour outlines) to one safetensors file; :func:`load_slice_cache` fills a dataset's
cache from it. No pickle is involved.

The file records, per slice, its source and a stamp of the file it came from (size and
modification time). An entry whose file has changed since is not used: that slice is decoded
again, so an edited or replaced image never trains from a stale copy. A file written with another
crop setting or size cap is refused with an error naming it.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from .._atomic import write_path_atomically
from ..errors import InvalidArgumentError

if TYPE_CHECKING:
    from .base import MRIDataset

__all__ = ["load_slice_cache", "save_slice_cache", "source_stamp"]

_logger = logging.getLogger(__name__)

_FORMAT = "brainvit-slice-cache/1"


def source_stamp(source: str) -> str:
    """``"size:mtime_ns"`` of the file behind ``source`` (the archive for ``"archive.zip::member"``)."""
    st = os.stat(source.split("::", 1)[0])
    return f"{st.st_size}:{st.st_mtime_ns}"


def _settings(dataset: MRIDataset) -> dict[str, str]:
    from .preprocess import MAX_CROP_ASPECT, MIN_CROP_AREA

    # The crop rule is part of what a cached slice is: a change to it invalidates the file.
    rule = (
        f"study-contour+fallback(area<{MIN_CROP_AREA},aspect>{MAX_CROP_ASPECT})" if dataset.crop else "none"
    )
    return {
        "crop": json.dumps(bool(dataset.crop)),
        "max_side": json.dumps(dataset.cache_max_side),
        "crop_rule": rule,
    }


def save_slice_cache(dataset: MRIDataset, path: str | os.PathLike[str]) -> int:
    """Write every slice in ``dataset``'s cache (shared by its subsets) to ``path``, atomically.

    Returns:
        The number of slices written.

    Raises:
        ValueError: the dataset was created without ``cache=True``.
    """
    cache = dataset._cache
    if cache is None:
        raise InvalidArgumentError(
            "this dataset was created with cache=False; pass cache=True to use a cache."
        )
    tensors: dict[str, torch.Tensor] = {}
    sources = []
    for i, (source, decoded) in enumerate(sorted(cache.items())):
        sources.append([source, source_stamp(source)])
        tensors[f"{i}/image"] = decoded.image.contiguous()
        if decoded.mask is not None:
            tensors[f"{i}/mask"] = decoded.mask.contiguous()
        if decoded.border is not None:
            tensors[f"{i}/border"] = torch.from_numpy(np.ascontiguousarray(decoded.border, dtype=np.float64))
    metadata = {
        "format": _FORMAT,
        **_settings(dataset),
        "sources": json.dumps(sources),
        "crop_fallbacks": json.dumps(sorted(dataset.crop_fallbacks & set(cache))),
    }

    from safetensors.torch import save_file

    write_path_atomically(path, lambda tmp: save_file(tensors, str(tmp), metadata=metadata))
    return len(sources)


def load_slice_cache(dataset: MRIDataset, path: str | os.PathLike[str]) -> int:
    """Fill ``dataset``'s cache with the slices of its records that ``path`` holds and that are current.

    Slices already cached, absent from the file, or whose file changed since it was written are
    left alone (they are decoded when first used).

    Returns:
        The number of slices loaded.

    Raises:
        ValueError: the dataset has no cache, or the file is not a slice cache, or was written with
            another crop setting or size cap (the message names the file).
    """
    from .base import Decoded

    cache = dataset._cache
    if cache is None:
        raise InvalidArgumentError(
            "this dataset was created with cache=False; pass cache=True to use a cache."
        )
    path = Path(path)
    from safetensors import safe_open

    try:
        handle = safe_open(str(path), framework="pt")
    except Exception as e:  # safetensors raises its own error types for a damaged header
        raise InvalidArgumentError(
            f"{path} is not a readable slice cache ({e}); delete it to rebuild it."
        ) from e
    with handle as f:
        meta = f.metadata() or {}
        if meta.get("format") != _FORMAT:
            raise InvalidArgumentError(
                f"{path} is not a slice cache ({_FORMAT}); delete it or choose another cache_dir."
            )
        wanted = _settings(dataset)
        got = {k: meta.get(k) for k in wanted}
        if got != wanted:
            raise InvalidArgumentError(
                f"{path} was written with crop/max_side/crop rule {got}, this dataset uses {wanted}; "
                f"delete it or choose another cache_dir."
            )
        index = {source: (i, stamp) for i, (source, stamp) in enumerate(json.loads(meta["sources"]))}
        fallbacks = set(json.loads(meta.get("crop_fallbacks", "[]")))
        keys = set(f.keys())
        loaded = stale = 0
        for record in dataset.records:
            source = record.source
            if source in cache or source not in index:
                continue
            i, stamp = index[source]
            try:
                current = source_stamp(source)
            except OSError:
                current = None
            if current != stamp:
                stale += 1
                continue
            mask = f.get_tensor(f"{i}/mask") if f"{i}/mask" in keys else None
            border = f.get_tensor(f"{i}/border").numpy() if f"{i}/border" in keys else None
            cache[source] = Decoded(f.get_tensor(f"{i}/image"), mask, border)
            if source in fallbacks:
                dataset.crop_fallbacks.add(source)
            loaded += 1
    if stale:
        _logger.info("%s: %d slice(s) changed since the cache was written; decoding them again", path, stale)
    return loaded
