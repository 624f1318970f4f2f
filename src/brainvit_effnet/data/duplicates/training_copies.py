"""Copies of a model's own training slices among its inputs, found by hashes shipped with the model.

Public brain-MRI releases are largely re-made Figshare slices: the Kaggle releases are 85-95%
Figshare, and half of those are the training slices of a model trained on Figshare folds 3-5.
Accuracy on such copies measures memory, not skill. A model folder can therefore carry
``training_hashes.safetensors``: the 64-bit pHash and dHash of every slice it was trained on
(16 bytes a slice; no pixels), with each slice's key. ``evaluate`` and ``predict`` match their
inputs against it, mirrored too, and say which inputs are copies.

Without thumbnails the hashes decide alone, so a match needs both hashes close:
pHash distance <= :data:`MAX_PHASH` and dHash distance <= :data:`MAX_DHASH` (of 64 bits). Those
thresholds were set by ``benchmarks/training_copies.py`` on the Figshare release: copies of
training slices re-made six ways (resized to 224 or 256 px with JPEG re-encoding, mirrored,
brightened, gamma-changed, shifted by 2 px) against every slice of two other folds (other
patients), which must not match; its record is ``benchmarks/results/training_copies.json``.
Chosen on fold 2 (none of its 655 slices flagged; fold 1's 570 checked after: none flagged), they
find 99-100% of the resized, re-encoded, mirrored and brightened copies, 66% of the gamma-changed
ones and 21% of those shifted by 2 px. Looser thresholds find more and start flagging other
patients' slices (pHash <= 6, dHash <= 4: 3 of fold 2). For shifted or re-contrasted copies use
the full check with both data sets at hand (``brainvit-effnet leakage``), which verifies
candidates on thumbnails. Cropped or rotated copies are not found by either.

Examples:
    >>> from brainvit_effnet.data.duplicates import ImageRef, compute_fingerprints
    >>> hashes = TrainingHashes.load("runs/x/model")  # doctest: +SKIP
    >>> matches = match_training_copies(compute_fingerprints([ImageRef("a.jpg")]), hashes)  # doctest: +SKIP
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file

from ...errors import CheckpointError, InvalidArgumentError
from .fingerprints import Fingerprints, ImageRef, _as_words, _popcount, compute_fingerprints

__all__ = [
    "HASHES_FILE",
    "MAX_DHASH",
    "MAX_PHASH",
    "TrainingCopy",
    "TrainingHashes",
    "find_training_copies",
    "match_training_copies",
    "training_hashes_of",
]

_logger = logging.getLogger(__name__)

#: The file in a model folder that holds its training slices' hashes.
HASHES_FILE = "training_hashes.safetensors"
#: Largest pHash distance (of 64 bits) of a copy (see the module docstring for how it was chosen).
MAX_PHASH = 4
#: Largest dHash distance (of 64 bits) of a copy.
MAX_DHASH = 2
_BYTES = 8  # 64-bit hashes


@dataclass(frozen=True)
class TrainingHashes:
    """The pHash and dHash of every slice a model was trained on, with the slices' keys.

    Attributes:
        phash: ``uint8`` of shape ``(n, 8)``: 64-bit pHashes, packed as in :class:`Fingerprints`.
        dhash: ``uint8`` of shape ``(n, 8)``: 64-bit dHashes.
        keys: One name per slice, e.g. ``"figshare:1234"``: what a match reports.
        description: Where the slices came from, e.g. ``"Figshare folds 3, 4, 5"``.
    """

    phash: npt.NDArray[np.uint8]
    dhash: npt.NDArray[np.uint8]
    keys: tuple[str, ...]
    description: str = ""

    def __post_init__(self) -> None:
        n = len(self.keys)
        for name in ("phash", "dhash"):
            value = getattr(self, name)
            if value.dtype != np.uint8 or value.shape != (n, _BYTES):
                raise InvalidArgumentError(
                    f"TrainingHashes.{name} must be uint8 of shape ({n}, {_BYTES}) (64-bit hashes, one "
                    f"row per key); got {value.dtype} {value.shape}."
                )

    def __len__(self) -> int:
        return len(self.keys)

    @classmethod
    def from_fingerprints(cls, fingerprints: Fingerprints, description: str = "") -> TrainingHashes:
        """The hashes of fingerprinted training slices (64-bit hashes: ``hash_size=8``)."""
        if fingerprints.hash_size != 8:
            raise InvalidArgumentError(
                f"training hashes are 64-bit: compute the fingerprints with hash_size=8, not "
                f"{fingerprints.hash_size}."
            )
        keys = tuple(item.key for item in fingerprints.items)
        return cls(fingerprints.phash, fingerprints.dhash, keys, description)

    def save(self, folder: str | Path) -> Path:
        """Write ``folder/training_hashes.safetensors``; returns its path."""
        path = Path(folder) / HASHES_FILE
        tensors = {"phash": torch.from_numpy(self.phash.copy()), "dhash": torch.from_numpy(self.dhash.copy())}
        # Keys are joined with newlines: safetensors metadata holds strings only.
        save_file(
            tensors, str(path), metadata={"keys": "\n".join(self.keys), "description": self.description}
        )
        return path

    @classmethod
    def load(cls, folder: str | Path) -> TrainingHashes | None:
        """Read ``folder/training_hashes.safetensors``; ``None`` when the folder has none.

        Raises:
            CheckpointError: the file exists but is unreadable or malformed (the message names it).
        """
        path = Path(folder) / HASHES_FILE
        if not path.is_file():
            return None
        try:
            with safe_open(str(path), framework="pt") as f:  # one read: tensors and metadata
                metadata = f.metadata() or {}
                phash, dhash = f.get_tensor("phash").numpy(), f.get_tensor("dhash").numpy()
            keys = tuple(metadata["keys"].split("\n")) if metadata.get("keys") else ()
            return cls(phash, dhash, keys, metadata.get("description", ""))
        except (SafetensorError, OSError, KeyError, InvalidArgumentError) as e:
            raise CheckpointError(
                f"{path} is not a valid training-hash file ({e}). Move it away to use the model without "
                f"the training-copy check."
            ) from e


@dataclass(frozen=True)
class TrainingCopy:
    """An input that matches one of the model's training slices.

    Attributes:
        key: The training slice it copies (:attr:`TrainingHashes.keys`).
        phash_distance, dhash_distance: Hamming distances of the two 64-bit hashes.
        mirrored: The input is a left-right mirror of the slice.
    """

    key: str
    phash_distance: int
    dhash_distance: int
    mirrored: bool

    def __str__(self) -> str:
        return f"{self.key}{' (mirrored)' if self.mirrored else ''}"


def match_training_copies(
    fingerprints: Fingerprints,
    hashes: TrainingHashes,
    *,
    max_phash: int = MAX_PHASH,
    max_dhash: int = MAX_DHASH,
) -> list[list[TrainingCopy]]:
    """For each fingerprinted input, the training slices it copies (closest first; empty if none).

    An input copies a slice when its pHash is within ``max_phash`` bits and its dHash within
    ``max_dhash`` bits of the slice's, as it is or mirrored left-right.
    """
    if fingerprints.hash_size != 8:
        raise InvalidArgumentError(
            f"compute the fingerprints with hash_size=8, not {fingerprints.hash_size}."
        )
    out: list[list[TrainingCopy]] = [[] for _ in range(len(fingerprints))]
    if not len(fingerprints) or not len(hashes):
        return out
    ref_p, ref_d = _as_words(hashes.phash), _as_words(hashes.dhash)
    views = [(fingerprints.phash, fingerprints.dhash, False)]
    if fingerprints.mirror_phash is not None and fingerprints.mirror_dhash is not None:
        views.append((fingerprints.mirror_phash, fingerprints.mirror_dhash, True))
    for phash, dhash, mirrored in views:
        q_p, q_d = _as_words(phash), _as_words(dhash)
        for i in range(len(fingerprints)):  # one input against every slice: n x 2 words, cheap
            p = _popcount(q_p[i] ^ ref_p).sum(axis=1)
            d = _popcount(q_d[i] ^ ref_d).sum(axis=1)
            for j in np.flatnonzero((p <= max_phash) & (d <= max_dhash)).tolist():
                out[i].append(TrainingCopy(hashes.keys[j], int(p[j]), int(d[j]), mirrored))
    for matches in out:
        matches.sort(key=lambda m: (m.phash_distance + m.dhash_distance, m.mirrored))
    return out


def training_hashes_of(model: torch.nn.Module) -> TrainingHashes | None:
    """The training hashes shipped beside a loaded model's weights, or ``None``.

    Looks in the folder of ``model.weights_source`` (set by every loader), so it works for
    bundled models, ``save_pretrained`` folders and Hub snapshots that include the file.
    """
    source = getattr(model, "weights_source", None)
    if not isinstance(source, str):
        return None
    folder = Path(source).parent
    return TrainingHashes.load(folder) if folder.is_dir() else None


def find_training_copies(
    hashes: TrainingHashes, paths: Sequence[str | Path]
) -> dict[str, list[TrainingCopy]]:
    """Which of ``paths`` copy a training slice: ``{path: matches}`` for those that do.

    Files that cannot be read are left to the caller's own reading (which reports them): they are
    not fingerprinted here.
    """
    refs = [ImageRef(p) for p in paths]
    fingerprints = compute_fingerprints(refs, workers=-1, strict=False, progress=False)
    matches = match_training_copies(fingerprints, hashes)
    return {str(item.path): m for item, m in zip(fingerprints.items, matches, strict=True) if m}
