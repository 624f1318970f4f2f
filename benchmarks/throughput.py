"""Benchmark: throughput, latency, training speed and memory of the EfficientNets in several execution modes.

This is a benchmark, not a test: it measures, it does not assert, and it exits 0 after a run even when
some modes failed (they are recorded with their error). Numbers depend on the machine, its load and the
library versions, so compare only ratios taken in the same run.

Models. For each selected size X (``b0``..``b4``, or the tiny ``test``) it builds, with ``num_classes=3``
and random weights (nothing is downloaded), and feeds all of them the brainvit-effnet native input size
(``effnet_X.pretrained_cfg["input_size"]``: 224/240/260/300/380 px, 64 px for ``test``):

* ``efficientnet_bX``: timm's plain EfficientNet, the backbone the effnet models wrap (the reference);
* ``tf_efficientnet_bX``: timm's TensorFlow-ported variant ('same' padding), noted alongside;
* ``effnet_bX`` (baseline) and ``effnet_bX_tf`` (transformer-enhanced).

For ``test`` the reference is ``test_efficientnet`` and there is no tf_ variant. ``--models`` keeps only
models matching its wildcard patterns.

Modes (``--modes``; ``+`` combines tokens): ``fp32`` (eager, NCHW), ``bf16``/``fp16`` (autocast),
``channels_last``, ``compile`` (``torch.compile``, default mode, static shapes) and ``cudagraphs``
(``torch.compile(mode="reduce-overhead")``: CUDA graphs, CUDA only, inference only). A mode that raises
for a model is recorded as ``failed`` with the error and the run goes on; a mode that does not apply
(CUDA graphs on CPU, training under CUDA graphs) or did not fit ``--time-budget`` is ``skipped`` with
the reason.

Measurements, per size, per mode, the models of a size always timed round-robin (every round times each
model once, the starting model rotated every round), so drift of the machine hits them alike:

* inference throughput (img/s) at each ``--batch-sizes`` value, in eval mode under
  ``torch.inference_mode()``: ``--warmup`` untimed calls per model (the first call is timed on its own
  and recorded as ``first_call_s``: for compiled modes it holds the compile time, which is never part of
  the throughput), then ``--repeats`` rounds of ``k`` calls each, ``k`` chosen from the warm-up so that a
  round lasts about ``--round-s``; the median over rounds is reported;
* batch-1 latency p50/p95 (ms) from ``--latency-samples`` individually timed single-image calls;
* training-step throughput (img/s) at ``--train-batch-size``: forward, cross-entropy, backward and an
  AdamW step (GradScaler under fp16), train mode;
* peak memory. CUDA: ``torch.cuda.max_memory_allocated`` over one inference batch (largest batch size)
  and one training step, after ``reset_peak_memory_stats``; reported absolute and as the increase over
  what was allocated before (weights, optimiser state). CPU: torch has no allocator statistics, so a
  fresh subprocess per size builds each model and records the peak resident set size of one inference
  batch and of one training step (Linux: ``VmHWM`` reset through ``/proc/self/clear_refs`` before each
  phase; elsewhere ``ru_maxrss``, which only grows) minus the resident size just before. The worker
  runs with glibc's ``MALLOC_MMAP_THRESHOLD_=65536``, so freed blocks leave the resident set and one
  phase's heap does not hide the next one's peak; a discarded warm-up run comes first. This counts
  everything the process touches (activations, gradients, AdamW state, oneDNN scratch space, allocator
  slack), not tensors alone, and only eager modes (``--memory-modes``) of ``--memory-models`` are
  measured. Treat it as an upper bound within tens of MB.

Heap (``--heap``, default ``stable``): on Linux with glibc the script re-executes itself with
``MALLOC_MMAP_THRESHOLD_`` and ``MALLOC_TRIM_THRESHOLD_`` raised, so large activations reuse resident
memory instead of page-faulting in fresh ``mmap``s on every call. With glibc's defaults eager fp32 on
2 cores runs about half as fast, and by an amount that depends on what the process allocated earlier
(a compilation, another model), which would favour whatever is measured later; jemalloc or tcmalloc, as
commonly preloaded for CPU inference, behave like ``stable``. ``--heap default`` measures glibc as it
comes. The JSON records the allocator settings (``settings.heap_env``).

Inputs are a pool of ``--input-pool`` different random tensors per batch size, cycled call after call,
so caches are not flattered by one tensor used over and over. On CUDA every timed block is bracketed by
CUDA events and synchronised; on CPU ``time.perf_counter`` is used.

ONNX and TorchScript (CPU; ``--onnx-models``, default the transformer variants): each model is exported
with :func:`brainvit_effnet.export.export_onnx` (dynamic batch) and
:func:`~brainvit_effnet.export.export_torchscript`, the maximum absolute logit difference to eager
PyTorch is measured on real MRI slices of the bundled Figshare sample
(:func:`~brainvit_effnet.export.parity_on_sample`), and ONNX Runtime (CPU provider, as many intra-op
threads as torch, no spinning) is timed against eager fp32 torch (and eager channels_last), round-robin.
Without onnxruntime this part is recorded as skipped with the reason.

Ratios and targets. For every mode and batch size the JSON holds ``effnet_bX / efficientnet_bX`` and
``effnet_bX_tf / efficientnet_bX`` throughput ratios (and the same over ``tf_efficientnet_bX``), and per
model its best mode. The ``targets`` block checks, at the reference batch size (``--ref-batch``, default
the largest), that each transformer variant's best mode reaches at least 90 % of the matching
``efficientnet_bX``'s best mode, and reports the fastest mode of ``effnet_b2_tf`` with its speed-up over
eager fp32. Nothing is hard-coded: every number comes from this run.

Run (from the repository root)::

    python benchmarks/throughput.py --quick --device cpu      # b2 + b0, 4 modes: under 5 minutes on 2 cores
    python benchmarks/throughput.py --device cpu --sizes b0 b1 b2
    python benchmarks/throughput.py --sizes test --repeats 2  # tiny 64 px models, seconds
    python benchmarks/throughput.py --device cuda --time-budget 400
    bash benchmarks/gpu.sh                                    # every GPU measurement, <= 8 minutes

Results go to ``--out`` (default ``benchmarks/results/throughput_<device>[_quick].json``; the JSON is
rewritten after every size, so an interrupted run keeps what it measured) and a Markdown summary next to
it (same name, ``.md``), rendered by ``benchmarks/results_page.py``.
"""

from __future__ import annotations

import argparse
import contextlib
import fnmatch
import gc
import importlib.util
import json
import math
import os
import platform
import shlex
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import timm
import torch
from _common import load_average, machine_info, software_versions, write_json
from torch import nn

import brainvit_effnet as bve

SCHEMA = "brainvit-effnet/throughput/1"
ALL_SIZES: tuple[str, ...] = ("b0", "b1", "b2", "b3", "b4")
SIZE_CHOICES: tuple[str, ...] = (*ALL_SIZES, "test")
PRECISIONS: dict[str, torch.dtype | None] = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}
FLAGS: tuple[str, ...] = ("channels_last", "compile", "cudagraphs")
DEFAULT_MODES: dict[str, list[str]] = {
    "cpu": ["fp32", "channels_last", "bf16", "bf16+channels_last", "compile", "channels_last+compile"],
    "cuda": [
        "fp32",
        "channels_last",
        "bf16+channels_last",
        "fp16+channels_last",
        "bf16+channels_last+compile",
        "bf16+channels_last+cudagraphs",
    ],
}
QUICK_MODES: list[str] = ["fp32", "channels_last", "bf16", "compile"]
QUICK_SIZES: list[str] = ["b2", "b0"]  # b2 first: the targets are about it, the budget cuts last
QUICK_COMPILE_MODELS: list[str] = ["effnet_b2_tf", "efficientnet_b2"]
QUICK_TRAIN_MODES: list[str] = ["fp32"]
TARGET_RATIO = 0.90  # effnet_bX_tf best mode / efficientnet_bX best mode, throughput
FASTEST_MODE_MODEL = "effnet_b2_tf"
NOISY_SPREAD = 1.25  # warn when the fastest round beats the median round by more than this
RESULTS_DIR = Path(__file__).resolve().parent / "results"
MB = 1024 * 1024
# glibc tunables for --heap stable: no mmap for large blocks, never trim the heap
STABLE_HEAP_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 32),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 36),
}
HEAP_MARKER = "BRAINVIT_BENCH_HEAP"


class BudgetExceeded(BaseException):
    """Raised by the SIGTERM handler so an outer ``timeout`` still leaves a JSON file.

    A ``BaseException``, like ``KeyboardInterrupt``: the per-mode ``except Exception`` must not swallow it.
    """


# -- modes ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Mode:
    """An execution mode: precision, memory format and compilation."""

    name: str
    precision: str = "fp32"
    channels_last: bool = False
    compile: str | None = None  # None, "default" or "reduce-overhead" (CUDA graphs)

    @classmethod
    def parse(cls, spec: str) -> Mode:
        tokens = [t.strip() for t in spec.split("+") if t.strip()]
        precision = [t for t in tokens if t in PRECISIONS]
        unknown = [t for t in tokens if t not in PRECISIONS and t not in FLAGS]
        if unknown or len(precision) > 1 or not tokens or len(set(tokens)) != len(tokens):
            raise ValueError(
                f"bad mode {spec!r}: combine at most one of {'/'.join(PRECISIONS)} with "
                f"{', '.join(FLAGS)} using '+', e.g. bf16+channels_last+compile"
            )
        if "compile" in tokens and "cudagraphs" in tokens:
            raise ValueError(f"bad mode {spec!r}: 'cudagraphs' already compiles (mode='reduce-overhead')")
        compile_mode = (
            "reduce-overhead" if "cudagraphs" in tokens else "default" if "compile" in tokens else None
        )
        prec = precision[0] if precision else "fp32"
        # canonical name: precision, then flags in a fixed order ("fp32" dropped when flags are present)
        flags = [f for f in FLAGS if f in tokens]
        name = "+".join(([prec] if prec != "fp32" or not flags else []) + flags)
        return cls(name=name, precision=prec, channels_last="channels_last" in tokens, compile=compile_mode)

    @property
    def dtype(self) -> torch.dtype | None:
        return PRECISIONS[self.precision]

    @property
    def eager(self) -> bool:
        return self.compile is None

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)


# -- models -----------------------------------------------------------------------------------------
@dataclass
class Entry:
    """One model of a size group, and what the current phase measured for it."""

    name: str
    role: str  # "timm", "timm_tf", "baseline", "transformer"
    module: nn.Module
    params: int
    fn: Callable[[torch.Tensor], torch.Tensor] | None = None
    iters: int = 1
    rounds: list[float] = field(default_factory=list)  # img/s per round
    samples_ms: list[float] = field(default_factory=list)
    first_call_s: float | None = None
    calls: int = 0  # calls made so far: indexes the input pool, so every call gets the next input
    train_step: Callable[[int], None] | None = None  # kept from the training phase for the CUDA memory one


def native_size(model: nn.Module) -> tuple[int, int, int]:
    cfg = cast("dict[str, Any]", model.pretrained_cfg)  # nn.Module.__getattr__ is typed Tensor | Module
    c, h, w = cfg["input_size"]
    return int(c), int(h), int(w)


def group_names(size: str) -> dict[str, str]:
    """role -> model name for one size (the timm names come from the backbone effnet_X wraps)."""
    backbone = str(bve.create_model(f"effnet_{size}", num_classes=3).backbone_name)
    names = {"timm": backbone, "baseline": f"effnet_{size}", "transformer": f"effnet_{size}_tf"}
    tf_name = f"tf_{backbone}"
    if timm.is_model(tf_name):
        names = {"timm": backbone, "timm_tf": tf_name, **{k: v for k, v in names.items() if k != "timm"}}
    return names


def create(name: str) -> nn.Module:
    if name.startswith("effnet_"):
        return bve.create_model(name, num_classes=3)
    return timm.create_model(name, num_classes=3)


def selected(name: str, patterns: Sequence[str] | None) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(name, p) for p in patterns)


# -- timing ---------------------------------------------------------------------------------------
class Clock:
    """Wall time of a block: CUDA events (plus synchronisation) on CUDA, perf_counter on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn: Callable[..., Any], *args: Any) -> float:
        """Seconds taken by ``fn(*args)``, all queued device work included."""
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn(*args)
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end)) / 1e3
        t0 = time.perf_counter()
        fn(*args)
        return time.perf_counter() - t0


def rotations(items: list[Entry], rounds: int) -> Iterator[list[Entry]]:
    """Round-robin order for each round, starting one model later every round."""
    n = len(items)
    for r in range(rounds):
        k = r % n if n else 0
        yield items[k:] + items[:k]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (``q`` in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def error_text(exc: BaseException) -> str:
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    return f"{type(exc).__name__}: {first}"[:500]


# -- the run ----------------------------------------------------------------------------------------
class Runner:
    """Holds the settings, the clock, the time budget and the records of one run."""

    def __init__(self, args: argparse.Namespace, device: torch.device) -> None:
        self.args = args
        self.device = device
        self.clock = Clock(device)
        self.start = time.perf_counter()
        self.skipped: list[dict[str, Any]] = []
        self.failures: list[dict[str, Any]] = []
        self.inject = {tuple(s.split(":", 1)) for s in args.inject_failure}
        self.size: str | None = None  # the size being measured, added to every skipped/failed record

    # budget
    def elapsed(self) -> float:
        return time.perf_counter() - self.start

    def over_budget(self) -> bool:
        return self.args.time_budget is not None and self.elapsed() > self.args.time_budget

    def skip(self, where: dict[str, Any], reason: str) -> dict[str, Any]:
        self.skipped.append(
            {"size": self.size, **where, "reason": reason, "elapsed_s": round(self.elapsed(), 1)}
        )
        return {"status": "skipped", "reason": reason}

    def fail(self, where: dict[str, Any], exc: BaseException) -> dict[str, Any]:
        text = error_text(exc)
        self.failures.append({"size": self.size, **where, "error": text})
        if self.args.verbose:
            traceback.print_exception(exc)
        return {"status": "failed", "error": text}

    def budget_reason(self) -> str:
        return f"time budget of {self.args.time_budget:g} s spent"

    # inputs
    def input_pool(
        self, shape: tuple[int, int, int], batch: int, mode: Mode, seed: int
    ) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(seed * 1000 + batch)
        pool = []
        for _ in range(self.args.input_pool):
            x = torch.randn((batch, *shape), generator=gen).to(self.device)
            pool.append(x.contiguous(memory_format=torch.channels_last) if mode.channels_last else x)
        return pool

    def label_pool(self, batch: int) -> list[torch.Tensor]:
        gen = torch.Generator().manual_seed(batch)
        return [
            torch.randint(0, 3, (batch,), generator=gen).to(self.device) for _ in range(self.args.input_pool)
        ]

    # preparing a model for a mode
    def wrap(self, e: Entry, mode: Mode) -> Callable[[torch.Tensor], torch.Tensor]:
        if (e.name, mode.name) in self.inject:
            raise RuntimeError(f"injected failure for {e.name} in mode {mode.name} (--inject-failure)")
        if mode.compile is None:
            return e.module
        return cast(
            "Callable[[torch.Tensor], torch.Tensor]",
            torch.compile(e.module, mode=mode.compile, dynamic=False),
        )

    def inference_fn(self, e: Entry, mode: Mode) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model as run in ``mode``, wrapped once and reused by every phase of the mode."""
        if e.fn is None:  # not `or`: a compiled module's truth value calls len()
            e.fn = self.wrap(e, mode)
        return e.fn

    # phases
    def inference(
        self, entries: list[Entry], mode: Mode, shape: tuple[int, int, int], batch: int
    ) -> dict[str, dict[str, Any]]:
        """Throughput at one batch size, round-robin over ``entries``."""
        where = {"mode": mode.name, "phase": "inference", "batch_size": batch}
        out: dict[str, dict[str, Any]] = {}
        pool = self.input_pool(shape, batch, mode, self.args.seed)
        active = []
        with torch.inference_mode(), mode.autocast(self.device):
            for e in entries:
                e.rounds, e.first_call_s, e.iters = [], None, 1
                if self.over_budget():
                    out[e.name] = self.skip({**where, "model": e.name}, self.budget_reason())
                    continue
                try:
                    fn = self.inference_fn(e, mode)
                    e.first_call_s = self.clock.time(fn, pool[0])
                    warm = [self.clock.time(fn, pool[i % len(pool)]) for i in range(1, self.args.warmup)]
                    per_call = min(warm) if warm else e.first_call_s
                    e.iters = max(
                        1, min(self.args.max_iters, math.ceil(self.args.round_s / max(per_call, 1e-6)))
                    )
                    active.append(e)
                except Exception as exc:  # a failing mode is recorded, never fatal
                    out[e.name] = self.fail({**where, "model": e.name}, exc)
            for order in rotations(active, self.args.repeats):
                for e in order:
                    if e.name in out:
                        continue
                    fn, k = cast("Callable[[torch.Tensor], torch.Tensor]", e.fn), e.iters

                    def block(
                        fn: Callable[[torch.Tensor], torch.Tensor] = fn, k: int = k, e: Entry = e
                    ) -> None:
                        for _ in range(k):
                            e.calls += 1
                            fn(pool[e.calls % len(pool)])

                    try:
                        e.rounds.append(batch * k / self.clock.time(block))
                    except Exception as exc:
                        out[e.name] = self.fail({**where, "model": e.name}, exc)
        for e in active:
            if e.name not in out:
                out[e.name] = throughput_summary(e.rounds, e.iters, batch, e.first_call_s)
        return out

    def latency(
        self, entries: list[Entry], mode: Mode, shape: tuple[int, int, int]
    ) -> dict[str, dict[str, Any]]:
        """Batch-1 latency percentiles from individually timed calls, round-robin."""
        where = {"mode": mode.name, "phase": "latency", "batch_size": 1}
        out: dict[str, dict[str, Any]] = {}
        pool = self.input_pool(shape, 1, mode, self.args.seed + 1)
        per_round = max(1, math.ceil(self.args.latency_samples / self.args.repeats))
        active = []
        with torch.inference_mode(), mode.autocast(self.device):
            for e in entries:
                e.samples_ms = []
                if self.over_budget():
                    out[e.name] = self.skip({**where, "model": e.name}, self.budget_reason())
                    continue
                try:
                    fn = self.inference_fn(e, mode)
                    for i in range(max(1, self.args.warmup)):
                        self.clock.time(fn, pool[i % len(pool)])
                    active.append(e)
                except Exception as exc:
                    out[e.name] = self.fail({**where, "model": e.name}, exc)
            for order in rotations(active, self.args.repeats):
                for e in order:
                    if e.name in out:
                        continue
                    fn = cast("Callable[[torch.Tensor], torch.Tensor]", e.fn)
                    try:
                        for i in range(per_round):
                            x = pool[(len(e.samples_ms) + i) % len(pool)]
                            e.samples_ms.append(self.clock.time(fn, x) * 1e3)
                    except Exception as exc:
                        out[e.name] = self.fail({**where, "model": e.name}, exc)
        for e in active:
            if e.name not in out:
                s = e.samples_ms
                out[e.name] = {
                    "status": "ok",
                    "p50_ms": round(statistics.median(s), 3),
                    "p95_ms": round(percentile(s, 95), 3),
                    "mean_ms": round(statistics.fmean(s), 3),
                    "min_ms": round(min(s), 3),
                    "samples": len(s),
                }
        return out

    def train(
        self, entries: list[Entry], mode: Mode, shape: tuple[int, int, int]
    ) -> dict[str, dict[str, Any]]:
        """Training-step throughput (forward, loss, backward, AdamW step), round-robin."""
        batch = self.args.train_batch_size
        where = {"mode": mode.name, "phase": "train", "batch_size": batch}
        out: dict[str, dict[str, Any]] = {}
        if mode.compile == "reduce-overhead":
            reason = "CUDA graphs are measured for inference only"
            return {e.name: self.skip({**where, "model": e.name}, reason) for e in entries}
        pool = self.input_pool(shape, batch, mode, self.args.seed + 2)
        labels = self.label_pool(batch)
        steps: dict[str, Callable[[int], None]] = {}
        active = []
        for e in entries:
            e.rounds, e.first_call_s = [], None
            if self.over_budget():
                out[e.name] = self.skip({**where, "model": e.name}, self.budget_reason())
                continue
            try:
                steps[e.name] = self.make_step(e, mode, pool, labels)
                step = steps[e.name]
                e.first_call_s = self.clock.time(step, 0)
                warm = [self.clock.time(step, i) for i in range(1, self.args.train_warmup)]
                per_step = min(warm) if warm else e.first_call_s
                e.iters = max(1, min(self.args.max_iters, math.ceil(self.args.round_s / max(per_step, 1e-6))))
                active.append(e)
            except Exception as exc:
                out[e.name] = self.fail({**where, "model": e.name}, exc)
        for order in rotations(active, self.args.repeats):
            for e in order:
                if e.name in out:
                    continue
                step, k = steps[e.name], e.iters

                def block(step: Callable[[int], None] = step, k: int = k, e: Entry = e) -> None:
                    for _ in range(k):
                        e.calls += 1
                        step(e.calls)

                try:
                    e.rounds.append(batch * k / self.clock.time(block))
                except Exception as exc:
                    out[e.name] = self.fail({**where, "model": e.name}, exc)
        for e in active:
            if e.name not in out:
                out[e.name] = throughput_summary(e.rounds, e.iters, batch, e.first_call_s)
        for e in entries:
            e.train_step = steps.get(e.name) if e.name in active_names(active, out) else None
            e.module.eval()
            e.module.zero_grad(set_to_none=True)
        steps.clear()
        return out

    def make_step(
        self, e: Entry, mode: Mode, pool: list[torch.Tensor], labels: list[torch.Tensor]
    ) -> Callable[[int], None]:
        fn = self.wrap(e, mode)  # a separate compiled wrapper: the train graph differs from the eval one
        e.module.train()
        optimizer = torch.optim.AdamW(e.module.parameters(), lr=1e-5)
        scaler = torch.amp.GradScaler(self.device.type) if mode.precision == "fp16" else None
        autocast = mode.autocast

        def step(i: int) -> None:
            optimizer.zero_grad(set_to_none=True)
            with autocast(self.device):
                loss = nn.functional.cross_entropy(fn(pool[i % len(pool)]), labels[i % len(labels)])
            if scaler is not None:
                scaler.scale(loss).backward()
                scaler.step(optimizer)
                scaler.update()
            else:
                loss.backward()
                optimizer.step()

        return step

    def cuda_memory(
        self, entries: list[Entry], mode: Mode, shape: tuple[int, int, int], batch: int
    ) -> dict[str, dict[str, Any]]:
        """Peak CUDA memory of one inference batch and one training step, per model.

        Reuses the callables of the inference and training phases (no new compilation), so the
        optimiser state already exists: it is in ``peak_allocated_mb``, not in ``peak_over_start_mb``.
        """
        out: dict[str, dict[str, Any]] = {}
        x = self.input_pool(shape, batch, mode, self.args.seed)[0]
        for e in entries:
            where = {"mode": mode.name, "phase": "memory", "model": e.name}
            if self.over_budget():
                out[e.name] = self.skip(where, self.budget_reason())
                continue
            record: dict[str, Any] = {"status": "ok", "method": "torch.cuda.max_memory_allocated"}
            try:
                fn = e.fn if e.fn is not None else self.wrap(e, mode)
                record["inference"] = self.cuda_peak(batch, self.infer_once, fn, mode, x)
                if e.train_step is not None:
                    e.module.train()
                    record["train"] = self.cuda_peak(self.args.train_batch_size, e.train_step, 0)
                    e.train_step = None
                e.module.eval()
                e.module.zero_grad(set_to_none=True)
                out[e.name] = record
            except Exception as exc:
                out[e.name] = self.fail(where, exc)
        return out

    def infer_once(self, fn: Callable[[torch.Tensor], torch.Tensor], mode: Mode, x: torch.Tensor) -> None:
        with torch.inference_mode(), mode.autocast(self.device):
            fn(x)

    def cuda_peak(self, batch: int, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
        gc.collect()
        torch.cuda.synchronize()
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        before = torch.cuda.memory_allocated()
        fn(*args)
        torch.cuda.synchronize()
        peak = torch.cuda.max_memory_allocated()
        return {
            "batch_size": batch,
            "peak_allocated_mb": round(peak / MB, 1),
            "peak_over_start_mb": round((peak - before) / MB, 1),
        }


def active_names(active: list[Entry], out: dict[str, Any]) -> set[str]:
    """Names of the models that went through a phase without failing."""
    return {e.name for e in active if e.name not in out or out[e.name].get("status") == "ok"}


def throughput_summary(
    rounds: list[float], iters: int, batch: int, first_call_s: float | None
) -> dict[str, Any]:
    median = statistics.median(rounds)
    record: dict[str, Any] = {
        "status": "ok",
        "batch_size": batch,
        "images_per_s": sig(median),
        "images_per_s_max": sig(max(rounds)),
        "images_per_s_min": sig(min(rounds)),
        "ms_per_batch": round(batch / median * 1e3, 3),
        "spread_max_over_median": round(max(rounds) / median, 3),
        "iters_per_round": iters,
        "rounds": [round(r, 3) for r in rounds],
    }
    if first_call_s is not None:
        record["first_call_s"] = round(first_call_s, 3)
        # what the first call took beyond a steady call: compilation, autotuning, lazy initialisation
        record["warmup_overhead_s"] = round(max(0.0, first_call_s - batch / median), 3)
    return record


# -- one size ---------------------------------------------------------------------------------------
def run_size(size: str, runner: Runner, modes: list[Mode]) -> dict[str, Any]:
    args, device = runner.args, runner.device
    runner.size = size
    names = {role: n for role, n in group_names(size).items() if selected(n, args.models)}
    result: dict[str, Any] = {"size": size, "models": {}, "modes": {}}
    if not names:
        result["note"] = "no model of this size matches --models"
        return result
    torch.manual_seed(args.seed)
    entries: list[Entry] = []
    for role, name in names.items():
        module = create(name).eval().to(device)
        entries.append(
            Entry(name=name, role=role, module=module, params=sum(p.numel() for p in module.parameters()))
        )
    effnet = next((e for e in entries if e.role in ("baseline", "transformer")), None)
    shape = native_size(effnet.module if effnet else bve.create_model(f"effnet_{size}", num_classes=3))
    result["input_size"] = list(shape)
    for e in entries:
        result["models"][e.name] = {"role": e.role, "params": e.params, "input_size": list(shape)}

    for mode in modes:
        where = {"size": size, "mode": mode.name}
        record: dict[str, Any] = {"inference": {}, "latency": {}, "train": {}, "memory": {}}
        result["modes"][mode.name] = record
        if mode.compile == "reduce-overhead" and device.type != "cuda":
            reason = "CUDA graphs need a CUDA device"
            for phase in ("latency", "train", "memory"):
                record[phase] = {e.name: {"status": "skipped", "reason": reason} for e in entries}
            record["inference"] = {str(b): dict(record["latency"]) for b in args.batch_sizes}
            runner.skip({**where, "phase": "all", "model": "all"}, reason)
            continue
        mode_entries = [e for e in entries if mode.eager or selected(e.name, args.compile_models)]
        left_out = [e for e in entries if e not in mode_entries]
        for e in left_out:
            runner.skip(
                {**where, "phase": "all", "model": e.name}, "not compiled in this run (--compile-models)"
            )
        if not mode_entries:
            continue
        if not mode.eager:
            torch._dynamo.reset()
        t0 = time.perf_counter()
        print(f"  {size} {mode.name}:", end="", flush=True)
        for e in mode_entries:
            e.fn = None  # one wrapper per model and mode: compiled graphs are cached per batch size
            # outside inference_mode, or the converted weights would be inference tensors (no training)
            e.module.to(memory_format=torch.channels_last if mode.channels_last else torch.contiguous_format)
        batch_sizes = (
            args.batch_sizes if mode.eager else [b for b in args.batch_sizes if b in args.compile_batch_sizes]
        )
        for batch in args.batch_sizes:
            if batch not in batch_sizes:
                reason = "compiled modes measured only at --compile-batch-sizes"
                record["inference"][str(batch)] = {
                    e.name: runner.skip(
                        {**where, "phase": "inference", "batch_size": batch, "model": e.name}, reason
                    )
                    for e in mode_entries
                }
                continue
            record["inference"][str(batch)] = runner.inference(mode_entries, mode, shape, batch)
            print(f" b{batch}", end="", flush=True)
        if args.latency_samples > 0 and (mode.eager or 1 in args.compile_batch_sizes):
            record["latency"] = runner.latency(mode_entries, mode, shape)
            print(" latency", end="", flush=True)
        elif args.latency_samples > 0:
            reason = "batch 1 not in --compile-batch-sizes"
            record["latency"] = {
                e.name: runner.skip({**where, "phase": "latency", "model": e.name}, reason)
                for e in mode_entries
            }
        if args.train and (args.train_modes is None or mode.name in args.train_modes):
            record["train"] = runner.train(mode_entries, mode, shape)
            print(" train", end="", flush=True)
        elif args.train:
            reason = "training not measured in this mode (--train-modes)"
            record["train"] = {
                e.name: runner.skip({**where, "phase": "train", "model": e.name}, reason)
                for e in mode_entries
            }
        if args.memory and device.type == "cuda" and batch_sizes:
            record["memory"] = runner.cuda_memory(mode_entries, mode, shape, max(batch_sizes))
        for e in mode_entries:
            e.fn, e.train_step = None, None
            e.module.to(memory_format=torch.contiguous_format)
        if not mode.eager:
            torch._dynamo.reset()
        not_compiled = {"status": "skipped", "reason": "not compiled in this run (--compile-models)"}
        for per_model in [
            *record["inference"].values(),
            record["latency"],
            record["train"],
            record["memory"],
        ]:
            per_model.update({e.name: dict(not_compiled) for e in left_out} if per_model else {})
        record["elapsed_s"] = round(time.perf_counter() - t0, 1)
        record["loadavg_at_end"] = load_average()  # other load on the machine slows a whole mode down
        print(f" ({record['elapsed_s']:.0f} s)", flush=True)

    if args.memory and device.type == "cpu":
        cpu_memory(size, [e.name for e in entries], shape, runner, modes, result)
    del entries
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()
    result["ratios"] = compute_ratios(result)
    result["best"] = best_modes(result, args.ref_batch)
    return result


def cpu_memory(
    size: str,
    names: list[str],
    shape: tuple[int, int, int],
    runner: Runner,
    modes: list[Mode],
    result: dict[str, Any],
) -> None:
    """Peak RSS per model and eager mode, measured in one fresh subprocess for the size."""
    args = runner.args
    left_out = [n for n in names if not selected(n, args.memory_models)]
    names = [n for n in names if n not in left_out]
    for mode in modes:
        if mode.compile != "reduce-overhead":
            reason = "memory not measured for this model (--memory-models)"
            result["modes"][mode.name]["memory"].update(
                {n: {"status": "skipped", "reason": reason} for n in left_out}
            )
    if not names:
        return
    measured = [m for m in modes if m.name in args.memory_modes and m.eager]
    for mode in modes:
        if mode.name not in [m.name for m in measured] and mode.compile != "reduce-overhead":
            reason = "CPU memory is measured only for the eager --memory-modes"
            result["modes"][mode.name]["memory"].update(
                {n: {"status": "skipped", "reason": reason} for n in names}
            )
    if not measured:
        return
    if runner.over_budget():
        for mode in measured:
            result["modes"][mode.name]["memory"].update(
                {
                    n: runner.skip(
                        {"size": size, "mode": mode.name, "phase": "memory", "model": n},
                        runner.budget_reason(),
                    )
                    for n in names
                }
            )
        return
    spec = {
        "models": names,
        "modes": [m.name for m in measured],
        "shape": list(shape),
        "batch_size": max(args.batch_sizes),
        "train_batch_size": args.train_batch_size if args.train else 0,
        "threads": torch.get_num_threads(),
        "seed": args.seed,
        "inject": sorted(f"{a}:{b}" for a, b in runner.inject),
    }
    timeout = None if args.time_budget is None else max(120.0, args.time_budget - runner.elapsed() + 60)
    # glibc returns every allocation of 64 KiB or more to the OS when freed (no dynamic threshold), so the
    # resident size follows live memory and each phase's peak is not hidden by an earlier phase's heap
    env = {**os.environ, "MALLOC_MMAP_THRESHOLD_": "65536", "MALLOC_TRIM_THRESHOLD_": "0"}
    print(f"  {size} memory (subprocess):", end="", flush=True)
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--memory-worker", json.dumps(spec)],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            env=env,
        )
        lines = [ln for ln in proc.stdout.splitlines() if ln.startswith("{")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"memory worker exited {proc.returncode}: {proc.stderr.strip()[-300:]}")
        report = json.loads(lines[-1])
    except subprocess.TimeoutExpired as exc:
        for mode in measured:
            result["modes"][mode.name]["memory"].update(
                {
                    n: runner.fail(
                        {"size": size, "mode": mode.name, "phase": "memory", "model": n},
                        TimeoutError(f"memory worker still running after {exc.timeout:.0f} s"),
                    )
                    for n in names
                }
            )
        print(" timed out", flush=True)
        return
    except Exception as exc:
        for mode in measured:
            result["modes"][mode.name]["memory"] = {
                n: runner.fail({"size": size, "mode": mode.name, "phase": "memory", "model": n}, exc)
                for n in names
            }
        print(" failed", flush=True)
        return
    for mode in measured:
        per_model = report["results"].get(mode.name, {})
        for n in names:
            rec = per_model.get(n, {"status": "failed", "error": "no result from the memory worker"})
            if rec.get("status") == "failed":
                runner.failures.append(
                    {"size": size, "mode": mode.name, "phase": "memory", "model": n, "error": rec["error"]}
                )
            result["modes"][mode.name]["memory"][n] = rec
    print(f" ({time.perf_counter() - t0:.0f} s)", flush=True)


def current_rss_kb() -> int | None:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def peak_rss_kb() -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    import resource

    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(maxrss // 1024 if sys.platform == "darwin" else maxrss)  # bytes on macOS, KiB elsewhere


def reset_peak_rss() -> bool:
    """Reset the kernel's peak-RSS counter (Linux >= 4.0); False where that is not possible."""
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_phase(fn: Callable[..., Any], batch: int, can_reset: bool, *args: Any) -> dict[str, Any]:
    """Peak RSS while ``fn(*args)`` runs, absolute and over the RSS just before (MB)."""
    gc.collect()
    before = current_rss_kb() if can_reset else None
    reset_peak_rss()
    base = before if before is not None else peak_rss_kb()
    fn(*args)
    peak = peak_rss_kb()
    return {
        "batch_size": batch,
        "peak_rss_mb": round(peak / 1024, 1),
        "peak_over_start_mb": round((peak - base) / 1024, 1),
    }


def cpu_infer(model: nn.Module, x: torch.Tensor, mode: Mode) -> None:
    with torch.inference_mode(), mode.autocast(torch.device("cpu")):
        model(x)


def cpu_train_step(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, mode: Mode
) -> None:
    opt.zero_grad(set_to_none=True)
    with mode.autocast(torch.device("cpu")):
        loss = nn.functional.cross_entropy(model(x), y)
    loss.backward()
    opt.step()


def memory_worker(spec: dict[str, Any]) -> dict[str, Any]:
    """Run in a fresh subprocess: peak RSS of one inference batch and one training step per model/mode.

    A discarded warm-up run of the first model per mode comes first, so one-time library initialisation
    (thread pools, oneDNN kernels) is not charged to whichever model happens to be first. Each measured
    phase is the model's first call of its kind, so its AdamW state is included.
    """
    torch.set_num_threads(int(spec["threads"]))
    gc.freeze()  # the objects of the imports are never garbage: keeps each gc.collect() fast
    shape = tuple(spec["shape"])
    inject = {tuple(s.split(":", 1)) for s in spec.get("inject", [])}
    gen = torch.Generator().manual_seed(int(spec["seed"]))
    batch, train_batch = int(spec["batch_size"]), int(spec["train_batch_size"])
    results: dict[str, dict[str, Any]] = {}
    can_reset = reset_peak_rss()
    method = (
        "peak RSS (VmHWM, reset via /proc/self/clear_refs before each phase) minus RSS just before; "
        "fresh subprocess, MALLOC_MMAP_THRESHOLD_=65536"
        if can_reset
        else "ru_maxrss after the phase minus ru_maxrss before (it never decreases), fresh subprocess"
    )
    for mode_name in spec["modes"]:
        mode = Mode.parse(mode_name)
        fmt = torch.channels_last if mode.channels_last else torch.contiguous_format
        results[mode_name] = {}
        for warmup, name in [(True, spec["models"][0]), *((False, n) for n in spec["models"])]:
            try:
                if (name, mode_name) in inject:
                    raise RuntimeError(f"injected failure for {name} in mode {mode_name} (--inject-failure)")
                torch.manual_seed(int(spec["seed"]))
                model = create(name).eval().to(memory_format=fmt)
                x = torch.randn((batch, *shape), generator=gen).contiguous(memory_format=fmt)
                record: dict[str, Any] = {"status": "ok", "method": method}
                record["inference"] = rss_phase(cpu_infer, batch, can_reset, model, x, mode)
                if train_batch:
                    xt = torch.randn((train_batch, *shape), generator=gen).contiguous(memory_format=fmt)
                    yt = torch.randint(0, 3, (train_batch,), generator=gen)
                    opt = torch.optim.AdamW(model.train().parameters(), lr=1e-5)
                    record["train"] = rss_phase(
                        cpu_train_step, train_batch, can_reset, model, opt, xt, yt, mode
                    )
                    del opt, xt, yt
                if not warmup:
                    results[mode_name][name] = record
                del model, x
            except Exception as exc:
                if not warmup:
                    results[mode_name][name] = {"status": "failed", "error": error_text(exc)}
            gc.collect()
    return {"results": results}


# -- ratios, best modes, targets ------------------------------------------------------------------------
def ratio_pairs(models: dict[str, Any]) -> list[tuple[str, str]]:
    roles = {info["role"]: name for name, info in models.items()}
    pairs = []
    for num in ("baseline", "transformer"):
        for den in ("timm", "timm_tf"):
            if num in roles and den in roles:
                pairs.append((roles[num], roles[den]))
    return pairs


def sig(value: float, digits: int = 6) -> float:
    """``value`` to ``digits`` significant digits: the same relative precision for 0.5 and 5000 img/s."""
    return float(f"{value:.{digits}g}")


def ratio(num: float, den: float) -> float:
    """``num / den`` to 5 significant digits (plain rounding would flatten a small ratio)."""
    return sig(num / den, 5)


def ips(record: dict[str, Any] | None) -> float | None:
    if record and record.get("status") == "ok":
        return float(record["images_per_s"])
    return None


def compute_ratios(result: dict[str, Any]) -> dict[str, Any]:
    """Throughput ratios ``effnet / timm`` per mode and batch size (and for training)."""
    pairs = ratio_pairs(result["models"])
    ratios: dict[str, Any] = {}
    for mode, record in result["modes"].items():
        per_mode: dict[str, Any] = {}
        for batch, per_model in record["inference"].items():
            per_mode[batch] = {
                f"{n}/{d}": ratio(a, b)
                for n, d in pairs
                if (a := ips(per_model.get(n))) is not None and (b := ips(per_model.get(d))) is not None
            }
        train = record["train"]
        per_mode["train"] = {
            f"{n}/{d}": ratio(a, b)
            for n, d in pairs
            if (a := ips(train.get(n))) is not None and (b := ips(train.get(d))) is not None
        }
        ratios[mode] = per_mode
    return ratios


def best_modes(result: dict[str, Any], ref_batch: int) -> dict[str, Any]:
    """Per model: the mode with the highest inference throughput at ``ref_batch``, and eager fp32."""
    best: dict[str, Any] = {}
    key = str(ref_batch)
    for name in result["models"]:
        candidates = {
            mode: v
            for mode, record in result["modes"].items()
            if (v := ips(record["inference"].get(key, {}).get(name))) is not None
        }
        if not candidates:
            continue
        mode = max(candidates, key=lambda m: candidates[m])
        entry: dict[str, Any] = {"batch_size": ref_batch, "mode": mode, "images_per_s": candidates[mode]}
        if "fp32" in candidates:
            entry["fp32_images_per_s"] = candidates["fp32"]
            entry["speedup_over_fp32"] = ratio(candidates[mode], candidates["fp32"])
        entry["modes_compared"] = sorted(candidates, key=lambda m: -candidates[m])
        best[name] = entry
    pairs = ratio_pairs(result["models"])
    best_ratios = {
        f"{n}/{d}": ratio(best[n]["images_per_s"], best[d]["images_per_s"])
        for n, d in pairs
        if n in best and d in best
    }
    return {"by_model": best, "ratios": best_ratios}


def targets_block(results: list[dict[str, Any]], device: torch.device, ref_batch: int) -> dict[str, Any]:
    items = []
    for r in results:
        roles = {info["role"]: n for n, info in r["models"].items()}
        best = r.get("best", {}).get("by_model", {})
        tf, ref = roles.get("transformer"), roles.get("timm")
        if tf is None or ref is None or tf not in best or ref not in best:
            continue
        r_best = ratio(best[tf]["images_per_s"], best[ref]["images_per_s"])
        item = {
            "size": r["size"],
            "model": tf,
            "best_mode": best[tf]["mode"],
            "images_per_s": best[tf]["images_per_s"],
            "timm_model": ref,
            "timm_best_mode": best[ref]["mode"],
            "timm_images_per_s": best[ref]["images_per_s"],
            "ratio": r_best,
            "met": r_best >= TARGET_RATIO,
        }
        tf_ref = roles.get("timm_tf")
        if tf_ref in best:
            item["tf_efficientnet_model"] = tf_ref
            item["tf_efficientnet_best_mode"] = best[tf_ref]["mode"]
            item["ratio_vs_tf_efficientnet"] = ratio(best[tf]["images_per_s"], best[tf_ref]["images_per_s"])
        items.append(item)
    block: dict[str, Any] = {
        "definition": (
            f"inference throughput of each effnet_bX_tf in its best mode >= {TARGET_RATIO:.2f} x that of "
            "timm "
            f"efficientnet_bX in its best mode, batch {ref_batch}, same run, same input size"
        ),
        "device": device.type,
        "batch_size": ref_batch,
        "threshold": TARGET_RATIO,
        "items": items,
        "met": all(i["met"] for i in items) if items else None,
    }
    not_met = [f"{i['model']} x{i['ratio']:.3f}" for i in items if not i["met"]]
    if not_met:
        block["not_met"] = not_met
    for r in results:
        best = r.get("best", {}).get("by_model", {}).get(FASTEST_MODE_MODEL)
        if best:
            block["fastest_mode_" + FASTEST_MODE_MODEL] = {
                "model": FASTEST_MODE_MODEL,
                "batch_size": best["batch_size"],
                "mode": best["mode"],
                "images_per_s": best["images_per_s"],
                "fp32_images_per_s": best.get("fp32_images_per_s"),
                "speedup_over_fp32": best.get("speedup_over_fp32"),
                "modes_compared": best["modes_compared"],
            }
    if device.type != "cpu":
        block["note"] = "the issue states the target for CPU; this run is on " + device.type
    return block


# -- ONNX / TorchScript -----------------------------------------------------------------------------
def run_exports(runner: Runner, size: str) -> list[dict[str, Any]]:
    """Exports, parity and ONNX Runtime timing for the ``--onnx-models`` of one size."""
    args = runner.args
    names = [
        n for n in group_names(size).values() if selected(n, args.models) and selected(n, args.onnx_models)
    ]
    return [export_one(name, runner) for name in names]


def export_one(name: str, runner: Runner) -> dict[str, Any]:
    from brainvit_effnet.export import export_onnx, export_torchscript, parity_on_sample, sample_images

    args = runner.args
    where = {"model": name, "phase": "export"}
    record: dict[str, Any] = {"model": name}
    if runner.over_budget():
        record.update(runner.skip(where, runner.budget_reason()))
        return record
    print(f"  export {name}:", end="", flush=True)
    torch.manual_seed(args.seed)
    model = create(name).eval()
    shape = native_size(model) if hasattr(model, "pretrained_cfg") else None
    images = sample_images(model, args.parity_images) if args.parity_images > 0 else None
    with tempfile.TemporaryDirectory() as tmp:
        # TorchScript: parity only (needs nothing beyond torch)
        try:
            t0 = time.perf_counter()
            ts_path = export_torchscript(model, Path(tmp) / "model.pt")
            record["torchscript"] = {"status": "ok", "export_s": round(time.perf_counter() - t0, 2)}
            if images is not None:
                record["torchscript"]["parity"] = parity_on_sample(model, ts_path, images=images).to_dict()
                record["torchscript"]["parity"]["source"] = "bundled Figshare sample (real MRI slices)"
        except Exception as exc:
            record["torchscript"] = runner.fail({**where, "format": "torchscript"}, exc)
        missing = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            reason = f"not installed: {', '.join(missing)} (pip install 'brainvit-effnet[onnx]')"
            record["onnx"] = runner.skip({**where, "format": "onnx"}, reason)
            print(" onnx skipped", flush=True)
            return record
        import onnxruntime as ort

        try:
            t0 = time.perf_counter()
            onnx_path = export_onnx(model, Path(tmp) / "model.onnx")
            onnx_rec: dict[str, Any] = {
                "status": "ok",
                "export_s": round(time.perf_counter() - t0, 2),
                "onnxruntime": ort.__version__,
                "file_mb": round(onnx_path.stat().st_size / MB, 2),
            }
            if images is not None:
                onnx_rec["parity"] = parity_on_sample(model, onnx_path, images=images).to_dict()
                onnx_rec["parity"]["source"] = "bundled Figshare sample (real MRI slices)"
            record["onnx"] = onnx_rec
            print(" exported", end="", flush=True)
            onnx_rec["throughput"] = ort_vs_eager(model, onnx_path, shape, runner)
        except Exception as exc:
            record["onnx"] = runner.fail({**where, "format": "onnx"}, exc)
    print(flush=True)
    return record


def ort_vs_eager(
    model: nn.Module, path: Path, shape: tuple[int, int, int] | None, runner: Runner
) -> dict[str, Any]:
    """ONNX Runtime (CPU provider) against eager torch on CPU (fp32, and fp32 channels_last), round-robin.

    The headline ratio is ONNX Runtime over eager fp32 (NCHW) torch; channels_last is timed alongside
    because on CPU it is where most of ONNX Runtime's advantage comes from (its convolutions pick a
    blocked layout themselves).
    """
    import copy

    import onnxruntime as ort

    args = runner.args
    if shape is None:
        raise ValueError("model has no pretrained_cfg input size")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # ORT's pool busy-waits after each run by default, which would steal the cores from the torch calls
    # interleaved with it; without spinning both get the machine to themselves in turn
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    clock = Clock(torch.device("cpu"))
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    out: dict[str, Any] = {
        "provider": "CPUExecutionProvider",
        "intra_op_num_threads": options.intra_op_num_threads,
        "allow_spinning": False,
        "against": "eager fp32 torch on CPU (NCHW, and channels_last), same threads, round-robin",
    }
    calls = {"onnxruntime": 0, "torch_eager_fp32": 0, "torch_eager_channels_last": 0}  # rotate inputs
    for batch in args.batch_sizes:
        if runner.over_budget():
            out[str(batch)] = runner.skip(
                {"model": "onnx", "phase": "ort", "batch_size": batch}, runner.budget_reason()
            )
            continue
        gen = torch.Generator().manual_seed(batch)
        pool = [torch.randn((batch, *shape), generator=gen) for _ in range(args.input_pool)]
        arrays = [x.numpy() for x in pool]
        pool_cl = [x.contiguous(memory_format=torch.channels_last) for x in pool]

        def run_ort(k: int, arrays: list[Any] = arrays) -> None:
            for _ in range(k):
                calls["onnxruntime"] += 1
                session.run(None, {name: arrays[calls["onnxruntime"] % len(arrays)]})

        def run_torch(k: int, pool: list[torch.Tensor] = pool) -> None:
            with torch.inference_mode():
                for _ in range(k):
                    calls["torch_eager_fp32"] += 1
                    model(pool[calls["torch_eager_fp32"] % len(pool)])

        def run_torch_cl(k: int, pool: list[torch.Tensor] = pool_cl) -> None:
            with torch.inference_mode():
                for _ in range(k):
                    calls["torch_eager_channels_last"] += 1
                    nhwc(pool[calls["torch_eager_channels_last"] % len(pool)])

        fns = {
            "onnxruntime": run_ort,
            "torch_eager_fp32": run_torch,
            "torch_eager_channels_last": run_torch_cl,
        }
        iters: dict[str, int] = {}
        for key, fn in fns.items():
            warm = [clock.time(fn, 1) for _ in range(max(2, args.warmup))]
            iters[key] = max(1, min(args.max_iters, math.ceil(args.round_s / max(min(warm[1:]), 1e-6))))
        rounds: dict[str, list[float]] = {k: [] for k in fns}
        keys = list(fns)
        for r in range(args.repeats):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                rounds[key].append(batch * iters[key] / clock.time(fns[key], iters[key]))
        med = {k: statistics.median(v) for k, v in rounds.items()}
        out[str(batch)] = {
            "status": "ok",
            "onnxruntime_images_per_s": sig(med["onnxruntime"]),
            "torch_eager_fp32_images_per_s": sig(med["torch_eager_fp32"]),
            "torch_eager_channels_last_images_per_s": sig(med["torch_eager_channels_last"]),
            "ratio_ort_vs_eager": ratio(med["onnxruntime"], med["torch_eager_fp32"]),
            "ratio_ort_vs_eager_channels_last": ratio(med["onnxruntime"], med["torch_eager_channels_last"]),
            "rounds": {k: [round(v, 3) for v in vs] for k, vs in rounds.items()},
        }
    return out


# -- command line -----------------------------------------------------------------------------------
def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description="Throughput, latency, training speed and memory of effnet_bX(_tf) against timm, in "
        "several "
        "execution modes, plus ONNX/TorchScript parity and ONNX Runtime speed (a benchmark, not a test).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    parser.add_argument(
        "--sizes", nargs="+", choices=SIZE_CHOICES, default=None, help="default: b0..b4 (quick: b2 b0)"
    )
    parser.add_argument("--models", nargs="+", default=None, help="keep only models matching these wildcards")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument(
        "--modes",
        nargs="+",
        default=None,
        help=f"default cpu: {' '.join(DEFAULT_MODES['cpu'])}; "
        f"cuda: {' '.join(DEFAULT_MODES['cuda'])}; quick: {' '.join(QUICK_MODES)}",
    )
    parser.add_argument(
        "--batch-sizes", nargs="+", type=int, default=None, help="default cpu 1 8, cuda 1 32 128"
    )
    parser.add_argument(
        "--ref-batch", type=int, default=None, help="batch size of best modes/targets (default: largest)"
    )
    parser.add_argument("--train-batch-size", type=int, default=None, help="default cpu 8, cuda 32")
    parser.add_argument(
        "--warmup", type=int, default=None, help="untimed calls per model (default cpu 2, cuda 5)"
    )
    parser.add_argument(
        "--train-warmup", type=int, default=None, help="untimed training steps per model (default 2, quick 1)"
    )
    parser.add_argument(
        "--repeats", type=int, default=None, help="timed round-robin rounds (default 5, quick 3)"
    )
    parser.add_argument("--round-s", type=float, default=None, help="target seconds per model per round")
    parser.add_argument("--max-iters", type=int, default=200, help="cap on calls per model per round")
    parser.add_argument("--latency-samples", type=int, default=None, help="batch-1 latency samples (0: skip)")
    parser.add_argument(
        "--input-pool", type=int, default=4, help="different input tensors cycled per batch size"
    )
    parser.add_argument(
        "--train", action=argparse.BooleanOptionalAction, default=True, help="measure training steps"
    )
    parser.add_argument(
        "--memory", action=argparse.BooleanOptionalAction, default=True, help="measure peak memory"
    )
    parser.add_argument(
        "--memory-modes", nargs="+", default=["fp32"], help="eager modes whose CPU memory is measured"
    )
    parser.add_argument(
        "--memory-models",
        nargs="+",
        default=None,
        help=f"models whose CPU memory is measured (default: all; quick: {' '.join(QUICK_COMPILE_MODELS)})",
    )
    parser.add_argument(
        "--compile-models",
        nargs="+",
        default=None,
        help=f"compile only models matching these wildcards (quick: {' '.join(QUICK_COMPILE_MODELS)})",
    )
    parser.add_argument(
        "--compile-batch-sizes",
        nargs="+",
        type=int,
        default=None,
        help="batch sizes measured in compiled modes (default: all; quick: the largest)",
    )
    parser.add_argument(
        "--train-modes",
        nargs="+",
        default=None,
        help=f"modes whose training steps are measured (default: all; quick: {' '.join(QUICK_TRAIN_MODES)})",
    )
    parser.add_argument(
        "--onnx",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="ONNX/TorchScript export, parity on real images, ONNX Runtime vs eager",
    )
    parser.add_argument(
        "--onnx-models", nargs="+", default=None, help="default: effnet_*_tf (quick: effnet_b2_tf)"
    )
    parser.add_argument(
        "--parity-images", type=int, default=None, help="real sample images for parity (default 16, quick 8)"
    )
    parser.add_argument("--threads", type=int, default=None, help="torch.set_num_threads (default: torch's)")
    parser.add_argument(
        "--time-budget",
        type=float,
        default=None,
        help="seconds; work not started within it is skipped and recorded (quick default: 240)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="b2 then b0; modes fp32/channels_last/bf16/compile; inference at batch 8 (cuda 32) plus "
        "batch-1 latency; 3 repeats; training in fp32/channels_last; compile only effnet_b2_tf and "
        "efficientnet_b2; ONNX for effnet_b2_tf; time budget 240 s",
    )
    parser.add_argument(
        "--inject-failure",
        nargs="+",
        default=[],
        metavar="MODEL:MODE",
        help="make MODEL raise in MODE (exercises the failure path; for tests)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="JSON output (default: benchmarks/results/throughput_<device>[_quick].json)",
    )
    parser.add_argument(
        "--markdown", type=Path, default=None, help="Markdown output (default: --out with .md)"
    )
    parser.add_argument(
        "--heap",
        choices=("stable", "default"),
        default="stable",
        help="stable: on Linux/glibc, rerun the script with large-block mmap and heap trimming turned off, "
        "so eager CPU timings measure compute rather than page faults and do not depend on what ran "
        "before; default: glibc as it comes",
    )
    parser.add_argument("--verbose", action="store_true", help="print tracebacks of failing modes")
    parser.add_argument("--memory-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.memory_worker is not None:
        return args

    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda requested but torch.cuda.is_available() is False")
    cuda = args.device == "cuda"
    quick = args.quick

    def default(name: str, normal: Any, quick_value: Any) -> None:
        if getattr(args, name) is None:
            setattr(args, name, quick_value if quick else normal)

    default("sizes", list(ALL_SIZES), list(QUICK_SIZES))
    default("modes", DEFAULT_MODES[args.device], list(QUICK_MODES))
    default("batch_sizes", [1, 32, 128] if cuda else [1, 8], [32] if cuda else [8])
    default("train_batch_size", 32 if cuda else 8, 32 if cuda else 8)
    default("warmup", 5 if cuda else 2, 3 if cuda else 1)
    default("repeats", 5, 5)
    default("train_warmup", 2, 1)
    default("memory_models", None, list(QUICK_COMPILE_MODELS))
    default("round_s", 0.05 if cuda else 0.3, 0.03 if cuda else 0.2)
    default("latency_samples", 100 if cuda else 30, 30 if cuda else 10)
    default("compile_models", None, list(QUICK_COMPILE_MODELS))
    default("train_modes", None, list(QUICK_TRAIN_MODES))
    default("onnx_models", ["effnet_*_tf"], ["effnet_b2_tf"])
    default("parity_images", 16, 8)
    default("time_budget", None, 240.0)
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
        args.compile_batch_sizes = [max(args.batch_sizes)] if quick else list(args.batch_sizes)
    if args.ref_batch is None:
        args.ref_batch = max(args.batch_sizes)
    for name in ("train_batch_size", "repeats", "input_pool", "max_iters", "warmup"):
        if getattr(args, name) < 1:
            parser.error(f"--{name.replace('_', '-')} must be >= 1")
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
    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if args.out is None:
        args.out = RESULTS_DIR / f"throughput_{args.device}{'_quick' if quick else ''}.json"
    if args.markdown is None:
        args.markdown = args.out.with_suffix(".md")
    return args


def settings_of(args: argparse.Namespace, argv: Sequence[str] | None) -> dict[str, Any]:
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


def install_sigterm() -> None:
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
    os.execve(sys.executable, [sys.executable, str(Path(__file__).resolve()), *sys.argv[1:]], env)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    if args.memory_worker is not None:
        print(json.dumps(memory_worker(json.loads(args.memory_worker))))
        return 0
    stable_heap(args, argv)
    device = torch.device(args.device)
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

    from results_page import render_throughput

    markdown = render_throughput(payload, heading_level=2)
    args.markdown.parent.mkdir(parents=True, exist_ok=True)
    args.markdown.write_text(markdown, encoding="utf-8")
    print()
    print(markdown)
    print(f"wrote {args.out} and {args.markdown} in {runner.elapsed():.0f} s")
    return 0


def noisy(results: list[dict[str, Any]]) -> list[str]:
    flagged = []
    for r in results:
        for mode, record in r["modes"].items():
            for phase in ("inference", "train"):
                groups = record[phase].values() if phase == "inference" else [record[phase]]
                for per_model in groups:
                    for name, rec in per_model.items():
                        if (
                            isinstance(rec, dict)
                            and rec.get("status") == "ok"
                            and rec["spread_max_over_median"] > NOISY_SPREAD
                        ):
                            flagged.append(
                                f"{name} {mode} {phase} b{rec['batch_size']} "
                                f"(max/median x{rec['spread_max_over_median']:.2f})"
                            )
    return flagged


if __name__ == "__main__":
    sys.exit(main())
