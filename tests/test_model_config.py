"""Model names taken apart in one place, and model configs resolved without building a model."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any

import pytest
import torch
from torch import nn

import brainvit_effnet as bve
from brainvit_effnet.data import create_transforms
from brainvit_effnet.models import ModelName, parse_model_name, resolve_model_config
from brainvit_effnet.models.effnet import EffNetBaseline, EffNetTransformer
from brainvit_effnet.models.names import ARCHITECTURES, FAMILIES, SIZES, arch_name

OPTIONS: list[dict[str, Any]] = [
    {},
    {"img_size": 128},
    {"img_size": (96, 160)},
    {"in_chans": 1},
    {"num_classes": 3},
    {"num_classes": 2, "label_names": ["a", "b"]},
]


def _no_modules(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make building any nn.Module (the zoo's classes first of all) an error."""
    for cls in (EffNetBaseline, EffNetTransformer, nn.Module):
        # wraps keeps the signature, which the resolver reads to know each family's options.
        @functools.wraps(cls.__init__)
        def refuse(self: nn.Module, *args: Any, **kwargs: Any) -> None:
            raise AssertionError(f"{type(self).__name__} was built")

        monkeypatch.setattr(cls, "__init__", refuse)


# ---------------------------------------------------------------------------------------------- names


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("effnet_b0", ModelName("baseline", "b0", None)),
        ("effnet_b4_tf", ModelName("transformer", "b4", None)),
        ("effnet_test_tf", ModelName("transformer", "test", None)),
        ("effnet_b0.figshare", ModelName("baseline", "b0", "figshare")),
        ("effnet_b2_tf.in1k", ModelName("transformer", "b2", "in1k")),
    ],
)
def test_names_are_taken_apart_and_put_back_together(name: str, expected: ModelName) -> None:
    parsed = parse_model_name(name)
    assert parsed == expected
    assert str(parsed) == name
    assert parsed.arch == name.split(".")[0]
    assert parsed.is_transformer == name.split(".")[0].endswith("_tf")


def test_family_switch_keeps_size_and_tag() -> None:
    name = parse_model_name("effnet_b0.figshare")
    assert str(name.with_family("transformer")) == "effnet_b0_tf.figshare"
    assert str(name.with_family("transformer").with_family("baseline")) == "effnet_b0.figshare"
    with pytest.raises(ValueError, match="family must be one of"):
        name.with_family("vit")


def test_the_parser_knows_exactly_the_registered_architectures() -> None:
    from brainvit_effnet.models import zoo

    assert sorted(ARCHITECTURES) == bve.list_models()
    assert tuple(zoo._SIZES) == SIZES
    assert {arch_name(s, f) for s in SIZES for f in FAMILIES} == set(ARCHITECTURES)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("effnet_b9", r"unknown model 'effnet_b9'.*Did you mean 'effnet_b"),
        ("effnet_b2_tf_x", r"unknown model 'effnet_b2_tf_x'.*Did you mean 'effnet_b2_tf'"),
        ("effnet_b9_tf.figshare", r"unknown model 'effnet_b9_tf.figshare'.*Did you mean 'effnet_b"),
        ("resnet50", r"unknown model 'resnet50'.*list_models\(\) lists the 18 available models"),
        ("hf-hub:org/repo", "names a saved model, not a zoo architecture"),
        ("local-dir:runs/model", "names a saved model, not a zoo architecture"),
    ],
)
def test_unknown_names_are_rejected_clearly(name: str, message: str) -> None:
    with pytest.raises(bve.UnknownModelError, match=message):
        parse_model_name(name)


def test_where_a_name_came_from_is_named() -> None:
    with pytest.raises(bve.UnknownModelError, match=r"\(named in runs/x\)"):
        parse_model_name("effnet_b7", where="runs/x")


# --------------------------------------------------------------------------------------------- config


@pytest.mark.parametrize("name", bve.list_models())
def test_resolved_config_is_the_built_models_config(name: str) -> None:
    for options in OPTIONS:
        with torch.device("meta"):
            model = bve.create_model(name, **options)
        resolved = resolve_model_config(name, **options)
        for key in ("input_size", "mean", "std", "interpolation", "num_classes", "label_names"):
            assert resolved[key] == model.pretrained_cfg[key], (name, options, key)
        assert resolved == dict(model.pretrained_cfg), (name, options)


@pytest.mark.parametrize("name", bve.list_models())
def test_resolving_builds_no_module(name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    _no_modules(monkeypatch)
    with pytest.raises(AssertionError, match="was built"):  # the patch bites
        bve.create_model(name)
    for options in OPTIONS:
        assert resolve_model_config(name, **options)["input_size"][0] == options.get("in_chans", 3)
    if parse_model_name(name).is_transformer:  # options that only shape the network are taken too
        assert resolve_model_config(name, depth=2, cbam=True)["input_size"][0] == 3


def test_the_example_of_the_issue() -> None:
    cfg = resolve_model_config("effnet_b2_tf", img_size=128)
    assert cfg["input_size"] == (3, 128, 128)
    assert cfg["interpolation"] == "bilinear"
    assert cfg["num_classes"] == 4 and cfg["label_names"] == bve.BRAIN_TUMOUR_CLASSES


def test_shipped_weights_resolve_with_their_record(monkeypatch: pytest.MonkeyPatch) -> None:
    model = bve.create_model("effnet_b0.figshare", pretrained=True)
    _no_modules(monkeypatch)
    resolved = resolve_model_config("effnet_b0.figshare", pretrained=True)
    assert resolved == dict(model.pretrained_cfg)
    assert resolved["provenance"]["held_out_folds"] == [1]
    assert "provenance" not in resolve_model_config("effnet_b0.figshare")


def test_saved_models_resolve_from_their_config_json(tmp_path: Path) -> None:
    model = bve.create_model("effnet_test_tf", num_classes=3, img_size=96, label_names=["x", "y", "z"])
    bve.save_pretrained(model, tmp_path / "saved")
    for source in (str(tmp_path / "saved"), f"local-dir:{tmp_path / 'saved'}"):
        for pretrained in (False, True):
            built = bve.create_model(source, pretrained=pretrained)
            assert resolve_model_config(source, pretrained=pretrained) == dict(built.pretrained_cfg)
    assert resolve_model_config(str(tmp_path / "saved"))["input_size"] == (3, 96, 96)


def test_bad_options_are_rejected_as_create_model_would() -> None:
    with pytest.raises(TypeError, match=r"effnet_b0 takes no option 'depth'"):
        resolve_model_config("effnet_b0", depth=2)
    with pytest.raises(TypeError, match=r"did you mean 'img_size'"):
        resolve_model_config("effnet_b0_tf", img_sze=128)
    with pytest.raises(ValueError, match="label_names has 2 names but num_classes=3"):
        resolve_model_config("effnet_b0", num_classes=3, label_names=["a", "b"])
    with pytest.raises(bve.UnknownModelError, match="unknown pretrained tag 'figshare' for effnet_b2_tf"):
        resolve_model_config("effnet_b2_tf.figshare")
    with pytest.raises(bve.UnknownModelError, match="Did you mean 'effnet_b2'"):
        resolve_model_config("effnet_b22")


@pytest.mark.parametrize("options", [{}, {"img_size": 128}, {"in_chans": 1}])
def test_transforms_from_a_resolved_config_match_those_from_the_model(options: dict[str, Any]) -> None:
    model = bve.create_model("effnet_test_tf", **options)
    image = torch.rand(1, 120, 100)
    from_model = create_transforms(model)[1](image)
    from_config = create_transforms(resolve_model_config("effnet_test_tf", **options))[1](image)
    assert torch.equal(from_model, from_config)
