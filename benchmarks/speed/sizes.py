"""One size group measured in every mode: the loop over modes and phases, then the derived blocks."""

from __future__ import annotations

import gc
import time
from typing import Any

import torch
from _common import load_average

import brainvit_effnet as bve

from .memory import cpu_memory
from .models import Entry, count_params, create, group_names, native_size, selected
from .modes import Mode
from .runner import Runner
from .summary import best_modes, compute_ratios


def run_size(size: str, runner: Runner, modes: list[Mode]) -> dict[str, Any]:
    """Build the models of ``size``, measure every mode and phase, add ratios and best modes."""
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
        entries.append(Entry(name=name, role=role, module=module, params=count_params(module)))
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
