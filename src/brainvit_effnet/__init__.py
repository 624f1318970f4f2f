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
``import brainvit_effnet`` does not pay for, say, the explanation methods. ``ExperimentConfig``
is imported on first use too (the experiment layer brings the report figures, matplotlib).
"""

import importlib as _importlib
from typing import TYPE_CHECKING as _TYPE_CHECKING
from typing import Any as _Any

from ._version import __version__
from .data import preprocess_for
from .errors import (
    BrainvitError,
    CheckpointError,
    TrainingInterrupted,
    UnknownModelError,
    WeightsUnavailableError,
)
from .hub import from_pretrained, push_to_hub, save_pretrained
from .labels import BRAIN_TUMOUR_CLASSES, TUMOUR_TYPE_CLASSES
from .models import EffNetBaseline, EffNetTransformer, create_model, list_models
from .train import Callback, TrainConfig, Trainer, TrainingDivergedError

if _TYPE_CHECKING:  # imported on first use (below): the experiment layer pulls in the report figures
    from .experiment import ExperimentConfig

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
#: Names exported here whose module is imported when first used: name -> module.
_LAZY = {"ExperimentConfig": "experiment"}


def __getattr__(name: str) -> _Any:
    # Called only for names not found otherwise (PEP 562): import a public subpackage, or the
    # module of a lazily exported name, on first use.
    if name in _SUBMODULES:
        return _importlib.import_module(f"{__name__}.{name}")
    if name in _LAZY:
        value = getattr(_importlib.import_module(f"{__name__}.{_LAZY[name]}"), name)
        globals()[name] = value  # later lookups are plain attribute reads
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_SUBMODULES) | set(_LAZY))
