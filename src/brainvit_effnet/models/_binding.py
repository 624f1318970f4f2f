"""What binds a saved model's ``config.json`` to its weights: the fields that change predictions.

``save_pretrained`` writes these fields (labels, input size, normalisation, preprocessing) into
the weights file's metadata as canonical JSON with its SHA-256. Loading compares them with
``config.json``: an edited label order, a class name, a brain-crop switch or a normalisation that
no longer matches the weights is refused, naming the field, instead of relabelling every
prediction in silence. Files saved before this rule carry no binding and load as before.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from typing import Any

from ..errors import CheckpointError

__all__ = ["BINDING_KEY", "BOUND_FIELDS", "binding_metadata", "check_binding"]

#: The pretrained_cfg fields bound to the weights. "preprocessing" is
#: ``brainvit_effnet.data.inference.PREPROCESSING_KEY`` (this layer cannot import the data layer;
#: a test checks they agree).
BOUND_FIELDS = ("label_names", "num_classes", "input_size", "mean", "std", "preprocessing")
#: Metadata keys of the weights file.
BINDING_KEY = "brainvit_config"
_HASH_KEY = "brainvit_config_sha256"


def _bound(cfg: Mapping[str, Any]) -> dict[str, Any]:
    # Through JSON: tuples and lists compare equal, as config.json stores both as lists.
    return json.loads(json.dumps({k: cfg.get(k) for k in BOUND_FIELDS}, sort_keys=True, default=str))


def binding_metadata(cfg: Mapping[str, Any]) -> dict[str, str]:
    """The metadata entries that bind ``cfg`` (the config as it will be written) to the weights."""
    text = json.dumps(_bound(cfg), sort_keys=True, separators=(",", ":"))
    return {BINDING_KEY: text, _HASH_KEY: hashlib.sha256(text.encode()).hexdigest()}


def check_binding(cfg: Mapping[str, Any], metadata: Mapping[str, str], where: str) -> None:
    """Refuse a config whose bound fields differ from those the weights were saved with.

    Raises:
        CheckpointError: a field differs (named, with both values), or the binding itself was
            altered (its hash does not match).
    """
    text = metadata.get(BINDING_KEY)
    if text is None:
        return  # saved before bindings existed
    if hashlib.sha256(text.encode()).hexdigest() != metadata.get(_HASH_KEY):
        raise CheckpointError(
            f"{where}: the weights file's record of its config was altered; save the model again."
        )
    saved, current = json.loads(text), _bound(cfg)
    changed = [k for k in BOUND_FIELDS if saved.get(k) != current.get(k)]
    if changed:
        detail = "; ".join(
            f"{k}: weights saved with {saved.get(k)!r}, config.json says {current.get(k)!r}" for k in changed
        )
        raise CheckpointError(
            f"{where}: config.json does not match the weights it sits beside ({detail}). Predictions would "
            f"be relabelled or mis-preprocessed. Restore the config.json saved with these weights, or save "
            f"the model again."
        )
