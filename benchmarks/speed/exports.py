"""ONNX and TorchScript: export, parity on real MRI slices, ONNX Runtime against eager torch."""

from __future__ import annotations

import importlib.util
import math
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .config import MB
from .models import create, group_names, native_size, selected
from .runner import Runner
from .timing import Clock, ratio, sig


def run_exports(runner: Runner, size: str) -> list[dict[str, Any]]:
    """Exports, parity and ONNX Runtime timing for the ``--onnx-models`` of one size."""
    args = runner.args
    names = [
        n for n in group_names(size).values() if selected(n, args.models) and selected(n, args.onnx_models)
    ]
    return [export_one(name, runner) for name in names]


def export_one(name: str, runner: Runner) -> dict[str, Any]:
    """Export one model to TorchScript and ONNX, check parity, time ONNX Runtime; failures recorded."""
    from brainvit_effnet.export import export_onnx, export_torchscript, parity_on_sample, sample_images

    args = runner.args
    where = {"model": name, "phase": "export"}
    record: dict[str, Any] = {"model": name}
    if runner.over_budget():
        record.update(runner.skip(where, runner.budget_reason()))
        return record
    print(f"  export {name}:", end="", flush=True)
    torch.manual_seed(args.seed)
    model = create(name).eval()
    shape = native_size(model) if hasattr(model, "pretrained_cfg") else None
    images = sample_images(model, args.parity_images) if args.parity_images > 0 else None
    with tempfile.TemporaryDirectory() as tmp:
        # TorchScript: parity only (needs nothing beyond torch)
        try:
            t0 = time.perf_counter()
            ts_path = export_torchscript(model, Path(tmp) / "model.pt")
            record["torchscript"] = {"status": "ok", "export_s": round(time.perf_counter() - t0, 2)}
            if images is not None:
                record["torchscript"]["parity"] = parity_on_sample(model, ts_path, images=images).to_dict()
                record["torchscript"]["parity"]["source"] = "bundled Figshare sample (real MRI slices)"
        except Exception as exc:
            record["torchscript"] = runner.fail({**where, "format": "torchscript"}, exc)
        missing = [m for m in ("onnx", "onnxscript", "onnxruntime") if importlib.util.find_spec(m) is None]
        if missing:
            reason = f"not installed: {', '.join(missing)} (pip install 'brainvit-effnet[onnx]')"
            record["onnx"] = runner.skip({**where, "format": "onnx"}, reason)
            print(" onnx skipped", flush=True)
            return record
        import onnxruntime as ort

        try:
            t0 = time.perf_counter()
            onnx_path = export_onnx(model, Path(tmp) / "model.onnx")
            onnx_rec: dict[str, Any] = {
                "status": "ok",
                "export_s": round(time.perf_counter() - t0, 2),
                "onnxruntime": ort.__version__,
                "file_mb": round(onnx_path.stat().st_size / MB, 2),
            }
            if images is not None:
                onnx_rec["parity"] = parity_on_sample(model, onnx_path, images=images).to_dict()
                onnx_rec["parity"]["source"] = "bundled Figshare sample (real MRI slices)"
            record["onnx"] = onnx_rec
            print(" exported", end="", flush=True)
            onnx_rec["throughput"] = ort_vs_eager(model, onnx_path, shape, runner)
        except Exception as exc:
            record["onnx"] = runner.fail({**where, "format": "onnx"}, exc)
    print(flush=True)
    return record


def ort_vs_eager(
    model: nn.Module, path: Path, shape: tuple[int, int, int] | None, runner: Runner
) -> dict[str, Any]:
    """ONNX Runtime (CPU provider) against eager torch on CPU (fp32, and fp32 channels_last), round-robin.

    The headline ratio is ONNX Runtime over eager fp32 (NCHW) torch; channels_last is timed alongside
    because on CPU it is where most of ONNX Runtime's advantage comes from (its convolutions pick a
    blocked layout themselves).
    """
    import copy

    import onnxruntime as ort

    args = runner.args
    if shape is None:
        raise ValueError("model has no pretrained_cfg input size")
    options = ort.SessionOptions()
    options.intra_op_num_threads = torch.get_num_threads()
    # ORT's pool busy-waits after each run by default, which would steal the cores from the torch calls
    # interleaved with it; without spinning both get the machine to themselves in turn
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    clock = Clock(torch.device("cpu"))
    nhwc = copy.deepcopy(model).to(memory_format=torch.channels_last)
    out: dict[str, Any] = {
        "provider": "CPUExecutionProvider",
        "intra_op_num_threads": options.intra_op_num_threads,
        "allow_spinning": False,
        "against": "eager fp32 torch on CPU (NCHW, and channels_last), same threads, round-robin",
    }
    calls = {"onnxruntime": 0, "torch_eager_fp32": 0, "torch_eager_channels_last": 0}  # rotate inputs
    for batch in args.batch_sizes:
        if runner.over_budget():
            out[str(batch)] = runner.skip(
                {"model": "onnx", "phase": "ort", "batch_size": batch}, runner.budget_reason()
            )
            continue
        gen = torch.Generator().manual_seed(batch)
        pool = [torch.randn((batch, *shape), generator=gen) for _ in range(args.input_pool)]
        arrays = [x.numpy() for x in pool]
        pool_cl = [x.contiguous(memory_format=torch.channels_last) for x in pool]

        def run_ort(k: int, arrays: list[Any] = arrays) -> None:
            for _ in range(k):
                calls["onnxruntime"] += 1
                session.run(None, {name: arrays[calls["onnxruntime"] % len(arrays)]})

        def run_torch(k: int, pool: list[torch.Tensor] = pool) -> None:
            with torch.inference_mode():
                for _ in range(k):
                    calls["torch_eager_fp32"] += 1
                    model(pool[calls["torch_eager_fp32"] % len(pool)])

        def run_torch_cl(k: int, pool: list[torch.Tensor] = pool_cl) -> None:
            with torch.inference_mode():
                for _ in range(k):
                    calls["torch_eager_channels_last"] += 1
                    nhwc(pool[calls["torch_eager_channels_last"] % len(pool)])

        fns = {
            "onnxruntime": run_ort,
            "torch_eager_fp32": run_torch,
            "torch_eager_channels_last": run_torch_cl,
        }
        iters: dict[str, int] = {}
        for key, fn in fns.items():
            warm = [clock.time(fn, 1) for _ in range(max(2, args.warmup))]
            iters[key] = max(1, min(args.max_iters, math.ceil(args.round_s / max(min(warm[1:]), 1e-6))))
        rounds: dict[str, list[float]] = {k: [] for k in fns}
        keys = list(fns)
        for r in range(args.repeats):
            for key in keys[r % len(keys) :] + keys[: r % len(keys)]:
                rounds[key].append(batch * iters[key] / clock.time(fns[key], iters[key]))
        med = {k: statistics.median(v) for k, v in rounds.items()}
        out[str(batch)] = {
            "status": "ok",
            "onnxruntime_images_per_s": sig(med["onnxruntime"]),
            "torch_eager_fp32_images_per_s": sig(med["torch_eager_fp32"]),
            "torch_eager_channels_last_images_per_s": sig(med["torch_eager_channels_last"]),
            "ratio_ort_vs_eager": ratio(med["onnxruntime"], med["torch_eager_fp32"]),
            "ratio_ort_vs_eager_channels_last": ratio(med["onnxruntime"], med["torch_eager_channels_last"]),
            "rounds": {k: [round(v, 3) for v in vs] for k, vs in rounds.items()},
        }
    return out
