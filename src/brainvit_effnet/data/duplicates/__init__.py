"""Exact and near-duplicate image detection, for train/test leakage checks.

Public Kaggle brain-MRI releases leak: the full Bhuvaji "Brain Tumor Classification (MRI)" release
has 88 test files that are byte-identical to training files, and many more test images are
resized, re-encoded or slightly shifted copies of training images. Nickparvar's "Brain Tumor MRI
Dataset" merges Figshare, Bhuvaji and Br35H, so it overlaps both. Any accuracy measured on such a
split is inflated. This module finds those copies before a model is trained.

Inputs: image files Pillow reads, DICOM files and NIfTI images or volumes (with the ``mri`` extra;
a 3-D volume stands for its axial slices, :func:`expand_volumes`), each read as the datasets read
it, so a slice exported to PNG pairs with its DICOM or NIfTI original.

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

Examples:
    >>> from brainvit_effnet.data.duplicates import ImageRef, leakage_report, drop_duplicates_of
    >>> train = [ImageRef("Training/glioma/a.jpg", label="glioma", split="train")]
    >>> test = [ImageRef("Testing/glioma/b.jpg", label="glioma", split="test")]
    >>> report = leakage_report(train, test)  # doctest: +SKIP
    >>> print(report.to_markdown())  # doctest: +SKIP
    >>> clean_train = drop_duplicates_of(test, train, report=report)  # doctest: +SKIP
"""

from .finder import (
    DEFAULT_MAX_DISTANCE,
    DEFAULT_MIN_SIMILARITY,
    drop_duplicates_of,
    find_duplicates,
    leakage_report,
)
from .fingerprints import THUMBNAIL_SIZE as THUMBNAIL_SIZE
from .fingerprints import (
    Fingerprints,
    ImageRef,
    UnreadableImageError,
    compute_fingerprints,
    expand_volumes,
    hamming_distances,
    thumbnail_similarity,
)
from .report import DuplicateKind as DuplicateKind
from .report import DuplicatePair, DuplicateReport
from .report import HashMethod as HashMethod
from .training_copies import (
    TrainingCopy,
    TrainingHashes,
    find_training_copies,
    match_training_copies,
    training_hashes_of,
)

__all__ = [
    "DEFAULT_MAX_DISTANCE",
    "DEFAULT_MIN_SIMILARITY",
    "DuplicatePair",
    "DuplicateReport",
    "Fingerprints",
    "ImageRef",
    "TrainingCopy",
    "TrainingHashes",
    "UnreadableImageError",
    "compute_fingerprints",
    "drop_duplicates_of",
    "expand_volumes",
    "find_duplicates",
    "find_training_copies",
    "hamming_distances",
    "leakage_report",
    "match_training_copies",
    "thumbnail_similarity",
    "training_hashes_of",
]
