"""``TrainConfig``: every training knob in one plain dataclass that round-trips through JSON/YAML."""

from __future__ import annotations

import dataclasses
import json
import math
import reprlib
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from .._checks import check_choice
from .._suggest import did_you_mean
from ..errors import InvalidArgumentError

__all__ = [
    "TrainConfig",
    "check_field_types",
    "check_known_options",
    "default_backbone_lr_scale",
    "load_yaml",
    "read_mapping",
]

#: Backbone learning-rate factor for a pretrained backbone: fine-tuning keeps ImageNet features.
PRETRAINED_BACKBONE_LR_SCALE = 0.1


def default_backbone_lr_scale(pretrained: bool) -> float:
    """The backbone's learning-rate factor when ``backbone_lr_scale`` is not given.

    A pretrained backbone is fine-tuned at a tenth of the head's rate; a backbone trained from
    scratch learns at the full rate, like every other layer.
    """
    return PRETRAINED_BACKBONE_LR_SCALE if pretrained else 1.0


def check_known_options(config_cls: type, values: dict[str, Any], what: str) -> None:
    """Reject keys that are not fields of the dataclass ``config_cls``, suggesting close names."""
    names = [f.name for f in dataclasses.fields(config_cls)]
    unknown = [k for k in values if k not in names]
    if unknown:
        detail = ", ".join(f"{k!r}{did_you_mean(k, names)}" for k in unknown)
        raise InvalidArgumentError(f"unknown {what} option(s) {detail}; known: {names}.")


def _matches(value: Any, hint: Any) -> bool:
    """Whether ``value`` has the (simple) annotated type ``hint``; bools are never numbers here.

    Plain Python types only, unlike :func:`~brainvit_effnet._checks.is_int`: a config is written to
    JSON and YAML, which cannot hold numpy scalars.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if hint is Any:
        return True
    if origin in (typing.Union, types.UnionType):
        return any(_matches(value, a) for a in args)
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    if origin in (list, tuple):
        # A tuple is what a dataclass default or an API caller may hold; JSON and YAML give lists.
        return isinstance(value, (list, tuple)) and all(_matches(v, args[0]) for v in value if args)
    if origin is dict:
        return isinstance(value, dict)
    return True  # a type this check does not know: the field's own validation decides


def _describe(hint: Any) -> str:
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_describe(a) for a in args)
    if origin in (list, tuple):
        plural = {bool: "true/false values", int: "integers", float: "numbers", str: "strings"}
        return f"a list of {plural.get(args[0], str(args[0]))}" if args else "a list"
    names = {bool: "true/false", int: "an integer", float: "a number", str: "a string", type(None): "null"}
    return names.get(hint, "a mapping" if origin is dict else str(hint))


def check_field_types(config: Any, section: str = "") -> None:
    """Refuse field values of the wrong type, naming the option as a config file spells it.

    ``--set train.epochs=true`` would otherwise train one epoch (``True == 1``) and
    ``--set classes=glioma`` would become six one-letter classes.

    Args:
        config: A dataclass instance whose fields carry simple annotations.
        section: The option prefix, e.g. ``"train"`` for ``train.epochs``.
    """
    hints = typing.get_type_hints(type(config))
    for f in dataclasses.fields(config):
        value = getattr(config, f.name)
        if f.name in hints and not _matches(value, hints[f.name]):
            key = f"{section}.{f.name}" if section else f.name
            got = f"{_short(value)} ({type(value).__name__})"
            raise InvalidArgumentError(f"option {key} must be {_describe(hints[f.name])}; got {got}.")


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[: limit - 20]}... ({len(text)} chars)"


_REPR = reprlib.Repr()  # keyword arguments only from Python 3.12
_REPR.maxlevel, _REPR.maxlist, _REPR.maxtuple, _REPR.maxdict = 3, 6, 6, 6
_REPR.maxstring = _REPR.maxother = 60


def _short(value: Any, limit: int = 80) -> str:
    """A bounded ``repr(value)``: an error message stays a line whatever the input (a YAML alias
    bomb expands to millions of items, whose plain ``repr`` would take gigabytes)."""
    return _clip(_REPR.repr(value), limit)


class _UniqueKeyLoader(yaml.SafeLoader):
    """YAML's safe loader, refusing a key given twice in one mapping (YAML keeps the last silently)."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=deep)  # type: ignore[no-untyped-call]
            try:
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"option {_short(key)} is given twice", key_node.start_mark
                    )
                seen.add(key)
            except TypeError:  # an unhashable key: YAML's own loader names it below
                pass
        return super().construct_mapping(node, deep=deep)


def load_yaml(text: str) -> Any:
    """Parse YAML (or JSON) safely, refusing duplicate keys."""
    return yaml.load(text, Loader=_UniqueKeyLoader)


def read_mapping(path: str | Path, what: str) -> dict[str, Any]:
    """A YAML/JSON file holding a mapping (JSON is YAML), with errors that name the file."""
    path = Path(path)
    try:
        values = load_yaml(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as e:
        detail = " ".join(str(e).replace('in "<unicode string>", ', "").split())
        raise InvalidArgumentError(f"could not read {what} {path}: {_clip(detail, 300)}") from e
    if not isinstance(values, dict):
        raise InvalidArgumentError(
            f"{path} must hold a mapping of option: value; got {type(values).__name__}."
        )
    return values


#: Numeric options and the values that make sense: (lowest, highest, lowest allowed?, highest
#: allowed?). Every float must also be finite. Checked before
#: anything runs, so that torch is never the first to see a value (a negative clip_grad_norm
#: flips every gradient; a negative limit_train_batches publishes an untrained model).
_RANGES: dict[str, tuple[float, float, bool, bool]] = {
    "epochs": (1, float("inf"), True, False),
    "batch_size": (1, float("inf"), True, False),
    "grad_accum_steps": (1, float("inf"), True, False),
    "lr": (0, float("inf"), False, False),
    "backbone_lr_scale": (0, float("inf"), True, False),
    "weight_decay": (0, float("inf"), True, False),
    "momentum": (0, 1, True, False),
    "warmup_epochs": (0, float("inf"), True, False),
    "plateau_factor": (0, 1, False, False),
    "plateau_patience": (0, float("inf"), True, False),
    "freeze_backbone_epochs": (0, float("inf"), True, False),
    "clip_grad_norm": (0, float("inf"), False, False),
    "ema_decay": (0, 1, False, False),
    "mixup_alpha": (0, float("inf"), True, False),
    "cutmix_alpha": (0, float("inf"), True, False),
    "mixup_prob": (0, 1, True, True),
    "counterfactual_prob": (0, 0.5, True, True),
    "early_stopping_patience": (1, float("inf"), True, False),
    "seed": (0, 2**63 - 1, True, True),
    "num_workers": (0, float("inf"), True, False),
    "max_steps": (1, float("inf"), True, False),
    "limit_train_batches": (1, float("inf"), True, False),
    "limit_val_batches": (1, float("inf"), True, False),
}


def _check_range(name: str, value: float) -> None:
    low, high, low_ok, high_ok = _RANGES[name]
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidArgumentError(f"TrainConfig.{name} must be a finite number; got {value}.")
    inside = (value >= low if low_ok else value > low) and (value <= high if high_ok else value < high)
    if not inside:
        left, right = "[" if low_ok else "(", "]" if high_ok else ")"
        upper = "inf" if high == float("inf") else f"{high:g}"
        raise InvalidArgumentError(
            f"TrainConfig.{name} must be in {left}{low:g}, {upper}{right}; got {value}."
        )


_CHOICES = {
    "optimizer": ("adamw", "adam", "sgd"),
    "scheduler": ("cosine", "plateau", "none"),
    "precision": ("fp32", "bf16", "fp16"),
    "monitor_mode": ("max", "min"),
}


@dataclass
class TrainConfig:
    """Training configuration.

    Attributes:
        epochs: Passes over the training data.
        batch_size: Images per optimiser step per process (before gradient accumulation).
        lr: Learning rate of the head (and of the transformer/neck).
        pretrained: Whether the backbone starts from pretrained (e.g. ImageNet) weights. ``None``
            (the default) reads it from the model: a model built with ``pretrained=True`` or
            ``checkpoint_path=``, or loaded with ``from_pretrained``, is pretrained.
        backbone_lr_scale: The backbone's learning rate is ``lr * backbone_lr_scale``. ``None``
            (the default) applies the rule of :func:`default_backbone_lr_scale`: 0.1 for a
            pretrained backbone (fine-tuning), 1.0 for one trained from scratch (a random backbone
            at a tenth of the rate barely learns: 56.5% against 88.2% test accuracy on Figshare).
        weight_decay: Decoupled (AdamW) or L2 (Adam/SGD) weight decay; never applied to biases,
            norms, positional embeddings or class tokens.
        optimizer: ``"adamw"``, ``"adam"`` or ``"sgd"`` (with ``momentum``).
        scheduler: ``"cosine"`` (per step, after ``warmup_epochs`` of linear warm-up),
            ``"plateau"`` (the proposal's reduce-on-plateau of ``monitor``: factor 0.3,
            patience 5) or ``"none"``.
        freeze_backbone_epochs: Train only the head for this many first epochs (for pretrained
            backbones; freezing a random backbone trains a head on random features).
        loss: Loss name for :func:`brainvit_effnet.losses.create_loss`; ``loss_kwargs`` its options.
        precision: ``"fp32"``, ``"bf16"`` (autocast on CPU and CUDA) or ``"fp16"`` (CUDA, with a
            gradient scaler).
        grad_accum_steps: Micro-batches per optimiser step.
        clip_grad_norm: Clip the global gradient norm to this value.
        ema_decay: Keep an exponential moving average of the weights (e.g. 0.999); evaluation and
            the best checkpoint then use the averaged weights.
        ema_warmup: Ramp the EMA decay up from 0 (timm's ``ModelEmaV3(use_warmup=True)``:
            ``1 - (1 + step) ** -2/3``, capped at ``ema_decay``), so the average follows the weights
            while they move fast. Without it, a run from random weights averages its random start
            into the EMA for about ``1 / (1 - ema_decay)`` steps: 0.998 over an 8-epoch, 464-step
            run predicted a single class for its first epochs (``benchmarks/recipe_study.py``).
        mixup_alpha: Mixup of training batches (timm's ``Mixup``), Beta(alpha, alpha); 0 is off.
        cutmix_alpha: CutMix of training batches, Beta(alpha, alpha) of the box area; 0 is off.
            With either on, training uses cross-entropy on timm's soft targets (the
            ``label_smoothing`` loss's smoothing folded in; see :mod:`brainvit_effnet.train.mixing`).
        mixup_prob: Probability that a training batch is mixed (mixup or CutMix, half each when
            both alphas are set).
        counterfactual_prob: Counterfactual occlusion (:mod:`brainvit_effnet.train.counterfactual`):
            this share of the masked training slices has its tumour blacked out with a uniform
            target, and the same share a same-shaped control region with its own target. Needs
            training data that yields masks; 0 is off.
        channels_last: Use the channels-last memory format. ``None`` (the default) turns it on:
            EfficientNet's depthwise convolutions train about 1.5x faster in it on CPU (see
            ``benchmarks/results/throughput_cpu.md``) and it is the format CUDA's tensor-core
            kernels prefer. Precision stays ``fp32`` by default: bf16 autocast *trains* slower than
            fp32 + channels-last on CPUs without native bf16 (26 against 37 img/s for B0 in the same
            benchmark), and fp16/bf16 on CUDA is a choice the user should make knowingly.
        device: Where to train and evaluate, e.g. ``"cpu"``, ``"cuda"``, ``"cuda:1"``, ``"mps"``;
            ``None`` (the default): CUDA when available, else the CPU.
        compile: Wrap the model with ``torch.compile``.
        early_stopping_patience: Stop after this many epochs without improvement of ``monitor``.
        monitor: Validation metric that picks the best checkpoint (``val_`` + a metric name or
            ``val_loss``); ``monitor_mode`` says whether higher or lower is better.
        balanced_sampler: Sample training images with probability inversely proportional to their
            class frequency.
        seed: Seed of every random number generator.
        deterministic: Ask PyTorch for deterministic kernels (slower).
        num_workers: DataLoader worker processes.
        max_steps: Stop after this many optimiser steps (testing knob).
        limit_train_batches, limit_val_batches: Use at most this many batches per epoch (testing knobs).
        output_dir: Run folder: config, JSONL log, checkpoints.
        overwrite: Allow writing into a folder that already holds a run.
        progress: Show progress bars; ``None`` shows them only on a terminal.
    """

    epochs: int = 10
    batch_size: int = 32
    lr: float = 1e-3
    pretrained: bool | None = None
    backbone_lr_scale: float | None = None
    weight_decay: float = 1e-4
    optimizer: str = "adamw"
    momentum: float = 0.9
    scheduler: str = "cosine"
    warmup_epochs: float = 0.0
    plateau_factor: float = 0.3
    plateau_patience: int = 5
    freeze_backbone_epochs: int = 0
    loss: str = "cross_entropy"
    loss_kwargs: dict[str, Any] = field(default_factory=dict)
    precision: str = "fp32"
    grad_accum_steps: int = 1
    clip_grad_norm: float | None = None
    ema_decay: float | None = None
    ema_warmup: bool = False
    mixup_alpha: float = 0.0
    cutmix_alpha: float = 0.0
    mixup_prob: float = 1.0
    counterfactual_prob: float = 0.0
    channels_last: bool | None = None
    device: str | None = None
    compile: bool = False
    early_stopping_patience: int | None = None
    monitor: str = "val_macro_f1"
    monitor_mode: str = "max"
    balanced_sampler: bool = False
    seed: int = 0
    deterministic: bool = False
    num_workers: int = 0
    max_steps: int | None = None
    limit_train_batches: int | None = None
    limit_val_batches: int | None = None
    output_dir: str = "runs/run"
    overwrite: bool = False
    progress: bool | None = None

    def __post_init__(self) -> None:
        check_field_types(self, "train")
        for name, choices in _CHOICES.items():
            check_choice(getattr(self, name), choices, f"TrainConfig.{name}")
        for name in _RANGES:
            value = getattr(self, name)
            if value is not None:  # None: the option is off (or left to the Trainer)
                _check_range(name, value)
        if not (self.monitor == "val_loss" or self.monitor.startswith("val_")):
            raise InvalidArgumentError(
                f"TrainConfig.monitor must name a validation metric ('val_macro_f1', 'val_loss'...); "
                f"got {self.monitor!r}."
            )

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> TrainConfig:
        """Build from a dict, rejecting unknown keys with close-name suggestions."""
        check_known_options(cls, values, "training")
        return cls(**values)

    @classmethod
    def from_file(cls, path: str | Path) -> TrainConfig:
        """Read a YAML or JSON file (a mapping of option names to values)."""
        return cls.from_dict(read_mapping(path, "training config"))

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)
