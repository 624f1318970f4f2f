"""Classification losses: cross-entropy, label smoothing, focal loss and online label smoothing.

Every loss is an :class:`torch.nn.Module` called as ``loss(logits, target)`` with raw (unnormalised)
``logits`` of shape ``(N, C)`` and integer class indices ``target`` of shape ``(N,)`` (dtype
``torch.long``, values in ``[0, C)``), and a ``reduction`` in ``{"mean", "sum", "none"}``:
``"none"`` returns the ``(N,)`` per-sample losses, ``"sum"`` their sum and ``"mean"`` their
(weighted) mean, a scalar.

* :class:`CrossEntropyLoss`: plain cross-entropy, a validating wrapper of ``F.cross_entropy``.
* :class:`LabelSmoothingCrossEntropy`: cross-entropy against ``q = (1 - eps) * onehot + eps / C``.
* :class:`FocalLoss`: ``-sum_c q_c (1 - p_c) ** gamma * log p_c`` (Lin et al., 2017), optionally smoothed.
* :class:`OnlineLabelSmoothing`: soft labels learnt from the model's own correct predictions
  (Zhang et al., "Delving Deep into Label Smoothing", IEEE TIP 30, 2021).
* :func:`create_loss`: one factory for all of them by name.

Class weights (``weight``, or ``alpha`` for :class:`FocalLoss`) are **per-sample** weights: sample
``i`` is weighted by ``w[y_i]``, the weight of its own class, and the whole of its loss (smoothing
term included) is multiplied by it. ``"mean"`` is the weighted mean ``sum_i w[y_i] * l_i / sum_i w[y_i]``,
the normalisation of ``F.cross_entropy(weight=w)``. With smoothing this differs from PyTorch's
built-in ``F.cross_entropy(weight=w, label_smoothing=eps)``, which weights the smoothing term of
every sample by *all* class weights (see :class:`LabelSmoothingCrossEntropy`).

Every ``forward`` validates its inputs and raises :class:`ValueError` / :class:`TypeError` naming
what was expected, what was received and how to fix it. The range check of the targets catches a
model built with the wrong ``num_classes`` for its labels; it reads back one boolean per call
(a device synchronisation on GPU).

Examples:
    >>> import torch
    >>> from brainvit_effnet.losses import create_loss
    >>> loss_fn = create_loss("label_smoothing", num_classes=3, smoothing=0.1)
    >>> logits = torch.tensor([[2.0, 0.5, -1.0], [0.0, 1.0, 0.0]])
    >>> target = torch.tensor([0, 1])
    >>> loss = loss_fn(logits, target)
    >>> loss.shape
    torch.Size([])
"""

from __future__ import annotations

import inspect
import logging
import math
from collections.abc import Sequence
from typing import Any, Literal, TypeAlias, get_args

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ._checks import check_choice, is_int, is_real
from ._suggest import close_matches
from .errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "CrossEntropyLoss",
    "FocalLoss",
    "LabelSmoothingCrossEntropy",
    "OnlineLabelSmoothing",
    "create_loss",
]

logger = logging.getLogger(__name__)

Reduction: TypeAlias = Literal["mean", "sum", "none"]
_REDUCTIONS: tuple[str, ...] = get_args(Reduction)

ClassWeight: TypeAlias = Tensor | Sequence[float]


# --------------------------------------------------------------------------------------------------
# argument validation
# --------------------------------------------------------------------------------------------------


def _check_reduction(reduction: object) -> str:
    return check_choice(reduction, list(_REDUCTIONS), "reduction")


def _check_fraction(value: object, name: str, *, closed_above: bool = False) -> float:
    """A real number in ``[0, 1)`` (or ``[0, 1]`` when ``closed_above``)."""
    interval = "[0, 1]" if closed_above else "[0, 1)"
    if not is_real(value):
        raise InvalidTypeError(
            f"{name} must be a real number in {interval}; got {type(value).__name__} {value!r}."
        )
    result = float(value)
    inside = 0.0 <= result <= 1.0 if closed_above else 0.0 <= result < 1.0
    if not inside:
        fix = "" if closed_above else " (1 would make the target uniform and ignore the labels)"
        raise InvalidArgumentError(f"{name} must lie in {interval}{fix}; got {value!r}.")
    return result


def _check_num_classes(num_classes: object, *, required: bool = False) -> int | None:
    if num_classes is None and not required:
        return None
    if not is_int(num_classes):
        raise InvalidTypeError(
            f"num_classes must be an int >= 2 (the width C of the logits); "
            f"got {type(num_classes).__name__} {num_classes!r}."
        )
    if num_classes < 2:
        raise InvalidArgumentError(
            f"num_classes must be >= 2; got {num_classes}. For a binary task use num_classes=2 "
            "(two logits per sample) with these losses."
        )
    return int(num_classes)


def _check_class_weight(weight: object, name: str, num_classes: int | None) -> Tensor | None:
    """Validate per-class weights: 1-D, length C, finite, non-negative, not all zero."""
    if weight is None:
        return None
    if isinstance(weight, Tensor):
        tensor = weight.detach().clone()
    elif isinstance(weight, Sequence) and not isinstance(weight, (str, bytes)):
        try:
            tensor = torch.as_tensor(list(weight), dtype=torch.float32)
        except (TypeError, ValueError, RuntimeError) as exc:
            raise InvalidTypeError(
                f"{name} must be a 1-D tensor or sequence of C non-negative numbers; could not "
                f"convert {weight!r} ({exc})."
            ) from exc
    else:
        raise InvalidTypeError(
            f"{name} must be a 1-D tensor or sequence of C non-negative numbers, or None; "
            f"got {type(weight).__name__}."
        )
    if tensor.is_complex():
        raise InvalidTypeError(f"{name} must hold real numbers; got dtype {tensor.dtype}.")
    if not tensor.is_floating_point():
        tensor = tensor.to(torch.float32)
    if tensor.ndim != 1:
        raise InvalidArgumentError(
            f"{name} must be 1-D with one entry per class, shape (C,); got shape {tuple(tensor.shape)}."
        )
    if tensor.numel() < 2:
        raise InvalidArgumentError(
            f"{name} needs one entry per class (C >= 2); got {tensor.numel()} entries."
        )
    if num_classes is not None and tensor.numel() != num_classes:
        raise InvalidArgumentError(
            f"{name} has {tensor.numel()} entries but num_classes={num_classes}; "
            f"pass one weight per class, shape ({num_classes},)."
        )
    if not bool(torch.isfinite(tensor).all()):
        raise InvalidArgumentError(f"{name} must be finite; got {tensor.tolist()}.")
    negative = (tensor < 0).nonzero()
    if negative.numel():
        index = int(negative[0, 0])
        raise InvalidArgumentError(
            f"{name} must be non-negative; {name}[{index}] = {float(tensor[index])}. "
            "Use 0 to ignore a class, never a negative weight."
        )
    if not bool((tensor > 0).any()):
        raise InvalidArgumentError(
            f"{name} is all zeros, which would make every loss 0 (and the mean undefined)."
        )
    return tensor


def _check_inputs(
    owner: str, logits: object, target: object, num_classes: int | None, class_weight: Tensor | None
) -> None:
    """Forward-time checks shared by every loss; see the module docstring."""
    if not isinstance(logits, Tensor):
        raise InvalidTypeError(
            f"{owner}: logits must be a torch.Tensor of shape (N, C); got {type(logits).__name__}."
        )
    if not isinstance(target, Tensor):
        raise InvalidTypeError(
            f"{owner}: target must be a torch.Tensor of class indices, shape (N,); "
            f"got {type(target).__name__}. Convert with torch.as_tensor(target, dtype=torch.long)."
        )
    if not logits.is_floating_point():
        raise InvalidTypeError(
            f"{owner}: logits must be floating point; got dtype {logits.dtype}. Use logits.float()."
        )
    if logits.ndim != 2:
        raise InvalidArgumentError(
            f"{owner}: logits must be 2-D, shape (N, C); got shape {tuple(logits.shape)}. "
            "Flatten extra dimensions, e.g. logits.flatten(1) for (N, C, 1, 1)."
        )
    n, c = logits.shape
    if c < 2:
        raise InvalidArgumentError(
            f"{owner}: logits have C={c} column(s); these losses need C >= 2 (one logit per class). "
            "For a binary task build the model with num_classes=2."
        )
    if num_classes is not None and c != num_classes:
        raise InvalidArgumentError(
            f"{owner}: logits have C={c} columns but the loss was built for num_classes={num_classes}. "
            "Build the model and the loss with the same number of classes."
        )
    if class_weight is not None and class_weight.numel() != c:
        raise InvalidArgumentError(
            f"{owner}: the class weights have {class_weight.numel()} entries but the logits have C={c} "
            "columns; pass one weight per class."
        )
    if target.ndim != 1:
        if target.ndim == 2 and target.shape == logits.shape:
            fix = " It looks like one-hot/soft targets: pass class indices, e.g. target.argmax(dim=1)."
        elif target.ndim == 2 and target.shape[1] == 1:
            fix = " Use target.squeeze(1)."
        else:
            fix = ""
        raise InvalidArgumentError(
            f"{owner}: target must be 1-D class indices, shape (N,); got shape {tuple(target.shape)}.{fix}"
        )
    if target.dtype != torch.long:
        raise InvalidTypeError(
            f"{owner}: target must hold integer class indices of dtype torch.long; got {target.dtype}. "
            "Use target.long()."
        )
    if target.shape[0] != n:
        raise InvalidArgumentError(
            f"{owner}: logits have N={n} rows but target has {target.shape[0]} entries; "
            "pass one target per row of logits."
        )
    bad = (target < 0) | (target >= c)
    if bool(bad.any()):
        index = int(bad.nonzero()[0, 0])
        value = int(target[index])
        raise InvalidArgumentError(
            f"{owner}: target value {value} (at index {index}) is out of range for {c} classes; "
            f"class indices must lie in [0, {c - 1}]. The labels and the model's num_classes disagree: "
            f"build the model with as many classes as the label set, or remap the labels to 0..{c - 1}."
        )


# --------------------------------------------------------------------------------------------------
# losses
# --------------------------------------------------------------------------------------------------


class _ClassificationLoss(nn.Module):
    """Shared reduction and validation; subclasses implement ``forward``."""

    def __init__(self, *, reduction: Reduction, num_classes: int | None) -> None:
        super().__init__()
        self.reduction: str = _check_reduction(reduction)
        self.num_classes: int | None = _check_num_classes(num_classes)

    def _reduce(self, loss: Tensor, target: Tensor, class_weight: Tensor | None) -> Tensor:
        """Weight per-sample ``loss`` ``(N,)`` by ``class_weight[target]`` and reduce."""
        if class_weight is None:
            if self.reduction == "none":
                return loss
            return loss.sum() if self.reduction == "sum" else loss.mean()
        sample_weight = class_weight.to(device=loss.device, dtype=loss.dtype)[target]
        loss = loss * sample_weight
        if self.reduction == "none":
            return loss
        return loss.sum() if self.reduction == "sum" else loss.sum() / sample_weight.sum()


class CrossEntropyLoss(_ClassificationLoss):
    """Plain cross-entropy ``l_i = w[y_i] * (-log softmax(z_i)[y_i])``, a validating ``F.cross_entropy``.

    Args:
        weight: Optional per-class weights, shape ``(C,)``, finite and non-negative.
        reduction: ``"mean"`` (weighted mean ``sum_i l_i / sum_i w[y_i]``), ``"sum"`` or ``"none"``.
        num_classes: Optional class count; when given, ``forward`` checks that the logits have ``C``
            columns.

    Shapes:
        ``logits`` ``(N, C)`` float, ``target`` ``(N,)`` long in ``[0, C)``; output ``()`` or ``(N,)``
        for ``reduction="none"``.

    Examples:
        >>> loss_fn = CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 1.0]))
        >>> round(float(loss_fn(torch.zeros(2, 3), torch.tensor([0, 1]))), 4)  # log(3)
        1.0986
    """

    weight: Tensor | None

    def __init__(
        self,
        weight: ClassWeight | None = None,
        *,
        reduction: Reduction = "mean",
        num_classes: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, num_classes=num_classes)
        self.register_buffer("weight", _check_class_weight(weight, "weight", self.num_classes))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Cross-entropy of ``logits`` ``(N, C)`` against ``target`` ``(N,)``."""
        _check_inputs(type(self).__name__, logits, target, self.num_classes, self.weight)
        weight = None if self.weight is None else self.weight.to(device=logits.device, dtype=logits.dtype)
        return F.cross_entropy(logits, target, weight=weight, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}, weighted={self.weight is not None}"


class LabelSmoothingCrossEntropy(_ClassificationLoss):
    """Cross-entropy against the smoothed target ``q = (1 - eps) * onehot(y) + eps / C``.

    Per sample ``i`` with ``p_i = softmax(z_i)`` and class weights ``w`` (all ones when
    ``weight=None``)::

        l_i = w[y_i] * sum_c q_ic * (-log p_ic)
            = w[y_i] * ((1 - eps) * (-log p_i,y_i) + (eps / C) * sum_c (-log p_ic))

        "mean": sum_i l_i / sum_i w[y_i]        "sum": sum_i l_i        "none": (l_1, ..., l_N)

    **Weights and smoothing.** The weight is a per-*sample* weight: the weight of the sample's own
    class multiplies its whole smoothed cross-entropy, so a sample's loss scales exactly with its
    class weight and the smoothing term is never weighted by the other classes' weights. PyTorch's
    built-in ``F.cross_entropy(logits, y, weight=w, label_smoothing=eps)`` instead computes::

        l_i = (1 - eps) * w[y_i] * (-log p_i,y_i) + (eps / C) * sum_c w[c] * (-log p_ic)

    (same ``"mean"`` normalisation by ``sum_i w[y_i]``), where the smoothing term of *every* sample
    is weighted by *every* class's weight. The two agree when ``weight`` is ``None`` (then this loss
    equals ``F.cross_entropy(logits, y, label_smoothing=eps)`` for every reduction) or when
    ``eps = 0`` (then it equals ``F.cross_entropy(logits, y, weight=w)``), and differ otherwise:
    for ``C = 2``, ``z = (0, 0)``, ``y = 0``, ``w = (1, 3)``, ``eps = 0.5`` this loss is ``log 2``
    and PyTorch's is ``1.5 * log 2``.

    The loss, as a function of the predicted distribution ``p_i``, is minimal at ``p_i = q_i``
    (Gibbs' inequality), i.e. at logits ``log q_i`` up to a constant.

    Args:
        smoothing: ``eps`` in ``[0, 1)``; 0 gives plain cross-entropy.
        weight: Optional per-class weights, shape ``(C,)``, finite and non-negative.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (see above).
        num_classes: Optional class count, checked against the logits' width in ``forward``.

    Shapes:
        ``logits`` ``(N, C)`` float, ``target`` ``(N,)`` long in ``[0, C)``; output ``()`` or ``(N,)``
        for ``reduction="none"``.

    Examples:
        >>> loss_fn = LabelSmoothingCrossEntropy(smoothing=0.1)
        >>> logits, target = torch.randn(4, 3), torch.tensor([0, 2, 1, 0])
        >>> torch.allclose(loss_fn(logits, target), F.cross_entropy(logits, target, label_smoothing=0.1))
        True
    """

    weight: Tensor | None

    def __init__(
        self,
        smoothing: float = 0.1,
        weight: ClassWeight | None = None,
        *,
        reduction: Reduction = "mean",
        num_classes: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, num_classes=num_classes)
        self.smoothing = _check_fraction(smoothing, "smoothing")
        self.register_buffer("weight", _check_class_weight(weight, "weight", self.num_classes))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Smoothed cross-entropy of ``logits`` ``(N, C)`` against ``target`` ``(N,)``."""
        _check_inputs(type(self).__name__, logits, target, self.num_classes, self.weight)
        neg_logp = -F.log_softmax(logits, dim=1)
        loss = neg_logp.gather(1, target[:, None]).squeeze(1)
        if self.smoothing > 0:
            loss = (1.0 - self.smoothing) * loss + self.smoothing * neg_logp.mean(dim=1)
        return self._reduce(loss, target, self.weight)

    def extra_repr(self) -> str:
        return f"smoothing={self.smoothing}, reduction={self.reduction!r}, weighted={self.weight is not None}"


def _log1m_softmax(logits: Tensor, logp: Tensor) -> Tensor:
    """``log(1 - softmax(logits))``, shape ``(N, C)``, accurate and with finite gradients everywhere.

    For every class but the arg-max of a row, ``p <= 1/2`` and ``log1p(-p)`` is well conditioned. For
    the arg-max, ``1 - p`` may round to 0, so it is computed as ``logsumexp`` of the other logits
    minus ``logsumexp`` of all of them. The ``where`` on ``p`` keeps ``log1p`` away from ``-1`` so no
    ``0 * inf`` appears in the backward pass.
    """
    top = torch.zeros_like(logits, dtype=torch.bool).scatter_(1, logits.argmax(dim=1, keepdim=True), True)
    p_rest = torch.where(top, torch.zeros_like(logp), logp.exp())
    log1m_rest = torch.log1p(-p_rest)
    others = logits.masked_fill(top, float("-inf"))
    log1m_top = torch.logsumexp(others, dim=1, keepdim=True) - torch.logsumexp(logits, dim=1, keepdim=True)
    return torch.where(top, log1m_top.expand_as(logp), log1m_rest)


class FocalLoss(_ClassificationLoss):
    """Focal loss (Lin et al., ICCV 2017), multi-class, with optional label smoothing.

    Per sample ``i`` with ``p_i = softmax(z_i)``, smoothed target ``q_i = (1 - eps) * onehot(y_i) + eps / C``
    and per-class weights ``alpha`` (all ones when ``None``)::

        l_i = alpha[y_i] * sum_c q_ic * (1 - p_ic) ** gamma * (-log p_ic)

        "mean": sum_i l_i / sum_i alpha[y_i]    "sum": sum_i l_i    "none": (l_1, ..., l_N)

    The factor ``(1 - p) ** gamma`` down-weights well-classified ("easy") samples: with ``eps = 0``
    the focal loss is the cross-entropy times ``(1 - p_i,y_i) ** gamma <= 1``. ``alpha`` is a
    per-sample weight by class, exactly as ``weight`` in :class:`LabelSmoothingCrossEntropy`, and
    ``"mean"`` uses the same weighted normalisation, so ``gamma = 0`` gives
    :class:`LabelSmoothingCrossEntropy` and ``gamma = 0, smoothing = 0`` gives
    ``F.cross_entropy(logits, y, weight=alpha)``. (Detection code often divides by ``N`` or by the
    number of positives instead; divide ``reduction="sum"`` yourself for that.)

    ``log(1 - p)`` is evaluated stably, so loss and gradients stay finite for extreme logits and any
    ``gamma >= 0``, including ``0 < gamma < 1``.

    Args:
        gamma: Focusing parameter, finite and ``>= 0``; 0 disables focusing.
        alpha: Optional per-class weights, shape ``(C,)``, finite and non-negative.
        smoothing: Label smoothing ``eps`` in ``[0, 1)``.
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (see above).
        num_classes: Optional class count, checked against the logits' width in ``forward``.

    Shapes:
        ``logits`` ``(N, C)`` float, ``target`` ``(N,)`` long in ``[0, C)``; output ``()`` or ``(N,)``
        for ``reduction="none"``.

    Examples:
        >>> focal = FocalLoss(gamma=2.0, reduction="none")
        >>> logits, target = torch.tensor([[4.0, 0.0, 0.0]]), torch.tensor([0])
        >>> bool(focal(logits, target) < F.cross_entropy(logits, target, reduction="none"))
        True
    """

    alpha: Tensor | None

    def __init__(
        self,
        gamma: float = 2.0,
        alpha: ClassWeight | None = None,
        smoothing: float = 0.0,
        *,
        reduction: Reduction = "mean",
        num_classes: int | None = None,
    ) -> None:
        super().__init__(reduction=reduction, num_classes=num_classes)
        if not is_real(gamma):
            raise InvalidTypeError(f"gamma must be a real number >= 0; got {type(gamma).__name__} {gamma!r}.")
        if not (math.isfinite(gamma) and gamma >= 0):
            raise InvalidArgumentError(
                f"gamma must be finite and >= 0 (0 gives cross-entropy, 2 is usual); got {gamma!r}."
            )
        self.gamma = float(gamma)
        self.smoothing = _check_fraction(smoothing, "smoothing")
        self.register_buffer("alpha", _check_class_weight(alpha, "alpha", self.num_classes))

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """Focal loss of ``logits`` ``(N, C)`` against ``target`` ``(N,)``."""
        _check_inputs(type(self).__name__, logits, target, self.num_classes, self.alpha)
        logp = F.log_softmax(logits, dim=1)
        terms = -logp
        if self.gamma > 0:
            terms = torch.exp(self.gamma * _log1m_softmax(logits, logp)) * terms
        loss = terms.gather(1, target[:, None]).squeeze(1)
        if self.smoothing > 0:
            loss = (1.0 - self.smoothing) * loss + self.smoothing * terms.mean(dim=1)
        return self._reduce(loss, target, self.alpha)

    def extra_repr(self) -> str:
        return (
            f"gamma={self.gamma}, smoothing={self.smoothing}, reduction={self.reduction!r}, "
            f"weighted={self.alpha is not None}"
        )


class OnlineLabelSmoothing(_ClassificationLoss):
    """Online label smoothing (OLS): soft labels learnt from the model's correct predictions.

    Zhang, C.-B., Jiang, P.-T., Hou, Q., Wei, Y., Han, Q., Li, Z., Cheng, M.-M. "Delving Deep into
    Label Smoothing", IEEE Transactions on Image Processing 30:5984-5996, 2021 (arXiv:2011.12562).

    The loss keeps a soft-label matrix ``S``, shape ``(C, C)``, whose row ``S[k]`` is the soft
    target distribution of class ``k`` (the paper stores the transpose, one column per class). Per
    sample ``i`` with ``p_i = softmax(z_i)`` and class weights ``w`` (all ones when ``None``)::

        l_i = w[y_i] * (alpha * (-log p_i,y_i) + (1 - alpha) * sum_c S[y_i, c] * (-log p_ic))

        "mean": sum_i l_i / sum_i w[y_i]        "sum": sum_i l_i        "none": (l_1, ..., l_N)

    i.e. the cross-entropy against ``q_i = alpha * onehot(y_i) + (1 - alpha) * S[y_i]``.

    * **First epoch:** ``S`` starts as uniform label smoothing, ``S[k] = (1 - smoothing) * onehot(k)
      + smoothing / C``, so the first epoch is exactly ``LabelSmoothingCrossEntropy`` with smoothing
      ``(1 - alpha) * smoothing`` (``alpha`` mixes in the hard term as in every epoch; with
      ``alpha = 0`` it is label smoothing with ``smoothing`` itself, with ``alpha = 1`` plain
      cross-entropy).
    * **Accumulation:** in ``train()`` mode every ``forward`` adds the predicted distribution ``p_i``
      (detached) of each *correctly classified* sample to row ``y_i`` of an accumulator and counts
      it. Correct means that the target's logit is strictly larger than every other logit; a tie
      (such as the uniform prediction of an untrained head) does not count, so the result does not
      depend on the order of the classes. In ``eval()`` mode nothing is accumulated.
    * :meth:`next_epoch`: call once at the end of every training epoch. Each accumulated row with at
      least one correct sample is normalised to sum to one (the mean predicted distribution of the
      class's correct samples) and replaces that row of ``S``; rows of classes with no correctly
      classified sample keep their previous values. The accumulators are then reset.

    Two details differ from the paper's official code, which starts from an all-zero ``S`` (its
    first epoch is ``alpha`` times the cross-entropy) and resets the row of a class without correct
    samples to the uniform ``1/C``: here the first epoch uses uniform label smoothing and such rows
    keep their previous values.

    ``S`` (``soft_labels``) and the accumulators (``prob_sums``, ``correct_counts``) are buffers: they
    move with ``.to(device)`` and are saved in ``state_dict()``, so a checkpoint resumes training,
    mid-epoch included. In distributed data-parallel training each process accumulates its own
    samples and :meth:`next_epoch` sums the accumulators over all processes before normalising, so
    every rank ends the epoch with the same ``S``. The loss works when its buffers sit on another
    device than the logits (e.g. a loss left on the CPU), at the cost of a small copy per call;
    move it with ``loss.to(device)`` to avoid that.

    Args:
        num_classes: Number of classes ``C`` (>= 2), the size of ``S``.
        alpha: Weight of the hard cross-entropy term, in ``[0, 1]`` (the paper uses 0.5).
        smoothing: Uniform smoothing in ``[0, 1)`` of the initial ``S`` (first epoch).
        weight: Optional per-class weights, shape ``(C,)`` (per-sample weights as in
            :class:`LabelSmoothingCrossEntropy`).
        reduction: ``"mean"``, ``"sum"`` or ``"none"`` (see above).

    Shapes:
        ``logits`` ``(N, C)`` float, ``target`` ``(N,)`` long in ``[0, C)``; output ``()`` or ``(N,)``
        for ``reduction="none"``; ``soft_labels`` and ``prob_sums`` ``(C, C)``, ``correct_counts`` ``(C,)``.

    Examples:
        >>> ols = OnlineLabelSmoothing(num_classes=3, alpha=0.5, smoothing=0.1)
        >>> logits, target = torch.randn(8, 3), torch.randint(0, 3, (8,))
        >>> loss = ols(logits, target)  # train mode: accumulates correct predictions
        >>> updated = ols.next_epoch()  # end of epoch: classes whose row of S was replaced
        >>> sorted(ols.state_dict())
        ['correct_counts', 'prob_sums', 'soft_labels']
    """

    weight: Tensor | None
    soft_labels: Tensor
    prob_sums: Tensor
    correct_counts: Tensor

    def __init__(
        self,
        num_classes: int,
        alpha: float = 0.5,
        smoothing: float = 0.1,
        *,
        weight: ClassWeight | None = None,
        reduction: Reduction = "mean",
    ) -> None:
        classes = _check_num_classes(num_classes, required=True)
        assert classes is not None  # required=True never returns None
        super().__init__(reduction=reduction, num_classes=classes)
        self.alpha = _check_fraction(alpha, "alpha", closed_above=True)
        self.smoothing = _check_fraction(smoothing, "smoothing")
        self.register_buffer("weight", _check_class_weight(weight, "weight", classes))
        initial = torch.full((classes, classes), self.smoothing / classes)
        initial += (1.0 - self.smoothing) * torch.eye(classes)
        self.register_buffer("soft_labels", initial)
        self.register_buffer("prob_sums", torch.zeros(classes, classes))
        self.register_buffer("correct_counts", torch.zeros(classes))

    @torch.no_grad()
    def _accumulate(self, logits: Tensor, logp: Tensor, target: Tensor) -> None:
        # correct: the target's logit is strictly the largest (a tie, e.g. a uniform prediction, is not)
        target_logit = logits.gather(1, target[:, None]).squeeze(1)
        best_other = logits.scatter(1, target[:, None], float("-inf")).amax(dim=1)
        correct = target_logit > best_other
        device = self.prob_sums.device  # the loss may sit on another device than the logits
        labels = target[correct].to(device)
        self.prob_sums.index_add_(
            0, labels, logp[correct].exp().to(device=device, dtype=self.prob_sums.dtype)
        )
        self.correct_counts.index_add_(0, labels, torch.ones_like(labels, dtype=self.correct_counts.dtype))

    @torch.no_grad()
    def _all_reduce_statistics(self) -> None:
        """Sum the accumulators over the processes of the default ``torch.distributed`` group."""
        if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
            return
        flat = torch.cat([self.prob_sums.flatten(), self.correct_counts]).double()
        if dist.get_backend() == "nccl":
            flat = flat.to(torch.device("cuda", torch.cuda.current_device()))
        dist.all_reduce(flat)
        flat = flat.to(self.prob_sums.device)
        self.prob_sums.copy_(flat[: self.prob_sums.numel()].view_as(self.prob_sums))
        self.correct_counts.copy_(flat[self.prob_sums.numel() :])

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        """OLS loss of ``logits`` ``(N, C)`` against ``target`` ``(N,)``; accumulates in train mode."""
        _check_inputs(type(self).__name__, logits, target, self.num_classes, self.weight)
        logp = F.log_softmax(logits, dim=1)
        if self.training:
            self._accumulate(logits.detach(), logp.detach(), target)
        loss = -logp.gather(1, target[:, None]).squeeze(1)
        if self.alpha < 1:
            soft = self.soft_labels.to(device=logp.device, dtype=logp.dtype)[target]
            loss = self.alpha * loss + (1.0 - self.alpha) * -(soft * logp).sum(dim=1)
        return self._reduce(loss, target, self.weight)

    @torch.no_grad()
    def next_epoch(self, sync: bool = True) -> Tensor:
        """Swap this epoch's statistics into ``soft_labels`` and reset the accumulators.

        Args:
            sync: When ``torch.distributed`` is initialised with more than one process, first sum
                ``prob_sums`` and ``correct_counts`` over all processes (a collective call: every
                rank must call ``next_epoch``), so that every rank gets the same ``soft_labels``.
                Pass ``False`` to keep per-process statistics.

        Returns:
            Boolean tensor, shape ``(C,)``: the classes whose row of ``soft_labels`` was replaced
            (those with at least one correctly classified training sample this epoch).

        Examples:
            >>> ols = OnlineLabelSmoothing(num_classes=2, alpha=0.5)
            >>> _ = ols(torch.tensor([[3.0, 1.0]]), torch.tensor([0]))
            >>> ols.next_epoch().tolist()
            [True, False]
        """
        if sync:
            self._all_reduce_statistics()
        totals = self.prob_sums.sum(dim=1, keepdim=True)
        updated = (self.correct_counts > 0) & (totals.squeeze(1) > 0)
        rows = self.prob_sums / totals.clamp_min(torch.finfo(totals.dtype).tiny)
        self.soft_labels.copy_(
            torch.where(updated[:, None], rows.to(self.soft_labels.dtype), self.soft_labels)
        )
        n_samples = int(self.correct_counts.sum())
        self.prob_sums.zero_()
        self.correct_counts.zero_()
        n_updated = int(updated.sum())
        logger.info(
            "OnlineLabelSmoothing.next_epoch: %d correct samples; updated %d of %d classes%s",
            n_samples,
            n_updated,
            updated.numel(),
            "" if n_updated == updated.numel() else " (the others keep their previous soft labels)",
        )
        return updated

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, alpha={self.alpha}, smoothing={self.smoothing}, "
            f"reduction={self.reduction!r}, weighted={self.weight is not None}"
        )


# --------------------------------------------------------------------------------------------------
# factory
# --------------------------------------------------------------------------------------------------

_LOSSES: dict[str, type[_ClassificationLoss]] = {
    "cross_entropy": CrossEntropyLoss,
    "label_smoothing": LabelSmoothingCrossEntropy,
    "focal": FocalLoss,
    "online_label_smoothing": OnlineLabelSmoothing,
}
_ALIASES: dict[str, str] = {
    "ce": "cross_entropy",
    "cross_entropy": "cross_entropy",
    "label_smoothing": "label_smoothing",
    "ls": "label_smoothing",
    "focal": "focal",
    "online_label_smoothing": "online_label_smoothing",
    "ols": "online_label_smoothing",
}
_PARAMETER_HINTS: dict[tuple[str, str], str] = {
    ("focal", "weight"): " FocalLoss takes its per-class weights as alpha=.",
    ("cross_entropy", "smoothing"): " Use name='label_smoothing' for a smoothed cross-entropy.",
    ("cross_entropy", "label_smoothing"): " Use name='label_smoothing' with smoothing= instead.",
}


def create_loss(name: str, num_classes: int | None = None, **kwargs: Any) -> nn.Module:
    """Build a loss by name.

    ============================================  ==================================
    name (case-insensitive, ``-`` = ``_``)         loss
    ============================================  ==================================
    ``"ce"``, ``"cross_entropy"``                  :class:`CrossEntropyLoss`
    ``"ls"``, ``"label_smoothing"``                :class:`LabelSmoothingCrossEntropy`
    ``"focal"``                                    :class:`FocalLoss`
    ``"ols"``, ``"online_label_smoothing"``        :class:`OnlineLabelSmoothing`
    ============================================  ==================================

    Args:
        name: Loss name or alias (table above).
        num_classes: Number of classes ``C``. Required for ``"online_label_smoothing"``; for the
            others optional, and when given it is checked against the class weights now and
            against the logits' width at every ``forward``.
        **kwargs: Passed to the loss class, e.g. ``smoothing=0.1``, ``weight=[1.0, 2.0, 1.0]``,
            ``gamma=2.0``, ``alpha=...``, ``reduction="sum"``.

    Returns:
        The loss module, called as ``loss(logits (N, C), target (N,))``.

    Raises:
        ValueError: Unknown ``name`` (the message lists the known names and close matches), or an
            invalid argument value.
        TypeError: ``name`` is not a string, or an argument the loss does not take.

    Examples:
        >>> create_loss("focal", num_classes=3, gamma=2.0, alpha=[1.0, 2.0, 1.0])
        FocalLoss(gamma=2.0, smoothing=0.0, reduction='mean', weighted=True)
        >>> create_loss("ols", num_classes=4, alpha=0.5).soft_labels.shape
        torch.Size([4, 4])
    """
    if not isinstance(name, str):
        raise InvalidTypeError(
            f"name must be a string such as 'label_smoothing'; got {type(name).__name__} {name!r}."
        )
    key = name.strip().lower().replace("-", "_").replace(" ", "_")
    if key not in _ALIASES:
        known = ", ".join(repr(n) for n in _ALIASES)
        raise InvalidArgumentError(
            f"unknown loss {name!r}; known names: {known}.{close_matches(key, list(_ALIASES))}"
        )
    canonical = _ALIASES[key]
    cls = _LOSSES[canonical]
    accepted = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "num_classes")]
    for arg in kwargs:
        if arg not in accepted:
            hint = _PARAMETER_HINTS.get((canonical, arg)) or close_matches(arg, accepted)
            raise InvalidTypeError(
                f"loss {canonical!r} ({cls.__name__}) takes no argument {arg!r}; "
                f"it accepts num_classes and {', '.join(accepted)}.{hint}"
            )
    if cls is OnlineLabelSmoothing and num_classes is None:
        raise InvalidArgumentError(
            "online label smoothing needs num_classes (the size of its C x C soft-label matrix); "
            "call create_loss('online_label_smoothing', num_classes=C, ...)."
        )
    loss = cls(num_classes=num_classes, **kwargs)
    logger.debug("create_loss(%r) -> %r", name, loss)
    return loss
