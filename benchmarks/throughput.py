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

What the transformer head costs over the baseline, in parameters and in eager fp32 latency at the
reference batch, is the JSON's ``targets.head_cost`` (for B2 on CPU: at most 1.10x the latency and 1.15x
the parameters); ``--modes fp32 --batch-sizes 8`` measures just that.

The code lives in the package ``benchmarks/speed/``, one job per module (see its docstring); this
script only runs :func:`speed.run.main`. The names below stay importable from here as before.
"""

from __future__ import annotations

import sys

from speed.cli import parse_args, settings_of
from speed.config import (
    ALL_SIZES,
    DEFAULT_MODES,
    QUICK_MODES,
    QUICK_SIZES,
    RESULTS_DIR,
    SCHEMA,
    SIZE_CHOICES,
    TARGET_RATIO,
)
from speed.exports import run_exports
from speed.memory import memory_worker
from speed.models import Entry, create, group_names, native_size
from speed.modes import Mode
from speed.run import BudgetExceeded, main
from speed.runner import Runner
from speed.sizes import run_size
from speed.summary import best_modes, compute_ratios, noisy, targets_block
from speed.timing import Clock, percentile, rotations

__all__ = [
    "ALL_SIZES",
    "DEFAULT_MODES",
    "QUICK_MODES",
    "QUICK_SIZES",
    "RESULTS_DIR",
    "SCHEMA",
    "SIZE_CHOICES",
    "TARGET_RATIO",
    "BudgetExceeded",
    "Clock",
    "Entry",
    "Mode",
    "Runner",
    "best_modes",
    "compute_ratios",
    "create",
    "group_names",
    "main",
    "memory_worker",
    "native_size",
    "noisy",
    "parse_args",
    "percentile",
    "rotations",
    "run_exports",
    "run_size",
    "settings_of",
    "targets_block",
]

if __name__ == "__main__":
    sys.exit(main())
