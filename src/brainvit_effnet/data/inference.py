"""A trained model's eval-time preprocessing in one call: :func:`preprocess_for`.

What a model saw in training, and so what an input must go through before ``model(x)``:

1. read the slice as greyscale in ``[0, 1]`` (a file: images, DICOM, NIfTI, as the datasets read it);
2. the study's brain crop, when the model was trained with it (a collapsed box falls back to the
   uncropped slice, as in the datasets);
3. resize to ``input_size`` (bilinear with antialiasing; no centre crop), repeat the grey channel,
   normalise with the model's ``mean``/``std`` (:func:`~.transforms.create_transforms`' eval transform).

timm's ``timm.data.resolve_model_data_config`` with ``timm.data.create_transform`` does *not*
reproduce this: it has no brain crop and resizes then centre-crops an RGB image, so its tensors
differ from these on most real slices. :func:`preprocess_for` is the call to use.

Examples:
    >>> import torch
    >>> import brainvit_effnet as bve
    >>> model = bve.create_model("effnet_test", num_classes=3).eval()
    >>> preprocess = bve.preprocess_for(model)
    >>> preprocess(torch.rand(1, 100, 80)).shape
    torch.Size([3, 64, 64])
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from .base import Decoded, crop_decoded, warn_crop_fallback
from .images import read_unit
from .transforms import (
    RESIZE_ANTIALIAS,
    RESIZE_INTERPOLATION,
    ImageInput,
    MRITransform,
    _as_image_tensor,
    _pretrained_cfg,
    create_transforms,
)

__all__ = ["PREPROCESSING_KEY", "Preprocess", "preprocess_for", "preprocessing_of", "preprocessing_record"]

#: Key of ``pretrained_cfg`` (and so of a saved ``config.json``) that records the preprocessing.
PREPROCESSING_KEY = "preprocessing"
#: Every dataset adapter crops to the brain unless told ``crop=False``: the default of a model
#: whose config records nothing.
DEFAULT_BRAIN_CROP = True


def preprocessing_record(
    brain_crop: bool = DEFAULT_BRAIN_CROP, in_chans: int | None = None
) -> dict[str, Any]:
    """The preprocessing this library applies, as ``save_pretrained`` records it in ``config.json``.

    Args:
        brain_crop: Whether the model was trained on brain-cropped slices.
        in_chans: The model's input channels, for the ``channels`` text.

    Returns:
        ``{"brain_crop", "interpolation", "antialias", "center_crop", "channels"}``.
    """
    return {
        "brain_crop": bool(brain_crop),
        "interpolation": RESIZE_INTERPOLATION,
        "antialias": RESIZE_ANTIALIAS,
        "center_crop": False,
        "channels": (
            "the greyscale slice repeated to every input channel"
            if in_chans is None
            else "the greyscale slice (1 channel)"
            if in_chans == 1
            else f"the greyscale slice repeated to {in_chans} channels"
        ),
    }


def preprocessing_of(model_or_cfg: nn.Module | Mapping[str, Any]) -> dict[str, Any]:
    """The preprocessing recorded for a model (or its ``pretrained_cfg``).

    Read from ``pretrained_cfg["preprocessing"]``; configs written before that key existed record
    it under ``pretrained_cfg["provenance"]["preprocessing"]`` (the bundled ``effnet_b0.figshare``),
    which is read too. What neither records is this library's default (:func:`preprocessing_record`).
    """
    cfg = _pretrained_cfg(model_or_cfg)
    record = preprocessing_record()
    provenance = cfg.get("provenance")
    if isinstance(provenance, Mapping) and isinstance(provenance.get(PREPROCESSING_KEY), Mapping):
        record.update(provenance[PREPROCESSING_KEY])
    if isinstance(cfg.get(PREPROCESSING_KEY), Mapping):
        record.update(cfg[PREPROCESSING_KEY])
    return record


class Preprocess:
    """One slice in, the tensor the model expects out; see the module docstring for the steps.

    Usually built by :func:`preprocess_for`.

    Args:
        transform: The eval transform (resize, channels, normalisation).
        brain_crop: Crop to the brain before the transform.
    """

    def __init__(self, transform: MRITransform, *, brain_crop: bool) -> None:
        self.transform = transform
        self.brain_crop = bool(brain_crop)

    def __call__(self, image: ImageInput | str | os.PathLike[str]) -> torch.Tensor:
        """Preprocess one slice.

        Args:
            image: A file path (PNG/JPEG/TIFF..., ``.dcm``, ``.nii[.gz]``, ``"volume.nii.gz::z=N"``),
                or an image as :class:`~.transforms.MRITransform` accepts it (a ``(1, H, W)`` float
                tensor in ``[0, 1]``, a uint8 tensor, a ``(H, W)`` numpy array, a PIL image).

        Returns:
            A float32 ``(C, H, W)`` tensor; stack several (``torch.stack``) for a batch.

        Raises:
            FileNotFoundError, ValueError, TypeError: an unreadable file or unsupported image, named.
        """
        if isinstance(image, (str, os.PathLike)):
            pixels = torch.from_numpy(read_unit(os.fspath(image)))[None]
        else:
            pixels = _as_image_tensor(image)
        if self.brain_crop:
            cropped = crop_decoded(Decoded(pixels, None, None))
            if cropped is not None:
                pixels = cropped.image
            else:  # a collapsed box: the uncropped slice, as the datasets do, and said as they say it
                warn_crop_fallback(os.fspath(image) if isinstance(image, (str, os.PathLike)) else "the image")
        return self.transform(pixels)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(brain_crop={self.brain_crop}, transform={self.transform!r})"


def preprocess_for(
    model_or_cfg: nn.Module | Mapping[str, Any], *, brain_crop: bool | None = None
) -> Preprocess:
    """The eval-time preprocessing of ``model``: what ``brainvit-effnet predict`` applies.

    Args:
        model_or_cfg: A model from :func:`~brainvit_effnet.create_model` / ``from_pretrained`` (or
            ``timm.create_model`` after ``import brainvit_effnet``), or its ``pretrained_cfg``.
        brain_crop: Override the brain crop; by default what the model's config records
            (:func:`preprocessing_of`), on when it records nothing.

    Returns:
        A :class:`Preprocess`: ``preprocess(path_or_image) -> (C, H, W) tensor``.

    Examples:
        >>> import brainvit_effnet as bve
        >>> from brainvit_effnet.data import load_heldout_sample
        >>> model = bve.create_model("effnet_b0.figshare", pretrained=True).eval()
        >>> preprocess = bve.preprocess_for(model)
        >>> path = load_heldout_sample().records[0].source
        >>> preprocess(path).shape
        torch.Size([3, 192, 192])
    """
    crop = preprocessing_of(model_or_cfg)["brain_crop"] if brain_crop is None else brain_crop
    _, evaluation = create_transforms(model_or_cfg, augment=False)
    return Preprocess(evaluation, brain_crop=bool(crop))
