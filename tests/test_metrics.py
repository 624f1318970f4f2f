"""Tests for brainvit_effnet.metrics: agreement with scikit-learn, calibration, bootstrap, temperature."""

from __future__ import annotations

import json
import logging
import math
import warnings
from typing import Any

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from brainvit_effnet.metrics import (
    accuracy,
    apply_temperature,
    balanced_accuracy,
    bootstrap_ci,
    brier_score,
    classification_report,
    confusion_matrix,
    expected_calibration_error,
    fit_temperature,
    negative_log_likelihood,
    precision_recall_f1,
    reliability_diagram,
    roc_auc_ovr,
    summarize_folds,
)

REPORT_KEYS = {
    "n",
    "num_classes",
    "class_names",
    "accuracy",
    "balanced_accuracy",
    "macro_precision",
    "macro_recall",
    "macro_f1",
    "per_class",
    "confusion_matrix",
    "roc_auc_macro",
    "ece",
    "nll",
    "brier",
    "reliability",
}
CI_KEYS = {"accuracy", "balanced_accuracy", "macro_f1", "roc_auc_macro", "ece"}


def softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def make_data(
    seed: int, num_classes: int, n: int = 150, *, absent_pred: bool = False, absent_true: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Random labels and informative probabilities; optionally a class never predicted / never true."""
    rng = np.random.default_rng(seed)
    low = 1 if absent_true else 0  # class 0 absent from y_true
    y = rng.integers(low, num_classes, size=n)
    logits = rng.normal(size=(n, num_classes)) + 1.5 * np.eye(num_classes)[y]
    if absent_pred:
        logits[:, num_classes - 1] = -20.0  # last class never the argmax
    return y, softmax(logits)


def sample_labels(rng: np.random.Generator, probs: np.ndarray) -> np.ndarray:
    cum = probs.cumsum(axis=1)
    u = rng.random((probs.shape[0], 1))
    return np.minimum((u > cum).sum(axis=1), probs.shape[1] - 1)


CASES = [
    pytest.param(0, 2, False, False, id="C2"),
    pytest.param(1, 3, False, False, id="C3"),
    pytest.param(2, 4, False, False, id="C4"),
    pytest.param(3, 7, False, False, id="C7"),
    pytest.param(4, 4, True, False, id="C4-never-predicted"),
    pytest.param(5, 4, False, True, id="C4-absent-from-y_true"),
    pytest.param(6, 5, True, True, id="C5-both"),
]


# --------------------------------------------------------------------------------------------------
# Agreement with scikit-learn
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("seed", "num_classes", "absent_pred", "absent_true"), CASES)
def test_label_metrics_match_sklearn(
    seed: int, num_classes: int, absent_pred: bool, absent_true: bool
) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    y, probs = make_data(seed, num_classes, absent_pred=absent_pred, absent_true=absent_true)
    pred = probs.argmax(axis=1)
    labels = list(range(num_classes))
    if absent_pred:
        assert (num_classes - 1) not in set(pred.tolist())
    if absent_true:
        assert 0 not in set(y.tolist())

    assert accuracy(y, pred) == pytest.approx(skm.accuracy_score(y, pred), abs=1e-12)
    assert accuracy(y, probs) == accuracy(y, pred)  # scores are reduced with argmax
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn warns about classes only in y_pred
        expected_bacc = skm.balanced_accuracy_score(y, pred)
    assert balanced_accuracy(y, pred) == pytest.approx(expected_bacc, abs=1e-12)

    cm = confusion_matrix(y, pred, num_classes)
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y, pred, labels=labels))
    assert cm.shape == (num_classes, num_classes)

    ours = precision_recall_f1(y, pred, num_classes)
    p, r, f, s = skm.precision_recall_fscore_support(y, pred, labels=labels, zero_division=0)
    np.testing.assert_allclose(ours["precision"], p, atol=1e-12)
    np.testing.assert_allclose(ours["recall"], r, atol=1e-12)
    np.testing.assert_allclose(ours["f1"], f, atol=1e-12)
    np.testing.assert_array_equal(ours["support"], s)
    mp, mr, mf, _ = skm.precision_recall_fscore_support(
        y, pred, labels=labels, average="macro", zero_division=0
    )
    assert ours["macro_precision"] == pytest.approx(mp, abs=1e-12)
    assert ours["macro_recall"] == pytest.approx(mr, abs=1e-12)
    assert ours["macro_f1"] == pytest.approx(mf, abs=1e-12)
    assert ours["macro_f1"] == pytest.approx(
        skm.f1_score(y, pred, labels=labels, average="macro", zero_division=0)
    )


@pytest.mark.parametrize(("seed", "num_classes", "absent_pred", "absent_true"), CASES)
def test_probability_metrics_match_sklearn(
    seed: int, num_classes: int, absent_pred: bool, absent_true: bool
) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    y, probs = make_data(seed, num_classes, absent_pred=absent_pred, absent_true=absent_true)
    labels = list(range(num_classes))

    auc = roc_auc_ovr(y, probs)
    present = np.isin(np.arange(num_classes), y)
    for k in range(num_classes):
        if present[k]:
            assert auc["per_class"][k] == pytest.approx(skm.roc_auc_score(y == k, probs[:, k]), abs=1e-12)
        else:
            assert math.isnan(auc["per_class"][k])
    assert auc["macro"] == pytest.approx(float(np.mean(auc["per_class"][present])), abs=1e-12)
    if present.all():
        if num_classes == 2:
            expected_macro = skm.roc_auc_score(y, probs[:, 1])
        else:
            expected_macro = skm.roc_auc_score(y, probs, multi_class="ovr", average="macro")
            expected_per_class = skm.roc_auc_score(y, probs, multi_class="ovr", average=None)
            np.testing.assert_allclose(auc["per_class"], expected_per_class, atol=1e-12)
        assert auc["macro"] == pytest.approx(expected_macro, abs=1e-12)

    assert negative_log_likelihood(y, probs) == pytest.approx(skm.log_loss(y, probs, labels=labels), rel=1e-9)
    try:
        # multi-class since sklearn 1.7; its binary default halves the score, ours never does
        expected_brier = skm.brier_score_loss(y, probs, labels=labels, scale_by_half=False)
    except (ValueError, TypeError):
        expected_brier = float(np.mean(((probs - np.eye(num_classes)[y]) ** 2).sum(axis=1)))
    assert brier_score(y, probs) == pytest.approx(expected_brier, rel=1e-9)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_roc_auc_with_tied_scores_matches_sklearn(seed: int) -> None:
    skm = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(seed)
    palette = softmax(rng.normal(size=(4, 3)))  # only 4 distinct rows: scores are heavily tied
    rows = rng.integers(0, 4, size=120)
    probs = palette[rows]
    y = rng.integers(0, 3, size=120)
    auc = roc_auc_ovr(y, probs)
    for k in range(3):
        assert auc["per_class"][k] == pytest.approx(skm.roc_auc_score(y == k, probs[:, k]), abs=1e-12)
    expected = skm.roc_auc_score(y, probs, multi_class="ovr", average="macro")
    assert auc["macro"] == pytest.approx(expected, abs=1e-12)


def test_roc_auc_all_tied_is_one_half_and_perfect_is_one() -> None:
    y = np.array([0, 1, 2, 0, 1, 2])
    assert roc_auc_ovr(y, np.full((6, 3), 1 / 3))["macro"] == pytest.approx(0.5)
    assert roc_auc_ovr(y, np.eye(3)[y])["macro"] == 1.0


def test_roc_auc_undefined_everywhere_when_one_class_present() -> None:
    out = roc_auc_ovr([1, 1, 1], [[0.2, 0.8], [0.6, 0.4], [0.5, 0.5]])
    assert np.isnan(out["per_class"]).all()
    assert math.isnan(out["macro"])


def test_torch_tensors_are_accepted() -> None:
    y, probs = make_data(0, 3)
    y_t, p_t = torch.from_numpy(y), torch.from_numpy(probs).float()
    assert accuracy(y_t, p_t) == accuracy(y, probs)
    np.testing.assert_array_equal(confusion_matrix(y_t, p_t.argmax(dim=1), 3), confusion_matrix(y, probs, 3))
    assert roc_auc_ovr(y_t, p_t)["macro"] == pytest.approx(roc_auc_ovr(y, probs)["macro"], abs=1e-6)
    assert expected_calibration_error(y_t, p_t) == pytest.approx(
        expected_calibration_error(y, probs), abs=1e-6
    )
    assert fit_temperature(torch.from_numpy(np.log(probs)), y_t) == pytest.approx(
        fit_temperature(np.log(probs), y), rel=1e-6
    )


def test_hand_computed_label_metrics() -> None:
    y = [0, 0, 1, 1, 2, 2]
    pred = [0, 1, 1, 1, 1, 0]  # class 2 never predicted
    cm = confusion_matrix(y, pred, num_classes=4)  # class 3 neither present nor predicted
    assert cm.tolist() == [[1, 1, 0, 0], [0, 2, 0, 0], [1, 1, 0, 0], [0, 0, 0, 0]]
    out = precision_recall_f1(y, pred, num_classes=4)
    assert out["precision"].tolist() == pytest.approx([0.5, 0.5, 0.0, 0.0])
    assert out["recall"].tolist() == pytest.approx([0.5, 1.0, 0.0, 0.0])
    assert out["f1"].tolist() == pytest.approx([0.5, 2 / 3, 0.0, 0.0])
    assert out["support"].tolist() == [2, 2, 2, 0]
    assert out["macro_f1"] == pytest.approx((0.5 + 2 / 3) / 4)
    assert accuracy(y, pred) == pytest.approx(0.5)
    assert balanced_accuracy(y, pred) == pytest.approx((0.5 + 1.0 + 0.0) / 3)
    # class 2 is only predicted, never true: it is left out of the mean
    assert balanced_accuracy([0, 0, 0, 1], [0, 0, 2, 2]) == pytest.approx((2 / 3 + 0) / 2)


@settings(max_examples=30, deadline=None)
@given(
    st.integers(min_value=2, max_value=5).flatmap(
        lambda c: st.tuples(
            st.just(c),
            st.lists(st.tuples(st.integers(0, c - 1), st.integers(0, c - 1)), min_size=1, max_size=40),
        )
    )
)
def test_confusion_matrix_invariants(case: tuple[int, list[tuple[int, int]]]) -> None:
    num_classes, pairs = case
    y = np.array([a for a, _ in pairs])
    pred = np.array([b for _, b in pairs])
    cm = confusion_matrix(y, pred, num_classes)
    assert cm.sum() == len(pairs)
    np.testing.assert_array_equal(cm.sum(axis=1), np.bincount(y, minlength=num_classes))
    np.testing.assert_array_equal(cm.sum(axis=0), np.bincount(pred, minlength=num_classes))
    assert np.trace(cm) / len(pairs) == pytest.approx(accuracy(y, pred))
    prf = precision_recall_f1(y, pred, num_classes)
    for values in (prf["precision"], prf["recall"], prf["f1"]):
        assert np.all((values >= 0.0) & (values <= 1.0))


# --------------------------------------------------------------------------------------------------
# Calibration
# --------------------------------------------------------------------------------------------------


def test_ece_hand_computed() -> None:
    # Four samples at confidence 0.9, two right: bin (0.8, 1.0] has |0.5 - 0.9| = 0.4.
    # One sample at confidence 0.7, right: bin (0.6, 0.8] has |1.0 - 0.7| = 0.3.
    # ECE = 4/5 * 0.4 + 1/5 * 0.3 = 0.38.
    y = [0, 0, 1, 1, 1]
    probs = [[0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.9, 0.1], [0.3, 0.7]]
    assert expected_calibration_error(y, probs, n_bins=5) == pytest.approx(0.38, abs=1e-12)
    diagram = reliability_diagram(y, probs, n_bins=5)
    assert diagram["count"].tolist() == [0, 0, 0, 1, 4]
    assert diagram["accuracy"][3:].tolist() == pytest.approx([1.0, 0.5])
    assert diagram["confidence"][3:].tolist() == pytest.approx([0.7, 0.9])
    assert np.isnan(diagram["accuracy"][:3]).all() and np.isnan(diagram["confidence"][:3]).all()
    np.testing.assert_allclose(diagram["bin_edges"], [0.0, 0.2, 0.4, 0.6, 0.8, 1.0])


def test_overconfident_predictor_has_large_ece() -> None:
    y = [0, 0, 1, 1]
    assert expected_calibration_error(y, [[0.9, 0.1]] * 4) == pytest.approx(0.4, abs=1e-12)
    assert expected_calibration_error(y, [[1.0, 0.0]] * 4) == pytest.approx(0.5, abs=1e-12)
    assert expected_calibration_error([0, 1], [[1.0, 0.0], [0.0, 1.0]]) == 0.0


def test_bins_are_right_closed() -> None:
    # Edges 0, .25, .5, .75, 1 are exact: a confidence of 0.75 is in (0.5, 0.75], 0.5 in (0.25, 0.5].
    diagram = reliability_diagram([0, 0, 0], [[0.75, 0.25], [0.5, 0.5], [1.0, 0.0]], n_bins=4)
    assert diagram["count"].tolist() == [0, 1, 1, 1]


def test_perfectly_calibrated_predictor_has_near_zero_ece() -> None:
    rng = np.random.default_rng(0)
    p1 = rng.random(100_000)
    y = (rng.random(100_000) < p1).astype(int)  # P(y = 1) = p1 exactly: calibrated by construction
    probs = np.stack([1 - p1, p1], axis=1)
    assert expected_calibration_error(y, probs) < 0.01
    sharpened = softmax(4 * np.log(probs))  # same ranking, overconfident
    assert expected_calibration_error(y, sharpened) > 0.1


@pytest.mark.parametrize("n_bins", [1, 7, 15])
def test_reliability_counts_sum_to_n_and_match_ece(n_bins: int) -> None:
    y, probs = make_data(3, 4, n=300)
    diagram = reliability_diagram(y, probs, n_bins=n_bins)
    assert diagram["count"].sum() == 300
    assert diagram["bin_edges"].shape == (n_bins + 1,)
    filled = diagram["count"] > 0
    lo, hi = diagram["bin_edges"][:-1][filled], diagram["bin_edges"][1:][filled]
    assert np.all(diagram["confidence"][filled] > lo) and np.all(diagram["confidence"][filled] <= hi)
    gaps = np.abs(diagram["accuracy"][filled] - diagram["confidence"][filled])
    ece = float(np.sum(diagram["count"][filled] / 300 * gaps))
    assert expected_calibration_error(y, probs, n_bins=n_bins) == pytest.approx(ece, abs=1e-12)


# --------------------------------------------------------------------------------------------------
# Bootstrap
# --------------------------------------------------------------------------------------------------


def macro_auc(y: Any, p: Any) -> float:
    return roc_auc_ovr(y, p)["macro"]


# Not ECE: it is biased upwards under resampling, so its percentile interval can miss the estimate.
@pytest.mark.parametrize("metric", [accuracy, balanced_accuracy, macro_auc])
def test_bootstrap_ci_contains_point_estimate(metric: Any) -> None:
    y, probs = make_data(0, 3, n=200)
    est, low, high = bootstrap_ci(metric, y, probs, n_resamples=200, seed=1)
    assert est == pytest.approx(metric(y, probs))
    assert low <= est <= high
    assert low < high


def test_bootstrap_ci_shrinks_with_n() -> None:
    y_small, p_small = make_data(1, 3, n=100)
    y_big, p_big = make_data(1, 3, n=2000)
    _, lo_s, hi_s = bootstrap_ci(accuracy, y_small, p_small, n_resamples=300)
    _, lo_b, hi_b = bootstrap_ci(accuracy, y_big, p_big, n_resamples=300)
    assert (hi_b - lo_b) < 0.5 * (hi_s - lo_s)  # width ~ 1/sqrt(N): about 4.5x narrower


def test_bootstrap_ci_deterministic_by_seed() -> None:
    y, probs = make_data(2, 4, n=120)
    a = bootstrap_ci(balanced_accuracy, y, probs, n_resamples=100, seed=7)
    b = bootstrap_ci(balanced_accuracy, y, probs, n_resamples=100, seed=7)
    c = bootstrap_ci(balanced_accuracy, y, probs, n_resamples=100, seed=8)
    assert a == b
    assert a[1:] != c[1:]
    assert a[0] == c[0]


def test_bootstrap_ci_alpha_and_labels_as_predictions() -> None:
    y, probs = make_data(4, 3, n=300)
    _, lo95, hi95 = bootstrap_ci(accuracy, y, probs, n_resamples=300, alpha=0.05)
    _, lo50, hi50 = bootstrap_ci(accuracy, y, probs, n_resamples=300, alpha=0.5)
    assert lo95 <= lo50 <= hi50 <= hi95
    # the second argument may be predicted labels: same resamples, same interval
    assert bootstrap_ci(accuracy, y, probs.argmax(axis=1), n_resamples=300) == (
        accuracy(y, probs),
        lo95,
        hi95,
    )


def test_bootstrap_stratified_keeps_classes_and_avoids_nan(caplog: pytest.LogCaptureFixture) -> None:
    rng = np.random.default_rng(0)
    y = np.array([0] * 97 + [1] * 2 + [2] * 1)  # rare classes go missing from plain resamples
    probs = softmax(rng.normal(size=(100, 3)) + 2 * np.eye(3)[y])
    with caplog.at_level(logging.WARNING, logger="brainvit_effnet.metrics"):
        est, low, high = bootstrap_ci(macro_auc, y, probs, n_resamples=200)
    assert "resamples gave NaN" in caplog.text
    assert not math.isnan(low) and not math.isnan(high)
    caplog.clear()

    seen: list[np.ndarray] = []

    def counting_metric(yy: np.ndarray, pp: np.ndarray) -> float:
        seen.append(np.bincount(yy, minlength=3))
        return macro_auc(yy, pp)

    with caplog.at_level(logging.WARNING, logger="brainvit_effnet.metrics"):
        est_s, low_s, high_s = bootstrap_ci(counting_metric, y, probs, n_resamples=100, stratify=True)
    assert caplog.text == ""
    assert all(counts.tolist() == [97, 2, 1] for counts in seen)
    assert est_s == est
    assert low_s <= est_s <= high_s


# --------------------------------------------------------------------------------------------------
# Temperature scaling
# --------------------------------------------------------------------------------------------------


def planted(seed: int, n: int, temperature: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    true_logits = rng.normal(size=(n, 4)) * 1.5
    y = sample_labels(rng, softmax(true_logits))
    return true_logits * temperature, y


@pytest.mark.parametrize("seed", [0, 1])
def test_fit_temperature_recovers_planted_temperature(seed: int) -> None:
    logits, y = planted(seed, 4000)
    t = fit_temperature(logits, y)
    assert t == pytest.approx(3.0, rel=0.15)


def test_fit_temperature_recovers_underconfidence() -> None:
    logits, y = planted(2, 4000, temperature=0.5)
    assert fit_temperature(logits, y) == pytest.approx(0.5, rel=0.15)


def test_temperature_scaling_lowers_held_out_nll_and_keeps_accuracy() -> None:
    logits, y = planted(3, 6000)
    val, test = slice(0, 3000), slice(3000, None)
    t = fit_temperature(logits[val], y[val])
    before = apply_temperature(logits[test], 1.0)
    after = apply_temperature(logits[test], t)
    assert negative_log_likelihood(y[test], after) < negative_log_likelihood(y[test], before) - 0.1
    assert expected_calibration_error(y[test], after) < expected_calibration_error(y[test], before)
    assert accuracy(y[test], after) == accuracy(y[test], before)


def test_apply_temperature() -> None:
    logits = np.array([[1.0, 2.0, 3.0], [1000.0, 0.0, -1000.0]])  # huge logits stay finite
    probs = apply_temperature(logits, 1.0)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    np.testing.assert_allclose(probs[0], softmax(logits[:1])[0])
    np.testing.assert_allclose(apply_temperature(logits, 2.0)[0], softmax(logits[:1] / 2)[0])
    assert np.isfinite(probs).all()
    np.testing.assert_allclose(apply_temperature(torch.tensor(logits), 1.0), probs)


def test_fit_temperature_logs_when_at_bound(caplog: pytest.LogCaptureFixture) -> None:
    logits, y = planted(4, 1000, temperature=0.5)  # optimum T ~ 0.5 lies below the search interval
    with caplog.at_level(logging.WARNING, logger="brainvit_effnet.metrics"):
        t = fit_temperature(logits, y, bounds=(1.0, 10.0))
    assert t == pytest.approx(1.0, rel=1e-3)
    assert "search bound" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="brainvit_effnet.metrics"):
        fit_temperature(logits, y)
    assert caplog.text == ""


# --------------------------------------------------------------------------------------------------
# Report and fold summary
# --------------------------------------------------------------------------------------------------


def assert_plain(value: Any, path: str = "report") -> None:
    """Only built-in JSON types, recursively (no numpy scalars or arrays)."""
    if isinstance(value, dict):
        for k, v in value.items():
            assert type(k) is str, f"{path} key {k!r}"
            assert_plain(v, f"{path}[{k!r}]")
    elif isinstance(value, list):
        for i, v in enumerate(value):
            assert_plain(v, f"{path}[{i}]")
    else:
        assert type(value) in (int, float, str), f"{path} is {type(value).__name__}"


def test_classification_report_schema_and_values() -> None:
    y, probs = make_data(5, 4, n=150, absent_true=True)
    names = ["glioma", "meningioma", "no_tumor", "pituitary"]
    report = classification_report(y, probs, class_names=names, n_bins=10)
    assert set(report) == REPORT_KEYS
    assert_plain(report)
    json.loads(json.dumps(report))

    assert report["n"] == 150 and report["num_classes"] == 4 and report["class_names"] == names
    assert list(report["per_class"]) == names
    for entry in report["per_class"].values():
        assert set(entry) == {"precision", "recall", "f1", "support", "roc_auc"}
    assert math.isnan(report["per_class"]["glioma"]["roc_auc"])  # class 0 absent from y_true
    assert report["per_class"]["glioma"]["support"] == 0

    pred = probs.argmax(axis=1)
    prf = precision_recall_f1(y, pred, 4)
    assert report["accuracy"] == accuracy(y, probs)
    assert report["balanced_accuracy"] == balanced_accuracy(y, pred)
    assert report["macro_f1"] == prf["macro_f1"]
    assert report["per_class"]["pituitary"]["f1"] == prf["f1"][3]
    assert report["confusion_matrix"] == confusion_matrix(y, pred, 4).tolist()
    assert report["roc_auc_macro"] == roc_auc_ovr(y, probs)["macro"]
    assert report["ece"] == expected_calibration_error(y, probs, n_bins=10)
    assert report["nll"] == negative_log_likelihood(y, probs)
    assert report["brier"] == brier_score(y, probs)
    assert set(report["reliability"]) == {"bin_edges", "confidence", "accuracy", "count"}
    assert sum(report["reliability"]["count"]) == 150
    assert len(report["reliability"]["bin_edges"]) == 11


def test_classification_report_bootstrap() -> None:
    y, probs = make_data(6, 3, n=120)
    report = classification_report(y, probs, bootstrap=100, seed=3)
    assert set(report) == REPORT_KEYS | {"ci95", "ci_unit"} and report["ci_unit"] == "image"
    assert set(report["ci95"]) == CI_KEYS
    assert_plain(report)
    json.dumps(report)
    assert report["class_names"] == ["0", "1", "2"]
    for key, (low, high) in report["ci95"].items():
        assert low < high, key
        if key != "ece":  # ECE is biased upwards under resampling; its interval may sit above it
            assert low <= report[key] <= high, key
    again = classification_report(y, probs, bootstrap=100, seed=3)
    assert json.dumps(report) == json.dumps(again)  # deterministic (compared as text: NaN != NaN)


def tied_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(11)
    palette = softmax(rng.normal(size=(4, 3)))  # 4 distinct rows: heavily tied scores
    return rng.integers(0, 3, size=150), palette[rng.integers(0, 4, size=150)]


def rare_class_data() -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(12)
    y = np.array([0] * 60 + [1] * 3 + [2] * 1)  # class 2 drops out of most resamples
    return y, softmax(rng.normal(size=(64, 3)) + np.eye(3)[y])


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(lambda: make_data(6, 3, n=120), id="random"),
        pytest.param(lambda: make_data(5, 4, n=90, absent_true=True, absent_pred=True), id="absent-classes"),
        pytest.param(tied_data, id="ties"),
        pytest.param(rare_class_data, id="rare-class"),
    ],
)
def test_report_bootstrap_matches_generic_bootstrap(data: Any) -> None:
    """The report's vectorised bootstrap gives bootstrap_ci's intervals (same seed, same resamples)."""
    y, probs = data()
    num_classes = probs.shape[1]
    report = classification_report(y, probs, bootstrap=150, seed=3)
    public = {
        "accuracy": accuracy,
        "balanced_accuracy": balanced_accuracy,
        "macro_f1": lambda yy, pp: precision_recall_f1(yy, pp, num_classes)["macro_f1"],
        "roc_auc_macro": macro_auc,
        "ece": expected_calibration_error,
    }
    for key, fn in public.items():
        _, low, high = bootstrap_ci(fn, y, probs, n_resamples=150, seed=3)
        assert report["ci95"][key] == pytest.approx([low, high], abs=1e-12), key


def test_summarize_folds() -> None:
    reports = [classification_report(*make_data(seed, 3, n=80)) for seed in range(4)]
    summary = summarize_folds(reports)
    assert set(summary) == CI_KEYS
    for key, stats in summary.items():
        values = [r[key] for r in reports]
        assert stats["mean"] == pytest.approx(np.mean(values))
        assert stats["std"] == pytest.approx(np.std(values, ddof=1))
        assert set(stats) == {"mean", "std"}
    hand = summarize_folds([{"accuracy": 0.7}, {"accuracy": 0.8}, {"accuracy": 0.9}], keys=["accuracy"])
    assert hand["accuracy"]["mean"] == pytest.approx(0.8)
    assert hand["accuracy"]["std"] == pytest.approx(0.1)
    single = summarize_folds([{"accuracy": 0.7}], keys=["accuracy"])
    assert single["accuracy"]["mean"] == pytest.approx(0.7)
    assert math.isnan(single["accuracy"]["std"])


# --------------------------------------------------------------------------------------------------
# Bad input
# --------------------------------------------------------------------------------------------------

GOOD_Y = np.array([0, 1, 2])
GOOD_P = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])


@pytest.mark.parametrize(
    ("call", "error", "match"),
    [
        (lambda: accuracy([0, 1], [0, 1, 1]), ValueError, r"same number of samples; got 2 labels and 3"),
        (lambda: accuracy([], []), ValueError, "empty"),
        (
            lambda: accuracy([0.0, 1.0], [0, 1]),
            TypeError,
            r"integer class indices; got dtype float64.*astype",
        ),
        (lambda: accuracy([[0, 1]], [0]), ValueError, r"1-D class indices.*argmax"),
        (lambda: accuracy([0, -1], [0, 1]), ValueError, r">= 0; got -1"),
        (lambda: accuracy("01", [0, 1]), TypeError, "numpy array, torch tensor"),
        (lambda: accuracy([True, False], [0, 1]), TypeError, "dtype bool"),
        (lambda: confusion_matrix([0, 3], [0, 1], 3), ValueError, r"\[0, 3\) for 3 classes; got 3"),
        (lambda: confusion_matrix([0, 1], [0, 1], 0), ValueError, "num_classes must be >= 1"),
        (lambda: confusion_matrix([0, 1], [0, 1], 2.0), TypeError, "num_classes must be an int"),
        (lambda: confusion_matrix([0, 1], GOOD_P[:2], 4), ValueError, "3 score columns but num_classes=4"),
        (lambda: precision_recall_f1([0, 1], [0, 5], 3), ValueError, r"y_pred .*\[0, 3\).*got 5"),
        (lambda: roc_auc_ovr([0, 1, 3], GOOD_P), ValueError, r"y_true .*\[0, 3\) for 3 classes; got 3"),
        (lambda: roc_auc_ovr(GOOD_Y, GOOD_P * 2), ValueError, r"probabilities in \[0, 1\]; got a value 1.6"),
        (lambda: roc_auc_ovr(GOOD_Y, GOOD_P * 0.5), ValueError, r"row 0 sums to 0.5.*softmax"),
        (lambda: roc_auc_ovr(GOOD_Y, GOOD_P[0]), ValueError, r"shape \(N, C\).*got shape \(3,\)"),
        (lambda: roc_auc_ovr(GOOD_Y, np.ones((3, 1))), ValueError, "at least 2 class columns"),
        (lambda: roc_auc_ovr(GOOD_Y, [[0.5, 0.5], [0.5]]), TypeError, "same length"),
        (lambda: roc_auc_ovr(GOOD_Y[:2], GOOD_P), ValueError, "got 2 labels and 3 rows in probs"),
        (
            lambda: negative_log_likelihood(GOOD_Y, np.where(GOOD_P == 0.8, np.nan, GOOD_P)),
            ValueError,
            "must be finite; row 0",
        ),
        (lambda: expected_calibration_error(GOOD_Y, GOOD_P, n_bins=0), ValueError, "n_bins must be >= 1"),
        (lambda: reliability_diagram(GOOD_Y, GOOD_P, n_bins=2.5), TypeError, "n_bins must be an int"),
        (lambda: bootstrap_ci("accuracy", GOOD_Y, GOOD_P), TypeError, "metric_fn must be a callable"),
        (
            lambda: bootstrap_ci(accuracy, GOOD_Y, GOOD_P, n_resamples=0),
            ValueError,
            "n_resamples must be >= 1",
        ),
        (lambda: bootstrap_ci(accuracy, GOOD_Y, GOOD_P, alpha=1.5), ValueError, r"alpha must be in \(0, 1\)"),
        (lambda: bootstrap_ci(accuracy, GOOD_Y, GOOD_P, seed=None), TypeError, "seed must be an int"),
        (lambda: bootstrap_ci(accuracy, GOOD_Y, GOOD_P[:2]), ValueError, "same number of samples"),
        (
            lambda: bootstrap_ci(roc_auc_ovr, GOOD_Y, GOOD_P, n_resamples=5),
            TypeError,
            r"return a float.*\['macro'\]",
        ),
        (lambda: fit_temperature(np.array([[0.0, np.inf]]), [0]), ValueError, "logits must be finite"),
        (lambda: fit_temperature(np.zeros((3, 3)), [0, 1]), ValueError, "same number of samples"),
        (lambda: fit_temperature(np.zeros((2, 3)), [0, 3]), ValueError, r"\[0, 3\) for 3 classes; got 3"),
        (lambda: fit_temperature(np.zeros((2, 3)), [0, 1], bounds=(2.0, 1.0)), ValueError, "T_min < T_max"),
        (lambda: fit_temperature(np.zeros((2, 3)), [0, 1], bounds=(1.0,)), TypeError, "pair of floats"),
        (lambda: apply_temperature(np.zeros((2, 3)), 0.0), ValueError, r"finite and > 0; got 0.0"),
        (lambda: apply_temperature(np.zeros((2, 3)), math.nan), ValueError, "finite and > 0; got nan"),
        (lambda: apply_temperature(np.zeros((2, 3)), "2"), TypeError, "positive float"),
        (lambda: apply_temperature(np.zeros(3), 1.0), ValueError, r"shape \(N, C\)"),
        (lambda: classification_report(GOOD_Y, GOOD_P, class_names=["a", "b"]), ValueError, "each of the 3"),
        (lambda: classification_report(GOOD_Y, GOOD_P, class_names=["a", "a", "b"]), ValueError, "unique"),
        (
            lambda: classification_report(GOOD_Y, GOOD_P, class_names="abc"),
            TypeError,
            "sequence of 3 strings",
        ),
        (lambda: classification_report(GOOD_Y, GOOD_P, class_names=[0, 1, 2]), TypeError, "strings"),
        (lambda: classification_report(GOOD_Y, GOOD_P, bootstrap=-1), ValueError, "bootstrap must be an int"),
        (lambda: summarize_folds([]), ValueError, "reports is empty"),
        (lambda: summarize_folds({"accuracy": 1.0}), TypeError, r"sequence \(list\).*\[report\]"),
        (
            lambda: summarize_folds([{"accuracy": 1.0}, {}], keys=["accuracy"]),
            ValueError,
            r"reports\[1\] has no",
        ),
        (lambda: summarize_folds([{"accuracy": "high"}], keys=["accuracy"]), TypeError, "must be a number"),
        (
            lambda: summarize_folds([{"accuracy": 1.0}], keys="accuracy"),
            TypeError,
            "sequence of metric names",
        ),
    ],
)
def test_bad_input_raises_helpful_error(call: Any, error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        call()


def test_bootstrap_resamples_patients_when_groups_are_known() -> None:
    """Slices of one patient move together: the patient-level interval is the honest, wider one."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(20), 10)  # 20 patients, 10 slices each
    right = np.repeat(rng.random(20) < 0.7, 10)  # a patient's slices are all right or all wrong
    y = np.zeros(200, dtype=int)
    probs = np.where(right[:, None], [[0.9, 0.1]], [[0.1, 0.9]])
    images = classification_report(y, probs, bootstrap=500)
    patients = classification_report(y, probs, bootstrap=500, groups=groups)
    assert images["ci_unit"] == "image" and patients["ci_unit"] == "group"
    width = {
        k: r["ci95"]["accuracy"][1] - r["ci95"]["accuracy"][0] for k, r in (("i", images), ("p", patients))
    }
    assert width["p"] > 2 * width["i"]
    assert patients["accuracy"] == images["accuracy"]  # the point estimate does not change
    one_group = classification_report(y, probs, bootstrap=50, groups=["a"] * 200)
    assert one_group["ci_unit"] == "image"
    with pytest.raises(ValueError, match="groups has 3 entries for 200 samples"):
        classification_report(y, probs, bootstrap=10, groups=[1, 2, 3])


# Every public name `from brainvit_effnet.metrics import X` gave while metrics was one module (it
# is a package of modules by job since): each must keep working, and __all__ must keep them.
_PUBLIC_BEFORE_THE_SPLIT = (
    "PrecisionRecallF1",
    "ReliabilityDiagram",
    "RocAuc",
    "accuracy",
    "apply_temperature",
    "balanced_accuracy",
    "bootstrap_ci",
    "brier_score",
    "classification_report",
    "confusion_matrix",
    "expected_calibration_error",
    "fit_temperature",
    "negative_log_likelihood",
    "precision_recall_f1",
    "reliability_diagram",
    "roc_auc_ovr",
    "summarize_folds",
)


def test_the_public_names_of_the_former_module_still_import() -> None:
    import brainvit_effnet.metrics as metrics

    for name in (*_PUBLIC_BEFORE_THE_SPLIT, "ArrayLike", "logger"):
        assert hasattr(metrics, name), name
    assert set(_PUBLIC_BEFORE_THE_SPLIT) <= set(metrics.__all__)
    assert metrics.logger.name == "brainvit_effnet.metrics"  # the logger callers filter on
    for name in metrics.__all__:
        exec(f"from brainvit_effnet.metrics import {name}", {})


def test_report_keys_are_the_shared_constant() -> None:
    from brainvit_effnet.results import CI_METRICS, ClassificationReport
    from brainvit_effnet.results import REPORT_KEYS as SHARED_KEYS

    r = classification_report([0, 1, 1], [[0.7, 0.3], [0.4, 0.6], [0.8, 0.2]], ["a", "b"])
    assert set(r) == set(SHARED_KEYS) == REPORT_KEYS  # this file's own spelling of the schema
    assert len(SHARED_KEYS) == len(REPORT_KEYS)
    assert set(SHARED_KEYS) <= set(ClassificationReport.__annotations__)
    with_ci = classification_report(
        [0, 1, 1, 0], [[0.7, 0.3], [0.4, 0.6], [0.8, 0.2], [0.6, 0.4]], bootstrap=20
    )
    assert tuple(with_ci["ci95"]) == CI_METRICS
    assert tuple(summarize_folds([r, r])) == CI_METRICS  # the default summary keys
