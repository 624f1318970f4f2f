"""Render the benchmark results (JSON files) as a Markdown page: generated, never hand-typed.

Imports only the standard library and ``speed/page.py`` (the throughput benchmark's own renderer, itself
standard library only): the documentation build (``docs/hooks/generated.py``) runs it inside mkdocs, where
torch need not be installed. :func:`render_results_page` renders every result file of a folder.

Files understood (others are listed by name):

* ``throughput_*.json`` (and ``gpu/*.json``) from ``throughput.py``: machine, settings, targets, the
  fastest mode of ``effnet_b2_tf``, per size throughput/latency/training/memory tables per mode with the
  ratios to timm, ONNX/TorchScript parity on real images and ONNX Runtime against eager torch, skipped and
  failed work, and the command that reproduces the run;
* ``loader_*.json``, ``trainer_*.json``, ``explain_*.json`` from the older scripts:
  a short summary table each.

Check the page from the repository root::

    python benchmarks/results_page.py                    # prints the page for benchmarks/results
    python benchmarks/results_page.py path/to/results    # another folder
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

# The throughput renderer lives with its benchmark in ``benchmarks/speed``; this file is also loaded by
# path (the docs hook, the tests), when ``benchmarks/`` is not yet importable.
if str(Path(__file__).resolve().parent) not in sys.path:
    sys.path.insert(0, str(Path(__file__).resolve().parent))

from speed.page import DASH, heading, num, ratio, render_throughput, table

__all__ = ["render_results_page", "render_throughput"]

GPU_HINT = (
    "Not measured yet: there is no CUDA result in `benchmarks/results/gpu/`. On a CUDA machine run "
    "`bash benchmarks/gpu.sh` (at most 8 minutes; it writes its JSON to `$OUT` or `benchmarks/results/gpu/`)."
)


# -- the older benchmark scripts ------------------------------------------------------------------
def _loader_md(d: dict[str, Any], h: int) -> list[str]:
    rows = [
        [k, num(v.get("img_per_s")), num(v.get("images")), num(v.get("seconds"))]
        for k, v in d.get("loader", {}).items()
        if isinstance(v, dict)
    ]
    tr = d.get("training", {})
    out = [table(["loader", "img/s", "images", "seconds"], rows), ""]
    if tr:
        out += [
            f"Training for comparison: {num(tr.get('img_per_s'))} img/s (batch {tr.get('batch_size')}).",
            "",
        ]
    t = d.get("targets", {})
    if t:
        out += ["Targets: " + ", ".join(f"{k} {num(v)}" for k, v in t.items()) + ".", ""]
    return out


def _trainer_md(d: dict[str, Any], h: int) -> list[str]:
    s = d.get("settings", {})

    def med(xs: Any) -> str:
        xs = sorted(xs or [])
        return num(xs[len(xs) // 2]) if xs else DASH

    rows = [
        ["bare training loop", med(d.get("bare_img_per_s")), DASH],
        ["Trainer", med(d.get("trainer_img_per_s")), ratio(d.get("median_ratio_trainer_vs_bare"))],
        [
            "Trainer epoch loop",
            med(d.get("trainer_epoch_loop_img_per_s")),
            ratio(d.get("median_ratio_trainer_epoch_loop_vs_bare")),
        ],
    ]
    return [
        f"{s.get('model')} at {s.get('size')} px, batch {s.get('batch_size')}:",
        "",
        table(["loop", "img/s (median)", "ratio to bare"], rows),
        "",
        f"Target met: {num(d.get('target_met'))}.",
        "",
    ]


def _explain_md(d: dict[str, Any], h: int) -> list[str]:
    s = d.get("settings", {})
    rows = [
        [
            k,
            ratio(v.get("ratio_median")),
            ratio(v.get("target")),
            "met" if v.get("target_met") else "not met",
        ]
        for k, v in d.get("ratios", {}).items()
    ]
    times = [
        [k, num(v.get("ms_median")), num(v.get("images_per_s"))] for k, v in d.get("results", {}).items()
    ]
    return [
        f"{s.get('model')}, batch {s.get('batch_size')}:",
        "",
        table(["method", "median ms", "img/s"], times),
        "",
        table(["ratio", "median", "target (≤)", ""], rows),
        "",
    ]


OLDER = {
    "loader": ("Data loading (`bench_loader.py`)", _loader_md),
    "trainer": ("Trainer overhead (`bench_trainer.py`)", _trainer_md),
    "explain": ("Explanation cost (`bench_explain.py`)", _explain_md),
}


def _load(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _machine_line(d: dict[str, Any]) -> str:
    m = d.get("machine", {})
    parts = [str(m.get(k)) for k in ("device_name", "platform") if m.get(k)]
    if m.get("cpu_count"):
        parts.append(f"{m['cpu_count']} CPU cores")
    if m.get("torch"):
        parts.append(f"torch {m['torch']}")
    if m.get("timestamp_utc"):
        parts.append(str(m["timestamp_utc"]))
    return "Machine: " + ", ".join(parts) + "." if parts else ""


def _throughput_files(results_dir: Path) -> list[tuple[Path, dict[str, Any]]]:
    paths = sorted(results_dir.glob("throughput_*.json"))
    gpu = results_dir / "gpu"
    if gpu.is_dir():
        paths += sorted(p for p in gpu.glob("*.json"))
    found = []
    for p in paths:
        d = _load(p)
        if d is not None and str(d.get("schema", "")).startswith("brainvit-effnet/throughput"):
            found.append((p, d))

    def key(item: tuple[Path, dict[str, Any]]) -> tuple[int, int, str]:
        p, d = item
        cuda = str(d.get("machine", {}).get("device", "")).startswith("cuda")
        return (int(cuda), int(bool(d.get("settings", {}).get("quick"))), p.name)

    return sorted(found, key=key)


def _relative(path: Path, results_dir: Path) -> str:
    """The file's name as the repository knows it (``benchmarks/results/...``) where that is where it is."""
    rel = path.relative_to(results_dir).as_posix()
    if results_dir.resolve().parts[-2:] == ("benchmarks", "results"):
        return f"benchmarks/results/{rel}"
    return rel


def render_results_page(results_dir: Path) -> str:
    """Markdown for every result file in ``results_dir`` (and its ``gpu/`` subfolder).

    Never raises for a missing folder or a malformed file: those are shown as such.
    """
    results_dir = Path(results_dir)
    out = [
        "<!-- generated from the JSON in benchmarks/results by benchmarks/results_page.py; do not edit -->",
        "",
        heading(2, "Throughput, latency, memory and export (`benchmarks/throughput.py`)"),
        "",
    ]
    files = _throughput_files(results_dir) if results_dir.is_dir() else []
    if not files:
        out += ["No throughput results yet: run `python benchmarks/throughput.py --quick --device cpu`.", ""]
    for path, data in files:
        try:
            body = render_throughput(data, heading_level=3)
        except Exception as exc:  # a malformed file must not break the docs build
            body = f"{heading(3, path.name)}\n\nCould not render `{path.name}`: {type(exc).__name__}: {exc}\n"
        out += [
            body,
            f"Source: `{_relative(path, results_dir)}`.",
            "",
        ]
    if not any(str(d.get("machine", {}).get("device", "")).startswith("cuda") for _, d in files):
        out += [heading(3, "GPU"), "", GPU_HINT, ""]

    older = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    older = [p for p in older if p.name.split("_", 1)[0] in OLDER]
    out += [heading(2, "Earlier benchmarks"), ""]
    if not older:
        out += ["No results of the older benchmark scripts.", ""]
    for path in older:
        title, render = OLDER[path.name.split("_", 1)[0]]
        data = _load(path)
        out += [heading(3, f"{title}: `{path.name}`"), ""]
        if data is None:
            out += ["Could not read this file.", ""]
            continue
        try:
            out += [_machine_line(data), "", *render(data, 4)]
        except Exception as exc:
            out += [f"Could not render: {type(exc).__name__}: {exc}", ""]
    return "\n".join(out).rstrip() + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    folder = Path(args[0]) if args else Path(__file__).resolve().parent / "results"
    sys.stdout.write(render_results_page(folder))
    return 0


if __name__ == "__main__":
    sys.exit(main())
