"""Ablation studies: a factorial grid of experiment variants, repeated over folds and seeds, summarised.

An :class:`AblationStudy` names a base :class:`~brainvit_effnet.experiment.ExperimentConfig` and
*factors*, each with its *levels*. Every combination of levels is a *cell*; every cell is trained
and tested once per *repeat*, a (test fold, seed) pair on the official patient-disjoint folds
(each fold is the test set once and the next one validates, as in
:func:`~brainvit_effnet.experiment.cross_validate`). :func:`run_ablation` runs what is missing and
writes ``ablation.json`` and ``ablation.md``.

Factors:

* ``"transformer"`` (``False``/``True``): the base model's size as the baseline ``effnet_bX`` or
  the transformer-enhanced ``effnet_bX_tf`` (a pretrained tag such as ``.in1k`` is kept);
* ``"label_smoothing"`` (numbers in ``[0, 1)``): cross-entropy for 0, label-smoothed cross-entropy
  otherwise (for a focal base loss, its ``smoothing``);
* ``"cbam"`` (``False``/``True``): a CBAM block after the backbone (``model_kwargs["cbam"]``);
* any dotted key of the experiment config, e.g. ``"train.lr"``, ``"model_kwargs.depth"``,
  ``"augment.rotation"``.

Cells whose model cannot be built (a model option one family lacks) are skipped and the reason is
recorded; the other cells still run.

Layout of ``output_dir``::

    study.json                           the study as last run
    runs/<cell>/fold_<k>_seed_<s>/       one experiment: run_config.json, log.jsonl, model/,
                                         report/, and result.json once it has finished
    incomplete/                          unfinished runs set aside before they were redone
    ablation.json, ablation.md           the summary

Rerunning a study is safe: a run with a ``result.json`` is reused, never retrained or
overwritten (and one whose recorded configuration differs from the study's is an error), an
unfinished run is moved to ``incomplete/`` and redone, and nothing else is deleted.

Statistics (see :func:`summarize_ablation`): per cell, mean, sample standard deviation and a
Student-t 95% interval over the repeats; per factor, the paired difference of each level against
the first level, averaged over the other factors' levels within each repeat, with a t interval
and an exact (or Monte-Carlo) sign-flip permutation p-value over the repeats.

Examples:
    >>> from brainvit_effnet.ablation import AblationStudy, run_ablation
    >>> study = AblationStudy.from_dict({
    ...     "base": {"model": "effnet_test", "train": {"epochs": 1}},
    ...     "factors": {"transformer": [False, True], "label_smoothing": [0.0, 0.1]},
    ...     "folds": [1, 2], "seeds": [0],
    ... })
    >>> [cell.name for cell in study.cells()]  # doctest: +NORMALIZE_WHITESPACE
    ['transformer-off__label_smoothing-0', 'transformer-off__label_smoothing-0.1',
     'transformer-on__label_smoothing-0', 'transformer-on__label_smoothing-0.1']
    >>> result = run_ablation(study)  # doctest: +SKIP
"""

from __future__ import annotations

import copy
import dataclasses
import datetime
import difflib
import itertools
import json
import logging
import math
import numbers
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from scipy import stats

from .data import FigshareDataset, load_sample
from .errors import UnknownModelError
from .experiment import ExperimentConfig, _split_source, apply_overrides, run_experiment
from .models import create_model, list_models
from .train import TrainConfig
from .train.config import check_known_options, read_mapping
from .train.seeding import seed_everything

__all__ = [
    "DEFAULT_FACTORS",
    "DEFAULT_METRICS",
    "AblationCell",
    "AblationRun",
    "AblationStudy",
    "ablation_tables",
    "run_ablation",
    "summarize_ablation",
    "write_ablation_report",
]

_logger = logging.getLogger(__name__)

#: The study's ablation: transformer on/off x label smoothing on/off x CBAM on/off.
DEFAULT_FACTORS: dict[str, list[Any]] = {
    "transformer": [False, True],
    "label_smoothing": [0.0, 0.1],
    "cbam": [False, True],
}
#: Metrics summarised by default (names of :func:`~brainvit_effnet.metrics.classification_report`).
DEFAULT_METRICS: tuple[str, ...] = ("accuracy", "balanced_accuracy", "macro_f1", "ece")
#: Metrics for which lower is better; every other metric is read as higher-is-better.
LOWER_IS_BETTER = frozenset({"ece", "nll", "brier", "loss"})

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
    "bootstrap",
)
_RESULT = "result.json"
_RUN_CONFIG = "run_config.json"
_STUDY = "study.json"
_EXACT_SIGN_FLIPS = 16  # enumerate all 2**n sign patterns up to this many repeats
_MODEL_NAME = re.compile(r"^(?P<arch>effnet_[a-z0-9]+?)(?P<tf>_tf)?(?P<tag>\.[\w-]+)?$")
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


def _suggest(name: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(name, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _check_generic_factor(name: str) -> None:
    """A dotted factor must name an experiment option (``train.*`` a training option)."""
    if name in _SET_PER_RUN:
        raise ValueError(
            f"factor {name!r} is set by the study itself (use folds/seeds/output_dir, or a separate study "
            f"per data source)."
        )
    fields = [f.name for f in dataclasses.fields(ExperimentConfig)]
    train_fields = [f.name for f in dataclasses.fields(TrainConfig)]
    known = [*_NAMED_FACTORS, *fields, *(f"train.{f}" for f in train_fields)]
    head, _, rest = name.partition(".")
    if head not in fields:
        raise ValueError(
            f"unknown factor {name!r}{_suggest(name, known)}; a factor is one of {list(_NAMED_FACTORS)} or a "
            f"dotted experiment option such as 'train.lr' or 'model_kwargs.depth'."
        )
    if head == "train" and rest and rest.split(".")[0] not in train_fields:
        raise ValueError(f"unknown factor {name!r}{_suggest(name, known)}: not a training option.")
    if rest and head not in ("train", "model_kwargs", "augment"):
        raise ValueError(f"factor {name!r}: {head!r} is not a section; use {head!r} itself.")


def _check_levels(factors: Any) -> dict[str, list[Any]]:
    """Factor -> non-empty list of distinct levels."""
    if not isinstance(factors, Mapping) or not factors:
        raise ValueError(
            f"factors must be a non-empty mapping of factor: [levels], e.g. {DEFAULT_FACTORS}; "
            f"got {factors!r}."
        )
    checked: dict[str, list[Any]] = {}
    for name, levels in factors.items():
        if not isinstance(name, str) or not name:
            raise ValueError(f"factor names must be non-empty strings; got {name!r}.")
        if isinstance(levels, (str, bytes, Mapping)) or not isinstance(levels, Sequence):
            raise ValueError(f"factor {name!r}: levels must be a list, e.g. [false, true]; got {levels!r}.")
        if len(levels) == 0:
            raise ValueError(f"factor {name!r} has no levels; give at least one (two to compare).")
        keys = [_level_key(level) for level in levels]
        if len(set(keys)) != len(keys):
            raise ValueError(f"factor {name!r} repeats a level: {list(levels)}.")
        checked[name] = list(levels)
    return checked


def _check_factors(factors: Any) -> dict[str, list[Any]]:
    """Levels, plus: known factor names, level types of the named factors, no two factors setting one key."""
    checked = _check_levels(factors)
    for name, levels in checked.items():
        if name in ("transformer", "cbam"):
            bad = [level for level in levels if not isinstance(level, bool)]
            if bad:
                raise ValueError(f"factor {name!r} takes true/false levels; got {bad}.")
        elif name == "label_smoothing":
            bad = [
                level
                for level in levels
                if isinstance(level, bool) or not isinstance(level, numbers.Real) or not 0 <= float(level) < 1
            ]
            if bad:
                raise ValueError(f"factor 'label_smoothing' takes numbers in [0, 1) (e.g. 0.1); got {bad}.")
        else:
            _check_generic_factor(name)
        labels = [_slug(_level_label(level)) for level in levels]
        if len(set(labels)) != len(labels):
            raise ValueError(f"factor {name!r}: levels {list(levels)} cannot be told apart in folder names.")
    targets = {name: _TARGETS.get(name, (name,)) for name in checked}
    for a, b in itertools.combinations(checked, 2):
        for ta, tb in itertools.product(targets[a], targets[b]):
            if ta == tb or ta.startswith(tb + ".") or tb.startswith(ta + "."):
                raise ValueError(f"factors {a!r} and {b!r} both set {min(ta, tb, key=len)!r}; keep one.")
    return checked


def _with_transformer(model: str, on: bool) -> str:
    match = _MODEL_NAME.match(model)
    if not match:
        raise ValueError(
            f"the 'transformer' factor switches between effnet_bX and effnet_bX_tf; the base model "
            f"{model!r} is not such a name (use e.g. model: effnet_b2)."
        )
    name = f"{match['arch']}{'_tf' if on else ''}"
    if name not in list_models():
        raise UnknownModelError(f"the 'transformer' factor needs {name!r}, which is not in the model zoo.")
    return name + (match["tag"] or "")


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
        raise ValueError(
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


def _official_folds(data: str) -> list[int]:
    kind, path = _split_source(data)
    if kind == "folder":
        raise ValueError(
            "an ablation repeats over the official patient-disjoint folds: use data 'sample' or "
            "'figshare:PATH' (folder data has no official folds)."
        )
    full = load_sample() if path is None else FigshareDataset(path)
    folds = sorted({r.fold for r in full.records if r.fold is not None})
    if len(folds) < 3:
        raise ValueError(f"{data} has folds {folds}; a train/validation/test rotation needs at least 3.")
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
            raise TypeError(f"base must be an ExperimentConfig; got {type(self.base).__name__}.")
        self.factors = _check_factors(self.factors)
        for what, values in (("seeds", self.seeds), ("folds", self.folds)):
            if values is None:
                continue
            if isinstance(values, (str, bytes)) or not isinstance(values, Sequence) or not values:
                raise ValueError(f"{what} must be a non-empty list of integers; got {values!r}.")
            if any(isinstance(v, bool) or not isinstance(v, int) for v in values) or len(set(values)) < len(
                values
            ):
                raise ValueError(f"{what} must be distinct integers; got {list(values)}.")
        if (
            isinstance(self.metrics, str)
            or not self.metrics
            or not all(isinstance(m, str) for m in self.metrics)
        ):
            raise ValueError(f"metrics must be a non-empty list of metric names; got {self.metrics!r}.")
        if not 0 < self.confidence < 1:
            raise ValueError(f"confidence must be in (0, 1), e.g. 0.95; got {self.confidence}.")
        if self.permutations < 100:
            raise ValueError(f"permutations must be >= 100; got {self.permutations}.")

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
                raise ValueError(f"cell {name}: {e}") from e
            cells.append(AblationCell(name, levels, config, _probe(config) if probe else None))
        if probe and all(c.skipped for c in cells):
            raise ValueError(f"no cell of the study can run; first reason: {cells[0].skipped}")
        return cells

    def runs(self, cells: Sequence[AblationCell] | None = None) -> list[AblationRun]:
        """Every run of the study's runnable cells: repeats (seed, then fold) outermost, cells inside.

        Running repeat by repeat means an interrupted study already holds complete, paired repeats.
        """
        cells = self.cells() if cells is None else cells
        official = _official_folds(self.base.data)
        folds = official if self.folds is None else list(self.folds)
        unknown = [f for f in folds if f not in official]
        if unknown:
            raise ValueError(f"folds {unknown} are not among the data's official folds {official}.")
        out = Path(self.output_dir)
        runs = []
        for seed, fold in itertools.product(self.seeds, folds):
            val_fold = official[(official.index(fold) + 1) % len(official)]
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
    """Why the cell's model cannot be built, or ``None`` (built on the meta device: no memory)."""
    try:
        with torch.device("meta"):
            create_model(config.model, **config.model_kwargs)
    except UnknownModelError:
        raise
    except (TypeError, ValueError) as e:
        return f"{config.model} with {config.model_kwargs}: {e}"
    return None


# -- running --------------------------------------------------------------------------------------
def _write_json(path: Path, payload: Any) -> Path:
    """Write JSON atomically (temporary file in the same folder, then rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(json.dumps(_jsonable(payload), indent=2, allow_nan=False) + "\n")
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _write_text(path: Path, text: str) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def _jsonable(value: Any) -> Any:
    """NaN/inf -> None, numpy scalars -> Python numbers, tuples -> lists, paths -> strings."""
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return _jsonable(value.tolist())
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value) if math.isfinite(float(value)) else None
    if isinstance(value, Path):
        return str(value)
    return value


def _scalar_metrics(report: Mapping[str, Any]) -> dict[str, float]:
    return {
        k: float(v)
        for k, v in report.items()
        if isinstance(v, numbers.Real) and not isinstance(v, bool) and k != "num_classes"
    }


def _check_output_dir(out: Path) -> None:
    if out.exists() and not out.is_dir():
        raise FileExistsError(f"{out} is a file; choose a folder for the study.")
    if out.is_dir() and any(out.iterdir()) and not (out / _STUDY).is_file():
        raise FileExistsError(
            f"{out} is not empty and holds no ablation study ({_STUDY}); choose a new or empty folder."
        )


def _set_aside(run: AblationRun, out: Path) -> Path:
    """Move an unfinished run to ``incomplete/`` (nothing is deleted); returns where it went."""
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    target = out / "incomplete" / run.cell.name / f"{run.output_dir.name}-{stamp}"
    for i in itertools.count(1):
        if not target.exists():
            break
        target = target.with_name(f"{run.output_dir.name}-{stamp}-{i}")
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(run.output_dir), str(target))
    return target


def _load_finished(run: AblationRun) -> dict[str, Any]:
    path = run.output_dir / _RESULT
    try:
        record: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as e:
        raise ValueError(f"{path} is unreadable ({e}); move that run folder away to redo it.") from e
    recorded = _comparable(record.get("experiment", {}))
    planned = _comparable(run.config.to_dict())
    if recorded != planned:
        changed = sorted(k for k in set(recorded) | set(planned) if recorded.get(k) != planned.get(k))
        detail = ", ".join(f"{k}: {recorded.get(k)!r} -> {planned.get(k)!r}" for k in changed[:5])
        raise ValueError(
            f"{run.output_dir} finished with another configuration than this study asks for ({detail}). "
            f"Finished runs are never overwritten: use a new output_dir, or move that run folder away."
        )
    return record


def _record(run: AblationRun, metrics: dict[str, float], seconds: float, out: Path) -> dict[str, Any]:
    from . import __version__

    return {
        "cell": run.cell.name,
        "levels": run.cell.levels,
        "fold": run.fold,
        "val_fold": run.val_fold,
        "seed": run.seed,
        "metrics": metrics,
        "output_dir": run.output_dir.relative_to(out).as_posix(),
        "seconds": round(seconds, 3),
        "finished": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "version": __version__,
        "experiment": run.config.to_dict(),
    }


Runner = Callable[[ExperimentConfig], Mapping[str, Any]]


def run_ablation(
    study: AblationStudy,
    *,
    runner: Runner | None = None,
    on_run: Callable[[dict[str, Any]], None] | None = None,
) -> dict[str, Any]:
    """Run the study's missing runs, then summarise every finished run into ``ablation.json``/``.md``.

    Finished runs (with a ``result.json``) are reused; unfinished ones are moved to
    ``incomplete/`` and redone. Before each run the Python, NumPy and PyTorch generators are
    seeded with the run's seed, so the model's initial weights depend on the seed alone. One
    process at a time per study folder: a run another process is still training looks unfinished.

    Args:
        study: The study.
        runner: Trains and tests one configuration and returns a mapping with the test report
            under ``"test"``; default :func:`~brainvit_effnet.experiment.run_experiment`.
        on_run: Called after each run with its record plus ``"status"`` (``"trained"``,
            ``"redone"`` or ``"reused"``), ``"index"`` and ``"total"``; e.g. to print progress.

    Returns:
        ``{"summary": summarize_ablation(...), "report_files": {"json", "markdown"}, "runs": [...],
        "counts": {"trained", "redone", "reused"}}``.

    Raises:
        FileExistsError: ``output_dir`` is a non-empty folder that holds no study.
        ValueError: invalid study, or a finished run whose configuration differs from the study's.
    """
    runner = run_experiment if runner is None else runner
    out = Path(study.output_dir)
    _check_output_dir(out)
    cells = study.cells()
    runs = study.runs(cells)
    for run in runs:  # fail before any training if a finished run does not match the study
        if run.state() == "finished":
            _load_finished(run)
    out.mkdir(parents=True, exist_ok=True)
    _write_json(out / _STUDY, study.to_dict())

    records: list[dict[str, Any]] = []
    counts = {"trained": 0, "redone": 0, "reused": 0}
    for index, run in enumerate(runs, 1):
        state = run.state()
        if state == "finished":
            record, status = _load_finished(run), "reused"
        else:
            status = "trained"
            if state == "partial" and not any(run.output_dir.iterdir()):
                run.output_dir.rmdir()  # an empty folder: nothing to keep
            elif state == "partial":
                _logger.warning(
                    "%s is unfinished: set aside in %s, redoing it", run.name, _set_aside(run, out)
                )
                status = "redone"
            run.output_dir.mkdir(parents=True)
            _write_json(
                run.output_dir / _RUN_CONFIG,
                {
                    "cell": run.cell.levels,
                    "fold": run.fold,
                    "seed": run.seed,
                    "experiment": run.config.to_dict(),
                },
            )
            seed_everything(run.seed)
            start = time.perf_counter()
            result = runner(run.config)
            seconds = time.perf_counter() - start
            if not study.keep_checkpoints:
                shutil.rmtree(run.output_dir / "checkpoints", ignore_errors=True)
            record = _record(run, _scalar_metrics(result["test"]), seconds, out)
            _write_json(run.output_dir / _RESULT, record)  # written last: marks the run finished
        missing = [m for m in study.metrics if not _finite(record["metrics"].get(m))]
        if missing:  # say so now, not after the last run; finished runs are kept
            raise ValueError(
                f"{run.name} has no metric {missing} in its test report "
                f"(it has {sorted(record['metrics'])}); "
                f"fix the study's metrics and run it again (finished runs are reused)."
            )
        counts[status] += 1
        records.append(record)
        if on_run is not None:
            on_run({**record, "status": status, "index": index, "total": len(runs)})

    summary = summarize_ablation(
        records,
        study.factors,
        study.metrics,
        skipped=[{"cell": c.name, "levels": c.levels, "reason": c.skipped} for c in cells if c.skipped],
        confidence=study.confidence,
        permutations=study.permutations,
    )
    summary["settings"] = _settings(study, records)
    files = write_ablation_report(summary, out)
    return {
        "summary": summary,
        "report_files": {k: str(v) for k, v in files.items()},
        "runs": records,
        "counts": counts,
    }


def _settings(study: AblationStudy, records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    base = study.base
    return {
        "model": base.model,
        "pretrained": base.pretrained,
        "model_kwargs": base.model_kwargs,
        "data": base.data,
        "folds": sorted({r["fold"] for r in records}),
        "seeds": sorted({r["seed"] for r in records}),
        "epochs": base.train.epochs,
        "batch_size": base.train.batch_size,
        "lr": base.train.lr,
        "loss": base.train.loss,
        "output_dir": study.output_dir,
    }


# -- statistics -----------------------------------------------------------------------------------
def _t_interval(values: np.ndarray, confidence: float) -> tuple[float, float]:
    n = values.size
    if n < 2:
        return math.nan, math.nan
    mean, sd = float(values.mean()), float(values.std(ddof=1))
    half = float(stats.t.ppf((1 + confidence) / 2, n - 1)) * sd / math.sqrt(n)
    return mean - half, mean + half


def _sign_flip_p(diffs: np.ndarray, permutations: int, seed: int) -> tuple[float, str]:
    """Two-sided sign-flip permutation p-value of mean(diffs) = 0 (exact for <= 16 values)."""
    n = diffs.size
    observed = abs(float(diffs.mean()))
    tol = 1e-12 * max(1.0, observed)
    if n <= _EXACT_SIGN_FLIPS:
        signs = 1 - 2 * ((np.arange(2**n)[:, None] >> np.arange(n)) & 1)
        flipped = np.abs(signs @ diffs) / n
        return float(np.mean(flipped >= observed - tol)), "exact"
    rng = np.random.default_rng(seed)
    signs = rng.choice(np.array([-1.0, 1.0]), size=(permutations, n))
    flipped = np.abs(signs @ diffs) / n
    return float((1 + np.sum(flipped >= observed - tol)) / (permutations + 1)), "monte-carlo"


def _describe(values: np.ndarray, confidence: float) -> dict[str, Any]:
    n = values.size
    lo, hi = _t_interval(values, confidence)
    return {
        "n": int(n),
        "mean": float(values.mean()) if n else math.nan,
        "std": float(values.std(ddof=1)) if n > 1 else math.nan,
        "ci": [lo, hi],
    }


def _check_records(
    runs: Sequence[Mapping[str, Any]], factors: Mapping[str, Sequence[Any]], metrics: Sequence[str]
) -> None:
    seen: set[tuple[str, Any, Any]] = set()
    for i, run in enumerate(runs):
        for key in ("levels", "fold", "seed", "metrics"):
            if key not in run:
                raise ValueError(f"runs[{i}] has no {key!r}; each run needs levels, fold, seed and metrics.")
        levels = run["levels"]
        if set(levels) != set(factors):
            raise ValueError(f"runs[{i}] has levels for {sorted(levels)}; the factors are {sorted(factors)}.")
        for name, level in levels.items():
            if _level_key(level) not in {_level_key(v) for v in factors[name]}:
                raise ValueError(f"runs[{i}]: {level!r} is not a level of {name!r} ({list(factors[name])}).")
        for m in metrics:
            value = run["metrics"].get(m)
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise ValueError(
                    f"runs[{i}] has no numeric metric {m!r} (it has {sorted(run['metrics'])}); "
                    f"choose metrics that every run reports."
                )
        run_key = (_level_key([levels[f] for f in factors]), run["fold"], run["seed"])
        if run_key in seen:
            raise ValueError(f"runs[{i}] repeats cell {levels} on fold {run['fold']}, seed {run['seed']}.")
        seen.add(run_key)


def summarize_ablation(
    runs: Sequence[Mapping[str, Any]],
    factors: Mapping[str, Sequence[Any]],
    metrics: Sequence[str] = DEFAULT_METRICS,
    *,
    skipped: Sequence[Mapping[str, Any]] = (),
    confidence: float = 0.95,
    permutations: int = 10_000,
    seed: int = 0,
) -> dict[str, Any]:
    """Per-cell statistics and paired factor effects of a factorial study.

    A *repeat* is a (fold, seed) pair. **Cells**: mean, sample standard deviation (``ddof=1``) and
    a Student-t interval of each metric over the cell's repeats. **Effects**: for each factor and
    each of its levels after the first (the reference), and each metric, the difference
    ``metric(level) - metric(reference)`` is taken between cells that agree on every other factor
    (a *context*) within the same repeat, then averaged over the contexts, one difference ``d_r``
    per repeat. Only repeats in which every runnable context has both cells are used, so each
    ``d_r`` averages the same contexts. Reported: mean ``d_r`` (the main effect), its t interval,
    a two-sided sign-flip permutation p-value over the repeats (exact enumeration of all ``2**n``
    sign patterns up to 16 repeats, otherwise ``permutations`` random ones), the smallest p the
    test can give with this many repeats (``2 / 2**n``), how many repeats favour the level, and
    the mean difference in each context (interactions show as contexts that disagree).

    Repeats over folds share training data, so they are not independent: the intervals and
    p-values are optimistic, and with few repeats they are wide or cannot reach significance.

    Args:
        runs: One mapping per finished run: ``levels`` (factor -> level), ``fold``, ``seed`` and
            ``metrics`` (metric -> number).
        factors: Factor -> levels (the first level is each factor's reference).
        metrics: Metrics to summarise; each must be a number in every run.
        skipped: Cells that could not run, as ``{"cell", "levels", "reason"}``; listed in the report.
        confidence: Interval level.
        permutations: Random sign patterns when there are more than 16 repeats.
        seed: Seed of those random sign patterns.

    Returns:
        ``{"factors", "metrics", "lower_is_better", "confidence", "n_runs", "repeats", "cells",
        "effects", "skipped", "method"}``; NaN where a statistic is undefined (e.g. the standard
        deviation of a single repeat).

    Examples:
        >>> runs = [
        ...     {"levels": {"tf": tf}, "fold": f, "seed": 0, "metrics": {"accuracy": 0.8 + tf / 10 + f / 100}}
        ...     for tf in (False, True)
        ...     for f in (1, 2, 3)
        ... ]
        >>> s = summarize_ablation(runs, {"tf": [False, True]}, ["accuracy"])
        >>> effect = s["effects"][0]
        >>> round(effect["mean"], 3), effect["n"], effect["p_value"], effect["better"]
        (0.1, 3, 0.25, 3)
    """
    factors = _check_levels(factors)
    if isinstance(metrics, str) or not metrics:
        raise ValueError(f"metrics must be a non-empty list of metric names; got {metrics!r}.")
    if not 0 < confidence < 1:
        raise ValueError(f"confidence must be in (0, 1); got {confidence}.")
    _check_records(runs, factors, metrics)
    names = list(factors)
    level_keys = {f: [_level_key(v) for v in factors[f]] for f in names}
    skipped_cells = {tuple(_level_key(s["levels"][f]) for f in names) for s in skipped if "levels" in s}

    # values[cell index tuple][(fold, seed)] = metrics
    values: dict[tuple[int, ...], dict[tuple[Any, Any], Mapping[str, Any]]] = {}
    for run in runs:
        idx = tuple(level_keys[f].index(_level_key(run["levels"][f])) for f in names)
        values.setdefault(idx, {})[(run["fold"], run["seed"])] = run["metrics"]
    repeats = sorted({(r["fold"], r["seed"]) for r in runs}, key=lambda r: (r[1], r[0]))

    cells = []
    for idx in itertools.product(*(range(len(factors[f])) for f in names)):
        levels = {f: factors[f][i] for f, i in zip(names, idx, strict=True)}
        by_repeat = values.get(idx, {})
        keys = [r for r in repeats if r in by_repeat]
        is_skipped = tuple(level_keys[f][i] for f, i in zip(names, idx, strict=True)) in skipped_cells
        cells.append(
            {
                "levels": levels,
                "label": ", ".join(f"{f} {_level_label(v)}" for f, v in levels.items()),
                "n": len(keys),
                "repeats": [list(k) for k in keys],
                "skipped": is_skipped,
                "metrics": {
                    m: {
                        **_describe(np.array([float(by_repeat[k][m]) for k in keys]), confidence),
                        "values": [float(by_repeat[k][m]) for k in keys],
                    }
                    for m in metrics
                },
            }
        )

    effects = _paired_effects(values, repeats, factors, metrics, confidence, permutations, seed)
    return {
        "factors": {f: list(v) for f, v in factors.items()},
        "metrics": list(metrics),
        "lower_is_better": [m for m in metrics if m in LOWER_IS_BETTER],
        "confidence": confidence,
        "n_runs": len(runs),
        "repeats": [list(r) for r in repeats],
        "cells": cells,
        "effects": effects,
        "skipped": [dict(s) for s in skipped],
        "method": _METHOD.format(level=round(confidence * 100)),
    }


Cell = tuple[int, ...]
Repeat = tuple[Any, Any]


def _paired_effects(
    values: Mapping[Cell, Mapping[Repeat, Mapping[str, Any]]],
    repeats: Sequence[Repeat],
    factors: Mapping[str, Sequence[Any]],
    metrics: Sequence[str],
    confidence: float,
    permutations: int,
    seed: int,
) -> list[dict[str, Any]]:
    """Each non-reference level of each factor against the reference level, paired by repeat."""
    names = list(factors)
    effects = []
    for fi, factor in enumerate(names):
        other_names = [g for g in names if g != factor]
        for level_i in range(1, len(factors[factor])):

            def cell(ctx: Cell, i: int, fi: int = fi) -> Cell:
                return (*ctx[:fi], i, *ctx[fi:])

            # Contexts (levels of the other factors) in which both cells ran, and the repeats that
            # hold both cells in every one of them, so that every repeat averages the same contexts.
            contexts = [
                ctx
                for ctx in itertools.product(*(range(len(factors[g])) for g in other_names))
                if cell(ctx, 0) in values and cell(ctx, level_i) in values
            ]
            usable = [
                r
                for r in repeats
                if contexts
                and all(r in values[cell(c, 0)] and r in values[cell(c, level_i)] for c in contexts)
            ]
            for m in metrics:
                per_context = np.array(
                    [
                        [
                            float(values[cell(c, level_i)][r][m]) - float(values[cell(c, 0)][r][m])
                            for r in usable
                        ]
                        for c in contexts
                    ],
                    dtype=float,
                ).reshape(len(contexts), len(usable))
                d = per_context.mean(axis=0) if usable else np.array([], dtype=float)
                sign = -1.0 if m in LOWER_IS_BETTER else 1.0
                p, p_method = _sign_flip_p(d, permutations, seed) if d.size else (math.nan, "none")
                effects.append(
                    {
                        "factor": factor,
                        "level": factors[factor][level_i],
                        "reference": factors[factor][0],
                        "comparison": (
                            f"{_level_label(factors[factor][level_i])} vs {_level_label(factors[factor][0])}"
                        ),
                        "metric": m,
                        **_describe(d, confidence),
                        "diffs": d.tolist(),
                        "repeats": [list(r) for r in usable],
                        "n_contexts": len(contexts),
                        "p_value": p,
                        "p_method": p_method,
                        "min_p": 2.0 / 2**d.size if 0 < d.size <= _EXACT_SIGN_FLIPS else math.nan,
                        "better": int(np.sum(sign * d > 0)),
                        "worse": int(np.sum(sign * d < 0)),
                        "by_context": [
                            {
                                "levels": {g: factors[g][i] for g, i in zip(other_names, c, strict=True)},
                                "mean": float(row.mean()) if usable else math.nan,
                            }
                            for c, row in zip(contexts, per_context, strict=True)
                        ],
                    }
                )
    return effects


_METHOD = (
    "A repeat is one (test fold, seed) pair: the cell is trained on the other folds but one, which "
    "validates (best epoch), and tested on the test fold. Cells: mean ± sample standard deviation over "
    "repeats, with a Student-t {level}% interval. Effects: within each repeat, the metric at a level "
    "minus the metric at the factor's first level, between cells that agree on every other factor, "
    "averaged over those other factors' levels; then the mean over repeats with a Student-t {level}% "
    "interval and a two-sided sign-flip permutation p-value (exact over all 2^n sign patterns up to 16 "
    "repeats). With n repeats the smallest possible p is 2/2^n. Folds share training data, so repeats "
    "are not independent and the intervals are optimistic."
)


# -- reporting ------------------------------------------------------------------------------------
def _finite(value: Any) -> bool:
    return isinstance(value, numbers.Real) and math.isfinite(float(value))


def _fmt(value: Any, digits: int = 3, signed: bool = False) -> str:
    if not _finite(value):
        return "n/a"
    return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"


def _mean_std_ci(stat: Mapping[str, Any]) -> str:
    """``mean ± std (lo, hi)``; the mean alone for a single repeat."""
    if not _finite(stat.get("std")):
        return _fmt(stat.get("mean"))
    return f"{_fmt(stat['mean'])} ± {_fmt(stat['std'])} ({_fmt(stat['ci'][0])}, {_fmt(stat['ci'][1])})"


def _metric_header(metric: str, lower: Sequence[str]) -> str:
    return f"{metric} {'↓' if metric in lower else '↑'}"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def ablation_tables(summary: Mapping[str, Any], metrics: Sequence[str] | None = None) -> str:
    """The cell table and the main-effect table of a summary, as Markdown (also fine in a terminal).

    Args:
        summary: A :func:`summarize_ablation` result.
        metrics: Metrics to show; default: the summary's.
    """
    metrics = list(summary["metrics"] if metrics is None else metrics)
    lower = summary.get("lower_is_better", [])
    level = round(float(summary.get("confidence", 0.95)) * 100)
    factors = list(summary["factors"])
    rows = []
    for cell in summary["cells"]:
        row = [_level_label(cell["levels"][f]) for f in factors]
        if cell["skipped"]:
            rows.append([*row, "0", *("skipped" for _ in metrics)])
            continue
        rows.append([*row, str(cell["n"]), *(_mean_std_ci(cell["metrics"][m]) for m in metrics)])
    cells = _table([*factors, "n", *(_metric_header(m, lower) for m in metrics)], rows)
    effect_rows = [
        [
            e["factor"],
            e["comparison"],
            _metric_header(e["metric"], lower),
            str(e["n"]),
            _fmt(e["mean"], signed=True),
            f"({_fmt(e['ci'][0], signed=True)}, {_fmt(e['ci'][1], signed=True)})",
            _fmt(e["p_value"], 2) + (f" (min {_fmt(e['min_p'], 2)})" if _finite(e.get("min_p")) else ""),
            f"{e['better']} / {e['worse']}",
        ]
        for e in summary["effects"]
        if e["metric"] in metrics
    ]
    effects = _table(
        ["factor", "comparison", "metric", "n", "mean Δ", f"{level}% CI", "sign-flip p", "better / worse"],
        effect_rows,
    )
    return f"{cells}\n\n{effects}\n"


def _render_markdown(summary: Mapping[str, Any]) -> str:
    level = round(float(summary.get("confidence", 0.95)) * 100)
    settings = summary.get("settings", {})
    n_repeats = len(summary["repeats"])
    lines = ["# Ablation study", ""]
    if settings:
        lines += [
            _table(["setting", "value"], [[k, f"`{json.dumps(_jsonable(v))}`"] for k, v in settings.items()]),
            "",
        ]
    lines += [
        f"{summary['n_runs']} finished runs over {n_repeats} repeats (test fold and seed). "
        "↑: higher is better, ↓: lower is better.",
        "",
    ]
    tables = ablation_tables(summary).split("\n\n", 1)
    lines += [
        f"## Cells: mean ± std over repeats ({level}% CI)",
        "",
        tables[0],
        "",
        "## Effects, paired by test fold and seed",
        "",
        "Δ is the metric at the level minus the metric at the reference level, averaged over the other "
        "factors' levels within each repeat; *better / worse* counts the repeats in which the level did "
        "better or worse than the reference (↑/↓ give the direction).",
        "",
        tables[1].rstrip(),
        "",
    ]
    if n_repeats < 6:
        lines += [
            f"> **Small n.** {n_repeats} repeat(s): the smallest possible sign-flip p is "
            f"{_fmt(2 / 2**n_repeats if n_repeats else math.nan, 3)}, so no effect can reach p < 0.05 "
            "(two-sided); read the intervals and the per-repeat agreement, and add folds or seeds for a "
            "conclusion.",
            "",
        ]
    if summary.get("skipped"):
        lines += ["## Skipped cells", ""]
        lines += [f"- `{s.get('cell', s.get('levels'))}`: {s.get('reason')}" for s in summary["skipped"]]
        lines += [""]
    lines += ["## Method", "", summary["method"], ""]
    return "\n".join(lines)


def write_ablation_report(summary: Mapping[str, Any], out_dir: str | Path) -> dict[str, Path]:
    """Write ``ablation.json`` (everything, NaN as null) and ``ablation.md`` (tables), atomically.

    Args:
        summary: A :func:`summarize_ablation` result (optionally with ``"settings"``).
        out_dir: Folder to write into (created if missing).

    Returns:
        ``{"json": path, "markdown": path}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return {
        "json": _write_json(out / "ablation.json", summary),
        "markdown": _write_text(out / "ablation.md", _render_markdown(summary)),
    }
