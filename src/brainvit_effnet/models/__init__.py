"""The model zoo: baseline and transformer-enhanced EfficientNets behind ``create_model``."""

from ._factory import create_model, list_models
from .effnet import EffNetBaseline, EffNetTransformer
from .zoo import BRAIN_TUMOUR_HUB_REPOS

__all__ = ["BRAIN_TUMOUR_HUB_REPOS", "EffNetBaseline", "EffNetTransformer", "create_model", "list_models"]
