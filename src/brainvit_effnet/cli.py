"""The ``brainvit-effnet`` command.

Subcommands:
    demo      evaluate and explain the bundled trained model on held-out patients of the bundled sample
    train     train from a YAML config plus flag overrides (``--cv``: official-fold cross-validation)
    ablate    factorial ablation (transformer x label smoothing x CBAM) over folds and seeds, summarised
    evaluate  evaluate a saved model on a dataset; JSON + Markdown report and plots
    predict   class probabilities for image files or folders, as CSV
    explain   heatmap overlays (Grad-CAM family, attention rollout) and localisation scores
    export    ONNX (verified with ONNX Runtime) or TorchScript export, with parity on real images
    models    list the model zoo

Data are given as ``sample`` (the bundled Figshare sample, the default), ``figshare:PATH`` or
``folder:PATH``. Run ``brainvit-effnet <command> --help`` for options.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import errno
import io
import logging
import os
import signal
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import yaml

from ._atomic import write_text_atomically
from ._json import read_json, write_json
from ._outputs import check_output_file
from ._version import __version__
from .data import (
    SAMPLE_ATTRIBUTION,
    FigshareDataset,
    FolderDataset,
    ImageFiles,
    MRIDataset,
    create_transforms,
    load_heldout_sample,
    load_sample,
)
from .data.inference import preprocessing_of
from .data.preprocess import brain_bbox, crop_is_plausible
from .data.sources import DataSource
from .data.splits import spread_across_classes
from .errors import (
    BrainvitError,
    InterruptedAgain,
    InvalidArgumentError,
    TrainingInterrupted,
    os_error_message,
)
from .experiment import ExperimentConfig, apply_overrides, cross_validate, run_experiment
from .hub import from_pretrained
from .models import create_model
from .models.catalog import describe_models
from .models.names import parse_model_name
from .recipes import RECIPES, recipe_config
from .reports import write_evaluation_report
from .train import TrainConfig, Trainer
from .train import distributed as dist
from .train.checkpoint import RUN_FOLDER_ADVICE
from .train.config import load_yaml

_DISCLAIMER = "Research software, not for clinical use."


# -- helpers --------------------------------------------------------------------------------------
def _yaml_value(text: str, option: str) -> Any:
    """``text`` read as a YAML value, or an error that names ``option`` and shows the text."""
    try:
        return load_yaml(text)
    except yaml.YAMLError as e:
        problem = str(e).splitlines()[0]
        raise InvalidArgumentError(
            f"{option}: {text!r} is not a YAML value ({problem}); quote strings that hold ':' '[' or '{{'."
        ) from e


def _overrides(pairs: Sequence[str]) -> dict[str, Any]:
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--set expects KEY=VALUE (e.g. train.epochs=5); got {pair!r}.")
        result[key] = _yaml_value(value, "--set")
    return result


def _aliases(pairs: Sequence[str]) -> dict[str, str]:
    """``--alias NAME=CLASS`` (repeatable) -> ``{NAME: CLASS}``."""
    result = {}
    for pair in pairs:
        name, sep, cls = pair.partition("=")
        if not sep or not name or not cls:
            raise InvalidArgumentError(
                f"--alias expects FOLDER=CLASS (e.g. --alias menin=meningioma); got {pair!r}."
            )
        result[name] = cls
    return result


def _add_folder_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--lenient",
        action="store_true",
        help="folder or Figshare data: skip unknown class folders, stray and unreadable files with one "
        "warning and a count, instead of stopping at the first",
    )
    p.add_argument(
        "--alias",
        action="append",
        metavar="FOLDER=CLASS",
        help="folder data: map a class folder name to a class, e.g. --alias menin=meningioma (repeatable)",
    )


def _add_figure_flags(p: argparse.ArgumentParser, figures: str) -> None:
    """``--format`` of the figures a command writes, and ``--progress``."""
    p.add_argument(
        "--format",
        choices=("png", "pdf", "svg"),
        default="png",
        help=f"file format of {figures} (pdf and svg place in a paper at any size)",
    )
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: on a terminal)",
    )


def _experiment(args: argparse.Namespace) -> ExperimentConfig:
    flags: dict[str, Any] = {}
    for flag, key in (
        ("model", "model"),
        ("data", "data"),
        ("epochs", "train.epochs"),
        ("batch_size", "train.batch_size"),
        ("lr", "train.lr"),
        ("output_dir", "train.output_dir"),
        ("device", "train.device"),
    ):
        if getattr(args, flag, None) is not None:
            flags[key] = getattr(args, flag)
    if getattr(args, "overwrite", False):
        flags["train.overwrite"] = True
    if getattr(args, "pretrained", None) is not None:
        flags["pretrained"] = args.pretrained
    if getattr(args, "lenient", False):
        flags["strict"] = False
    if getattr(args, "alias", None):
        flags["aliases"] = _aliases(args.alias)
    sets = _overrides(args.set or [])
    clashes = [k for k in flags if k in sets and sets[k] != flags[k]]
    if clashes:  # neither silently wins
        key = clashes[0]
        raise InvalidArgumentError(
            f"--set {key}={sets[key]!r} disagrees with the flag that gives {flags[key]!r}; "
            f"give the option once."
        )
    overrides = {**sets, **flags}
    if getattr(args, "recipe", None):
        if args.config:
            raise InvalidArgumentError("give either --recipe or --config, not both (--set adjusts a recipe).")
        return recipe_config(args.recipe, overrides)
    if args.config:
        return ExperimentConfig.from_file(args.config, overrides)
    return ExperimentConfig.from_dict(apply_overrides({}, overrides))


def _print_files(title: str, files: dict[str, Any]) -> None:
    print(title)
    for name, path in files.items():
        print(f"  {name:<18} {path}")


def _headline(report: Mapping[str, Any]) -> str:
    ci = report.get("ci95", {})

    def fmt(key: str) -> str:
        value = f"{report[key]:.3f}"
        return value + (f" [{ci[key][0]:.3f}, {ci[key][1]:.3f}]" if key in ci else "")

    return (
        f"accuracy {fmt('accuracy')}, macro-F1 {fmt('macro_f1')}, "
        f"balanced accuracy {fmt('balanced_accuracy')}, ECE {report['ece']:.3f}"
    )


# -- commands -------------------------------------------------------------------------------------
def _cmd_models(args: argparse.Namespace) -> int:
    infos = describe_models(args.filter or "")
    if not infos:
        print(
            f"No model matches {args.filter!r}; try 'brainvit-effnet models' for all of them.",
            file=sys.stderr,
        )
        return 1
    print(f"{'model':<16} {'input':>7} {'params':>8}  pretrained tags (first is the default)")
    for m in infos:
        print(f"{m.name:<16} {m.input_size[-1]:>4} px {m.params / 1e6:>7.2f}M  {', '.join(m.tags)}")
    return 0


def _cmd_train(args: argparse.Namespace) -> int:
    cfg = _experiment(args)
    try:
        if args.cv:
            cv = cross_validate(cfg)
            if dist.is_main():  # under torchrun, one summary, not one per rank
                print("Cross-validation over the official folds (mean ± std):")
                for metric, stats in cv["summary"].items():
                    print(f"  {metric:<18} {stats['mean']:.4f} ± {stats['std']:.4f}")
                _print_files("Files:", cv["report_files"])
            return 0
        result = run_experiment(cfg, resume=args.resume)
        if dist.is_main():
            print(f"Test ({len(result['test'].get('per_class', {}))} classes): {_headline(result['test'])}")
            _print_files(
                "Files:",
                {"model": result["model_dir"], **result["report_files"], "run": result["output_dir"]},
            )
        return 0
    finally:
        dist.shutdown()  # no-op unless launched by torchrun


def _factor(text: str) -> tuple[str, list[Any]]:
    """``NAME=L1,L2`` or ``NAME=[L1, L2]`` (levels read as YAML) -> (name, levels)."""
    name, sep, levels = text.partition("=")
    if not sep or not name or not levels:
        raise InvalidArgumentError(
            f"--factor expects NAME=LEVEL,LEVEL (e.g. train.lr=1e-3,3e-4); got {text!r}."
        )
    parsed = _yaml_value(levels, "--factor")
    return name, parsed if isinstance(parsed, list) else [
        _yaml_value(v, "--factor") for v in levels.split(",")
    ]


def _lane(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``, for ``ablate --lane``."""
    i, sep, n = text.partition("/")
    try:
        lane = (int(i), int(n))
    except ValueError:
        lane = (0, 0)
    if not sep or not 1 <= lane[0] <= lane[1]:
        raise argparse.ArgumentTypeError(f"--lane takes I/N with 1 <= I <= N, e.g. 1/2; got {text!r}")
    return lane


def _cmd_ablate(args: argparse.Namespace) -> int:
    from .ablation import AblationStudy, ablation_tables, run_ablation
    from .train.config import read_mapping

    values = read_mapping(args.study, "ablation study") if args.study else {}
    overrides: dict[str, Any] = {f"base.{k}": v for k, v in _overrides(args.set or []).items()}
    for flag, key in (
        ("data", "base.data"),
        ("folds", "folds"),
        ("seeds", "seeds"),
        ("epochs", "base.train.epochs"),
        ("out", "output_dir"),
    ):
        if getattr(args, flag) is not None:
            overrides[key] = getattr(args, flag)
    if args.model_size:
        current = str((values.get("base") or {}).get("model", ExperimentConfig().model))
        overrides["base.model"] = dataclasses.replace(parse_model_name(current), size=args.model_size).arch
    if args.factor:
        overrides["factors"] = dict(_factor(f) for f in args.factor)
    if args.keep_checkpoints:
        overrides["keep_checkpoints"] = True
    study = AblationStudy.from_dict(apply_overrides(values, overrides))
    cells = study.cells()
    runs = study.runs(cells)
    repeats = sorted({(r.fold, r.seed) for r in runs})
    print(
        f"Ablation: {len(cells)} cells x {len(repeats)} repeats (test folds "
        f"{sorted({f for f, _ in repeats})}, seeds {sorted({s for _, s in repeats})}) = {len(runs)} runs "
        f"in {study.output_dir}"
    )
    for cell in cells:
        if cell.skipped:
            print(f"  skipped {cell.name}: {cell.skipped}")
    if args.dry_run:
        states = [r.state() for r in runs]
        print(
            f"{states.count('finished')} finished (reused), {states.count('partial')} unfinished (continued "
            f"from their last checkpoint, or set aside and redone), {states.count('new')} to train."
        )
        return 0

    def progress(record: dict[str, Any]) -> None:
        accuracy = record["metrics"].get("accuracy", float("nan"))
        print(
            f"[{record['index']}/{record['total']}] {record['output_dir']}: {record['status']}, "
            f"test accuracy {accuracy:.3f}"
        )

    result = run_ablation(study, on_run=progress, lane=args.lane)
    print()
    print(ablation_tables(result["summary"]))
    pending = result["counts"]["pending"]
    if pending:
        print(
            f"\n{pending} run(s) of other lanes are not finished: the report is written by the last lane to "
            f"finish, or by rerunning without --lane."
        )
    else:
        _print_files("Files:", result["report_files"])
    return 0


def _cmd_evaluate(args: argparse.Namespace) -> int:
    model = from_pretrained(args.model_dir).eval()
    test = _evaluation_data(args, model)
    excluded = getattr(test, "excluded", {})
    if excluded:  # a 3-class model on a 4-class tree: say what is not evaluated, with counts
        print(
            f"warning: this model predicts {list(test.classes)}; {sum(excluded.values())} image(s) of other "
            f"classes are not evaluated: {excluded}.",
            file=sys.stderr,
        )
    absent = list(getattr(test, "absent_classes", []))
    if absent:  # evaluated on the classes present; what still means something is said
        present = [c for c in test.classes if c not in absent]
        print(
            f"warning: {args.data} has no image of {absent}; evaluating on the classes present ({present}). "
            f"Accuracy, per-class recall and the confusion matrix mean what they say; macro-F1 and macro "
            f"precision count each absent class as 0, so compare the per-class rows instead.",
            file=sys.stderr,
        )
    copies = _training_copies(model, [r.source for r in test.records], args)
    if copies:
        print(
            f"warning: {len(copies)} of {len(test)} images are copies of slices this model was trained on "
            f"({_examples(copies)}): on them, accuracy measures memory, not skill. report.json lists them "
            f"under extra.training_copies; remove them to measure the model on new data.",
            file=sys.stderr,
        )
    trainer = Trainer(model, TrainConfig(batch_size=args.batch_size, output_dir=args.out))
    report = trainer.evaluate(test, bootstrap=args.bootstrap)
    history_file = Path(args.model_dir).parent / "log.jsonl"
    history = (
        read_json(history_file, lines=True, fix="Move it away to evaluate without the training curves.")
        if history_file.is_file()
        else None
    )
    files = write_evaluation_report(
        report,
        args.out,
        title=f"{args.model_dir} on {args.data}",
        history=history,
        extra={
            **({"not_evaluated": excluded} if excluded else {}),
            **({"absent_classes": absent} if absent else {}),
            **({"training_copies": {k: [str(m) for m in v] for k, v in copies.items()}} if copies else {}),
        }
        or None,
    )
    print(f"{len(test)} slices: {_headline(report)}")
    _print_files("Files:", {k: str(v) for k, v in files.items()})
    return 0


def _training_copies(model: Any, paths: list[str], args: argparse.Namespace) -> dict[str, list[Any]]:
    """Inputs that copy the model's own training slices, by the hashes shipped with it ({} if none)."""
    from .data.duplicates import find_training_copies, training_hashes_of

    hashes = None if args.skip_copy_check else training_hashes_of(model)
    if hashes is None:
        return {}
    from .data.mri import file_part

    files = [p for p in paths if Path(file_part(p)).is_file()]  # in-memory sources have no file
    return find_training_copies(hashes, files)


def _examples(copies: dict[str, list[Any]], n: int = 3) -> str:
    shown = "; ".join(f"{Path(path).name} = {matches[0]}" for path, matches in list(copies.items())[:n])
    return f"e.g. {shown}" + (", ..." if len(copies) > n else "")


def _evaluation_folds(args: argparse.Namespace, model: Any) -> list[int]:
    """``--folds``, else the model's held-out folds (from its provenance), else fold 5.

    Warns when a requested fold trained the model or chose its epoch: those numbers are not held-out.
    """
    provenance = model.pretrained_cfg.get("provenance") or {}
    held_out = list(provenance.get("held_out_folds") or [])
    folds = list(args.folds or held_out or [5])
    seen = sorted(
        set(folds) & (set(provenance.get("train_folds") or []) | set(provenance.get("val_folds") or []))
    )
    if seen:
        print(
            f"warning: fold(s) {seen} trained this model or chose its epoch (its held-out folds are "
            f"{held_out}): metrics on them are not held-out. Use --folds {' '.join(map(str, held_out))}.",
            file=sys.stderr,
        )
    return folds


#: The brain crop follows the model: ``config.json`` records whether it was trained on cropped slices.
_MODEL_HELP = (
    "a folder written by save_pretrained (e.g. <run>/model), a Hub repo 'org/name', or a model shipped in "
    "the package by name (effnet_b0.figshare)"
)
_NO_CROP_HELP = (
    "skip the study's brain crop (default: crop when the model was trained on cropped slices, as its "
    "config.json records)"
)


_COPY_CHECK_HELP = (
    "do not match the inputs against the hashes of the model's training slices (shipped with the "
    "bundled models); the check warns about, and names, inputs the model was trained on"
)


def _crop(args: argparse.Namespace, model: Any) -> bool:
    """Crop to the brain when the model was trained that way and ``--no-crop`` was not given."""
    return bool(preprocessing_of(model)["brain_crop"]) and not args.no_crop


def _evaluation_data(args: argparse.Namespace, model: Any, return_mask: bool = False) -> MRIDataset:
    _, eval_transform = create_transforms(model)
    classes = list(model.pretrained_cfg.get("label_names") or []) or None
    common: dict[str, Any] = {
        "transform": eval_transform,
        "crop": _crop(args, model),
        "return_mask": return_mask,
    }
    if classes:
        common["classes"] = classes
    source = DataSource.parse(args.data, allow_heldout=True)
    if source.kind == "folder":
        assert source.path is not None
        return FolderDataset(
            source.path,
            split=args.split,
            strict=not args.lenient,
            aliases=_aliases(args.alias or []),
            allow_missing_classes=True,  # external test sets often cover only some classes: said below
            **common,
        )
    if source.kind == "heldout":  # the bundled model's unseen patients; one fold, nothing to choose
        return load_heldout_sample(**common)
    folds = _evaluation_folds(args, model)
    if source.kind == "sample":
        return load_sample(folds=folds, **common)
    assert source.path is not None
    # The strict error advises --lenient: it must reach the Figshare adapter too.
    return FigshareDataset(source.path, folds=folds, strict=not getattr(args, "lenient", False), **common)


def _has_brain(files: Any, index: int) -> bool:
    """Whether the brain crop finds tissue in slice ``index`` (a plausible box, not the whole frame)."""
    image = files.decode(index).image[0].numpy()
    box = brain_bbox(image)
    height, width = image.shape
    return box != (0, height, 0, width) and crop_is_plausible(box, (height, width))


def _cmd_predict(args: argparse.Namespace) -> int:
    """Every input gets a row: probabilities, or the reason it could not be read (``error``).

    Rows of ``kind`` ``image`` (a 2-D file), ``slice`` (one slice of a NIfTI volume or DICOM series)
    and ``volume``: the mean of the slice probabilities over the slices in which the brain crop
    finds tissue (all slices when it finds none), with their count in ``slices``.
    """
    out = check_output_file(args.out, suffixes=(".csv",), what="the predictions", inputs=args.paths)
    model: Any = from_pretrained(args.model_dir).eval()
    labels = list(model.pretrained_cfg.get("label_names") or [f"class_{i}" for i in range(model.num_classes)])
    _, eval_transform = create_transforms(model)
    files = ImageFiles(args.paths, transform=eval_transform, crop=_crop(args, model), axis=args.axis)
    sources = [r.source for r in files.records]  # a folder's files too: none may be the output
    check_output_file(out, suffixes=(".csv",), what="the predictions", inputs=sources)
    errors: dict[str, str] = {
        source: f"unsupported file type {Path(source).suffix or '(none)'!r}: not an image this model reads"
        for source in files.unsupported
    }
    errors.update(files.errors)
    readable = []
    # Decode every file once up front (a second decode is cheap next to the model's forward pass, and
    # memory stays bounded), so a bad file costs its own row, not the whole CSV.
    for i, record in enumerate(files.records):
        try:
            files.sample(i)
            readable.append(i)
        except (ValueError, FileNotFoundError) as e:
            errors[record.source] = str(e)
    good = files.subset(readable)
    probs = Trainer(model, TrainConfig(batch_size=args.batch_size)).predict(good)[0] if readable else None
    by_index: dict[int, Any] = dict(zip(readable, probs, strict=True)) if probs is not None else {}
    in_volume = {i for members in files.volumes.values() for i in members}
    copies = _training_copies(model, [files.records[i].source for i in readable], args)
    header = [
        "path",
        "kind",
        "predicted",
        *[f"p_{name}" for name in labels],
        "slices",
        "training_copy",
        "error",
    ]
    lines = [header]

    def row(path: str, kind: str, p: Any, slices: str = "", error: str = "") -> list[str]:
        copy = str(copies[path][0]) if path in copies else ""
        if p is None:
            return [path, kind, "", *[""] * len(labels), slices, copy, error]
        return [path, kind, labels[int(p.argmax())], *[f"{v:.6f}" for v in p], slices, copy, error]

    for i, record in enumerate(files.records):
        kind = "slice" if i in in_volume else "image"
        lines.append(row(record.source, kind, by_index.get(i), error=errors.get(record.source, "")))
    for volume, members in files.volumes.items():
        scored = [i for i in members if i in by_index]
        with_brain = [i for i in scored if _has_brain(files, i)] or scored
        mean = np.mean([by_index[i] for i in with_brain], axis=0) if with_brain else None
        note = "" if with_brain else "no slice of this volume could be read"
        lines.append(row(volume, "volume", mean, f"{len(with_brain)}/{len(members)}", note))
    lines += [
        row(source, "image", None, error=reason)
        for source, reason in errors.items()
        if source in files.unsupported or source in files.errors
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows(lines)
    write_text_atomically(out, buffer.getvalue())
    print(f"Predicted {len(readable)} image(s) or slice(s), {len(files.volumes)} volume(s): {out}")
    if copies:
        print(
            f"warning: {len(copies)} input(s) are copies of slices this model was trained on "
            f"({_examples(copies)}); the 'training_copy' column names them. The model has seen "
            f"them: their predictions say nothing about how it does on new images.",
            file=sys.stderr,
        )
    if errors:
        examples = "; ".join(f"{k}: {v}" for k, v in list(errors.items())[:3])
        print(
            f"warning: {len(errors)} file(s) could not be read; their rows carry the reason in the 'error' "
            f"column. E.g. {examples}",
            file=sys.stderr,
        )
        return 1
    return 0


def _leakage_refs(path: str, args: argparse.Namespace) -> list[Any]:
    """The images of a folder tree as duplicate-check items (labels and splits from the tree)."""
    data = FolderDataset(path, strict=not args.lenient, aliases=_aliases(args.alias or []))
    return data.image_refs()


def _pairs_figure(pairs: Sequence[Any], out: Path) -> Path:
    """Example pairs side by side (query | reference), captioned with kind, distance and labels.

    The format is the suffix of ``out`` (``.png``, ``.pdf`` or ``.svg``); images, DICOM files and
    NIfTI slices are shown as the datasets read them.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .data.images import read_unit

    rows = max(1, len(pairs))
    fig, axes = plt.subplots(rows, 2, figsize=(5, 2.5 * rows), dpi=100, squeeze=False)
    for row, pair in zip(axes, pairs, strict=False):
        for ax, ref in zip(row, (pair.query, pair.reference), strict=True):
            ax.imshow(read_unit(str(ref.path)), cmap="gray", vmin=0.0, vmax=1.0)
            ax.set_title(f"{Path(ref.path).name} ({ref.label or '?'})", fontsize=7)
            ax.axis("off")
        row[0].text(
            0,
            -0.12,
            f"{pair.kind}{' mirrored' if pair.mirrored else ''}, pHash distance {pair.distance}, "
            f"similarity {pair.similarity:.3f}",
            transform=row[0].transAxes,
            fontsize=7,
            va="top",
        )
    for ax in axes[len(pairs) :].ravel() if len(pairs) < rows else []:
        ax.axis("off")
    fig.tight_layout()
    # No creation date in PDF/SVG metadata: the same report gives the same file.
    metadata = {"pdf": {"CreationDate": None}, "svg": {"Date": None}}.get(out.suffix.lower()[1:])
    with matplotlib.rc_context({"svg.hashsalt": "brainvit-effnet"}):  # fixed SVG ids, not random ones
        fig.savefig(out, metadata=metadata)
    plt.close(fig)
    return out


def _cmd_leakage(args: argparse.Namespace) -> int:
    """Duplicates within one tree (its test split against its training split, when it has both),
    or of tree A against tree B; JSON and Markdown reports and a figure of example pairs."""
    from .data.duplicates import find_duplicates, leakage_report

    a = _leakage_refs(args.a, args)
    if args.b is not None:
        report = find_duplicates(
            a, _leakage_refs(args.b, args), query_name=args.a, reference_name=args.b, progress=args.progress
        )
    elif {"train", "test"} <= {r.split for r in a}:
        train = [r for r in a if r.split == "train"]
        test = [r for r in a if r.split == "test"]
        report = leakage_report(train, test, progress=args.progress)
    else:
        report = find_duplicates(a, query_name=args.a, progress=args.progress)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise InvalidArgumentError(f"--out {out} is a file; give a folder for the report.")
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Any] = {
        "json": write_json(out / "leakage.json", report.to_dict()),
        "markdown": write_text_atomically(out / "leakage.md", report.to_markdown(max_examples=args.examples)),
    }
    examples = report.examples(args.examples)
    if examples:  # no pairs, no figure (it would be a blank page)
        files["pairs figure"] = _pairs_figure(examples, out / f"pairs.{args.format}")
    print(report.summary())
    _print_files("Files:", files)
    return 0


def _overlays(
    model: Any, data: Any, methods: Sequence[str], out: Path, n: int, fmt: str = "png"
) -> dict[str, Path]:
    """One grid per method for the first ``n`` samples (outlines drawn when masks exist), as
    ``overlays_<method>.<fmt>`` (png, pdf or svg)."""
    from .explain import explain, save_grid

    batch = [data[i] for i in range(min(n, len(data)))]
    images = torch.stack([b[0] for b in batch])
    masks = torch.stack([b[2] for b in batch]) if len(batch[0]) == 3 else None
    known = [int(b[1]) for b in batch]
    with torch.no_grad():
        probs = model(images).softmax(-1)
    names = list(model.pretrained_cfg.get("label_names") or [f"class_{i}" for i in range(model.num_classes)])
    cfg = model.pretrained_cfg
    files = {}
    for method in methods:
        heat = explain(model, images, method)  # the predicted class
        files[f"overlay_{method}"] = save_grid(
            out / f"overlays_{method}.{fmt}",
            images,
            heat,
            true_labels=[names[k] for k in known] if min(known) >= 0 else None,  # unlabelled files: -1
            probs=probs,
            class_names=names,
            masks=masks,
            mean=cfg.get("mean"),
            std=cfg.get("std"),
            title=f"{method}",
            ids=[_short_source(data.records[i].source) for i in range(len(batch))],
        )
    return files


def _short_source(source: str) -> str:
    """A slice's file name, with its address inside a volume or zip (``t1.nii.gz::z=12``)."""
    file, sep, rest = str(source).partition("::")
    return Path(file).name + sep + rest


#: What ``explain --reliance`` calls looking at the tumour: hiding it costs the class its
#: accuracy (down to at most this), while hiding a same-sized region elsewhere costs at most
#: ``_RELIANCE_CONTROL_COST`` (the targets of the issue that added the test).
_RELIANCE_HIDDEN_MAX, _RELIANCE_CONTROL_COST = 0.5, 0.02


def _print_reliance(report: Any) -> None:
    print(
        f"Is the model looking at the tumour? {report['n']} slices; accuracy as they are, with the tumour "
        f"blacked out, and with a same-sized region elsewhere in the brain blacked out instead:"
    )
    print(
        f"  {'class':<14}{'n':>5}{'clean':>8}{'tumour hidden':>15}{'control hidden':>16}"
        f"{'p(true) hidden':>16}  verdict"
    )
    for name, r in [*report["per_class"].items(), ("all", report["overall"])]:
        looks = r["tumour_hidden"] <= _RELIANCE_HIDDEN_MAX and r["random_drop"] <= _RELIANCE_CONTROL_COST
        verdict = (
            "looks at the tumour"
            if looks
            else (
                "recognised without the tumour"
                if r["tumour_hidden"] > _RELIANCE_HIDDEN_MAX
                else "any occlusion hurts (not specific to the tumour)"
            )
        )
        print(
            f"  {name:<14}{r['n']:>5}{r['clean']:>8.3f}{r['tumour_hidden']:>15.3f}"
            f"{r['random_hidden']:>16.3f}{r['p_true_tumour_hidden']:>16.3f}  {verdict}"
        )


def _cmd_explain(args: argparse.Namespace) -> int:
    from .explain import available_methods, score_explanations, tumour_reliance, write_explanation_report

    model: Any = from_pretrained(args.model_dir).eval()
    # --reliance alone is the occlusion test only; heatmaps too when --methods names them.
    methods = args.methods or ([] if args.reliance else available_methods(model))
    out = Path(args.out)
    _, eval_transform = create_transforms(model)
    files: dict[str, Any] = {}
    if args.paths:
        if args.reliance:
            raise InvalidArgumentError(
                "--reliance needs tumour masks, which image files do not have: pass --data with outlines "
                "(figshare:PATH, sample or heldout) instead of image paths."
            )
        data: Any = ImageFiles(args.paths, transform=eval_transform, crop=_crop(args, model))
        files.update(_overlays(model, data, methods, out, args.n, args.format))
    else:
        args.split = getattr(args, "split", None)
        data = _evaluation_data(args, model, return_mask=True)
        if args.limit is not None and args.limit < len(data):  # a sample of every class, not the first N
            data = data.subset(spread_across_classes([r.label for r in data.records], args.limit))
        files.update(_overlays(model, data, methods, out, args.n, args.format))
        has_masks = len(data) and any(bool(data[i][2].any()) for i in range(min(4, len(data))))
        if args.reliance:
            if not has_masks:
                raise InvalidArgumentError(
                    f"--reliance needs tumour masks, and {args.data} has none: use data with outlines "
                    f"(figshare:PATH, sample or heldout)."
                )
            reliance = tumour_reliance(model, data, progress=args.progress)
            files["reliance"] = write_json(out / "reliance.json", reliance)
            _print_reliance(reliance)
        if methods and has_masks:
            report = score_explanations(model, data, methods, steps=args.steps, progress=args.progress)
            files.update(
                write_explanation_report(
                    report, out, title=f"Explanations of {args.model_dir} on {args.data}"
                )
            )
            for method, result in report["methods"].items():
                overall = result["overall"]
                print(
                    f"{method:<14} pointing game {overall['pointing_game']:.3f}, energy inside "
                    f"{overall['energy_inside']:.3f} (chance {report['mask_fraction']:.3f}), "
                    f"deletion AUC {overall.get('deletion_auc', float('nan')):.3f}, "
                    f"insertion AUC {overall.get('insertion_auc', float('nan')):.3f}"
                )
    _print_files("Files:", {k: str(v) for k, v in files.items()})
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export_onnx, export_torchscript, parity_on_sample

    suffixes = (".pt", ".pth") if args.format == "torchscript" else (".onnx",)
    if args.out:
        check_output_file(args.out, suffixes=suffixes, what=f"the {args.format} export")
    model = from_pretrained(args.model_dir)
    verify = not args.no_verify
    if args.format == "torchscript":
        path = export_torchscript(model, args.out or "model.pt", verify=verify)
        checked = " (verified against PyTorch)"
    else:
        path = export_onnx(model, args.out or "model.onnx", opset=args.opset, verify=verify)
        checked = " (verified with ONNX Runtime)"
    print(f"Exported {args.model_dir} to {path}" + (checked if verify else ""))
    if verify and args.parity_images > 0:
        report = parity_on_sample(model, path, n_images=args.parity_images)
        print(
            f"Max abs logit difference on {report.n_images} real sample images (bundled Figshare sample): "
            f"{report.max_abs_diff:.3g} (mean {report.mean_abs_diff:.3g}, predicted class agrees on "
            f"{report.argmax_agreement:.0%})"
        )
    return 0


class _CollectWarnings(logging.Filter):
    """Holds back one logger's per-file warnings and keeps the files they name (``sources``)."""

    def __init__(self, logger: str) -> None:
        super().__init__()
        self.sources: set[str] = set()
        self._logger = logging.getLogger(logger)
        self._logger.addFilter(self)

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno == logging.WARNING and record.args:
            self.sources.add(str(record.args[0] if isinstance(record.args, tuple) else record.args))
            return False
        return True

    def close(self) -> None:
        self._logger.removeFilter(self)


def _centred_blob_scores(data: Any, limit: int | None) -> tuple[float, float]:
    """Pointing game and energy inside of a map that ignores the image: a Gaussian blob in the centre
    (sigma a quarter of the side), on the same slices and outlines the heatmaps are scored on."""
    from .explain import energy_inside, pointing_game

    masks = [data[i][2] for i in range(len(data))]
    masks = [m for m in masks if bool(m.any())][:limit]
    if not masks:
        return float("nan"), float("nan")
    stacked = torch.stack(masks).bool()
    h, w = stacked.shape[-2:]
    ys, xs = torch.meshgrid(torch.arange(h) - (h - 1) / 2, torch.arange(w) - (w - 1) / 2, indexing="ij")
    blob = torch.exp(-(ys**2 + xs**2) / (2 * (min(h, w) / 4) ** 2)).expand(len(masks), h, w)
    return float(np.nanmean(pointing_game(blob, stacked))), float(np.nanmean(energy_inside(blob, stacked)))


def _cmd_demo(args: argparse.Namespace) -> int:
    from .explain import available_methods, score_explanations, tumour_reliance, write_explanation_report
    from .models.zoo import BUNDLED_MODEL

    print(f"brainvit-effnet demo. {_DISCLAIMER}\n")
    start = time.perf_counter()
    output_dir = Path(args.output_dir or f"runs/demo/{time.strftime('%Y%m%d-%H%M%S')}")
    if output_dir.exists() and any(output_dir.iterdir()) and not args.overwrite:
        print(
            f"error: {output_dir} already holds files; pass --overwrite or another --output-dir.",
            file=sys.stderr,
        )
        return 2
    model: Any = create_model(BUNDLED_MODEL, pretrained=True).eval()  # shipped in the package: offline
    prov = model.pretrained_cfg.get("provenance") or {}
    held_out = list(prov.get("held_out_folds", []))
    side = model.pretrained_cfg["input_size"][-1]

    def folds(values: Any) -> str:
        return ", ".join(str(v) for v in values or [])

    print(
        f"Model: {BUNDLED_MODEL}, shipped inside the package; starting point: "
        f"{prov.get('trained_from', 'not recorded')}. Trained on the "
        f"Figshare release, official folds {folds(prov.get('train_folds'))} (fold "
        f"{folds(prov.get('val_folds'))} chose the epoch); fold {folds(held_out)} was never used for "
        f"training or any choice. Input {side} px, brain crop "
        f"{'on' if prov.get('preprocessing', {}).get('brain_crop') else 'off'}."
    )
    if "held_out_metrics" in prov:
        m = prov["held_out_metrics"]
        print(
            f"On all {m['n']} slices of fold {folds(held_out)} (full release; model card): accuracy "
            f"{m['accuracy']:.3f}, macro-F1 {m['macro_f1']:.3f}."
        )
    _, eval_transform = create_transforms(model)
    data = load_heldout_sample(transform=eval_transform, return_mask=True, cache=True)
    labelled = data.subset(range(len(data)), return_mask=False)  # read once: same files, same cache
    # The crop's fallback warnings would be the demo's first screen: said once, in words, at the end.
    crop_notes = _CollectWarnings("brainvit_effnet.data.base")
    slice_folds = {r.fold for r in labelled.records}
    if slice_folds != set(held_out):  # never score the model on folds it trained on
        raise RuntimeError(
            f"the bundled held-out slices are of folds {slice_folds} but {BUNDLED_MODEL} holds out "
            f"{held_out}: the package is inconsistent; reinstall it."
        )
    trainer = Trainer(model, TrainConfig(batch_size=32, output_dir=str(output_dir), progress=args.progress))
    report = trainer.evaluate(labelled, bootstrap=1000)
    print(f"\nBundled held-out slices ({report['n']} slices of fold {folds(held_out)}): {_headline(report)}")
    report_files = write_evaluation_report(
        report,
        output_dir / "report",
        title=f"{BUNDLED_MODEL} on the bundled held-out slices (fold {folds(held_out)})",
        extra={
            "model": BUNDLED_MODEL,
            "data": f"bundled held-out slices, fold {folds(held_out)}",
            "provenance": prov,
        },
    )
    methods = [m for m in ("gradcam", "gradcampp", "rollout") if m in available_methods(model)]
    spread = data.subset([round(i * (len(data) - 1) / 7) for i in range(8)], transform=eval_transform)
    overlays = _overlays(model, spread, methods, output_dir / "explain", n=8)  # every class shown
    # Localisation against the masks only: the deletion/insertion curves cost a forward pass per
    # step and slice, minutes on a CPU (brainvit-effnet explain computes them).
    scores = score_explanations(
        model, data, methods, limit=args.explain_limit, faithfulness=False, progress=args.progress
    )
    explain_files = write_explanation_report(
        scores, output_dir / "explain", title=f"Explanations of {BUNDLED_MODEL} against tumour masks"
    )
    blob_pointing, blob_energy = _centred_blob_scores(data, args.explain_limit)
    print(
        f"Where the heatmaps point, on {scores['n']} slices with tumour outlines: the pointing game is the "
        f"share of slices whose hottest pixel lies in the tumour; energy inside, the share of the map's "
        f"mass there. Chance: the tumour covers {scores['mask_fraction']:.2f} of a slice; a map that "
        f"ignores the image (a blob in the centre) scores {blob_pointing:.2f} and {blob_energy:.2f}."
    )
    for method in methods:
        overall = scores["methods"][method]["overall"]
        better = overall["pointing_game"] > blob_pointing and overall["energy_inside"] > blob_energy
        print(
            f"  {method:<10} pointing game {overall['pointing_game']:.2f}, energy inside "
            f"{overall['energy_inside']:.2f}: "
            + (
                "above the centred blob on both"
                if better
                else "no better than a centred blob on at least one"
            )
        )
    if "rollout" not in methods:
        print("  (attention rollout applies to the transformer variants, effnet_*_tf.)")
    reliance = tumour_reliance(model, data, progress=args.progress)
    _print_reliance(reliance)
    crop_notes.close()
    if crop_notes.sources:
        names = ", ".join(sorted(Path(s).name for s in crop_notes.sources))
        print(
            f"\nNote: on {len(crop_notes.sources)} of the {len(labelled)} slices ({names}) the brain crop "
            f"found only a fragment of the head, so the model saw the whole slice there instead."
        )
    print(f"\nDone in {time.perf_counter() - start:.0f} s.")
    _print_files(
        "Files:",
        {
            **{f"report {k}": v for k, v in report_files.items()},
            **overlays,
            **{f"explanations {k}": v for k, v in explain_files.items()},
        },
    )
    print(f"\nData: {SAMPLE_ATTRIBUTION}")
    return 0


# -- parser ---------------------------------------------------------------------------------------
def _add_experiment_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML/JSON experiment config (model, data, train: {...})")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.lr=3e-4"
    )
    p.add_argument("--model", help="model name, e.g. effnet_b2_tf")
    p.add_argument("--data", help="sample | figshare:PATH | folder:PATH")
    p.add_argument("--epochs", type=int, help="training epochs (default: the config's, or the recipe's)")
    p.add_argument("--batch-size", type=int, help="images per optimiser step (default: the config's)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the config's)")
    p.add_argument("--output-dir", help="run folder (refused if it holds a run, unless --overwrite)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps... (default: CUDA when available, else the CPU)")
    _add_folder_flags(p)
    p.add_argument("--overwrite", action="store_true", help="allow replacing a run in --output-dir")
    p.add_argument(
        "--pretrained",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="start the backbone from the model's default pretrained tag (ImageNet, downloaded from the "
        "Hugging Face Hub once) and fine-tune it at a tenth of the learning rate; --no-pretrained "
        "trains from scratch with the backbone at the full rate (default: the config's choice, "
        "from scratch when none)",
    )


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown on every option that has one; examples (the epilog) kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help  # "(default: None)" says nothing
        return super()._get_help_string(action)


# One example per subcommand, shown at the end of its --help.
_EXAMPLES = {
    "demo": "brainvit-effnet demo                       # the bundled model on its held-out slices",
    "train": "brainvit-effnet train --recipe scratch_b0_192 --data figshare:/data/figshare "
    "--set 'test_folds=[1]' --set 'val_folds=[2]' --output-dir runs/b0",
    "ablate": "OMP_NUM_THREADS=1 brainvit-effnet ablate study.yaml --lane 1/2 &   # one lane per core",
    "evaluate": "brainvit-effnet evaluate runs/b0/model --data figshare:/data/figshare --folds 1",
    "predict": "brainvit-effnet predict runs/b0/model scans/ t1.nii.gz --out predictions.csv",
    "explain": "brainvit-effnet explain runs/b0/model --data heldout --methods gradcam rollout",
    "export": "brainvit-effnet export runs/b0/model --format onnx --out b0.onnx",
    "leakage": "brainvit-effnet leakage brain-tumor-mri-dataset figshare-categorised --out leakage",
    "models": "brainvit-effnet models 'effnet_b2*'",
}


class _Subcommands:
    """``add_parser`` with the shared formatter and the subcommand's example as its epilog."""

    def __init__(self, action: Any) -> None:
        self._action = action

    def add_parser(self, name: str, **kwargs: Any) -> argparse.ArgumentParser:
        example = _EXAMPLES.get(name)
        parser: argparse.ArgumentParser = self._action.add_parser(
            name,
            formatter_class=_HelpFormatter,
            description=kwargs.get("help"),
            epilog=f"example:\n  {example}" if example else None,
            **kwargs,
        )
        return parser


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``brainvit-effnet`` command."""
    parser = argparse.ArgumentParser(
        # Help is plain text: the docstring's reST backticks are for the API docs only.
        prog="brainvit-effnet",
        description=f"{__doc__.splitlines()[0].replace('``', '')} {_DISCLAIMER}",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the full traceback of an error instead of its message"
    )
    sub = _Subcommands(parser.add_subparsers(dest="command", required=True))

    demo = sub.add_parser(
        "demo",
        help="evaluate and explain the bundled trained model on held-out patients of the bundled sample "
        "(offline)",
    )
    demo.add_argument("--output-dir", help="default: runs/demo/<timestamp>")
    demo.add_argument("--overwrite", action="store_true", help="allow writing into a non-empty --output-dir")
    demo.add_argument(
        "--explain-limit",
        type=int,
        default=None,
        help="score the explanations of at most this many slices against the tumour masks (default: all)",
    )
    demo.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: on a terminal)",
    )
    demo.set_defaults(func=_cmd_demo)

    train = sub.add_parser("train", help="train from a config file or a named recipe, plus flags")
    _add_experiment_flags(train)
    train.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help="start from a named, measured recipe (docs/recipes.md); flags and --set adjust it",
    )
    train.add_argument("--cv", action="store_true", help="cross-validate over the official Figshare folds")
    train.add_argument("--resume", help="checkpoint folder to continue (<output-dir>/checkpoints/last)")
    train.set_defaults(func=_cmd_train)

    ablate = sub.add_parser(
        "ablate", help="factorial ablation (transformer x label smoothing x CBAM) over folds and seeds"
    )
    ablate.add_argument(
        "study", nargs="?", help="YAML/JSON study (base:, factors:, folds:, seeds:, metrics:, output_dir:)"
    )
    ablate.add_argument(
        "--model-size", choices=("b0", "b1", "b2", "b3", "b4", "test"), help="EfficientNet size of every cell"
    )
    ablate.add_argument("--data", help="sample | figshare:PATH (official folds)")
    ablate.add_argument("--folds", type=int, nargs="+", help="test folds to repeat over (default: all)")
    ablate.add_argument("--seeds", type=int, nargs="+", help="seeds to repeat over (default: 0)")
    ablate.add_argument("--epochs", type=int, help="epochs of every run (default: the study's)")
    ablate.add_argument("--out", help="study folder (default: runs/ablation); rerun it to resume")
    ablate.add_argument(
        "--factor",
        action="append",
        metavar="NAME=L1,L2",
        help="a factor and its levels, e.g. cbam=false,true or train.lr=1e-3,3e-4 (repeatable; replaces "
        "the study's factors; default: transformer, label_smoothing 0/0.1, cbam)",
    )
    ablate.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override the base experiment, e.g. train.lr=3e-4"
    )
    ablate.add_argument("--keep-checkpoints", action="store_true", help="keep each run's checkpoints/")
    ablate.add_argument("--dry-run", action="store_true", help="show the plan and what is already done")
    ablate.add_argument(
        "--lane",
        type=_lane,
        metavar="I/N",
        help="train only lane I of N (runs I, I+N, ...); e.g. one process per core: --lane 1/2, --lane 2/2",
    )
    ablate.set_defaults(func=_cmd_ablate)

    evaluate = sub.add_parser("evaluate", help="evaluate a saved model; writes a report with plots")
    evaluate.add_argument("model_dir", help=_MODEL_HELP)
    evaluate.add_argument(
        "--data",
        default="sample",
        help="sample | heldout (the bundled model's 153 unseen fold-1 slices) | figshare:PATH | folder:PATH "
        "(default: %(default)s)",
    )
    evaluate.add_argument(
        "--folds",
        type=int,
        nargs="+",
        help="official folds to evaluate on (default: the model's held-out folds when its config records "
        "them, else 5)",
    )
    evaluate.add_argument("--split", help="for folder data: train | test (default: all images)")
    evaluate.add_argument("--out", default="evaluation", help="report folder (default: %(default)s)")
    evaluate.add_argument(
        "--bootstrap", type=int, default=1000, help="resamples for 95%% CIs (default: %(default)s)"
    )
    evaluate.add_argument("--batch-size", type=int, default=32, help="images per forward pass")
    _add_folder_flags(evaluate)
    evaluate.add_argument("--no-crop", action="store_true", help=_NO_CROP_HELP)
    evaluate.add_argument("--skip-copy-check", action="store_true", help=_COPY_CHECK_HELP)
    evaluate.set_defaults(func=_cmd_evaluate)

    predict = sub.add_parser("predict", help="class probabilities for images, as CSV")
    predict.add_argument("model_dir", help=_MODEL_HELP)
    predict.add_argument("paths", nargs="+", help="image files and/or folders")
    predict.add_argument("--out", default="predictions.csv", help="the CSV file to write")
    predict.add_argument("--batch-size", type=int, default=32, help="images per forward pass")
    predict.add_argument("--no-crop", action="store_true", help=_NO_CROP_HELP)
    predict.add_argument("--skip-copy-check", action="store_true", help=_COPY_CHECK_HELP)
    predict.add_argument(
        "--axis",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="slicing axis of 3-D NIfTI volumes after reorienting to RAS+: 2 axial (default), 1 coronal, "
        "0 sagittal",
    )
    predict.set_defaults(func=_cmd_predict)

    explain = sub.add_parser("explain", help="heatmap overlays and, with tumour masks, localisation scores")
    explain.add_argument("model_dir", help=_MODEL_HELP)
    explain.add_argument("paths", nargs="*", help="image files/folders (default: a dataset, see --data)")
    explain.add_argument(
        "--data",
        default="sample",
        help="sample | heldout (the bundled model's 153 unseen fold-1 slices) | figshare:PATH | folder:PATH "
        "(default: %(default)s)",
    )
    explain.add_argument(
        "--folds", type=int, nargs="+", help="official folds (default: the model's held-out folds, else 5)"
    )
    explain.add_argument("--methods", nargs="+", help="gradcam gradcampp token_gradcam rollout attention")
    explain.add_argument("--out", default="explanations", help="output folder (default: %(default)s)")
    explain.add_argument("--n", type=int, default=8, help="slices shown in the overlay grids")
    explain.add_argument(
        "--limit", type=int, help="score this many slices, spread across the classes (default: all)"
    )
    explain.add_argument("--steps", type=int, default=10, help="deletion/insertion steps")
    explain.add_argument(
        "--reliance",
        action="store_true",
        help="is the model looking at the tumour? accuracy per class with the tumour blacked out, against a "
        "same-sized region elsewhere in the brain (needs tumour masks; alone, skips the heatmaps unless "
        "--methods names them)",
    )
    explain.add_argument("--no-crop", action="store_true", help=_NO_CROP_HELP)
    _add_figure_flags(explain, "the overlay grids")
    _add_folder_flags(explain)
    explain.set_defaults(func=_cmd_explain)

    leakage = sub.add_parser(
        "leakage",
        help="exact, near and mirrored duplicates within a tree (test vs train) or across two trees",
    )
    leakage.add_argument("a", help="a class-per-folder tree (with Training/Testing folders: test vs train)")
    leakage.add_argument("b", nargs="?", help="a second tree: duplicates of A's images in B")
    leakage.add_argument("--out", default="leakage", help="report folder")
    leakage.add_argument("--examples", type=int, default=8, help="example pairs in the report and figure")
    _add_figure_flags(leakage, "the figure of example pairs")
    _add_folder_flags(leakage)
    leakage.set_defaults(func=_cmd_leakage)

    export = sub.add_parser(
        "export", help="export a saved model to ONNX (needs the [onnx] extra) or TorchScript"
    )
    export.add_argument("model_dir", help=_MODEL_HELP)
    export.add_argument("--format", choices=("onnx", "torchscript"), default="onnx", help="the export format")
    export.add_argument("--out", help="output file (default: model.onnx, or model.pt for torchscript)")
    export.add_argument("--opset", type=int, default=18, help="ONNX opset (default: %(default)s)")
    export.add_argument(
        "--no-verify", action="store_true", help="skip the comparison of the exported file with PyTorch"
    )
    export.add_argument(
        "--parity-images",
        type=int,
        default=16,
        help="report the max abs logit difference on this many real images of the bundled sample "
        "(0: skip; default: %(default)s)",
    )
    export.set_defaults(func=_cmd_export)

    models = sub.add_parser("models", help="list the model zoo")
    models.add_argument("filter", nargs="?", help="wildcard pattern, e.g. 'effnet_b2*'")
    models.set_defaults(func=_cmd_models)
    return parser


# Errors that are the user's to fix: one line, exit code 2. Every check of the library's input
# raises a BrainvitError. The operating system's refusals of a named path (no such file,
# permission denied, disk full) are the user's to fix too; they carry the path. Anything else,
# a ValueError from numpy or torch included, is a bug and keeps its traceback.
#: OS errors about the machine, not a bug, even when they name no file (a full disk mid-write).
_ENVIRONMENT_ERRNOS = frozenset(
    {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EMFILE, errno.EACCES, errno.EPERM}
)


def _is_user_error(e: BaseException) -> bool:
    return isinstance(e, BrainvitError) or (isinstance(e, OSError) and e.filename is not None)


#: Library advice that names API arguments, and what a CLI user types instead.
_CLI_WORDS = {
    RUN_FOLDER_ADVICE: "Choose another --output-dir, resume it (--resume <that folder>/checkpoints/last), "
    "or pass --overwrite to replace it.",
}


def _in_cli_words(message: str) -> str:
    for api, cli in _CLI_WORDS.items():
        message = message.replace(api, cli)
    return message


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainvit-effnet`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except TrainingInterrupted as e:  # not finished: no "Test" line, and the shell's code for the signal
        print(f"stopped: {e}", file=sys.stderr)
        return e.exit_code
    except InterruptedAgain as e:  # a second signal while stopping: no new checkpoint, no traceback
        last = Path(e.output_dir) / "checkpoints" / "last"
        print(
            f"stopped at once by a second {signal.Signals(e.signum).name}, without saving a new checkpoint. "
            f"The checkpoints already written are intact: resume with --resume {last}"
            + ("" if last.is_dir() else " once one exists (none was written yet: start again)")
            + ".",
            file=sys.stderr,
        )
        return e.exit_code
    except BrokenPipeError:
        # The reader went away (`brainvit-effnet models | head`). Point stdout at devnull so the
        # interpreter's final flush does not raise again (the recipe of Python's signal docs).
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except OSError as e:  # disk full, permissions...: the path and the fix, not a traceback
        ours = isinstance(e, BrainvitError)  # our own errors that are also OSErrors carry their message
        if args.debug or not (ours or e.filename is not None or e.errno in _ENVIRONMENT_ERRNOS):
            raise
        print(f"error: {_in_cli_words(str(e)) if ours else os_error_message(e)}", file=sys.stderr)
        return 2
    except Exception as e:
        if args.debug or not _is_user_error(e):  # --debug: the traceback, e.g. for a bug report
            raise
        print(f"error: {_in_cli_words(str(e))}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
