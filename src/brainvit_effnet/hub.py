"""Saving, loading and publishing models: safetensors weights, timm's ``config.json``, a model card.

A folder written by :func:`save_pretrained` holds three files:

* ``model.safetensors``: the weights (with the architecture in the file's metadata);
* ``config.json``: timm's schema (``architecture``, ``num_classes``, ``label_names``,
  ``model_args``, ``pretrained_cfg``), so ``timm.create_model("local-dir:...")`` reads it too.
  ``pretrained_cfg`` records the preprocessing really used: ``interpolation`` (timm's key) and
  ``preprocessing`` (``brain_crop``, ``interpolation``, ``antialias``, ``center_crop``,
  ``channels``; see :func:`~brainvit_effnet.preprocess_for`), and ``base_model`` when the weights
  were fine-tuned from timm's ImageNet weights;
* ``README.md``: a Hub model card (:mod:`brainvit_effnet.cards`) with intended use, the
  not-for-clinical-use warning, training data and its licence, split protocol, metrics and their
  intervals, label names and how to load the model.

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
from .cards import build_model_card, card_license, render_model_card
from .data.inference import PREPROCESSING_KEY, preprocessing_of, preprocessing_record
from .errors import InvalidArgumentError, InvalidTypeError, MissingFileError
from .models import create_model
from .models._binding import binding_metadata
from .models._pretrained import WEIGHTS_NAME, pretrained_cfg_of, state_fingerprint
from .models.zoo import BUNDLED_WEIGHTS, bundled_folder

__all__ = ["build_model_card", "from_pretrained", "push_to_hub", "render_model_card", "save_pretrained"]

CONFIG_NAME = "config.json"
MODEL_CARD_NAME = "README.md"


def _architecture(model: nn.Module) -> str:
    cfg = pretrained_cfg_of(model)
    if not cfg.get("architecture"):
        raise InvalidTypeError(
            f"save_pretrained needs a model created by brainvit_effnet.create_model (or timm); "
            f"{type(model).__name__} has no pretrained_cfg['architecture']."
        )
    return str(cfg["architecture"])


def save_pretrained(
    model: nn.Module,
    save_directory: str | os.PathLike[str],
    *,
    model_card: Mapping[str, Any] | None = None,
    repo_id: str | None = None,
    brain_crop: bool | None = None,
) -> Path:
    """Write ``model.safetensors``, ``config.json`` and a ``README.md`` model card to a folder.

    Each file is written to a temporary name and renamed into place, so an interrupted save
    never leaves a truncated file behind (an existing save stays intact until replaced whole).

    Args:
        model: A model from :func:`~brainvit_effnet.create_model`.
        save_directory: Folder to create or update.
        model_card: Optional card fields; see :func:`~brainvit_effnet.cards.render_model_card`.
        repo_id: The Hub repo (``org/name``) the folder is meant for; the card's "How to load"
            names it (else the folder).
        brain_crop: Whether the model was trained on brain-cropped slices, recorded in
            ``config.json``; by default what the model's config already records, else on (the
            datasets' default).

    Returns:
        The folder, as a ``Path``.
    """
    arch = _architecture(model)
    folder = Path(save_directory).expanduser()
    if folder.exists() and not folder.is_dir():
        raise InvalidArgumentError(
            f"save_directory {folder} is a file; give a folder path (it is created if missing)."
        )
    folder.mkdir(parents=True, exist_ok=True)

    cfg = pretrained_cfg_of(model)
    label_names = cfg.get("label_names")
    recorded = preprocessing_of(model)
    crop = recorded["brain_crop"] if brain_crop is None else brain_crop
    in_chans = int(cfg["input_size"][0]) if cfg.get("input_size") else None
    preprocessing = {
        **recorded,
        **preprocessing_record(crop, in_chans),
    }  # today's resize, whatever was recorded

    state_dict = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": "pt", "architecture": arch, "library": "brainvit-effnet"}
    # The config fields that change predictions travel in the weights file: an edited config.json
    # is refused at load (models/_binding.py).
    bound = {
        **cfg,
        "num_classes": getattr(model, "num_classes", cfg.get("num_classes")),
        PREPROCESSING_KEY: preprocessing,
    }
    metadata.update(binding_metadata(bound))
    # The saved weights are no longer those of the source tag (e.g. the ImageNet backbone).
    saved_cfg: dict[str, Any] = {
        "tag": None,
        "description": f"{arch} saved with brainvit-effnet.",
        # What the transform really does (not the source tag's recipe), under timm's key and ours.
        "interpolation": preprocessing["interpolation"],
        PREPROCESSING_KEY: preprocessing,
    }
    if cfg.get("base_model"):
        saved_cfg["base_model"] = cfg["base_model"]
    # Provenance travels with the weights it describes: re-saving a loaded model unchanged keeps
    # it (and its card); weights trained since are no longer what it measured, so it is dropped.
    provenance = cfg.get("provenance")
    unchanged = bool(provenance) and getattr(model, "loaded_state_sha256", None) == state_fingerprint(model)
    if unchanged:
        saved_cfg.update(tag=cfg.get("tag"), description=cfg.get("description"), provenance=provenance)
    elif provenance:  # timm's writer would copy the loaded record over: clear it explicitly
        saved_cfg["provenance"] = None
    licence = card_license(model, model_card)
    if licence:  # the card's licence: CC BY 4.0 for weights trained on the Figshare release
        saved_cfg["license"] = licence
    model_config: dict[str, Any] = {"pretrained_cfg": saved_cfg}
    if label_names:
        model_config["label_names"] = list(label_names)
    # The card first: a model_card= the Hub would refuse stops the save before any file is written.
    if unchanged and model_card is None and cfg.get("tag"):
        card = build_model_card(f"{arch}.{cfg['tag']}", provenance, repo_id or str(folder))
    else:
        card = render_model_card(
            model, model_card, repo_id=repo_id or str(folder), preprocessing=preprocessing
        )
    write_path_atomically(folder / WEIGHTS_NAME, lambda p: save_file(state_dict, str(p), metadata=metadata))
    write_path_atomically(
        folder / CONFIG_NAME, lambda p: save_config_for_hf(model, str(p), model_config=model_config)
    )
    write_text_atomically(folder / MODEL_CARD_NAME, card)
    return folder


def from_pretrained(name_or_path: str | os.PathLike[str], **kwargs: Any) -> nn.Module:
    """Load a model saved by :func:`save_pretrained` from a folder or a Hub repo ``org/name``.

    A model shipped in the package also loads by its zoo name (``"effnet_b0.figshare"``) or its
    Hub repo name (``"brainvit-effnet/effnet_b0.figshare"``), offline: the shipped copy wins.
    Keyword arguments go to :func:`~brainvit_effnet.create_model` (``num_classes``, ``cache_dir``...).
    """
    name = os.fspath(name_or_path)
    shipped = bundled_folder(name)
    if shipped is not None and not Path(name).expanduser().is_dir():
        source = f"local-dir:{shipped}"
    elif name.startswith(("hf-hub:", "local-dir:")):
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
        raise MissingFileError(
            f"{name!r} is neither an existing folder, a Hub repo id 'org/name', nor a model shipped in "
            f"the package ({', '.join(sorted(BUNDLED_WEIGHTS))}). Give the folder save_pretrained wrote, "
            f"'org/name' of a Hub repo, or a shipped model's name.{hint}"
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
    brain_crop: bool | None = None,
) -> str:
    """Save the model as :func:`save_pretrained` does and upload the folder to a Hub repo.

    The repo is created if missing; the model card's "How to load" names ``repo_id``. Returns the
    URL of the commit.
    """
    from huggingface_hub import HfApi

    api = HfApi(token=token, library_name="brainvit-effnet", library_version=__version__)
    repo_url = api.create_repo(repo_id, private=private, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        save_pretrained(model, tmp, model_card=model_card, repo_id=repo_id, brain_crop=brain_crop)
        commit = api.upload_folder(
            repo_id=getattr(repo_url, "repo_id", repo_id),
            folder_path=tmp,
            commit_message=commit_message,
            revision=revision,
            create_pr=create_pr,
        )
    return str(getattr(commit, "commit_url", commit))
