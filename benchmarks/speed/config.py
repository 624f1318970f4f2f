"""Constants of the throughput benchmark: sizes, default and quick settings, targets, paths."""

from __future__ import annotations

from pathlib import Path

import torch

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
# What the transformer head may cost over the baseline, eager fp32 at the reference batch, for B2 on CPU.
HEAD_COST_SIZE, HEAD_LATENCY_TARGET, HEAD_PARAM_TARGET = "b2", 1.10, 1.15
NOISY_SPREAD = 1.25  # warn when the fastest round beats the median round by more than this
BENCHMARKS_DIR = Path(__file__).resolve().parents[1]
RESULTS_DIR = BENCHMARKS_DIR / "results"
# the entry script: re-executed for --heap stable and run again as the CPU memory worker
SCRIPT = BENCHMARKS_DIR / "throughput.py"
MB = 1024 * 1024
# glibc tunables for --heap stable: no mmap for large blocks, never trim the heap
STABLE_HEAP_ENV: dict[str, str] = {
    "MALLOC_MMAP_THRESHOLD_": str(1 << 32),
    "MALLOC_TRIM_THRESHOLD_": str(1 << 36),
}
HEAP_MARKER = "BRAINVIT_BENCH_HEAP"
