"""Train/eval transforms for greyscale MRI slices, with masks kept aligned.

Conventions: an image is a float32 tensor ``(1, H, W)`` in ``[0, 1]``; a mask is a bool or integer
tensor ``(H, W)`` (non-zero = inside). :func:`create_transforms` reads the model's input size and
normalisation from its ``pretrained_cfg`` and returns a ``(train, eval)`` pair of :class:`MRITransform`.

The training transform applies the study's on-the-fly augmentation (random rotation, shift and
horizontal/vertical flips; Zulfiqar et al.), drawn afresh on every call from torch's global random
generator, so ``torch.manual_seed`` makes it reproducible. Geometric steps go through
``torchvision.transforms.v2`` with ``tv_tensors.Image``/``tv_tensors.Mask``, so a mask gets exactly
the image's geometry (nearest-neighbour sampling) and is never normalised or intensity-jittered.

Examples:
    >>> import torch
    >>> cfg = {"input_size": (3, 64, 64), "mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225)}
    >>> train_tf, eval_tf = create_transforms(cfg)
    >>> image = torch.rand(1, 100, 80)
    >>> eval_tf(image).shape
    torch.Size([3, 64, 64])
    >>> x, mask = train_tf(image, torch.zeros(100, 80, dtype=torch.bool))
    >>> x.shape, mask.shape, mask.dtype
    (torch.Size([3, 64, 64]), torch.Size([64, 64]), torch.bool)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any, TypeAlias, overload

import numpy as np
import torch
from PIL import Image as PILImage
from torch import nn
from torchvision import tv_tensors
from torchvision.transforms import v2
from torchvision.transforms.v2 import functional as F

from .._checks import is_int, is_real
from ..errors import InvalidArgumentError, InvalidTypeError
from .images import grey_levels
from .mri_augment import MRIArtefacts
from .preprocess import to_unit_float

__all__ = [
    "RESIZE_ANTIALIAS",
    "RESIZE_INTERPOLATION",
    "ImageInput",
    "MRITransform",
    "MaskInput",
    "create_transforms",
]

ImageInput: TypeAlias = torch.Tensor | np.ndarray | PILImage.Image
"""An image as :class:`MRITransform` accepts it (see :meth:`MRITransform.__call__`)."""
MaskInput: TypeAlias = torch.Tensor | np.ndarray
"""A mask as :class:`MRITransform` accepts it: bool or integer ``(H, W)`` / ``(1, H, W)``."""

_RANGE_TOLERANCE = 1e-3

#: How :class:`MRITransform` resizes an image, whatever a config's ``interpolation`` says; saved
#: configs record these (``pretrained_cfg["interpolation"]`` and ``["preprocessing"]``).
RESIZE_INTERPOLATION = "bilinear"
#: Whether that resize antialiases (torchvision's ``antialias=True``) when it downscales.
RESIZE_ANTIALIAS = True
_RESIZE_MODE = v2.InterpolationMode(RESIZE_INTERPOLATION)


class MRITransform:
    """Resize, optionally augment, expand channels and normalise one greyscale MRI slice.

    Steps: resize to ``size`` (bilinear with antialiasing for the image, nearest pixel centre for the mask) ->
    if ``augment``: ``RandomAffine(degrees=rotation, translate=(shift, shift))`` (bilinear, zero fill),
    ``RandomHorizontalFlip``, ``RandomVerticalFlip`` (each p = 0.5, when enabled), if ``scale > 0``
    a random zoom in ``[1 - scale, 1 + scale]`` (part of the same affine), if
    ``intensity_jitter > 0`` brightness/contrast jitter of that strength, and if
    ``mri_artefacts > 0`` random MRI artefacts of that strength
    (:class:`~brainvit_effnet.data.mri_augment.MRIArtefacts`: bias field, gamma, anisotropy, blur,
    noise, ghosting, motion), these two on the image only ->
    repeat the single channel ``in_chans`` times -> ``Normalize(mean, std)``.

    Usually built by :func:`create_transforms`.

    Args:
        size: Output ``(H, W)``.
        mean: Per-channel mean, ``in_chans`` values (or one, used for every channel).
        std: Per-channel standard deviation, like ``mean``; all > 0.
        in_chans: Output channels (1 for a greyscale stem, 3 for an RGB one).
        augment: Apply the random training augmentation.
        rotation: Maximum rotation in degrees (uniform in ``[-rotation, rotation]``).
        shift: Maximum translation as a fraction of width/height, in ``[0, 1]``.
        hflip: Random horizontal flips.
        vflip: Random vertical flips.
        intensity_jitter: Brightness and contrast factors are drawn from
            ``[max(0, 1 - j), 1 + j]``; 0 disables the jitter.
        scale: Random zoom: the scale factor is drawn from ``[1 - scale, 1 + scale]``, in ``[0, 1)``;
            0 disables it. Other sources frame the brain tighter or looser than Figshare.
        mri_artefacts: Strength of the MRI artefact augmentation (0 = off; 1 = the library's
            default magnitudes); needs TorchIO (``pip install "brainvit-effnet[augment]"``).

    Raises:
        TypeError, ValueError: A parameter has the wrong type or is out of range.

    Examples:
        >>> tf = MRITransform((32, 32), mean=(0.5,), std=(0.25,), in_chans=1)
        >>> out = tf(torch.full((1, 40, 40), 0.75))  # (0.75 - 0.5) / 0.25 = 1
        >>> out.shape, torch.allclose(out, torch.ones(1, 32, 32))
        (torch.Size([1, 32, 32]), True)
    """

    def __init__(
        self,
        size: tuple[int, int],
        mean: Sequence[float],
        std: Sequence[float],
        *,
        in_chans: int = 3,
        augment: bool = False,
        rotation: float = 10.0,
        shift: float = 0.1,
        hflip: bool = True,
        vflip: bool = True,
        intensity_jitter: float = 0.0,
        scale: float = 0.0,
        mri_artefacts: float = 0.0,
    ) -> None:
        self.size = _check_size(size)
        self.in_chans = _check_in_chans(in_chans)
        self.mean = _check_stats("mean", mean, self.in_chans)
        self.std = _check_stats("std", std, self.in_chans)
        if any(s <= 0 for s in self.std):
            raise InvalidArgumentError(
                f"std must be > 0 for every channel; got {self.std}. Check the model's pretrained_cfg."
            )
        self.augment = bool(augment)
        self.rotation = _check_number("rotation", rotation, low=0.0, high=180.0)
        self.shift = _check_number("shift", shift, low=0.0, high=1.0)
        self.intensity_jitter = _check_number("intensity_jitter", intensity_jitter, low=0.0, high=None)
        self.scale = _check_number("scale", scale, low=0.0, high=0.99)
        self.mri_artefacts = _check_number("mri_artefacts", mri_artefacts, low=0.0, high=None)
        self.hflip = bool(hflip)
        self.vflip = bool(vflip)

        steps: list[nn.Module] = []
        if self.augment:
            if self.rotation > 0 or self.shift > 0 or self.scale > 0:
                steps.append(
                    v2.RandomAffine(
                        degrees=self.rotation,
                        translate=(self.shift, self.shift),
                        scale=(1 - self.scale, 1 + self.scale) if self.scale > 0 else None,
                        interpolation=v2.InterpolationMode.BILINEAR,  # masks are always sampled nearest
                        fill=0,
                    )
                )
            if self.hflip:
                steps.append(v2.RandomHorizontalFlip(p=0.5))
            if self.vflip:
                steps.append(v2.RandomVerticalFlip(p=0.5))
            if self.intensity_jitter > 0:
                # ColorJitter leaves tv_tensors.Mask untouched.
                steps.append(v2.ColorJitter(brightness=self.intensity_jitter, contrast=self.intensity_jitter))
        self._augment = v2.Compose(steps) if steps else None
        self._artefacts = (
            MRIArtefacts(self.mri_artefacts) if self.augment and self.mri_artefacts > 0 else None
        )

    @overload
    def __call__(self, image: ImageInput, mask: None = None) -> torch.Tensor: ...

    @overload
    def __call__(self, image: ImageInput, mask: MaskInput) -> tuple[torch.Tensor, torch.Tensor]: ...

    def __call__(
        self, image: ImageInput, mask: MaskInput | None = None
    ) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        """Transform one image, and its mask if given.

        Args:
            image: One greyscale slice: a float tensor ``(1, H, W)``/``(H, W)`` in ``[0, 1]`` or a
                uint8 tensor (divided by 255); a ``(3, H, W)`` tensor is averaged over its channels; a
                ``(H, W)`` numpy array (converted by :func:`~brainvit_effnet.data.to_unit_float`:
                uint8 / 255, other dtypes min-max scaled); or a PIL image (8-bit modes / 255, RGB
                averaged over channels, 16-bit/32-bit modes min-max scaled).
            mask: Optional bool or integer ``(H, W)`` or ``(1, H, W)`` tensor or numpy array with the
                image's ``H, W``; non-zero means inside.

        Returns:
            The normalised float32 tensor ``(in_chans, *size)``, or ``(tensor, mask)`` with the mask
            as bool ``size`` when a mask is given.

        Raises:
            TypeError: ``image``/``mask`` has an unsupported type or dtype.
            ValueError: ``image``/``mask`` has an unsupported shape, or a float image is outside
                ``[0, 1]``.
        """
        pixels = _as_image_tensor(image)
        target = None if mask is None else _as_mask_tensor(mask, pixels.shape[-2:])

        pixels = F.resize(pixels, list(self.size), interpolation=_RESIZE_MODE, antialias=RESIZE_ANTIALIAS)
        if target is not None:
            # NEAREST_EXACT samples pixel centres, like the image's bilinear resize.
            target = F.resize(target, list(self.size), interpolation=v2.InterpolationMode.NEAREST_EXACT)

        if self._augment is not None:
            if target is None:
                pixels = self._augment(tv_tensors.Image(pixels))
            else:
                pixels, target = self._augment(tv_tensors.Image(pixels), tv_tensors.Mask(target))
        if self._artefacts is not None:
            pixels = self._artefacts(pixels.as_subclass(torch.Tensor))

        out = pixels.as_subclass(torch.Tensor).clamp(0.0, 1.0)
        if self.in_chans != 1:
            out = out.repeat(self.in_chans, 1, 1)
        out = F.normalize(out, mean=list(self.mean), std=list(self.std))
        if target is None:
            return out
        return out, target.as_subclass(torch.Tensor)[0].bool()

    def __repr__(self) -> str:
        height, width = self.size
        lines = [f"Resize(size=({height}, {width}), image=bilinear+antialias, mask=nearest-exact)"]
        if self.augment:
            if self.rotation > 0 or self.shift > 0 or self.scale > 0:
                zoom = f", scale=({1 - self.scale:g}, {1 + self.scale:g})" if self.scale > 0 else ""
                lines.append(
                    f"RandomAffine(degrees=±{self.rotation:g}, "
                    f"translate=({self.shift:g}, {self.shift:g}){zoom}, "
                    "image=bilinear, mask=nearest, fill=0)"
                )
            if self.hflip:
                lines.append("RandomHorizontalFlip(p=0.5)")
            if self.vflip:
                lines.append("RandomVerticalFlip(p=0.5)")
            if self.intensity_jitter > 0:
                lines.append(
                    f"ColorJitter(brightness={self.intensity_jitter:g}, contrast={self.intensity_jitter:g}, "
                    "image only)"
                )
            if self._artefacts is not None:
                lines.append(f"{self._artefacts!r} (image only)")
        if self.in_chans != 1:
            lines.append(f"RepeatChannels(1 -> {self.in_chans})")
        mean = ", ".join(f"{m:.4g}" for m in self.mean)
        std = ", ".join(f"{s:.4g}" for s in self.std)
        lines.append(f"Normalize(mean=({mean}), std=({std}), image only)")
        body = "".join(f"    {line},\n" for line in lines)
        return f"{type(self).__name__}(augment={self.augment}, steps=[\n{body}])"


def create_transforms(
    model_or_cfg: nn.Module | Mapping[str, Any],
    *,
    augment: bool = True,
    rotation: float = 10.0,
    shift: float = 0.1,
    hflip: bool = True,
    vflip: bool = True,
    intensity_jitter: float = 0.0,
    scale: float = 0.0,
    mri_artefacts: float = 0.0,
    in_chans: int | None = None,
) -> tuple[MRITransform, MRITransform]:
    """Build the ``(train, eval)`` transforms for a model from its ``pretrained_cfg``.

    Both resize to ``input_size[1:]``, repeat the greyscale channel to ``in_chans`` channels and
    normalise with the config's ``mean``/``std``; the train transform also applies the study's random
    augmentation (see :class:`MRITransform`) unless ``augment=False``.

    Args:
        model_or_cfg: A model with a ``pretrained_cfg`` dict, or such a dict, with ``input_size``
            ``(C, H, W)``, ``mean`` and ``std``.
        augment: Augment in the train transform (``False`` makes it identical to the eval one).
        rotation: Maximum rotation in degrees.
        shift: Maximum translation as a fraction of the image size.
        hflip: Random horizontal flips.
        vflip: Random vertical flips.
        intensity_jitter: Brightness/contrast jitter strength (0 = off), image only.
        scale: Random zoom range ``[1 - scale, 1 + scale]`` (0 = off).
        mri_artefacts: MRI artefact augmentation strength (0 = off), image only; needs TorchIO.
        in_chans: Output channels; defaults to ``input_size[0]``. With ``in_chans=1`` and a 3-value
            mean/std, their averages are used (as a greyscale stem adapted from RGB weights sees).

    Returns:
        ``(train_transform, eval_transform)``.

    Raises:
        TypeError: ``model_or_cfg`` is neither a mapping nor has a ``pretrained_cfg`` mapping.
        ValueError: The config lacks ``input_size``/``mean``/``std`` or they are malformed, or a
            parameter is out of range.

    Examples:
        >>> import brainvit_effnet as bve
        >>> model = bve.create_model("effnet_test_tf", num_classes=3)
        >>> train_tf, eval_tf = create_transforms(model, intensity_jitter=0.1)
        >>> eval_tf(torch.rand(1, 120, 100)).shape
        torch.Size([3, 64, 64])
    """
    cfg = _pretrained_cfg(model_or_cfg)
    missing = [key for key in ("input_size", "mean", "std") if cfg.get(key) is None]
    if missing:
        raise InvalidArgumentError(
            f"pretrained_cfg lacks {missing}; expected 'input_size' (C, H, W), 'mean' and 'std'. "
            "Pass a model created by brainvit_effnet.create_model, or a dict with those keys."
        )
    input_size = cfg["input_size"]
    if not isinstance(input_size, Sequence) or len(input_size) != 3 or not all(is_int(v) for v in input_size):
        raise InvalidArgumentError(
            f"pretrained_cfg['input_size'] must be (C, H, W) ints, e.g. (3, 224, 224); got {input_size!r}."
        )
    channels = int(input_size[0]) if in_chans is None else _check_in_chans(in_chans)
    mean = _resolve_stats("mean", cfg["mean"], channels)
    std = _resolve_stats("std", cfg["std"], channels)
    size = (int(input_size[1]), int(input_size[2]))
    train = MRITransform(
        size,
        mean,
        std,
        in_chans=channels,
        augment=augment,
        rotation=rotation,
        shift=shift,
        hflip=hflip,
        vflip=vflip,
        intensity_jitter=intensity_jitter,
        scale=scale,
        mri_artefacts=mri_artefacts,
    )
    evaluation = MRITransform(size, mean, std, in_chans=channels, augment=False)
    return train, evaluation


# --------------------------------------------------------------------------------------------- helpers


def _pretrained_cfg(model_or_cfg: object) -> Mapping[str, Any]:
    if isinstance(model_or_cfg, Mapping):
        return model_or_cfg
    cfg = getattr(model_or_cfg, "pretrained_cfg", None)
    if isinstance(cfg, Mapping):
        return cfg
    raise InvalidTypeError(
        f"create_transforms expects a model with a pretrained_cfg dict, or that dict; got "
        f"{type(model_or_cfg).__name__}"
        + (" whose pretrained_cfg is missing or not a dict" if isinstance(model_or_cfg, nn.Module) else "")
        + ". Pass a model from brainvit_effnet.create_model, or "
        "{'input_size': (C, H, W), 'mean': (...), 'std': (...)}."
    )


def _floats(name: str, values: object) -> tuple[float, ...]:
    if is_real(values):
        return (float(values),)
    if not isinstance(values, Sequence) or isinstance(values, str) or len(values) == 0:
        raise InvalidArgumentError(
            f"{name} must be a non-empty sequence of numbers, e.g. (0.5,); got {values!r}."
        )
    try:
        out = tuple(float(v) for v in values)
    except (TypeError, ValueError):
        raise InvalidArgumentError(f"{name} must be a sequence of numbers; got {values!r}.") from None
    if not all(math.isfinite(v) for v in out):
        raise InvalidArgumentError(f"{name} must be finite; got {out}.")
    return out


def _check_stats(name: str, values: Sequence[float], in_chans: int) -> tuple[float, ...]:
    """Per-channel statistics: ``in_chans`` values, or one value repeated."""
    out = _floats(name, values)
    if len(out) == 1:
        return out * in_chans
    if len(out) != in_chans:
        raise InvalidArgumentError(
            f"{name} has {len(out)} values but the output has in_chans={in_chans} channels; "
            f"give {in_chans} values (or one for all channels)."
        )
    return out


def _resolve_stats(name: str, values: object, in_chans: int) -> tuple[float, ...]:
    """Like :func:`_check_stats`, but a greyscale output averages multi-channel (RGB) statistics."""
    out = _floats(f"pretrained_cfg[{name!r}]", values)
    if in_chans == 1 and len(out) > 1:
        return (sum(out) / len(out),)
    if len(out) not in (1, in_chans):
        raise InvalidArgumentError(
            f"pretrained_cfg[{name!r}] has {len(out)} values but in_chans={in_chans}; pass in_chans matching "
            f"the model's input channels (or 1 to average the statistics)."
        )
    return _check_stats(name, out, in_chans)


def _check_size(size: object) -> tuple[int, int]:
    if not isinstance(size, Sequence) or len(size) != 2 or not all(is_int(v) and v > 0 for v in size):
        raise InvalidArgumentError(f"size must be (H, W) with positive ints, e.g. (224, 224); got {size!r}.")
    return int(size[0]), int(size[1])


def _check_in_chans(in_chans: object) -> int:
    if not is_int(in_chans):
        raise InvalidTypeError(
            f"in_chans must be an int (1 or 3 typically); got {type(in_chans).__name__} {in_chans!r}."
        )
    if in_chans < 1:
        raise InvalidArgumentError(
            f"in_chans must be >= 1 (1 for greyscale, 3 for RGB stems); got {in_chans}."
        )
    return int(in_chans)


def _check_number(name: str, value: object, *, low: float, high: float | None) -> float:
    if not is_real(value):
        raise InvalidTypeError(f"{name} must be a number; got {type(value).__name__} {value!r}.")
    number = float(value)
    if not math.isfinite(number) or number < low or (high is not None and number > high):
        bounds = f"in [{low:g}, {high:g}]" if high is not None else f">= {low:g}"
        raise InvalidArgumentError(f"{name} must be {bounds} (0 disables it); got {value!r}.")
    return number


def _pil_to_unit(image: PILImage.Image) -> np.ndarray:
    """A PIL image as a ``(H, W)`` float32 array in ``[0, 1]``, read as the datasets read files."""
    return to_unit_float(grey_levels(image))


def _as_image_tensor(image: object) -> torch.Tensor:
    """Any supported image as a float32 ``(1, H, W)`` tensor in ``[0, 1]``."""
    if isinstance(image, PILImage.Image):
        tensor = torch.from_numpy(_pil_to_unit(image))[None]
    elif isinstance(image, np.ndarray):
        if image.ndim != 2:
            raise InvalidArgumentError(
                f"MRITransform expects a numpy image of shape (H, W); got shape {image.shape}. Pass a "
                "(C, H, W) torch tensor instead, or reduce the array to one channel "
                "(e.g. array.mean(axis=-1))."
            )
        tensor = torch.from_numpy(to_unit_float(image))[None]
    elif isinstance(image, torch.Tensor):
        tensor = _tensor_to_unit(image)
    else:
        raise InvalidTypeError(
            f"MRITransform expects a torch.Tensor (1, H, W), a (H, W) numpy array or a PIL image; "
            f"got {type(image).__name__}."
        )
    if tensor.shape[-2] == 0 or tensor.shape[-1] == 0:
        raise InvalidArgumentError(f"MRITransform got an empty image of shape {tuple(tensor.shape)}.")
    return tensor


def _tensor_to_unit(image: torch.Tensor) -> torch.Tensor:
    if image.ndim == 2:
        image = image[None]
    if image.ndim != 3 or image.shape[0] not in (1, 3):
        hint = ""
        if image.ndim == 4:
            hint = " Transforms work on one image; apply it per sample (a DataLoader batches afterwards)."
        elif image.ndim == 3 and image.shape[-1] in (1, 3):
            hint = " It looks channels-last; use image.permute(2, 0, 1)."
        raise InvalidArgumentError(
            f"MRITransform expects an image tensor of shape (1, H, W), (3, H, W) or (H, W); "
            f"got {tuple(image.shape)}.{hint}"
        )
    if image.dtype == torch.uint8:
        tensor = image.float() / 255.0
    elif image.is_floating_point():
        tensor = image.float()
        if tensor.numel():
            low, high = float(tensor.min()), float(tensor.max())
            if (
                not (math.isfinite(low) and math.isfinite(high))
                or low < -_RANGE_TOLERANCE
                or high > 1 + _RANGE_TOLERANCE
            ):
                raise InvalidArgumentError(
                    f"MRITransform expects a float image in [0, 1]; got values in [{low:g}, {high:g}]. "
                    "Was it normalised already? Otherwise rescale it, e.g. with "
                    "brainvit_effnet.data.to_unit_float(image.squeeze(0).numpy())."
                )
    else:
        raise InvalidTypeError(
            f"MRITransform expects a float32 tensor in [0, 1] or a uint8 tensor; got dtype {image.dtype}. "
            "Rescale integer MRI data with brainvit_effnet.data.to_unit_float(array) first."
        )
    if tensor.shape[0] == 3:
        tensor = tensor.mean(dim=0, keepdim=True)  # RGB-encoded greyscale: average the channels
    return tensor


def _as_mask_tensor(mask: object, size: torch.Size) -> torch.Tensor:
    """A mask as a uint8 ``tv_tensors.Mask`` of shape ``(1, H, W)`` holding 0/1."""
    if isinstance(mask, np.ndarray):
        if not (mask.dtype == np.bool_ or np.issubdtype(mask.dtype, np.integer)):
            raise InvalidTypeError(
                f"MRITransform expects a bool or integer mask; got numpy dtype {mask.dtype}. "
                "Threshold it first, e.g. mask > 0.5."
            )
        tensor = torch.from_numpy(np.ascontiguousarray(mask != 0))
    elif isinstance(mask, torch.Tensor):
        if mask.is_floating_point() or mask.is_complex():
            raise InvalidTypeError(
                f"MRITransform expects a bool or integer mask tensor; got dtype {mask.dtype}. "
                "Threshold it first, e.g. mask > 0.5."
            )
        tensor = mask != 0
    else:
        raise InvalidTypeError(
            f"MRITransform expects the mask as a torch.Tensor or numpy array of shape (H, W); "
            f"got {type(mask).__name__}."
        )
    if tensor.ndim == 3 and tensor.shape[0] == 1:
        tensor = tensor[0]
    height, width = int(size[0]), int(size[1])
    if tensor.ndim != 2 or tuple(tensor.shape) != (height, width):
        raise InvalidArgumentError(
            f"MRITransform expects a mask of shape ({height}, {width}) matching the image; got "
            f"{tuple(mask.shape)}. Give the mask at the image's resolution, before any resizing."
        )
    return tv_tensors.Mask(tensor.to(torch.uint8)[None])
