"""ONNX export, verified against PyTorch with ONNX Runtime.

Needs the optional extra: ``pip install "brainvit-effnet[onnx]"`` (onnx, onnxscript, onnxruntime).

Example:
    >>> import brainvit_effnet as bve
    >>> from brainvit_effnet.export import export_onnx
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> path = export_onnx(model, "model.onnx")  # doctest: +SKIP
"""

from __future__ import annotations

import importlib.util
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

import torch
from torch import nn

__all__ = ["export_onnx"]

_logger = logging.getLogger(__name__)
_EXTRA = 'pip install "brainvit-effnet[onnx]"'


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ImportError(f"ONNX export needs {', '.join(missing)}: {_EXTRA}")


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int, int] | None = None,
    opset: int = 18,
    dynamic_batch: bool = True,
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Export ``model`` (in eval mode) to ONNX with ``torch.onnx.export(dynamo=True)``.

    Args:
        model: A classifier; its ``pretrained_cfg["input_size"]`` gives the example input size.
        path: Output ``.onnx`` file; written to a temporary file first, then renamed.
        input_size: ``(C, H, W)`` if the model has no ``pretrained_cfg``.
        opset: ONNX opset version.
        dynamic_batch: Let the batch dimension vary.
        verify: Run the exported graph with ONNX Runtime on batches of 1 and 3 and compare with
            PyTorch; raise if they differ by more than ``atol``.
        atol: Tolerance of the verification.

    Returns:
        The path of the ``.onnx`` file.

    Raises:
        ImportError: the ``onnx`` extra is not installed (names the install command).
        ValueError: no input size known, or the exported graph disagrees with PyTorch.
    """
    _require("onnx", "onnxscript", *(("onnxruntime",) if verify else ()))
    size = input_size or tuple(getattr(model, "pretrained_cfg", {}).get("input_size", ()))
    if len(size) != 3:
        raise ValueError("pass input_size=(C, H, W): the model has no pretrained_cfg['input_size'].")
    out = Path(path).expanduser()
    out.parent.mkdir(parents=True, exist_ok=True)
    was_training = model.training
    model.eval()
    try:
        example = torch.randn(2, *size)
        dynamic: Any = {"x": {0: torch.export.Dim("batch")}} if dynamic_batch else None
        fd, tmp = tempfile.mkstemp(prefix=f".{out.name}.", suffix=".onnx", dir=out.parent)
        os.close(fd)
        try:
            program = torch.onnx.export(
                model, (example,), dynamo=True, dynamic_shapes=dynamic, opset_version=opset, verbose=False
            )
            if program is None:
                raise ValueError("torch.onnx.export returned no program; update torch and onnxscript.")
            program.save(tmp)
            if verify:
                _verify(model, tmp, size, batches=(1, 3) if dynamic_batch else (2,), atol=atol)
            os.replace(tmp, out)
        finally:
            Path(tmp).unlink(missing_ok=True)
    finally:
        model.train(was_training)
    _logger.info("Exported %s to %s", type(model).__name__, out)
    return out


def _verify(
    model: nn.Module, path: str, size: tuple[int, ...], batches: tuple[int, ...], atol: float
) -> None:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    for batch in batches:
        x = torch.randn(batch, *size)
        with torch.no_grad():
            expected = model(x).numpy()
        got = session.run(None, {name: x.numpy()})[0]
        error = float(abs(got - expected).max())
        if got.shape != expected.shape or error > atol:
            raise ValueError(
                f"the exported ONNX graph disagrees with PyTorch for batch {batch}: shapes {got.shape} vs "
                f"{expected.shape}, max abs difference {error:.2e} > atol {atol:g}."
            )
