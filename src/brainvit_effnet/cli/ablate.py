"""``brainvit-effnet ablate``: a factorial ablation over folds and seeds, resumable, in lanes."""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

from ..errors import InvalidArgumentError
from ..experiment import ExperimentConfig, apply_overrides
from ..models.names import parse_model_name
from ._common import at_least, overrides, print_files, yaml_value

HELP = "factorial ablation (transformer x label smoothing x CBAM) over folds and seeds"
EXAMPLE = "OMP_NUM_THREADS=1 brainvit-effnet ablate study.yaml --lane 1/2 &   # one lane per core"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "study", nargs="?", help="YAML/JSON study (base:, factors:, folds:, seeds:, metrics:, output_dir:)"
    )
    p.add_argument(
        "--model-size", choices=("b0", "b1", "b2", "b3", "b4", "test"), help="EfficientNet size of every cell"
    )
    p.add_argument("--data", help="sample | figshare:PATH (official folds)")
    p.add_argument("--folds", type=int, nargs="+", help="test folds to repeat over (default: all)")
    p.add_argument("--seeds", type=int, nargs="+", help="seeds to repeat over (default: 0)")
    p.add_argument("--epochs", type=at_least(1), help="epochs of every run (default: the study's)")
    p.add_argument("--out", help="study folder (default: runs/ablation); rerun it to resume")
    p.add_argument(
        "--factor",
        action="append",
        metavar="NAME=L1,L2",
        help="a factor and its levels, e.g. cbam=false,true or train.lr=1e-3,3e-4 (repeatable; replaces "
        "the study's factors; default: transformer, label_smoothing 0/0.1, cbam)",
    )
    p.add_argument(
        "--set", action="append", metavar="KEY=VALUE", help="override the base experiment, e.g. train.lr=3e-4"
    )
    p.add_argument("--keep-checkpoints", action="store_true", help="keep each run's checkpoints/")
    p.add_argument("--dry-run", action="store_true", help="show the plan and what is already done")
    p.add_argument(
        "--lane",
        type=lane,
        metavar="I/N",
        help="train only lane I of N (runs I, I+N, ...); e.g. one process per core: --lane 1/2, --lane 2/2",
    )


def factor(text: str) -> tuple[str, list[Any]]:
    """``NAME=L1,L2`` or ``NAME=[L1, L2]`` (levels read as YAML) -> (name, levels)."""
    name, sep, levels = text.partition("=")
    if not sep or not name or not levels:
        raise InvalidArgumentError(
            f"--factor expects NAME=LEVEL,LEVEL (e.g. train.lr=1e-3,3e-4); got {text!r}."
        )
    parsed = yaml_value(levels, "--factor")
    return name, parsed if isinstance(parsed, list) else [
        yaml_value(v, "--factor") for v in levels.split(",")
    ]


def lane(text: str) -> tuple[int, int]:
    """``"I/N"`` -> ``(I, N)``, for ``ablate --lane``."""
    i, sep, n = text.partition("/")
    try:
        lane = (int(i), int(n))
    except ValueError:
        lane = (0, 0)
    if not sep or not 1 <= lane[0] <= lane[1]:
        raise argparse.ArgumentTypeError(f"--lane takes I/N with 1 <= I <= N, e.g. 1/2; got {text!r}")
    return lane


def run(args: argparse.Namespace) -> int:
    from ..ablation import AblationStudy, ablation_tables, run_ablation
    from ..train.config import read_mapping

    values = read_mapping(args.study, "ablation study") if args.study else {}
    changes: dict[str, Any] = {f"base.{k}": v for k, v in overrides(args.set or []).items()}
    for flag, key in (
        ("data", "base.data"),
        ("folds", "folds"),
        ("seeds", "seeds"),
        ("epochs", "base.train.epochs"),
        ("out", "output_dir"),
    ):
        if getattr(args, flag) is not None:
            changes[key] = getattr(args, flag)
    if args.model_size:
        current = str((values.get("base") or {}).get("model", ExperimentConfig().model))
        changes["base.model"] = dataclasses.replace(parse_model_name(current), size=args.model_size).arch
    if args.factor:
        changes["factors"] = dict(factor(f) for f in args.factor)
    if args.keep_checkpoints:
        changes["keep_checkpoints"] = True
    study = AblationStudy.from_dict(apply_overrides(values, changes))
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
        print_files("Files:", result["report_files"])
    return 0
