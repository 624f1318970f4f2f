"""The model zoo: baseline and transformer-enhanced EfficientNets behind ``create_model``."""

from ._factory import create_model, list_models, resolve_model_config
from .effnet import EffNetBaseline, EffNetTransformer
from .names import ModelName, parse_model_name
from .zoo import BRAIN_TUMOUR_HUB_REPOS

__all__ = [
    "BRAIN_TUMOUR_HUB_REPOS",
    "EffNetBaseline",
    "EffNetTransformer",
    "ModelName",
    "create_model",
    "list_models",
    "parse_model_name",
    "resolve_model_config",
]
