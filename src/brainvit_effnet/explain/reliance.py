"""Is the model looking at the tumour? Accuracy with the tumour hidden, against a same-sized control.

A heatmap shows where gradients point; occlusion asks the model directly. For every slice with a
tumour mask, :func:`tumour_reliance` predicts three times:

1. the slice as it is;
2. the tumour blacked out (the mask, grown by ``dilation`` pixels, set to black);
3. a **control**: the same shape blacked out elsewhere inside the brain, off the tumour.

A model that recognises the tumour loses accuracy in (2) but not in (3). A model that recognises a
class from its context (the slice's anatomy, the scanner's look) keeps its accuracy in (2): that is
how a classifier that never looked at the tumour shows itself, class by class.

"Black" is an intensity of 0 before normalisation, i.e. ``-mean / std`` of the model's
``pretrained_cfg`` on the normalised input. The brain is where the un-normalised slice is brighter
than ``brain_threshold``, holes filled (:mod:`brainvit_effnet.occlusion`). This test is our own:
pytorch-grad-cam and Captum have occlusion *attributions*, not this class-level check against a
control.

Examples:
    >>> import torch, brainvit_effnet as bve
    >>> model = bve.create_model("effnet_test", num_classes=3)
    >>> image = torch.zeros(3, 64, 64); image[:, 8:56, 8:56] = 1.0
    >>> mask = torch.zeros(64, 64, dtype=torch.bool); mask[20:28, 20:28] = True
    >>> report = tumour_reliance(model, [(image, 0, mask)] * 4)
    >>> sorted(report["overall"])[:3], report["n"]
    (['clean', 'clean_control', 'n'], 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from .._tensors import eval_mode
from ..errors import InvalidArgumentError
from ..occlusion import brain_region, dilate, hide_region, input_stats, place_control_region, unnormalised
from ..results import RelianceReport, RelianceScores
from ._masked import masked_batches

__all__ = ["hide_region", "place_control_region", "tumour_reliance"]


def _mean(values: np.ndarray) -> float:
    return float(values.mean()) if values.size else math.nan


def _scores(clean: np.ndarray, hidden: np.ndarray, control: np.ndarray, placed: np.ndarray) -> RelianceScores:
    """Columns of each array: right (0/1) and the probability of the true class, per slice."""
    clean_acc, hidden_acc = _mean(clean[:, 0]), _mean(hidden[:, 0])
    clean_ctrl, random_acc = _mean(clean[placed, 0]), _mean(control[placed, 0])
    return {
        "n": len(clean),
        "clean": clean_acc,
        "tumour_hidden": hidden_acc,
        "tumour_drop": clean_acc - hidden_acc,
        "n_control": int(placed.sum()),
        "clean_control": clean_ctrl,
        "random_hidden": random_acc,
        "random_drop": clean_ctrl - random_acc,
        "p_true_clean": _mean(clean[:, 1]),
        "p_true_tumour_hidden": _mean(hidden[:, 1]),
        "p_true_random_hidden": _mean(control[placed, 1]),
    }


def tumour_reliance(
    model: nn.Module,
    data: Dataset[Any] | Sequence[Any],
    *,
    dilation: int = 2,
    brain_threshold: float = 0.05,
    seed: int = 0,
    batch_size: int = 32,
    limit: int | None = None,
    class_names: Sequence[str] | None = None,
    progress: bool | None = None,
) -> RelianceReport:
    """Accuracy with the tumour hidden and with a same-shaped control region hidden; see the module.

    Args:
        model: A classifier whose ``pretrained_cfg`` has the input's ``mean``/``std``.
        data: Yields ``(image, label, mask)``: a normalised ``(C, H, W)`` image, its class and a
            ``(H, W)`` tumour mask (datasets created with ``return_mask=True``). Slices with an
            empty mask are skipped.
        dilation: Grow the mask by this many pixels before hiding it (outlines are drawn tight).
        brain_threshold: Un-normalised intensity above which a pixel counts as brain.
        seed: Seed of the control regions' placement (the report is reproducible).
        batch_size: Slices per forward pass.
        limit: Use at most this many slices with a mask.
        class_names: Names of the classes (default: ``data.classes``, else the model's
            ``label_names``, else the indices).
        progress: A progress bar (``None``: only on a terminal).

    Returns:
        A :class:`~brainvit_effnet.results.RelianceReport`.

    Raises:
        InvalidArgumentError: data without masks, no slice with a mask, or a negative ``dilation``.
    """
    if dilation < 0:
        raise InvalidArgumentError(f"dilation must be >= 0 pixels; got {dilation}.")
    names = list(class_names or getattr(data, "classes", None) or [])
    if not names:
        names = list((getattr(model, "pretrained_cfg", None) or {}).get("label_names") or [])
    generator = np.random.default_rng(seed)
    labels_all, clean_all, hidden_all, control_all, placed_all = [], [], [], [], []
    batches = masked_batches(
        data,
        batch_size=batch_size,
        limit=limit,
        needed_by="tumour_reliance",
        progress=progress,
        desc="reliance",
    )
    with eval_mode(model), torch.no_grad():
        for images, labels, mask_batch in batches:
            images, masks = images.float(), mask_batch.numpy()
            mean, std = input_stats(getattr(model, "pretrained_cfg", None), images.shape[1])
            black = -mean / std
            hidden = np.stack([dilate(m, dilation) for m in masks])
            controls, placed = [], []
            for region, image in zip(hidden, unnormalised(images, mean, std), strict=True):
                brain = brain_region(image, brain_threshold)
                moved = place_control_region(region, brain, dilate(region, 4), generator)
                placed.append(moved is not None)
                controls.append(np.zeros_like(region) if moved is None else moved)
            truth = labels.long()

            def correct(x: Tensor, truth: Tensor = truth) -> np.ndarray:
                """Per slice: right (1/0) and the probability given to the true class."""
                probs = model(x).float().softmax(-1)
                right = (probs.argmax(-1) == truth).float()
                return torch.stack([right, probs.gather(1, truth[:, None])[:, 0]], 1).numpy()

            labels_all.append(truth.numpy())
            clean_all.append(correct(images))
            hidden_all.append(correct(hide_region(images, torch.from_numpy(hidden), black)))
            control_all.append(correct(hide_region(images, torch.from_numpy(np.stack(controls)), black)))
            placed_all.append(np.asarray(placed))
    if not labels_all:
        raise InvalidArgumentError("no slice with a non-empty tumour mask: nothing to hide.")
    labels, clean, hid, ctrl, placed_mask = (
        np.concatenate(a) for a in (labels_all, clean_all, hidden_all, control_all, placed_all)
    )
    per_class = {}
    for c in sorted(set(labels.tolist())):
        name = names[c] if c < len(names) else str(c)
        sel = labels == c
        per_class[name] = _scores(clean[sel], hid[sel], ctrl[sel], placed_mask[sel])
    return {
        "n": int(labels.size),
        "seed": seed,
        "dilation": dilation,
        "overall": _scores(clean, hid, ctrl, placed_mask),
        "per_class": per_class,
    }
