"""``create_model`` and ``list_models``: the public entry points of the zoo.

``create_model`` validates names and sources up front (clear errors instead of timm's bare
``RuntimeError``), then delegates to ``timm.create_model`` so both spellings build the same model.
"""

from __future__ import annotations

import fnmatch
import inspect
import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import timm
from timm.models._hub import _parse_model_cfg as parse_timm_config
from timm.models._hub import load_cfg_from_json, load_model_config_from_path
from torch import nn

from .._suggest import did_you_mean
from ..errors import CheckpointError, InvalidTypeError, MissingFileError
from ._binding import check_binding
from ._pretrained import (
    WEIGHTS_NAME,
    head_classes_in_file,
    hub_download,
    load_checkpoint,
    read_metadata,
    weights_file,
)
from .names import parse_model_name
from .zoo import MODEL_NAMES, default_cfgs, resolve_config

__all__ = ["create_model", "list_models", "resolve_model_config"]

_CONFIG_NAME = "config.json"


def list_models(filter: str | Sequence[str] = "", pretrained: bool = False) -> list[str]:
    """Names of this library's models (never timm's own), optionally filtered by wildcards.

    Args:
        filter: Shell-style pattern(s), e.g. ``"effnet_b*_tf"``; empty matches everything.
        pretrained: List ``arch.tag`` names of the pretrained tags instead of architectures.

    Examples:
        >>> list_models("effnet_b2*")
        ['effnet_b2', 'effnet_b2_tf']
    """
    if pretrained:
        names = [f"{arch}.{tag}" for arch in MODEL_NAMES for tag in default_cfgs[arch].tags]
    else:
        names = list(MODEL_NAMES)
    patterns = [filter] if isinstance(filter, str) else list(filter)
    patterns = [p for p in patterns if p]
    if patterns:
        names = [n for n in names if any(fnmatch.fnmatchcase(n, p) for p in patterns)]
    return sorted(names)


def _architecture_args(arch: str) -> set[str]:
    """The options that build ``arch`` (its model class's arguments, plus ``label_names``)."""
    from .effnet import EffNetBaseline, EffNetTransformer

    model_cls = EffNetTransformer if parse_model_name(arch).is_transformer else EffNetBaseline
    # `backbone` is the variant's own (never a saved option); device/dtype are not architecture.
    skip = {"self", "backbone", "device", "dtype"}
    names = inspect.signature(model_cls.__init__).parameters
    return {n for n, p in names.items() if n not in skip and p.kind is not p.VAR_KEYWORD} | {"label_names"}


def _check_saved_model_args(model_args: dict[str, Any], arch: str, where: str) -> None:
    """A saved config may only set architecture options: never where weights come from.

    ``model_args`` go to ``timm.create_model``, which would honour ``checkpoint_path`` (a
    ``torch.load`` of any pickle on disk) or ``pretrained_cfg*`` (another weight source) and so
    replace the folder's safetensors without a word.
    """
    known = _architecture_args(arch)
    unknown = sorted(k for k in model_args if k not in known)
    if unknown:
        raise CheckpointError(
            f"{_CONFIG_NAME} of {where} sets model_args {unknown}, which are not architecture options of "
            f"{arch} ({sorted(known)}). A saved config never chooses where the weights come from "
            f"(checkpoint_path, pretrained_cfg...); remove those keys, or save the model again."
        )


def _check_saved_head(
    source: str, ident: str, model_args: dict[str, Any], cache_dir: str | os.PathLike[str] | None
) -> None:
    """A saved model loads with its trained head, or not at all: its config and weights must agree.

    Re-initialising the head is for fine-tuning, when the caller asks for another ``num_classes``;
    loading a saved model for inference with a random head would give random predictions.
    """
    declared = model_args.get("num_classes")
    if declared is None:
        return
    path = weights_file(ident) if source == "local-dir" else hub_download(ident, WEIGHTS_NAME, cache_dir)
    if not path.is_file():
        return  # the weights loader names the missing file
    try:
        saved = head_classes_in_file(path)
    except CheckpointError:
        return  # a damaged file: the weights loader names what is wrong with it
    if saved is not None and saved != declared:
        raise CheckpointError(
            f"{ident}: {_CONFIG_NAME} says num_classes={declared} but {path.name} holds a {saved}-class "
            f"head. A saved model is never loaded with a re-initialised head: save it again, or pass "
            f"num_classes= to start a new head on purpose (fine-tuning)."
        )


def _check_saved_values(pretrained_cfg: dict[str, Any], model_args: dict[str, Any], where: str) -> None:
    """The values of a saved config that decide what a prediction means have the right form.

    ``label_names: "abc"`` would become three classes, duplicate names would merge two, and
    ``"brain_crop": "false"`` is a true string: each is refused, naming the file.
    """
    names = pretrained_cfg.get("label_names")
    classes = pretrained_cfg.get("num_classes", model_args.get("num_classes"))
    if names is not None:
        if not isinstance(names, (list, tuple)) or not all(isinstance(n, str) and n for n in names):
            raise CheckpointError(
                f"{_CONFIG_NAME} of {where}: label_names must be a list of class names; got {names!r:.80}."
            )
        if len(set(names)) != len(names):
            raise CheckpointError(f"{_CONFIG_NAME} of {where}: label_names repeats a name: {list(names)}.")
        if classes is not None and len(names) != classes:
            raise CheckpointError(
                f"{_CONFIG_NAME} of {where}: {len(names)} label_names for num_classes={classes}."
            )
    crop = (pretrained_cfg.get("preprocessing") or {}).get("brain_crop")
    if crop is not None and not isinstance(crop, bool):
        raise CheckpointError(
            f"{_CONFIG_NAME} of {where}: preprocessing.brain_crop must be true or false; got {crop!r:.40}."
        )


def _parse_source(model_name: str) -> tuple[str, str]:
    """Split a model name into (source, identifier): registry, hf-hub or local-dir."""
    if not isinstance(model_name, str) or not model_name:
        raise InvalidTypeError(
            f"model_name must be a non-empty string such as 'effnet_b2_tf'; got {model_name!r}."
        )
    for prefix in ("hf-hub:", "local-dir:"):
        if model_name.startswith(prefix):
            return prefix[:-1], model_name[len(prefix) :]
    if os.sep in model_name or model_name.startswith((".", "~")) or Path(model_name).is_dir():
        return "local-dir", model_name
    return "registry", model_name


def _read_config(
    source: str, ident: str, cache_dir: str | os.PathLike[str] | None
) -> tuple[dict[str, Any], str, dict[str, Any]]:
    """Read a save_pretrained ``config.json`` from a folder or Hub repo (timm's schema)."""
    if source == "local-dir":
        folder = Path(ident).expanduser()
        config_file = folder / _CONFIG_NAME
        if not folder.is_dir():
            hub_hint = (
                f" For a Hugging Face Hub repo write 'hf-hub:{ident}'." if ident.count("/") == 1 else ""
            )
            raise MissingFileError(f"model folder {folder} does not exist.{hub_hint}")
        if not config_file.is_file():
            raise MissingFileError(
                f"{folder} has no {_CONFIG_NAME}: expected a folder written by save_pretrained "
                f"(model.safetensors + config.json). For a bare weights file use "
                f"create_model('<architecture>', checkpoint_path='{folder}')."
            )
        try:
            return load_model_config_from_path(folder)
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise CheckpointError(
                f"{config_file} is not a valid model config ({type(e).__name__}: {e}); save the model again."
            ) from e
    config_file = hub_download(ident, _CONFIG_NAME, cache_dir)
    try:
        config = load_cfg_from_json(config_file)
        return parse_timm_config(config, {"hf_hub_id": ident, "source": "hf-hub"})
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise CheckpointError(
            f"{_CONFIG_NAME} of Hub repo '{ident}' is not a valid model config ({e})."
        ) from e


def _arguments(
    model_name: str,
    pretrained: bool,
    *,
    num_classes: int | None,
    in_chans: int | None,
    cache_dir: str | os.PathLike[str] | None,
    **kwargs: Any,
) -> tuple[str, Any, dict[str, Any]]:
    """``model_name`` and options -> (architecture, pretrained tag or saved config, model options).

    What :func:`create_model` hands to timm and :func:`resolve_model_config` to the zoo's resolver:
    a saved model's ``config.json`` is read and checked here, once for both.
    """
    source, ident = _parse_source(model_name)
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    if in_chans is not None:
        kwargs["in_chans"] = in_chans
    if source == "registry":
        name = parse_model_name(ident)
        return name.arch, name.tag, kwargs
    pretrained_cfg, arch, model_args = _read_config(source, ident, cache_dir)
    parse_model_name(arch, where=ident)
    _check_saved_model_args(model_args, arch, ident)
    # config.json holds the labels twice (pretrained_cfg, and the model_args that build the model
    # and win): both copies are checked, so an edit to either is caught.
    built = {
        **pretrained_cfg,
        **{k: model_args[k] for k in ("label_names", "num_classes") if k in model_args},
    }
    views = (pretrained_cfg, built)
    for view in views:
        _check_saved_values(view, model_args, ident)
    if pretrained and num_classes is None:
        _check_saved_head(source, ident, model_args, cache_dir)
        path = weights_file(ident) if source == "local-dir" else hub_download(ident, WEIGHTS_NAME, cache_dir)
        if path.is_file():
            metadata = read_metadata(path)
            for view in views:
                check_binding(view, metadata, f"{ident}/{_CONFIG_NAME}")
    return arch, pretrained_cfg, {**model_args, **kwargs, "pretrained_model_args": dict(model_args)}


def resolve_model_config(
    model_name: str,
    pretrained: bool = False,
    *,
    num_classes: int | None = None,
    in_chans: int | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> dict[str, Any]:
    """The ``pretrained_cfg`` that :func:`create_model` would give the model, without building it.

    Input size, mean/std, interpolation, ``num_classes`` and ``label_names``: what preprocessing
    (:func:`~brainvit_effnet.data.create_transforms`) and reports need, for the price of a dict.
    Nothing is built and no weights are read; a saved model (``hf-hub:``/``local-dir:``) has its
    ``config.json`` read (downloaded once for a Hub repo).

    Args:
        model_name: As for :func:`create_model`.
        pretrained: Add what the weights' config records (provenance, preprocessing, base model).
        num_classes: As for :func:`create_model`.
        in_chans: As for :func:`create_model`.
        cache_dir: As for :func:`create_model`.
        **kwargs: The model options :func:`create_model` takes (``img_size``, ``label_names``,
            ``depth``...); options that only shape the network are checked by name, not value.

    Raises:
        UnknownModelError: unknown architecture or tag (with close names suggested).
        TypeError: an option the architecture does not take.

    Examples:
        >>> cfg = resolve_model_config("effnet_b2_tf", img_size=128)
        >>> cfg["input_size"], cfg["interpolation"]
        ((3, 128, 128), 'bilinear')
    """
    arch, pretrained_cfg, kwargs = _arguments(
        model_name, pretrained, num_classes=num_classes, in_chans=in_chans, cache_dir=cache_dir, **kwargs
    )
    known = _architecture_args(arch) | {"pretrained_model_args", "pretrained_cfg_overlay", "device", "dtype"}
    for option in kwargs:
        if option not in known:
            raise InvalidTypeError(
                f"{arch} takes no option {option!r}{did_you_mean(option, known)}; its options are "
                f"{sorted(known - {'pretrained_model_args', 'device', 'dtype'})}."
            )
    return resolve_config(arch, pretrained, pretrained_cfg=pretrained_cfg, **kwargs)


def create_model(
    model_name: str,
    pretrained: bool = False,
    *,
    num_classes: int | None = None,
    in_chans: int | None = None,
    checkpoint_path: str | os.PathLike[str] | None = None,
    cache_dir: str | os.PathLike[str] | None = None,
    **kwargs: Any,
) -> nn.Module:
    """Create a baseline or transformer-enhanced EfficientNet, optionally with weights.

    Args:
        model_name: An architecture (``"effnet_b2_tf"``), ``arch.tag`` (``"effnet_b2_tf.figshare"``),
            ``"hf-hub:org/repo"``, or a folder written by :func:`~brainvit_effnet.save_pretrained`
            (``"local-dir:path"`` or a plain path).
        pretrained: Load the tag's weights (default tag: ``in1k``, an ImageNet backbone with a new
            head), or the weights of the Hub repo / folder.
        num_classes: Output classes. Defaults to the weights' class count; a different count
            re-initialises the head and logs a warning.
        in_chans: Input channels; ``1`` adapts the stem (and pretrained stem weights) to greyscale.
        checkpoint_path: A ``model.safetensors`` (or save_pretrained folder) loaded after creation.
            Without ``num_classes`` the class count is taken from the file, so a trained head is kept.
        cache_dir: Hugging Face Hub cache to use instead of ``HF_HUB_CACHE``/``HF_HOME``.
        **kwargs: Architecture options, e.g. ``depth``, ``num_heads``, ``mlp_ratio``,
            ``global_pool`` (``"avg"``/``"token"``), ``pos_embed`` (``"learned"``/``"sincos"``/
            ``"none"``), ``drop_path_rate``, ``cbam``, ``embed_dim``, ``img_size``, ``label_names``.

    Returns:
        The model, in train mode, with ``pretrained_cfg`` describing its preprocessing and labels.

    Raises:
        UnknownModelError: unknown architecture or tag (with close names suggested).
        WeightsUnavailableError: weights neither cached nor downloadable.
        CheckpointError: unreadable weights, or weights of another architecture.

    Examples:
        >>> model = create_model("effnet_test_tf", num_classes=3)
        >>> model.pretrained_cfg["input_size"]
        (3, 64, 64)
    """
    arch, pretrained_cfg, kwargs = _arguments(
        model_name, pretrained, num_classes=num_classes, in_chans=in_chans, cache_dir=cache_dir, **kwargs
    )
    if checkpoint_path is not None and "num_classes" not in kwargs:
        saved_classes = head_classes_in_file(weights_file(checkpoint_path))
        if saved_classes is not None:
            kwargs["num_classes"] = saved_classes

    model = timm.create_model(
        arch,
        pretrained=pretrained,
        pretrained_cfg=pretrained_cfg,
        cache_dir=None if cache_dir is None else Path(cache_dir),
        **kwargs,
    )
    if checkpoint_path is not None:
        load_checkpoint(model, checkpoint_path)
    return model
