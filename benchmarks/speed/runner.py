"""The phases of one mode (inference, latency, training, CUDA memory), round-robin over the models."""

from __future__ import annotations

import argparse
import gc
import math
import statistics
import time
import traceback
from collections.abc import Callable
from typing import Any, cast

import torch
from torch import nn

from .config import MB
from .models import Entry
from .modes import Mode
from .timing import Clock, error_text, percentile, rotations, sig


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
        """Seconds since the run started."""
        return time.perf_counter() - self.start

    def over_budget(self) -> bool:
        """True once ``--time-budget`` is spent."""
        return self.args.time_budget is not None and self.elapsed() > self.args.time_budget

    def skip(self, where: dict[str, Any], reason: str) -> dict[str, Any]:
        """Record skipped work with its reason; returns the record for the JSON."""
        self.skipped.append(
            {"size": self.size, **where, "reason": reason, "elapsed_s": round(self.elapsed(), 1)}
        )
        return {"status": "skipped", "reason": reason}

    def fail(self, where: dict[str, Any], exc: BaseException) -> dict[str, Any]:
        """Record a failure with its error (traceback printed with ``--verbose``); returns its record."""
        text = error_text(exc)
        self.failures.append({"size": self.size, **where, "error": text})
        if self.args.verbose:
            traceback.print_exception(exc)
        return {"status": "failed", "error": text}

    def budget_reason(self) -> str:
        """The reason recorded for work the time budget left out."""
        return f"time budget of {self.args.time_budget:g} s spent"

    # inputs
    def input_pool(
        self, shape: tuple[int, int, int], batch: int, mode: Mode, seed: int
    ) -> list[torch.Tensor]:
        """``--input-pool`` different seeded random batches on the device, in the mode's memory format."""
        gen = torch.Generator().manual_seed(seed * 1000 + batch)
        pool = []
        for _ in range(self.args.input_pool):
            x = torch.randn((batch, *shape), generator=gen).to(self.device)
            pool.append(x.contiguous(memory_format=torch.channels_last) if mode.channels_last else x)
        return pool

    def label_pool(self, batch: int) -> list[torch.Tensor]:
        """Seeded random labels for the training steps, one tensor per pool entry."""
        gen = torch.Generator().manual_seed(batch)
        return [
            torch.randint(0, 3, (batch,), generator=gen).to(self.device) for _ in range(self.args.input_pool)
        ]

    # preparing a model for a mode
    def wrap(self, e: Entry, mode: Mode) -> Callable[[torch.Tensor], torch.Tensor]:
        """The model as called in ``mode``: itself when eager, else ``torch.compile`` of it."""
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

            def calls(e: Entry, k: int) -> Callable[[], None]:
                fn = cast("Callable[[torch.Tensor], torch.Tensor]", e.fn)

                def block() -> None:
                    for _ in range(k):
                        e.calls += 1
                        fn(pool[e.calls % len(pool)])

                return block

            self.timed_rounds(active, out, where, batch, calls)
        return out

    def timed_rounds(
        self,
        active: list[Entry],
        out: dict[str, dict[str, Any]],
        where: dict[str, Any],
        batch: int,
        calls: Callable[[Entry, int], Callable[[], None]],
    ) -> None:
        """``--repeats`` round-robin rounds; each times ``calls(e, e.iters)`` once per model, as img/s.

        ``calls`` builds the block outside the timed interval, so only the ``k`` calls are timed. A
        model that raises is recorded as failed in ``out``; the others get their throughput summary.
        """
        for order in rotations(active, self.args.repeats):
            for e in order:
                if e.name in out:
                    continue
                k = e.iters
                block = calls(e, k)
                try:
                    e.rounds.append(batch * k / self.clock.time(block))
                except Exception as exc:
                    out[e.name] = self.fail({**where, "model": e.name}, exc)
        for e in active:
            if e.name not in out:
                out[e.name] = throughput_summary(e.rounds, e.iters, batch, e.first_call_s)

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

        def calls(e: Entry, k: int) -> Callable[[], None]:
            step = steps[e.name]

            def block() -> None:
                for _ in range(k):
                    e.calls += 1
                    step(e.calls)

            return block

        self.timed_rounds(active, out, where, batch, calls)
        for e in entries:
            e.train_step = steps.get(e.name) if e.name in active_names(active, out) else None
            e.module.eval()
            e.module.zero_grad(set_to_none=True)
        steps.clear()
        return out

    def make_step(
        self, e: Entry, mode: Mode, pool: list[torch.Tensor], labels: list[torch.Tensor]
    ) -> Callable[[int], None]:
        """A training step (forward, cross-entropy, backward, AdamW) in ``mode``, by call index."""
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
        """One inference call in ``mode`` (a CUDA memory phase)."""
        with torch.inference_mode(), mode.autocast(self.device):
            fn(x)

    def cuda_peak(self, batch: int, fn: Callable[..., Any], *args: Any) -> dict[str, Any]:
        """Peak CUDA memory of ``fn(*args)``, absolute and over the allocation before (MB)."""
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
    """The JSON record of one timed phase: median, max and min img/s over the rounds, and the rounds."""
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
