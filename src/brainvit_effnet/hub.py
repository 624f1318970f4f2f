"""Saving, loading and publishing models: safetensors weights, timm's ``config.json``, a model card.

A folder written by :func:`save_pretrained` holds three files:

* ``model.safetensors``: the weights (with the architecture in the file's metadata);
* ``config.json``: timm's schema (``architecture``, ``num_classes``, ``label_names``,
  ``model_args``, ``pretrained_cfg``), so ``timm.create_model("local-dir:...")`` reads it too;
* ``README.md``: a model card with intended use, the not-for-clinical-use warning, training data
  and split protocol, metrics and label names.

Examples:
    >>> import brainvit_effnet as bve
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> folder = bve.save_pretrained(model, "my-model")
    >>> same = bve.from_pretrained("my-model")
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from timm.models._hub import save_config_for_hf
from torch import nn

from ._atomic import write_path_atomically, write_text_atomically
from ._version import __version__
from .models import create_model
from .models._pretrained import WEIGHTS_NAME, pretrained_cfg_of

__all__ = ["build_model_card", "from_pretrained", "push_to_hub", "save_pretrained"]

CONFIG_NAME = "config.json"
MODEL_CARD_NAME = "README.md"
_NOT_RECORDED = "Not recorded. Pass `model_card={...}` to `save_pretrained` to describe it."


def _architecture(model: nn.Module) -> str:
    cfg = pretrained_cfg_of(model)
    if not cfg.get("architecture"):
        raise TypeError(
            f"save_pretrained needs a model created by brainvit_effnet.create_model (or timm); "
            f"{type(model).__name__} has no pretrained_cfg['architecture']."
        )
    return str(cfg["architecture"])


def _format_metrics(metrics: Mapping[str, Any] | None) -> str:
    if not metrics:
        return _NOT_RECORDED
    rows = "\n".join(f"| {name} | {value} |" for name, value in metrics.items())
    return f"| metric | value |\n|---|---|\n{rows}"


_CARD_TEMPLATE = """---
{{ card_data }}
---
# {{ model_name }}

> **Not for clinical use.** This model is research software. It is not a medical device, has not
> been validated for diagnosis, and must not be used to make decisions about patients.

{{ body }}
"""


def _ci(metrics: Mapping[str, Any], key: str) -> str:
    low_high = metrics.get("ci95", {}).get(key)
    return f" [{low_high[0]:.3f}, {low_high[1]:.3f}]" if low_high else ""


def build_model_card(arch_tag: str, provenance: Mapping[str, Any], repo_id: str) -> str:
    """A Hub model card for trained weights, from their provenance record.

    Built with ``huggingface_hub.ModelCardData``/``ModelCard``, so the YAML header (licence,
    datasets, ``model-index`` with the held-out metrics) is what the Hub parses.

    Args:
        arch_tag: ``"<architecture>.<tag>"``, e.g. ``"effnet_b0.figshare"``.
        provenance: What ``pretrained_cfg["provenance"]`` records: folds, preprocessing, label
            names, ``held_out_metrics`` (with ``ci95``), recipe, training minutes.
        repo_id: The Hub repo the card is written for.
    """
    from huggingface_hub import EvalResult, ModelCard, ModelCardData

    m = dict(provenance.get("held_out_metrics", {}))
    held_out = ", ".join(str(f) for f in provenance.get("held_out_folds") or [])
    dataset = f"Figshare brain tumour dataset, official fold {held_out} held out ({m.get('n')} slices)"
    results = [
        EvalResult(
            task_type="image-classification",
            dataset_type="figshare-brain-tumor",
            dataset_name=dataset,
            metric_type=key,
            metric_value=round(float(m[key]), 4),
        )
        for key in ("accuracy", "macro_f1", "ece")
        if key in m
    ]
    data = ModelCardData(
        model_name=arch_tag,
        license="cc-by-4.0",
        library_name="brainvit-effnet",
        pipeline_tag="image-classification",
        tags=[
            "image-classification",
            "medical-imaging",
            "mri",
            "brain-tumour",
            "timm",
            "not-for-clinical-use",
        ],
        eval_results=results or None,
    )
    pre = provenance.get("preprocessing", {})
    labels = "\n".join(f"{i}. `{name}`" for i, name in enumerate(provenance.get("label_names", [])))
    metric_rows = "\n".join(
        f"| {key} | {float(m[key]):.4f}{_ci(m, key)} |"
        for key in ("accuracy", "balanced_accuracy", "macro_f1", "ece", "nll")
        if key in m
    )
    body = f"""## Model
`{arch_tag}`: brainvit-effnet's `{arch_tag.split(".")[0]}`, **trained from scratch** (random
initialisation, no ImageNet weights) with the `{provenance.get("recipe")}` recipe
(`brainvit-effnet train --recipe {provenance.get("recipe")}`) in {provenance.get("train_minutes")}
minutes on a CPU ({provenance.get("machine")}); best epoch {provenance.get("best_epoch")} by
validation macro-F1.

## Intended use
Research on brain-tumour classification of T1-weighted contrast-enhanced MRI slices: a baseline
to compare against, a model for the library's demo, tutorials and explanation studies.

## Labels
{labels}

## Training data and licence
{provenance.get("dataset")}. J. Cheng, "brain tumor dataset", figshare, 2017 (article 1512427),
licence CC BY 4.0; cite Cheng J. et al., PLoS One 10(10):e0140381, 2015 and 11(6):e0157112, 2016.
These weights are a derivative of that data and are shared under CC BY 4.0 with that attribution.

## Split protocol
{provenance.get("split_protocol")}. Accuracy on image-level random splits overstates what a
model does on new patients; compare only patient-disjoint numbers.

## Preprocessing
Brain crop: {"on" if pre.get("brain_crop") else "off"}; resize to {provenance.get("input_size")}
({pre.get("resize")});
{pre.get("channels")}; normalised with mean {pre.get("mean")} and std {pre.get("std")}.
`brainvit_effnet.data.create_transforms(model)` applies exactly this.

## Held-out metrics (95% bootstrap intervals)
Every slice of held-out fold {held_out} of the full release.

| metric | value |
|---|---|
{metric_rows}

ECE is the expected calibration error (15 bins); lower is better calibrated.

## How to load
```python
import brainvit_effnet as bve
model = bve.create_model("{arch_tag}", pretrained=True).eval()   # offline: shipped in the package
# or, once published: bve.from_pretrained("{repo_id}")
```

## Limitations
Trained on one public dataset (233 patients, one scanner protocol family, three tumour types, no
healthy class). Performance on other sites, sequences or populations is unknown.
"""
    card = ModelCard.from_template(data, template_str=_CARD_TEMPLATE, body=body, model_name=arch_tag)
    return str(card)


def render_model_card(model: nn.Module, card: Mapping[str, Any] | None = None) -> str:
    """Markdown model card for ``model``.

    Args:
        model: A model with ``pretrained_cfg``.
        card: Optional fields: ``training_data``, ``split_protocol``, ``metrics`` (name -> value),
            ``intended_use``, ``notes``. Missing fields are marked as not recorded, never invented.
    """
    card = dict(card or {})
    cfg = pretrained_cfg_of(model)
    arch = _architecture(model)
    labels = cfg.get("label_names") or [f"class_{i}" for i in range(getattr(model, "num_classes", 0))]
    n_params = sum(p.numel() for p in model.parameters())
    label_lines = "\n".join(f"{i}. `{name}`" for i, name in enumerate(labels))
    intended = card.get(
        "intended_use",
        "Research on brain-tumour classification of T1-weighted contrast-enhanced MRI slices: "
        "benchmarking, ablations and explainability studies.",
    )
    return f"""---
library_name: brainvit-effnet
license: apache-2.0
pipeline_tag: image-classification
tags:
- image-classification
- medical-imaging
- mri
- brain-tumour
- timm
---
# {arch}

> **Not for clinical use.** This model is research software. It is not a medical device, has not
> been validated for diagnosis, and must not be used to make decisions about patients.

## Model
- Architecture: `{arch}` ({type(model).__name__}, {n_params / 1e6:.2f}M parameters), built with
  [brainvit-effnet](https://pypi.org/project/brainvit-effnet/) on a timm EfficientNet backbone.
- Input: {tuple(cfg.get("input_size", ()))} (channels, height, width), normalised with mean
  {tuple(cfg.get("mean", ()))} and std {tuple(cfg.get("std", ()))}.

## Intended use
{intended}

## Labels
{label_lines}

## Training data
{card.get("training_data", _NOT_RECORDED)}

## Split protocol
{card.get("split_protocol", _NOT_RECORDED)}

Accuracy on image-level random splits overstates what a model does on new patients; prefer
patient-disjoint splits (e.g. the official Figshare folds) when comparing numbers.

## Metrics
{_format_metrics(card.get("metrics"))}

## Notes
{card.get("notes", "None.")}

## How to load
```python
import brainvit_effnet as bve
model = bve.from_pretrained("<this folder or org/repo>").eval()
```
"""


def save_pretrained(
    model: nn.Module, save_directory: str | os.PathLike[str], *, model_card: Mapping[str, Any] | None = None
) -> Path:
    """Write ``model.safetensors``, ``config.json`` and a ``README.md`` model card to a folder.

    Each file is written to a temporary name and renamed into place, so an interrupted save
    never leaves a truncated file behind (an existing save stays intact until replaced whole).

    Args:
        model: A model from :func:`~brainvit_effnet.create_model`.
        save_directory: Folder to create or update.
        model_card: Optional card fields; see :func:`render_model_card`.

    Returns:
        The folder, as a ``Path``.
    """
    arch = _architecture(model)
    folder = Path(save_directory).expanduser()
    if folder.exists() and not folder.is_dir():
        raise ValueError(f"save_directory {folder} is a file; give a folder path (it is created if missing).")
    folder.mkdir(parents=True, exist_ok=True)

    state_dict = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": "pt", "architecture": arch, "library": "brainvit-effnet"}
    write_path_atomically(folder / WEIGHTS_NAME, lambda p: save_file(state_dict, str(p), metadata=metadata))

    label_names = pretrained_cfg_of(model).get("label_names")
    # The saved weights are no longer those of the source tag (e.g. the ImageNet backbone).
    model_config: dict[str, Any] = {
        "pretrained_cfg": {"tag": None, "description": f"{arch} saved with brainvit-effnet."}
    }
    if label_names:
        model_config["label_names"] = list(label_names)
    write_path_atomically(
        folder / CONFIG_NAME, lambda p: save_config_for_hf(model, str(p), model_config=model_config)
    )

    card = render_model_card(model, model_card)
    write_text_atomically(folder / MODEL_CARD_NAME, card)
    return folder


def from_pretrained(name_or_path: str | os.PathLike[str], **kwargs: Any) -> nn.Module:
    """Load a model saved by :func:`save_pretrained` from a folder or a Hub repo ``org/name``.

    Keyword arguments go to :func:`~brainvit_effnet.create_model` (``num_classes``, ``cache_dir``...).
    """
    name = os.fspath(name_or_path)
    if name.startswith(("hf-hub:", "local-dir:")):
        source = name
    elif Path(name).expanduser().is_dir():
        source = f"local-dir:{name}"
    elif name.count("/") == 1 and not name.startswith((".", "/", "~")):
        source = f"hf-hub:{name}"
    else:
        hint = (
            " For a bare weights file use create_model('<architecture>', checkpoint_path=...)."
            if name.endswith(".safetensors")
            else ""
        )
        raise FileNotFoundError(
            f"{name!r} is neither an existing folder nor a Hub repo id 'org/name'. Give the folder "
            f"save_pretrained wrote, or 'org/name' of a Hub repo.{hint}"
        )
    return create_model(source, pretrained=True, **kwargs)


def push_to_hub(
    model: nn.Module,
    repo_id: str,
    *,
    commit_message: str = "Add model",
    private: bool = False,
    token: str | None = None,
    revision: str | None = None,
    create_pr: bool = False,
    model_card: Mapping[str, Any] | None = None,
) -> str:
    """Save the model as :func:`save_pretrained` does and upload the folder to a Hub repo.

    The repo is created if missing. Returns the URL of the commit.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="brainvit-effnet", library_version=__version__)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, model_card=model_card)
        commit = api.upload_folder(
            repo_id=getattr(repo_url, "repo_id", repo_id),
            folder_path=tmp,
            commit_message=commit_message,
            revision=revision,
            create_pr=create_pr,
        )
    return str(getattr(commit, "commit_url", commit))
