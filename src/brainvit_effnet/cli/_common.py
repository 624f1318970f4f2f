"""What several commands share: reading flags, the evaluation data a model takes, and printing.

The brain crop follows the model: ``config.json`` records whether it was trained on cropped slices,
and :func:`crop` and :func:`evaluation_data` apply that record unless ``--no-crop`` is given.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml

from ..data import (
    Br35HDataset,
    FigshareDataset,
    FolderDataset,
    MRIDataset,
    create_transforms,
    load_heldout_sample,
    load_sample,
)
from ..data.inference import preprocessing_of
from ..data.sources import DataSource
from ..errors import InvalidArgumentError
from ..train.config import load_yaml

DISCLAIMER = "Research software, not for clinical use."

MODEL_HELP = (
    "a folder written by save_pretrained (e.g. <run>/model), a Hub repo 'org/name', or a model shipped in "
    "the package by name (effnet_b0.figshare)"
)
NO_CROP_HELP = (
    "skip the study's brain crop (default: crop when the model was trained on cropped slices, as its "
    "config.json records)"
)
COPY_CHECK_HELP = (
    "do not match the inputs against the hashes of the model's training slices (shipped with the "
    "bundled models); the check warns about, and names, inputs the model was trained on"
)
DATA_HELP = (
    "sample | heldout (the bundled model's 153 unseen fold-1 slices) | figshare:PATH | folder:PATH | "
    "br35h:PATH (default: %(default)s)"
)


# -- reading flags --------------------------------------------------------------------------------
def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse ``type``: a whole number >= ``minimum``; anything else is argparse's one-line error
    naming the option (``argument --n: must be >= 1; got 0``)."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number; got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}; got {value}")
        return value

    parse.__name__ = f"int >= {minimum}"  # argparse names the type in some messages
    return parse


def yaml_value(text: str, option: str) -> Any:
    """``text`` read as a YAML value, or an error that names ``option`` and shows the text."""
    try:
        return load_yaml(text)
    except yaml.YAMLError as e:
        problem = str(e).splitlines()[0]
        raise InvalidArgumentError(
            f"{option}: {text!r} is not a YAML value ({problem}); quote strings that hold ':' '[' or '{{'."
        ) from e


def overrides(pairs: Sequence[str]) -> dict[str, Any]:
    """``--set KEY=VALUE`` (repeatable) -> ``{KEY: VALUE}``, values read as YAML."""
    result = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise InvalidArgumentError(f"--set expects KEY=VALUE (e.g. train.epochs=5); got {pair!r}.")
        result[key] = yaml_value(value, "--set")
    return result


def aliases(pairs: Sequence[str]) -> dict[str, str]:
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


def add_folder_flags(p: argparse.ArgumentParser) -> None:
    """``--lenient`` and ``--alias``, for commands that read folder or Figshare data."""
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


def add_figure_flags(p: argparse.ArgumentParser, figures: str) -> None:
    """``--format`` of the figures a command writes, and ``--progress``."""
    p.add_argument(
        "--format",
        choices=("png", "pdf", "svg"),
        default="png",
        help=f"file format of {figures} (pdf and svg place in a paper at any size)",
    )
    add_progress_flag(p)


def add_progress_flag(p: argparse.ArgumentParser) -> None:
    """``--progress/--no-progress``: progress bars, by default only on a terminal."""
    p.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bars (default: on a terminal)",
    )


# -- printing -------------------------------------------------------------------------------------
def print_files(title: str, files: Mapping[str, Any]) -> None:
    """``title`` and one ``name  path`` line per file written."""
    print(title)
    for name, path in files.items():
        print(f"  {name:<18} {path}")


def headline(report: Mapping[str, Any]) -> str:
    """Accuracy, macro-F1 and balanced accuracy with their intervals, and ECE, on one line."""
    ci = report.get("ci95", {})

    def fmt(key: str) -> str:
        value = f"{report[key]:.3f}"
        return value + (f" [{ci[key][0]:.3f}, {ci[key][1]:.3f}]" if key in ci else "")

    return (
        f"accuracy {fmt('accuracy')}, macro-F1 {fmt('macro_f1')}, "
        f"balanced accuracy {fmt('balanced_accuracy')}, ECE {report['ece']:.3f}"
    )


def short_source(source: str) -> str:
    """A slice's file name, with its address inside a volume or zip (``t1.nii.gz::z=12``)."""
    file, sep, rest = str(source).partition("::")
    return Path(file).name + sep + rest


def class_names(model: Any) -> list[str]:
    """The model's label names, or ``class_<i>`` where its config records none."""
    return list(model.pretrained_cfg.get("label_names") or [f"class_{i}" for i in range(model.num_classes)])


# -- the data a model is evaluated on -------------------------------------------------------------
def training_copies(model: Any, paths: list[str], args: argparse.Namespace) -> dict[str, list[Any]]:
    """Inputs that copy the model's own training slices, by the hashes shipped with it ({} if none)."""
    from ..data.duplicates import find_training_copies, training_hashes_of

    hashes = None if args.skip_copy_check else training_hashes_of(model)
    if hashes is None:
        return {}
    from ..data.mri import file_part

    files = [p for p in paths if Path(file_part(p)).is_file()]  # in-memory sources have no file
    return find_training_copies(hashes, files)


def copy_examples(copies: dict[str, list[Any]], n: int = 3) -> str:
    """The first ``n`` copies as ``name = training slice``, for a warning."""
    shown = "; ".join(f"{Path(path).name} = {matches[0]}" for path, matches in list(copies.items())[:n])
    return f"e.g. {shown}" + (", ..." if len(copies) > n else "")


def evaluation_folds(args: argparse.Namespace, model: Any) -> list[int]:
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


def crop(args: argparse.Namespace, model: Any) -> bool:
    """Crop to the brain when the model was trained that way and ``--no-crop`` was not given."""
    return bool(preprocessing_of(model)["brain_crop"]) and not args.no_crop


def evaluation_data(args: argparse.Namespace, model: Any, return_mask: bool = False) -> MRIDataset:
    """The dataset ``--data`` names, preprocessed as ``model`` was trained, with the model's classes."""
    _, eval_transform = create_transforms(model)
    classes = list(model.pretrained_cfg.get("label_names") or []) or None
    common: dict[str, Any] = {
        "transform": eval_transform,
        "crop": crop(args, model),
        "return_mask": return_mask,
    }
    if classes:
        common["classes"] = classes
    source = DataSource.parse(args.data, allow_heldout=True)
    if getattr(args, "split", None) and source.kind not in ("folder", "br35h"):
        raise InvalidArgumentError(
            f"--split chooses a class-per-folder tree's split folder (train, test, val); {args.data} has "
            f"none: leave --split out, or use --folds for Figshare's official folds."
        )
    if getattr(args, "folds", None) and (not source.has_official_folds or source.kind == "heldout"):
        why = " (the held-out slices are fold 1 only)" if source.kind == "heldout" else ""
        raise InvalidArgumentError(
            f"--folds chooses official Figshare folds, which {args.data} does not have{why}; leave "
            f"--folds out, or use --data sample or figshare:PATH."
        )
    if source.kind in ("folder", "br35h"):
        assert source.path is not None
        reader = Br35HDataset if source.kind == "br35h" else FolderDataset
        data = reader(
            source.path,
            split=getattr(args, "split", None),
            strict=not args.lenient,
            aliases=aliases(args.alias or []),
            allow_missing_classes=True,  # external test sets often cover some classes only
            **common,
        )
        if len(data) == 0:  # every image is of a class the model does not predict
            raise InvalidArgumentError(
                f"no image of {args.data} is of a class this model predicts ({list(data.classes)}); it holds "
                f"{data.excluded}. Evaluate a model trained on those classes, or map folders to the "
                f"model's classes with --alias FOLDER=CLASS where they are the same class."
            )
        return data
    if source.kind == "heldout":  # the bundled model's unseen patients; one fold, nothing to choose
        return load_heldout_sample(**common)
    folds = evaluation_folds(args, model)
    if source.kind == "sample":
        return load_sample(folds=folds, **common)
    assert source.path is not None
    # The strict error advises --lenient: it must reach the Figshare adapter too.
    return FigshareDataset(source.path, folds=folds, strict=not getattr(args, "lenient", False), **common)


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults shown on every option that has one; examples (the epilog) kept as written."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        if action.default in (None, False) or action.default is argparse.SUPPRESS:
            return action.help  # "(default: None)" says nothing
        return super()._get_help_string(action)
