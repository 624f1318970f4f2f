"""CPU peak memory: a fresh subprocess per size measures the resident set of each model and phase."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from .config import SCRIPT
from .models import create, selected
from .modes import Mode
from .runner import Runner
from .timing import error_text


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
            [sys.executable, str(SCRIPT), "--memory-worker", json.dumps(spec)],
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


def proc_status_kb(key: str) -> int | None:
    """A ``kB`` field of ``/proc/self/status`` (``VmRSS``, ``VmHWM``); ``None`` where there is none."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def current_rss_kb() -> int | None:
    """Resident set size now (Linux only)."""
    return proc_status_kb("VmRSS")


def peak_rss_kb() -> int:
    """Peak resident set size: ``VmHWM`` on Linux, else ``ru_maxrss``."""
    peak = proc_status_kb("VmHWM")
    if peak is not None:
        return peak
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
    """One inference batch on CPU in ``mode`` (a memory phase)."""
    with torch.inference_mode(), mode.autocast(torch.device("cpu")):
        model(x)


def cpu_train_step(
    model: nn.Module, opt: torch.optim.Optimizer, x: torch.Tensor, y: torch.Tensor, mode: Mode
) -> None:
    """One training step on CPU in ``mode`` (a memory phase)."""
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
