"""The throughput run: heap settings, the SIGTERM budget, the loop over sizes, the JSON and Markdown."""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import signal
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from _common import load_average, machine_info, software_versions, write_json

from .cli import parse_args, settings_of
from .config import HEAP_MARKER, SCHEMA, SCRIPT, STABLE_HEAP_ENV
from .exports import run_exports
from .memory import memory_worker
from .modes import Mode
from .runner import Runner
from .sizes import run_size
from .summary import noisy, targets_block
from .timing import error_text


class BudgetExceeded(BaseException):
    """Raised by the SIGTERM handler so an outer ``timeout`` still leaves a JSON file.

    A ``BaseException``, like ``KeyboardInterrupt``: the per-mode ``except Exception`` must not swallow it.
    """


def install_sigterm() -> None:
    """Turn SIGTERM (an outer ``timeout``) into :class:`BudgetExceeded`, so the partial JSON is written."""

    def handler(signum: int, frame: Any) -> None:
        raise BudgetExceeded(f"terminated by signal {signum}")

    with contextlib.suppress(ValueError, OSError):
        signal.signal(signal.SIGTERM, handler)


def heap_settings() -> dict[str, Any]:
    """What the process's allocator runs with (recorded: it moves eager CPU timings a lot)."""
    return {
        "libc": " ".join(platform.libc_ver()).strip() or None,
        **{k: os.environ.get(k) for k in STABLE_HEAP_ENV},
        "LD_PRELOAD": os.environ.get("LD_PRELOAD"),
    }


def stable_heap(args: argparse.Namespace, argv: Sequence[str] | None) -> None:
    """With ``--heap stable``, re-execute the script with glibc's heap kept between calls.

    glibc serves blocks above a (dynamic, at most 32 MB) threshold with fresh ``mmap``s and trims the heap
    when its top is free, so the large activations of a CPU forward pass keep page-faulting in new
    memory: on 2 cores that halves eager fp32 throughput of effnet_b2_tf, and how much depends on what
    the process allocated before (a compile, another model), which would bias modes measured later.
    Setting the tunables (before the process starts, hence the re-execution) removes both effects.
    Only when run as a script (``argv is None``), on glibc, and when the user set neither tunable.
    """
    if (
        args.heap != "stable"
        or argv is not None
        or os.environ.get(HEAP_MARKER)
        or platform.libc_ver()[0] != "glibc"
        or any(k in os.environ for k in STABLE_HEAP_ENV)
    ):
        return
    sys.stdout.flush()
    env = {**os.environ, **STABLE_HEAP_ENV, HEAP_MARKER: "stable"}
    os.execve(sys.executable, [sys.executable, str(SCRIPT), *sys.argv[1:]], env)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``benchmarks/throughput.py``.

    ``argv`` is ``None`` when run as a script (then ``--heap stable`` may re-execute it).
    """
    return run_throughput(argv)


def run_throughput(argv: Sequence[str] | None = None) -> int:
    """Measure every selected size in every mode; write the JSON after each size, then the Markdown."""
    args = parse_args(argv)
    if args.memory_worker is not None:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
        return 0
    stable_heap(args, argv)
    device = torch.device(args.device)
    configure_torch(device)
    install_sigterm()
    modes = [Mode.parse(m) for m in args.modes]
    runner = Runner(args, device)
    info = machine_info(device)
    payload: dict[str, Any] = {
        "schema": SCHEMA,
        "complete": False,
        "machine": info,
        "software": software_versions(),
        "settings": {**settings_of(args, argv), "heap_env": heap_settings()},
        "results": [],
    }
    print(
        f"device={info['device']} ({info['device_name']}), torch {info['torch']}, timm {info['timm']}, "
        f"threads={info['torch_num_threads']}, sizes={' '.join(args.sizes)}, modes={' '.join(args.modes)}, "
        f"batches={args.batch_sizes}, repeats={args.repeats}, budget={args.time_budget}",
        flush=True,
    )

    def finish(status: str) -> None:
        info["loadavg_at_end"] = load_average()
        payload["skipped"] = runner.skipped
        payload["failures"] = runner.failures
        payload["elapsed_s"] = round(runner.elapsed(), 1)
        payload["targets"] = targets_block(payload["results"], device, args.ref_batch)
        payload["noisy"] = noisy(payload["results"])
        payload["status"] = status
        write_json(args.out, payload)

    if args.onnx and device.type == "cuda":
        payload["onnx"] = [{"status": "skipped", "reason": "ONNX Runtime is compared on CPU runs"}]
    elif args.onnx:
        payload["onnx"] = []
    try:
        for size in args.sizes:
            t0 = time.perf_counter()
            print(f"{size}:", flush=True)
            payload["results"].append(run_size(size, runner, modes))
            if args.onnx and device.type == "cpu":
                payload["onnx"] += run_exports(runner, size)
            print(f"{size} done in {time.perf_counter() - t0:.0f} s", flush=True)
            finish("running")
        payload["complete"] = True
        finish("complete")
    except (BudgetExceeded, KeyboardInterrupt) as exc:
        payload["interrupted"] = error_text(exc)
        finish("interrupted")
        print(f"\ninterrupted ({exc}); partial results in {args.out}", flush=True)
        return 0

    write_markdown(payload, args.markdown)
    print(f"wrote {args.out} and {args.markdown} in {runner.elapsed():.0f} s")
    return 0


def configure_torch(device: torch.device) -> None:
    """cuDNN autotuning on CUDA; dynamo's recompile limits raised (one graph per model, mode and batch)."""
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True
    for limit in (
        "cache_size_limit",
        "recompile_limit",
        "accumulated_cache_size_limit",
        "accumulated_recompile_limit",
    ):
        if hasattr(torch._dynamo.config, limit):
            setattr(torch._dynamo.config, limit, max(256, getattr(torch._dynamo.config, limit)))


def write_markdown(payload: dict[str, Any], path: Path) -> None:
    """Render the run with :func:`speed.page.render_throughput`, write it to ``path`` and print it."""
    from .page import render_throughput  # standard library only, also used by the docs build

    markdown = render_throughput(payload, heading_level=2)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(markdown, encoding="utf-8")
    print()
    print(markdown)
