"""Benchmark: cost of the explainers relative to a plain forward and a forward+backward.

This is a benchmark, not a test: it measures, it does not assert, and it always exits 0 after a
successful run (pytest never collects it). Numbers depend on the machine, its load and the library
versions, so compare only ratios taken in the same run.

On one model (``--model``, default ``effnet_b0_tf``) with random weights (nothing is downloaded),
at its native input size (``model.pretrained_cfg["input_size"]``, or ``--size``), on one batch
(``--batch-size``, default 4), in eval mode, it times

* ``forward``: one plain forward under ``torch.no_grad()``;
* ``forward_backward``: one forward with gradients and ``.backward()`` of the predicted-class
  logits into every parameter (what a training step costs without the optimiser);
* ``gradcam`` / ``gradcampp``: :class:`GradCAM` / :class:`GradCAMPlusPlus` on the default layers
  (predicted class), hooks registered once for the whole run (``with`` block);
* ``token_gradcam``: :class:`TokenGradCAM` (transformer variants only);
* ``rollout``: :func:`attention_rollout` (transformer variants only; records attention in one
  no-grad forward on the explicit softmax path).

``--warmup`` untimed rounds, then ``--repeats`` timed rounds; each round runs every method once, in
round-robin order with the starting method rotated every round, so slow drift of the machine
affects all methods alike. Reported: median and min ms per batch, and the ratios

* ``gradcam / forward_backward`` (target <= 3: an explanation costs about one training step), and
* ``rollout / forward`` (target <= 1.5: recording attention costs little on top of inference),

from medians, plus the same ratios from minimums (less sensitive to other load).

CPU timings are only meaningful on an otherwise idle machine; the JSON records the load average at
start and end and flags methods whose median is more than 1.25x their minimum as ``noisy``.

Run (from the repository root)::

    python benchmarks/bench_explain.py                                  # effnet_b0_tf, 224 px, CPU
    python benchmarks/bench_explain.py --model effnet_b2_tf             # the proposal's model
    python benchmarks/bench_explain.py --model effnet_test_tf --size 64 --repeats 2   # smoke test

Results go to ``--out`` (default ``benchmarks/results/explain_<device>.json``) and a table is printed.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any, cast

import timm
import torch
from _common import check_minimums, load_average, machine_info, resolve_device, write_json
from torch import Tensor, nn

from brainvit_effnet.explain.attention import attention_rollout
from brainvit_effnet.explain.cam import GradCAM, GradCAMPlusPlus, TokenGradCAM

GRADCAM_TARGET = 3.0  # gradcam / forward_backward, median
ROLLOUT_TARGET = 1.5  # rollout / forward, median
NOISY_SPREAD = 1.25
RESULTS_DIR = Path(__file__).resolve().parent / "results"


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Latency of Grad-CAM, Grad-CAM++, token Grad-CAM and attention rollout relative to a "
        "forward and a forward+backward (a benchmark, not a test).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument("--model", default="effnet_b0_tf", help="brainvit-effnet or timm model name")
    parser.add_argument("--size", type=int, default=None, help="input side in px (default: native size)")
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--num-classes", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2, help="untimed rounds before timing")
    parser.add_argument("--repeats", type=int, default=7, help="timed rounds (median reported)")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="cpu")
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="JSON output path")
    args = parser.parse_args(argv)
    check_minimums(parser, args, {"batch_size": 1, "warmup": 0, "repeats": 1})
    if args.size is not None and args.size < 32:
        parser.error("--size must be >= 32 (the networks' total stride)")
    if args.threads is not None and args.threads < 1:
        parser.error("--threads must be >= 1")
    resolve_device(parser, args)
    if args.out is None:
        args.out = RESULTS_DIR / f"explain_{args.device}.json"
    return args


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def build_methods(model: nn.Module, x: Tensor, stack: list[Any]) -> dict[str, Callable[[], object]]:
    """Name -> zero-argument callable running one batch. CAM objects enter their ``with`` here."""

    def forward() -> object:
        with torch.no_grad():
            return model(x)

    def forward_backward() -> object:
        logits = model(x)
        logits.gather(1, logits.detach().argmax(1, keepdim=True)).sum().backward()
        model.zero_grad(set_to_none=True)
        return logits

    methods: dict[str, Callable[[], object]] = {"forward": forward, "forward_backward": forward_backward}
    explainers: dict[str, Any] = {"gradcam": GradCAM(model), "gradcampp": GradCAMPlusPlus(model)}
    if callable(getattr(model, "token_cam_target_layers", None)):
        explainers["token_gradcam"] = TokenGradCAM(model)
    for name, explainer in explainers.items():
        stack.append(explainer.__enter__())
        methods[name] = partial(explainer, x)
    if callable(getattr(model, "record_attention", None)):
        methods["rollout"] = lambda: attention_rollout(model, x)
    return methods


def rotations(names: list[str], rounds: int) -> Iterator[list[str]]:
    n = len(names)
    for r in range(rounds):
        k = r % n
        yield names[k:] + names[:k]


def summarize(times_ms: list[float], batch_size: int) -> dict[str, Any]:
    median = statistics.median(times_ms)
    return {
        "ms_median": round(median, 3),
        "ms_min": round(min(times_ms), 3),
        "ms_mean": round(statistics.fmean(times_ms), 3),
        "images_per_s": round(batch_size / (median / 1e3), 2),
        "spread_median_over_min": round(median / min(times_ms), 3),
        "times_ms": [round(t, 3) for t in times_ms],
    }


def ratio_block(times: dict[str, list[float]], num: str, den: str, target: float) -> dict[str, Any] | None:
    if num not in times or den not in times:
        return None
    med = statistics.median(times[num]) / statistics.median(times[den])
    low = min(times[num]) / min(times[den])
    return {
        "ratio_median": round(med, 4),
        "ratio_min": round(low, 4),
        "target": target,
        "target_met": med <= target,
        "over_target_pp": None if med <= target else round((med - target) * 100, 2),
    }


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    model = timm.create_model(args.model, num_classes=args.num_classes).eval().to(device)
    cfg = cast("dict[str, Any]", getattr(model, "pretrained_cfg", {}) or {})
    c, h, w = cfg.get("input_size", (3, 224, 224))
    if args.size is not None:
        h = w = args.size
    gen = torch.Generator().manual_seed(args.seed)
    x = torch.randn((args.batch_size, int(c), int(h), int(w)), generator=gen).to(device)

    info = machine_info(device)
    settings = {
        "model": args.model,
        "input_size": [int(c), int(h), int(w)],
        "native_size": args.size is None,
        "batch_size": args.batch_size,
        "num_classes": args.num_classes,
        "warmup": args.warmup,
        "repeats": args.repeats,
        "seed": args.seed,
        "params": sum(p.numel() for p in model.parameters()),
        "targets": "predicted class",
        "timing": "round-robin over the methods each round, start rotated; time.perf_counter",
    }
    print(
        f"{args.model} at {h}x{w}, batch {args.batch_size}, device={info['device']} ({info['device_name']}), "
        f"threads={info['torch_num_threads']}, warmup={args.warmup}, repeats={args.repeats}",
        flush=True,
    )

    stack: list[Any] = []
    times: dict[str, list[float]] = {}
    try:
        methods = build_methods(model, x, stack)
        names = list(methods)
        times = {name: [] for name in names}
        for order in rotations(names, args.warmup):
            for name in order:
                methods[name]()
        sync(device)
        for order in rotations(names, args.repeats):
            for name in order:
                sync(device)
                t0 = time.perf_counter()
                methods[name]()
                sync(device)
                times[name].append((time.perf_counter() - t0) * 1e3)
    finally:
        for explainer in reversed(stack):
            explainer.__exit__(None, None, None)
    del model
    gc.collect()

    info["loadavg_at_end"] = load_average()
    results = {name: summarize(t, args.batch_size) for name, t in times.items()}
    ratios = {
        "gradcam_vs_forward_backward": ratio_block(times, "gradcam", "forward_backward", GRADCAM_TARGET),
        "gradcampp_vs_forward_backward": ratio_block(times, "gradcampp", "forward_backward", GRADCAM_TARGET),
        "token_gradcam_vs_forward_backward": ratio_block(
            times, "token_gradcam", "forward_backward", GRADCAM_TARGET
        ),
        "rollout_vs_forward": ratio_block(times, "rollout", "forward", ROLLOUT_TARGET),
    }
    noisy = sorted(
        f"{name} (median/min x{r['spread_median_over_min']:.2f})"
        for name, r in results.items()
        if r["spread_median_over_min"] > NOISY_SPREAD
    )
    payload: dict[str, Any] = {
        "machine": info,
        "settings": settings,
        "results": results,
        "ratios": {k: v for k, v in ratios.items() if v is not None},
        "noisy": noisy,
    }

    print()
    header = f"{'method':<18} {'median ms':>10} {'min ms':>9} {'img/s':>9}"
    print(header)
    print("-" * len(header))
    for name, r in results.items():
        print(f"{name:<18} {r['ms_median']:>10.1f} {r['ms_min']:>9.1f} {r['images_per_s']:>9.1f}")
    for key, block in payload["ratios"].items():
        verdict = "met" if block["target_met"] else f"NOT met, {block['over_target_pp']:.2f} pp over"
        print(
            f"{key}: x{block['ratio_median']:.3f} (min x{block['ratio_min']:.3f}); "
            f"target <= {block['target']:.2f}: {verdict}"
        )
    if noisy:
        print(
            f"WARNING: noisy timings (median more than x{NOISY_SPREAD} the min): {', '.join(noisy)}. "
            f"Load average at start {info['loadavg_at_start']}, at end {info['loadavg_at_end']}; rerun on an "
            "idle machine before trusting the ratios."
        )
    write_json(args.out, payload)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
