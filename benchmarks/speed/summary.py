"""What the JSON derives from the measurements: ratios, best modes, targets, noisy timings."""

from __future__ import annotations

from typing import Any

import torch

from .config import (
    FASTEST_MODE_MODEL,
    HEAD_COST_SIZE,
    HEAD_LATENCY_TARGET,
    HEAD_PARAM_TARGET,
    NOISY_SPREAD,
    TARGET_RATIO,
)
from .timing import ratio


def ratio_pairs(models: dict[str, Any]) -> list[tuple[str, str]]:
    """``(effnet model, timm model)`` pairs whose throughput ratios the JSON holds."""
    roles = {info["role"]: name for name, info in models.items()}
    pairs = []
    for num in ("baseline", "transformer"):
        for den in ("timm", "timm_tf"):
            if num in roles and den in roles:
                pairs.append((roles[num], roles[den]))
    return pairs


def ips(record: dict[str, Any] | None) -> float | None:
    """The img/s of an ``ok`` record, ``None`` for failed or skipped ones."""
    if record and record.get("status") == "ok":
        return float(record["images_per_s"])
    return None


def compute_ratios(result: dict[str, Any]) -> dict[str, Any]:
    """Throughput ratios ``effnet / timm`` per mode and batch size (and for training)."""
    pairs = ratio_pairs(result["models"])
    ratios: dict[str, Any] = {}
    for mode, record in result["modes"].items():
        per_mode: dict[str, Any] = {}
        for batch, per_model in record["inference"].items():
            per_mode[batch] = {
                f"{n}/{d}": ratio(a, b)
                for n, d in pairs
                if (a := ips(per_model.get(n))) is not None and (b := ips(per_model.get(d))) is not None
            }
        train = record["train"]
        per_mode["train"] = {
            f"{n}/{d}": ratio(a, b)
            for n, d in pairs
            if (a := ips(train.get(n))) is not None and (b := ips(train.get(d))) is not None
        }
        ratios[mode] = per_mode
    return ratios


def best_modes(result: dict[str, Any], ref_batch: int) -> dict[str, Any]:
    """Per model: the mode with the highest inference throughput at ``ref_batch``, and eager fp32."""
    best: dict[str, Any] = {}
    key = str(ref_batch)
    for name in result["models"]:
        candidates = {
            mode: v
            for mode, record in result["modes"].items()
            if (v := ips(record["inference"].get(key, {}).get(name))) is not None
        }
        if not candidates:
            continue
        mode = max(candidates, key=lambda m: candidates[m])
        entry: dict[str, Any] = {"batch_size": ref_batch, "mode": mode, "images_per_s": candidates[mode]}
        if "fp32" in candidates:
            entry["fp32_images_per_s"] = candidates["fp32"]
            entry["speedup_over_fp32"] = ratio(candidates[mode], candidates["fp32"])
        entry["modes_compared"] = sorted(candidates, key=lambda m: -candidates[m])
        best[name] = entry
    pairs = ratio_pairs(result["models"])
    best_ratios = {
        f"{n}/{d}": ratio(best[n]["images_per_s"], best[d]["images_per_s"])
        for n, d in pairs
        if n in best and d in best
    }
    return {"by_model": best, "ratios": best_ratios}


def targets_block(results: list[dict[str, Any]], device: torch.device, ref_batch: int) -> dict[str, Any]:
    """The ``targets`` block: each effnet_bX_tf's best mode against efficientnet_bX's, and more."""
    items = []
    for r in results:
        roles = {info["role"]: n for n, info in r["models"].items()}
        best = r.get("best", {}).get("by_model", {})
        tf, ref = roles.get("transformer"), roles.get("timm")
        if tf is None or ref is None or tf not in best or ref not in best:
            continue
        r_best = ratio(best[tf]["images_per_s"], best[ref]["images_per_s"])
        item = {
            "size": r["size"],
            "model": tf,
            "best_mode": best[tf]["mode"],
            "images_per_s": best[tf]["images_per_s"],
            "timm_model": ref,
            "timm_best_mode": best[ref]["mode"],
            "timm_images_per_s": best[ref]["images_per_s"],
            "ratio": r_best,
            "met": r_best >= TARGET_RATIO,
        }
        tf_ref = roles.get("timm_tf")
        if tf_ref in best:
            item["tf_efficientnet_model"] = tf_ref
            item["tf_efficientnet_best_mode"] = best[tf_ref]["mode"]
            item["ratio_vs_tf_efficientnet"] = ratio(best[tf]["images_per_s"], best[tf_ref]["images_per_s"])
        items.append(item)
    block: dict[str, Any] = {
        "definition": (
            f"inference throughput of each effnet_bX_tf in its best mode >= {TARGET_RATIO:.2f} x that of "
            "timm "
            f"efficientnet_bX in its best mode, batch {ref_batch}, same run, same input size"
        ),
        "device": device.type,
        "batch_size": ref_batch,
        "threshold": TARGET_RATIO,
        "items": items,
        "met": all(i["met"] for i in items) if items else None,
    }
    not_met = [f"{i['model']} x{i['ratio']:.3f}" for i in items if not i["met"]]
    if not_met:
        block["not_met"] = not_met
    for r in results:
        best = r.get("best", {}).get("by_model", {}).get(FASTEST_MODE_MODEL)
        if best:
            block["fastest_mode_" + FASTEST_MODE_MODEL] = {
                "model": FASTEST_MODE_MODEL,
                "batch_size": best["batch_size"],
                "mode": best["mode"],
                "images_per_s": best["images_per_s"],
                "fp32_images_per_s": best.get("fp32_images_per_s"),
                "speedup_over_fp32": best.get("speedup_over_fp32"),
                "modes_compared": best["modes_compared"],
            }
    block["head_cost"] = head_cost(results, ref_batch)
    if device.type != "cpu":
        block["note"] = "the issue states the targets for CPU; this run is on " + device.type
    return block


def head_cost(results: list[dict[str, Any]], ref_batch: int) -> dict[str, Any]:
    """What the transformer head costs over the baseline, per size: parameters, and eager fp32
    latency at ``ref_batch`` (the inverse of the throughput ratio), with the B2 targets.

    Returns ``{"mode", "batch_size", "items": [...], "target": {...} or None}``.
    """
    items = []
    for r in results:
        roles = {info["role"]: n for n, info in r["models"].items()}
        tf, base = roles.get("transformer"), roles.get("baseline")
        fp32 = r["modes"].get("fp32", {}).get("inference", {}).get(str(ref_batch), {})
        a, b = ips(fp32.get(tf)), ips(fp32.get(base))
        if tf is None or base is None or a is None or b is None:
            continue
        items.append(
            {
                "size": r["size"],
                "param_ratio_tf_vs_baseline": ratio(r["models"][tf]["params"], r["models"][base]["params"]),
                "latency_ratio_tf_vs_baseline": ratio(b, a),  # latency is 1 / throughput
            }
        )
    target = None
    measured = next((i for i in items if i["size"] == HEAD_COST_SIZE), None)
    if measured is not None:
        lat, par = measured["latency_ratio_tf_vs_baseline"], measured["param_ratio_tf_vs_baseline"]
        target = {
            "size": HEAD_COST_SIZE,
            "latency_target": HEAD_LATENCY_TARGET,
            "param_target": HEAD_PARAM_TARGET,
            "latency_target_met": lat <= HEAD_LATENCY_TARGET,
            "param_target_met": par <= HEAD_PARAM_TARGET,
        }
    return {"mode": "fp32", "batch_size": ref_batch, "items": items, "target": target}


def noisy(results: list[dict[str, Any]]) -> list[str]:
    """Timings whose fastest round beats the median by more than ``NOISY_SPREAD``."""
    flagged = []
    for r in results:
        for mode, record in r["modes"].items():
            for phase in ("inference", "train"):
                groups = record[phase].values() if phase == "inference" else [record[phase]]
                for per_model in groups:
                    for name, rec in per_model.items():
                        if (
                            isinstance(rec, dict)
                            and rec.get("status") == "ok"
                            and rec["spread_max_over_median"] > NOISY_SPREAD
                        ):
                            flagged.append(
                                f"{name} {mode} {phase} b{rec['batch_size']} "
                                f"(max/median x{rec['spread_max_over_median']:.2f})"
                            )
    return flagged
