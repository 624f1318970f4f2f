"""``brainvit-effnet predict``: class probabilities for image files, folders and volumes, as CSV.

Every input gets a row: its probabilities, or the reason it could not be read. Nothing is skipped
in silence, and the CSV is never one of the inputs or a model file.
"""

from __future__ import annotations

import argparse
import csv
import io
import sys
from pathlib import Path
from typing import Any

import numpy as np

from .._atomic import write_text_atomically
from .._outputs import check_output_file
from ..data import ImageFiles, create_transforms
from ..data.preprocess import brain_bbox, crop_is_plausible
from ..hub import from_pretrained
from ..train import TrainConfig, Trainer
from ._common import (
    COPY_CHECK_HELP,
    MODEL_HELP,
    NO_CROP_HELP,
    at_least,
    class_names,
    copy_examples,
    crop,
    training_copies,
)

HELP = "class probabilities for images, as CSV"
EXAMPLE = "brainvit-effnet predict runs/b0/model scans/ t1.nii.gz --out predictions.csv"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help=MODEL_HELP)
    p.add_argument("paths", nargs="+", help="image files and/or folders")
    p.add_argument("--out", default="predictions.csv", help="the CSV file to write")
    p.add_argument("--batch-size", type=at_least(1), default=32, help="images per forward pass")
    p.add_argument("--no-crop", action="store_true", help=NO_CROP_HELP)
    p.add_argument("--skip-copy-check", action="store_true", help=COPY_CHECK_HELP)
    p.add_argument(
        "--axis",
        type=int,
        choices=(0, 1, 2),
        default=2,
        help="slicing axis of 3-D NIfTI volumes after reorienting to RAS+: 2 axial (default), 1 coronal, "
        "0 sagittal",
    )


def _utf8(text: str) -> str:
    """``text`` as valid UTF-8: the undecodable bytes of a file name (held as surrogates) as ``\\xNN``.

    One such name would otherwise stop the whole CSV from being written.
    """
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def _has_brain(files: Any, index: int) -> bool:
    """Whether the brain crop finds tissue in slice ``index`` (a plausible box, not the whole frame)."""
    image = files.decode(index).image[0].numpy()
    box = brain_bbox(image)
    height, width = image.shape
    return box != (0, height, 0, width) and crop_is_plausible(box, (height, width))


def run(args: argparse.Namespace) -> int:
    """Every input gets a row: probabilities, or the reason it could not be read (``error``).

    Rows of ``kind`` ``image`` (a 2-D file), ``slice`` (one slice of a NIfTI volume or DICOM series)
    and ``volume``: the mean of the slice probabilities over the slices in which the brain crop
    finds tissue (all slices when it finds none), with their count in ``slices``.
    """
    out = check_output_file(args.out, suffixes=(".csv",), what="the predictions", inputs=args.paths)
    model: Any = from_pretrained(args.model_dir).eval()
    labels = class_names(model)
    _, eval_transform = create_transforms(model)
    files = ImageFiles(args.paths, transform=eval_transform, crop=crop(args, model), axis=args.axis)
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
    copies = training_copies(model, [files.records[i].source for i in readable], args)
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
        row(source, "folder" if Path(source).is_dir() else "image", None, error=reason)
        for source, reason in errors.items()
        if source in files.unsupported or source in files.errors
    ]
    buffer = io.StringIO()
    csv.writer(buffer).writerows([[_utf8(cell) for cell in line] for line in lines])
    write_text_atomically(out, buffer.getvalue())
    print(f"Predicted {len(readable)} image(s) or slice(s), {len(files.volumes)} volume(s): {out}")
    if files.companions:
        print(
            f"note: {len(files.companions)} box file(s) beside their images (the YOLO layout, e.g. "
            f"{Path(files.companions[0]).name}) were not read: predict reads images only."
        )
    if copies:
        print(
            f"warning: {len(copies)} input(s) are copies of slices this model was trained on "
            f"({copy_examples(copies)}); the 'training_copy' column names them. The model has seen "
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
