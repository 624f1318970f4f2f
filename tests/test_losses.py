"""Tests of brainvit_effnet.losses: definitions, properties, weights x smoothing, OLS and the factory."""

from __future__ import annotations

import io
import math
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from torch import Tensor, nn

from brainvit_effnet import losses as losses_module
from brainvit_effnet.losses import (
    CrossEntropyLoss,
    FocalLoss,
    LabelSmoothingCrossEntropy,
    OnlineLabelSmoothing,
    create_loss,
)

REDUCTIONS = ("mean", "sum", "none")


@pytest.fixture(autouse=True, scope="module")
def _single_thread() -> Iterator[None]:
    """The tensors here are tiny; intra-op threads only add contention on a busy 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


PROPERTY = settings(max_examples=50, deadline=None)


# --------------------------------------------------------------------------------------------------
# strategies and reference formulas
# --------------------------------------------------------------------------------------------------


@st.composite
def batches(draw: st.DrawFn, max_n: int = 6, max_c: int = 5, bound: float = 20.0) -> tuple[Tensor, Tensor]:
    """Float64 logits (N, C) and long targets (N,)."""
    n = draw(st.integers(1, max_n))
    c = draw(st.integers(2, max_c))
    logits = draw(arrays(np.float64, (n, c), elements=st.floats(-bound, bound)))
    target = draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1)))
    return torch.from_numpy(logits), torch.from_numpy(target)


@st.composite
def weighted_batches(draw: st.DrawFn) -> tuple[Tensor, Tensor, Tensor]:
    logits, target = draw(batches())
    weight = draw(arrays(np.float64, (logits.shape[1],), elements=st.floats(0.1, 5.0)))
    return logits, target, torch.from_numpy(weight)


smoothings = st.floats(0.0, 0.95)
positive_smoothings = st.floats(0.01, 0.95)


def smoothed_targets(target: Tensor, num_classes: int, eps: float) -> Tensor:
    """q = (1 - eps) * onehot + eps / C, shape (N, C), float64."""
    return (1 - eps) * F.one_hot(target, num_classes).double() + eps / num_classes


def reference_weighted_ls(
    logits: Tensor, target: Tensor, weight: Tensor, eps: float, reduction: str
) -> Tensor:
    """Our documented definition, written out independently: l_i = w[y_i] * sum_c q_ic (-log p_ic)."""
    q = smoothed_targets(target, logits.shape[1], eps)
    per_sample = weight[target] * (q * -F.log_softmax(logits, dim=1)).sum(dim=1)
    if reduction == "none":
        return per_sample
    return per_sample.sum() if reduction == "sum" else per_sample.sum() / weight[target].sum()


def reference_torch_weighted_ls(logits: Tensor, target: Tensor, weight: Tensor, eps: float) -> Tensor:
    """PyTorch's documented per-sample formula: (1-eps) w[y] (-log p_y) + (eps/C) sum_c w[c] (-log p_c)."""
    neg_logp = -F.log_softmax(logits, dim=1)
    c = logits.shape[1]
    return (1 - eps) * weight[target] * neg_logp.gather(1, target[:, None]).squeeze(1) + (eps / c) * (
        neg_logp * weight
    ).sum(dim=1)


def permuted(logits: Tensor, target: Tensor, perm: list[int]) -> tuple[Tensor, Tensor, Tensor]:
    """Relabel the classes: new column j holds old class perm[j]. Returns logits, target, inverse."""
    perm_t = torch.tensor(perm)
    inverse = torch.argsort(perm_t)
    return logits[:, perm_t], inverse[target], perm_t


# --------------------------------------------------------------------------------------------------
# smoothing 0 / gamma 0 / alpha 1 reduce to cross-entropy
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(data=weighted_batches(), reduction=st.sampled_from(REDUCTIONS), use_weight=st.booleans())
def test_zero_smoothing_is_cross_entropy(
    data: tuple[Tensor, Tensor, Tensor], reduction: str, use_weight: bool
) -> None:
    logits, target, weight = data
    w = weight if use_weight else None
    expected = F.cross_entropy(logits, target, weight=w, reduction=reduction)
    candidates: list[nn.Module] = [
        CrossEntropyLoss(weight=w, reduction=reduction),  # type: ignore[arg-type]
        LabelSmoothingCrossEntropy(smoothing=0.0, weight=w, reduction=reduction),  # type: ignore[arg-type]
        FocalLoss(gamma=0.0, alpha=w, smoothing=0.0, reduction=reduction),  # type: ignore[arg-type]
        OnlineLabelSmoothing(logits.shape[1], alpha=1.0, smoothing=0.3, weight=w, reduction=reduction),  # type: ignore[arg-type]
    ]
    for loss_fn in candidates:
        torch.testing.assert_close(loss_fn(logits, target), expected, msg=repr(loss_fn))


@PROPERTY
@given(data=batches(), eps=smoothings, reduction=st.sampled_from(REDUCTIONS))
def test_unweighted_label_smoothing_matches_pytorch(
    data: tuple[Tensor, Tensor], eps: float, reduction: str
) -> None:
    logits, target = data
    ours = LabelSmoothingCrossEntropy(smoothing=eps, reduction=reduction)(logits, target)  # type: ignore[arg-type]
    theirs = F.cross_entropy(logits, target, label_smoothing=eps, reduction=reduction)
    torch.testing.assert_close(ours, theirs)


@PROPERTY
@given(data=batches(), eps=smoothings, reduction=st.sampled_from(REDUCTIONS))
def test_focal_with_gamma_zero_is_label_smoothing(
    data: tuple[Tensor, Tensor], eps: float, reduction: str
) -> None:
    logits, target = data
    focal = FocalLoss(gamma=0.0, smoothing=eps, reduction=reduction)(logits, target)  # type: ignore[arg-type]
    torch.testing.assert_close(
        focal, F.cross_entropy(logits, target, label_smoothing=eps, reduction=reduction)
    )


# --------------------------------------------------------------------------------------------------
# class weights x smoothing, as documented
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(data=weighted_batches(), eps=positive_smoothings, reduction=st.sampled_from(REDUCTIONS))
def test_weighted_label_smoothing_follows_documented_formula(
    data: tuple[Tensor, Tensor, Tensor], eps: float, reduction: str
) -> None:
    logits, target, weight = data
    ours = LabelSmoothingCrossEntropy(smoothing=eps, weight=weight, reduction=reduction)(logits, target)  # type: ignore[arg-type]
    torch.testing.assert_close(ours, reference_weighted_ls(logits, target, weight, eps, reduction))
    # the same weighting in focal loss (gamma = 0) and OLS (alpha = 0, first epoch)
    focal = FocalLoss(gamma=0.0, alpha=weight, smoothing=eps, reduction=reduction)(logits, target)  # type: ignore[arg-type]
    torch.testing.assert_close(focal, ours)
    ols = OnlineLabelSmoothing(logits.shape[1], alpha=0.0, smoothing=eps, weight=weight, reduction=reduction)  # type: ignore[arg-type]
    torch.testing.assert_close(ols(logits, target), ours)


def test_pytorch_reference_formula_is_what_pytorch_computes() -> None:
    """Guards the description of PyTorch's behaviour in the docs against a PyTorch change."""
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(7, 4, generator=gen, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 3, 1, 0])
    weight = torch.tensor([1.0, 2.0, 0.5, 4.0], dtype=torch.float64)
    per_sample = reference_torch_weighted_ls(logits, target, weight, 0.2)
    none = F.cross_entropy(logits, target, weight=weight, label_smoothing=0.2, reduction="none")
    mean = F.cross_entropy(logits, target, weight=weight, label_smoothing=0.2)
    torch.testing.assert_close(none, per_sample)
    torch.testing.assert_close(mean, per_sample.sum() / weight[target].sum())


def test_weighted_smoothing_differs_from_pytorch_concrete_case() -> None:
    """C=2, equal logits, y=0, w=(1, 3), eps=0.5: ours log 2, PyTorch's 1.5 log 2."""
    logits = torch.zeros(1, 2, dtype=torch.float64)
    target = torch.tensor([0])
    weight = torch.tensor([1.0, 3.0], dtype=torch.float64)
    ours = LabelSmoothingCrossEntropy(smoothing=0.5, weight=weight)(logits, target)
    theirs = F.cross_entropy(logits, target, weight=weight, label_smoothing=0.5)
    assert ours.item() == pytest.approx(math.log(2))
    assert theirs.item() == pytest.approx(1.5 * math.log(2))


@PROPERTY
@given(
    data=weighted_batches(),
    eps=smoothings,
    scale=st.floats(0.1, 10.0),
    cls=st.integers(0, 4),
    kind=st.sampled_from(["ls", "focal", "ols"]),
)
def test_sample_loss_scales_with_its_own_class_weight(
    data: tuple[Tensor, Tensor, Tensor], eps: float, scale: float, cls: int, kind: str
) -> None:
    logits, target, weight = data
    cls = cls % logits.shape[1]
    scaled = weight.clone()
    scaled[cls] *= scale

    def build(w: Tensor) -> nn.Module:
        if kind == "ls":
            return LabelSmoothingCrossEntropy(smoothing=eps, weight=w, reduction="none")
        if kind == "focal":
            return FocalLoss(gamma=1.5, alpha=w, smoothing=eps, reduction="none")
        return OnlineLabelSmoothing(logits.shape[1], alpha=0.3, smoothing=eps, weight=w, reduction="none")

    before, after = build(weight)(logits, target), build(scaled)(logits, target)
    in_class = target == cls
    torch.testing.assert_close(after[in_class], before[in_class] * scale)
    torch.testing.assert_close(after[~in_class], before[~in_class])


@PROPERTY
@given(data=weighted_batches(), factor=st.floats(0.1, 10.0))
def test_weighted_mean_is_invariant_to_rescaling_all_weights(
    data: tuple[Tensor, Tensor, Tensor], factor: float
) -> None:
    logits, target, weight = data
    loss = LabelSmoothingCrossEntropy(smoothing=0.1, weight=weight)
    rescaled = LabelSmoothingCrossEntropy(smoothing=0.1, weight=weight * factor)
    torch.testing.assert_close(loss(logits, target), rescaled(logits, target))


# --------------------------------------------------------------------------------------------------
# symmetry and numerics
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(
    data=weighted_batches(),
    perm_seed=st.integers(0, 2**16),
    eps=smoothings,
    reduction=st.sampled_from(REDUCTIONS),
)
def test_consistent_class_permutation_leaves_loss_unchanged(
    data: tuple[Tensor, Tensor, Tensor], perm_seed: int, eps: float, reduction: str
) -> None:
    logits, target, weight = data
    c = logits.shape[1]
    perm = torch.randperm(c, generator=torch.Generator().manual_seed(perm_seed)).tolist()
    p_logits, p_target, perm_t = permuted(logits, target, perm)
    p_weight = weight[perm_t]

    def builds(w: Tensor) -> list[nn.Module]:
        return [
            CrossEntropyLoss(weight=w, reduction=reduction),  # type: ignore[arg-type]
            LabelSmoothingCrossEntropy(smoothing=eps, weight=w, reduction=reduction),  # type: ignore[arg-type]
            FocalLoss(gamma=2.0, alpha=w, smoothing=eps, reduction=reduction),  # type: ignore[arg-type]
            OnlineLabelSmoothing(c, alpha=0.5, smoothing=eps, weight=w, reduction=reduction).eval(),  # type: ignore[arg-type]
        ]

    for original, relabelled in zip(builds(weight), builds(p_weight), strict=True):
        torch.testing.assert_close(
            relabelled(p_logits, p_target), original(logits, target), msg=repr(original)
        )


@PROPERTY
@given(data=batches(max_n=8), perm_seed=st.integers(0, 2**16))
def test_ols_learned_soft_labels_permute_with_the_classes(
    data: tuple[Tensor, Tensor], perm_seed: int
) -> None:
    logits, target = data
    c = logits.shape[1]
    perm = torch.randperm(c, generator=torch.Generator().manual_seed(perm_seed)).tolist()
    p_logits, p_target, perm_t = permuted(logits, target, perm)
    original, relabelled = OnlineLabelSmoothing(c, alpha=0.4), OnlineLabelSmoothing(c, alpha=0.4)
    original(logits.float(), target)
    relabelled(p_logits.float(), p_target)
    original.next_epoch()
    relabelled.next_epoch()
    torch.testing.assert_close(relabelled.soft_labels, original.soft_labels[perm_t][:, perm_t])
    original.eval()
    relabelled.eval()
    torch.testing.assert_close(relabelled(p_logits, p_target), original(logits, target))


extreme_values = st.one_of(
    st.sampled_from([-1e4, -1e3, -50.0, 0.0, 50.0, 1e3, 1e4]), st.floats(-1e4, 1e4, width=32)
)


@PROPERTY
@given(
    n=st.integers(1, 5),
    c=st.integers(2, 5),
    data=st.data(),
    gamma=st.sampled_from([0.0, 0.25, 0.5, 1.0, 2.0, 5.0]),
    eps=smoothings,
    use_weight=st.booleans(),
)
def test_gradients_are_finite_on_extreme_logits(
    n: int, c: int, data: st.DataObject, gamma: float, eps: float, use_weight: bool
) -> None:
    values = data.draw(arrays(np.float32, (n, c), elements=extreme_values))
    target = torch.from_numpy(data.draw(arrays(np.int64, (n,), elements=st.integers(0, c - 1))))
    weight = torch.linspace(0.5, 2.0, c) if use_weight else None
    candidates: list[nn.Module] = [
        CrossEntropyLoss(weight=weight),
        LabelSmoothingCrossEntropy(smoothing=eps, weight=weight),
        FocalLoss(gamma=gamma, alpha=weight, smoothing=eps),
        OnlineLabelSmoothing(c, alpha=0.5, smoothing=eps, weight=weight),
    ]
    for loss_fn in candidates:
        logits = torch.from_numpy(values.copy()).requires_grad_(True)
        loss = loss_fn(logits, target)
        loss.backward()
        assert torch.isfinite(loss), (loss_fn, values, loss)
        assert logits.grad is not None
        assert torch.isfinite(logits.grad).all(), (loss_fn, values, logits.grad)


def test_focal_fractional_gamma_gradient_on_saturated_prediction() -> None:
    """p_y == 1 in float32 with 0 < gamma < 1: the naive (1 - p) ** gamma gives a NaN gradient."""
    logits = torch.tensor([[1e4, -1e4, 0.0]], requires_grad=True)
    loss = FocalLoss(gamma=0.5)(logits, torch.tensor([0]))
    loss.backward()
    assert loss.item() == 0.0
    assert logits.grad is not None
    assert torch.isfinite(logits.grad).all()


# --------------------------------------------------------------------------------------------------
# the minimum of the smoothed cross-entropy is at the smoothed target
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(
    c=st.integers(2, 6),
    data=st.data(),
    eps=positive_smoothings,
    weighted=st.booleans(),
)
def test_smoothed_cross_entropy_is_minimal_at_the_smoothed_target(
    c: int, data: st.DataObject, eps: float, weighted: bool
) -> None:
    y = data.draw(st.integers(0, c - 1))
    target = torch.tensor([y])
    weight = torch.linspace(0.5, 3.0, c, dtype=torch.float64) if weighted else None
    loss_fn = LabelSmoothingCrossEntropy(smoothing=eps, weight=weight, reduction="sum")
    q = smoothed_targets(target, c, eps)
    at_q = torch.log(q).requires_grad_(True)
    best = loss_fn(at_q, target)
    best.backward()
    assert at_q.grad is not None
    torch.testing.assert_close(at_q.grad, torch.zeros_like(at_q), atol=1e-12, rtol=0)
    # the minimum is the (weighted) entropy of q
    w_y = 1.0 if weight is None else float(weight[y])
    assert best.item() == pytest.approx(w_y * float(-(q * q.log()).sum()), rel=1e-12)
    for _ in range(5):
        delta = torch.from_numpy(data.draw(arrays(np.float64, (1, c), elements=st.floats(-3.0, 3.0))))
        assert loss_fn(at_q.detach() + delta, target).item() >= best.item() - 1e-12


@PROPERTY
@given(c=st.integers(2, 5), data=st.data(), alpha=st.floats(0.0, 0.9), eps=positive_smoothings)
def test_ols_is_minimal_at_its_mixed_target(c: int, data: st.DataObject, alpha: float, eps: float) -> None:
    y = data.draw(st.integers(0, c - 1))
    target = torch.tensor([y])
    ols = OnlineLabelSmoothing(c, alpha=alpha, smoothing=eps, reduction="sum").double().eval()
    q = alpha * F.one_hot(target, c).double() + (1 - alpha) * ols.soft_labels[target]
    at_q = torch.log(q).requires_grad_(True)
    ols(at_q, target).backward()
    assert at_q.grad is not None
    torch.testing.assert_close(at_q.grad, torch.zeros_like(at_q), atol=1e-12, rtol=0)


# --------------------------------------------------------------------------------------------------
# focal loss
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(data=batches(bound=10.0), gamma=st.floats(0.0, 5.0))
def test_focal_is_cross_entropy_times_modulating_factor(data: tuple[Tensor, Tensor], gamma: float) -> None:
    logits, target = data
    ce = F.cross_entropy(logits, target, reduction="none")
    focal = FocalLoss(gamma=gamma, reduction="none")(logits, target)
    p_y = torch.exp(-ce)
    torch.testing.assert_close(focal, (1 - p_y) ** gamma * ce)
    assert (focal <= ce + 1e-12).all()


@PROPERTY
@given(
    easy_margin=st.floats(0.5, 8.0),
    hard_margin=st.floats(-8.0, 0.4),
    gamma=st.floats(0.5, 5.0),
    c=st.integers(2, 5),
)
def test_focal_down_weights_easy_examples_more_than_hard_ones(
    easy_margin: float, hard_margin: float, gamma: float, c: int
) -> None:
    logits = torch.zeros(2, c, dtype=torch.float64)
    logits[0, 0], logits[1, 0] = easy_margin, hard_margin  # sample 0 is confidently right, sample 1 is not
    target = torch.zeros(2, dtype=torch.long)
    ce = F.cross_entropy(logits, target, reduction="none")
    focal = FocalLoss(gamma=gamma, reduction="none")(logits, target)
    ratio = focal / ce
    assert (ratio < 1).all()
    assert ratio[0] < ratio[1]


# --------------------------------------------------------------------------------------------------
# online label smoothing
# --------------------------------------------------------------------------------------------------


@PROPERTY
@given(data=batches(), eps=smoothings, alpha=st.floats(0.0, 1.0), reduction=st.sampled_from(REDUCTIONS))
def test_ols_first_epoch_is_label_smoothing(
    data: tuple[Tensor, Tensor], eps: float, alpha: float, reduction: str
) -> None:
    logits, target = data
    ols = OnlineLabelSmoothing(logits.shape[1], alpha=alpha, smoothing=eps, reduction=reduction)  # type: ignore[arg-type]
    # documented: alpha * CE + (1 - alpha) * LS(eps) == LS((1 - alpha) * eps); alpha = 0 gives LS(eps)
    expected = F.cross_entropy(logits, target, label_smoothing=(1 - alpha) * eps, reduction=reduction)
    torch.testing.assert_close(ols(logits, target), expected)
    ols_alpha0 = OnlineLabelSmoothing(logits.shape[1], alpha=0.0, smoothing=eps, reduction=reduction)  # type: ignore[arg-type]
    ls = LabelSmoothingCrossEntropy(smoothing=eps, reduction=reduction)  # type: ignore[arg-type]
    torch.testing.assert_close(ols_alpha0(logits, target), ls(logits, target))


def _ols_epoch_batch() -> tuple[Tensor, Tensor]:
    logits = torch.tensor(
        [
            [2.0, 0.0, 0.0],  # class 0, correct
            [3.0, 1.0, -1.0],  # class 0, correct
            [2.0, 1.0, 0.0],  # class 1, WRONG (predicted 0): must not count
            [0.0, -1.0, 1.5],  # class 2, correct
        ]
    )
    return logits, torch.tensor([0, 0, 1, 2])


def test_ols_next_epoch_uses_accumulated_correct_predictions() -> None:
    logits, target = _ols_epoch_batch()
    ols = OnlineLabelSmoothing(3, alpha=0.5, smoothing=0.1)
    initial = ols.soft_labels.clone()
    torch.testing.assert_close(initial, 0.9 * torch.eye(3) + 0.1 / 3)
    ols(logits[:2], target[:2])  # two batches in one epoch
    ols(logits[2:], target[2:])
    torch.testing.assert_close(ols.correct_counts, torch.tensor([2.0, 0.0, 1.0]))
    torch.testing.assert_close(ols.soft_labels, initial)  # nothing changes before next_epoch()

    updated = ols.next_epoch()

    probs = logits.softmax(dim=1)
    assert updated.tolist() == [True, False, True]
    torch.testing.assert_close(ols.soft_labels[0], (probs[0] + probs[1]) / 2)
    torch.testing.assert_close(ols.soft_labels[1], initial[1])  # no correct sample: previous row kept
    torch.testing.assert_close(ols.soft_labels[2], probs[3])
    torch.testing.assert_close(ols.soft_labels.sum(dim=1), torch.ones(3))
    assert ols.prob_sums.abs().sum() == 0
    assert ols.correct_counts.sum() == 0

    # the next epoch's loss uses the new soft labels
    new_logits = torch.randn(5, 3)
    new_target = torch.tensor([0, 1, 2, 0, 2])
    q = 0.5 * F.one_hot(new_target, 3) + 0.5 * ols.soft_labels[new_target]
    expected = (q * -F.log_softmax(new_logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(ols.eval()(new_logits, new_target), expected)

    # an epoch with no correct sample of class 0 keeps the row learned before, not the initial one
    learned_row0 = ols.soft_labels[0].clone()
    ols.train()
    ols(torch.tensor([[0.0, 0.0, 4.0]]), torch.tensor([2]))
    assert ols.next_epoch().tolist() == [False, False, True]
    torch.testing.assert_close(ols.soft_labels[0], learned_row0)


def test_ols_eval_mode_does_not_accumulate() -> None:
    logits, target = _ols_epoch_batch()
    ols = OnlineLabelSmoothing(3).eval()
    before = {k: v.clone() for k, v in ols.state_dict().items()}
    ols(logits, target)
    assert not ols.next_epoch().any()
    for key, value in ols.state_dict().items():
        torch.testing.assert_close(value, before[key])


def test_ols_state_dict_round_trip() -> None:
    logits, target = _ols_epoch_batch()
    ols = OnlineLabelSmoothing(3, alpha=0.5)
    ols(logits, target)
    ols.next_epoch()
    ols(logits, target)  # mid-epoch statistics are saved too
    state = ols.state_dict()
    assert set(state) == {"soft_labels", "prob_sums", "correct_counts"}

    buffer = io.BytesIO()
    torch.save({"loss_fn": state}, buffer)
    buffer.seek(0)
    restored = OnlineLabelSmoothing(3, alpha=0.5)
    restored.load_state_dict(torch.load(buffer)["loss_fn"])
    for key, value in ols.state_dict().items():
        torch.testing.assert_close(restored.state_dict()[key], value)
    torch.testing.assert_close(restored.next_epoch(), ols.next_epoch())
    torch.testing.assert_close(restored.soft_labels, ols.soft_labels)


def test_ols_next_epoch_sums_statistics_over_processes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Under torch.distributed, next_epoch all-reduces the accumulators (simulated second rank)."""
    other_rank = torch.zeros(3 * 3 + 3, dtype=torch.float64)
    other_rank[3:6] = torch.tensor([0.2, 0.6, 0.2])  # prob_sums[1]: a correct class-1 sample elsewhere
    other_rank[9 + 1] = 1.0  # correct_counts[1]
    calls: list[Tensor] = []

    def fake_all_reduce(tensor: Tensor) -> None:
        calls.append(tensor)
        tensor.add_(other_rank)

    monkeypatch.setattr(losses_module.dist, "is_initialized", lambda: True)
    monkeypatch.setattr(losses_module.dist, "get_world_size", lambda: 2)
    monkeypatch.setattr(losses_module.dist, "get_backend", lambda: "gloo")
    monkeypatch.setattr(losses_module.dist, "all_reduce", fake_all_reduce)

    logits, target = _ols_epoch_batch()
    ols = OnlineLabelSmoothing(3)
    ols(logits, target)
    assert ols.next_epoch().tolist() == [True, True, True]
    assert len(calls) == 1
    torch.testing.assert_close(ols.soft_labels[1], torch.tensor([0.2, 0.6, 0.2]))

    ols(logits, target)
    assert ols.next_epoch(sync=False).tolist() == [True, False, True]
    assert len(calls) == 1


# --------------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "cls"),
    [
        ("ce", CrossEntropyLoss),
        ("cross_entropy", CrossEntropyLoss),
        ("label_smoothing", LabelSmoothingCrossEntropy),
        ("ls", LabelSmoothingCrossEntropy),
        ("focal", FocalLoss),
        ("online_label_smoothing", OnlineLabelSmoothing),
        ("ols", OnlineLabelSmoothing),
        ("Label-Smoothing", LabelSmoothingCrossEntropy),
        (" CE ", CrossEntropyLoss),
    ],
)
def test_create_loss_names_and_aliases(name: str, cls: type[nn.Module]) -> None:
    loss = create_loss(name, num_classes=3)
    assert type(loss) is cls
    logits, target = torch.randn(4, 3), torch.tensor([0, 1, 2, 0])
    assert loss(logits, target).shape == ()


def test_create_loss_forwards_arguments() -> None:
    ls = create_loss("ls", num_classes=3, smoothing=0.2, weight=[1.0, 2.0, 3.0], reduction="none")
    assert isinstance(ls, LabelSmoothingCrossEntropy)
    assert ls.smoothing == 0.2
    assert ls.reduction == "none"
    assert ls.weight is not None
    assert ls.weight.tolist() == [1.0, 2.0, 3.0]
    focal = create_loss("focal", gamma=1.0, alpha=torch.tensor([1, 2]), smoothing=0.05)
    assert isinstance(focal, FocalLoss)
    assert (focal.gamma, focal.smoothing) == (1.0, 0.05)
    assert focal.alpha is not None
    assert focal.alpha.dtype == torch.float32
    ols = create_loss("ols", num_classes=4, alpha=0.7, smoothing=0.2)
    assert isinstance(ols, OnlineLabelSmoothing)
    assert (ols.num_classes, ols.alpha, ols.smoothing) == (4, 0.7, 0.2)
    # num_classes is checked against the logits at forward time
    with pytest.raises(ValueError, match="num_classes=3"):
        create_loss("ce", num_classes=3)(torch.randn(2, 4), torch.tensor([0, 1]))


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [("focl", "'focal'"), ("label_smothing", "'label_smoothing'"), ("cross-entropi", "'cross_entropy'")],
)
def test_create_loss_unknown_name_lists_names_and_suggests(name: str, suggestion: str) -> None:
    with pytest.raises(ValueError, match="unknown loss") as info:
        create_loss(name)
    message = str(info.value)
    assert "Did you mean" in message
    assert suggestion in message.split("Did you mean", 1)[1]
    for known in ("'ce'", "'label_smoothing'", "'focal'", "'ols'", "'online_label_smoothing'"):
        assert known in message


def test_create_loss_unrelated_name_has_no_suggestion() -> None:
    with pytest.raises(ValueError, match="known names") as info:
        create_loss("xyzzy")
    assert "Did you mean" not in str(info.value)


@pytest.mark.parametrize(
    ("name", "kwargs", "error", "match"),
    [
        ("ce", {"smoothing": 0.1}, TypeError, "name='label_smoothing'"),
        ("focal", {"weight": [1.0, 2.0]}, TypeError, "alpha="),
        ("ls", {"smothing": 0.1}, TypeError, "Did you mean 'smoothing'"),
        ("ols", {}, ValueError, "needs num_classes"),
        ("ls", {"smoothing": 1.0}, ValueError, r"smoothing must lie in \[0, 1\)"),
        ("ls", {"smoothing": -0.1}, ValueError, "smoothing must lie"),
        ("ls", {"smoothing": "0.1"}, TypeError, "smoothing must be a real number"),
        ("focal", {"gamma": -1.0}, ValueError, "gamma must be finite and >= 0"),
        ("focal", {"gamma": float("inf")}, ValueError, "gamma must be finite"),
        ("ols", {"alpha": 1.5}, ValueError, r"alpha must lie in \[0, 1\]"),
        ("ce", {"reduction": "avg"}, ValueError, "reduction must be one of"),
        ("ce", {"reduction": "means"}, ValueError, "Did you mean 'mean'"),
        ("ce", {"weight": [1.0, 2.0]}, ValueError, "2 entries but num_classes=3"),
        ("ce", {"weight": [1.0, -2.0, 1.0]}, ValueError, r"weight\[1\] = -2.0"),
        ("ce", {"weight": [0.0, 0.0, 0.0]}, ValueError, "all zeros"),
        ("ce", {"weight": [1.0, float("nan"), 1.0]}, ValueError, "must be finite"),
        ("ce", {"weight": torch.ones(3, 1)}, ValueError, r"shape \(C,\)"),
        ("ce", {"weight": "heavy"}, TypeError, "1-D tensor or sequence"),
        ("focal", {"alpha": [1.0, -1.0, 1.0]}, ValueError, "alpha must be non-negative"),
    ],
)
def test_create_loss_validates_arguments(
    name: str, kwargs: dict[str, Any], error: type[Exception], match: str
) -> None:
    num_classes = None if name == "ols" and not kwargs else 3
    with pytest.raises(error, match=match):
        create_loss(name, num_classes=num_classes, **kwargs)


@pytest.mark.parametrize(
    ("num_classes", "error"), [(1, ValueError), (0, ValueError), (2.5, TypeError), (True, TypeError)]
)
def test_create_loss_validates_num_classes(num_classes: Any, error: type[Exception]) -> None:
    with pytest.raises(error, match="num_classes"):
        create_loss("ce", num_classes=num_classes)


def test_create_loss_rejects_non_string_name() -> None:
    with pytest.raises(TypeError, match="name must be a string"):
        create_loss(CrossEntropyLoss)  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------------
# forward-time validation
# --------------------------------------------------------------------------------------------------

ALL_LOSSES = [
    pytest.param(lambda: CrossEntropyLoss(), id="ce"),
    pytest.param(lambda: LabelSmoothingCrossEntropy(), id="ls"),
    pytest.param(lambda: FocalLoss(), id="focal"),
    pytest.param(lambda: OnlineLabelSmoothing(3), id="ols"),
]


@pytest.mark.parametrize("build", ALL_LOSSES)
@pytest.mark.parametrize(
    ("logits", "target", "error", "match"),
    [
        (torch.randn(4, 3, 1), torch.tensor([0, 1, 2, 0]), ValueError, r"logits must be 2-D.*\(4, 3, 1\)"),
        (torch.randn(4, 3), torch.tensor([[0], [1], [2], [0]]), ValueError, r"squeeze\(1\)"),
        (torch.randn(4, 3), torch.eye(3)[[0, 1, 2, 0]], ValueError, r"argmax\(dim=1\)"),
        (torch.randn(4, 3), torch.tensor([0.0, 1.0, 2.0, 0.0]), TypeError, r"torch.long.*target.long\(\)"),
        (torch.randn(4, 3), torch.tensor([0, 1, 2, 0], dtype=torch.int32), TypeError, "torch.long"),
        (torch.randn(4, 3), torch.tensor([0, 1, 2]), ValueError, "N=4 rows but target has 3"),
        (
            torch.randn(4, 3),
            torch.tensor([0, 1, 3, 0]),
            ValueError,
            r"target value 3 \(at index 2\).*3 classes",
        ),
        (torch.randn(4, 3), torch.tensor([0, -1, 2, 0]), ValueError, r"target value -1 \(at index 1\)"),
        (torch.randint(0, 3, (4, 3)), torch.tensor([0, 1, 2, 0]), TypeError, "floating point"),
        (torch.randn(4, 1), torch.tensor([0, 0, 0, 0]), ValueError, "C >= 2"),
        ([[0.0, 1.0, 2.0]], torch.tensor([0]), TypeError, "logits must be a torch.Tensor"),
        (torch.randn(2, 3), [0, 1], TypeError, "target must be a torch.Tensor"),
    ],
)
def test_forward_validation(build: Any, logits: Any, target: Any, error: type[Exception], match: str) -> None:
    loss = build()
    if isinstance(loss, OnlineLabelSmoothing) and isinstance(logits, Tensor) and logits.shape[1:] == (1,):
        match = "C >= 2|num_classes=3"
    with pytest.raises(error, match=match):
        loss(logits, target)


def test_forward_catches_label_class_count_mismatch() -> None:
    """Labels 0..3 (four tumour classes) with a three-class head: named value and class count."""
    loss = create_loss("ls", num_classes=3)
    with pytest.raises(ValueError, match=r"target value 3 .* 3 classes; class indices must lie in \[0, 2\]"):
        loss(torch.randn(5, 3), torch.tensor([0, 1, 2, 3, 1]))


@pytest.mark.parametrize(
    "loss",
    [
        pytest.param(CrossEntropyLoss(weight=[1.0, 1.0]), id="ce"),
        pytest.param(LabelSmoothingCrossEntropy(weight=[1.0, 1.0]), id="ls"),
        pytest.param(FocalLoss(alpha=[1.0, 1.0]), id="focal"),
    ],
)
def test_forward_checks_class_weight_length(loss: nn.Module) -> None:
    with pytest.raises(ValueError, match="class weights have 2 entries but the logits have C=3"):
        loss(torch.randn(2, 3), torch.tensor([0, 1]))


def test_reductions_are_consistent() -> None:
    gen = torch.Generator().manual_seed(3)
    logits = torch.randn(6, 4, generator=gen, dtype=torch.float64)
    target = torch.tensor([0, 1, 2, 3, 1, 1])
    weight = torch.tensor([1.0, 0.5, 2.0, 3.0], dtype=torch.float64)
    for build in (
        lambda r: LabelSmoothingCrossEntropy(0.1, weight=weight, reduction=r),
        lambda r: FocalLoss(2.0, alpha=weight, smoothing=0.1, reduction=r),
        lambda r: OnlineLabelSmoothing(4, weight=weight, reduction=r).eval(),
    ):
        none, total, mean = (build(r)(logits, target) for r in REDUCTIONS[::-1])
        assert none.shape == (6,)
        torch.testing.assert_close(total, none.sum())
        torch.testing.assert_close(mean, none.sum() / weight[target].sum())


def test_losses_follow_module_device_and_dtype_moves() -> None:
    loss = LabelSmoothingCrossEntropy(weight=[1.0, 2.0, 3.0]).double()
    assert loss.weight is not None
    assert loss.weight.dtype == torch.float64
    out = loss(torch.randn(2, 3, dtype=torch.float64), torch.tensor([0, 2]))
    assert out.dtype == torch.float64
    # float32 buffers with float64 logits (a loss never moved) still work, in the logits' dtype
    assert FocalLoss(alpha=[1.0, 2.0, 3.0])(
        torch.randn(2, 3, dtype=torch.float64), torch.tensor([0, 2])
    ).dtype == (torch.float64)
