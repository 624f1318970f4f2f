"""``brainvit-effnet models``: list the model zoo."""

from __future__ import annotations

import argparse
import sys

from ..models.catalog import describe_models

HELP = "list the model zoo"
EXAMPLE = "brainvit-effnet models 'effnet_b2*'"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("filter", nargs="?", help="wildcard pattern, e.g. 'effnet_b2*'")


def run(args: argparse.Namespace) -> int:
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
