"""Shared by the benchmark scripts: a description of the machine, recorded next to every result."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import timm
import torch

import brainvit_effnet as bve

__all__ = [
    "check_minimums",
    "cpu_model_name",
    "load_average",
    "machine_info",
    "resolve_device",
    "software_versions",
    "write_json",
]


def cpu_model_name() -> str:
    """The CPU's marketing name (``platform.processor()`` is often empty or just 'x86_64' on Linux)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def machine_info(device: torch.device) -> dict[str, Any]:
    info: dict[str, Any] = {
        "timestamp_utc": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "processor": platform.processor(),
        "cpu_model": cpu_model_name(),
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "torch": torch.__version__,
        "timm": timm.__version__,
        "brainvit_effnet": bve.__version__,
        "torch_num_threads": torch.get_num_threads(),
        "torch_num_interop_threads": torch.get_num_interop_threads(),
        "device": str(device),
        "loadavg_at_start": load_average(),
    }
    if device.type == "cuda":
        info["device_name"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    else:
        info["device_name"] = info["cpu_model"] or platform.machine()
    return info


def load_average() -> list[float] | None:
    """1/5/15-minute load averages, where the OS has them (other load skews CPU timings badly)."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):
        return None


def software_versions() -> dict[str, Any]:
    """Versions of what a timing depends on beyond torch/timm: backends, ONNX stack, compiler.

    Optional packages that are not installed are recorded as ``None``.
    """
    import importlib.metadata as md
    import shutil
    import subprocess

    versions: dict[str, Any] = {
        "torch": torch.__version__,
        "timm": timm.__version__,
        "brainvit_effnet": bve.__version__,
        "numpy": md.version("numpy"),
        "torch_cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "mkldnn": torch.backends.mkldnn.is_available(),
        "torch_cuda": torch.version.cuda,
    }
    for dist in ("onnx", "onnxscript", "onnxruntime", "onnxruntime-gpu", "triton"):
        try:
            versions[dist] = md.version(dist)
        except md.PackageNotFoundError:
            versions[dist] = None
    compiler = shutil.which("gcc") or shutil.which("cc")
    versions["c_compiler"] = None
    if compiler:
        try:
            first = subprocess.run([compiler, "--version"], capture_output=True, text=True, timeout=10).stdout
            versions["c_compiler"] = first.splitlines()[0] if first else compiler
        except (OSError, subprocess.SubprocessError):
            versions["c_compiler"] = compiler
    return versions


def write_json(path: Path, payload: dict[str, Any]) -> None:
    """Write atomically (``*.tmp`` then rename) so an interrupted run leaves no half-written file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(payload, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def check_minimums(
    parser: argparse.ArgumentParser, args: argparse.Namespace, minimums: Mapping[str, int]
) -> None:
    """``parser.error`` (exit 2, the option named) for the first option below its minimum, in order."""
    for name, least in minimums.items():
        if getattr(args, name) < least:
            parser.error(f"--{name.replace('_', '-')} must be >= {least}")


def resolve_device(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    """``--device auto`` becomes ``cuda`` or ``cpu``; ``--device cuda`` without CUDA is a usage error."""
    if args.device == "auto":
        args.device = "cuda" if torch.cuda.is_available() else "cpu"
    elif args.device == "cuda" and not torch.cuda.is_available():
        parser.error("--device cuda requested but torch.cuda.is_available() is False")
