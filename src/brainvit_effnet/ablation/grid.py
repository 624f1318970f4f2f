"""The study's grid: factors and their levels, cells, runs, and the study configuration."""

from __future__ import annotations

import copy
import dataclasses
import functools
import itertools
import json
import numbers
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from .._checks import is_int, is_real
from .._suggest import did_you_mean
from ..data import FigshareDataset, MRIDataset, load_sample
from ..data.sources import DataSource
from ..data.splits import validation_fold
from ..errors import InvalidArgumentError, InvalidTypeError, UnknownModelError
from ..experiment import ExperimentConfig, apply_overrides
from ..models import create_model, parse_model_name
from ..results import KEY_METRICS
from ..train import TrainConfig
from ..train.config import check_known_options, read_mapping

DEFAULT_FACTORS: dict[str, list[Any]] = {
    "transformer": [False, True],
    "label_smoothing": [0.0, 0.1],
    "cbam": [False, True],
}
#: Metrics summarised by default: :data:`~brainvit_effnet.results.KEY_METRICS`.
DEFAULT_METRICS: tuple[str, ...] = KEY_METRICS

_NAMED_FACTORS = ("transformer", "label_smoothing", "cbam")
# The experiment-config keys each named factor sets (to detect two factors setting one thing).
_TARGETS = {
    "transformer": ("model",),
    "label_smoothing": ("train.loss", "train.loss_kwargs"),
    "cbam": ("model_kwargs.cbam",),
}
# Options the study sets for each run: they cannot be factors.
_SET_PER_RUN = ("data", "val_folds", "test_folds", "train.seed", "train.output_dir")
# Options that cannot change a run's test metrics: ignored when a finished run is matched to the study.
_NOT_COMPARED = (
    "train.output_dir",
    "train.overwrite",
    "train.progress",
    "train.num_workers",
    "cache",
    "cache_dir",
    "bootstrap",
)
_RESULT = "result.json"
_PLAIN_LOSSES = ("ce", "cross_entropy", "ls", "label_smoothing")


# -- levels and factors ---------------------------------------------------------------------------
def _level_key(level: Any) -> str:
    """Identity of a level (levels may be unhashable, e.g. dicts)."""
    return json.dumps(level, sort_keys=True, default=str)


def _level_label(level: Any) -> str:
    """A short, readable rendering: on/off for booleans, ``%g`` for numbers."""
    if isinstance(level, bool):
        return "on" if level else "off"
    if isinstance(level, numbers.Real):
        return f"{float(level):g}" if isinstance(level, float) else str(level)
    if isinstance(level, str):
        return level
    return json.dumps(level, sort_keys=True, separators=(",", ":"), default=str)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-") or "x"


def _check_generic_factor(name: str) -> None:
    """A dotted factor must name an experiment option (``train.*`` a training option)."""
    if name in _SET_PER_RUN:
        raise InvalidArgumentError(
            f"factor {name!r} is set by the study itself (use folds/seeds/output_dir, or a separate study "
            f"per data source)."
        )
    fields = [f.name for f in dataclasses.fields(ExperimentConfig)]
    train_fields = [f.name for f in dataclasses.fields(TrainConfig)]
    known = [*_NAMED_FACTORS, *fields, *(f"train.{f}" for f in train_fields)]
    head, _, rest = name.partition(".")
    if head not in fields:
        raise InvalidArgumentError(
            f"unknown factor {name!r}{did_you_mean(name, known)}; a factor is one of "
            f"{list(_NAMED_FACTORS)} or a "
            f"dotted experiment option such as 'train.lr' or 'model_kwargs.depth'."
        )
    if head == "train" and rest and rest.split(".")[0] not in train_fields:
        raise InvalidArgumentError(
            f"unknown factor {name!r}{did_you_mean(name, known)}: not a training option."
        )
    if rest and head not in ("train", "model_kwargs", "augment"):
        raise InvalidArgumentError(f"factor {name!r}: {head!r} is not a section; use {head!r} itself.")


def _check_levels(factors: Any) -> dict[str, list[Any]]:
    """Factor -> non-empty list of distinct levels."""
    if not isinstance(factors, Mapping) or not factors:
        raise InvalidArgumentError(
            f"factors must be a non-empty mapping of factor: [levels], e.g. {DEFAULT_FACTORS}; "
            f"got {factors!r}."
        )
    checked: dict[str, list[Any]] = {}
    for name, levels in factors.items():
        if not isinstance(name, str) or not name:
            raise InvalidArgumentError(f"factor names must be non-empty strings; got {name!r}.")
        if isinstance(levels, (str, bytes, Mapping)) or not isinstance(levels, Sequence):
            raise InvalidArgumentError(
                f"factor {name!r}: levels must be a list, e.g. [false, true]; got {levels!r}."
            )
        if len(levels) == 0:
            raise InvalidArgumentError(f"factor {name!r} has no levels; give at least one (two to compare).")
        keys = [_level_key(level) for level in levels]
        if len(set(keys)) != len(keys):
            raise InvalidArgumentError(f"factor {name!r} repeats a level: {list(levels)}.")
        checked[name] = list(levels)
    return checked


def _check_factors(factors: Any) -> dict[str, list[Any]]:
    """Levels, plus: known factor names, level types of the named factors, no two factors setting one key."""
    checked = _check_levels(factors)
    for name, levels in checked.items():
        if name in ("transformer", "cbam"):
            bad = [level for level in levels if not isinstance(level, bool)]
            if bad:
                raise InvalidArgumentError(f"factor {name!r} takes true/false levels; got {bad}.")
        elif name == "label_smoothing":
            bad = [level for level in levels if not is_real(level) or not 0 <= float(level) < 1]
            if bad:
                raise InvalidArgumentError(
                    f"factor 'label_smoothing' takes numbers in [0, 1) (e.g. 0.1); got {bad}."
                )
        else:
            _check_generic_factor(name)
        labels = [_slug(_level_label(level)) for level in levels]
        if len(set(labels)) != len(labels):
            raise InvalidArgumentError(
                f"factor {name!r}: levels {list(levels)} cannot be told apart in folder names."
            )
    targets = {name: _TARGETS.get(name, (name,)) for name in checked}
    for a, b in itertools.combinations(checked, 2):
        for ta, tb in itertools.product(targets[a], targets[b]):
            if ta == tb or ta.startswith(tb + ".") or tb.startswith(ta + "."):
                raise InvalidArgumentError(
                    f"factors {a!r} and {b!r} both set {min(ta, tb, key=len)!r}; keep one."
                )
    return checked


def _with_transformer(model: str, on: bool) -> str:
    try:
        name = parse_model_name(model)
    except UnknownModelError as e:  # a ValueError too, as this error was before it had a class
        raise UnknownModelError(
            f"the 'transformer' factor switches between effnet_bX and effnet_bX_tf; the base model "
            f"{model!r} is not such a name (use e.g. model: effnet_b2): {e}"
        ) from e
    return str(name.with_family("transformer" if on else "baseline"))


def _with_smoothing(train: dict[str, Any], eps: float) -> None:
    loss = str(train.get("loss", "cross_entropy")).strip().lower().replace("-", "_")
    kwargs = dict(train.get("loss_kwargs") or {})
    if loss in _PLAIN_LOSSES:
        kwargs.pop("smoothing", None)
        if eps > 0:
            train["loss"], kwargs["smoothing"] = "label_smoothing", float(eps)
        else:
            train["loss"] = "cross_entropy"
    elif loss == "focal":
        kwargs["smoothing"] = float(eps)
    else:
        raise InvalidArgumentError(
            f"the 'label_smoothing' factor works with a cross-entropy, label-smoothing or focal base loss; "
            f"the base loss is {train.get('loss')!r}."
        )
    train["loss_kwargs"] = kwargs


def _apply_level(values: dict[str, Any], name: str, level: Any) -> dict[str, Any]:
    """The experiment dict ``values`` with factor ``name`` set to ``level`` (a new dict)."""
    values = copy.deepcopy(values)
    if name == "transformer":
        values["model"] = _with_transformer(str(values["model"]), bool(level))
    elif name == "label_smoothing":
        _with_smoothing(values["train"], float(level))
    elif name == "cbam":
        values["model_kwargs"]["cbam"] = bool(level)
    else:
        values = apply_overrides(values, {name: level})
    return values


def _comparable(config: Mapping[str, Any]) -> dict[str, Any]:
    flat: dict[str, Any] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, Mapping) and prefix in ("", "train"):
            for k, v in value.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        elif prefix not in _NOT_COMPARED:
            flat[prefix] = json.loads(json.dumps(value, default=str))  # tuples -> lists, as on disk

    walk("", config)
    return flat


def _official_folds(data: str, open_data: Callable[[], MRIDataset] | None = None) -> list[int]:
    """The official folds of ``data``, read from ``open_data()`` when given (a dataset the caller
    opens anyway, so the files are not scanned twice), else from a scan of its own."""
    source = DataSource.parse(data)
    path = source.path
    if not source.has_official_folds:
        raise InvalidArgumentError(
            "an ablation repeats over the official patient-disjoint folds: use data 'sample' or "
            "'figshare:PATH' (folder data has no official folds)."
        )
    if open_data is None:
        open_data = load_sample if path is None else functools.partial(FigshareDataset, path)
    full = open_data()
    folds = sorted({r.fold for r in full.records if r.fold is not None})
    if len(folds) < 3:
        raise InvalidArgumentError(
            f"{data} has folds {folds}; a train/validation/test rotation needs at least 3."
        )
    return folds


# -- the study ------------------------------------------------------------------------------------
@dataclass
class AblationCell:
    """One combination of factor levels.

    Attributes:
        name: Folder name, e.g. ``"transformer-on__label_smoothing-0.1__cbam-off"``.
        levels: Factor name -> level.
        config: The cell's experiment configuration (folds, seed and output folder are set per run).
        skipped: Why the cell cannot run (its model cannot be built), or ``None``.
    """

    name: str
    levels: dict[str, Any]
    config: ExperimentConfig
    skipped: str | None = None


@dataclass
class AblationRun:
    """One cell trained and tested on one repeat.

    Attributes:
        cell: The cell.
        fold: Test fold; ``val_fold`` validates, the remaining folds train.
        val_fold: Validation fold (the fold after ``fold``, cyclically).
        seed: Seed of model initialisation and training.
        config: The exact experiment configuration of this run.
        output_dir: The run's folder.
    """

    cell: AblationCell
    fold: int
    val_fold: int
    seed: int
    config: ExperimentConfig
    output_dir: Path

    @property
    def name(self) -> str:
        """``<cell>/fold_<k>_seed_<s>``."""
        return f"{self.cell.name}/{self.output_dir.name}"

    def state(self) -> str:
        """``"finished"`` (holds a result), ``"partial"`` (started, unfinished) or ``"new"``."""
        if (self.output_dir / _RESULT).is_file():
            return "finished"
        return "partial" if self.output_dir.exists() else "new"


@dataclass
class AblationStudy:
    """A factorial ablation: every combination of factor levels, repeated over folds and seeds.

    Attributes:
        base: The experiment every cell starts from (its ``train.output_dir``, ``train.seed``,
            ``val_folds`` and ``test_folds`` are set per run).
        factors: Factor -> levels, in the order the grid is expanded (the first factor varies
            slowest). See the module docstring for the factors.
        folds: Test folds to repeat over (each validated by the next official fold);
            default: every official fold.
        seeds: Seeds to repeat over.
        metrics: Test metrics summarised in the report.
        output_dir: The study's folder.
        keep_checkpoints: Keep each finished run's ``checkpoints/`` (the chosen model is always
            kept in ``model/``); off by default, as they hold optimiser state and are large.
        confidence: Level of the intervals.
        permutations: Random sign flips when there are too many repeats to enumerate them all.
    """

    base: ExperimentConfig = field(default_factory=ExperimentConfig)
    factors: dict[str, list[Any]] = field(
        default_factory=lambda: {k: list(v) for k, v in DEFAULT_FACTORS.items()}
    )
    folds: list[int] | None = None
    seeds: list[int] = field(default_factory=lambda: [0])
    metrics: list[str] = field(default_factory=lambda: list(DEFAULT_METRICS))
    output_dir: str = "runs/ablation"
    keep_checkpoints: bool = False
    confidence: float = 0.95
    permutations: int = 10_000

    def __post_init__(self) -> None:
        if not isinstance(self.base, ExperimentConfig):
            raise InvalidTypeError(f"base must be an ExperimentConfig; got {type(self.base).__name__}.")
        self.factors = _check_factors(self.factors)
        for what, values in (("seeds", self.seeds), ("folds", self.folds)):
            if values is None:
                continue
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise InvalidArgumentError(f"{what} must be a non-empty list of integers; got {values!r}.")
            if not all(is_int(v) for v in values) or len(set(values)) < len(values):
                raise InvalidArgumentError(f"{what} must be distinct integers; got {list(values)}.")
        if (
            isinstance(self.metrics, str)
            or not self.metrics
            or not all(isinstance(m, str) for m in self.metrics)
        ):
            raise InvalidArgumentError(
                f"metrics must be a non-empty list of metric names; got {self.metrics!r}."
            )
        if not 0 < self.confidence < 1:
            raise InvalidArgumentError(f"confidence must be in (0, 1), e.g. 0.95; got {self.confidence}.")
        if self.permutations < 100:
            raise InvalidArgumentError(f"permutations must be >= 100; got {self.permutations}.")

    # -- serialisation ----------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain-JSON view (``base`` as an experiment-config mapping)."""
        values = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
        values["base"] = self.base.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> AblationStudy:
        """Build from a mapping (``base`` may be a nested experiment-config mapping).

        Raises:
            ValueError: unknown options (with close names suggested) or invalid values.
        """
        values = dict(values)
        check_known_options(cls, values, "ablation study")
        base = values.pop("base", None) or {}
        if not isinstance(base, ExperimentConfig):
            base = ExperimentConfig.from_dict(base)
        return cls(base=base, **values)

    @classmethod
    def from_file(cls, path: str | Path, overrides: Mapping[str, Any] | None = None) -> AblationStudy:
        """Read a YAML/JSON study; ``overrides`` are dotted keys such as ``{"base.train.epochs": 3}``."""
        return cls.from_dict(apply_overrides(read_mapping(path, "ablation study"), dict(overrides or {})))

    # -- the grid ---------------------------------------------------------------------------------
    def cells(self, *, probe: bool = True) -> list[AblationCell]:
        """Every combination of levels, the first factor varying slowest.

        Args:
            probe: Build each cell's model on the meta device (no memory) and mark cells whose model
                cannot be built as skipped, with the reason.

        Raises:
            ValueError: a level gives an invalid experiment configuration, or no cell can run.
        """
        base = self.base.to_dict()
        cells = []
        for combo in itertools.product(*self.factors.values()):
            levels = dict(zip(self.factors, combo, strict=True))
            name = "__".join(f"{_slug(k)}-{_slug(_level_label(v))}" for k, v in levels.items())
            values = base
            for factor, level in levels.items():
                values = _apply_level(values, factor, level)
            try:
                config = ExperimentConfig.from_dict(values)
            except (TypeError, ValueError) as e:
                raise InvalidArgumentError(f"cell {name}: {e}") from e
            cells.append(AblationCell(name, levels, config, _probe(config) if probe else None))
        if probe and all(c.skipped for c in cells):
            raise InvalidArgumentError(f"no cell of the study can run; first reason: {cells[0].skipped}")
        return cells

    def runs(
        self,
        cells: Sequence[AblationCell] | None = None,
        *,
        open_data: Callable[[], MRIDataset] | None = None,
    ) -> list[AblationRun]:
        """Every run of the study's runnable cells: repeats (seed, then fold) outermost, cells inside.

        Running repeat by repeat means an interrupted study already holds complete, paired repeats.

        Args:
            cells: The cells to run; default :meth:`cells`.
            open_data: Returns the study's dataset, opened (the runner passes the one its runs
                share); the official folds are read from it. Default: a scan of the data here.
        """
        cells = self.cells() if cells is None else cells
        official = _official_folds(self.base.data, open_data)
        folds = official if self.folds is None else list(self.folds)
        unknown = [f for f in folds if f not in official]
        if unknown:
            raise InvalidArgumentError(f"folds {unknown} are not among the data's official folds {official}.")
        out = Path(self.output_dir)
        runs = []
        for seed, fold in itertools.product(self.seeds, folds):
            val_fold = validation_fold(official, fold)
            for cell in cells:
                if cell.skipped:
                    continue
                run_dir = out / "runs" / cell.name / f"fold_{fold}_seed_{seed}"
                config = dataclasses.replace(
                    cell.config,
                    test_folds=[fold],
                    val_folds=[val_fold],
                    train=dataclasses.replace(cell.config.train, seed=seed, output_dir=str(run_dir)),
                )
                runs.append(AblationRun(cell, fold, val_fold, seed, config, run_dir))
        return runs


def _probe(config: ExperimentConfig) -> str | None:
    """Why the cell's model cannot be built, or ``None`` (built on the meta device: no memory).

    It builds the model on purpose, not only its config: option values one family rejects
    (``depth=0``, a bad ``global_pool``) are found only by the model's constructor.
    """
    try:
        with torch.device("meta"):
            create_model(config.model, **config.model_kwargs)
    except UnknownModelError:
        raise
    except (TypeError, ValueError) as e:
        return f"{config.model} with {config.model_kwargs}: {e}"
    return None
