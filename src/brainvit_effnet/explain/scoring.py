"""Scoring explanations over a dataset: does the heatmap point at the tumour, and is it faithful?

:func:`explain` produces heatmaps with any method by name; :func:`score_explanations` runs the
chosen methods over a dataset that yields tumour masks (``return_mask=True``, e.g. the Figshare
adapter or the bundled sample) and tabulates, per method and per class:

* localisation against the delineated tumour: pointing-game hit rate, fraction of heatmap
  energy inside the mask (chance level: the mask's area fraction, reported alongside), IoU of
  the heatmap thresholded at 0.5;
* faithfulness: deletion and insertion AUC of the target-class probability.

:func:`write_explanation_report` writes the table as JSON and Markdown.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn
from torch.utils.data import Dataset

from .._atomic import write_text_atomically
from .._json import write_json
from .._tensors import eval_mode
from ..errors import InvalidArgumentError
from ..results import ExplanationReport
from ._masked import masked_batches
from .attention import attention_rollout, last_layer_attention_map, upsample
from .cam import BaseCAM, GradCAM, GradCAMPlusPlus, TokenGradCAM
from .scores import deletion_auc, energy_inside, insertion_auc, iou_at_threshold, mask_fraction, pointing_game

__all__ = ["METHODS", "available_methods", "explain", "score_explanations", "write_explanation_report"]


def _cam(cls: type[BaseCAM]) -> Callable[[nn.Module, Tensor, Tensor | None], Tensor]:
    def run(model: nn.Module, x: Tensor, targets: Tensor | None) -> Tensor:
        with cls(model) as cam:
            return cam(x, None if targets is None else [int(t) for t in targets])

    return run


def _token_cam(model: nn.Module, x: Tensor, targets: Tensor | None) -> Tensor:
    with TokenGradCAM(model) as cam:
        return cam(x, None if targets is None else [int(t) for t in targets])


def _rollout(model: nn.Module, x: Tensor, targets: Tensor | None) -> Tensor:
    return upsample(attention_rollout(model, x), tuple(x.shape[-2:]))


def _attention(model: nn.Module, x: Tensor, targets: Tensor | None) -> Tensor:
    return upsample(last_layer_attention_map(model, x), tuple(x.shape[-2:]))


#: Method name -> function ``(model, images, targets or None) -> heatmaps (B, H, W) in [0, 1]``.
METHODS: dict[str, Callable[[nn.Module, Tensor, Tensor | None], Tensor]] = {
    "gradcam": _cam(GradCAM),
    "gradcampp": _cam(GradCAMPlusPlus),
    "token_gradcam": _token_cam,
    "rollout": _rollout,
    "attention": _attention,
}
_TRANSFORMER_ONLY = ("token_gradcam", "rollout", "attention")


def available_methods(model: nn.Module) -> list[str]:
    """The methods that apply to ``model`` (attention-based ones need a transformer variant)."""
    has_attention = hasattr(model, "record_attention")
    return [m for m in METHODS if has_attention or m not in _TRANSFORMER_ONLY]


def _check_methods(model: nn.Module, methods: Sequence[str]) -> None:
    unknown = [m for m in methods if m not in METHODS]
    if unknown:
        raise InvalidArgumentError(f"unknown explanation method(s) {unknown}; choose from {list(METHODS)}.")
    unavailable = [m for m in methods if m not in available_methods(model)]
    if unavailable:
        raise InvalidArgumentError(
            f"method(s) {unavailable} need a transformer variant (e.g. effnet_b2_tf); this model supports "
            f"{available_methods(model)}."
        )


def explain(
    model: nn.Module, images: Tensor, method: str = "gradcam", targets: Tensor | None = None
) -> Tensor:
    """Heatmaps ``(B, H, W)`` in ``[0, 1]`` at the input size, for the predicted class by default.

    Args:
        model: A classifier (our variants or a timm CNN for the CAM methods).
        images: Model inputs ``(B, C, H, W)``.
        method: One of :data:`METHODS`.
        targets: Class per sample; ``None`` explains the predicted class (attention methods are
            class-agnostic and ignore it).
    """
    _check_methods(model, [method])
    return METHODS[method](model, images, targets).detach()


def _mean(values: np.ndarray) -> float:
    finite = values[np.isfinite(values)]
    return float(finite.mean()) if finite.size else math.nan


def score_explanations(
    model: nn.Module,
    data: Dataset[Any],
    methods: Sequence[str] = ("gradcam",),
    *,
    batch_size: int = 8,
    limit: int | None = None,
    faithfulness: bool = True,
    steps: int = 10,
    iou_threshold: float = 0.5,
    progress: bool | None = None,
) -> ExplanationReport:
    """Score methods over ``data`` (yielding ``(image, label, mask)``); see the module docstring.

    Heatmaps explain each sample's true class, so localisation is judged on the evidence for the
    right answer. Samples with an empty mask are skipped.

    Args:
        model: The classifier to explain.
        data: A dataset yielding ``(image, label, mask)`` (e.g. ``return_mask=True``).
        methods: Explanation methods (see :func:`available_methods`).
        batch_size: Slices per batch.
        limit: Score at most this many slices with a mask: the first ones in ``data``'s order
            (reading stops there). For a sample across the classes, subset the data first.
        faithfulness: Also compute the deletion and insertion AUCs (``2 x (steps + 1)`` forward
            passes per slice and method).
        steps: Steps of the deletion and insertion curves.
        iou_threshold: Threshold of the min-max normalised heatmap for the IoU (:func:`iou_at_threshold`).
        progress: A progress bar over the batches: ``True``/``False`` forces it on/off; ``None``
            (default) draws it when stderr is a terminal.

    Returns:
        ``{"n", "mask_fraction", "methods": {method: {"overall": {...}, "per_class": {...}}}}``.
    """
    _check_methods(model, methods)
    classes = list(getattr(data, "classes", []) or [])
    columns: dict[str, dict[str, list[np.ndarray]]] = {m: {} for m in methods}
    labels_all: list[np.ndarray] = []
    fractions: list[np.ndarray] = []
    batches = masked_batches(
        data,
        batch_size=batch_size,
        limit=limit,
        needed_by="score_explanations",
        progress=progress,
        desc="explain",
    )
    # In eval mode for the scoring only: the caller's model comes back in the mode it was in.
    with eval_mode(model):
        for images, labels, masks in batches:
            labels_all.append(labels.numpy())
            fractions.append(mask_fraction(masks))
            for method in methods:
                scores = _score_batch(
                    model, images, labels, masks, method, faithfulness, steps, iou_threshold
                )
                for key, values in scores.items():
                    columns[method].setdefault(key, []).append(values)
    if not labels_all:
        raise InvalidArgumentError("no sample with a non-empty tumour mask to score.")
    labels = np.concatenate(labels_all)
    report: ExplanationReport = {
        "n": len(labels),
        "mask_fraction": _mean(np.concatenate(fractions)),
        "methods": {},
    }
    for method, metrics in columns.items():
        joined = {k: np.concatenate(v) for k, v in metrics.items()}
        per_class = {}
        for c in sorted(set(labels.tolist())):
            name = classes[c] if c < len(classes) else str(c)
            per_class[name] = {
                "n": int((labels == c).sum()),
                **{k: _mean(v[labels == c]) for k, v in joined.items()},
            }
        report["methods"][method] = {
            "overall": {k: _mean(v) for k, v in joined.items()},
            "per_class": per_class,
        }
    return report


def _fmt(value: float) -> str:
    return "n/a" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def _score_batch(
    model: nn.Module,
    images: torch.Tensor,
    labels: torch.Tensor,
    masks: torch.Tensor,
    method: str,
    faithfulness: bool,
    steps: int,
    iou_threshold: float,
) -> dict[str, np.ndarray]:
    """One method's scores of every slice of a batch, by score name."""
    heat = explain(model, images, method, targets=labels)
    scores = {
        "pointing_game": pointing_game(heat, masks).astype(float),
        "energy_inside": energy_inside(heat, masks),
        f"iou@{iou_threshold:g}": iou_at_threshold(heat, masks, threshold=iou_threshold),
    }
    if faithfulness:
        scores["deletion_auc"] = deletion_auc(model, images, heat, labels, steps=steps)
        scores["insertion_auc"] = insertion_auc(model, images, heat, labels, steps=steps)
    return {key: np.asarray(values, dtype=float) for key, values in scores.items()}


def write_explanation_report(
    report: Mapping[str, Any], out_dir: str | os.PathLike[str], title: str = "Explanations"
) -> dict[str, Path]:
    """Write ``explanations.json`` and ``explanations.md`` (methods compared, per-class tables)."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    metrics = list(next(iter(report["methods"].values()))["overall"]) if report["methods"] else []
    lines = [
        f"# {title}",
        "",
        "> **Not for clinical use.** Research software; heatmaps are not diagnoses.",
        "",
        f"{report['n']} slices with a delineated tumour. Chance level of *energy inside*: the mean mask "
        f"area fraction, {_fmt(report['mask_fraction'])}. Higher is better for every column except "
        f"deletion AUC.",
        "",
        "| method | " + " | ".join(metrics) + " |",
        "|---|" + "---:|" * len(metrics),
    ]
    for method, result in report["methods"].items():
        lines.append(f"| {method} | " + " | ".join(_fmt(result["overall"][m]) for m in metrics) + " |")
    for method, result in report["methods"].items():
        lines += [
            "",
            f"## {method}: per class",
            "",
            "| class | n | " + " | ".join(metrics) + " |",
            "|---|---:|" + "---:|" * len(metrics),
        ]
        for name, row in result["per_class"].items():
            lines.append(f"| {name} | {row['n']} | " + " | ".join(_fmt(row[m]) for m in metrics) + " |")
    files = {"json": out / "explanations.json", "markdown": out / "explanations.md"}
    # NaN (undefined, e.g. an all-zero heatmap) becomes null, so the JSON is strict.
    write_json(files["json"], report)
    write_text_atomically(files["markdown"], "\n".join(lines) + "\n")
    return files
