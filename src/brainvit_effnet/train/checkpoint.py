"""Run folders and checkpoints: written atomically, never overwritten by accident.

A checkpoint is a folder: ``model.safetensors`` + ``config.json`` + ``README.md`` (exactly what
:func:`~brainvit_effnet.save_pretrained` writes, so ``from_pretrained`` loads it) plus
``trainer_state.safetensors`` / ``trainer_state.json`` (optimiser, scheduler, EMA, RNG, counters;
see :mod:`.state`). A new checkpoint is assembled in a temporary folder and swapped in by rename,
so the previous one stays intact until the new one is complete.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from safetensors.torch import save_file
from torch import nn

from .._checks import is_int
from ..errors import CheckpointError, OutputExistsError
from ..hub import save_pretrained
from .state import save_state

__all__ = ["check_output_dir", "check_same_architecture", "tidy_checkpoints", "write_checkpoint"]

_RUN_MARKERS = ("log.jsonl", "checkpoints", "train_config.json")
#: What to do about a folder that holds a run, in API words (the CLI says it in its own flags).
RUN_FOLDER_ADVICE = "Choose another output_dir, resume it (resume=...), or pass overwrite=True to replace it."


def check_output_dir(folder: Path, *, overwrite: bool, resuming: bool) -> None:
    """Refuse to write a new run into a folder that already holds one."""
    if resuming or overwrite or not folder.exists():
        return
    found = [m for m in _RUN_MARKERS if (folder / m).exists()]
    if found:
        raise OutputExistsError(
            f"{folder} already holds a training run ({', '.join(found)}). {RUN_FOLDER_ADVICE}"
        )


def write_checkpoint(
    folder: Path, model: nn.Module, state: dict[str, Any], *, model_card: dict[str, Any] | None = None
) -> Path:
    """Write a checkpoint folder atomically (temporary folder, then rename over the old one)."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}.", dir=folder.parent))
    try:
        if getattr(model, "pretrained_cfg", {}).get("architecture"):
            save_pretrained(model, tmp, model_card=model_card)
        else:  # a plain nn.Module: weights only
            save_file(
                {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()},
                str(tmp / "model.safetensors"),
            )
        save_state(state, tmp)
        _swap_in(tmp, folder)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return folder


def tidy_checkpoints(folder: Path) -> list[str]:
    """Repair what a killed :func:`write_checkpoint` left in ``folder`` (a run's ``checkpoints/``).

    A checkpoint moved aside (``.<name>.old-<pid>``) whose replacement never arrived is put back;
    one whose replacement did arrive is removed, as are temporary folders (``.<name>.<random>``)
    of writes that never finished. Returns one line per action, for the log.
    """
    actions: list[str] = []
    if not folder.is_dir():
        return actions
    for old in sorted(folder.glob(".*.old-*")):
        target = folder / old.name[1:].split(".old-")[0]
        if target.exists():
            shutil.rmtree(old, ignore_errors=True)
            actions.append(f"removed {old.name} (already replaced by {target.name})")
        else:
            os.replace(old, target)
            actions.append(f"restored {target.name} from {old.name} (its replacement was never written)")
    for tmp in sorted(p for p in folder.glob(".*") if p.is_dir() and ".old-" not in p.name):
        shutil.rmtree(tmp, ignore_errors=True)
        actions.append(f"removed {tmp.name} (an unfinished checkpoint write)")
    return actions


def _swap_in(new: Path, target: Path) -> None:
    # A directory cannot be atomically replaced by rename when the target exists: move the old
    # one aside first; if we die in between, the complete new folder and the old one both exist.
    old: Path | None = None
    if target.exists():
        old = target.with_name(f".{target.name}.old-{os.getpid()}")
        shutil.rmtree(old, ignore_errors=True)
        os.replace(target, old)
    os.replace(new, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def check_same_architecture(checkpoint: Path, model: nn.Module, model_args: dict[str, Any]) -> None:
    """Resuming needs the same architecture and arguments the checkpoint was trained with."""
    arch = getattr(model, "pretrained_cfg", {}).get("architecture")
    if arch is None:  # a plain nn.Module: the strict weight load is the check
        return
    config_file = checkpoint / "config.json"
    if not config_file.is_file():
        raise CheckpointError(f"{checkpoint} has no config.json: not a checkpoint written by the Trainer.")
    try:
        saved = json.loads(config_file.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointError(f"{config_file} is corrupted ({e}).") from e
    if saved.get("architecture") != arch:
        raise CheckpointError(
            f"cannot resume: {checkpoint} was trained with '{saved.get('architecture')}', "
            f"this model is '{arch}'. "
            f"Create the model the run used (from_pretrained('{checkpoint}') rebuilds it)."
        )
    saved_args = saved.get("model_args", {})
    differ = {
        k: (saved_args.get(k), v)
        for k, v in model_args.items()
        if k in saved_args and _comparable(k, saved_args.get(k)) != _comparable(k, v)
    }
    if saved.get("num_classes") != getattr(model, "num_classes", None):
        differ["num_classes"] = (saved.get("num_classes"), getattr(model, "num_classes", None))
    if differ:
        detail = "; ".join(f"{k}: checkpoint {a!r} vs model {b!r}" for k, (a, b) in differ.items())
        raise CheckpointError(
            f"cannot resume from {checkpoint} with a different model configuration: {detail}."
        )


def _comparable(key: str, value: Any) -> Any:
    """``value`` as JSON would hold it; an ``img_size`` of ``96`` means ``[96, 96]``."""
    if key == "img_size" and is_int(value):
        value = [value, value]
    return _jsonish(value)


def _jsonish(value: Any) -> Any:
    return json.loads(json.dumps(value, default=str))
