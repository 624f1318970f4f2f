"""The ``models`` table: parameter counts and inference latency of the baseline and transformer EfficientNets.

Its timing is the throughput package's :class:`~speed.timing.Clock` and :func:`~speed.timing.rotations`.

This is a benchmark, not a test: it measures, it does not assert, and it always exits 0 after a
successful run (pytest never collects it). Numbers depend on the machine, its load and the library
versions, so compare only ratios taken in the same run.

For each selected size X (``b0``..``b4``, or ``test``), at the brainvit-effnet native input size
(``model.pretrained_cfg["input_size"]``: 224/240/260/300/380 px, 64 px for ``test``), it builds three
models with ``num_classes=3`` and randomly initialised weights (nothing is downloaded):

* the plain timm reference, named by ``effnet_X.backbone_name`` (``efficientnet_bX``,
  ``test_efficientnet``), fed the same input size as ``effnet_X``;
* ``effnet_X`` (baseline: EfficientNet -> average pooling -> linear);
* ``effnet_X_tf`` (transformer-enhanced).

and measures

* parameter counts;
* forward latency of one batch (``--batch-size``, default 8) in eval mode under
  ``torch.inference_mode()``: ``--warmup`` untimed batches per model, then ``--repeats`` timed
  rounds. Each round times one batch of each of the three models in turn (round-robin, starting
  model rotated every round), so slow drift of the machine (thermal, frequency, other load)
  affects all three alike. Reported: median and min ms per batch, and img/s at the median;
* ratios ``effnet_X_tf / effnet_X`` and ``effnet_X / timm`` (median latency, min latency, params).

The issue's target (checked only when ``b2`` is measured, and defined for CPU): for B2 at native
size the transformer head adds at most 10 % latency (median ratio <= 1.10) and at most 15 %
parameters (ratio <= 1.15). The ``targets`` block of the JSON says whether each is met and, if not,
by how many percentage points the ratio is over.

CPU timings are only meaningful on an otherwise idle machine: another process competing for the
cores (a test run, a build) can slow torch's thread pool down many times over. The JSON records the
load average at start and end and each model's median/min spread, and the script warns (``noisy``
in the JSON) when a median is more than 1.25x its minimum.

On CPU the models run in fp32 with torch's default thread count (recorded). On CUDA they run under
``torch.autocast("cuda", dtype=torch.bfloat16)`` and in ``channels_last`` (both on by default there,
``--no-amp`` / ``--no-channels-last`` to turn off), with ``torch.cuda.synchronize()`` around each
timed batch.

Run (from the repository root)::

    python benchmarks/throughput.py models --device cpu             # B0-B4, ~minutes on a laptop CPU
    python benchmarks/throughput.py models --sizes b2 --device cpu  # just the size the target is about
    python benchmarks/throughput.py models --quick                  # smoke test: b0, 2 repeats
    python benchmarks/throughput.py models --sizes test --repeats 2 # tiny models, seconds


Results go to ``--out`` (default ``benchmarks/results/models_<device>.json``) and a summary table
is printed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import timm
import torch
from _common import check_minimums, load_average, machine_info, resolve_device, write_json
from torch import nn

import brainvit_effnet as bve

from .config import ALL_SIZES, RESULTS_DIR, SIZE_CHOICES
from .models import count_params, native_size
from .modes import Mode
from .timing import Clock, rotations

TARGET_SIZE = "b2"
LATENCY_TARGET = 1.10  # effnet_b2_tf / effnet_b2 median latency, CPU, native size
PARAM_TARGET = 1.15  # effnet_b2_tf / effnet_b2 parameters
NOISY_SPREAD = 1.25  # warn when a model's median batch time exceeds its fastest by more than this
ROLES: tuple[str, ...] = ("timm", "baseline", "transformer")


@dataclass
class Bench:
    """One model under measurement and its timings (ms per batch)."""

    role: str  # "timm", "baseline" or "transformer"
    name: str
    model: nn.Module
    x: torch.Tensor
    params: int
    times_ms: list[float] = field(default_factory=list)

    def summary(self, batch_size: int) -> dict[str, Any]:
        """The model's record in the JSON: parameters, input size, latency statistics, every timing."""
        median = statistics.median(self.times_ms)
        return {
            "name": self.name,
            "params": self.params,
            "input_size": list(self.x.shape[1:]),
            "latency_ms_median": round(median, 3),
            "latency_ms_min": round(min(self.times_ms), 3),
            "latency_ms_mean": round(statistics.fmean(self.times_ms), 3),
            "images_per_s": round(batch_size / (median / 1e3), 2),
            "spread_median_over_min": round(median / min(self.times_ms), 3),
            "times_ms": [round(t, 3) for t in self.times_ms],
        }


def parse_args(argv: Sequence[str] | None = None, prog: str | None = None) -> argparse.Namespace:
    """Parse the ``models`` table's options (those it always took)."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Parameters and inference latency of timm efficientnet_bX, effnet_bX and effnet_bX_tf "
        "(a benchmark, not a test).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--sizes",
        nargs="+",
        choices=SIZE_CHOICES,
        default=list(ALL_SIZES),
        help="sizes to measure; 'test' is the tiny effnet_test(_tf) at 64 px",
    )
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2, help="untimed batches per model before timing")
    parser.add_argument("--repeats", type=int, default=5, help="timed round-robin rounds")
    parser.add_argument(
        "--amp",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="bfloat16 autocast (default: on for cuda, off for cpu)",
    )
    parser.add_argument(
        "--channels-last",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="channels_last memory format (default: on for cuda, off for cpu)",
    )
    parser.add_argument("--quick", action="store_true", help="smoke test: sizes b0 only, 2 repeats")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default: benchmarks/results/models_<device>.json)",
    )
    args = parser.parse_args(argv)

    if args.quick:
        args.sizes = ["b0"]
        args.repeats = 2
    args.sizes = list(dict.fromkeys(args.sizes))  # de-duplicate, keep order
    check_minimums(parser, args, {"batch_size": 1, "warmup": 0, "repeats": 1})

    resolve_device(parser, args)
    on_cuda = args.device == "cuda"
    if args.amp is None:
        args.amp = on_cuda
    if args.channels_last is None:
        args.channels_last = on_cuda
    if args.out is None:
        args.out = RESULTS_DIR / f"models_{args.device}.json"
    return args


def prepare(model: nn.Module, device: torch.device, channels_last: bool) -> nn.Module:
    """``model`` in eval mode on ``device``, in channels_last if asked."""
    model.eval().to(device=device)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    return model


def make_input(
    shape: tuple[int, int, int], batch_size: int, device: torch.device, channels_last: bool, seed: int
) -> torch.Tensor:
    """One seeded random batch of ``shape`` on ``device``."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((batch_size, *shape), generator=gen).to(device)
    return x.contiguous(memory_format=torch.channels_last) if channels_last else x


def build_benches(size: str, args: argparse.Namespace, device: torch.device) -> list[Bench]:
    """timm reference, baseline and transformer for one size, in eval mode on ``device``."""
    torch.manual_seed(args.seed)
    baseline = bve.create_model(f"effnet_{size}", num_classes=3)
    transformer = bve.create_model(f"effnet_{size}_tf", num_classes=3)
    backbone_name = str(baseline.backbone_name)
    if str(transformer.backbone_name) != backbone_name:
        raise RuntimeError(
            f"effnet_{size} and effnet_{size}_tf wrap different backbones "
            f"({backbone_name} vs {transformer.backbone_name})"
        )
    reference = timm.create_model(backbone_name, num_classes=3)

    base_shape = native_size(baseline)
    shapes = {"timm": base_shape, "baseline": base_shape, "transformer": native_size(transformer)}
    inputs = {
        shape: make_input(shape, args.batch_size, device, args.channels_last, args.seed)
        for shape in set(shapes.values())
    }
    models = {"timm": reference, "baseline": baseline, "transformer": transformer}
    names = {"timm": backbone_name, "baseline": f"effnet_{size}", "transformer": f"effnet_{size}_tf"}
    return [
        Bench(
            role=role,
            name=names[role],
            model=prepare(model, device, args.channels_last),
            x=inputs[shapes[role]],
            params=count_params(model),
        )
        for role, model in models.items()
    ]


def run_size(size: str, args: argparse.Namespace, device: torch.device) -> dict[str, Any]:
    """Warm up, then time one batch of each of the three models per round, round-robin."""
    benches = build_benches(size, args, device)
    # perf_counter between synchronisations on CUDA too, as this table always timed
    clock = Clock(device, events=False)
    with torch.inference_mode(), Mode.parse("bf16" if args.amp else "fp32").autocast(device):
        for order in rotations(benches, args.warmup):
            for b in order:
                out = b.model(b.x)
                if tuple(out.shape) != (args.batch_size, 3):
                    raise RuntimeError(
                        f"{b.name} returned shape {tuple(out.shape)}, expected ({args.batch_size}, 3)"
                    )
        clock.sync()
        for order in rotations(benches, args.repeats):
            for b in order:
                b.times_ms.append(clock.time(b.model, b.x) * 1e3)

    by_role = {b.role: b for b in benches}
    result = {
        "size": size,
        "models": {b.role: b.summary(args.batch_size) for b in benches},
        "ratios": {
            "tf_vs_baseline": ratios(by_role["transformer"], by_role["baseline"]),
            "baseline_vs_timm": ratios(by_role["baseline"], by_role["timm"]),
        },
    }
    del benches, by_role
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def ratios(num: Bench, den: Bench) -> dict[str, float]:
    """``num / den`` for median latency, min latency and parameters (from unrounded timings)."""
    return {
        "latency_median": round(statistics.median(num.times_ms) / statistics.median(den.times_ms), 4),
        "latency_min": round(min(num.times_ms) / min(den.times_ms), 4),
        "params": round(num.params / den.params, 4),
    }


def target_block(result: dict[str, Any], device: torch.device) -> dict[str, Any]:
    """The issue's B2 target: latency and parameter ratios of effnet_b2_tf / effnet_b2, met or by how much."""
    r = result["ratios"]["tf_vs_baseline"]
    lat, par = r["latency_median"], r["params"]

    def over_pp(ratio: float, limit: float) -> float | None:
        return None if ratio <= limit else round((ratio - limit) * 100, 2)

    block: dict[str, Any] = {
        "size": TARGET_SIZE,
        "device": device.type,
        "latency_ratio_tf_vs_baseline": lat,
        "param_ratio_tf_vs_baseline": par,
        "latency_target": LATENCY_TARGET,
        "param_target": PARAM_TARGET,
        "latency_target_met": lat <= LATENCY_TARGET,
        "param_target_met": par <= PARAM_TARGET,
        "latency_over_target_pp": over_pp(lat, LATENCY_TARGET),
        "param_over_target_pp": over_pp(par, PARAM_TARGET),
    }
    if device.type != "cpu":
        block["note"] = "the target is defined for CPU; this run is on " + device.type
    return block


def print_table(results: list[dict[str, Any]]) -> None:
    """One row per model and one line of ratios per size."""
    header = (
        f"{'size':<5} {'model':<20} {'params':>11} {'input':>7} {'median ms':>10} {'min ms':>9} {'img/s':>9}"
    )
    print(header)
    print("-" * len(header))
    for res in results:
        for role in ROLES:
            m = res["models"][role]
            side = f"{m['input_size'][1]}px"
            print(
                f"{res['size'] if role == 'timm' else '':<5} {m['name']:<20} {m['params']:>11,} {side:>7} "
                f"{m['latency_ms_median']:>10.1f} {m['latency_ms_min']:>9.1f} {m['images_per_s']:>9.1f}"
            )
        tf, bt = res["ratios"]["tf_vs_baseline"], res["ratios"]["baseline_vs_timm"]
        print(
            f"{'':<5} tf/baseline: latency x{tf['latency_median']:.3f} (min x{tf['latency_min']:.3f}), "
            f"params x{tf['params']:.3f} | baseline/timm: latency x{bt['latency_median']:.3f} "
            f"(min x{bt['latency_min']:.3f}), params x{bt['params']:.3f}"
        )


def print_targets(t: dict[str, Any]) -> None:
    """The target block as one line."""

    def verdict(met: bool, over: float | None) -> str:
        return "met" if met else f"NOT met, {over:.2f} pp over"

    note = f" [{t['note']}]" if "note" in t else ""
    print(
        f"target ({t['size']}, {t['device']}): latency ratio {t['latency_ratio_tf_vs_baseline']:.3f} "
        f"(<= {t['latency_target']:.2f}: {verdict(t['latency_target_met'], t['latency_over_target_pp'])}); "
        f"param ratio {t['param_ratio_tf_vs_baseline']:.3f} "
        f"(<= {t['param_target']:.2f}: {verdict(t['param_target_met'], t['param_over_target_pp'])}){note}"
    )


def main(argv: Sequence[str] | None = None, prog: str | None = None) -> int:
    """Measure the selected sizes, print the table and the target, write the JSON."""
    args = parse_args(argv, prog)
    device = torch.device(args.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True

    info = machine_info(device)
    settings = {
        "sizes": args.sizes,
        "batch_size": args.batch_size,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "amp": args.amp,
        "amp_dtype": "bfloat16" if args.amp else None,
        "channels_last": args.channels_last,
        "inference_mode": True,
        "num_classes": 3,
        "seed": args.seed,
        "cudnn_benchmark": device.type == "cuda",
        "timing": "round-robin over the three models each round, start rotated; time.perf_counter",
    }
    print(
        f"device={info['device']} ({info['device_name']}), torch {info['torch']}, timm {info['timm']}, "
        f"brainvit_effnet {info['brainvit_effnet']}, threads={info['torch_num_threads']}, "
        f"batch={args.batch_size}, warmup={args.warmup}, repeats={args.repeats}, amp={args.amp}, "
        f"channels_last={args.channels_last}",
        flush=True,
    )

    results: list[dict[str, Any]] = []
    for size in args.sizes:
        t0 = time.perf_counter()
        print(f"measuring {size} ...", end=" ", flush=True)
        results.append(run_size(size, args, device))
        print(f"done in {time.perf_counter() - t0:.1f} s", flush=True)

    info["loadavg_at_end"] = load_average()
    noisy = sorted(
        f"{m['name']} (median/min x{m['spread_median_over_min']:.2f})"
        for r in results
        for m in r["models"].values()
        if m["spread_median_over_min"] > NOISY_SPREAD
    )
    payload: dict[str, Any] = {
        "machine": info,
        "settings": settings,
        "results": results,
        "noisy": noisy,
    }
    by_size = {r["size"]: r for r in results}
    if TARGET_SIZE in by_size:
        payload["targets"] = target_block(by_size[TARGET_SIZE], device)

    print()
    print_table(results)
    if "targets" in payload:
        print_targets(payload["targets"])
    if noisy:
        print(
            f"WARNING: noisy timings (median more than x{NOISY_SPREAD} the min): {', '.join(noisy)}. "
            f"Other load on the machine? load average at start {info['loadavg_at_start']}, "
            f"at end {info['loadavg_at_end']}. Rerun on an idle machine before trusting the ratios."
        )
    write_json(args.out, payload)
    print(f"wrote {args.out}")
    return 0
