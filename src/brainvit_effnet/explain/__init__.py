"""Explainability: Grad-CAM family, attention rollout, overlays, and localisation scores.

Everything here uses only the model interface (``cam_target_layers``, ``record_attention``,
``reshape_tokens``...), so the CAM methods also run on plain timm CNNs.

Examples:
    >>> import torch, brainvit_effnet as bve
    >>> from brainvit_effnet.explain import GradCAM, attention_rollout
    >>> model = bve.create_model("effnet_test_tf", num_classes=3).eval()
    >>> x = torch.randn(2, 3, 64, 64)
    >>> with GradCAM(model) as cam:
    ...     maps = cam(x)            # (2, 64, 64) in [0, 1], predicted class
    >>> rollout = attention_rollout(model, x)   # (2, 2, 2) on the feature grid
"""

from .attention import (
    attention_rollout,
    last_layer_attention,
    last_layer_attention_map,
    rollout_matrices,
    upsample,
)
from .cam import BaseCAM, CamResult, ClassTarget, GradCAM, GradCAMPlusPlus, TokenGradCAM, token_gradcam
from .overlay import colorize, draw_outline, explanation_grid, overlay_heatmap, save_grid, save_overlay
from .reliance import hide_region, place_control_region, tumour_reliance
from .scores import deletion_auc, energy_inside, insertion_auc, iou_at_threshold, mask_fraction, pointing_game
from .scoring import METHODS, available_methods, explain, score_explanations, write_explanation_report

__all__ = [
    "METHODS",
    "BaseCAM",
    "CamResult",
    "ClassTarget",
    "GradCAM",
    "GradCAMPlusPlus",
    "TokenGradCAM",
    "attention_rollout",
    "available_methods",
    "colorize",
    "deletion_auc",
    "draw_outline",
    "energy_inside",
    "explain",
    "explanation_grid",
    "hide_region",
    "insertion_auc",
    "iou_at_threshold",
    "last_layer_attention",
    "last_layer_attention_map",
    "mask_fraction",
    "overlay_heatmap",
    "place_control_region",
    "pointing_game",
    "rollout_matrices",
    "save_grid",
    "save_overlay",
    "score_explanations",
    "token_gradcam",
    "tumour_reliance",
    "upsample",
    "write_explanation_report",
]
