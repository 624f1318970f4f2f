"""One validation layer for training options: every value is checked for type, range and
finiteness before anything runs, and a config file cannot give an option twice."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import brainvit_effnet as bve
from brainvit_effnet.errors import InvalidArgumentError
from brainvit_effnet.train.config import _RANGES


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("clip_grad_norm", -1.0),  # flipped every gradient: the loss climbed and a model was published
        ("clip_grad_norm", 0.0),
        ("limit_train_batches", -1),  # published a random model after 0 steps
        ("limit_val_batches", 0),
        ("lr", math.inf),  # ended with "the last good checkpoint is intact" when none existed
        ("lr", math.nan),
        ("weight_decay", -1e-4),
        ("weight_decay", math.nan),
        ("momentum", 1.0),
        ("warmup_epochs", -1.0),
        ("plateau_factor", 1.0),
        ("max_steps", 0),
        ("num_workers", -1),
        ("early_stopping_patience", 0),
        ("backbone_lr_scale", -0.1),
        ("seed", -1),
        ("ema_decay", 1.0),
        ("mixup_prob", 1.5),
    ],
)
def test_out_of_range_or_non_finite_options_are_refused_by_name(option: str, value: float) -> None:
    with pytest.raises(InvalidArgumentError, match=rf"TrainConfig\.{option} must be"):
        bve.TrainConfig(**{option: value})


def test_every_numeric_option_has_a_range() -> None:
    import dataclasses
    import typing

    hints = typing.get_type_hints(bve.TrainConfig)
    numeric = {
        f.name
        for f in dataclasses.fields(bve.TrainConfig)
        if any(t in (int, float) for t in (typing.get_args(hints[f.name]) or (hints[f.name],)))
    }
    assert numeric <= set(_RANGES), numeric - set(_RANGES)  # a new option needs its range


def test_a_config_file_cannot_give_an_option_twice(tmp_path: Path) -> None:
    path = tmp_path / "train.yaml"
    path.write_text("epochs: 5\nlr: 0.001\nepochs: 50\n")
    with pytest.raises(InvalidArgumentError, match=r"train.yaml.*option 'epochs' is given twice.*line 3"):
        bve.TrainConfig.from_file(path)


def test_a_yaml_alias_bomb_gives_a_short_message(tmp_path: Path) -> None:
    """9**8 items behind one option: the error names it in a line, without expanding them."""
    levels = ['&a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for prev, name in zip("abcdefg", "bcdefgh", strict=True):
        levels.append(f"&{name} [{','.join([f'*{prev}'] * 9)}]")
    path = tmp_path / "bomb.yaml"
    path.write_text(f"epochs: [{', '.join(levels)}]\n")
    with pytest.raises(InvalidArgumentError, match=r"option train\.epochs must be an integer") as caught:
        bve.TrainConfig.from_file(path)
    assert len(str(caught.value)) < 200


def test_an_unhashable_key_is_a_message_not_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "odd.yaml"
    path.write_text("? [a, b]\n: 1\n")
    with pytest.raises(InvalidArgumentError, match=r"could not read training config .*odd\.yaml"):
        bve.TrainConfig.from_file(path)
