"""A saved model's config.json is bound to its weights: an edited label order, class name or
preprocessing is refused at load, naming the field (the second reliability audit, item 7)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import brainvit_effnet as bve
from brainvit_effnet.data.inference import PREPROCESSING_KEY
from brainvit_effnet.models import resolve_model_config
from brainvit_effnet.models._binding import BOUND_FIELDS

LABELS = ("glioma", "meningioma", "pituitary")


@pytest.fixture
def saved(tmp_path: Path) -> Path:
    model = bve.create_model("effnet_test", num_classes=3, label_names=LABELS)
    return bve.save_pretrained(model, tmp_path / "model")


def _edit(folder: Path, change: Any) -> None:
    path = folder / "config.json"
    config = json.loads(path.read_text())
    change(config)
    path.write_text(json.dumps(config))


def test_an_untouched_folder_loads_and_the_binding_names_the_data_layer_key(saved: Path) -> None:
    assert tuple(bve.from_pretrained(saved).pretrained_cfg["label_names"]) == LABELS
    assert PREPROCESSING_KEY in BOUND_FIELDS


def _permute(c: dict) -> None:
    c["label_names"] = ["meningioma", "glioma", "pituitary"]
    c["pretrained_cfg"]["label_names"] = c["label_names"]


def _crop_off(c: dict) -> None:
    c["pretrained_cfg"]["preprocessing"]["brain_crop"] = False


def _mean(c: dict) -> None:
    c["pretrained_cfg"]["mean"] = [0.0, 0.0, 0.0]


def _permute_model_args(c: dict) -> None:  # the copy the model is built with
    c["model_args"]["label_names"] = ["meningioma", "glioma", "pituitary"]


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (_permute, "label_names"),
        (_permute_model_args, "label_names"),
        (_crop_off, "preprocessing"),
        (_mean, "mean"),
    ],
)
def test_an_edited_config_is_refused_naming_the_field(saved: Path, change: Any, field: str) -> None:
    _edit(saved, change)
    with pytest.raises(
        bve.CheckpointError, match=rf"does not match the weights.*{field}: weights saved with"
    ):
        bve.from_pretrained(saved)


def _names_string(c: dict) -> None:
    c["label_names"] = "abc"
    c["pretrained_cfg"]["label_names"] = "abc"


def _names_repeated(c: dict) -> None:
    c["label_names"] = ["glioma", "glioma", "pituitary"]
    c["pretrained_cfg"]["label_names"] = c["label_names"]


def _crop_string(c: dict) -> None:
    c["pretrained_cfg"]["preprocessing"]["brain_crop"] = "false"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_names_string, "label_names must be a list of class names"),
        (_names_repeated, "label_names repeats a name"),
        (_crop_string, "brain_crop must be true or false"),
    ],
)
def test_malformed_values_are_refused_before_anything_loads(saved: Path, change: Any, message: str) -> None:
    _edit(saved, change)
    with pytest.raises(bve.CheckpointError, match=message):
        resolve_model_config(f"local-dir:{saved}")


@pytest.mark.parametrize("shipped", ["effnet_b0.figshare", "effnet_lite0.figshare"])
def test_the_shipped_models_are_bound_too(tmp_path: Path, shipped: str) -> None:
    """The bundled weights carry the binding: a copy with a permuted label order is refused."""
    import shutil

    from brainvit_effnet.models._binding import BINDING_KEY
    from brainvit_effnet.models._pretrained import read_metadata
    from brainvit_effnet.models.zoo import BUNDLED_WEIGHTS

    assert BINDING_KEY in read_metadata(BUNDLED_WEIGHTS[shipped] / "model.safetensors")
    copy = shutil.copytree(BUNDLED_WEIGHTS[shipped], tmp_path / shipped)
    bve.from_pretrained(copy)  # untouched: loads
    _edit(copy, _permute)
    with pytest.raises(bve.CheckpointError, match="label_names: weights saved with"):
        bve.from_pretrained(copy)
