"""Exact and near-duplicate image detection, for train/test leakage checks.

Public Kaggle brain-MRI releases leak: the full Bhuvaji "Brain Tumor Classification (MRI)" release
has 88 test files that are byte-identical to training files, and many more test images are
resized, re-encoded or slightly shifted copies of training images. Nickparvar's "Brain Tumor MRI
Dataset" merges Figshare, Bhuvaji and Br35H, so it overlaps both. Any accuracy measured on such a
split is inflated. This module finds those copies before a model is trained.

Method:

* **Exact duplicates**: the SHA-256 of the file bytes (byte-identical files), and the SHA-256 of
  the decoded pixels (the same pixels saved again, e.g. with other metadata; an RGB file whose
  three channels are equal counts as the greyscale image it shows).
* **Near-duplicate candidates**: a perceptual hash (pHash). The image is converted to greyscale,
  resized to ``4 * hash_size`` pixels square with Pillow's bicubic filter (anti-aliased when
  shrinking) and transformed with a 2-D DCT-II (``scipy.fft.dctn``, orthonormal); the top-left
  ``hash_size x hash_size`` block of low frequencies (DC term included) is thresholded at its
  median, giving ``hash_size ** 2`` bits (64 by default; half of them set, so distances are even).
  A difference hash (dHash: signs of horizontal gradients of a ``(hash_size + 1) x hash_size``
  thumbnail) is stored too, reported for every pair, and usable with ``method="dhash"/"both"``.
  Hamming distances are computed for every pair (all ``i < j`` within one set, or every query item
  against every reference item) with vectorised XOR and popcount, in chunks: 7000 x 7000 items
  take about 0.2 s.
* **Verification**: 64 bits of low frequencies cannot tell an MRI copy from the neighbouring slice
  of the same scan, or even from a similar slice of another patient (see below). Every candidate is
  therefore checked on 64x64 greyscale thumbnails: their Pearson correlation, maximised over
  sub-pixel translations of up to one thumbnail pixel (:func:`thumbnail_similarity`). Copies score
  >= 0.9865, different images <= 0.9825; a candidate with similarity >= ``min_similarity`` is a
  **near** pair. ``min_similarity=None`` turns the check off (plain hash matching).

Defaults ``max_distance=12`` (of 64 bits) and ``min_similarity=0.985``, validated on the 3064
Figshare slices (512 px JPEGs, 233 patients, patient-disjoint folds) in the project's shared data:

* (a) Copies of the first 300 images: resized to 256 px + JPEG q75, resized to 224 px, +10%
  brightness, gamma 0.8: pHash distance <= 2 (gamma: <= 6), similarity >= 0.994. Shifted by
  2 / 4 px at 512 px: distance max 12 / 14 (95th percentile 6 / 10), similarity >= 0.9943 /
  0.9885. Shifted by 2 / 3 px at 224 px: 95th percentile 12 / 14, 98% / 90% within 12,
  similarity >= 0.9865 / 0.9891. A threshold of 6 would miss 21-60% of the shifted copies.
* (b) Different images (4.69 M pairs): distance median 28, 1st percentile 14, but 1982 pairs are
  within 6 and 33011 within 12, and 24 images have another image at distance 0. Adjacent slices
  of one patient are the closest, but 388 of the pairs within 6 are different patients (different
  folds). Hash matching alone at 6 reports 62% of Figshare as near-duplicated within itself, with
  145 "label disagreements", all false. Among the 33011 candidates within 12, thumbnail similarity
  is at most 0.9825 for adjacent slices and 0.9780 for different patients: with the default check
  Figshare has no near pairs, and on the Kaggle samples every verified pair has similarity >= 0.9998
  while the best unverified one has 0.944.

So the hash threshold only selects candidates (12 keeps >= 98% of the tested shifts, and all
resizing/re-encoding/intensity copies) and the thumbnail check decides. Lower ``max_distance``
for speed, raise it (14-16) to catch larger shifts; ``min_similarity`` below ~0.98 starts to pair
adjacent slices. Neither crops nor rotations are detected.

What the numbers mean: ``n_query_with_any`` / ``frac_query_with_any`` is how many query (e.g.
test) items have at least one exact or near duplicate in the reference (e.g. training) set; those
items measure memorisation, not generalisation. Pairs whose labels disagree are a labelling
problem (the same picture filed under two classes) whatever the split. Adjacent slices of one
patient are deliberately not duplicates: keep patients disjoint with a patient-level split.

Example:
    >>> from brainvit_effnet.data.duplicates import ImageRef, leakage_report, drop_duplicates_of
    >>> train = [ImageRef("Training/glioma/a.jpg", label="glioma", split="train")]
    >>> test = [ImageRef("Testing/glioma/b.jpg", label="glioma", split="test")]
    >>> report = leakage_report(train, test)  # doctest: +SKIP
    >>> print(report.to_markdown())  # doctest: +SKIP
    >>> clean_train = drop_duplicates_of(test, train, report=report)  # doctest: +SKIP
"""

from __future__ import annotations

import hashlib
import io
import logging
import math
import os
import struct
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, NamedTuple

import numpy as np
import numpy.typing as npt
from PIL import Image
from scipy.fft import dctn, rfft2

__all__ = [
    "DuplicatePair",
    "DuplicateReport",
    "Fingerprints",
    "ImageRef",
    "UnreadableImageError",
    "compute_fingerprints",
    "drop_duplicates_of",
    "find_duplicates",
    "hamming_distances",
    "leakage_report",
    "thumbnail_similarity",
]

logger = logging.getLogger(__name__)

DuplicateKind = Literal["exact", "near"]
HashMethod = Literal["phash", "dhash", "both"]

#: Default candidate threshold, in bits of a 64-bit pHash (see the module docstring).
DEFAULT_MAX_DISTANCE = 12
#: Default verification threshold: shift-tolerant correlation of 64x64 thumbnails.
DEFAULT_MIN_SIMILARITY = 0.985
#: Side of the greyscale thumbnails kept for verification.
THUMBNAIL_SIZE = 64
#: Shifts (in thumbnail pixels, both axes) searched when comparing thumbnails: up to 1/64 of the side.
_SHIFTS = np.arange(-1.0, 1.0 + 1e-9, 0.25)

_POPCOUNT_LUT = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)
_DECODE_ERRORS: tuple[type[BaseException], ...] = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    struct.error,
    Image.DecompressionBombError,
)
# Elements of the (rows x reference x words) XOR block processed at once.
_CHUNK_ELEMENTS = 1 << 22
# Candidate pairs whose thumbnails are compared at once (bounds memory to a few tens of MB).
_VERIFY_BATCH = 1024


class UnreadableImageError(ValueError):
    """An image file that is missing, truncated or not an image. The message names the file."""


@dataclass(frozen=True)
class ImageRef:
    """One image to check: where it is, and optionally its label, the set it belongs to and an id.

    Args:
        path: Image file (any format Pillow reads).
        label: Class label, compared between the two items of a pair; ``None`` if unknown.
        split: The set the item belongs to (``"train"``, ``"test"``, a dataset name); informative.
        key: Identifier used in reports and to match items; defaults to ``str(path)``.

    Example:
        >>> ref = ImageRef("Training/glioma/Tr-gl_0001.jpg", label="glioma", split="train")
        >>> ref.key
        'Training/glioma/Tr-gl_0001.jpg'
    """

    path: str | Path
    label: str | None = None
    split: str | None = None
    key: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.path, (str, Path)):
            raise TypeError(
                f"ImageRef.path must be a str or pathlib.Path; got {type(self.path).__name__} "
                f"({self.path!r}). Pass the image file's path."
            )
        for name in ("label", "split", "key"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"ImageRef.{name} must be a str or None; got {type(value).__name__} ({value!r}). "
                    f"Convert it with str(...) first."
                )
        if self.key is None:
            object.__setattr__(self, "key", str(self.path))

    @property
    def name(self) -> str:
        """The item's key (``str(path)`` unless given), as a plain ``str``."""
        return self.key if self.key is not None else str(self.path)

    def to_dict(self) -> dict[str, str | None]:
        """JSON-serialisable form: ``{"path", "label", "split", "key"}``."""
        return {"path": str(self.path), "label": self.label, "split": self.split, "key": self.name}


@dataclass(frozen=True)
class Fingerprints:
    """Hashes of a list of images, row-aligned with ``items``.

    Attributes:
        items: The items that could be read, in input order (unreadable ones are left out when
            ``strict=False``).
        sha256: File-content SHA-256 per item, hex strings, shape ``(n,)``.
        pixel_sha256: SHA-256 of the decoded pixels per item, hex strings, shape ``(n,)``.
        phash: pHash bits packed big-endian into bytes, ``uint8`` of shape ``(n, ceil(hash_size**2 / 8))``.
        dhash: dHash bits packed the same way.
        thumbnails: Greyscale ``THUMBNAIL_SIZE x THUMBNAIL_SIZE`` thumbnails, ``uint8`` of shape
            ``(n, 64, 64)``, used to verify near-duplicate candidates.
        hash_size: Side of the hash block; hashes have ``hash_size ** 2`` bits.
        skipped: Paths of files that could not be read (only with ``strict=False``).

    Example:
        >>> fp = compute_fingerprints([ImageRef("a.jpg")])  # doctest: +SKIP
        >>> fp.phash_hex()[0]  # doctest: +SKIP
        'c3a1f0e0f0e0c0c0'
    """

    items: tuple[ImageRef, ...]
    sha256: npt.NDArray[np.str_]
    pixel_sha256: npt.NDArray[np.str_]
    phash: npt.NDArray[np.uint8]
    dhash: npt.NDArray[np.uint8]
    thumbnails: npt.NDArray[np.uint8]
    hash_size: int
    skipped: tuple[str, ...] = ()

    def __len__(self) -> int:
        return len(self.items)

    @property
    def n_skipped(self) -> int:
        """Number of unreadable files left out."""
        return len(self.skipped)

    @property
    def n_bits(self) -> int:
        """Bits per hash (``hash_size ** 2``)."""
        return self.hash_size * self.hash_size

    def phash_hex(self) -> list[str]:
        """pHashes as hex strings (for hash_size 8, the usual 16-digit form)."""
        return [row.tobytes().hex() for row in self.phash]

    def dhash_hex(self) -> list[str]:
        """dHashes as hex strings."""
        return [row.tobytes().hex() for row in self.dhash]


@dataclass(frozen=True)
class DuplicatePair:
    """Two items that are exact or near duplicates.

    In a cross-set check ``query`` is from the query set (e.g. test) and ``reference`` from the
    reference set (e.g. train); in a within-set check ``query`` is the earlier item of the list.

    Attributes:
        query: First item.
        reference: Second item.
        query_index: Position of ``query`` in ``DuplicateReport.query``.
        reference_index: Position of ``reference`` in ``DuplicateReport.reference`` (within-set:
            in ``DuplicateReport.query``).
        kind: ``"exact"`` (identical bytes or pixels) or ``"near"`` (hash distance within the
            threshold and, unless verification is off, thumbnails that match).
        distance: pHash Hamming distance in bits.
        dhash_distance: dHash Hamming distance in bits.
        similarity: Shift-tolerant correlation of the two 64x64 thumbnails (1.0: same picture).
        same_bytes: Whether the files are byte-identical.
        labels_agree: ``False`` if both labels are known and differ, ``True`` if both are known and
            equal, ``None`` if either is unknown.
    """

    query: ImageRef
    reference: ImageRef
    query_index: int
    reference_index: int
    kind: DuplicateKind
    distance: int
    dhash_distance: int
    similarity: float
    same_bytes: bool
    labels_agree: bool | None

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable form of the pair."""
        return {
            "query": self.query.to_dict(),
            "reference": self.reference.to_dict(),
            "query_index": self.query_index,
            "reference_index": self.reference_index,
            "kind": self.kind,
            "distance": self.distance,
            "dhash_distance": self.dhash_distance,
            "similarity": round(self.similarity, 6),
            "same_bytes": self.same_bytes,
            "labels_agree": self.labels_agree,
        }


@dataclass
class DuplicateReport:
    """Result of :func:`find_duplicates` / :func:`leakage_report`.

    Attributes:
        pairs: All exact and near pairs, exact first, then by distance.
        query: The query items that were checked (unreadable ones excluded in lenient mode).
        reference: The reference items, or ``None`` for a within-set check.
        max_distance: Candidate threshold in hash bits.
        min_similarity: Verification threshold on thumbnail similarity; ``None``: hashes only.
        hash_size: Hash block side (``hash_size ** 2`` bits).
        method: Hash used for near pairs: ``"phash"``, ``"dhash"`` or ``"both"``.
        query_name: Name of the query set in reports (e.g. ``"test"``).
        reference_name: Name of the reference set in reports (e.g. ``"train"``).
        skipped: Unreadable files skipped (lenient mode), from both sets.

    Example:
        >>> report = find_duplicates(test_refs, train_refs)  # doctest: +SKIP
        >>> report.n_query_with_any, f"{report.frac_query_with_any:.1%}"  # doctest: +SKIP
        (13, '65.0%')
    """

    pairs: list[DuplicatePair]
    query: tuple[ImageRef, ...]
    reference: tuple[ImageRef, ...] | None
    max_distance: int
    min_similarity: float | None
    hash_size: int
    method: HashMethod = "phash"
    query_name: str = "query"
    reference_name: str = "reference"
    skipped: tuple[str, ...] = field(default_factory=tuple)

    # -- counts -------------------------------------------------------------------------------

    @property
    def within_set(self) -> bool:
        """True if this is a check of one set against itself."""
        return self.reference is None

    @property
    def n_query(self) -> int:
        """Number of query items checked."""
        return len(self.query)

    @property
    def n_reference(self) -> int:
        """Number of reference items checked (equals ``n_query`` for a within-set check)."""
        return len(self.query) if self.reference is None else len(self.reference)

    @property
    def exact_pairs(self) -> list[DuplicatePair]:
        """Pairs of identical files or identical pixels."""
        return [p for p in self.pairs if p.kind == "exact"]

    @property
    def near_pairs(self) -> list[DuplicatePair]:
        """Pairs within the hash threshold that are not exact."""
        return [p for p in self.pairs if p.kind == "near"]

    @property
    def label_disagreements(self) -> list[DuplicatePair]:
        """Pairs whose two labels are known and differ."""
        return [p for p in self.pairs if p.labels_agree is False]

    @property
    def n_exact_pairs(self) -> int:
        """Number of exact pairs."""
        return len(self.exact_pairs)

    @property
    def n_near_pairs(self) -> int:
        """Number of near (not exact) pairs."""
        return len(self.near_pairs)

    @property
    def n_label_disagreements(self) -> int:
        """Number of pairs whose labels disagree."""
        return len(self.label_disagreements)

    def _query_indices(self, kind: Literal["any", "exact"]) -> set[int]:
        chosen = [p for p in self.pairs if kind == "any" or p.kind == "exact"]
        indices = {p.query_index for p in chosen}
        if self.within_set:
            indices |= {p.reference_index for p in chosen}
        return indices

    @property
    def n_query_with_exact(self) -> int:
        """Query items with at least one exact duplicate (in the reference set, or elsewhere in the set)."""
        return len(self._query_indices("exact"))

    @property
    def n_query_with_any(self) -> int:
        """Query items with at least one exact or near duplicate."""
        return len(self._query_indices("any"))

    @property
    def frac_query_with_exact(self) -> float:
        """``n_query_with_exact / n_query`` (0.0 for an empty query set)."""
        return self.n_query_with_exact / self.n_query if self.n_query else 0.0

    @property
    def frac_query_with_any(self) -> float:
        """``n_query_with_any / n_query`` (0.0 for an empty query set)."""
        return self.n_query_with_any / self.n_query if self.n_query else 0.0

    def groups(self) -> list[list[ImageRef]]:
        """Connected groups of duplicates (within-set checks), each of two or more items.

        Keeping one item per group and dropping the others removes all duplicates within the set.

        Raises:
            ValueError: For a cross-set report (groups mix two sets; use ``pairs`` instead).
        """
        if not self.within_set:
            raise ValueError(
                "groups() needs a within-set report (find_duplicates(items) with reference=None); "
                "this report compares two sets. Use report.pairs or query_items_with_duplicates()."
            )
        parent = list(range(self.n_query))

        def find(i: int) -> int:
            while parent[i] != i:
                parent[i] = parent[parent[i]]
                i = parent[i]
            return i

        for p in self.pairs:
            a, b = find(p.query_index), find(p.reference_index)
            if a != b:
                parent[max(a, b)] = min(a, b)
        members: dict[int, list[int]] = {}
        for i in sorted(self._query_indices("any")):
            members.setdefault(find(i), []).append(i)
        return [[self.query[i] for i in idx] for _, idx in sorted(members.items())]

    @property
    def n_redundant(self) -> int:
        """Within-set: items to drop to keep one per duplicate group; cross-set: ``n_query_with_any``."""
        if not self.within_set:
            return self.n_query_with_any
        return sum(len(g) - 1 for g in self.groups())

    def counts(self) -> dict[str, int | float]:
        """All counts as a flat dict (also under ``"counts"`` in :meth:`to_dict`)."""
        return {
            "n_query": self.n_query,
            "n_reference": self.n_reference,
            "n_exact_pairs": self.n_exact_pairs,
            "n_near_pairs": self.n_near_pairs,
            "n_query_with_exact": self.n_query_with_exact,
            "frac_query_with_exact": self.frac_query_with_exact,
            "n_query_with_any": self.n_query_with_any,
            "frac_query_with_any": self.frac_query_with_any,
            "n_label_disagreements": self.n_label_disagreements,
            "n_redundant": self.n_redundant,
            "n_skipped": len(self.skipped),
        }

    # -- items --------------------------------------------------------------------------------

    def query_items_with_duplicates(self, kind: Literal["any", "exact"] = "any") -> list[ImageRef]:
        """Query items that have a duplicate (``kind="exact"``: an exact one), in query order.

        Within a set, both items of every pair count.
        """
        _check_kind(kind)
        return [self.query[i] for i in sorted(self._query_indices(kind))]

    def reference_items_with_duplicates(self, kind: Literal["any", "exact"] = "any") -> list[ImageRef]:
        """Reference items that duplicate some query item, in reference order.

        Raises:
            ValueError: For a within-set report (use :meth:`query_items_with_duplicates`).
        """
        _check_kind(kind)
        if self.reference is None:
            raise ValueError(
                "reference_items_with_duplicates() needs a cross-set report; this one is within-set. "
                "Use query_items_with_duplicates() or groups()."
            )
        indices = {p.reference_index for p in self.pairs if kind == "any" or p.kind == "exact"}
        return [self.reference[i] for i in sorted(indices)]

    def examples(self, n: int = 10, kind: DuplicateKind | None = None) -> list[DuplicatePair]:
        """Up to ``n`` example pairs: a mix of exact and near pairs unless ``kind`` is given.

        Near examples are the ones with the largest distance (the least obvious copies), so they
        are the ones worth looking at to judge the threshold.
        """
        if n < 0:
            raise ValueError(f"examples(n) needs n >= 0; got {n}.")
        near = sorted(self.near_pairs, key=lambda p: -p.distance)
        exact = self.exact_pairs
        if kind == "exact":
            return exact[:n]
        if kind == "near":
            return near[:n]
        if kind is not None:
            raise ValueError(f"kind must be 'exact', 'near' or None; got {kind!r}.")
        n_exact = min(len(exact), max(n - len(near), (n + 1) // 2))
        return exact[:n_exact] + near[: n - n_exact]

    # -- output -------------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """JSON-serialisable summary: settings, counts, every pair and the skipped files."""
        return {
            "query_name": self.query_name,
            "reference_name": None if self.within_set else self.reference_name,
            "within_set": self.within_set,
            "settings": {
                "method": self.method,
                "hash_size": self.hash_size,
                "max_distance": self.max_distance,
                "min_similarity": self.min_similarity,
            },
            "counts": self.counts(),
            "pairs": [p.to_dict() for p in self.pairs],
            "skipped": list(self.skipped),
        }

    def summary(self) -> str:
        """One line of counts, e.g. for logging."""
        other = "itself" if self.within_set else f"{self.reference_name} (n={self.n_reference})"
        return (
            f"{self.query_name} (n={self.n_query}) vs {other}: {self.n_exact_pairs} exact pairs, "
            f"{self.n_near_pairs} near pairs; {self.n_query_with_any} {self.query_name} items "
            f"({self.frac_query_with_any:.1%}) have a duplicate, {self.n_query_with_exact} "
            f"({self.frac_query_with_exact:.1%}) an exact one; "
            f"{self.n_label_disagreements} label disagreements"
        )

    def to_markdown(self, max_examples: int = 10) -> str:
        """A Markdown leakage report: settings, counts, example pairs and label-disagreeing pairs.

        Args:
            max_examples: Rows in the example-pairs table and the label-disagreement table.
        """
        q, r = self.query_name, self.reference_name
        title = f"{q} (within-set)" if self.within_set else f"{q} vs {r}"
        where = f"elsewhere in {q}" if self.within_set else f"in {r}"
        bits = self.hash_size * self.hash_size
        verified = (
            "no thumbnail check"
            if self.min_similarity is None
            else f"verified by thumbnail similarity >= {self.min_similarity}"
        )
        lines = [
            f"### Duplicate check: {title}",
            "",
            f"Near duplicates: {self.method} ({self.hash_size}x{self.hash_size} = {bits} bits) Hamming "
            f"distance <= {self.max_distance}, {verified}; exact: identical file bytes or decoded pixels.",
            "",
            f"| | count | fraction of {q} |",
            "|---|---:|---:|",
            f"| {q} items | {self.n_query} | |",
        ]
        if not self.within_set:
            lines.append(f"| {r} items | {self.n_reference} | |")
        lines += [
            f"| exact pairs | {self.n_exact_pairs} | |",
            f"| near pairs (not exact) | {self.n_near_pairs} | |",
            f"| {q} items with an exact duplicate {where} | {self.n_query_with_exact} "
            f"| {self.frac_query_with_exact:.1%} |",
            f"| {q} items with an exact or near duplicate {where} | {self.n_query_with_any} "
            f"| {self.frac_query_with_any:.1%} |",
        ]
        if self.within_set:
            lines.append(f"| redundant items (all but one per duplicate group) | {self.n_redundant} | |")
        lines += [
            f"| pairs whose labels disagree | {self.n_label_disagreements} | |",
            f"| unreadable files skipped | {len(self.skipped)} | |",
            "",
        ]
        examples = self.examples(max_examples)
        lines.append(f"#### Example pairs ({len(examples)} of {len(self.pairs)})")
        lines.append("")
        lines += _pairs_table(examples, q, q if self.within_set else r) if examples else ["None.", ""]
        disagreeing = self.label_disagreements
        shown = disagreeing[:max_examples]
        lines.append(f"#### Label-disagreeing pairs ({len(shown)} of {len(disagreeing)})")
        lines.append("")
        lines += _pairs_table(shown, q, q if self.within_set else r) if shown else ["None.", ""]
        if self.skipped:
            lines.append(
                f"Skipped unreadable files: {', '.join(_md(s) for s in self.skipped[:max_examples])}"
            )
            if len(self.skipped) > max_examples:
                lines[-1] += f" and {len(self.skipped) - max_examples} more"
            lines.append("")
        return "\n".join(lines)


def _check_kind(kind: str) -> None:
    if kind not in ("any", "exact"):
        raise ValueError(f"kind must be 'any' or 'exact'; got {kind!r}.")


def _md(text: object) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _pairs_table(pairs: Sequence[DuplicatePair], q: str, r: str) -> list[str]:
    rows = [
        f"| kind | pHash dist. | dHash dist. | similarity | {q} item | label | {r} item | label |",
        "|---|---:|---:|---:|---|---|---|---|",
    ]
    for p in pairs:
        kind = "exact (same bytes)" if p.same_bytes else p.kind
        rows.append(
            f"| {kind} | {p.distance} | {p.dhash_distance} | {p.similarity:.4f} | {_md(p.query.name)} "
            f"| {_md(p.query.label)} "
            f"| {_md(p.reference.name)} | {_md(p.reference.label)} |"
        )
    rows.append("")
    return rows


# -- hashing ----------------------------------------------------------------------------------


def _greyscale(image: Image.Image) -> Image.Image:
    """Greyscale float image ("F" mode, 0-255); 16-bit and float images are min-max scaled."""
    if image.mode in ("I", "I;16", "I;16B", "I;16L", "I;16N", "F"):
        arr = np.asarray(image.convert("F") if image.mode != "F" else image, dtype=np.float32)
        lo, hi = float(arr.min()), float(arr.max())
        scaled = (arr - lo) * (255.0 / (hi - lo)) if hi > lo else np.zeros_like(arr)
        return Image.fromarray(scaled.astype(np.float32), mode="F")
    if image.mode not in ("L", "RGB"):
        image = image.convert("RGBA" if "A" in image.mode or image.mode == "P" else "RGB")
    return image.convert("L").convert("F")


def _pixel_digest(image: Image.Image) -> str:
    arr = np.asarray(image)
    mode = image.mode
    if (
        mode == "RGB"
        and arr.ndim == 3
        and np.array_equal(arr[..., 0], arr[..., 1])
        and np.array_equal(arr[..., 0], arr[..., 2])
    ):
        arr, mode = np.ascontiguousarray(arr[..., 0]), "L"
    header = f"{mode}:{arr.shape}:{arr.dtype.str};".encode()
    return hashlib.sha256(header + arr.tobytes()).hexdigest()


def _phash_bits(grey: Image.Image, hash_size: int) -> npt.NDArray[np.bool_]:
    side = 4 * hash_size
    small = np.asarray(grey.resize((side, side), Image.Resampling.BICUBIC), dtype=np.float64)
    low = dctn(small, type=2, norm="ortho")[:hash_size, :hash_size]
    return np.asarray(low > np.median(low)).ravel()


def _dhash_bits(grey: Image.Image, hash_size: int) -> npt.NDArray[np.bool_]:
    small = np.asarray(grey.resize((hash_size + 1, hash_size), Image.Resampling.BICUBIC), dtype=np.float64)
    return np.asarray(small[:, 1:] > small[:, :-1]).ravel()


def _thumbnail(grey: Image.Image) -> npt.NDArray[np.uint8]:
    small = np.asarray(
        grey.resize((THUMBNAIL_SIZE, THUMBNAIL_SIZE), Image.Resampling.BICUBIC), dtype=np.float32
    )
    return np.clip(np.rint(small), 0, 255).astype(np.uint8)


class _Row(NamedTuple):
    sha256: str
    pixel_sha256: str
    phash: npt.NDArray[np.uint8]
    dhash: npt.NDArray[np.uint8]
    thumbnail: npt.NDArray[np.uint8]


def _fingerprint_one(ref: ImageRef, hash_size: int) -> _Row:
    path = Path(ref.path)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise UnreadableImageError(
            f"Cannot read image file {str(path)!r} (item {ref.name!r}): {exc}. Expected an existing, "
            f"readable image file; fix the path or pass strict=False to skip unreadable files."
        ) from exc
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.load()
            pixel_digest = _pixel_digest(image)
            grey = _greyscale(image)
    except _DECODE_ERRORS as exc:
        raise UnreadableImageError(
            f"Cannot decode image file {str(path)!r} (item {ref.name!r}, {len(data)} bytes): "
            f"{type(exc).__name__}: {exc}. Expected a complete image Pillow can read; replace or "
            f"remove the file, or pass strict=False to skip unreadable files."
        ) from exc
    return _Row(
        sha256=hashlib.sha256(data).hexdigest(),
        pixel_sha256=pixel_digest,
        phash=np.packbits(_phash_bits(grey, hash_size)),
        dhash=np.packbits(_dhash_bits(grey, hash_size)),
        thumbnail=_thumbnail(grey),
    )


def _check_refs(items: object, name: str) -> tuple[ImageRef, ...]:
    if isinstance(items, (str, Path, ImageRef)) or not isinstance(items, Sequence):
        raise TypeError(
            f"{name} must be a sequence of ImageRef; got {type(items).__name__}. Wrap paths as "
            f"[ImageRef(path, label=...) for path in paths]."
        )
    refs = tuple(items)
    for i, ref in enumerate(refs):
        if not isinstance(ref, ImageRef):
            raise TypeError(
                f"{name}[{i}] must be an ImageRef; got {type(ref).__name__} ({ref!r}). "
                f"Wrap it as ImageRef(path, label=...)."
            )
    return refs


def _check_hash_size(hash_size: object) -> int:
    if isinstance(hash_size, bool) or not isinstance(hash_size, int) or not 2 <= hash_size <= 64:
        raise ValueError(
            f"hash_size must be an int between 2 and 64 (8 gives 64-bit hashes); got {hash_size!r}."
        )
    return hash_size


def _n_threads(workers: object) -> int:
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < -1:
        raise ValueError(
            f"workers must be 0 (no threads), a positive thread count, or -1 (one per CPU); got {workers!r}."
        )
    return (os.cpu_count() or 1) if workers == -1 else workers


def compute_fingerprints(
    items: Sequence[ImageRef], hash_size: int = 8, workers: int = 0, *, strict: bool = True
) -> Fingerprints:
    """SHA-256 of file bytes and pixels, pHash and dHash of every item.

    Args:
        items: The images to fingerprint.
        hash_size: Side of the hash block; hashes have ``hash_size ** 2`` bits (default 64).
        workers: ``0`` hashes in this thread; ``k > 0`` uses ``k`` threads (decoding releases the
            GIL); ``-1`` uses one thread per CPU.
        strict: If True, an unreadable, truncated or non-image file raises
            :class:`UnreadableImageError` (a ``ValueError``) naming it. If False, such files are
            skipped, recorded in ``Fingerprints.skipped``, and one warning with their count is logged.

    Returns:
        The fingerprints, row-aligned with the readable items.

    Raises:
        TypeError: If ``items`` is not a sequence of :class:`ImageRef`.
        ValueError: For a bad ``hash_size`` or ``workers``, or (strict) an unreadable file.

    Example:
        >>> fp = compute_fingerprints([ImageRef("a.jpg"), ImageRef("b.png")], workers=2)  # doctest: +SKIP
        >>> fp.phash.shape  # doctest: +SKIP
        (2, 8)
    """
    refs = _check_refs(items, "items")
    hash_size = _check_hash_size(hash_size)
    threads = _n_threads(workers)

    def one(ref: ImageRef) -> _Row | UnreadableImageError:
        try:
            return _fingerprint_one(ref, hash_size)
        except UnreadableImageError as exc:
            if strict:
                raise
            return exc

    if threads > 1 and len(refs) > 1:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            results = list(pool.map(one, refs))
    else:
        results = [one(ref) for ref in refs]

    kept: list[ImageRef] = []
    rows: list[_Row] = []
    skipped: list[str] = []
    for ref, result in zip(refs, results, strict=True):
        if isinstance(result, UnreadableImageError):
            skipped.append(str(ref.path))
        else:
            kept.append(ref)
            rows.append(result)
    if skipped:
        logger.warning(
            "Skipped %d unreadable image file(s) of %d (strict=False), e.g. %s",
            len(skipped),
            len(refs),
            skipped[0],
        )
    n_bytes = math.ceil(hash_size * hash_size / 8)
    return Fingerprints(
        items=tuple(kept),
        sha256=np.array([r.sha256 for r in rows], dtype="<U64"),
        pixel_sha256=np.array([r.pixel_sha256 for r in rows], dtype="<U64"),
        phash=np.array([r.phash for r in rows], dtype=np.uint8).reshape(len(rows), n_bytes),
        dhash=np.array([r.dhash for r in rows], dtype=np.uint8).reshape(len(rows), n_bytes),
        thumbnails=np.array([r.thumbnail for r in rows], dtype=np.uint8).reshape(
            len(rows), THUMBNAIL_SIZE, THUMBNAIL_SIZE
        ),
        hash_size=hash_size,
        skipped=tuple(skipped),
    )


# -- distances --------------------------------------------------------------------------------


def _as_words(packed: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint64]:
    """Packed hash bytes as uint64 words (zero-padded), shape ``(n, words)``."""
    n, n_bytes = packed.shape
    pad = (-n_bytes) % 8
    if pad:
        packed = np.concatenate([packed, np.zeros((n, pad), dtype=np.uint8)], axis=1)
    return np.ascontiguousarray(packed).view(np.uint64)


def _popcount(words: npt.NDArray[np.uint64]) -> npt.NDArray[np.int64]:
    """Set bits per element of a uint64 array."""
    bitwise_count = getattr(np, "bitwise_count", None)  # numpy >= 2.0
    if bitwise_count is not None:
        return np.asarray(bitwise_count(words), dtype=np.int64)
    as_bytes = words.view(np.uint8).reshape(*words.shape, 8)
    return _POPCOUNT_LUT[as_bytes].sum(axis=-1, dtype=np.int64)


def hamming_distances(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.int64]:
    """Full ``(len(a), len(b))`` matrix of Hamming distances between packed hashes.

    Meant for small sets and inspection; :func:`find_duplicates` works in chunks instead.

    Example:
        >>> h = np.array([[0b1111_0000], [0b1111_1111]], dtype=np.uint8)
        >>> hamming_distances(h, h).tolist()
        [[0, 4], [4, 0]]
    """
    wa, wb = _as_words(a), _as_words(b)
    return _popcount(wa[:, None, :] ^ wb[None, :, :]).sum(axis=-1)


def _close_pairs(
    q: npt.NDArray[np.uint64], r: npt.NDArray[np.uint64], max_distance: int, within: bool
) -> Iterator[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    """Yield index arrays (i, j) of pairs at distance <= max_distance, chunked over query rows."""
    n_q, n_r, n_words = len(q), len(r), q.shape[1]
    if n_q == 0 or n_r == 0:
        return
    rows = max(1, _CHUNK_ELEMENTS // max(1, n_r * n_words))
    cols = np.arange(n_r)
    for start in range(0, n_q, rows):
        stop = min(n_q, start + rows)
        dist = _popcount(q[start:stop, None, :] ^ r[None, :, :]).sum(axis=-1)
        close = dist <= max_distance
        if within:
            close &= cols[None, :] > np.arange(start, stop)[:, None]
        i, j = np.nonzero(close)
        if len(i):
            yield i + start, j


def _fingerprints_of(
    items: Sequence[ImageRef] | Fingerprints, name: str, hash_size: int, workers: int, strict: bool
) -> Fingerprints:
    if isinstance(items, Fingerprints):
        if items.hash_size != hash_size:
            raise ValueError(
                f"{name} fingerprints were computed with hash_size={items.hash_size}, but "
                f"hash_size={hash_size} was requested. Pass hash_size={items.hash_size} or recompute "
                f"the fingerprints."
            )
        return items
    return compute_fingerprints(_check_refs(items, name), hash_size=hash_size, workers=workers, strict=strict)


def _labels_agree(a: ImageRef, b: ImageRef) -> bool | None:
    if a.label is None or b.label is None:
        return None
    return a.label == b.label


def _normalised(thumbs: npt.NDArray[np.uint8]) -> tuple[npt.NDArray[np.float32], npt.NDArray[np.bool_]]:
    """Zero-mean, unit-variance thumbnails, and which ones are constant (all zeros after this)."""
    x = thumbs.astype(np.float32)
    x -= x.mean(axis=(1, 2), keepdims=True)
    std = x.std(axis=(1, 2), keepdims=True)
    constant = std[:, 0, 0] < 1e-3
    x /= np.where(std < 1e-3, np.float32(1.0), std)
    x[constant] = 0.0
    return x, constant


def thumbnail_similarity(a: npt.NDArray[np.uint8], b: npt.NDArray[np.uint8]) -> npt.NDArray[np.float64]:
    """Shift-tolerant correlation between row-aligned stacks of thumbnails, shape ``(n, s, s)`` each.

    The Pearson correlation of the two thumbnails, maximised over sub-pixel translations of up to
    one thumbnail pixel (in steps of 1/4 pixel, by an upsampled cross-power spectrum). It is 1.0
    for the same picture (also after resizing, re-encoding, or a brightness/contrast change) and
    stays above ~0.985 for shifts of up to ~1.5% of the image side; adjacent MRI slices and
    different scans score lower (see the module docstring). Two constant thumbnails score 1.0.

    Example:
        >>> t = np.random.default_rng(0).integers(0, 255, (1, 64, 64), dtype=np.uint8)
        >>> float(thumbnail_similarity(t, t)[0]) > 0.999
        True
    """
    if a.shape != b.shape or a.ndim != 3 or a.shape[1] != a.shape[2]:
        raise ValueError(
            f"thumbnail_similarity expects two stacks of square thumbnails of one shape (n, s, s); "
            f"got {a.shape} and {b.shape}."
        )
    n, side = a.shape[0], a.shape[1]
    out = np.empty(n, dtype=np.float64)
    # Upsampled inverse DFT at the sub-pixel shifts, from the half spectrum of the real FFT:
    # columns 1..side/2-1 stand for their conjugate twins too, hence weight 2.
    n_half = side // 2 + 1
    weights = np.full(n_half, 2.0)
    weights[0] = 1.0
    if side % 2 == 0:
        weights[-1] = 1.0
    rows_dft = np.exp(2j * np.pi * np.outer(_SHIFTS, np.fft.fftfreq(side) * side) / side).astype(np.complex64)
    cols_dft = (np.exp(2j * np.pi * np.outer(_SHIFTS, np.arange(n_half)) / side) * weights).astype(
        np.complex64
    )
    n_shifts = len(_SHIFTS)
    for start in range(0, n, _VERIFY_BATCH):
        stop = min(n, start + _VERIFY_BATCH)
        xa, ca = _normalised(a[start:stop])
        xb, cb = _normalised(b[start:stop])
        cross = rfft2(xa) * np.conj(rfft2(xb))  # (m, side, n_half), complex64
        m = stop - start
        over_cols = (cross.reshape(m * side, n_half) @ cols_dft.T).reshape(m, side, n_shifts)
        both = over_cols.transpose(0, 2, 1).reshape(m * n_shifts, side) @ rows_dft.T
        corr = both.real.reshape(m, n_shifts * n_shifts) / float(side) ** 4
        best = corr.max(axis=1).astype(np.float64)
        best[ca & cb] = 1.0
        out[start:stop] = np.clip(best, -1.0, 1.0)
    return out


def find_duplicates(
    query: Sequence[ImageRef] | Fingerprints,
    reference: Sequence[ImageRef] | Fingerprints | None = None,
    *,
    max_distance: int = DEFAULT_MAX_DISTANCE,
    min_similarity: float | None = DEFAULT_MIN_SIMILARITY,
    hash_size: int = 8,
    method: HashMethod = "phash",
    workers: int = 0,
    strict: bool = True,
    query_name: str = "query",
    reference_name: str = "reference",
) -> DuplicateReport:
    """Exact and near-duplicate pairs within one set, or between a query set and a reference set.

    Args:
        query: Items to check (or their precomputed :class:`Fingerprints`, to reuse them).
        reference: Items to check the query against (e.g. the training set when ``query`` is the
            test set). ``None`` checks all pairs ``i < j`` within ``query``.
        max_distance: Largest hash Hamming distance (bits, of ``hash_size ** 2``) for a
            near-duplicate candidate. Default 12 of 64 (see the module docstring).
        min_similarity: A candidate is a near pair only if its thumbnail similarity
            (:func:`thumbnail_similarity`) is at least this. Default 0.985. ``None`` accepts every
            candidate: plain hash matching, which on MRI also pairs adjacent slices and some
            different scans.
        hash_size: Hash block side (8: 64-bit hashes).
        method: Hash for candidates: ``"phash"`` (default), ``"dhash"``, or ``"both"`` (both
            distances <= max_distance).
        workers: Threads for fingerprinting (see :func:`compute_fingerprints`).
        strict: Raise on unreadable files (True) or skip them with a warning (False).
        query_name: Name of the query set in reports.
        reference_name: Name of the reference set in reports.

    Returns:
        A :class:`DuplicateReport`.

    Raises:
        TypeError: If the items are not sequences of :class:`ImageRef`.
        ValueError: For a bad ``max_distance``/``min_similarity``/``method``/``hash_size``/
            ``workers``, or (strict) an unreadable file.

    Example:
        >>> report = find_duplicates(test, train, query_name="test", reference_name="train")  # doctest: +SKIP
        >>> report.n_exact_pairs, report.n_near_pairs  # doctest: +SKIP
        (3, 7)
    """
    hash_size = _check_hash_size(hash_size)
    n_bits = hash_size * hash_size
    if isinstance(max_distance, bool) or not isinstance(max_distance, int) or not 0 <= max_distance <= n_bits:
        raise ValueError(
            f"max_distance must be an int between 0 and {n_bits} (bits of a {hash_size}x{hash_size} hash); "
            f"got {max_distance!r}. The default {DEFAULT_MAX_DISTANCE} suits 64-bit hashes; 0 finds "
            f"only identical hashes."
        )
    if min_similarity is not None and (
        isinstance(min_similarity, bool)
        or not isinstance(min_similarity, (int, float))
        or not -1.0 <= min_similarity <= 1.0
    ):
        raise ValueError(
            f"min_similarity must be a number between -1 and 1 (a correlation) or None (no check); "
            f"got {min_similarity!r}. The default is {DEFAULT_MIN_SIMILARITY}."
        )
    if method not in ("phash", "dhash", "both"):
        raise ValueError(f"method must be 'phash', 'dhash' or 'both'; got {method!r}.")
    within = reference is None
    fq = _fingerprints_of(query, "query", hash_size, workers, strict)
    fr = fq if reference is None else _fingerprints_of(reference, "reference", hash_size, workers, strict)

    pq, pr = _as_words(fq.phash), _as_words(fr.phash)
    dq, dr = _as_words(fq.dhash), _as_words(fr.dhash)
    primary_q, primary_r = (dq, dr) if method == "dhash" else (pq, pr)
    chunks = list(_close_pairs(primary_q, primary_r, max_distance, within))
    n_r = len(fr)

    # Exact pairs by digest join (identical bytes or pixels), whatever their hash distance.
    exact_codes: set[int] = set()
    for q_digests, r_digests in ((fq.sha256, fr.sha256), (fq.pixel_sha256, fr.pixel_sha256)):
        by_digest: dict[str, list[int]] = {}
        for j, digest in enumerate(r_digests.tolist()):
            by_digest.setdefault(digest, []).append(j)
        for i, digest in enumerate(q_digests.tolist()):
            exact_codes.update(i * n_r + j for j in by_digest.get(digest, ()) if not within or j > i)

    codes = np.unique(
        np.concatenate(
            [i * n_r + j for i, j in chunks]
            + [np.fromiter(exact_codes, dtype=np.intp, count=len(exact_codes))]
        )
    ).astype(np.intp)
    ii, jj = codes // max(n_r, 1), codes % max(n_r, 1)
    p_dist = _popcount(pq[ii] ^ pr[jj]).sum(axis=1)
    d_dist = _popcount(dq[ii] ^ dr[jj]).sum(axis=1)
    similarity = thumbnail_similarity(fq.thumbnails[ii], fr.thumbnails[jj])
    is_exact = np.isin(codes, np.fromiter(exact_codes, dtype=np.intp, count=len(exact_codes)))
    keep = is_exact.copy()
    near = ~is_exact
    if method == "both":
        near &= np.maximum(p_dist, d_dist) <= max_distance
    if min_similarity is not None:
        near &= similarity >= min_similarity
    keep |= near
    n_rejected = int((~is_exact).sum() - near.sum())

    pairs: list[DuplicatePair] = []
    for k in np.flatnonzero(keep).tolist():
        i, j = int(ii[k]), int(jj[k])
        a, b = fq.items[i], fr.items[j]
        pairs.append(
            DuplicatePair(
                query=a,
                reference=b,
                query_index=i,
                reference_index=j,
                kind="exact" if is_exact[k] else "near",
                distance=int(p_dist[k]),
                dhash_distance=int(d_dist[k]),
                similarity=float(similarity[k]),
                same_bytes=bool(fq.sha256[i] == fr.sha256[j]),
                labels_agree=_labels_agree(a, b),
            )
        )
    pairs.sort(key=lambda p: (p.kind != "exact", p.distance, p.query_index, p.reference_index))
    skipped = fq.skipped if within else fq.skipped + fr.skipped
    report = DuplicateReport(
        pairs=pairs,
        query=fq.items,
        reference=None if within else fr.items,
        max_distance=max_distance,
        min_similarity=None if min_similarity is None else float(min_similarity),
        hash_size=hash_size,
        method=method,
        query_name=query_name,
        reference_name=reference_name,
        skipped=skipped,
    )
    logger.info(
        "Duplicate check: %s (%d hash candidates rejected by the thumbnail check)",
        report.summary(),
        n_rejected,
    )
    return report


def leakage_report(
    train: Sequence[ImageRef] | Fingerprints, test: Sequence[ImageRef] | Fingerprints, **kw: Any
) -> DuplicateReport:
    """Which test items have an exact or near duplicate in the training set.

    Same as ``find_duplicates(test, train, query_name="test", reference_name="train", **kw)``:
    fractions are of test items, pairs read (test item, train item).

    Args:
        train: Training items (the reference).
        test: Test items (the query).
        **kw: Keyword arguments of :func:`find_duplicates` (``max_distance``, ``workers``, ...).

    Example:
        >>> report = leakage_report(train_refs, test_refs, workers=2)  # doctest: +SKIP
        >>> print(report.to_markdown(max_examples=5))  # doctest: +SKIP
    """
    kw.setdefault("query_name", "test")
    kw.setdefault("reference_name", "train")
    return find_duplicates(test, train, **kw)


def drop_duplicates_of(
    test: Sequence[ImageRef],
    train: Sequence[ImageRef],
    report: DuplicateReport | None = None,
    **kw: Any,
) -> list[ImageRef]:
    """The training items minus every exact or near duplicate of any test item.

    Use it to train on data that cannot have memorised the test set. Items are matched by
    :attr:`ImageRef.key`; unreadable training items skipped in lenient mode are kept (nothing is
    known about them).

    Args:
        test: Test items.
        train: Training items.
        report: A :func:`leakage_report` of these two sets, to avoid hashing again; computed if None.
        **kw: Keyword arguments of :func:`find_duplicates` when ``report`` is None.

    Returns:
        The training items to keep, in their original order.

    Raises:
        ValueError: If ``report`` is a within-set report, or its reference items are not ``train``.

    Example:
        >>> clean_train = drop_duplicates_of(test_refs, train_refs, max_distance=6)  # doctest: +SKIP
    """
    train_refs = _check_refs(train, "train")
    if report is None:
        report = leakage_report(train_refs, _check_refs(test, "test"), **kw)
    elif kw:
        raise ValueError(
            f"drop_duplicates_of got both a report and find_duplicates options {sorted(kw)}; the options "
            f"only apply when the report is computed here. Drop them or drop report=."
        )
    if report.reference is None:
        raise ValueError(
            "drop_duplicates_of needs a cross-set report (leakage_report(train, test)); got a within-set "
            "report. Compute it with leakage_report(train, test) or pass report=None."
        )
    known = {ref.name for ref in train_refs}
    foreign = [ref.name for ref in report.reference if ref.name not in known]
    if foreign:
        raise ValueError(
            f"The report's reference items are not this training set ({len(foreign)} unknown, e.g. "
            f"{foreign[0]!r}). Pass the report of leakage_report(train, test) for the same train list."
        )
    drop = {ref.name for ref in report.reference_items_with_duplicates()}
    kept = [ref for ref in train_refs if ref.name not in drop]
    logger.info(
        "Dropped %d of %d training items that duplicate test items",
        len(train_refs) - len(kept),
        len(train_refs),
    )
    return kept
