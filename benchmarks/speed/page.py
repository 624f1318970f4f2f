"""The throughput benchmark's results as Markdown: one JSON of ``throughput.py`` rendered as tables.

Imports only the standard library, like ``results_page.py`` that renders it into the documentation
(inside mkdocs, where torch need not be installed); ``speed.run`` uses it for the Markdown beside its
JSON. It reads the schema that :mod:`speed.summary` and :mod:`speed.sizes` write, so the two change
together. The small formatting helpers (:func:`num`, :func:`ratio`, :func:`table`, :func:`heading`) are
shared with ``results_page.py``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

__all__ = ["DASH", "heading", "num", "ratio", "render_throughput", "table"]

DASH = "—"


# -- formatting helpers ---------------------------------------------------------------------------
def num(value: Any, digits: int | None = None) -> str:
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


def ratio(value: Any) -> str:
    return DASH if value is None else f"x{value:.3f}"


def _sci(value: Any) -> str:
    return DASH if value is None else f"{value:.2e}"


def table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(["---"] * len(header)) + "|"]
    for row in rows:
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in row) + " |")
    return "\n".join(lines)


def heading(level: int, text: str) -> str:
    return "#" * max(1, min(level, 6)) + " " + text


def _cell(record: Any, key: str = "images_per_s", fmt: Any = num) -> str:
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
    out = [heading(h, f"Throughput on {machine.get('device_name', device)} ({device}){quick}"), ""]
    status = payload.get("status", "complete" if payload.get("complete") else "incomplete")
    out.append(
        f"Measured {machine.get('timestamp_utc', '?')}; {machine.get('cpu_count', '?')} CPU cores, "
        f"{machine.get('torch_num_threads', '?')} torch threads; {_versions(machine, software)}. "
        f"Load average at start {machine.get('loadavg_at_start')}, at end {machine.get('loadavg_at_end')}. "
        f"Run {status} in {num(payload.get('elapsed_s'))} s."
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
        heading(h + 1, "Reproduce"),
        "",
        "```bash",
        settings.get("command", "python benchmarks/throughput.py"),
        "```",
        "",
    ]
    return "\n".join(out)


def _targets_md(t: dict[str, Any], h: int) -> list[str]:
    out = [heading(h, "Targets"), ""]
    items = t.get("items") or []
    if not items:
        out += ["No target measured in this run (it needs effnet_bX_tf and efficientnet_bX of a size).", ""]
    else:
        out += [t.get("definition", ""), ""]
        rows = [
            [
                i.get("model"),
                f"`{i.get('best_mode')}`",
                num(i.get("images_per_s")),
                i.get("timm_model"),
                f"`{i.get('timm_best_mode')}`",
                num(i.get("timm_images_per_s")),
                ratio(i.get("ratio")),
                "met" if i.get("met") else "**not met**",
                ratio(i.get("ratio_vs_tf_efficientnet")),
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
        out += [table(header, rows), ""]
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
            f"**`{fastest.get('mode')}`**, {num(fastest.get('images_per_s'))} img/s, "
            + (
                f"**{ratio(speed)}** over eager fp32 ({num(fastest.get('fp32_images_per_s'))} img/s)"
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
            ratio(i.get("param_ratio_tf_vs_baseline")),
            ratio(i.get("latency_ratio_tf_vs_baseline")),
        ]
        for i in items
    ]
    out = [
        f"What the transformer head costs: `effnet_bX_tf / effnet_bX`, eager `{cost.get('mode')}` latency at "
        f"batch {cost.get('batch_size')} (the inverse of the throughput ratio):",
        "",
        table(["size", "parameters", "latency"], rows),
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
    out = [heading(h, f"Size {size} ({side} px)"), ""]
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
                row += [f"`{b['mode']}`" if b else DASH, ratio(b.get("speedup_over_fp32"))]
            rows.append(row)
        for pair in pairs:
            row = [pair] + [ratio(ratios.get(m, {}).get(batch, {}).get(pair)) for m in modes]
            if batch == ref:
                row += [ratio(result.get("best", {}).get("ratios", {}).get(pair)) + " (best/best)", ""]
            rows.append(row)
        out += [f"Inference throughput, img/s, batch {batch}:", "", table(header, rows), ""]
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
            table(["model", *[f"`{m}`" for m in modes]], rows),
            "",
        ]
    if any(result["modes"][m].get("train") for m in modes):
        rows = [
            [name] + [_cell(result["modes"][m].get("train", {}).get(name)) for m in modes] for name in models
        ]
        rows += [
            [pair] + [ratio(ratios.get(m, {}).get("train", {}).get(pair)) for m in modes] for pair in pairs
        ]
        out += [
            f"Training steps, img/s, batch {settings.get('train_batch_size')} "
            "(forward, backward, AdamW step):",
            "",
            table(["model", *[f"`{m}`" for m in modes]], rows),
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
            return f"{num(inf.get('peak_over_start_mb'))} / {num(tr.get('peak_over_start_mb'))}"

        rows = [[name] + [mem(result["modes"][m]["memory"].get(name)) for m in mem_modes] for name in models]
        out += [
            "Peak memory over the start of the phase, MB, inference "
            f"(batch {max(settings.get('batch_sizes') or [0])}) "
            f"/ training step (batch {settings.get('train_batch_size')}); method: {method}:",
            "",
            table(["model", *[f"`{m}`" for m in mem_modes]], rows),
            "",
        ]
    return out


def _exports_md(records: list[dict[str, Any]], h: int) -> list[str]:
    out = [heading(h, "Export: parity on real images, ONNX Runtime against eager torch"), ""]
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
                            num(t.get("onnxruntime_images_per_s")),
                            num(t.get("torch_eager_fp32_images_per_s")),
                            ratio(t.get("ratio_ort_vs_eager")),
                            num(t.get("torch_eager_channels_last_images_per_s")),
                            ratio(t.get("ratio_ort_vs_eager_channels_last")),
                        ]
                    )
                elif isinstance(t, dict) and t.get("status") in ("skipped", "failed"):
                    ort_rows.append([name, batch, _cell(t), DASH, DASH, DASH, DASH])
    header = ["model", "format", "max abs logit diff", "mean abs diff", "same class", "images"]
    out += [
        "Logits of the exported file against eager PyTorch on real MRI slices of the bundled Figshare sample "
        "(random weights, eval transform):",
        "",
        table(header, rows),
        "",
    ]
    if ort_rows:
        out += [
            "ONNX Runtime (CPUExecutionProvider, same thread count, no spinning) against eager torch, "
            "img/s, timed round-robin:",
            "",
            table(
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
    out += [heading(h, "Failed, skipped and noisy measurements"), ""]
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
        out += [f"{len(failures)} failed:", "", table(["size", "model", "mode", "phase", "error"], rows), ""]
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
