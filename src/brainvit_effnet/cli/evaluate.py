"""``brainvit-effnet evaluate``: a saved model on a dataset; JSON and Markdown report, with plots.

A folder that lacks some of the model's classes is evaluated on the classes it has, and the report
says so; images of classes the model does not predict are counted and left out, with a warning.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .._json import read_json
from ..hub import from_pretrained
from ..reports import write_evaluation_report
from ..train import TrainConfig, Trainer
from ._common import (
    COPY_CHECK_HELP,
    DATA_HELP,
    MODEL_HELP,
    NO_CROP_HELP,
    add_folder_flags,
    at_least,
    copy_examples,
    evaluation_data,
    headline,
    print_files,
    training_copies,
)

HELP = "evaluate a saved model; writes a report with plots"
EXAMPLE = "brainvit-effnet evaluate runs/b0/model --data figshare:/data/figshare --folds 1"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model_dir", help=MODEL_HELP)
    p.add_argument("--data", default="sample", help=DATA_HELP)
    p.add_argument(
        "--folds",
        type=int,
        nargs="+",
        help="official folds to evaluate on (default: the model's held-out folds when its config records "
        "them, else 5)",
    )
    p.add_argument("--split", help="for folder data: train | test (default: all images)")
    p.add_argument("--out", default="evaluation", help="report folder (default: %(default)s)")
    p.add_argument(
        "--bootstrap", type=at_least(0), default=1000, help="resamples for 95%% CIs (default: %(default)s)"
    )
    p.add_argument("--batch-size", type=at_least(1), default=32, help="images per forward pass")
    add_folder_flags(p)
    p.add_argument("--no-crop", action="store_true", help=NO_CROP_HELP)
    p.add_argument("--skip-copy-check", action="store_true", help=COPY_CHECK_HELP)


def run(args: argparse.Namespace) -> int:
    model = from_pretrained(args.model_dir).eval()
    test = evaluation_data(args, model)
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
    copies = training_copies(model, [r.source for r in test.records], args)
    if copies:
        print(
            f"warning: {len(copies)} of {len(test)} images are copies of slices this model was trained on "
            f"({copy_examples(copies)}): on them, accuracy measures memory, not skill. report.json lists "
            f"them under extra.training_copies; remove them to measure the model on new data.",
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
    print(f"{len(test)} slices: {headline(report)}")
    print_files("Files:", {k: str(v) for k, v in files.items()})
    return 0
