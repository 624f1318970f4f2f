"""Export to ONNX or TorchScript, verified against eager PyTorch.

ONNX graphs take any batch size and, where the model allows it, any image height and width (both
model families do: global pooling, and the transformer resamples its positional grid in the graph).

ONNX needs the optional extra ``pip install "brainvit-effnet[onnx]"`` (onnx, onnxscript, onnxruntime);
TorchScript needs nothing beyond torch. Both exports are written to a temporary file first and renamed,
so an interrupted export never leaves a half-written file, and both are checked against the eager model
on random batches of two batch sizes (``verify=True``).

:func:`parity_on_sample` measures what matters for deployment: the largest absolute difference of the
logits between the eager model and the exported file on **real** MRI slices (the bundled Figshare
sample, preprocessed with the model's own eval transform).

Example:
    >>> import brainvit_effnet as bve
    >>> from brainvit_effnet.export import export_onnx, export_torchscript, parity_on_sample
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> path = export_onnx(model, "model.onnx")  # doctest: +SKIP
    >>> ts_path = export_torchscript(model, "model.pt")  # doctest: +SKIP
    >>> parity_on_sample(model, ts_path).max_abs_diff < 1e-4  # doctest: +SKIP
    True
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import logging
import os
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ._atomic import write_path_atomically
from ._checks import is_int
from ._tensors import eval_mode
from ._version import __version__
from .errors import InvalidArgumentError, MissingDependencyError

__all__ = [
    "MIN_OPSET",
    "ParityReport",
    "export_onnx",
    "export_torchscript",
    "onnx_metadata",
    "parity_on_sample",
    "sample_images",
]

_logger = logging.getLogger(__name__)
_EXTRA = 'pip install "brainvit-effnet[onnx]"'
#: The lowest ONNX opset :func:`export_onnx` writes: the one torch's dynamo exporter implements.
MIN_OPSET = 18
_TORCHSCRIPT_SUFFIXES = (".pt", ".pth", ".ts", ".torchscript")
# The networks' total stride; smaller images are refused by the models' own input check.
_MIN_SIDE = 32


def _require(*modules: str) -> None:
    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise MissingDependencyError(f"ONNX export needs {', '.join(missing)}: {_EXTRA}")


def _input_size(model: nn.Module, input_size: tuple[int, int, int] | None) -> tuple[int, ...]:
    size = input_size or tuple(getattr(model, "pretrained_cfg", {}).get("input_size", ()))
    if len(size) != 3:
        raise InvalidArgumentError(
            "pass input_size=(C, H, W): the model has no pretrained_cfg['input_size']."
        )
    return tuple(int(v) for v in size)


def export_onnx(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int, int] | None = None,
    opset: int = 18,
    dynamic_batch: bool = True,
    dynamic_image_size: bool = True,
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Export ``model`` (in eval mode) to ONNX with ``torch.onnx.export(dynamo=True)``.

    With ``dynamic_image_size`` the graph takes any height and width of at least 32 pixels (the total
    stride). A model whose forward cannot be traced for symbolic sizes (e.g. a fixed-size positional
    embedding without resampling) is exported at its input size instead, with a warning; which axes
    are dynamic is recorded in the file's ``dynamic_axes`` metadata either way.

    Args:
        model: A classifier; its ``pretrained_cfg["input_size"]`` gives the example input size.
        path: Output ``.onnx`` file; written to a temporary file first, then renamed.
        input_size: ``(C, H, W)`` if the model has no ``pretrained_cfg``.
        opset: ONNX opset version, at least :data:`MIN_OPSET` (the exporter's own).
        dynamic_batch: Let the batch dimension vary.
        dynamic_image_size: Let height and width vary, where the model allows it.
        verify: Run the exported graph with ONNX Runtime on batches of 1 and 3 (and, with dynamic
            image size, on a second image size) and compare with PyTorch; raise if they differ by
            more than ``atol``.
        atol: Tolerance of the verification.

    Returns:
        The path of the ``.onnx`` file.

    Raises:
        ImportError: the ``onnx`` extra is not installed (names the install command).
        ValueError: no input size known, an opset below :data:`MIN_OPSET`, or the exported graph
            disagrees with PyTorch.
    """
    if not is_int(opset) or opset < MIN_OPSET:
        raise InvalidArgumentError(
            f"opset must be an int >= {MIN_OPSET}, the opset torch's exporter writes; got {opset!r}. Lower "
            f"opsets go through ONNX's version converter, which can fail or run for minutes: export at "
            f"{MIN_OPSET}, then convert the file with onnx.version_converter if a runtime needs an older one."
        )
    _require("onnx", "onnxscript", *(("onnxruntime",) if verify else ()))
    size = _input_size(model, input_size)
    out = Path(path).expanduser()
    with eval_mode(model):
        program, axes = _onnx_program(model, size, opset, dynamic_batch, dynamic_image_size)
        batches = (1, 3) if dynamic_batch else (2,)
        sizes = [size]
        if "height" in axes.values():  # a second image size, so a graph frozen at one would fail
            sizes.append((size[0], size[1] + _MIN_SIDE, size[2] + 2 * _MIN_SIDE))

        def save_and_check(tmp: Path) -> None:  # checked before it replaces anything at `out`
            program.save(str(tmp))
            _add_metadata(tmp, model, size, axes)
            if verify:
                run = _onnx_runner(str(tmp))
                for checked in sizes:
                    _verify(model, run, checked, batches=batches, atol=atol, kind="ONNX")

        write_path_atomically(out, save_and_check)
    _logger.info("Exported %s to %s (dynamic axes %s)", type(model).__name__, out, axes)
    return out


def _dim(name: str) -> Any:
    return torch.export.Dim(name) if name == "batch" else torch.export.Dim(name, min=_MIN_SIDE)


def _onnx_program(
    model: nn.Module, size: tuple[int, ...], opset: int, dynamic_batch: bool, dynamic_image_size: bool
) -> tuple[Any, dict[int, str]]:
    """The exported program and its dynamic axes; falls back to a static image size where needed."""
    axes = {0: "batch"} if dynamic_batch else {}
    attempts = [{**axes, 2: "height", 3: "width"}] if dynamic_image_size else []
    for dims in [*attempts, axes]:
        dynamic: Any = {"x": {i: _dim(n) for i, n in dims.items()}} if dims else None
        # Traced at a size other than the configured one where the image size is dynamic: branches
        # such as "resample the positional grid unless the size is the configured one" then take
        # their general path instead of pinning the graph to one size.
        shift = _MIN_SIDE if 2 in dims else 0
        example = torch.randn(2, size[0], size[1] + shift, size[2] + shift)
        try:
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                dynamic_shapes=dynamic,
                opset_version=opset,
                verbose=False,
                input_names=["image"],
                output_names=["logits"],
            )
            if program is None:
                raise InvalidArgumentError(
                    "torch.onnx.export returned no program; update torch and onnxscript."
                )
            # The exporter may specialise an axis it was asked to keep dynamic; trust the graph.
            shape = program.model.graph.inputs[0].shape
            got = {i: n for i, n in dims.items() if shape is not None and not isinstance(shape[i], int)}
            if got != dims and dims != axes:
                raise InvalidArgumentError(f"the exporter fixed axes {sorted(set(dims) - set(got))}")
        except Exception as exc:  # torch.export's constraint errors have no common public base class
            if dims == axes:  # the static image size failed too: nothing left to fall back to
                raise
            _logger.warning(
                "%s cannot be exported with a dynamic image size (%s: %s); exporting at %s only.",
                type(model).__name__,
                type(exc).__name__,
                str(exc).splitlines()[0] if str(exc) else "",
                "x".join(map(str, size[1:])),
            )
            continue
        return program, got
    raise AssertionError("unreachable: the static attempt returns or raises")


def onnx_metadata(
    model: nn.Module, input_size: tuple[int, ...], dynamic_axes: dict[int, str] | None = None
) -> dict[str, str]:
    """What an ONNX consumer needs to feed the graph, as string metadata (JSON values).

    Keys: ``label_names``, ``mean``, ``std``, ``input_size`` ``[C, H, W]`` (the size the model was
    configured for), ``dynamic_axes`` (axis of ``image`` -> name, e.g. ``{"0": "batch", "2":
    "height", "3": "width"}``; the other axes are fixed), ``interpolation``, ``preprocessing`` (the
    brain crop and greyscale replication), ``architecture``, ``brainvit_effnet_version``; the input
    is named ``image`` and the output ``logits``.
    """
    cfg = getattr(model, "pretrained_cfg", None) or {}
    labels = cfg.get("label_names") or [f"class_{i}" for i in range(int(getattr(model, "num_classes", 0)))]
    return {
        "label_names": json.dumps(list(labels)),
        "mean": json.dumps(list(cfg.get("mean") or [])),
        "std": json.dumps(list(cfg.get("std") or [])),
        "input_size": json.dumps(list(input_size)),
        "dynamic_axes": json.dumps({str(k): v for k, v in (dynamic_axes or {}).items()}),
        "interpolation": json.dumps(cfg.get("interpolation")),
        "preprocessing": json.dumps(
            {
                "brain_crop": "the study's contour crop (brainvit_effnet.data.preprocess.brain_bbox) first",
                "grey_to_channels": f"the greyscale slice repeated to {input_size[0]} channel(s)",
                "scale": "grey levels in [0, 1], then (x - mean) / std",
            }
        ),
        "architecture": json.dumps(cfg.get("architecture")),
        "brainvit_effnet_version": __version__,
    }


def _add_metadata(path: Path, model: nn.Module, input_size: tuple[int, ...], axes: dict[int, str]) -> None:
    import onnx

    graph = onnx.load(str(path))
    for key, value in onnx_metadata(model, input_size, axes).items():
        entry = graph.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.save(graph, str(path))


def export_torchscript(
    model: nn.Module,
    path: str | os.PathLike[str],
    *,
    input_size: tuple[int, int, int] | None = None,
    verify: bool = True,
    atol: float = 1e-4,
) -> Path:
    """Export ``model`` (in eval mode) to TorchScript with ``torch.jit.trace``, for LibTorch/C++ use.

    The graph is traced at the model's input size: it takes any batch size, but only that image size
    (the models' shape checks are Python branches, frozen by the trace). ``torch.jit`` is deprecated
    upstream in favour of ``torch.export``; its deprecation warnings are silenced here. Load the file
    with ``torch.jit.load(path)``.

    Args:
        model: A classifier; its ``pretrained_cfg["input_size"]`` gives the example input size.
        path: Output file (``.pt`` by convention); written to a temporary file first, then renamed.
        input_size: ``(C, H, W)`` if the model has no ``pretrained_cfg``.
        verify: Load the saved file back and compare it with eager PyTorch on batches of 1 and 3;
            raise if they differ by more than ``atol``.
        atol: Tolerance of the verification.

    Returns:
        The path of the TorchScript file.

    Raises:
        ValueError: no input size known, or the traced graph disagrees with PyTorch.
    """
    size = _input_size(model, input_size)
    with eval_mode(model), warnings.catch_warnings():
        warnings.simplefilter("ignore", category=FutureWarning)  # torch.jit deprecation
        warnings.simplefilter("ignore", category=torch.jit.TracerWarning)  # shape checks frozen
        with torch.no_grad():
            traced = torch.jit.trace(model, torch.randn(2, *size), check_trace=False)

        def save_and_check(tmp: Path) -> None:
            torch.jit.save(traced, str(tmp))
            if verify:
                loaded = torch.jit.load(str(tmp), map_location="cpu")
                _verify(model, _torch_runner(loaded), size, batches=(1, 3), atol=atol, kind="TorchScript")

        out = write_path_atomically(Path(path).expanduser(), save_and_check)
    _logger.info("Exported %s to TorchScript %s", type(model).__name__, out)
    return out


@dataclasses.dataclass(frozen=True)
class ParityReport:
    """How closely an exported file reproduces the eager model's logits on real images.

    Attributes:
        format: ``"onnx"`` or ``"torchscript"``.
        n_images: Images compared.
        image_size: ``(C, H, W)`` of the preprocessed images.
        max_abs_diff: Largest absolute logit difference over all images and classes.
        mean_abs_diff: Mean absolute logit difference.
        argmax_agreement: Fraction of images whose predicted class is the same.
        source: Where the images came from.
    """

    format: str
    n_images: int
    image_size: tuple[int, ...]
    max_abs_diff: float
    mean_abs_diff: float
    argmax_agreement: float
    source: str

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        out = dataclasses.asdict(self)
        out["image_size"] = list(self.image_size)
        return out


def sample_images(model: nn.Module, n: int = 16, *, folds: list[int] | None = None) -> torch.Tensor:
    """``n`` real MRI slices of the bundled Figshare sample, preprocessed for ``model``.

    The slices are spread evenly over the sample (all three tumour types) and go through the model's
    eval transform (:func:`brainvit_effnet.data.create_transforms`): resized to its input size,
    channel-replicated and normalised.

    Args:
        model: A model with a ``pretrained_cfg`` (input size, mean, std).
        n: Number of slices (at most the sample's 96, or fewer with ``folds``).
        folds: Official folds to draw from (default: all).

    Returns:
        A float tensor ``(n, C, H, W)``.
    """
    from .data import create_transforms, load_sample

    if n < 1:
        raise InvalidArgumentError(f"n must be >= 1; got {n}.")
    _, eval_transform = create_transforms(model)
    sample = load_sample(folds, transform=eval_transform)
    if n > len(sample):
        raise InvalidArgumentError(
            f"the bundled sample has {len(sample)} slices for folds {folds}; asked for {n}."
        )
    indices = np.linspace(0, len(sample) - 1, n).round().astype(int)
    return torch.stack([sample[int(i)][0] for i in indices])


def parity_on_sample(
    model: nn.Module,
    exported: str | os.PathLike[str],
    *,
    images: torch.Tensor | None = None,
    n_images: int = 16,
    batch_size: int = 8,
) -> ParityReport:
    """Compare an exported file's logits with the eager model's on real images.

    Args:
        model: The eager model the file was exported from (put in eval mode for the comparison, then
            restored).
        exported: An ``.onnx`` file (run with ONNX Runtime, CPU) or a TorchScript file (``.pt``,
            ``.pth``, ``.ts``, ``.torchscript``; run with ``torch.jit.load``).
        images: Preprocessed images ``(N, C, H, W)``; default :func:`sample_images` of the bundled sample.
        n_images: Number of sample images when ``images`` is not given.
        batch_size: Images per forward pass.

    Returns:
        A :class:`ParityReport` (max and mean absolute logit difference, argmax agreement).

    Raises:
        ImportError: an ONNX file and no onnxruntime.
        ValueError: an unknown file suffix, or no images.
    """
    path = Path(exported)
    suffix = path.suffix.lower()
    if suffix == ".onnx":
        _require("onnxruntime")
        fmt, run = "onnx", _onnx_runner(str(path))
    elif suffix in _TORCHSCRIPT_SUFFIXES:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", category=FutureWarning)
            loaded = torch.jit.load(str(path), map_location="cpu")
        fmt, run = "torchscript", _torch_runner(loaded)
    else:
        raise InvalidArgumentError(
            f"cannot tell the format of {path.name}: use .onnx or one of {', '.join(_TORCHSCRIPT_SUFFIXES)}."
        )
    source = "given images"
    if images is None:
        images = sample_images(model, n_images)
        source = "bundled Figshare sample (real MRI slices), eval transform"
    if images.ndim != 4 or len(images) == 0:
        raise InvalidArgumentError(
            f"images must be a non-empty (N, C, H, W) batch; got shape {tuple(images.shape)}."
        )
    expected, got = [], []
    with eval_mode(model), torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = images[start : start + batch_size].float().contiguous()
            expected.append(model(x).float().numpy())
            got.append(run(x))
    e, g = np.concatenate(expected), np.concatenate(got)
    diff = np.abs(e.astype(np.float64) - g.astype(np.float64))
    return ParityReport(
        format=fmt,
        n_images=len(images),
        image_size=tuple(int(v) for v in images.shape[1:]),
        max_abs_diff=float(diff.max()),
        mean_abs_diff=float(diff.mean()),
        argmax_agreement=float((e.argmax(1) == g.argmax(1)).mean()),
        source=source,
    )


# -- helpers --------------------------------------------------------------------------------------
_Runner = Callable[[torch.Tensor], np.ndarray]


def _onnx_runner(path: str) -> _Runner:
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> np.ndarray:
        return np.asarray(session.run(None, {name: x.numpy()})[0])

    return run


def _torch_runner(module: Any) -> _Runner:
    def run(x: torch.Tensor) -> np.ndarray:
        with torch.no_grad():
            return module(x).float().numpy()

    return run


def _verify(
    model: nn.Module, run: _Runner, size: tuple[int, ...], batches: tuple[int, ...], atol: float, kind: str
) -> None:
    for batch in batches:
        x = torch.randn(batch, *size)
        with torch.no_grad():
            expected = model(x).numpy()
        got = run(x)
        if not (np.isfinite(expected).all() and np.isfinite(got).all()):
            raise InvalidArgumentError(
                f"the model gives NaN or infinite logits for batch {batch} (PyTorch: "
                f"{int((~np.isfinite(expected)).sum())}, {kind}: {int((~np.isfinite(got)).sum())} values): "
                f"nothing to verify the export against. Check the weights for NaN."
            )
        error = float(abs(got - expected).max())
        if got.shape != expected.shape or not error <= atol:  # written so that NaN fails too
            raise InvalidArgumentError(
                f"the exported {kind} graph disagrees with PyTorch for batch {batch}: shapes {got.shape} vs "
                f"{expected.shape}, max abs difference {error:.2e} > atol {atol:g}."
            )
