"""Tutorial 7: measure the zoo against timm's EfficientNets, then render the results page.

Runs ``benchmarks/throughput.py`` on the tiny 64 px models (``effnet_test`` and ``effnet_test_tf``
against timm's ``test_efficientnet``) in two modes, in a few seconds on 2 CPU cores, and renders
the same Markdown the docs' results page is generated from. For the real numbers, run
``python benchmarks/throughput.py --quick --device cpu`` (B0 and B2, a few minutes) or without
``--quick`` (B0-B4, every CPU mode), and ``bash benchmarks/gpu.sh`` on a GPU machine.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

BENCHMARKS = Path(__file__).resolve().parents[1] / "benchmarks"  # scripts in the repository

with tempfile.TemporaryDirectory() as tmp:
    out = Path(tmp) / "throughput_cpu.json"
    command = [
        sys.executable, str(BENCHMARKS / "throughput.py"),
        "--sizes", "test", "--device", "cpu",
        "--modes", "fp32", "channels_last",   # add bf16, compile... for a real run
        "--batch-sizes", "8", "--repeats", "3", "--round-s", "0.05", "--latency-samples", "10",
        "--no-memory", "--no-onnx",           # both take a while; the real runs include them
        "--out", str(out),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, text=True)
    result = json.loads(out.read_text())

    print(f"measured on {result['machine']['device_name']}, torch {result['machine']['torch']}")
    for item in result["targets"]["items"]:
        print(
            f"{item['model']}: best mode {item['best_mode']} {item['images_per_s']:.0f} img/s, "
            f"{item['ratio']:.2f}x {item['timm_model']} in its best mode ({item['timm_best_mode']})"
        )

    # The docs page is rendered from the JSON files of a folder by the same function.
    spec = importlib.util.spec_from_file_location("results_page", BENCHMARKS / "results_page.py")
    assert spec is not None and spec.loader is not None
    results_page = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(results_page)
    page = results_page.render_results_page(Path(tmp))
    print(page.splitlines()[0], f"... ({len(page.splitlines())} lines of Markdown)")
