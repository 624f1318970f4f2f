"""Render the benchmark results (JSON files) as a Markdown page: generated, never hand-typed.

Imports only the standard library: the documentation build (``docs/hooks/generated.py``) runs it inside
mkdocs, where torch need not be installed. :func:`render_results_page` renders every result file of a
folder; ``benchmarks/throughput.py`` uses :func:`render_throughput` for the Markdown next to its JSON.

Files understood (others are listed by name):

* ``throughput_*.json`` (and ``gpu/*.json``) from ``throughput.py``: machine, settings, targets, the
  fastest mode of ``effnet_b2_tf``, per size throughput/latency/training/memory tables per mode with the
  ratios to timm, ONNX/TorchScript parity on real images and ONNX Runtime against eager torch, skipped and
  failed work, and the command that reproduces the run;
* ``models_*.json``, ``loader_*.json``, ``trainer_*.json``, ``explain_*.json`` from the older scripts:
  a short summary table each.

Check the page from the repository root::

    python benchmarks/results_page.py                    # prints the page for benchmarks/results
    python benchmarks/results_page.py path/to/results    # another folder
"""

from __future__ import annotations

import json
import sys
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["render_results_page", "render_throughput"]

DASH = "—"
GPU_HINT = (
    "Not measured yet: there is no CUDA result in `benchmarks/results/gpu/`. On a CUDA machine run "
    "`bash benchmarks/gpu.sh` (at most 8 minutes; it writes its JSON to `$OUT` or `benchmarks/results/gpu/`)."
)


# -- formatting helpers ---------------------------------------------------------------------------
def _num(value: Any, digits: int | None = None) -> str:
    if value is None:
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    if not isinstance(value, (int, float)):
        return str(value)
    if digits is not None:
        return f"{value:.{digits}f}"
    v = abs(value)
    if v >= 100:
        return f"{value:,.0f}"
    if v >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _ratio(value: Any) -> str:
    return DASH if value is None else f"x{value:.3f}"


def _sci(value: Any) -> str:
    return DASH if value is None else f"{value:.2e}"


def _table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def _h(level: int, text: str) -> str:
    return "#" * max(1, min(level, 6)) + " " + text


def _cell(record: Any, key: str = "images_per_s", fmt: Any = _num) -> str:
    """A measured value, or why there is none."""
    if not isinstance(record, dict):
        return DASH
    status = record.get("status", "ok")
    if status == "failed":
        return "failed"
    if status == "skipped":
        return "skipped"
    return fmt(record.get(key))


def _budget(value: Any) -> str:
    return "none" if value is None else f"{value:g} s"


def _heap(settings: dict[str, Any]) -> str:
    env = settings.get("heap_env") or {}
    if env.get("MALLOC_MMAP_THRESHOLD_") and env.get("MALLOC_TRIM_THRESHOLD_"):
        return "stable (glibc large-block mmap and trimming off)"
    preload = f", LD_PRELOAD {env['LD_PRELOAD']}" if env.get("LD_PRELOAD") else ""
    return f"{settings.get('heap', 'default')} (allocator defaults{preload})"


def _versions(machine: dict[str, Any], software: dict[str, Any]) -> str:
    parts = [f"torch {machine.get('torch', software.get('torch', '?'))}", f"timm {machine.get('timm', '?')}"]
    for key in ("onnxruntime", "c_compiler", "torch_cuda"):
        if software.get(key):
            parts.append(f"{key.replace('_', ' ')} {software[key]}")
    return ", ".join(parts)


# -- throughput.py ------------------------------------------------------------------------------------
def render_throughput(payload: dict[str, Any], heading_level: int = 2) -> str:
    """Markdown for one ``throughput.py`` result (``heading_level`` of its top heading)."""
    h = heading_level
    machine = payload.get("machine", {})
    settings = payload.get("settings", {})
    software = payload.get("software", {})
    device = machine.get("device", "?")
    quick = " (quick run)" if settings.get("quick") else ""
    out = [_h(h, f"Throughput on {machine.get('device_name', device)} ({device}){quick}"), ""]
    status = payload.get("status", "complete" if payload.get("complete") else "incomplete")
    out.append(
        f"Measured {machine.get('timestamp_utc', '?')}; {machine.get('cpu_count', '?')} CPU cores, "
        f"{machine.get('torch_num_threads', '?')} torch threads; {_versions(machine, software)}. "
        f"Load average at start {machine.get('loadavg_at_start')}, at end {machine.get('loadavg_at_end')}. "
        f"Run {status} in {_num(payload.get('elapsed_s'))} s."
    )
    if payload.get("interrupted"):
        out.append(f"\n**Interrupted** ({payload['interrupted']}): the tables hold what was measured before.")
    out += [
        "",
        f"Settings: modes {', '.join(f'`{m}`' for m in settings.get('modes', []))}; inference batch sizes "
        f"{settings.get('batch_sizes')} (best modes and targets at batch {settings.get('ref_batch')}); "
        f"training batch {settings.get('train_batch_size')}; {settings.get('repeats')} round-robin rounds; "
        f"{settings.get('input_pool')} inputs cycled; batch-1 latency from {settings.get('latency_samples')} "
        f"samples; time budget {_budget(settings.get('time_budget'))}; heap {_heap(settings)}. "
        "Throughput is the median over rounds in images per second; ratios are effnet over timm from the "
        "same run.",
        "",
    ]
    out += _targets_md(payload.get("targets") or {}, h + 1)
    for result in payload.get("results", []):
        out += _size_md(result, settings, h + 1)
    if payload.get("onnx"):
        out += _exports_md(payload["onnx"], h + 1)
    out += _problems_md(payload, h + 1)
    out += [
        _h(h + 1, "Reproduce"),
        "",
        "```bash",
        settings.get("command", "python benchmarks/throughput.py"),
        "```",
        "",
    ]
    return "\n".join(out)


def _targets_md(t: dict[str, Any], h: int) -> list[str]:
    out = [_h(h, "Targets"), ""]
    items = t.get("items") or []
    if not items:
        out += ["No target measured in this run (it needs effnet_bX_tf and efficientnet_bX of a size).", ""]
    else:
        out += [t.get("definition", ""), ""]
        rows = [
            [
                i.get("model"),
                f"`{i.get('best_mode')}`",
                _num(i.get("images_per_s")),
                i.get("timm_model"),
                f"`{i.get('timm_best_mode')}`",
                _num(i.get("timm_images_per_s")),
                _ratio(i.get("ratio")),
                "met" if i.get("met") else "**not met**",
                _ratio(i.get("ratio_vs_tf_efficientnet")),
            ]
            for i in items
        ]
        header = [
            "model",
            "best mode",
            "img/s",
            "timm",
            "timm best mode",
            "timm img/s",
            "ratio",
            "≥ x0.90",
            "vs tf_efficientnet",
        ]
        out += [_table(header, rows), ""]
        verdict = {True: "all met", False: "not all met", None: "not measured"}[t.get("met")]
        out += [
            f"Overall: **{verdict}**" + (f" ({'; '.join(t['not_met'])})" if t.get("not_met") else "") + ".",
            "",
        ]
    fastest = next((v for k, v in t.items() if k.startswith("fastest_mode_")), None)
    if fastest:
        speed = fastest.get("speedup_over_fp32")
        out += [
            f"Fastest mode for `{fastest.get('model')}` (batch {fastest.get('batch_size')}): "
            f"**`{fastest.get('mode')}`**, {_num(fastest.get('images_per_s'))} img/s, "
            + (
                f"**{_ratio(speed)}** over eager fp32 ({_num(fastest.get('fp32_images_per_s'))} img/s)"
                if speed
                else "eager fp32 not measured"
            )
            + f". Modes, fastest first: {', '.join(f'`{m}`' for m in fastest.get('modes_compared', []))}.",
            "",
        ]
    out += _head_cost_md(t.get("head_cost") or {})
    if t.get("note"):
        out += [f"Note: {t['note']}.", ""]
    return out


def _head_cost_md(cost: dict[str, Any]) -> list[str]:
    """What the transformer head costs over the baseline, per size, and the B2 target."""
    items = cost.get("items") or []
    if not items:
        return []
    rows = [
        [
            i.get("size"),
            _ratio(i.get("param_ratio_tf_vs_baseline")),
            _ratio(i.get("latency_ratio_tf_vs_baseline")),
        ]
        for i in items
    ]
    out = [
        f"What the transformer head costs: `effnet_bX_tf / effnet_bX`, eager `{cost.get('mode')}` latency at "
        f"batch {cost.get('batch_size')} (the inverse of the throughput ratio):",
        "",
        _table(["size", "parameters", "latency"], rows),
        "",
    ]
    target = cost.get("target")
    if target:
        met = target["latency_target_met"] and target["param_target_met"]
        out += [
            f"Target ({target['size']}): latency ≤ x{target['latency_target']}, parameters ≤ "
            f"x{target['param_target']}: **{'met' if met else 'not met'}**.",
            "",
        ]
    return out


def _size_md(result: dict[str, Any], settings: dict[str, Any], h: int) -> list[str]:
    size = result.get("size", "?")
    models = list(result.get("models", {}))
    modes = list(result.get("modes", {}))
    side = result.get("input_size", [None, "?"])[1] if result.get("input_size") else "?"
    out = [_h(h, f"Size {size} ({side} px)"), ""]
    if not models:
        return [*out, result.get("note", "Nothing measured."), ""]
    params = ", ".join(f"{n} {info.get('params', 0) / 1e6:.2f} M" for n, info in result["models"].items())
    out += [f"Parameters: {params}.", ""]
    ref = str(settings.get("ref_batch"))
    best = result.get("best", {}).get("by_model", {})
    ratios = result.get("ratios", {})
    pairs = sorted({p for per_mode in ratios.values() for per_batch in per_mode.values() for p in per_batch})
    batches = sorted({b for m in result["modes"].values() for b in m.get("inference", {})}, key=int)
    for batch in [ref] + [b for b in batches if b != ref]:
        header = ["model", *[f"`{m}`" for m in modes]] + (["best mode", "best xfp32"] if batch == ref else [])
        rows = []
        for name in models:
            row = [name] + [
                _cell(result["modes"][m].get("inference", {}).get(batch, {}).get(name)) for m in modes
            ]
            if batch == ref:
                b = best.get(name, {})
                row += [f"`{b['mode']}`" if b else DASH, _ratio(b.get("speedup_over_fp32"))]
            rows.append(row)
        for pair in pairs:
            row = [pair] + [_ratio(ratios.get(m, {}).get(batch, {}).get(pair)) for m in modes]
            if batch == ref:
                row += [_ratio(result.get("best", {}).get("ratios", {}).get(pair)) + " (best/best)", ""]
            rows.append(row)
        out += [f"Inference throughput, img/s, batch {batch}:", "", _table(header, rows), ""]
    if any(result["modes"][m].get("latency") for m in modes):
        rows = [
            [name]
            + [
                f"{_cell(lat.get(name), 'p50_ms')} / {_cell(lat.get(name), 'p95_ms')}"
                if isinstance(lat.get(name), dict) and lat[name].get("status", "ok") == "ok"
                else _cell(lat.get(name))
                for m in modes
                for lat in [result["modes"][m].get("latency", {})]
            ]
            for name in models
        ]
        out += [
            "Batch-1 latency, ms, p50 / p95:",
            "",
            _table(["model", *[f"`{m}`" for m in modes]], rows),
            "",
        ]
    if any(result["modes"][m].get("train") for m in modes):
        rows = [
            [name] + [_cell(result["modes"][m].get("train", {}).get(name)) for m in modes] for name in models
        ]
        rows += [
            [pair] + [_ratio(ratios.get(m, {}).get("train", {}).get(pair)) for m in modes] for pair in pairs
        ]
        out += [
            f"Training steps, img/s, batch {settings.get('train_batch_size')} "
            "(forward, backward, AdamW step):",
            "",
            _table(["model", *[f"`{m}`" for m in modes]], rows),
            "",
        ]
    mem_modes = [
        m
        for m in modes
        if any(
            isinstance(r, dict) and r.get("status") == "ok"
            for r in result["modes"][m].get("memory", {}).values()
        )
    ]
    if mem_modes:
        method = next(
            (
                r.get("method")
                for m in mem_modes
                for r in result["modes"][m]["memory"].values()
                if r.get("method")
            ),
            "",
        )

        def mem(rec: Any) -> str:
            if not isinstance(rec, dict) or rec.get("status") != "ok":
                return _cell(rec)
            inf, tr = rec.get("inference", {}), rec.get("train", {})
            return f"{_num(inf.get('peak_over_start_mb'))} / {_num(tr.get('peak_over_start_mb'))}"

        rows = [[name] + [mem(result["modes"][m]["memory"].get(name)) for m in mem_modes] for name in models]
        out += [
            "Peak memory over the start of the phase, MB, inference "
            f"(batch {max(settings.get('batch_sizes') or [0])}) "
            f"/ training step (batch {settings.get('train_batch_size')}); method: {method}:",
            "",
            _table(["model", *[f"`{m}`" for m in mem_modes]], rows),
            "",
        ]
    return out


def _exports_md(records: list[dict[str, Any]], h: int) -> list[str]:
    out = [_h(h, "Export: parity on real images, ONNX Runtime against eager torch"), ""]
    rows = []
    ort_rows = []
    for rec in records:
        name = rec.get("model", DASH)
        if rec.get("status") == "skipped" and "onnx" not in rec:
            rows.append([name, DASH, "skipped: " + str(rec.get("reason", "")), DASH, DASH, DASH])
            continue
        for fmt in ("onnx", "torchscript"):
            r = rec.get(fmt)
            if not isinstance(r, dict):
                continue
            if r.get("status") != "ok":
                why = r.get("reason") or r.get("error") or ""
                rows.append([name, fmt, f"{r.get('status')}: {why}", DASH, DASH, DASH])
                continue
            p = r.get("parity") or {}
            rows.append(
                [
                    name,
                    fmt,
                    _sci(p.get("max_abs_diff")),
                    _sci(p.get("mean_abs_diff")),
                    DASH if p.get("argmax_agreement") is None else f"{p['argmax_agreement']:.0%}",
                    p.get("n_images", DASH),
                ]
            )
            for batch, t in (r.get("throughput") or {}).items():
                if isinstance(t, dict) and "ratio_ort_vs_eager" in t:
                    ort_rows.append(
                        [
                            name,
                            batch,
                            _num(t.get("onnxruntime_images_per_s")),
                            _num(t.get("torch_eager_fp32_images_per_s")),
                            _ratio(t.get("ratio_ort_vs_eager")),
                            _num(t.get("torch_eager_channels_last_images_per_s")),
                            _ratio(t.get("ratio_ort_vs_eager_channels_last")),
                        ]
                    )
                elif isinstance(t, dict) and t.get("status") in ("skipped", "failed"):
                    ort_rows.append([name, batch, _cell(t), DASH, DASH, DASH, DASH])
    header = ["model", "format", "max abs logit diff", "mean abs diff", "same class", "images"]
    out += [
        "Logits of the exported file against eager PyTorch on real MRI slices of the bundled Figshare sample "
        "(random weights, eval transform):",
        "",
        _table(header, rows),
        "",
    ]
    if ort_rows:
        out += [
            "ONNX Runtime (CPUExecutionProvider, same thread count, no spinning) against eager torch, "
            "img/s, timed round-robin:",
            "",
            _table(
                [
                    "model",
                    "batch",
                    "onnxruntime",
                    "torch fp32",
                    "ORT / fp32",
                    "torch channels_last",
                    "ORT / cl",
                ],
                ort_rows,
            ),
            "",
        ]
    return out


def _problems_md(payload: dict[str, Any], h: int) -> list[str]:
    out: list[str] = []
    failures = payload.get("failures") or []
    skipped = payload.get("skipped") or []
    noisy = payload.get("noisy") or []
    if not (failures or skipped or noisy):
        return out
    out += [_h(h, "Failed, skipped and noisy measurements"), ""]
    if failures:
        rows = [
            [
                f.get("size", DASH),
                f.get("model", DASH),
                f"`{f.get('mode', f.get('format', DASH))}`",
                f.get("phase", DASH),
                f.get("error", ""),
            ]
            for f in failures[:30]
        ]
        out += [f"{len(failures)} failed:", "", _table(["size", "model", "mode", "phase", "error"], rows), ""]
    if skipped:
        counts = Counter(s.get("reason", "") for s in skipped)
        out += (
            [f"{len(skipped)} skipped:", ""]
            + [f"- {n} x {reason}" for reason, n in counts.most_common()]
            + [""]
        )
    if noisy:
        out += [
            f"Noisy (fastest round more than x1.25 the median; other load?): {'; '.join(noisy[:20])}"
            + (f" and {len(noisy) - 20} more" if len(noisy) > 20 else "")
            + ".",
            "",
        ]
    return out


# -- older result files -----------------------------------------------------------------------------------
def _loader_md(d: dict[str, Any], h: int) -> list[str]:
    rows = [
        [k, _num(v.get("img_per_s")), _num(v.get("images")), _num(v.get("seconds"))]
        for k, v in d.get("loader", {}).items()
        if isinstance(v, dict)
    ]
    tr = d.get("training", {})
    out = [_table(["loader", "img/s", "images", "seconds"], rows), ""]
    if tr:
        out += [
            f"Training for comparison: {_num(tr.get('img_per_s'))} img/s (batch {tr.get('batch_size')}).",
            "",
        ]
    t = d.get("targets", {})
    if t:
        out += ["Targets: " + ", ".join(f"{k} {_num(v)}" for k, v in t.items()) + ".", ""]
    return out


def _trainer_md(d: dict[str, Any], h: int) -> list[str]:
    s = d.get("settings", {})

    def med(xs: Any) -> str:
        xs = sorted(xs or [])
        return _num(xs[len(xs) // 2]) if xs else DASH

    rows = [
        ["bare training loop", med(d.get("bare_img_per_s")), DASH],
        ["Trainer", med(d.get("trainer_img_per_s")), _ratio(d.get("median_ratio_trainer_vs_bare"))],
        [
            "Trainer epoch loop",
            med(d.get("trainer_epoch_loop_img_per_s")),
            _ratio(d.get("median_ratio_trainer_epoch_loop_vs_bare")),
        ],
    ]
    return [
        f"{s.get('model')} at {s.get('size')} px, batch {s.get('batch_size')}:",
        "",
        _table(["loop", "img/s (median)", "ratio to bare"], rows),
        "",
        f"Target met: {_num(d.get('target_met'))}.",
        "",
    ]


def _explain_md(d: dict[str, Any], h: int) -> list[str]:
    s = d.get("settings", {})
    rows = [
        [
            k,
            _ratio(v.get("ratio_median")),
            _ratio(v.get("target")),
            "met" if v.get("target_met") else "not met",
        ]
        for k, v in d.get("ratios", {}).items()
    ]
    times = [
        [k, _num(v.get("ms_median")), _num(v.get("images_per_s"))] for k, v in d.get("results", {}).items()
    ]
    return [
        f"{s.get('model')}, batch {s.get('batch_size')}:",
        "",
        _table(["method", "median ms", "img/s"], times),
        "",
        _table(["ratio", "median", "target (≤)", ""], rows),
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
        _h(2, "Throughput, latency, memory and export (`benchmarks/throughput.py`)"),
        "",
    ]
    files = _throughput_files(results_dir) if results_dir.is_dir() else []
    if not files:
        out += ["No throughput results yet: run `python benchmarks/throughput.py --quick --device cpu`.", ""]
    for path, data in files:
        try:
            body = render_throughput(data, heading_level=3)
        except Exception as exc:  # a malformed file must not break the docs build
            body = f"{_h(3, path.name)}\n\nCould not render `{path.name}`: {type(exc).__name__}: {exc}\n"
        out += [
            body,
            f"Source: `{_relative(path, results_dir)}`.",
            "",
        ]
    if not any(str(d.get("machine", {}).get("device", "")).startswith("cuda") for _, d in files):
        out += [_h(3, "GPU"), "", GPU_HINT, ""]

    older = sorted(results_dir.glob("*.json")) if results_dir.is_dir() else []
    older = [p for p in older if p.name.split("_", 1)[0] in OLDER]
    out += [_h(2, "Earlier benchmarks"), ""]
    if not older:
        out += ["No results of the older benchmark scripts.", ""]
    for path in older:
        title, render = OLDER[path.name.split("_", 1)[0]]
        data = _load(path)
        out += [_h(3, f"{title}: `{path.name}`"), ""]
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
