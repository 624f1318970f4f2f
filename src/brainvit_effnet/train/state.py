"""Resumable training state without pickle: tensors in safetensors, everything else in JSON.

Optimiser, scheduler, EMA and RNG states are nested dicts/lists of numbers, strings and tensors.
:func:`save_state` splits such a structure into a safetensors file (the tensors, under generated
keys) and a JSON file (the structure, with ``{"__tensor__": key}`` placeholders), so loading
never unpickles anything. Tuples are kept as tuples, and integer dict keys (optimiser state is
keyed by parameter index) stay integers.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from ..errors import CheckpointError, InvalidTypeError

__all__ = ["capture_rng", "load_state", "load_weights", "restore_rng", "save_state"]

_TENSOR, _TUPLE, _INTKEYS, _NDARRAY = "__tensor__", "__tuple__", "__intkeys__", "__ndarray__"


def _encode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, torch.Tensor):
        key = f"t{len(tensors)}"
        tensors[key] = value.detach().cpu().contiguous()
        return {_TENSOR: key}
    if isinstance(value, np.ndarray):
        return {
            _NDARRAY: _encode(torch.from_numpy(np.ascontiguousarray(value)), tensors),
            "dtype": str(value.dtype),
        }
    if isinstance(value, dict):
        if value and all(isinstance(k, int) for k in value):
            return {_INTKEYS: {str(k): _encode(v, tensors) for k, v in value.items()}}
        if not all(isinstance(k, str) for k in value):
            raise InvalidTypeError(
                f"state dict keys must be str or int; got {[type(k).__name__ for k in value]}."
            )
        return {k: _encode(v, tensors) for k, v in value.items()}
    if isinstance(value, tuple):
        return {_TUPLE: [_encode(v, tensors) for v in value]}
    if isinstance(value, list):
        return [_encode(v, tensors) for v in value]
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    raise InvalidTypeError(f"cannot store {type(value).__name__} in a training state without pickle.")


def _decode(value: Any, tensors: dict[str, torch.Tensor]) -> Any:
    if isinstance(value, dict):
        if _TENSOR in value:
            return tensors[value[_TENSOR]]
        if _NDARRAY in value:
            return _decode(value[_NDARRAY], tensors).numpy().astype(value["dtype"])
        if _TUPLE in value:
            return tuple(_decode(v, tensors) for v in value[_TUPLE])
        if _INTKEYS in value:
            return {int(k): _decode(v, tensors) for k, v in value[_INTKEYS].items()}
        return {k: _decode(v, tensors) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    return value


def save_state(state: dict[str, Any], folder: str | os.PathLike[str], name: str = "trainer_state") -> None:
    """Write ``name.safetensors`` and ``name.json`` into ``folder`` (which must exist)."""
    tensors: dict[str, torch.Tensor] = {}
    structure = _encode(state, tensors)
    folder = Path(folder)
    save_file(tensors, str(folder / f"{name}.safetensors"))
    # Not strict JSON on purpose: the state must come back exactly as saved (a NaN in the history
    # stays NaN, not None), and only load_state reads it. The folder is written aside and renamed
    # into place, so the write is atomic as a whole.
    (folder / f"{name}.json").write_text(json.dumps(structure, indent=1), encoding="utf-8")


def load_state(folder: str | os.PathLike[str], name: str = "trainer_state") -> dict[str, Any]:
    """Read what :func:`save_state` wrote.

    Raises:
        CheckpointError: missing, truncated or inconsistent files (names the file).
    """
    folder = Path(folder)
    tensor_file, json_file = folder / f"{name}.safetensors", folder / f"{name}.json"
    for path in (tensor_file, json_file):
        if not path.is_file():
            raise CheckpointError(f"{path} is missing: {folder} is not a complete training checkpoint.")
    try:
        tensors = load_file(str(tensor_file))
        structure = json.loads(json_file.read_text(encoding="utf-8"))
        state = _decode(structure, tensors)
    except (SafetensorError, json.JSONDecodeError, KeyError, OSError) as e:
        raise CheckpointError(
            f"training checkpoint {folder} is corrupted ({type(e).__name__}: {e}); resume from another "
            f"checkpoint (e.g. best/ or last/) or start a new run."
        ) from e
    if not isinstance(state, dict):
        raise CheckpointError(f"{json_file} does not hold a training state.")
    return state


def load_weights(model: torch.nn.Module, folder: str | os.PathLike[str]) -> None:
    """Load ``folder/model.safetensors`` into ``model`` exactly (same architecture, strict keys)."""
    path = Path(folder) / "model.safetensors"
    try:
        state_dict = load_file(str(path))
        model.load_state_dict(state_dict, strict=True)
    except (SafetensorError, OSError, RuntimeError) as e:
        raise CheckpointError(
            f"cannot load the weights of checkpoint {path} ({type(e).__name__}: {e}); it is corrupted or "
            f"from another model configuration."
        ) from e


def capture_rng() -> dict[str, Any]:
    """Python, numpy and torch (CPU and CUDA) random states."""
    version, internal, gauss = random.getstate()
    state: dict[str, Any] = {
        "python": {"version": version, "internal": list(internal), "gauss": gauss},
        "numpy": list(np.random.get_state(legacy=True)),
        "torch": torch.get_rng_state(),
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Restore what :func:`capture_rng` captured."""
    py = state["python"]
    random.setstate((py["version"], tuple(py["internal"]), py["gauss"]))
    np_state = state["numpy"]
    np.random.set_state((np_state[0], np.asarray(np_state[1], dtype=np.uint32), *np_state[2:]))
    torch.set_rng_state(state["torch"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(list(state["cuda"]))
