"""brainvit-effnet: EfficientNet and transformer-enhanced EfficientNet for brain-tumour MRI.

Research software, not a medical device: not for clinical use.

Examples:
    >>> import brainvit_effnet as bve
    >>> bve.list_models("effnet_b2*")
    ['effnet_b2', 'effnet_b2_tf']
    >>> model = bve.create_model("effnet_test_tf", num_classes=3)
    >>> preprocess = bve.preprocess_for(model)  # brain crop, resize, normalise: as in training

The subpackages ``bve.data``, ``bve.explain``, ``bve.losses``, ``bve.metrics`` and ``bve.models``
are attributes on purpose; one that is not yet imported is imported when first used (PEP 562), so
``import brainvit_effnet`` does not pay for, say, the explanation methods.
"""

import importlib as _importlib
from types import ModuleType as _ModuleType

from ._version import __version__
from .data import preprocess_for
from .errors import (
    BrainvitError,
    CheckpointError,
    TrainingInterrupted,
    UnknownModelError,
    WeightsUnavailableError,
)
from .experiment import ExperimentConfig
from .hub import from_pretrained, push_to_hub, save_pretrained
from .labels import BRAIN_TUMOUR_CLASSES, TUMOUR_TYPE_CLASSES
from .models import EffNetBaseline, EffNetTransformer, create_model, list_models
from .train import Callback, TrainConfig, Trainer, TrainingDivergedError

__all__ = [
    "BRAIN_TUMOUR_CLASSES",
    "TUMOUR_TYPE_CLASSES",
    "BrainvitError",
    "Callback",
    "CheckpointError",
    "EffNetBaseline",
    "EffNetTransformer",
    "ExperimentConfig",
    "TrainConfig",
    "Trainer",
    "TrainingDivergedError",
    "TrainingInterrupted",
    "UnknownModelError",
    "WeightsUnavailableError",
    "__version__",
    "create_model",
    "from_pretrained",
    "list_models",
    "preprocess_for",
    "push_to_hub",
    "save_pretrained",
]

#: Subpackages reachable as attributes (``bve.metrics``...), imported when first used.
_SUBMODULES = ("data", "explain", "losses", "metrics", "models")


def __getattr__(name: str) -> _ModuleType:
    # Called only for names not found otherwise (PEP 562): import a public subpackage on first use.
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES))
