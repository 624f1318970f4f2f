"""Experiments: one config -> data, model, training, held-out evaluation, saved model and report.

The CLI (``brainvit-effnet train/evaluate/demo``) is a thin layer over :func:`run_experiment` and
:func:`cross_validate`; scripts can call them directly.

Data sources (``ExperimentConfig.data``):

* ``"sample"``: the bundled Figshare sample (offline);
* ``"figshare:PATH"``: a Figshare folder in any layout (official patient-disjoint folds);
* ``"folder:PATH"``: a class-per-folder tree; with ``Training``/``Testing`` folders those are
  used (with a grouped validation hold-out from training), otherwise a grouped, stratified
  train/validation/test hold-out is drawn. Hold-outs are drawn with ``split_seed``, not
  ``train.seed``, so another training seed keeps the test set.

:func:`open_dataset` opens a config's data once; ``run_experiment(cfg, dataset=...)`` reuses it,
as :func:`cross_validate` does for its folds and :class:`DatasetReuse` for a series of runs.

Examples:
    >>> from brainvit_effnet.experiment import ExperimentConfig, run_experiment
    >>> cfg = ExperimentConfig(model="effnet_test_tf", data="sample")
    >>> cfg.train.epochs = 2
    >>> result = run_experiment(cfg)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import signal
import time
import weakref
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ._atomic import write_text_atomically
from ._json import dumps, read_json
from ._progress import progress_bar
from .cards import FIGSHARE_DATASET_ID
from .data import (
    Br35HDataset,
    FigshareDataset,
    FolderDataset,
    MRIDataset,
    create_transforms,
    grouped_holdout,
    load_sample,
)
from .data.slice_cache import load_slice_cache, save_slice_cache
from .data.sources import DataSource
from .data.splits import check_no_group_overlap, official_folds_split, validation_fold
from .errors import InvalidArgumentError, TrainingInterrupted
from .hub import save_pretrained
from .metrics import summarize_folds
from .models import create_model, resolve_model_config
from .reports import write_cv_report, write_evaluation_report
from .results import KEY_METRICS, ClassificationReport, CVResult, ExperimentResult
from .train import TrainConfig, Trainer
from .train.checkpoint import check_output_dir
from .train.config import check_field_types, check_known_options, read_mapping
from .train.distributed import is_main
from .train.seeding import seed_everything

__all__ = [
    "DatasetReuse",
    "ExperimentConfig",
    "cross_validate",
    "load_data",
    "open_dataset",
    "run_experiment",
]

#: The default ``ExperimentConfig.split_seed``: folder hold-outs stay put whatever ``train.seed`` is.
DEFAULT_SPLIT_SEED = 0

_logger = logging.getLogger(__name__)


@dataclass
class ExperimentConfig:
    """What to train on what, and how to evaluate it.

    Attributes:
        model: Model name for :func:`~brainvit_effnet.create_model`.
        pretrained: Start from the model's default pretrained tag.
        model_kwargs: Extra model options (``depth``, ``cbam``, ``img_size``...).
        data: ``"sample"``, ``"figshare:PATH"`` or ``"folder:PATH"``.
        classes: Class subset (e.g. the three tumour types); default: all of the data's classes.
        val_folds, test_folds: Official folds for validation and test (Figshare and the sample);
            training uses the rest.
        val_size, test_size: Fractions for a grouped hold-out on folder data without split folders.
        split_seed: Seed of that hold-out (and of the validation hold-out from a ``Training``
            folder). It is separate from ``train.seed`` on purpose: repeating a run with another
            training seed keeps the same test set, so the seeds' results compare on the same images.
        crop: The study's brain crop.
        strict: Folder data: raise on unknown class folders, stray or unreadable files (default);
            ``False`` skips them with one warning listing the count (CLI ``--lenient``).
        aliases: Folder data: extra folder-name -> class mappings (CLI ``--alias NAME=CLASS``).
        cache: Keep decoded slices in memory.
        cache_dir: Folder for an on-disk copy of that cache (needs ``cache``; see
            :mod:`~brainvit_effnet.data.slice_cache`): the first experiment on the data writes it,
            later ones (other folds, ablation runs, other processes) read it instead of decoding
            and cropping every slice again. Slices whose file changed are decoded again.
        augment: Options of :func:`~brainvit_effnet.data.create_transforms` (``rotation``...).
        bootstrap: Bootstrap resamples for the test metrics' 95% confidence intervals.
        train: Training options.
    """

    model: str = "effnet_test_tf"
    pretrained: bool = False
    model_kwargs: dict[str, Any] = field(default_factory=dict)
    data: str = "sample"
    classes: list[str] | None = None
    val_folds: list[int] = field(default_factory=lambda: [4])
    test_folds: list[int] = field(default_factory=lambda: [5])
    val_size: float = 0.1
    test_size: float = 0.2
    split_seed: int = DEFAULT_SPLIT_SEED
    crop: bool = True
    strict: bool = True
    aliases: dict[str, str] = field(default_factory=dict)
    cache: bool = False
    cache_dir: str | None = None
    augment: dict[str, Any] = field(default_factory=dict)
    bootstrap: int = 200
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        check_field_types(self)

    def to_dict(self) -> dict[str, Any]:
        values = dataclasses.asdict(self)
        values["train"] = self.train.to_dict()
        return values

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> ExperimentConfig:
        """Build from a mapping (``train`` may be a nested mapping), rejecting unknown keys."""
        values = dict(values)
        check_known_options(cls, values, "experiment")
        train = values.pop("train", {}) or {}
        return cls(**values, train=train if isinstance(train, TrainConfig) else TrainConfig.from_dict(train))

    @classmethod
    def from_file(cls, path: str | Path, overrides: dict[str, Any] | None = None) -> ExperimentConfig:
        """Read YAML/JSON, then apply dotted overrides such as ``{"train.epochs": 3}``."""
        return cls.from_dict(apply_overrides(read_mapping(path, "experiment config"), overrides or {}))


def apply_overrides(values: dict[str, Any], overrides: dict[str, Any]) -> dict[str, Any]:
    """Set dotted keys (``"train.lr"``) in a nested dict; returns a new dict."""
    result = {k: (dict(v) if isinstance(v, dict) else v) for k, v in values.items()}
    for dotted, value in overrides.items():
        *parents, leaf = dotted.split(".")
        node = result
        for part in parents:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise InvalidArgumentError(f"cannot set {dotted!r}: {part!r} is not a section.")
        node[leaf] = value
    return result


def _dataset_options(cfg: ExperimentConfig) -> tuple[Any, ...]:
    """The options that decide what :func:`open_dataset` opens (two configs equal here share it)."""
    return (
        cfg.data,
        cfg.crop,
        cfg.cache,
        tuple(cfg.classes or ()),
        cfg.strict,
        tuple(sorted(cfg.aliases.items())),
    )


# Datasets opened by open_dataset and the options they were opened with, to refuse reusing one for
# a config it does not fit. Weak keys: an entry goes with its dataset.
_OPENED: weakref.WeakKeyDictionary[MRIDataset, tuple[Any, ...]] = weakref.WeakKeyDictionary()


def open_dataset(cfg: ExperimentConfig) -> MRIDataset:
    """The whole dataset that ``cfg.data`` names, with the config's ``classes``, ``crop``, ``cache``,
    ``strict`` and ``aliases`` and no transform (every part gets its own).

    Opening scans the files (a Figshare release reads every ``.mat`` header); with ``cache`` the
    decoded slices are kept in it. Pass it as ``dataset=`` to :func:`run_experiment` or
    :func:`load_data` to run several experiments on one scan and one cache:
    :func:`cross_validate` opens its data once for all folds, and :class:`DatasetReuse` does the
    same for a series of experiments (an ablation).

    Examples:
        >>> cfg = ExperimentConfig(data="sample")
        >>> len(open_dataset(cfg).classes)
        3
    """
    source = DataSource.parse(cfg.data)
    common: dict[str, Any] = {"crop": cfg.crop, "cache": cfg.cache}
    if cfg.classes:
        common["classes"] = cfg.classes
    if source.kind == "sample":
        full: MRIDataset = load_sample(**common)
    elif source.kind == "figshare":
        assert source.path is not None
        full = FigshareDataset(source.path, **common)
    else:
        assert source.path is not None
        reader = Br35HDataset if source.kind == "br35h" else FolderDataset
        full = reader(source.path, strict=cfg.strict, aliases=cfg.aliases, **common)
    _OPENED[full] = _dataset_options(cfg)
    return full


def _check_dataset(cfg: ExperimentConfig, dataset: MRIDataset) -> None:
    """A dataset from :func:`open_dataset` must have been opened with ``cfg``'s data options."""
    opened = _OPENED.get(dataset)
    if opened is None:  # built by the caller: used as given
        return
    wanted = _dataset_options(cfg)
    if opened != wanted:
        names = ("data", "crop", "cache", "classes", "strict", "aliases")
        diff = ", ".join(
            f"{n}: {o!r} vs {w!r}" for n, o, w in zip(names, opened, wanted, strict=True) if o != w
        )
        raise InvalidArgumentError(
            f"the dataset passed as dataset= was opened for other data options than this config's "
            f"({diff}); open it with open_dataset(cfg) for this config, or leave dataset= out."
        )


def load_data(
    cfg: ExperimentConfig, model: Any, *, dataset: MRIDataset | None = None
) -> tuple[MRIDataset, MRIDataset, MRIDataset]:
    """Train, validation and test datasets (with the model's transforms), patient/fold-disjoint.

    Args:
        cfg: The experiment (data source, folds or hold-out sizes, ``split_seed``, augmentation).
        model: The model whose preprocessing config sets the transforms, or that config
            (:func:`~brainvit_effnet.models.resolve_model_config`).
        dataset: The whole dataset, already opened (:func:`open_dataset`); default: opened here.
            The three parts are subsets of it and share its cache.
    """
    train_tf, eval_tf = create_transforms(model, **cfg.augment)
    # Counterfactual occlusion trains on the tumour masks; evaluation never needs them.
    masks = True if cfg.train.counterfactual_prob > 0 else None
    if dataset is not None:
        _check_dataset(cfg, dataset)
    full = open_dataset(cfg) if dataset is None else dataset
    if DataSource.parse(cfg.data).has_official_folds:
        fold_ids = [r.fold for r in full.records if r.fold is not None]
        if len(fold_ids) < len(full.records):
            raise InvalidArgumentError(
                f"{cfg.data} has slices without an official fold, so val_folds/test_folds cannot "
                "split it: put the release's cvind.mat next to the slices (or a cv_fold column in "
                "metadata.csv)."
            )
        try:
            split = official_folds_split(fold_ids, cfg.test_folds, cfg.val_folds or None)
        except InvalidArgumentError as e:  # name the config's options, not the function's arguments
            raise InvalidArgumentError(
                f"val_folds {cfg.val_folds} and test_folds {cfg.test_folds} cannot split {cfg.data}: {e}"
            ) from None
        check_no_group_overlap(split, full.groups)
        return (
            full.subset(split.train, transform=train_tf, return_mask=masks),
            full.subset(split.val, transform=eval_tf),
            full.subset(split.test, transform=eval_tf),
        )
    splits = {r.split for r in full.records}
    if {"train", "test"} <= splits:
        train_idx = [i for i, r in enumerate(full.records) if r.split == "train"]
        test_idx = [i for i, r in enumerate(full.records) if r.split == "test"]
        _warn_exact_copies(full, train_idx, test_idx)
        train_part = full.subset(train_idx)
        holdout = grouped_holdout(
            train_part.targets, train_part.groups, test_size=cfg.val_size, seed=cfg.split_seed
        )
        return (
            train_part.subset(holdout.train, transform=train_tf, return_mask=masks),
            train_part.subset(holdout.test, transform=eval_tf),
            full.subset(test_idx, transform=eval_tf),
        )
    split = grouped_holdout(
        full.targets, full.groups, test_size=cfg.test_size, val_size=cfg.val_size, seed=cfg.split_seed
    )
    return (
        full.subset(split.train, transform=train_tf, return_mask=masks),
        full.subset(split.val, transform=eval_tf),
        full.subset(split.test, transform=eval_tf),
    )


#: File hashes per opened dataset and sample index: a series of experiments on one dataset (as
#: :class:`DatasetReuse` runs them) reads and hashes each file once for the copy check.
_DIGESTS: weakref.WeakKeyDictionary[MRIDataset, dict[int, str]] = weakref.WeakKeyDictionary()


def _warn_exact_copies(data: MRIDataset, train_idx: list[int], test_idx: list[int]) -> int:
    """Warn, with counts, when test files are byte-identical to training files (a cheap check:
    file hashes only; ``brainvit-effnet leakage`` finds near and mirrored copies too)."""
    known = _DIGESTS.setdefault(data, {})

    def digest(i: int) -> str:
        if i not in known:
            known[i] = hashlib.sha256(Path(data.records[i].source).read_bytes()).hexdigest()
        return known[i]

    train = {digest(i) for i in train_idx}
    copies = sum(digest(i) in train for i in test_idx)
    if copies:
        _logger.warning(
            "%d of %d test images are byte-identical copies of training images: test metrics are "
            "inflated by leakage. Run `brainvit-effnet leakage %s` for near and mirrored copies too.",
            copies,
            len(test_idx),
            getattr(data, "root", "<tree>"),
        )
    return copies


def run_experiment(
    cfg: ExperimentConfig, *, resume: str | Path | None = None, dataset: MRIDataset | None = None
) -> ExperimentResult:
    """Train on the training part, pick the best epoch on validation, report on the test part.

    Writes into ``cfg.train.output_dir``: the Trainer's log and checkpoints, ``model/`` (the best
    model via ``save_pretrained``, with a model card carrying the test metrics) and ``report/``
    (JSON, Markdown, confusion matrix, reliability diagram, training curves). Every generator is
    seeded with ``cfg.train.seed`` before the model is built, so a run is reproducible. Under
    torchrun every rank trains and evaluates; only rank 0 writes ``model/`` and ``report/``.

    Args:
        cfg: The experiment.
        resume: A checkpoint folder (``<output_dir>/checkpoints/last``) to continue from.
        dataset: The whole dataset, opened once by :func:`open_dataset` for several experiments
            on the same data (its scan and cache are reused); default: opened here.

    Returns:
        An :class:`~brainvit_effnet.results.ExperimentResult`: ``{"output_dir", "model_dir",
        "report_files", "test": report, "fit": fit_result, "sizes": {"train", "val", "test"},
        "preprocess_seconds"}`` (slice counts; the time taken to decode and crop every slice into
        the cache when ``cfg.cache``).
    """
    # The transforms need only the model's preprocessing config: resolved without building a model.
    model_cfg = resolve_model_config(cfg.model, **cfg.model_kwargs)
    train_data, val_data, test_data = load_data(cfg, model_cfg, dataset=dataset)
    out_dir = Path(cfg.train.output_dir)
    if not cfg.train.overwrite:  # never write into someone else's run folder
        check_output_dir(out_dir, overwrite=False, resuming=resume is not None)
    _record_split(out_dir, (train_data, val_data, test_data), resuming=resume is not None)
    started = time.perf_counter()
    if cfg.cache:  # decode and crop once, before training: epoch timings then measure training
        _warm_caches(cfg, (train_data, val_data, test_data))
    elif cfg.cache_dir is not None:
        raise InvalidArgumentError(
            "cache_dir needs cache: true (it is an on-disk copy of the in-memory cache)."
        )
    else:  # nothing decodes before training: find a corrupt file now, not after the last epoch
        for part in (train_data, val_data, test_data):
            part.check_files()
    preprocess_seconds = time.perf_counter() - started
    seed_everything(cfg.train.seed)  # the initial weights too, not only what fit() draws
    model = create_model(
        cfg.model,
        pretrained=cfg.pretrained,
        num_classes=len(train_data.classes),
        label_names=train_data.classes,
        **cfg.model_kwargs,
    )
    trainer = Trainer(model, cfg.train)
    fit = trainer.fit(train_data, val_data if len(val_data) else None, resume=resume)
    if fit["interrupted"]:  # a stopped run publishes no model and no report: it is not finished
        last = fit["checkpoints"]["last"]
        raise TrainingInterrupted(
            f"training was stopped by {fit['signal']} after optimiser step {trainer.progress.step}; no model "
            f"or report was written. A resumable checkpoint is in {last}: run the same command again with "
            f"--resume {last} (API: run_experiment(cfg, resume=...)).",
            signum=int(signal.Signals[str(fit["signal"])]),
            checkpoint=last,
        )
    best = Path(fit["checkpoints"]["best"])
    from .train.state import load_weights

    load_weights(trainer.model, best)
    test = trainer.evaluate(test_data, bootstrap=cfg.bootstrap)
    out = Path(cfg.train.output_dir)
    settings = {
        "model": cfg.model,
        "data": cfg.data,
        "train_size": len(train_data),
        "val_size": len(val_data),
        "test_size": len(test_data),
        "best_epoch": fit["best_epoch"],
        "epochs_run": len(fit["history"]),
        # Slices of this run whose brain crop collapsed and were used uncropped (known once they
        # were decoded). The set is shared with every experiment on the same opened dataset.
        "crop_fallbacks": len(
            train_data.crop_fallbacks
            & {r.source for part in (train_data, val_data, test_data) for r in part.records}
        ),
    }
    card = {
        "training_data": f"{cfg.data}: {len(train_data)} training slices ({', '.join(train_data.classes)}).",
        "split_protocol": _protocol(cfg, train_data, val_data, test_data),
        "metrics": {k: round(float(test[k]), 4) for k in KEY_METRICS},  # type: ignore[literal-required]
        "ci95": dict(test.get("ci95") or {}),
        "evaluation_data": f"{cfg.data}: test part ({len(test_data)} slices)",
    }
    if DataSource.parse(cfg.data).has_official_folds:  # Figshare: the card gets its licence and attribution
        card["datasets"] = [FIGSHARE_DATASET_ID]
    model_dir = out / "model"
    files: dict[str, Path] = {}
    if is_main():  # under torchrun every rank evaluated (a collective); one writes the files
        save_pretrained(trainer.model, model_dir, model_card=card, brain_crop=cfg.crop)
        files = write_evaluation_report(
            test,
            out / "report",
            title=f"{cfg.model} on {cfg.data}: held-out test",
            history=fit["history"],
            extra=settings,
        )
    return {
        "output_dir": str(out),
        "model_dir": str(model_dir),
        "report_files": {k: str(v) for k, v in files.items()},
        "test": test,
        "fit": fit,
        "sizes": {"train": len(train_data), "val": len(val_data), "test": len(test_data)},
        "preprocess_seconds": preprocess_seconds,
    }


_PARTS = ("train", "val", "test")


def _split_fingerprint(parts: tuple[MRIDataset, ...], *, relative: bool = True) -> dict[str, Any]:
    """Slice counts and a hash of the sorted file list of each part (train, val, test).

    The files are named relative to the folder that holds them all, so the same data moved
    elsewhere has the same fingerprint. ``relative=False`` hashes absolute paths, as split files
    written before this rule did (a resume accepts either).
    """
    sources = {name: sorted(r.source for r in part.records) for name, part in zip(_PARTS, parts, strict=True)}
    everything = [s.split("::")[0] for listed in sources.values() for s in listed]
    root = os.path.commonpath(everything) if relative and everything else ""
    if root and os.path.isfile(root):  # a single file (one NIfTI volume): its folder
        root = os.path.dirname(root)
    out: dict[str, Any] = {}
    for name, listed in sources.items():
        names = [os.path.relpath(s, root) if root else s for s in listed]
        out[name] = {"n": len(names), "sha1": hashlib.sha1("\n".join(names).encode()).hexdigest()}
    return out


def _record_split(out: Path, parts: tuple[MRIDataset, ...], *, resuming: bool) -> None:
    """Write the run's split to ``split.json``; a resume must find the same split.

    A folder split is drawn from the file list, so removing one file (say, a corrupt one) draws
    another split: resuming would then test on former training images.
    """
    current = _split_fingerprint(parts)
    path = out / "split.json"
    if resuming and not path.is_file():
        raise InvalidArgumentError(
            f"cannot resume {out}: its split.json is missing, so nothing shows that the data is split as "
            f"it was when the run started (a redrawn split could test on images the run trained on). "
            f"Restore split.json, or start a new run."
        )
    if resuming:
        recorded = read_json(path, fix="Restore it from a backup, or start a new run.")
        legacy = _split_fingerprint(parts, relative=False)
        changed = [k for k in current if recorded.get(k) not in (current[k], legacy[k])]
        if changed:
            detail = ", ".join(
                f"{k}: {recorded.get(k, {}).get('n')} -> {current[k]['n']} slices" for k in changed
            )
            raise InvalidArgumentError(
                f"cannot resume {out}: its data split differs from the one it started with ({detail}; "
                f"the files, or the split_seed, changed since; runs from before split_seed existed drew "
                f"folder splits with train.seed: set split_seed to it). Restore the data as it was, or "
                f"start a new run."
            )
        return
    if is_main():
        write_text_atomically(path, dumps(current, "split.json"))


def _slice_cache_file(cfg: ExperimentConfig, data: MRIDataset) -> Path:
    """One file per data source, crop setting and size cap, inside ``cfg.cache_dir``."""
    assert cfg.cache_dir is not None
    source = DataSource.parse(cfg.data)
    where = "sample" if source.path is None else str(source.path.resolve())
    key = json.dumps([source.kind, where, data.crop, data.cache_max_side])
    digest = hashlib.sha1(key.encode()).hexdigest()[:12]
    return Path(cfg.cache_dir).expanduser() / f"slices-{digest}.safetensors"


def _warm_caches(cfg: ExperimentConfig, parts: tuple[MRIDataset, ...]) -> None:
    """Fill the parts' shared in-memory cache: from ``cfg.cache_dir`` where it holds them, else decode."""
    cache_file = _slice_cache_file(cfg, parts[0]) if cfg.cache_dir is not None else None
    loaded = decoded = 0
    for part in parts:
        if cache_file is not None and cache_file.is_file():
            loaded += load_slice_cache(part, cache_file)
        before = len(part._cache or {})
        part.warm_cache()
        decoded += len(part._cache or {}) - before
    if cache_file is not None:
        if decoded and is_main():  # under torchrun one rank writes it
            save_slice_cache(parts[0], cache_file)
        _logger.info("Slice cache %s: %d slices read, %d decoded", cache_file, loaded, decoded)


def _protocol(cfg: ExperimentConfig, train: MRIDataset, val: MRIDataset, test: MRIDataset) -> str:
    if DataSource.parse(cfg.data).has_official_folds:
        return (
            f"Official patient-disjoint Figshare folds: validation folds {cfg.val_folds}, test folds "
            f"{cfg.test_folds}, training on the rest ({len(train)}/{len(val)}/{len(test)} slices)."
        )
    return f"Grouped, stratified hold-out of a folder dataset ({len(train)}/{len(val)}/{len(test)} slices)."


def cross_validate(cfg: ExperimentConfig) -> CVResult:
    """K-fold over the official folds: each fold is the test set once, the next one validates.

    Writes ``fold_K/`` runs and ``cv_report.json``/``.md`` with mean ± std per metric. Each fold's
    report in the result carries its ``test_fold``. Under torchrun only rank 0 writes files. The
    data are opened (scanned, and with ``cache`` decoded) once for all folds.
    """
    if not DataSource.parse(cfg.data).has_official_folds:
        raise InvalidArgumentError(
            "cross-validation uses official folds: use data 'sample' or 'figshare:PATH'."
        )
    full = open_dataset(cfg)
    folds = sorted({r.fold for r in full.records if r.fold is not None})
    base = Path(cfg.train.output_dir)
    reports: list[ClassificationReport] = []
    bar = progress_bar(
        folds, progress=cfg.train.progress, enabled=is_main(), desc="cross-validation", unit="fold"
    )
    for test_fold in bar:
        fold_cfg = dataclasses.replace(
            cfg,
            test_folds=[test_fold],
            val_folds=[validation_fold(folds, test_fold)],
            train=dataclasses.replace(cfg.train, output_dir=str(base / f"fold_{test_fold}")),
        )
        _logger.info("Cross-validation: test fold %d of %s", test_fold, folds)
        report = run_experiment(fold_cfg, dataset=full)["test"]
        report["test_fold"] = test_fold  # which fold this report is about
        reports.append(report)
    summary = summarize_folds(reports)
    files: dict[str, Path] = {}
    if is_main():
        files = write_cv_report(
            reports, summary, base, extra={"model": cfg.model, "data": cfg.data, "folds": folds}
        )
    return {"summary": summary, "folds": reports, "report_files": {k: str(v) for k, v in files.items()}}


class DatasetReuse:
    """Runs a series of experiments, opening each dataset once (see :func:`open_dataset`).

    Consecutive experiments whose data options (``data``, ``crop``, ``cache``, ``classes``,
    ``strict``, ``aliases``) agree share one opened dataset, its scan and its in-memory cache;
    the first one with other options opens its own and the previous one is let go (one is held at
    a time, to bound memory). The ablation runner runs its study's experiments through one.

    The files are scanned when the dataset is opened: files added or removed later in the series
    are not seen by it (an edited slice still is, through the on-disk cache's file stamps, only
    when ``cache_dir`` is used and the in-memory copy was not filled yet).

    Examples:
        >>> reuse = DatasetReuse()
        >>> result = reuse.run_experiment(cfg)  # doctest: +SKIP
    """

    def __init__(self) -> None:
        self._options: tuple[Any, ...] | None = None
        self._dataset: MRIDataset | None = None
        #: How many datasets were opened so far.
        self.opened = 0

    def dataset(self, cfg: ExperimentConfig) -> MRIDataset:
        """The opened dataset for ``cfg``: the current one when its data options agree."""
        options = _dataset_options(cfg)
        if self._dataset is None or options != self._options:
            self._dataset, self._options = None, None  # let the previous one go before opening
            self._dataset, self._options = open_dataset(cfg), options
            self.opened += 1
        return self._dataset

    def run_experiment(self, cfg: ExperimentConfig, *, resume: str | Path | None = None) -> ExperimentResult:
        """:func:`run_experiment` on the shared dataset."""
        return run_experiment(cfg, resume=resume, dataset=self.dataset(cfg))
