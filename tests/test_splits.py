"""Tests for patient-grouped, class-stratified splits (brainvit_effnet.data.splits)."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from brainvit_effnet.data.splits import (
    Split,
    check_no_group_overlap,
    grouped_holdout,
    kfold_splits,
    official_folds_split,
    stratified_group_kfold,
)

# ----------------------------------------------------------------------------------------------
# Helpers
# ----------------------------------------------------------------------------------------------


def synthetic(seed: int = 0, n_patients: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """200 patients with 1-20 slices each and 3 imbalanced classes (60/30/10 % of patients)."""
    rng = np.random.default_rng(seed)
    patient_class = rng.choice(3, size=n_patients, p=[0.6, 0.3, 0.1])
    n_slices = rng.integers(1, 21, size=n_patients)
    labels = np.repeat(patient_class, n_slices)
    groups = np.array([f"patient-{i:03d}" for i in range(n_patients)])[
        np.repeat(np.arange(n_patients), n_slices)
    ]
    return labels, groups


def max_class_fraction_deviation(part_ids: np.ndarray, labels: np.ndarray) -> float:
    """Largest |fraction of class c in part p - overall fraction of class c| over parts and classes."""
    n_classes = int(labels.max()) + 1
    overall = np.bincount(labels, minlength=n_classes) / labels.size
    worst = 0.0
    for part in np.unique(part_ids):
        in_part = labels[part_ids == part]
        worst = max(
            worst, float(np.abs(np.bincount(in_part, minlength=n_classes) / in_part.size - overall).max())
        )
    return worst


def partition(fold_ids: np.ndarray) -> set[frozenset[int]]:
    """The folds as a set of index sets (independent of how folds are numbered)."""
    return {frozenset(np.flatnonzero(fold_ids == f).tolist()) for f in np.unique(fold_ids)}


def split_parts(split: Split) -> dict[str, np.ndarray]:
    return {"train": split.train, "val": split.val, "test": split.test}


def folds_of_groups(fold_ids: np.ndarray, groups: np.ndarray) -> dict[object, set[int]]:
    out: dict[object, set[int]] = {}
    for fold, group in zip(fold_ids.tolist(), groups.tolist(), strict=True):
        out.setdefault(group, set()).add(fold)
    return out


@st.composite
def labelled_groups(draw: st.DrawFn, min_groups: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Small random datasets: 1-30 groups of 1-6 samples, 1-4 classes, mixed labels within a group."""
    n_groups = draw(st.integers(min_groups, 30))
    sizes = draw(st.lists(st.integers(1, 6), min_size=n_groups, max_size=n_groups))
    n_classes = draw(st.integers(1, 4))
    labels = draw(
        st.lists(st.integers(0, n_classes - 1), min_size=sum(sizes), max_size=sum(sizes)).map(np.array)
    )
    group_ids = draw(st.permutations(list(range(100, 100 + n_groups))))
    groups = np.repeat(np.array(group_ids), sizes)
    order = draw(st.permutations(list(range(labels.size))))  # samples of a group need not be adjacent
    return labels[list(order)], groups[list(order)]


# ----------------------------------------------------------------------------------------------
# stratified_group_kfold
# ----------------------------------------------------------------------------------------------


def test_kfold_is_deterministic_for_a_seed_and_varies_across_seeds() -> None:
    labels, groups = synthetic()
    first = stratified_group_kfold(labels, groups, n_splits=5, seed=3)
    again = stratified_group_kfold(labels, groups, n_splits=5, seed=3)
    np.testing.assert_array_equal(first, again)
    others = [partition(stratified_group_kfold(labels, groups, n_splits=5, seed=s)) for s in (4, 5)]
    assert all(other != partition(first) for other in others)


def test_kfold_does_not_depend_on_sample_order() -> None:
    labels, groups = synthetic(1)
    perm = np.random.default_rng(0).permutation(labels.size)
    folds = stratified_group_kfold(labels, groups, n_splits=5, seed=0)
    folds_permuted = stratified_group_kfold(labels[perm], groups[perm], n_splits=5, seed=0)
    np.testing.assert_array_equal(folds_permuted, folds[perm])


def test_kfold_output_every_group_in_exactly_one_fold() -> None:
    labels, groups = synthetic(2)
    folds = stratified_group_kfold(labels, groups, n_splits=5, seed=0)
    assert folds.dtype == np.int64
    assert folds.shape == labels.shape
    assert set(np.unique(folds).tolist()) == set(range(5))
    assert all(len(f) == 1 for f in folds_of_groups(folds, groups).values())


@pytest.mark.parametrize("data_seed", [0, 1, 2, 3])
def test_kfold_class_balance_on_synthetic_patients(data_seed: int) -> None:
    labels, groups = synthetic(data_seed)
    for seed in range(3):
        folds = stratified_group_kfold(labels, groups, n_splits=5, seed=seed)
        # Measured: at most 0.009 (0.9 points) on these datasets; a plain image-level split of a
        # patient-grouped set would not be guaranteed anything.
        assert max_class_fraction_deviation(folds, labels) < 0.02
        sizes = np.bincount(folds)
        assert np.abs(sizes / labels.size - 0.2).max() < 0.01


def test_kfold_handles_absent_classes_and_unorderable_group_ids() -> None:
    labels = np.array([0, 5, 5, 0, 5, 0, 0, 5])  # classes 1..4 absent
    groups = ["a", "a", 1, 1, (2, 3), (2, 3), None, None]  # mixed types cannot be sorted
    folds = stratified_group_kfold(labels, groups, n_splits=4, seed=0)
    assert sorted(np.unique(folds).tolist()) == [0, 1, 2, 3]
    assert all(len(f) == 1 for f in folds_of_groups(folds, np.array(groups, dtype=object)).values())


def test_kfold_single_class_balances_fold_sizes() -> None:
    groups = np.repeat(np.arange(50), 4)
    folds = stratified_group_kfold(np.zeros(200, dtype=int), groups, n_splits=5, seed=0)
    np.testing.assert_array_equal(np.bincount(folds), [40] * 5)


@settings(max_examples=60, deadline=None)
@given(data=labelled_groups(min_groups=2), n_splits=st.integers(2, 6), seed=st.integers(0, 2**32 - 1))
def test_property_kfold_partitions_without_splitting_groups(
    data: tuple[np.ndarray, np.ndarray], n_splits: int, seed: int
) -> None:
    labels, groups = data
    n_splits = min(n_splits, np.unique(groups).size)
    folds = stratified_group_kfold(labels, groups, n_splits=n_splits, seed=seed)
    assert folds.shape == labels.shape
    assert set(np.unique(folds).tolist()) == set(range(n_splits))  # every fold non-empty
    assert all(len(f) == 1 for f in folds_of_groups(folds, groups).values())
    splits = kfold_splits(folds, val_fold=n_splits >= 3)
    assert len(splits) == n_splits
    tested = np.concatenate([s.test for s in splits])
    np.testing.assert_array_equal(np.sort(tested), np.arange(labels.size))  # test folds partition
    for split in splits:
        parts = split_parts(split)
        np.testing.assert_array_equal(np.sort(np.concatenate(list(parts.values()))), np.arange(labels.size))
        check_no_group_overlap(split, groups)


def stratification_objective(fold_ids: np.ndarray, labels: np.ndarray, n_splits: int) -> float:
    """J = sum over folds and classes of (share of the class's samples in the fold - 1/n_splits)^2."""
    _, y = np.unique(labels, return_inverse=True)
    counts = np.zeros((n_splits, int(y.max()) + 1))
    np.add.at(counts, (fold_ids, y), 1)
    return float(((counts / counts.sum(axis=0) - 1.0 / n_splits) ** 2).sum())


@settings(max_examples=30, deadline=None)
@given(data=labelled_groups(min_groups=3), n_splits=st.integers(2, 4), seed=st.integers(0, 1000))
def test_property_kfold_no_single_group_move_improves_balance(
    data: tuple[np.ndarray, np.ndarray], n_splits: int, seed: int
) -> None:
    labels, groups = data
    n_splits = min(n_splits, np.unique(groups).size)
    folds = stratified_group_kfold(labels, groups, n_splits=n_splits, seed=seed)
    best = stratification_objective(folds, labels, n_splits)
    for group in np.unique(groups):
        members = groups == group
        source = folds[members][0]
        if np.unique(groups[folds == source]).size == 1:
            continue  # moving the only group of a fold would empty it
        for target in range(n_splits):
            moved = folds.copy()
            moved[members] = target
            assert stratification_objective(moved, labels, n_splits) >= best - 1e-9


# ----------------------------------------------------------------------------------------------
# kfold_splits
# ----------------------------------------------------------------------------------------------


def test_kfold_splits_test_val_train() -> None:
    splits = kfold_splits([2, 0, 1, 2, 0, 1], val_fold=True)
    assert [s.fold for s in splits] == [0, 1, 2]
    np.testing.assert_array_equal(splits[0].test, [1, 4])
    np.testing.assert_array_equal(splits[0].val, [2, 5])  # next fold
    np.testing.assert_array_equal(splits[0].train, [0, 3])
    np.testing.assert_array_equal(splits[2].val, [1, 4])  # wraps around to the first fold
    for split in splits:
        for arr in split_parts(split).values():
            assert arr.dtype == np.int64
            assert np.all(np.diff(arr) > 0)


def test_kfold_splits_without_val_and_with_one_based_ids() -> None:
    splits = kfold_splits(np.array([1, 2, 3, 4, 5] * 2))
    assert [s.fold for s in splits] == [1, 2, 3, 4, 5]
    for split in splits:
        assert split.val.size == 0
        assert split.test.size == 2
        assert split.train.size == 8


def test_kfold_splits_round_trip_with_stratified_group_kfold() -> None:
    labels, groups = synthetic()
    folds = stratified_group_kfold(labels, groups, n_splits=5, seed=0)
    for split in kfold_splits(folds, val_fold=True):
        check_no_group_overlap(split, groups)
        assert split.train.size + split.val.size + split.test.size == labels.size


# ----------------------------------------------------------------------------------------------
# grouped_holdout
# ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("test_size", "val_size"), [(0.2, 0.0), (0.2, 0.1), (0.15, 0.15), (0.05, 0.05)])
def test_holdout_sizes_and_balance_approximately_met(test_size: float, val_size: float) -> None:
    labels, groups = synthetic(1)
    split = grouped_holdout(labels, groups, test_size=test_size, val_size=val_size, seed=0)
    check_no_group_overlap(split, groups)
    n = labels.size
    assert split.train.size + split.val.size + split.test.size == n
    assert abs(split.test.size / n - test_size) < 0.01
    assert abs(split.val.size / n - val_size) < 0.01
    assert split.fold is None
    part_ids = np.zeros(n, dtype=int)
    part_ids[split.val] = 1
    part_ids[split.test] = 2
    assert max_class_fraction_deviation(part_ids, labels) < 0.03


def test_holdout_is_deterministic_and_varies_with_seed() -> None:
    labels, groups = synthetic()
    assert grouped_holdout(labels, groups, seed=7) == grouped_holdout(labels, groups, seed=7)
    assert grouped_holdout(labels, groups, seed=7) != grouped_holdout(labels, groups, seed=8)


def test_holdout_with_just_enough_groups_gives_every_part_one() -> None:
    split = grouped_holdout([0, 0, 1, 1, 0], ["a", "a", "b", "c", "c"], test_size=0.1, val_size=0.1)
    assert split.train.size and split.val.size and split.test.size
    check_no_group_overlap(split, ["a", "a", "b", "c", "c"])


@settings(max_examples=60, deadline=None)
@given(
    data=labelled_groups(min_groups=3),
    test_size=st.floats(0.05, 0.5),
    val_size=st.sampled_from([0.0, 0.1, 0.3]),
    seed=st.integers(0, 1000),
)
def test_property_holdout_parts_are_disjoint_and_cover_everything(
    data: tuple[np.ndarray, np.ndarray], test_size: float, val_size: float, seed: int
) -> None:
    labels, groups = data
    split = grouped_holdout(labels, groups, test_size=test_size, val_size=val_size, seed=seed)
    everything = np.concatenate([split.train, split.val, split.test])
    np.testing.assert_array_equal(np.sort(everything), np.arange(labels.size))
    assert split.train.size > 0
    assert split.test.size > 0
    assert (split.val.size > 0) == (val_size > 0)
    check_no_group_overlap(split, groups)


# ----------------------------------------------------------------------------------------------
# official_folds_split
# ----------------------------------------------------------------------------------------------

FIGSHARE_LIKE = np.array([1, 2, 3, 4, 5, 5, 4, 3, 2, 1, 1, 3])


def test_official_folds_split_with_and_without_val() -> None:
    split = official_folds_split(FIGSHARE_LIKE, test_fold=1, val_fold=2)
    np.testing.assert_array_equal(split.test, [0, 9, 10])
    np.testing.assert_array_equal(split.val, [1, 8])
    np.testing.assert_array_equal(split.train, [2, 3, 4, 5, 6, 7, 11])
    assert split.fold == 1
    no_val = official_folds_split(FIGSHARE_LIKE.tolist(), test_fold=np.int64(3))
    np.testing.assert_array_equal(no_val.test, [2, 7, 11])
    assert no_val.val.size == 0
    assert no_val.train.size == FIGSHARE_LIKE.size - 3
    assert no_val == kfold_splits(FIGSHARE_LIKE)[2]


def test_official_folds_split_takes_several_folds_per_part() -> None:
    split = official_folds_split(FIGSHARE_LIKE, test_fold=[1, 3], val_fold=[2])
    np.testing.assert_array_equal(split.test, [0, 2, 7, 9, 10, 11])
    np.testing.assert_array_equal(split.val, [1, 8])
    np.testing.assert_array_equal(split.train, [3, 4, 5, 6])
    assert split.fold is None  # several test folds: no single fold id
    assert official_folds_split(FIGSHARE_LIKE, test_fold=[4]) == official_folds_split(FIGSHARE_LIKE, 4)
    assert official_folds_split(FIGSHARE_LIKE, 4, val_fold=[]).val.size == 0
    with pytest.raises(ValueError, match=r"test_fold=\[6, 7\] is not one of the dataset's fold ids"):
        official_folds_split(FIGSHARE_LIKE, test_fold=[1, 6, 7])
    with pytest.raises(ValueError, match=r"val_fold and test_fold must differ; both hold \[1, 2\]"):
        official_folds_split(FIGSHARE_LIKE, test_fold=[1, 2], val_fold=[2, 1])
    with pytest.raises(ValueError, match=r"test_fold must name at least one fold"):
        official_folds_split(FIGSHARE_LIKE, test_fold=[])


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"test_fold": 0}, ValueError, r"test_fold=0 is not one of the dataset's fold ids \[1, 2, 3, 4, 5\]"),
        ({"test_fold": 6}, ValueError, r"test_fold=6 is not one of .*1\.\.5"),
        ({"test_fold": 1, "val_fold": 9}, ValueError, r"val_fold=9 is not one of"),
        ({"test_fold": 2, "val_fold": 2}, ValueError, r"val_fold and test_fold must differ; both are 2"),
        ({"test_fold": 1.0}, TypeError, r"test_fold must be an integer; got 1\.0"),
        ({"test_fold": True}, TypeError, r"test_fold must be an integer; got the bool"),
        ({"test_fold": 1, "val_fold": "2"}, TypeError, r"val_fold must be an integer"),
    ],
)
def test_official_folds_split_errors(kwargs: dict[str, object], error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        official_folds_split(FIGSHARE_LIKE, **kwargs)  # type: ignore[arg-type]


def test_official_folds_split_needs_a_training_fold() -> None:
    with pytest.raises(ValueError, match=r"no fold is left for training.*Set val_fold=None"):
        official_folds_split([1, 2, 1, 2], test_fold=1, val_fold=2)
    with pytest.raises(TypeError, match=r"fold_ids must hold integers; got dtype float64"):
        official_folds_split([1.0, 2.0], test_fold=1)


# ----------------------------------------------------------------------------------------------
# check_no_group_overlap and Split
# ----------------------------------------------------------------------------------------------


def test_check_no_group_overlap_detects_planted_overlap() -> None:
    labels, groups = synthetic()
    split = grouped_holdout(labels, groups, test_size=0.2, val_size=0.1, seed=0)
    check_no_group_overlap(split, groups)  # clean
    leaked_patient = groups[split.test[0]]
    moved = int(np.flatnonzero(groups == leaked_patient)[-1])  # move one slice of a test patient to val
    planted = Split(
        train=split.train, val=np.append(split.val, moved), test=split.test[split.test != moved], fold=None
    )
    with pytest.raises(
        ValueError, match=rf"group '{leaked_patient}' appears in both val .* and test"
    ) as info:
        check_no_group_overlap(planted, groups)
    assert f"sample {moved}" in str(info.value)
    assert "Split by group" in str(info.value)


def test_check_no_group_overlap_train_test_and_bad_input() -> None:
    split = Split(train=[0, 1], test=[2])
    check_no_group_overlap(split, ["p1", "p1", "p2"])
    with pytest.raises(
        ValueError, match=r"group 'p2' appears in both train \(sample 1\) and test \(sample 2\)"
    ):
        check_no_group_overlap(split, ["p1", "p2", "p2"])
    with pytest.raises(ValueError, match=r"split.test refers to sample 2, but groups has only 2 entries"):
        check_no_group_overlap(split, ["p1", "p2"])
    with pytest.raises(TypeError, match=r"split must be a brainvit_effnet.data.splits.Split; got dict"):
        check_no_group_overlap({"train": [0]}, ["p1"])  # type: ignore[arg-type]


def test_split_normalises_validates_and_is_immutable() -> None:
    split = Split(train=np.array([3, 1, 2], dtype=np.int32), test=[0], fold=np.int64(4))
    np.testing.assert_array_equal(split.train, [1, 2, 3])
    assert split.train.dtype == np.int64
    assert split.val.dtype == np.int64
    assert split.val.size == 0
    assert split.fold == 4
    assert type(split.fold) is int
    with pytest.raises(ValueError, match="read-only"):
        split.train[0] = 5
    with pytest.raises(dataclasses.FrozenInstanceError):
        split.fold = 2  # type: ignore[misc]
    assert split == Split(train=[1, 2, 3], test=[0], fold=4)
    assert split != Split(train=[1, 2, 3], test=[0], fold=3)


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        ({"train": [0, 1], "test": [1]}, ValueError, r"sample 1 is in both train and test"),
        ({"train": [0, 0]}, ValueError, r"Split.train lists sample 0 more than once"),
        ({"train": [-1]}, ValueError, r"Split.train must hold non-negative sample indices; got -1"),
        (
            {"train": [True, False]},
            TypeError,
            r"Split.train must hold integer sample indices; got dtype bool",
        ),
        ({"train": [[0, 1]]}, ValueError, r"Split.train must be a 1-D array .* got shape \(1, 2\)"),
    ],
)
def test_split_rejects_bad_indices(kwargs: dict[str, object], error: type[Exception], pattern: str) -> None:
    with pytest.raises(error, match=pattern):
        Split(**kwargs)  # type: ignore[arg-type]


# ----------------------------------------------------------------------------------------------
# Bad arguments
# ----------------------------------------------------------------------------------------------

GOOD_LABELS = [0, 1, 0, 1, 2, 2]
GOOD_GROUPS = ["a", "a", "b", "c", "d", "e"]


@pytest.mark.parametrize(
    ("labels", "groups", "kwargs", "error", "pattern"),
    [
        (GOOD_LABELS, GOOD_GROUPS, {"n_splits": 1}, ValueError, r"n_splits must be at least 2.*got 1"),
        (
            GOOD_LABELS,
            GOOD_GROUPS,
            {"n_splits": 6},
            ValueError,
            r"got 5 groups\. Lower n_splits to at most 5",
        ),
        (GOOD_LABELS, GOOD_GROUPS, {"n_splits": 2.0}, TypeError, r"n_splits must be an integer; got 2\.0"),
        (
            GOOD_LABELS,
            GOOD_GROUPS,
            {"n_splits": True},
            TypeError,
            r"n_splits must be an integer; got the bool",
        ),
        (GOOD_LABELS, GOOD_GROUPS, {"seed": -1}, ValueError, r"seed must be a non-negative integer; got -1"),
        (GOOD_LABELS, GOOD_GROUPS, {"seed": "0"}, TypeError, r"seed must be an integer"),
        (GOOD_LABELS, GOOD_GROUPS[:-1], {}, ValueError, r"same length .* got 6 labels and 5 group ids"),
        (GOOD_LABELS, np.array(GOOD_GROUPS[:-1]), {}, ValueError, r"got 6 labels and 5 group ids"),
        ([0, -1, 0, 1, 2, 2], GOOD_GROUPS, {}, ValueError, r"labels must be non-negative .* got -1"),
        (
            [0, 1.5, 0, 1, 2, 2],
            GOOD_GROUPS,
            {},
            TypeError,
            r"labels must hold integers; got dtype float64.*astype",
        ),
        (
            ["glioma"] * 6,
            GOOD_GROUPS,
            {},
            TypeError,
            r"labels must hold integers; got dtype <U6.*class names",
        ),
        ([[0, 1], [0, 1]], GOOD_GROUPS, {}, ValueError, r"labels must be 1-D.*got shape \(2, 2\)"),
        ([], [], {}, ValueError, r"labels is empty"),
        (GOOD_LABELS, [["a"], ["a"], ["b"], ["c"], ["d"], ["e"]], {}, TypeError, r"unhashable list \['a'\]"),
        (GOOD_LABELS, np.zeros((6, 2)), {}, ValueError, r"groups must be 1-D.*got shape \(6, 2\)"),
        (GOOD_LABELS, "aabcde", {}, TypeError, r"groups must be a sequence .* got str"),
    ],
)
def test_stratified_group_kfold_bad_arguments(
    labels: object, groups: object, kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        stratified_group_kfold(labels, groups, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("kwargs", "error", "pattern"),
    [
        (
            {"test_size": 0.0},
            ValueError,
            r"test_size must be a fraction of the samples in \(0, 1\); got 0\.0",
        ),
        ({"test_size": 1.0}, ValueError, r"test_size must be .* got 1\.0"),
        ({"test_size": -0.1}, ValueError, r"test_size must be .* got -0\.1"),
        ({"test_size": 20}, ValueError, r"got 20\.0\. Pass e\.g\. test_size=0\.2 for 20%"),
        ({"val_size": 1.0}, ValueError, r"val_size must be a fraction of the samples in \[0, 1\); got 1\.0"),
        ({"val_size": -0.2}, ValueError, r"val_size must be .* got -0\.2"),
        ({"test_size": 0.5, "val_size": 0.5}, ValueError, r"sum < 1\); got 0\.5 \+ 0\.5 = 1\.0"),
        ({"test_size": "0.2"}, TypeError, r"test_size must be a float fraction"),
        ({"test_size": None}, TypeError, r"test_size must be a float fraction"),
        ({"seed": 1.5}, TypeError, r"seed must be an integer"),
    ],
)
def test_grouped_holdout_bad_arguments(
    kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=pattern):
        grouped_holdout(GOOD_LABELS, GOOD_GROUPS, **kwargs)  # type: ignore[arg-type]


def test_grouped_holdout_too_few_groups() -> None:
    with pytest.raises(ValueError, match=r"train/val/test split needs at least 3 distinct groups.*got 2"):
        grouped_holdout([0, 1, 0], ["a", "a", "b"], test_size=0.2, val_size=0.2)
    with pytest.raises(ValueError, match=r"train/test split needs at least 2 distinct groups.*got 1"):
        grouped_holdout([0, 1, 0], ["a", "a", "a"])


@pytest.mark.parametrize(
    ("fold_ids", "kwargs", "error", "pattern"),
    [
        ([0, 0, 0], {}, ValueError, r"at least 2 distinct fold ids \(test and training\); got 1: \[0\]"),
        ([0, 1, 0, 1], {"val_fold": True}, ValueError, r"at least 3 distinct fold ids .* got 2"),
        ([0, 1], {"val_fold": 1}, TypeError, r"val_fold must be True or False; got 1"),
        ([0.0, 1.0], {}, TypeError, r"fold_ids must hold integers; got dtype float64"),
        ([], {}, ValueError, r"fold_ids is empty"),
    ],
)
def test_kfold_splits_bad_arguments(
    fold_ids: object, kwargs: dict[str, object], error: type[Exception], pattern: str
) -> None:
    with pytest.raises(error, match=re.compile(pattern)):
        kfold_splits(fold_ids, **kwargs)  # type: ignore[arg-type]
