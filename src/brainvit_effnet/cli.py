"""The ``brainvit-effnet`` command.

Subcommands:
    models   list the model zoo (input size, parameters, pretrained tags)
    demo     list the zoo, then classify the bundled MRI slices with one model, offline

Run ``brainvit-effnet <command> --help`` for options.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from .data import SAMPLE_ATTRIBUTION, create_transforms, load_sample
from .errors import CheckpointError, UnknownModelError, WeightsUnavailableError
from .labels import TUMOUR_TYPE_CLASSES
from .models import create_model, list_models
from .models.zoo import default_cfgs

_DISCLAIMER = "Research software, not for clinical use."


def _count_params(name: str) -> int:
    with torch.device("meta"):  # parameter counts without allocating weights
        model = create_model(name)
    return sum(p.numel() for p in model.parameters())


def _cmd_models(args: argparse.Namespace) -> int:
    names = list_models(args.filter or "")
    if not names:
        print(
            f"No model matches {args.filter!r}; try 'brainvit-effnet models' for all of them.",
            file=sys.stderr,
        )
        return 1
    print(f"{'model':<16} {'input':>7} {'params':>8}  pretrained tags (first is the default)")
    for name in names:
        side = default_cfgs[name].default.input_size[-1]
        tags = ", ".join(default_cfgs[name].tags)
        print(f"{name:<16} {side:>4} px {_count_params(name) / 1e6:>7.2f}M  {tags}")
    return 0


def _cmd_demo(args: argparse.Namespace) -> int:
    print(f"brainvit-effnet demo. {_DISCLAIMER}\n")
    print(f"Models: {', '.join(list_models())}\n")
    model: Any = create_model(
        args.model,
        pretrained=args.pretrained,
        num_classes=None if args.checkpoint else len(TUMOUR_TYPE_CLASSES),
        label_names=None if args.checkpoint else TUMOUR_TYPE_CLASSES,
        checkpoint_path=args.checkpoint,
    ).eval()
    labels = model.pretrained_cfg.get("label_names") or [f"class_{i}" for i in range(model.num_classes)]
    _, eval_transform = create_transforms(model)
    # Held-out patients: official fold 5 of the bundled sample, brain-cropped as in the study.
    test = load_sample(folds=[5], transform=eval_transform)
    shown = list(range(0, len(test), max(1, len(test) // args.n)))[: args.n]
    batch = torch.stack([test[i][0] for i in shown])
    with torch.inference_mode():
        probs = model(batch).softmax(dim=-1)

    trained = args.checkpoint is not None
    source = (
        f"weights from {args.checkpoint}"
        if trained
        else ("ImageNet backbone, untrained head" if args.pretrained else "random weights")
    )
    print(f"Model {args.model} ({source}) on {len(shown)} bundled Figshare slices of fold 5:")
    print(f"{'slice':<12} {'true':<12} {'predicted':<12} {'prob':>5}")
    for i, p in zip(shown, probs, strict=True):
        record, k = test.records[i], int(p.argmax())
        print(f"{Path(record.source).name:<12} {record.class_name:<12} {labels[k]:<12} {float(p[k]):>5.2f}")
    if not trained:
        print(
            "\nThis model was not trained on MRI, so these predictions are arbitrary; they show the "
            "API end to end. Pass --checkpoint with a trained model.safetensors for real predictions."
        )
    print(f"\nData: {SAMPLE_ATTRIBUTION}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``brainvit-effnet`` command."""
    parser = argparse.ArgumentParser(
        prog="brainvit-effnet", description=__doc__.split("\n")[0] + " " + _DISCLAIMER
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress (INFO level)")
    sub = parser.add_subparsers(dest="command", required=True)

    models = sub.add_parser("models", help="list the model zoo")
    models.add_argument("filter", nargs="?", help="wildcard pattern, e.g. 'effnet_b2*'")
    models.set_defaults(func=_cmd_models)

    demo = sub.add_parser("demo", help="classify the bundled MRI slices offline")
    demo.add_argument("--model", default="effnet_test_tf", help="model name (default: %(default)s)")
    demo.add_argument(
        "--pretrained",
        action="store_true",
        help="load the default pretrained tag (needs the Hub or its cache)",
    )
    demo.add_argument("--checkpoint", help="a model.safetensors or save_pretrained folder to load")
    demo.add_argument("--n", type=int, default=6, help="slices to classify (default: %(default)s)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``brainvit-effnet`` console script; returns the exit code."""
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    try:
        return int(args.func(args))
    except (UnknownModelError, CheckpointError, WeightsUnavailableError, FileNotFoundError, ValueError) as e:
        print(f"error: {e}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
