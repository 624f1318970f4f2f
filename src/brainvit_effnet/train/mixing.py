"""Mixup and CutMix of training batches: timm's :class:`timm.data.Mixup`, wired into the Trainer.

timm mixes each batch with its own reverse and turns the labels into soft targets (label
smoothing folded in); the loss must then read soft targets, which is timm's
:class:`timm.loss.SoftTargetCrossEntropy`. What this module adds is the part timm leaves to the
training script: which losses the soft targets replace (cross-entropy, with or without label
smoothing; a class-weighted or focal loss has no soft-target form here, so it is refused), and a
batch of odd size (the last of an epoch), which timm's batch mode cannot pair: it trains unmixed,
with the same smoothing.

Validation and test never mix: they score the hard labels (``val_loss`` is their NLL).
"""

from __future__ import annotations

from timm.data import Mixup
from timm.data.mixup import mixup_target
from timm.loss import SoftTargetCrossEntropy
from torch import Tensor, nn

from ..errors import InvalidArgumentError
from .config import TrainConfig

__all__ = ["BatchMixer", "batch_mixer"]

#: Losses whose soft-target form is cross-entropy on timm's mixed (and smoothed) targets.
_MIXABLE_LOSSES = {"cross_entropy": 0.0, "label_smoothing": 0.1}  # name -> its default smoothing


class BatchMixer:
    """Mix a training batch and give the loss that reads its soft targets.

    Args:
        num_classes: Classes of the model (the soft targets' width).
        mixup_alpha: Beta(alpha, alpha) of mixup's blend; 0 turns mixup off.
        cutmix_alpha: Beta(alpha, alpha) of CutMix's box area; 0 turns CutMix off.
        prob: Probability that a batch is mixed at all.
        smoothing: Label smoothing folded into the soft targets.

    With both alphas set, each mixed batch is mixup or CutMix with equal chance (timm's
    ``switch_prob=0.5``).
    """

    def __init__(
        self, num_classes: int, mixup_alpha: float, cutmix_alpha: float, prob: float, smoothing: float
    ) -> None:
        self.num_classes = num_classes
        self.smoothing = smoothing
        self.mixup = Mixup(
            mixup_alpha=mixup_alpha,
            cutmix_alpha=cutmix_alpha,
            prob=prob,
            switch_prob=0.5,
            mode="batch",
            label_smoothing=smoothing,
            num_classes=num_classes,
        )
        self.loss: nn.Module = SoftTargetCrossEntropy()

    def __call__(self, images: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        """``(mixed images, soft targets (B, num_classes))``; an odd-sized batch is returned unmixed."""
        if len(images) % 2:  # timm pairs each image with the batch's reverse: it needs an even batch
            return images, mixup_target(labels, self.num_classes, lam=1.0, smoothing=self.smoothing)
        mixed, targets = self.mixup(images, labels)
        return mixed, targets


def batch_mixer(config: TrainConfig, num_classes: int, *, custom_loss: bool) -> BatchMixer | None:
    """The :class:`BatchMixer` that ``config`` (a :class:`~brainvit_effnet.train.TrainConfig`) asks for.

    ``None`` when mixup and CutMix are both off.

    Raises:
        InvalidArgumentError: mixing asked for with a loss that has no soft-target form (a custom
            ``loss_fn``, focal or class-weighted losses).
    """
    if not (config.mixup_alpha > 0 or config.cutmix_alpha > 0):
        return None
    extra = set(config.loss_kwargs) - {"smoothing"}
    if custom_loss or config.loss not in _MIXABLE_LOSSES or extra:
        what = "a custom loss_fn" if custom_loss else f"loss={config.loss!r} with {config.loss_kwargs}"
        raise InvalidArgumentError(
            f"mixup_alpha/cutmix_alpha train on soft targets with cross-entropy, which replaces the "
            f"loss; that cannot honour {what}. Use loss 'cross_entropy' or 'label_smoothing' (its "
            f"smoothing is folded into the mixed targets), or set mixup_alpha and cutmix_alpha to 0."
        )
    smoothing = float(config.loss_kwargs.get("smoothing", _MIXABLE_LOSSES[config.loss]))
    return BatchMixer(num_classes, config.mixup_alpha, config.cutmix_alpha, config.mixup_prob, smoothing)
