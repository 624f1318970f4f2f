"""``brainvit-effnet train``: train from a config file or a named recipe, plus flags.

``--cv`` cross-validates over the official Figshare folds. Under ``torchrun`` one rank prints.
"""

from __future__ import annotations

import argparse
from typing import Any

from ..errors import InvalidArgumentError
from ..experiment import ExperimentConfig, apply_overrides, cross_validate, run_experiment
from ..recipes import RECIPES, recipe_config
from ..train import distributed as dist
from ._common import add_folder_flags, aliases, at_least, headline, overrides, print_files

HELP = "train from a config file or a named recipe, plus flags"
EXAMPLE = (
    "brainvit-effnet train --recipe scratch_b0_192 --data figshare:/data/figshare "
    "--set 'test_folds=[1]' --set 'val_folds=[2]' --output-dir runs/b0"
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_experiment_flags(p)
    p.add_argument(
        "--recipe",
        choices=list(RECIPES),
        help="start from a named, measured recipe (docs/recipes.md); flags and --set adjust it",
    )
    p.add_argument("--cv", action="store_true", help="cross-validate over the official Figshare folds")
    p.add_argument("--resume", help="checkpoint folder to continue (<output-dir>/checkpoints/last)")


def add_experiment_flags(p: argparse.ArgumentParser) -> None:
    p.add_argument("--config", help="YAML/JSON experiment config (model, data, train: {...})")
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override a config value, e.g. train.lr=3e-4"
    )
    p.add_argument("--model", help="model name, e.g. effnet_b2_tf")
    p.add_argument("--data", help="sample | figshare:PATH | folder:PATH")
    p.add_argument(
        "--epochs", type=at_least(1), help="training epochs (default: the config's, or the recipe's)"
    )
    p.add_argument("--batch-size", type=at_least(1), help="images per optimiser step (default: the config's)")
    p.add_argument("--lr", type=float, help="peak learning rate (default: the config's)")
    p.add_argument("--output-dir", help="run folder (refused if it holds a run, unless --overwrite)")
    p.add_argument("--device", help="cpu, cuda, cuda:1, mps... (default: CUDA when available, else the CPU)")
    add_folder_flags(p)
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


def experiment(args: argparse.Namespace) -> ExperimentConfig:
    """The experiment the flags describe: a recipe or config file, adjusted by flags and --set."""
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
        flags["aliases"] = aliases(args.alias)
    sets = overrides(args.set or [])
    clashes = [k for k in flags if k in sets and sets[k] != flags[k]]
    if clashes:  # neither silently wins
        key = clashes[0]
        raise InvalidArgumentError(
            f"--set {key}={sets[key]!r} disagrees with the flag that gives {flags[key]!r}; "
            f"give the option once."
        )
    merged = {**sets, **flags}
    if getattr(args, "recipe", None):
        if args.config:
            raise InvalidArgumentError("give either --recipe or --config, not both (--set adjusts a recipe).")
        return recipe_config(args.recipe, merged)
    if args.config:
        return ExperimentConfig.from_file(args.config, merged)
    return ExperimentConfig.from_dict(apply_overrides({}, merged))


def run(args: argparse.Namespace) -> int:
    cfg = experiment(args)
    try:
        if args.cv:
            cv = cross_validate(cfg)
            if dist.is_main():  # under torchrun, one summary, not one per rank
                print("Cross-validation over the official folds (mean ± std):")
                for metric, stats in cv["summary"].items():
                    print(f"  {metric:<18} {stats['mean']:.4f} ± {stats['std']:.4f}")
                print_files("Files:", cv["report_files"])
            return 0
        result = run_experiment(cfg, resume=args.resume)
        if dist.is_main():
            print(f"Test ({len(result['test'].get('per_class', {}))} classes): {headline(result['test'])}")
            print_files(
                "Files:",
                {"model": result["model_dir"], **result["report_files"], "run": result["output_dir"]},
            )
        return 0
    finally:
        dist.shutdown()  # no-op unless launched by torchrun
