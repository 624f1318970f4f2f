"""Benchmark: parameter counts and inference latency of the baseline and transformer EfficientNets.

Kept so that ``python benchmarks/bench_models.py ...`` runs as before: it is the ``models`` sub-command
of the throughput benchmark, ``python benchmarks/throughput.py models ...``, with the same options, the
same measurement and the same JSON (default ``benchmarks/results/models_<device>.json``). What it
measures and how: :mod:`speed.params_latency`.

Run (from the repository root)::

    python benchmarks/bench_models.py --device cpu                # B0-B4, ~minutes on a laptop CPU
    python benchmarks/bench_models.py --sizes b2 --device cpu     # just the size the target is about
    python benchmarks/bench_models.py --quick                     # smoke test: b0, 2 repeats
    python benchmarks/bench_models.py --sizes test --repeats 2    # tiny models, seconds
"""

from __future__ import annotations

import sys

from speed.params_latency import Bench, build_benches, main, parse_args, ratios, run_size, target_block

__all__ = ["Bench", "build_benches", "main", "parse_args", "ratios", "run_size", "target_block"]

if __name__ == "__main__":
    sys.exit(main())
