"""benchmarks/throughput.py, benchmarks/gpu.sh and benchmarks/results_page.py on the tiny ``test`` models.

``throughput.py`` is the thin entry script of the package ``benchmarks/speed``;
their ``--help`` and the names importable from the scripts are checked too.

The benchmark runs as a subprocess, exactly as a user runs it, with minimal repeats: these tests check
what it records (schema, ratios derived from the measured numbers, failures recorded instead of fatal,
the time budget, the Markdown), not how fast anything is.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import platform
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from ._scripts import load_benchmark

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"
FAST = shlex.split(
    "--repeats 2 --round-s 0.001 --warmup 1 --train-warmup 1 --latency-samples 4 --input-pool 2"
)
RUN = shlex.split(
    "--device cpu --sizes test --modes fp32 channels_last cudagraphs --batch-sizes 1 2 --train-batch-size 2 "
    "--parity-images 2 --inject-failure effnet_test_tf:channels_last"
)


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(
        [sys.executable, str(BENCH / "throughput.py"), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        check=False,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return proc


@pytest.fixture(scope="module")
def run(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    """One benchmark run: fp32 and channels_last (failure injected for effnet_test_tf), CUDA graphs on CPU."""
    out = tmp_path_factory.mktemp("bench") / "throughput_cpu.json"
    _run([*RUN, *FAST, "--out", str(out)], cwd=out.parent)
    return json.loads(out.read_text()), out


@pytest.fixture(scope="module")
def results_page() -> ModuleType:
    spec = importlib.util.spec_from_file_location("results_page", BENCH / "results_page.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_json_schema(run: tuple[dict[str, Any], Path]) -> None:
    data, _ = run
    assert data["schema"] == "brainvit-effnet/throughput/1"
    assert data["complete"] is True and data["status"] == "complete"
    for key in ("device", "cpu_model", "torch", "timm", "torch_num_threads", "loadavg_at_start"):
        assert key in data["machine"]
    assert data["software"]["onnxruntime"] or data["software"]["onnxruntime"] is None
    assert data["settings"]["command"].startswith("python benchmarks/throughput.py --device cpu")
    if platform.libc_ver()[0] == "glibc":  # --heap stable re-executed the script with the tunables set
        assert data["settings"]["heap_env"]["MALLOC_TRIM_THRESHOLD_"] is not None
    (result,) = data["results"]
    assert result["size"] == "test" and result["input_size"] == [3, 64, 64]
    roles = {info["role"]: name for name, info in result["models"].items()}
    assert roles == {"timm": "test_efficientnet", "baseline": "effnet_test", "transformer": "effnet_test_tf"}
    fp32 = result["modes"]["fp32"]
    for name in roles.values():
        for batch in ("1", "2"):
            rec = fp32["inference"][batch][name]
            assert rec["status"] == "ok" and rec["images_per_s"] > 0 and len(rec["rounds"]) == 2
            assert rec["first_call_s"] >= 0
        lat = fp32["latency"][name]
        assert lat["samples"] == 4 and 0 < lat["p50_ms"] <= lat["p95_ms"]
        assert fp32["train"][name]["status"] == "ok" and fp32["train"][name]["batch_size"] == 2
        mem = fp32["memory"][name]
        assert mem["status"] == "ok", mem
        assert mem["inference"]["batch_size"] == 2 and mem["train"]["peak_over_start_mb"] >= 0
    assert result["modes"]["channels_last"]["memory"]["effnet_test"]["status"] == "skipped"
    best = result["best"]["by_model"]["effnet_test_tf"]
    assert best["mode"] == "fp32" and best["batch_size"] == 2  # channels_last failed for it


def test_ratios_come_from_the_measured_numbers(run: tuple[dict[str, Any], Path]) -> None:
    data, _ = run
    (result,) = data["results"]
    checked = 0
    for mode, per_mode in result["ratios"].items():
        for batch, pairs in per_mode.items():
            phase = (
                result["modes"][mode]["train"]
                if batch == "train"
                else result["modes"][mode]["inference"][batch]
            )
            for pair, ratio in pairs.items():
                num, den = pair.split("/")
                expected = phase[num]["images_per_s"] / phase[den]["images_per_s"]
                assert ratio == pytest.approx(expected, rel=2e-4)
                checked += 1
    assert checked >= 6
    assert "effnet_test_tf/test_efficientnet" not in result["ratios"]["channels_last"]["2"]  # it failed
    by_model = result["best"]["by_model"]
    assert result["best"]["ratios"]["effnet_test_tf/test_efficientnet"] == pytest.approx(
        by_model["effnet_test_tf"]["images_per_s"] / by_model["test_efficientnet"]["images_per_s"], rel=2e-4
    )
    (item,) = data["targets"]["items"]
    assert item["model"] == "effnet_test_tf" and item["timm_model"] == "test_efficientnet"
    assert item["ratio"] == pytest.approx(item["images_per_s"] / item["timm_images_per_s"], rel=2e-4)
    assert item["met"] is (item["ratio"] >= data["targets"]["threshold"])
    assert data["targets"]["met"] is item["met"]
    # what the head costs: parameters, and eager fp32 latency (the inverse throughput ratio)
    cost = data["targets"]["head_cost"]
    (row,) = cost["items"]
    fp32 = result["modes"]["fp32"]["inference"][str(cost["batch_size"])]
    params = {name: info["params"] for name, info in result["models"].items()}
    assert cost["mode"] == "fp32" and row["size"] == "test"
    assert row["param_ratio_tf_vs_baseline"] == pytest.approx(
        params["effnet_test_tf"] / params["effnet_test"], rel=2e-4
    )
    assert row["latency_ratio_tf_vs_baseline"] == pytest.approx(
        fp32["effnet_test"]["images_per_s"] / fp32["effnet_test_tf"]["images_per_s"], rel=2e-4
    )
    assert cost["target"] is None  # the target is about B2, which this run did not measure


def test_failing_and_inapplicable_modes_are_recorded(run: tuple[dict[str, Any], Path]) -> None:
    data, _ = run
    (result,) = data["results"]
    channels_last = result["modes"]["channels_last"]
    failed = channels_last["inference"]["2"]["effnet_test_tf"]
    assert failed["status"] == "failed" and "injected failure" in failed["error"]
    assert channels_last["inference"]["2"]["effnet_test"]["status"] == "ok"  # the others still measured
    assert channels_last["train"]["effnet_test_tf"]["status"] == "failed"
    assert {(f["model"], f["mode"]) for f in data["failures"]} == {("effnet_test_tf", "channels_last")}
    graphs = result["modes"]["cudagraphs"]["inference"]["1"]["effnet_test"]
    assert graphs == {"status": "skipped", "reason": "CUDA graphs need a CUDA device"}
    assert any(s["reason"] == "CUDA graphs need a CUDA device" for s in data["skipped"])


def test_exports_record_parity_on_real_images(run: tuple[dict[str, Any], Path]) -> None:
    data, _ = run
    (record,) = data["onnx"]
    assert record["model"] == "effnet_test_tf"
    ts = record["torchscript"]["parity"]
    assert ts["n_images"] == 2 and ts["max_abs_diff"] < 1e-4 and "Figshare" in ts["source"]
    if record["onnx"]["status"] == "skipped":
        assert "not installed" in record["onnx"]["reason"]
        return
    onnx = record["onnx"]
    assert onnx["parity"]["max_abs_diff"] < 1e-4
    ort = onnx["throughput"]["2"]
    assert ort["ratio_ort_vs_eager"] == pytest.approx(
        ort["onnxruntime_images_per_s"] / ort["torch_eager_fp32_images_per_s"], rel=2e-4
    )


def test_markdown_written(run: tuple[dict[str, Any], Path]) -> None:
    _, out = run
    text = out.with_suffix(".md").read_text()
    for expected in (
        "## Throughput on",
        "### Targets",
        "### Size test",
        "effnet_test_tf",
        "failed",
        "### Reproduce",
    ):
        assert expected in text
    assert "python benchmarks/throughput.py --device cpu --sizes test" in text


def test_results_page_renders(
    run: tuple[dict[str, Any], Path], results_page: ModuleType, tmp_path: Path
) -> None:
    _, out = run
    folder = tmp_path / "results"
    folder.mkdir()
    shutil.copy(out, folder / out.name)
    (folder / "trainer_cpu.json").write_text(json.dumps({"results": [], "settings": {}}))
    (folder / "loader_cpu.json").write_text("{not json")
    page = results_page.render_results_page(folder)
    assert "effnet_test_tf" in page and "### Targets" in page and "Reproduce" in page
    assert "Not measured yet" in page  # no CUDA result
    assert "trainer_cpu.json" in page and "loader_cpu.json" in page and "Could not read this file" in page
    assert "What the transformer head costs" in page
    empty = results_page.render_results_page(tmp_path / "empty")
    assert "No throughput results yet" in empty and "Not measured yet" in empty
    repo_page = results_page.render_results_page(BENCH / "results")  # the committed results
    assert "Earlier benchmarks" in repo_page


@pytest.mark.parametrize("path", ["results_page.py", "speed/__init__.py", "speed/page.py"])
def test_results_page_imports_only_the_standard_library(path: str) -> None:
    tree = ast.parse((BENCH / path).read_text())
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name.split(".")[0]
        for node in ast.walk(tree)
        if isinstance(node, (ast.Import, ast.ImportFrom)) and not getattr(node, "level", 0)
        for alias in node.names
    }
    assert imported - {"__future__", "speed"} <= set(sys.stdlib_module_names)


def test_results_page_renders_where_torch_cannot_be_imported() -> None:
    """What the docs build does, in a process where importing torch, numpy or timm fails."""
    code = (
        "import runpy, sys; sys.modules.update(torch=None, numpy=None, timm=None); "
        f"sys.argv = ['results_page.py', {str(BENCH / 'results')!r}]; "
        f"runpy.run_path({str(BENCH / 'results_page.py')!r}, run_name='__main__')"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "### Targets" in proc.stdout and "Earlier benchmarks" in proc.stdout


@pytest.mark.parametrize(
    ("script", "expected"),
    [
        (["throughput.py"], ["--batch-sizes", "--inject-failure", "targets.head_cost"]),
    ],
)
def test_entry_scripts_help(script: list[str], expected: list[str]) -> None:
    proc = subprocess.run(
        [sys.executable, str(BENCH / script[0]), *script[1:], "--help"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    text = " ".join(proc.stdout.split())  # argparse wraps lines at the terminal width
    for option in expected:
        assert option in text


def test_entry_scripts_keep_their_names() -> None:
    """What used to be defined in the scripts is importable from them, and is the package's."""
    throughput = load_benchmark("throughput")
    from speed import cli, modes, summary

    assert throughput.parse_args is cli.parse_args and throughput.Mode is modes.Mode
    assert throughput.targets_block is summary.targets_block
    assert throughput.SCHEMA == "brainvit-effnet/throughput/1"
    for name in throughput.__all__:
        assert hasattr(throughput, name), name
    assert throughput.Mode.parse("channels_last+bf16").name == "bf16+channels_last"
    args = throughput.parse_args(["--device", "cpu", "--quick"])
    assert args.sizes == ["b2", "b0"] and args.batch_sizes == [8] and args.time_budget == 240.0
    assert args.compile_batch_sizes == [8] and args.out.name == "throughput_cpu_quick.json"


@pytest.mark.parametrize(
    "bad", [["--repeats", "0"], ["--ref-batch", "3", "--batch-sizes", "1", "2"], ["--modes", "fp16+bf16"]]
)
def test_throughput_rejects_bad_options(bad: list[str]) -> None:
    throughput = load_benchmark("throughput")
    with pytest.raises(SystemExit) as info:
        throughput.parse_args(["--device", "cpu", *bad])
    assert info.value.code == 2


needs_bash = pytest.mark.skipif(
    shutil.which("bash") is None or shutil.which("timeout") is None, reason="needs bash and timeout"
)


@needs_bash
def test_gpu_script_parses() -> None:
    subprocess.run(["bash", "-n", str(BENCH / "gpu.sh")], check=True)


@needs_bash
@pytest.mark.slow  # two benchmark processes: ~20 s on 2 cores
def test_gpu_script_dry_run_on_cpu(tmp_path: Path) -> None:
    """gpu.sh end to end with DEVICE=cpu: both runs write their JSON; a zero budget skips, recorded."""
    script = BENCH / "gpu.sh"
    env = {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "DEVICE": "cpu",
        "OUT": str(tmp_path),
        "SIZES": "test",
        "COMPILE_SIZE": "test",
        "BATCH_SIZES": "2",
        "COMPILE_BATCH_SIZES": "2",
        "TRAIN_BATCH": "2",
        "EAGER_MODES": "fp32",
        "COMPILE_MODES": "fp32 cudagraphs",
        "BUDGET_COMPILE": "0",
        "EXTRA_ARGS": "--no-train --no-memory --latency-samples 0 " + " ".join(FAST[:8]),
        "PYTHON": sys.executable,
    }
    proc = subprocess.run(
        ["bash", str(script)], env=env, capture_output=True, text=True, timeout=300, check=False
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "nvidia-smi" in (tmp_path / "nvidia-smi.txt").read_text()
    eager = json.loads((tmp_path / "throughput_cpu.json").read_text())
    assert (
        eager["complete"]
        and eager["results"][0]["modes"]["fp32"]["inference"]["2"]["effnet_test"]["status"] == "ok"
    )
    budget = json.loads((tmp_path / "throughput_cpu_compile.json").read_text())
    assert budget["complete"] and budget["skipped"]
    assert all("time budget" in s["reason"] or "CUDA graphs" in s["reason"] for s in budget["skipped"])
    assert set(budget["results"][0]["models"]) == {"effnet_test_tf", "test_efficientnet"}


@pytest.mark.slow  # torch.compile on CPU: about a minute with a cold inductor cache
def test_compiled_mode_at_two_batch_sizes(tmp_path: Path) -> None:
    out = tmp_path / "compile.json"
    args = "--device cpu --sizes test --models effnet_test_tf --modes compile --batch-sizes 1 2"
    _run([*shlex.split(args), "--no-memory", "--no-onnx", *FAST, "--out", str(out)], cwd=tmp_path)
    data = json.loads(out.read_text())
    assert data["failures"] == []
    record = data["results"][0]["modes"]["compile"]
    for batch in ("1", "2"):  # one compiled wrapper, one graph per batch size
        assert record["inference"][batch]["effnet_test_tf"]["status"] == "ok"
        assert record["inference"][batch]["effnet_test_tf"]["first_call_s"] > 0
    assert record["latency"]["effnet_test_tf"]["status"] == "ok"
    assert record["train"]["effnet_test_tf"]["status"] == "ok"
