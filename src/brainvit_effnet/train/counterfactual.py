"""Counterfactual occlusion: train a classifier to need the tumour, using the tumour masks.

On Figshare, a model can tell the three tumour types apart without looking at the tumour: the
slices of each class come from characteristic planes and anatomy (a sagittal slice through the
sella is usually "pituitary"). The occlusion test (:func:`brainvit_effnet.explain.tumour_reliance`)
shows it: with the tumour blacked out, such a model keeps its accuracy.

This module turns the same test into training signal. In each training batch, a fraction ``p`` of
the slices with a tumour mask get their tumour (mask grown by ``dilation`` pixels) blacked out
and a **uniform** target: without the tumour, the slice holds no evidence of its type. Another
fraction ``p`` get a **control** region blacked out instead (the tumour's shape, moved elsewhere
in the brain, off the tumour) and keep their label, so that the model cannot learn "a black blob
means uncertain" and must learn where the evidence is. All targets are soft (label smoothing
folded in) and the loss is soft-target cross-entropy (timm's ``SoftTargetCrossEntropy``).

This is a counterfactual form of "right for the right reasons" (Ross, Hughes and Doshi-Velez,
IJCAI 2017, who penalise input gradients outside annotated regions); our own implementation, as
neither timm, MONAI nor pytorch-grad-cam has one. It needs masks in training only; inference is
unchanged. Random numbers come from torch's global generator, so a seeded or resumed run
reproduces its occlusions.

Examples:
    >>> import torch
    >>> occlude = CounterfactualOcclusion(num_classes=3, prob=0.5, mean=(0.5,), std=(0.5,))
    >>> images, labels = torch.zeros(4, 1, 32, 32), torch.tensor([0, 1, 2, 0])
    >>> masks = torch.zeros(4, 32, 32, dtype=torch.bool); masks[:, 10:14, 10:14] = True
    >>> x, targets = occlude(images, labels, masks)
    >>> x.shape, targets.shape, bool(torch.allclose(targets.sum(1), torch.ones(4)))
    (torch.Size([4, 1, 32, 32]), torch.Size([4, 3]), True)
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from timm.loss import SoftTargetCrossEntropy
from torch import Tensor, nn

from .._checks import is_real
from ..errors import InvalidArgumentError
from ..occlusion import brain_region, dilate, hide_region, place_control_region, unnormalised
from .config import TrainConfig

__all__ = ["CounterfactualOcclusion", "counterfactual_occlusion"]


class CounterfactualOcclusion:
    """Hide tumours (uniform target) and same-shaped controls (true target) in training batches.

    Args:
        num_classes: Width of the targets.
        prob: Share of the masked slices whose tumour is hidden, and (separately) share whose
            control region is hidden; in ``[0, 0.5]``.
        mean: The model's input mean (``pretrained_cfg["mean"]``): black is ``-mean / std``.
        std: The model's input std.
        smoothing: Label smoothing folded into the targets of the other slices.
        dilation: Pixels the tumour mask is grown by before it is hidden.
        brain_threshold: Un-normalised intensity above which a pixel counts as brain (controls).

    Call it as ``occlude(images, labels, masks) -> (images, soft_targets)``; :attr:`loss` reads the
    soft targets. Slices with an empty mask are left as they are.
    """

    def __init__(
        self,
        num_classes: int,
        prob: float,
        mean: Sequence[float],
        std: Sequence[float],
        *,
        smoothing: float = 0.0,
        dilation: int = 2,
        brain_threshold: float = 0.05,
    ) -> None:
        if not is_real(prob) or not 0.0 <= float(prob) <= 0.5:
            raise InvalidArgumentError(
                f"counterfactual_prob must be in [0, 0.5] (the share of tumours hidden, and the same share "
                f"of controls); got {prob!r}."
            )
        self.num_classes = int(num_classes)
        self.prob = float(prob)
        self.smoothing = float(smoothing)
        self.dilation = int(dilation)
        self.brain_threshold = float(brain_threshold)
        channels = len(mean)
        self.mean = torch.as_tensor(mean, dtype=torch.float32).reshape(channels, 1, 1)
        self.std = torch.as_tensor(std, dtype=torch.float32).reshape(channels, 1, 1)
        self.loss: nn.Module = SoftTargetCrossEntropy()

    def _targets(self, labels: Tensor) -> Tensor:
        off = self.smoothing / self.num_classes
        targets = torch.full((len(labels), self.num_classes), off, device=labels.device)
        targets.scatter_(1, labels.long()[:, None], 1.0 - self.smoothing + off)
        return targets

    def __call__(self, images: Tensor, labels: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
        """Occlude a batch: ``images`` ``(B, C, H, W)``, ``labels`` ``(B,)``, ``masks`` ``(B, H, W)``."""
        if masks.shape[0] != images.shape[0] or tuple(masks.shape[-2:]) != tuple(images.shape[-2:]):
            raise InvalidArgumentError(
                f"masks {tuple(masks.shape)} do not match images {tuple(images.shape)}: the training data "
                f"must yield (image, label, mask) with the mask at the image's size."
            )
        targets = self._targets(labels)
        channels = images.shape[1]
        mean = self.mean if self.mean.shape[0] == channels else self.mean.mean().expand(channels, 1, 1)
        std = self.std if self.std.shape[0] == channels else self.std.mean().expand(channels, 1, 1)
        black = -mean / std
        draws = torch.rand(len(labels))
        # One numpy generator per batch, seeded from torch's: placements follow torch.manual_seed.
        generator = np.random.default_rng(int(torch.randint(0, 2**31 - 1, ())))
        masks_np = masks.detach().cpu().bool().numpy()
        regions = np.zeros_like(masks_np)
        raw = None
        for i, draw in enumerate(draws.tolist()):
            if not masks_np[i].any() or draw >= 2 * self.prob:
                continue
            tumour = dilate(masks_np[i], self.dilation)
            if draw < self.prob:  # the counterfactual: no tumour, no evidence
                regions[i] = tumour
                targets[i] = 1.0 / self.num_classes
                continue
            raw = unnormalised(images, mean, std) if raw is None else raw
            moved = place_control_region(
                tumour, brain_region(raw[i], self.brain_threshold), dilate(tumour, 4), generator
            )
            if moved is not None:  # the control: as many pixels hidden, none of them tumour
                regions[i] = moved
        if regions.any():
            images = hide_region(images, torch.from_numpy(regions), black)
        return images, targets

    def __repr__(self) -> str:
        name = type(self).__name__
        return f"{name}(prob={self.prob:g}, dilation={self.dilation}, smoothing={self.smoothing:g})"


#: Losses whose soft-target form is cross-entropy on these targets: name -> default smoothing.
_SOFT_LOSSES = {"cross_entropy": 0.0, "label_smoothing": 0.1}


def counterfactual_occlusion(
    config: TrainConfig, num_classes: int, model: nn.Module, *, custom_loss: bool
) -> CounterfactualOcclusion | None:
    """The Trainer's :class:`CounterfactualOcclusion` for ``config.counterfactual_prob`` (``None`` at 0).

    Raises:
        InvalidArgumentError: with mixup/CutMix (both rewrite the targets), a custom loss, or a loss
            without a soft-target form.
    """
    if not config.counterfactual_prob:
        return None
    if config.mixup_alpha or config.cutmix_alpha:
        raise InvalidArgumentError(
            "counterfactual_prob cannot be combined with mixup_alpha/cutmix_alpha: both rewrite the "
            "training targets. Use one of them."
        )
    if custom_loss or config.loss not in _SOFT_LOSSES:
        raise InvalidArgumentError(
            f"counterfactual_prob trains on soft targets with cross-entropy; the loss {config.loss!r} "
            f"has no soft-target form here. Use loss 'cross_entropy' or 'label_smoothing'."
        )
    cfg = getattr(model, "pretrained_cfg", None) or {}
    smoothing = float(config.loss_kwargs.get("smoothing", _SOFT_LOSSES[config.loss]))
    return CounterfactualOcclusion(
        num_classes,
        config.counterfactual_prob,
        tuple(cfg.get("mean", (0.0,))),
        tuple(cfg.get("std", (1.0,))),
        smoothing=smoothing,
    )
