"""Hub model cards (``README.md``), written with ``huggingface_hub.ModelCardData``/``ModelCard``.

Two cards, one builder:

* :func:`render_model_card`: the card ``save_pretrained``/``push_to_hub`` write for any model,
  from its ``pretrained_cfg`` and the fields a caller knows (training data, split, metrics);
* :func:`build_model_card`: the card of weights that carry a full ``provenance`` record (the
  bundled ``effnet_b0.figshare``; ``tools/bundle_model.py`` writes it).

The YAML header is what the Hub parses: ``license``, ``datasets``, ``metrics``, ``base_model``
(only for weights fine-tuned from timm's ImageNet-1k backbone, an ``.in1k`` tag) and a
``model-index`` whose results name their 95% interval where one was measured (the Hub's
``model-index`` has no interval field; the body's table has them too). Every card ends with how to
load the model: ``pip install brainvit-effnet``, then ``import brainvit_effnet`` before
``timm.create_model``, and :func:`~brainvit_effnet.preprocess_for` for its inputs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from torch import nn

from ._checks import is_real
from .data.inference import preprocessing_of
from .errors import InvalidArgumentError, InvalidTypeError
from .models._pretrained import pretrained_cfg_of
from .models.names import parse_model_name
from .results import KEY_METRICS

__all__ = [
    "FIGSHARE_ATTRIBUTION",
    "FIGSHARE_DATASET_ID",
    "FIGSHARE_LICENSE",
    "HUB_METRICS",
    "build_model_card",
    "card_license",
    "card_metadata_problems",
    "how_to_load",
    "render_model_card",
]

#: The Figshare brain-tumour release as the cards' ``datasets`` name it (not a Hub dataset repo:
#: the data lives on Figshare, article 1512427).
FIGSHARE_DATASET_ID = "figshare-brain-tumor"
#: Licence of the Figshare release, and so of weights trained on it (a derivative).
FIGSHARE_LICENSE = "cc-by-4.0"
FIGSHARE_ATTRIBUTION = (
    'J. Cheng, "brain tumor dataset", figshare, 2017 (article 1512427), licence CC BY 4.0; cite '
    "Cheng J. et al., PLoS One 10(10):e0140381, 2015 and 11(6):e0157112, 2016."
)
#: Metrics a card reports, in this order, when they were measured.
CARD_METRICS = (*KEY_METRICS, "nll")
#: Our metric keys -> the Hub's metric id (hf.co/metrics) and its arguments, where the Hub has one.
#: Balanced accuracy is recall averaged over the classes. ECE and NLL have no Hub id: they keep ours.
HUB_METRICS: dict[str, tuple[str, dict[str, str] | None]] = {
    "accuracy": ("accuracy", None),
    "macro_f1": ("f1", {"average": "macro"}),
    "balanced_accuracy": ("recall", {"average": "macro"}),
}

_NOT_RECORDED = "Not recorded. Pass `model_card={...}` to `save_pretrained` to describe it."
_TAGS = ["image-classification", "medical-imaging", "mri", "brain-tumour", "timm", "not-for-clinical-use"]
_CARD_TEMPLATE = """---
{{ card_data }}
---
# {{ model_name }}

> **Not for clinical use.** This model is research software. It is not a medical device, has not
> been validated for diagnosis, and must not be used to make decisions about patients.

{{ body }}
"""


def _ci_text(ci: Sequence[float] | None) -> str:
    return f" [{float(ci[0]):.3f}, {float(ci[1]):.3f}]" if ci else ""


def _eval_results(
    metrics: Mapping[str, Any],
    ci95: Mapping[str, Sequence[float]],
    *,
    dataset_name: str,
    dataset_type: str,
    dataset_split: str | None = None,
) -> list[Any]:
    """``EvalResult`` entries of the numeric metrics; an interval, where known, goes in the name."""
    from huggingface_hub import EvalResult

    results = []
    for key, value in metrics.items():
        if not is_real(value):
            continue  # counts and notes are not metrics
        ci = ci95.get(key)
        hub_id, args = HUB_METRICS.get(key, (key, None))
        results.append(
            EvalResult(
                task_type="image-classification",
                dataset_type=dataset_type,
                dataset_name=dataset_name,
                dataset_split=dataset_split,
                metric_type=hub_id,
                metric_args=args,
                metric_value=round(float(value), 4),
                metric_name=f"{key} (95% CI{_ci_text(ci)})" if ci else key,  # our key: the table's row
            )
        )
    return results


def _metric_ids(results: Sequence[Any]) -> list[str] | None:
    """The card header's ``metrics:``: the Hub ids of the results, once each, in order."""
    return list(dict.fromkeys(r.metric_type for r in results)) or None


def _hub_source(repo_id: str) -> str:
    """timm's name for a Hub repo ``org/name`` or a local folder."""
    if repo_id.startswith(("hf-hub:", "local-dir:")):
        return repo_id
    looks_like_repo = repo_id.count("/") == 1 and not repo_id.startswith((".", "/", "~"))
    return f"hf-hub:{repo_id}" if looks_like_repo else f"local-dir:{repo_id}"


def how_to_load(repo_id: str, *, bundled_tag: str | None = None) -> str:
    """The card's "How to load" section for the Hub repo (or folder) ``repo_id``.

    Args:
        repo_id: ``org/name`` of the Hub repo, or the folder the card lives in.
        bundled_tag: ``arch.tag`` of weights shipped inside the package, loadable offline.
    """
    source = _hub_source(repo_id)
    name = source.split(":", 1)[1]
    if bundled_tag:
        create = (
            f'model = timm.create_model("{bundled_tag}", pretrained=True).eval()  '
            f"# offline: shipped in the package\n"
            f'# or, once published: timm.create_model("{source}", pretrained=True)'
        )
        also = f'`bve.create_model("{bundled_tag}", pretrained=True)` or `bve.from_pretrained("{name}")`'
    else:
        create = f'model = timm.create_model("{source}", pretrained=True).eval()'
        also = f'`bve.from_pretrained("{name}")`'
    return f"""## How to load
```bash
pip install brainvit-effnet
```

```python
import brainvit_effnet as bve  # first: registers brainvit-effnet's architectures with timm
import timm

{create}
preprocess = bve.preprocess_for(model)  # brain crop, resize, channels, normalisation: as trained
x = preprocess("slice.png")[None]  # an image file, DICOM, NIfTI slice, array or tensor
probabilities = model(x).softmax(-1)
```

The same model also loads with {also}. Use `bve.preprocess_for(model)`, not
`timm.data.create_transform(**timm.data.resolve_model_data_config(model))`: timm's transform has
no brain crop and centre-crops, so it feeds the model inputs it was not trained on."""


def _preprocessing_text(cfg: Mapping[str, Any], input_size: Any, *, key: str) -> str:
    """The card's "Preprocessing" section; ``key`` is where config.json records it."""
    pre = preprocessing_of(cfg)
    resize = pre.get("resize") or (
        f"{pre['interpolation']}{' with antialiasing' if pre.get('antialias') else ''} (torchvision)"
    )
    channels = pre.get("channels") or "the greyscale slice repeated to every input channel"
    return f"""## Preprocessing
Brain crop: {"on" if pre.get("brain_crop") else "off"}; resize to {list(input_size)} ({resize}), no
centre crop; {channels}; normalised with mean {list(cfg.get("mean", ()))} and std
{list(cfg.get("std", ()))}. `brainvit_effnet.preprocess_for(model)` applies exactly this (config.json
records it under `{key}`)."""


def _card(data: Any, model_name: str, body: str) -> str:
    from huggingface_hub import ModelCard

    card = ModelCard.from_template(data, template_str=_CARD_TEMPLATE, body=body, model_name=model_name)
    problems = card_metadata_problems(str(card))
    if problems:  # what a caller's model_card= holds can break them (e.g. datasets as mappings)
        raise InvalidArgumentError(
            f"the model card for {model_name} would break the Hub's metadata rules: {'; '.join(problems)}. "
            f"Check the fields given in model_card= (datasets, metrics: names and numbers)."
        )
    return str(card)


#: Header fields the Hub reads as one string, or as a string or a list of strings.
_STRING_FIELDS = ("license", "license_name", "license_link", "library_name", "pipeline_tag", "model_name")
_STRING_OR_LIST_FIELDS = ("datasets", "metrics", "tags", "base_model", "language")


def card_metadata_problems(text: str) -> list[str]:
    """What in a model card's YAML header breaks the Hub's metadata rules, checked offline.

    The checks are those of the Hub's model card specification that need no network: the header
    is a YAML mapping; ``license``, ``library_name``, ``pipeline_tag`` are strings (``license:
    other`` with ``license_name`` and ``license_link``); ``datasets``, ``metrics``, ``tags``,
    ``base_model`` and ``language`` are strings or lists of strings; ``model-index`` parses with
    ``huggingface_hub``'s own reader, and every metric value in it is a finite number. Whether the
    ids name existing Hub repos, and the Hub's server-side checks, need the Hub
    (``huggingface_hub.ModelCard.validate``).

    Returns:
        One sentence per problem; empty when the header passes.
    """
    import math

    import yaml
    from huggingface_hub import ModelCardData
    from huggingface_hub.repocard_data import model_index_to_eval_results

    if not isinstance(text, str):
        raise InvalidTypeError(f"text must be the card's text (str); got {type(text).__name__}.")
    if not text.startswith("---"):
        return ["the card has no YAML header (a '---' block at the top)"]
    header = text.split("---", 2)[1] if text.count("---") >= 2 else ""
    try:
        meta = yaml.safe_load(header)
    except yaml.YAMLError as e:
        return [f"the YAML header does not parse ({str(e).splitlines()[0]})"]
    if not isinstance(meta, dict):
        return ["the YAML header is not a mapping of fields"]
    problems = []
    for key in _STRING_FIELDS:
        if key in meta and not isinstance(meta[key], str):
            problems.append(f"{key} must be a string, not {type(meta[key]).__name__}")
    for key in _STRING_OR_LIST_FIELDS:
        value = meta.get(key)
        if value is not None and not (
            isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value))
        ):
            problems.append(f"{key} must be a string or a list of strings")
    if meta.get("license") == "other" and not (meta.get("license_name") and meta.get("license_link")):
        problems.append("license: other needs license_name and license_link")
    if "model-index" in meta:
        try:
            _, results = model_index_to_eval_results(meta["model-index"])
        except (KeyError, TypeError, ValueError) as e:
            problems.append(f"model-index does not parse ({type(e).__name__}: {e})")
        else:
            for r in results:
                value = r.metric_value
                if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                    problems.append(f"model-index metric {r.metric_type!r} has value {value!r}, not a number")
    if not problems:
        try:
            ModelCardData(**meta)
        except (TypeError, ValueError) as e:
            problems.append(f"huggingface_hub's ModelCardData refuses it ({e})")
    return problems


def build_model_card(arch_tag: str, provenance: Mapping[str, Any], repo_id: str) -> str:
    """A Hub model card for trained weights, from their provenance record.

    Args:
        arch_tag: ``"<architecture>.<tag>"``, e.g. ``"effnet_b0.figshare"``.
        provenance: What ``pretrained_cfg["provenance"]`` records: folds, preprocessing, label
            names, ``held_out_metrics`` (with ``ci95``), recipe, training minutes, and
            ``base_model`` when the weights were fine-tuned from ImageNet weights.
        repo_id: The Hub repo the card is written for.
    """
    from huggingface_hub import ModelCardData

    m = dict(provenance.get("held_out_metrics", {}))
    ci95 = dict(m.get("ci95", {}))
    held_out = ", ".join(str(f) for f in provenance.get("held_out_folds") or [])
    metrics = {k: m[k] for k in CARD_METRICS if k in m}
    results = _eval_results(
        metrics,
        ci95,
        dataset_name=(
            f"Figshare brain tumour dataset, official fold {held_out} held out ({m.get('n')} slices)"
        ),
        dataset_type=FIGSHARE_DATASET_ID,
        dataset_split=f"fold {held_out}" if held_out else None,
    )
    base_model = provenance.get("base_model")
    data = ModelCardData(
        model_name=arch_tag,
        base_model=base_model or None,
        datasets=[FIGSHARE_DATASET_ID],
        metrics=_metric_ids(results),
        license=FIGSHARE_LICENSE,
        library_name="brainvit-effnet",
        pipeline_tag="image-classification",
        tags=_TAGS,
        eval_results=results or None,
    )
    labels = "\n".join(f"{i}. `{name}`" for i, name in enumerate(provenance.get("label_names", [])))
    metric_rows = "\n".join(
        f"| {key} | {float(v):.4f}{_ci_text(ci95.get(key))} |" for key, v in metrics.items()
    )
    if base_model:
        start = f"fine-tuned from timm's ImageNet-1k weights `{base_model}`"
    elif provenance.get("imagenet_weights"):  # weights from elsewhere than the Hub (the Lite packages)
        start = f"fine-tuned from ImageNet-1k weights ({provenance['imagenet_weights']})"
    else:
        start = "**trained from scratch** (random\ninitialisation, no ImageNet weights)"
    arch, recipe = parse_model_name(arch_tag).arch, provenance.get("recipe")
    pre_cfg = {**provenance.get("preprocessing", {})}
    pseudo_cfg = {"mean": pre_cfg.get("mean", ()), "std": pre_cfg.get("std", ()), "preprocessing": pre_cfg}
    preprocessing_section = _preprocessing_text(
        pseudo_cfg, provenance.get("input_size", ()), key="pretrained_cfg.provenance.preprocessing"
    )
    body = f"""## Model
`{arch_tag}`: brainvit-effnet's `{arch}`, {start} with the `{recipe}` recipe
(`brainvit-effnet train --recipe {provenance.get("recipe")}`) in {provenance.get("train_minutes")}
minutes on a CPU ({provenance.get("machine")}); best epoch {provenance.get("best_epoch")} by
validation macro-F1.

## Intended use
Research on brain-tumour classification of T1-weighted contrast-enhanced MRI slices: a baseline
to compare against, a model for the library's demo, tutorials and explanation studies.

## Labels
{labels}

## Training data and licence
{provenance.get("dataset")}. {FIGSHARE_ATTRIBUTION}
These weights are a derivative of that data and are shared under CC BY 4.0 with that attribution.

## Split protocol
{provenance.get("split_protocol")}. Accuracy on image-level random splits overstates what a
model does on new patients; compare only patient-disjoint numbers.

{preprocessing_section}

## Held-out metrics (95% bootstrap intervals)
Every slice of held-out fold {held_out} of the full release.

| metric | value |
|---|---|
{metric_rows}

ECE is the expected calibration error (15 bins); lower is better calibrated.
{_evidence_sections(provenance)}
{how_to_load(repo_id, bundled_tag=arch_tag)}

## Limitations
Trained on one public dataset (233 patients, one scanner protocol family, three tumour types, no
healthy class). Performance on other sites, sequences or populations is unknown.
"""
    return _card(data, arch_tag, body)


def _evidence_sections(provenance: Mapping[str, Any]) -> str:
    """The card's sections on whether the model is right for the right reasons and holds up elsewhere,
    from the provenance's ``localisation``, ``tumour_reliance``, ``shift_benchmark`` and ``external``
    records (each optional: a section appears only when its measurement was made)."""
    parts = []
    loc = provenance.get("localisation")
    if loc:
        parts.append(
            f"## Does it look at the tumour?\nGrad-CAM at `{loc['layer']}` "
            f"({loc['grid'][0]}x{loc['grid'][1]} map, chosen on validation fold {loc.get('chosen_on_fold')}) "
            f"on {loc['n']} held-out slices with tumour outlines: pointing game "
            f"**{loc['pointing_game']:.3f}** (a perfect map at that resolution: "
            f"{loc['resolution_cap']:.3f}), "
            f"energy inside the tumour {loc['energy_inside']:.3f} (the tumour covers "
            f"{loc['mask_fraction']:.3f} of a slice)."
        )
    rel = provenance.get("tumour_reliance")
    if rel:
        rows = "\n".join(
            f"| {name} | {r['n']} | {r['clean']:.3f} | {r['tumour_hidden']:.3f} | {r['random_hidden']:.3f} |"
            for name, r in [*rel["per_class"].items(), ("all", rel["overall"])]
        )
        parts.append(
            "Accuracy with the tumour blacked out, against a region of the same shape blacked out "
            "elsewhere in the brain (`brainvit-effnet explain --reliance`):\n\n"
            "| class | n | as is | tumour hidden | control hidden |\n|---|---|---|---|---|\n" + rows
        )
    shift = provenance.get("shift_benchmark")
    if shift:
        parts.append(
            f"## Under shifts other sources bring\nAccuracy on {shift.get('slices', 'the held-out slices')} "
            f"under 13 controlled "
            f"shifts (framing, resolution, JPEG, contrast, MRI artefacts, mirroring; 3 severities each, "
            f"`benchmarks/shift_benchmark.py`): mean **{shift['shift_mean_accuracy']:.3f}** against "
            f"{shift['clean_accuracy']:.3f} clean (ratio {shift['ratio_shift_over_clean']:.3f}); worst: "
            f"{shift['worst'][0]} at its strongest, {shift['worst'][1]:.3f}."
        )
    external = provenance.get("external")
    if external:
        parts.append(f"## On data from elsewhere\n{external}")
    return "\n" + "\n\n".join(parts) + "\n" if parts else ""


def _metrics_table(metrics: Mapping[str, Any] | None, ci95: Mapping[str, Sequence[float]]) -> str:
    if not metrics:
        return _NOT_RECORDED
    rows = "\n".join(f"| {name} | {value}{_ci_text(ci95.get(name))} |" for name, value in metrics.items())
    return f"| metric | value |\n|---|---|\n{rows}"


def card_license(model: nn.Module, card: Mapping[str, Any] | None = None) -> str | None:
    """The licence :func:`render_model_card` gives ``model`` (``save_pretrained`` records it in
    ``config.json`` too): the card's ``license``, else CC BY 4.0 for weights trained on the
    Figshare release, else the config's."""
    card = dict(card or {})
    return _licence(card, list(card.get("datasets") or []), pretrained_cfg_of(model))[0]


def _licence(card: Mapping[str, Any], datasets: list[str], cfg: Mapping[str, Any]) -> tuple[str | None, str]:
    """The card's ``license`` and its paragraph: given, else that of Figshare-trained weights, else the
    config's (timm's ImageNet backbone licence for ``.in1k`` models)."""
    if card.get("license"):
        attribution = card.get("attribution")
        text = f"Licence: {card['license']}." + (f" Attribution: {attribution}" if attribution else "")
        return str(card["license"]), text
    if FIGSHARE_DATASET_ID in datasets:
        return FIGSHARE_LICENSE, (
            f"Trained on the Figshare brain tumour dataset: {FIGSHARE_ATTRIBUTION} These weights are a "
            "derivative of that data and are shared under CC BY 4.0 with that attribution."
        )
    licence = cfg.get("license")
    return (str(licence) if licence else None), (
        f"Licence of the weights: {licence} (that of their starting point). Give the training data's "
        "licence with `model_card={'license': ..., 'attribution': ...}`."
        if licence
        else "The training data's licence was not given: pass "
        "`model_card={'license': ..., 'attribution': ...}`."
    )


def render_model_card(
    model: nn.Module,
    card: Mapping[str, Any] | None = None,
    *,
    repo_id: str | None = None,
    preprocessing: Mapping[str, Any] | None = None,
) -> str:
    """Markdown model card for ``model``, with a Hub-parsable YAML header.

    Args:
        model: A model with ``pretrained_cfg``.
        card: Optional fields: ``training_data``, ``split_protocol``, ``metrics`` (name -> value),
            ``ci95`` (name -> ``[low, high]``), ``evaluation_data`` (what the metrics were measured
            on), ``datasets`` (ids; :data:`FIGSHARE_DATASET_ID` for the Figshare release, whose
            CC BY 4.0 licence and attribution the card then carries), ``license`` and
            ``attribution`` (of the training data), ``intended_use``, ``notes``. Missing fields are
            marked as not recorded, never invented.
        repo_id: The Hub repo (``org/name``) or folder the card is for, used in "How to load".
        preprocessing: The preprocessing record saved with the model (``save_pretrained`` passes
            it); by default what the model's config records.
    """
    from huggingface_hub import ModelCardData

    card = dict(card or {})
    cfg = pretrained_cfg_of(model)
    arch = str(cfg.get("architecture") or type(model).__name__)
    labels = cfg.get("label_names") or [f"class_{i}" for i in range(getattr(model, "num_classes", 0))]
    n_params = sum(p.numel() for p in model.parameters())
    label_lines = "\n".join(f"{i}. `{name}`" for i, name in enumerate(labels))
    intended = card.get(
        "intended_use",
        "Research on brain-tumour classification of T1-weighted contrast-enhanced MRI slices: "
        "benchmarking, ablations and explainability studies.",
    )
    datasets = list(card.get("datasets") or [])
    metrics = dict(card.get("metrics") or {})
    ci95 = dict(card.get("ci95") or {})
    base_model = cfg.get("base_model")
    licence, licence_text = _licence(card, datasets, cfg)
    results = _eval_results(
        metrics,
        ci95,
        dataset_name=str(card.get("evaluation_data") or "held-out test split"),
        dataset_type=datasets[0] if datasets else "custom",
    )
    data = ModelCardData(
        model_name=arch,
        base_model=base_model or None,
        datasets=datasets or None,
        metrics=_metric_ids(results),
        license=licence,
        library_name="brainvit-effnet",
        pipeline_tag="image-classification",
        tags=_TAGS,
        eval_results=results or None,
    )
    pre_cfg = {**cfg, **({"preprocessing": dict(preprocessing)} if preprocessing else {})}
    start = (
        f"fine-tuned from timm's ImageNet-1k weights [`{base_model}`](https://huggingface.co/{base_model})"
        if base_model
        else "no ImageNet starting point recorded (trained from scratch, or from weights that name none)"
    )
    body = f"""## Model
- Architecture: `{arch}` ({type(model).__name__}, {n_params / 1e6:.2f}M parameters), built with
  [brainvit-effnet](https://pypi.org/project/brainvit-effnet/) on a timm EfficientNet backbone.
- Initialisation: {start}.
- Input: {tuple(cfg.get("input_size", ()))} (channels, height, width).

## Intended use
{intended}

## Labels
{label_lines}

## Training data
{card.get("training_data", _NOT_RECORDED)}

{licence_text}

## Split protocol
{card.get("split_protocol", _NOT_RECORDED)}

Accuracy on image-level random splits overstates what a model does on new patients; prefer
patient-disjoint splits (e.g. the official Figshare folds) when comparing numbers.

{_preprocessing_text(pre_cfg, cfg.get("input_size", ()), key="pretrained_cfg.preprocessing")}

## Metrics
{_metrics_table(metrics, ci95)}

## Notes
{card.get("notes", "None.")}

{how_to_load(repo_id or "<this folder or org/repo>")}
"""
    return _card(data, arch, body)
