"""Command line of the throughput benchmark: options by group, defaults resolved, settings recorded.

Each ``_add_*`` function adds one group of options; :func:`parse_args` parses, then resolves what the
device and ``--quick`` decide (:func:`_apply_defaults`), normalises the lists and checks the values.
"""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from _common import check_minimums, resolve_device

from .config import (
    ALL_SIZES,
    DEFAULT_MODES,
    QUICK_COMPILE_MODELS,
    QUICK_MODES,
    QUICK_SIZES,
    QUICK_TRAIN_MODES,
    RESULTS_DIR,
    SIZE_CHOICES,
)
from .modes import Mode

DESCRIPTION = (
    "Throughput, latency, training speed and memory of effnet_bX(_tf) against timm, in several "
    "execution modes, plus ONNX/TorchScript parity and ONNX Runtime speed (a benchmark, not a test)."
)
EPILOG = (
    "What the transformer head costs (parameters, eager fp32 latency) is in the JSON's targets.head_cost: "
    "python benchmarks/throughput.py --modes fp32 --batch-sizes 8"
)
POSITIVE = ("train_batch_size", "repeats", "input_pool", "max_iters", "warmup")  # each must be >= 1


def build_parser() -> argparse.ArgumentParser:
    """The parser of a throughput run, its options in groups by what they choose."""
    parser = argparse.ArgumentParser(
        description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    _add_selection(parser.add_argument_group("what is measured"))
    _add_batches(parser.add_argument_group("batch sizes"))
    _add_timing(parser.add_argument_group("timing"))
    _add_phases(parser.add_argument_group("phases: training, memory, compilation, export"))
    _add_output(parser.add_argument_group("run and output"))
    return parser


def _add_selection(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--sizes", nargs="+", choices=SIZE_CHOICES, default=None, help="default: b0..b4 (quick: b2 b0)"
    )
    group.add_argument("--models", nargs="+", default=None, help="keep only models matching these wildcards")
    group.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    group.add_argument(
        "--modes",
        nargs="+",
        default=None,
        help=f"default cpu: {' '.join(DEFAULT_MODES['cpu'])}; "
        f"cuda: {' '.join(DEFAULT_MODES['cuda'])}; quick: {' '.join(QUICK_MODES)}",
    )
    group.add_argument(
        "--quick",
        action="store_true",
        help="b2 then b0; modes fp32/channels_last/bf16/compile; inference at batch 8 (cuda 32) plus "
        "batch-1 latency; 3 repeats; training in fp32/channels_last; compile only effnet_b2_tf and "
        "efficientnet_b2; ONNX for effnet_b2_tf; time budget 240 s",
    )


def _add_batches(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--batch-sizes", nargs="+", type=int, default=None, help="default cpu 1 8, cuda 1 32 128"
    )
    group.add_argument(
        "--ref-batch", type=int, default=None, help="batch size of best modes/targets (default: largest)"
    )
    group.add_argument("--train-batch-size", type=int, default=None, help="default cpu 8, cuda 32")


def _add_timing(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--warmup", type=int, default=None, help="untimed calls per model (default cpu 2, cuda 5)"
    )
    group.add_argument(
        "--train-warmup", type=int, default=None, help="untimed training steps per model (default 2, quick 1)"
    )
    group.add_argument(
        "--repeats", type=int, default=None, help="timed round-robin rounds (default 5, quick 3)"
    )
    group.add_argument("--round-s", type=float, default=None, help="target seconds per model per round")
    group.add_argument("--max-iters", type=int, default=200, help="cap on calls per model per round")
    group.add_argument("--latency-samples", type=int, default=None, help="batch-1 latency samples (0: skip)")
    group.add_argument(
        "--input-pool", type=int, default=4, help="different input tensors cycled per batch size"
    )
    group.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    group.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds; work not started within it is skipped and recorded (quick default: 240)",
    )
    group.add_argument("--seed", type=int, default=0)


def _add_phases(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--train", action=argparse.BooleanOptionalAction, default=True, help="measure training steps"
    )
    group.add_argument(
        "--memory", action=argparse.BooleanOptionalAction, default=True, help="measure peak memory"
    )
    group.add_argument(
        "--memory-modes", nargs="+", default=["fp32"], help="eager modes whose CPU memory is measured"
    )
    group.add_argument(
        "--memory-models",
        nargs="+",
        default=None,
        help=f"models whose CPU memory is measured (default: all; quick: {' '.join(QUICK_COMPILE_MODELS)})",
    )
    group.add_argument(
        "--compile-models",
        nargs="+",
        default=None,
        help=f"compile only models matching these wildcards (quick: {' '.join(QUICK_COMPILE_MODELS)})",
    )
    group.add_argument(
        "--compile-batch-sizes",
        nargs="+",
        type=int,
        default=None,
        help="batch sizes measured in compiled modes (default: all; quick: the largest)",
    )
    group.add_argument(
        "--train-modes",
        nargs="+",
        default=None,
        help=f"modes whose training steps are measured (default: all; quick: {' '.join(QUICK_TRAIN_MODES)})",
    )
    group.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ONNX/TorchScript export, parity on real images, ONNX Runtime vs eager",
    )
    group.add_argument(
        "--onnx-models", nargs="+", default=None, help="default: effnet_*_tf (quick: effnet_b2_tf)"
    )
    group.add_argument(
        "--parity-images", type=int, default=None, help="real sample images for parity (default 16, quick 8)"
    )


def _add_output(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default: benchmarks/results/throughput_<device>[_quick].json)",
    )
    group.add_argument(
        "--markdown", type=Path, default=None, help="Markdown output (default: --out with .md)"
    )
    group.add_argument(
        "--heap",
        choices=("stable", "default"),
        default="stable",
        help="stable: on Linux/glibc, rerun the script with large-block mmap and heap trimming turned off, "
        "so eager CPU timings measure compute rather than page faults and do not depend on what ran "
        "before; default: glibc as it comes",
    )
    group.add_argument(
        "--inject-failure",
        nargs="+",
        default=[],
        metavar="MODEL:MODE",
        help="make MODEL raise in MODE (exercises the failure path; for tests)",
    )
    group.add_argument("--verbose", action="store_true", help="print tracebacks of failing modes")
    group.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Parse a throughput run's options and resolve every default that depends on device and ``--quick``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.memory_worker is not None:  # the CPU memory subprocess: its spec says everything
        return args
    resolve_device(parser, args)
    _apply_defaults(args)
    _normalise(parser, args)
    _check(parser, args)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.out is None:
        args.out = RESULTS_DIR / f"throughput_{args.device}{'_quick' if args.quick else ''}.json"
    if args.markdown is None:
        args.markdown = args.out.with_suffix(".md")
    return args


def _apply_defaults(args: argparse.Namespace) -> None:
    """Fill every option left at ``None`` with its normal or ``--quick`` value for the device."""
    cuda = args.device == "cuda"
    # option: (normal, quick)
    table: dict[str, tuple[Any, Any]] = {
        "sizes": (list(ALL_SIZES), list(QUICK_SIZES)),
        "modes": (DEFAULT_MODES[args.device], list(QUICK_MODES)),
        "batch_sizes": ([1, 32, 128] if cuda else [1, 8], [32] if cuda else [8]),
        "train_batch_size": (32 if cuda else 8, 32 if cuda else 8),
        "warmup": (5 if cuda else 2, 3 if cuda else 1),
        "repeats": (5, 5),
        "train_warmup": (2, 1),
        "memory_models": (None, list(QUICK_COMPILE_MODELS)),
        "round_s": (0.05 if cuda else 0.3, 0.03 if cuda else 0.2),
        "latency_samples": (100 if cuda else 30, 30 if cuda else 10),
        "compile_models": (None, list(QUICK_COMPILE_MODELS)),
        "train_modes": (None, list(QUICK_TRAIN_MODES)),
        "onnx_models": (["effnet_*_tf"], ["effnet_b2_tf"]),
        "parity_images": (16, 8),
        "time_budget": (None, 240.0),
    }
    for name, (normal, quick_value) in table.items():
        if getattr(args, name) is None:
            setattr(args, name, quick_value if args.quick else normal)


def _normalise(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """De-duplicate and sort the lists, give modes their canonical names, derive the batch defaults."""
    args.sizes = list(dict.fromkeys(args.sizes))
    args.batch_sizes = sorted(set(args.batch_sizes))
    try:
        parsed = [Mode.parse(m) for m in args.modes]
    except ValueError as exc:
        parser.error(str(exc))
    args.modes = list(dict.fromkeys(m.name for m in parsed))
    args.memory_modes = [Mode.parse(m).name for m in args.memory_modes]
    if args.train_modes is not None:
        args.train_modes = [Mode.parse(m).name for m in args.train_modes]
    if args.compile_batch_sizes is None:
        args.compile_batch_sizes = [max(args.batch_sizes)] if args.quick else list(args.batch_sizes)
    if args.ref_batch is None:
        args.ref_batch = max(args.batch_sizes)


def _check(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """Reject values no run can use (``parser.error`` exits 2 with the option named)."""
    check_minimums(parser, args, dict.fromkeys(POSITIVE, 1))
    if min(args.batch_sizes) < 1:
        parser.error("--batch-sizes must be >= 1")
    if args.ref_batch not in args.batch_sizes:
        parser.error("--ref-batch must be one of --batch-sizes")
    for spec in args.inject_failure:
        if ":" not in spec:
            parser.error(f"--inject-failure expects MODEL:MODE, got {spec!r}")
    args.inject_failure = [
        f"{m}:{Mode.parse(mode).name}" for m, mode in (s.split(":", 1) for s in args.inject_failure)
    ]


def settings_of(args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Any]:
    """The settings block of the JSON: the resolved options, the command line and how things are timed."""
    keys = [
        "quick",
        "sizes",
        "models",
        "modes",
        "batch_sizes",
        "ref_batch",
        "train_batch_size",
        "warmup",
        "train_warmup",
        "memory_models",
        "repeats",
        "round_s",
        "max_iters",
        "latency_samples",
        "input_pool",
        "train",
        "memory",
        "memory_modes",
        "compile_models",
        "compile_batch_sizes",
        "train_modes",
        "heap",
        "onnx",
        "onnx_models",
        "parity_images",
        "time_budget",
        "inject_failure",
        "seed",
    ]
    settings = {k: getattr(args, k) for k in keys}
    cli = list(sys.argv[1:] if argv is None else argv)
    settings["command"] = (
        "python benchmarks/throughput.py " + shlex.join(cli) if cli else "python benchmarks/throughput.py"
    )
    settings.update(
        {
            "num_classes": 3,
            "optimizer": "AdamW(lr=1e-5), cross-entropy; GradScaler under fp16",
            "compile": "torch.compile(dynamic=False): one graph per batch size; 'cudagraphs' = "
            "mode='reduce-overhead'; compile time is in first_call_s / warmup_overhead_s, never in the "
            "throughput",
            "timing": "round-robin over the models of a size each round (start rotated); median over rounds; "
            "CUDA events + synchronize on CUDA, time.perf_counter on CPU; inputs cycled from a pool",
            "memory": "CUDA: torch.cuda.max_memory_allocated (absolute and over the allocation before the "
            "phase). CPU: peak RSS of a fresh subprocess per size (VmHWM reset via /proc/self/clear_refs, "
            "else ru_maxrss) minus RSS before the phase, glibc MALLOC_MMAP_THRESHOLD_=65536 so freed memory "
            "leaves the RSS; counts all process memory, eager --memory-modes only",
        }
    )
    return settings
