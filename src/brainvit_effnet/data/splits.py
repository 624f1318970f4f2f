"""Patient-grouped, class-stratified data splits.

Brain-tumour MRI collections hold several slices per patient. Splitting by image puts slices of the
same patient on both sides of the split, and the near-duplicate slices inflate test accuracy by
several points. Every function here splits by *group* (patient): all samples of a group land in the
same part, while the class mix of every part is kept as close as possible to the overall one.

* :func:`stratified_group_kfold` assigns each sample a fold id ``0..n_splits-1``;
* :func:`kfold_splits` turns fold ids (computed, or shipped with a dataset) into :class:`Split` objects;
* :func:`grouped_holdout` makes a single train/val/test split;
* :func:`official_folds_split` uses pre-assigned folds, such as the patient-disjoint fold ids
  ``1..5`` of the Figshare release (Cheng et al.);
* :func:`check_no_group_overlap` verifies that no group appears in two parts of a split.

Algorithm (shared by :func:`stratified_group_kfold` and :func:`grouped_holdout`):
    Each part ``p`` (a fold, or train/val/test) has a target share ``w_p`` of the samples
    (``1/n_splits`` for k-fold). Let ``f[p, c]`` be the fraction of class ``c``'s samples that sit in
    part ``p``. The split minimises ``J = sum_{p,c} (f[p, c] - w_p) ** 2``: when ``J`` is zero, every
    part holds exactly its share of every class, so its size is on target *and* its class
    proportions equal the overall ones. Every class counts equally, so rare classes are spread
    across parts as carefully as common ones.

    1. Groups are shuffled with the seeded generator, then stably sorted by size, largest first
       (as in first-fit-decreasing bin packing: big groups are the hard ones to place, small groups
       fill the gaps at the end). The shuffle decides the order among groups of equal size.
    2. Greedy pass: each group goes to the part where it lowers ``J`` most, which is the part with
       the largest remaining deficit in the group's classes. Ties go to the part furthest below its
       target size, then to a part chosen by the seeded generator. Once the groups left are only
       just enough to fill the still-empty parts, they go to those, so no part is ever empty.
    3. Refinement: while some single group can be moved to another part and lower ``J`` (without
       emptying its old part), the best such move is made.

    This is the greedy scheme of scikit-learn's ``StratifiedGroupKFold`` (shuffle groups, place
    the hardest first, pick the fold that best evens out per-class fold fractions) with a
    size-first order, an objective that also handles unequal targets (hold-out splits) and a
    local-search clean-up. The result depends only on the seed and on the multiset of
    ``(group, label)`` pairs: reordering the samples reorders the output the same way (when the
    group ids can be sorted; otherwise groups are numbered in order of first appearance).

Examples:
    >>> import numpy as np
    >>> from brainvit_effnet.data.splits import kfold_splits, stratified_group_kfold
    >>> labels = np.array([0, 0, 1, 1, 2, 2, 0, 1, 2, 0])
    >>> patients = np.array(["a", "a", "b", "b", "c", "c", "d", "e", "f", "g"])
    >>> folds = stratified_group_kfold(labels, patients, n_splits=2, seed=0)
    >>> [split.fold for split in kfold_splits(folds)]
    [0, 1]
"""

from __future__ import annotations

import operator
from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from .._checks import is_real
from ..errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "Split",
    "check_no_group_overlap",
    "grouped_holdout",
    "kfold_splits",
    "official_folds_split",
    "spread_across_classes",
    "stratified_group_kfold",
    "validation_fold",
]

_TOL = 1e-12
_PART_NAMES = ("train", "val", "test")


def _empty_index() -> NDArray[np.int64]:
    return np.zeros(0, dtype=np.int64)


def _as_index(name: str, value: Any) -> NDArray[np.int64]:
    """Validate one part of a :class:`Split`: 1-D, integer, non-negative, no repeats; returned sorted."""
    arr = np.asarray(value)
    if arr.size == 0:
        return _empty_index()
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"Split.{name} must be a 1-D array of sample indices; got shape {arr.shape}. "
            "Pass a flat array such as np.flatnonzero(mask)."
        )
    if arr.dtype.kind not in "iu":
        raise InvalidTypeError(
            f"Split.{name} must hold integer sample indices; got dtype {arr.dtype}. "
            "Pass positions (e.g. np.flatnonzero(mask)), not a boolean mask or floats."
        )
    if arr.min() < 0:
        raise InvalidArgumentError(
            f"Split.{name} must hold non-negative sample indices; got {int(arr.min())}. "
            "Convert negative positions with `index % n_samples`."
        )
    out = np.sort(arr.astype(np.int64))
    repeats = out[1:][out[1:] == out[:-1]]
    if repeats.size:
        raise InvalidArgumentError(
            f"Split.{name} lists sample {int(repeats[0])} more than once; each index must appear once. "
            "Deduplicate with np.unique."
        )
    out.setflags(write=False)
    return out


@dataclass(frozen=True, eq=False)
class Split:
    """Sample indices of one train/validation/test split.

    The three index arrays are ``np.int64``, sorted, read-only and pairwise disjoint (checked on
    construction; any 1-D integer array-like is accepted and converted). ``val`` is empty when the
    split has no validation part. Splits compare equal when all parts and ``fold`` are equal.

    Attributes:
        train: Indices of the training samples.
        val: Indices of the validation samples (possibly empty).
        test: Indices of the test samples.
        fold: The fold id used as the test part, or ``None`` for a single hold-out split (or a
            test part of several folds).

    Examples:
        >>> split = Split(train=np.array([0, 2, 3]), test=np.array([1]))
        >>> split.train, split.val, split.test
        (array([0, 2, 3]), array([], dtype=int64), array([1]))
    """

    train: NDArray[np.int64]
    val: NDArray[np.int64] = field(default_factory=_empty_index)
    test: NDArray[np.int64] = field(default_factory=_empty_index)
    fold: int | None = None

    def __post_init__(self) -> None:
        parts = {name: _as_index(name, getattr(self, name)) for name in _PART_NAMES}
        for name, arr in parts.items():
            object.__setattr__(self, name, arr)
        for i, first in enumerate(_PART_NAMES):
            for second in _PART_NAMES[i + 1 :]:
                shared = np.intersect1d(parts[first], parts[second], assume_unique=True)
                if shared.size:
                    raise InvalidArgumentError(
                        f"Split parts must be disjoint, but sample {int(shared[0])} is in both {first} and "
                        f"{second} ({shared.size} shared in all). Remove it from one of them."
                    )
        if self.fold is not None:
            object.__setattr__(self, "fold", _as_int("fold", self.fold))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Split):
            return NotImplemented
        return self.fold == other.fold and all(
            np.array_equal(getattr(self, name), getattr(other, name)) for name in _PART_NAMES
        )


# ----------------------------------------------------------------------------------------------
# Input validation
# ----------------------------------------------------------------------------------------------


def _as_int(name: str, value: Any) -> int:
    if isinstance(value, (bool, np.bool_)):
        raise InvalidTypeError(f"{name} must be an integer; got the bool {value!r}. Pass a number such as 5.")
    try:
        return operator.index(value)
    except TypeError:
        raise InvalidTypeError(
            f"{name} must be an integer; got {value!r} of type {type(value).__name__}. "
            "Pass a whole number such as 5."
        ) from None


def _as_seed(seed: Any) -> int:
    value = _as_int("seed", seed)
    if value < 0:
        raise InvalidArgumentError(f"seed must be a non-negative integer; got {value}. Pass e.g. seed=0.")
    return value


def _as_int_array(name: str, values: Any, *, non_negative: bool) -> NDArray[np.int64]:
    """A 1-D, non-empty integer array (bools and floats rejected), as np.int64."""
    arr = np.asarray(values)
    if arr.ndim != 1:
        raise InvalidArgumentError(
            f"{name} must be 1-D, one entry per sample; got shape {arr.shape}. Flatten it first."
        )
    if arr.size == 0:
        raise InvalidArgumentError(
            f"{name} is empty; it needs one entry per sample. Pass a non-empty sequence."
        )
    if arr.dtype.kind not in "iu":
        hint = (
            "Map class names to indices first (see brainvit_effnet.labels)."
            if arr.dtype.kind in "USO"
            else "If the values are whole numbers, convert with np.asarray(x).astype(np.int64)."
        )
        raise InvalidTypeError(f"{name} must hold integers; got dtype {arr.dtype} (e.g. {arr[0]!r}). {hint}")
    if non_negative and arr.min() < 0:
        raise InvalidArgumentError(
            f"{name} must be non-negative class indices; got {int(arr.min())}. "
            "Use 0-based class indices 0..n_classes-1."
        )
    return arr.astype(np.int64)


def _encode_groups(groups: Any, n_samples: int) -> tuple[NDArray[np.int64], list[Hashable]]:
    """Map group ids to codes ``0..n_groups-1``; returns ``(codes, group_values)``.

    Groups are numbered in sorted order when the ids can be sorted, else in order of first appearance.
    """
    if isinstance(groups, np.ndarray):
        if groups.ndim != 1:
            raise InvalidArgumentError(
                f"groups must be 1-D, one patient id per sample; got shape {groups.shape}. "
                "Pass one hashable id (e.g. a patient number or string) per sample."
            )
        if groups.dtype.kind in "biufcUSMm":
            if len(groups) != n_samples:
                raise _length_error(n_samples, len(groups))
            values, codes = np.unique(groups, return_inverse=True)
            return codes.reshape(-1).astype(np.int64), list(values.tolist())
        items = list(groups.tolist())
    elif isinstance(groups, (str, bytes)) or not hasattr(groups, "__len__"):
        raise InvalidTypeError(
            f"groups must be a sequence with one patient id per sample; got {type(groups).__name__}. "
            "Pass a list or 1-D array of ids."
        )
    else:
        items = list(groups)
    if len(items) != n_samples:
        raise _length_error(n_samples, len(items))
    lookup: dict[Hashable, int] = {}
    for item in items:
        try:
            lookup.setdefault(item, len(lookup))
        except TypeError:
            raise InvalidTypeError(
                f"groups must hold hashable ids; got the unhashable {type(item).__name__} {item!r}. "
                "Use a string, number or tuple per patient."
            ) from None
    values_list: list[Hashable] = list(lookup)
    try:
        values_list = sorted(values_list)  # type: ignore[type-var]
    except TypeError:
        pass  # mixed, unorderable ids: keep first-appearance order
    else:
        lookup = {value: i for i, value in enumerate(values_list)}
    codes = np.fromiter((lookup[item] for item in items), dtype=np.int64, count=len(items))
    return codes, values_list


def _length_error(n_labels: int, n_groups: int) -> InvalidArgumentError:
    return InvalidArgumentError(
        f"labels and groups must have the same length (one entry per sample); got {n_labels} labels and "
        f"{n_groups} group ids. Pass both for the same samples, in the same order."
    )


def _class_counts(labels: Any, groups: Any) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per-group class counts (n_groups x n_present_classes) and the group code of every sample."""
    y = _as_int_array("labels", labels, non_negative=True)
    codes, _ = _encode_groups(groups, len(y))
    _, y_codes = np.unique(y, return_inverse=True)
    n_groups = int(codes.max()) + 1
    n_classes = int(y_codes.max()) + 1
    counts = np.zeros((n_groups, n_classes), dtype=np.int64)
    np.add.at(counts, (codes, y_codes.reshape(-1)), 1)
    return counts, codes


# ----------------------------------------------------------------------------------------------
# Core assignment
# ----------------------------------------------------------------------------------------------


def _assign_groups(
    counts: NDArray[np.int64], targets: NDArray[np.float64], rng: np.random.Generator
) -> NDArray[np.int64]:
    """Assign every group (row of ``counts``) to a part; see the module docstring for the algorithm."""
    n_groups = counts.shape[0]
    n_parts = targets.shape[0]
    shares = counts / counts.sum(axis=0)  # fraction of each class's samples held by each group
    sizes = counts.sum(axis=1)
    total = float(sizes.sum())

    order = rng.permutation(n_groups)
    order = order[np.argsort(-sizes[order], kind="stable")]

    part_of = np.full(n_groups, -1, dtype=np.int64)
    frac = np.zeros((n_parts, counts.shape[1]))  # f[p, c]
    part_sizes = np.zeros(n_parts)
    n_groups_in = np.zeros(n_parts, dtype=np.int64)
    for k, g in enumerate(order):
        # J changes by sum_c s_c * (2 (f[p, c] - w_p) + s_c); only the first term depends on p.
        score = (frac - targets[:, None]) @ shares[g]
        empty = n_groups_in == 0
        if n_groups - k <= int(empty.sum()):
            score = np.where(empty, score, np.inf)
        candidates = score <= score.min() + _TOL
        size_gap = np.where(candidates, part_sizes / total - targets, np.inf)
        candidates &= size_gap <= size_gap.min() + _TOL
        choices = np.flatnonzero(candidates)
        p = int(choices[0]) if choices.size == 1 else int(rng.choice(choices))
        part_of[g] = p
        frac[p] += shares[g]
        part_sizes[p] += sizes[g]
        n_groups_in[p] += 1

    # Refinement: best single-group move while it lowers J. J strictly decreases, so this ends;
    # the iteration cap only bounds the work on very large inputs.
    self_term = np.einsum("gc,gc->g", shares, shares)
    for _ in range(4 * n_groups):
        dev = frac - targets[:, None]  # (P, C)
        # delta[g, b] = 2 * sum_c s_gc * (dev[b, c] - dev[a_g, c] + s_gc) for a move of g from a_g to b
        gain_to = shares @ dev.T  # (G, P)
        delta = 2.0 * (gain_to - gain_to[np.arange(n_groups), part_of][:, None] + self_term[:, None])
        delta[np.arange(n_groups), part_of] = np.inf
        delta[n_groups_in[part_of] <= 1, :] = np.inf  # never empty a part
        g, b = np.unravel_index(int(np.argmin(delta)), delta.shape)
        if not delta[g, b] < -_TOL:
            break
        a = int(part_of[g])
        frac[a] -= shares[g]
        frac[b] += shares[g]
        n_groups_in[a] -= 1
        n_groups_in[b] += 1
        part_of[g] = b
    return part_of


# ----------------------------------------------------------------------------------------------
# Public API
# ----------------------------------------------------------------------------------------------


def stratified_group_kfold(
    labels: Sequence[int] | np.ndarray,
    groups: Sequence[Hashable] | np.ndarray,
    n_splits: int = 5,
    seed: int = 0,
) -> np.ndarray:
    """Assign every sample a fold so that groups never straddle folds and folds keep the class mix.

    Every group (patient) lies in exactly one fold, every fold holds at least one group, and the
    folds' class proportions and sizes are kept as close as possible to the overall ones (see the
    module docstring for the greedy-plus-refinement algorithm). Groups are indivisible, so with few
    or very unequal groups the balance can only be approximate.

    Args:
        labels: Class index (``0..n_classes-1``) of every sample. Classes need not all be present.
        groups: Group (patient) id of every sample; any hashable values.
        n_splits: Number of folds, at least 2 and at most the number of distinct groups.
        seed: Seed of the random generator that breaks ties; the same inputs and seed always give
            the same folds.

    Returns:
        ``np.int64`` array of fold ids in ``0..n_splits-1``, one per sample.

    Raises:
        TypeError: If labels are not integers, groups are unhashable, or ``n_splits``/``seed`` are
            not integers.
        ValueError: If lengths differ, labels are negative, ``n_splits < 2`` or exceeds the number
            of groups, or ``seed`` is negative.

    Examples:
        >>> labels = [0, 0, 1, 1, 0, 1]
        >>> patients = ["p1", "p1", "p2", "p3", "p4", "p5"]
        >>> folds = stratified_group_kfold(labels, patients, n_splits=2, seed=0)
        >>> bool(folds[0] == folds[1])  # the two slices of p1 share a fold
        True
    """
    n_splits = _as_int("n_splits", n_splits)
    if n_splits < 2:
        raise InvalidArgumentError(
            f"n_splits must be at least 2 (one fold to test on, the rest to train on); got {n_splits}. "
            "Use grouped_holdout for a single split."
        )
    seed = _as_seed(seed)
    counts, codes = _class_counts(labels, groups)
    n_groups = counts.shape[0]
    if n_splits > n_groups:
        raise InvalidArgumentError(
            f"n_splits={n_splits} needs at least {n_splits} distinct groups so that no fold is empty; "
            f"got {n_groups} groups. Lower n_splits to at most {n_groups}."
        )
    targets = np.full(n_splits, 1.0 / n_splits)
    part_of = _assign_groups(counts, targets, np.random.default_rng(seed))
    return part_of[codes]


def validation_fold(folds: Sequence[int], test_fold: int) -> int:
    """The fold that validates when ``test_fold`` tests: the next fold id, cyclically.

    The one rotation rule of the library (:func:`kfold_splits`, cross-validation, ablation
    studies): with Figshare's folds ``1..5``, test fold 5 is validated by fold 1.

    Examples:
        >>> validation_fold([1, 2, 3, 4, 5], 2), validation_fold([1, 2, 3, 4, 5], 5)
        (3, 1)
    """
    ordered = sorted(set(int(f) for f in folds))
    if test_fold not in ordered:
        raise InvalidArgumentError(f"test fold {test_fold} is not among the folds {ordered}.")
    return ordered[(ordered.index(test_fold) + 1) % len(ordered)]


def kfold_splits(fold_ids: Sequence[int] | np.ndarray, val_fold: bool = False) -> list[Split]:
    """Turn per-sample fold ids into one :class:`Split` per fold.

    For each fold id ``f`` (in increasing order) the test part is fold ``f``; with ``val_fold`` the
    validation part is the next fold id (cyclically, so the last fold validates on the first), and
    training uses all remaining folds. Fold ids may be any integers, e.g. ``0..4`` from
    :func:`stratified_group_kfold` or the Figshare ``1..5``; ``Split.fold`` is the id itself.

    Args:
        fold_ids: Fold id of every sample.
        val_fold: Whether to carve a validation part (the next fold) out of the training folds.

    Returns:
        One split per distinct fold id, ordered by fold id.

    Raises:
        TypeError: If fold ids are not integers or ``val_fold`` is not a bool.
        ValueError: If there are fewer than 2 distinct folds (3 with ``val_fold``).

    Examples:
        >>> splits = kfold_splits([0, 1, 2, 0, 1, 2], val_fold=True)
        >>> splits[2].test, splits[2].val, splits[2].train
        (array([2, 5]), array([0, 3]), array([1, 4]))
    """
    if not isinstance(val_fold, (bool, np.bool_)):
        raise InvalidTypeError(
            f"val_fold must be True or False; got {val_fold!r}. Pass val_fold=True for a val part."
        )
    folds = _as_int_array("fold_ids", fold_ids, non_negative=False)
    ids = np.unique(folds)
    needed = 3 if val_fold else 2
    if ids.size < needed:
        raise InvalidArgumentError(
            f"kfold_splits needs at least {needed} distinct fold ids "
            f"({'test, validation and training' if val_fold else 'test and training'}); got {ids.size}: "
            f"{ids.tolist()}. Assign more folds, e.g. with stratified_group_kfold."
        )
    splits = []
    for fold in ids:
        test = folds == fold
        val = folds == validation_fold(ids.tolist(), int(fold)) if val_fold else np.zeros_like(test)
        splits.append(
            Split(
                train=np.flatnonzero(~(test | val)),
                val=np.flatnonzero(val),
                test=np.flatnonzero(test),
                fold=int(fold),
            )
        )
    return splits


def _as_fraction(name: str, value: Any, *, allow_zero: bool) -> float:
    if not is_real(value):
        raise InvalidTypeError(
            f"{name} must be a float fraction of the samples; got {value!r}. Pass e.g. {name}=0.2."
        )
    fraction = float(value)
    low_ok = fraction >= 0.0 if allow_zero else fraction > 0.0
    if not (low_ok and fraction < 1.0):
        interval = "[0, 1)" if allow_zero else "(0, 1)"
        raise InvalidArgumentError(
            f"{name} must be a fraction of the samples in {interval}; got {fraction}. "
            f"Pass e.g. {name}=0.2 for 20%."
        )
    return fraction


def grouped_holdout(
    labels: Sequence[int] | np.ndarray,
    groups: Sequence[Hashable] | np.ndarray,
    test_size: float = 0.2,
    val_size: float = 0.0,
    seed: int = 0,
) -> Split:
    """A single patient-grouped, class-stratified train/validation/test split.

    ``test_size`` and ``val_size`` are fractions of *samples* (not groups). Groups are indivisible,
    so the sizes are met only approximately: with many small groups the error is a fraction of a
    group, with few or very unequal groups it can be larger. Every requested part holds at least one
    group. Uses the same algorithm as :func:`stratified_group_kfold` with targets
    ``(1 - test_size - val_size, val_size, test_size)``.

    Args:
        labels: Class index of every sample.
        groups: Group (patient) id of every sample.
        test_size: Target fraction of samples in the test part, in ``(0, 1)``.
        val_size: Target fraction of samples in the validation part, in ``[0, 1)``; 0 for none.
        seed: Seed of the random generator; the same inputs and seed give the same split.

    Returns:
        A :class:`Split` with ``fold=None`` (``val`` is empty when ``val_size == 0``).

    Raises:
        TypeError: For non-integer labels, unhashable groups, or non-numeric sizes/seed.
        ValueError: For sizes outside their range, ``test_size + val_size >= 1``, mismatched
            lengths, negative labels, or fewer groups than requested parts.

    Examples:
        >>> labels = [0, 1] * 10
        >>> patients = [i // 2 for i in range(20)]
        >>> split = grouped_holdout(labels, patients, test_size=0.2, seed=0)
        >>> len(split.train), len(split.test)
        (16, 4)
    """
    test_size = _as_fraction("test_size", test_size, allow_zero=False)
    val_size = _as_fraction("val_size", val_size, allow_zero=True)
    seed = _as_seed(seed)
    if test_size + val_size >= 1.0:
        raise InvalidArgumentError(
            f"test_size + val_size must leave samples for training (sum < 1); got {test_size} + {val_size} = "
            f"{test_size + val_size}. Lower one of them."
        )
    counts, codes = _class_counts(labels, groups)
    with_val = val_size > 0.0
    targets = np.array(
        [1.0 - test_size - val_size, val_size, test_size] if with_val else [1.0 - test_size, test_size]
    )
    n_groups = counts.shape[0]
    if n_groups < targets.size:
        raise InvalidArgumentError(
            f"a {'train/val/test' if with_val else 'train/test'} split needs at least {targets.size} "
            f"distinct groups (one per part); got {n_groups}. Add patients or set val_size=0."
        )
    part_of = _assign_groups(counts, targets, np.random.default_rng(seed))[codes]
    test_part = targets.size - 1
    return Split(
        train=np.flatnonzero(part_of == 0),
        val=np.flatnonzero(part_of == 1) if with_val else _empty_index(),
        test=np.flatnonzero(part_of == test_part),
    )


def official_folds_split(
    fold_ids: Sequence[int] | np.ndarray,
    test_fold: int | Sequence[int],
    val_fold: int | Sequence[int] | None = None,
) -> Split:
    """Split a dataset that ships pre-assigned, patient-disjoint folds (e.g. Figshare's ``1..5``).

    Test is fold ``test_fold``, validation is fold ``val_fold`` (if given) and training is every
    other fold. The fold numbers are the dataset's own (no shifting to 0-based). Either part may
    also be several folds (a list), as an experiment's ``test_folds``/``val_folds`` are.

    Args:
        fold_ids: Fold id of every sample, as shipped with the dataset.
        test_fold: The fold (or folds) to test on.
        val_fold: The fold (or folds) to validate on, or ``None`` (or ``[]``) for no validation part.

    Returns:
        A :class:`Split`; its ``fold`` is the test fold when there is one, else ``None``.

    Raises:
        TypeError: If fold ids or fold numbers are not integers.
        ValueError: If a test or validation fold is not among the fold ids, the two parts share a
            fold, no test fold is given, or no fold is left for training.

    Examples:
        >>> fold_ids = [1, 2, 3, 4, 5, 1, 2, 3, 4, 5]
        >>> split = official_folds_split(fold_ids, test_fold=1, val_fold=2)
        >>> split.test, split.val, split.train
        (array([0, 5]), array([1, 6]), array([2, 3, 4, 7, 8, 9]))
        >>> official_folds_split(fold_ids, test_fold=[4, 5]).test
        array([3, 4, 8, 9])
    """
    folds = _as_int_array("fold_ids", fold_ids, non_negative=False)
    known = np.unique(folds).tolist()
    tests = _known_folds(
        "test_fold", test_fold, known, "Pass one of those (Figshare numbers its folds 1..5)."
    )
    if not tests:
        raise InvalidArgumentError(f"test_fold must name at least one fold of {known}; got {test_fold!r}.")
    vals = (
        []
        if val_fold is None
        else _known_folds("val_fold", val_fold, known, "Pass one of those, or None for no validation part.")
    )
    shared = sorted(set(tests) & set(vals))
    if shared:
        both = f"are {shared[0]}" if len(shared) == 1 else f"hold {shared}"
        raise InvalidArgumentError(
            f"val_fold and test_fold must differ; both {both}. Validate on another fold, e.g. the next one."
        )
    test = np.isin(folds, tests)
    val = np.isin(folds, vals)
    train = ~(test | val)
    if not train.any():
        raise InvalidArgumentError(
            f"no fold is left for training: the fold ids are {known}, test_fold={test_fold}, "
            f"val_fold={val_fold}. Set val_fold=None or use a dataset with more folds."
        )
    return Split(
        train=np.flatnonzero(train),
        val=np.flatnonzero(val),
        test=np.flatnonzero(test),
        fold=tests[0] if len(tests) == 1 else None,
    )


def _known_folds(name: str, value: int | Sequence[int], known: list[int], hint: str) -> list[int]:
    """``value`` (one fold or several) as a list of fold ids, each one of ``known``."""
    several = isinstance(value, (Sequence, np.ndarray)) and not isinstance(value, str)
    folds = [_as_int(name, v) for v in value] if several else [_as_int(name, value)]  # type: ignore[union-attr]
    unknown = [f for f in folds if f not in known]
    if unknown:
        shown = unknown if several else unknown[0]
        raise InvalidArgumentError(f"{name}={shown} is not one of the dataset's fold ids {known}. {hint}")
    return folds


def check_no_group_overlap(split: Split, groups: Sequence[Hashable] | np.ndarray) -> None:
    """Raise if any group (patient) has samples in two parts of ``split``.

    Args:
        split: The split to check.
        groups: Group id of every sample the split's indices refer to.

    Raises:
        TypeError: If ``split`` is not a :class:`Split` or groups are unhashable.
        ValueError: Naming a shared group and the two parts, if any group is in two parts; or if
            ``split`` refers to samples beyond the end of ``groups``.

    Examples:
        >>> import numpy as np
        >>> split = Split(train=np.array([0, 1]), test=np.array([2]))
        >>> check_no_group_overlap(split, ["p1", "p1", "p2"])  # fine: returns None
        >>> check_no_group_overlap(split, ["p1", "p2", "p2"])  # doctest: +ELLIPSIS
        Traceback (most recent call last):
          ...
        brainvit_effnet.errors.InvalidArgumentError: group 'p2' appears in both train (sample 1)...
    """
    if not isinstance(split, Split):
        raise InvalidTypeError(
            f"split must be a brainvit_effnet.data.splits.Split; got {type(split).__name__}. "
            "Build one with Split(train=..., val=..., test=...)."
        )
    n_samples = len(groups)
    codes, values = _encode_groups(groups, n_samples)
    for name in _PART_NAMES:
        idx: NDArray[np.int64] = getattr(split, name)
        if idx.size and int(idx.max()) >= n_samples:
            raise InvalidArgumentError(
                f"split.{name} refers to sample {int(idx.max())}, but groups has only {n_samples} entries. "
                "Pass the group ids of the full dataset the split indexes."
            )
    for i, first in enumerate(_PART_NAMES):
        for second in _PART_NAMES[i + 1 :]:
            a_idx: NDArray[np.int64] = getattr(split, first)
            b_idx: NDArray[np.int64] = getattr(split, second)
            shared = np.intersect1d(codes[a_idx], codes[b_idx])
            if shared.size:
                code = int(shared[0])
                sample_a = int(a_idx[np.flatnonzero(codes[a_idx] == code)[0]])
                sample_b = int(b_idx[np.flatnonzero(codes[b_idx] == code)[0]])
                raise InvalidArgumentError(
                    f"group {values[code]!r} appears in both {first} (sample {sample_a}) and {second} "
                    f"(sample {sample_b}); {shared.size} group(s) are shared between {first} and {second}. "
                    "Split by group, e.g. with grouped_holdout or stratified_group_kfold."
                )


def spread_across_classes(labels: Sequence[int], n: int) -> list[int]:
    """``n`` indices that cover every class as evenly as the data allows, spread through each class.

    For a quick look at part of a dataset (``explain --limit``): the first ``n`` records of a
    release sorted by class are often one class only. Classes take turns; within a class the picks
    are evenly spaced over its records, so they are not all from one patient either. Returned in
    dataset order; deterministic.

    Examples:
        >>> spread_across_classes([0, 0, 0, 0, 1, 1, 2], 4)
        [0, 3, 4, 6]
    """
    if n < 0:
        raise InvalidArgumentError(f"n must be >= 0; got {n}.")
    by_class: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        by_class.setdefault(int(label), []).append(i)
    quota = dict.fromkeys(by_class, 0)
    left = min(n, len(labels))
    while left:
        for c in sorted(by_class):  # classes take turns until n are chosen
            if left and quota[c] < len(by_class[c]):
                quota[c] += 1
                left -= 1
    picks = []
    for c, members in by_class.items():
        k = quota[c]
        step = (len(members) - 1) / (k - 1) if k > 1 else 0.0
        picks += [members[round(j * step)] for j in range(k)]
    return sorted(picks)
