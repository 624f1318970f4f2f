"""Controlled dataset shifts: what other scanners, sites and file pipelines do to a slice.

A model trained on one release meets slices framed, sampled, encoded and contrasted differently.
:data:`SHIFTS` names one deterministic transformation per kind of difference, each at three
severities, applied to the *raw* slice (before the model's brain crop and resize, as another
source's file would arrive):

===========  ===============  =================================================================
group        shift            severities 1 / 2 / 3
===========  ===============  =================================================================
framing      ``zoom_in``      keep the central 90% / 78% / 66% of each side (a tighter field of view)
framing      ``zoom_out``     pad with black to 1.2x / 1.45x / 1.75x the side (a looser one)
framing      ``off_centre``   pad the top and left with 10% / 25% / 40% of the side (head off-centre)
resolution   ``downsample``   round trip through a 256 / 160 / 96 px side (bilinear, antialiased)
resolution   ``jpeg``         JPEG re-encoding at quality 70 / 40 / 15
contrast     ``window``       intensity window cut at 80% / 60% / 45% of the range (saturation)
contrast     ``gamma_up``     gamma 1.4 / 1.8 / 2.4 (darker mid-tones)
contrast     ``gamma_down``   gamma 0.75 / 0.55 / 0.4 (brighter mid-tones)
artefact     ``bias_field``   a smooth multiplicative field, log-amplitude 0.3 / 0.6 / 0.9
artefact     ``noise``        Rician noise, sigma 0.02 / 0.05 / 0.1 of the range
artefact     ``blur``         Gaussian blur, sigma 0.2% / 0.4% / 0.8% of the side (1 / 2 / 4 px at 512)
artefact     ``ghosting``     two ghosts a quarter-field apart along the rows, intensity 0.1 / 0.2 / 0.35
mirror       ``mirror``       left-right mirror (the other display convention); one severity
===========  ===============  =================================================================

These are our own, written with numpy, scipy and Pillow and independent of the training
augmentation (:mod:`.mri_augment` uses TorchIO's random transforms), so a model is not scored on
the exact transformations it was trained with. Random parts (noise, the bias field's direction)
come from the ``rng`` passed in, so a benchmark is reproducible.

Examples:
    >>> import numpy as np
    >>> image = np.random.default_rng(0).random((64, 64), dtype=np.float32)
    >>> out = apply_shift(image, "zoom_out", 2, np.random.default_rng(0))
    >>> out.shape, out.dtype, float(out.max()) <= 1.0
    ((93, 93), dtype('float32'), True)
"""

from __future__ import annotations

import io
import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .._suggest import did_you_mean
from ..errors import InvalidArgumentError

__all__ = ["SHIFTS", "Shift", "apply_shift"]

_Fn = Callable[[np.ndarray, float, np.random.Generator], np.ndarray]


@dataclass(frozen=True)
class Shift:
    """One kind of shift: its group, its value at each severity, and the function that applies it."""

    group: str
    levels: tuple[float, ...]
    fn: _Fn


def _resize(image: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    pil = Image.fromarray(image.astype(np.float32), mode="F")
    return np.asarray(pil.resize((shape[1], shape[0]), Image.BILINEAR, reducing_gap=None), dtype=np.float32)


def _zoom_in(image: np.ndarray, keep: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    kh, kw = max(1, round(h * keep)), max(1, round(w * keep))
    top, left = (h - kh) // 2, (w - kw) // 2
    return image[top : top + kh, left : left + kw]


def _zoom_out(image: np.ndarray, factor: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    out = np.zeros((round(h * factor), round(w * factor)), dtype=np.float32)
    top, left = (out.shape[0] - h) // 2, (out.shape[1] - w) // 2
    out[top : top + h, left : left + w] = image
    return out


def _off_centre(image: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    dy, dx = round(h * fraction), round(w * fraction)
    out = np.zeros((h + dy, w + dx), dtype=np.float32)
    out[dy:, dx:] = image
    return out


def _downsample(image: np.ndarray, side: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    scale = side / max(h, w)
    if scale >= 1:
        return image
    small = _resize(image, (max(1, round(h * scale)), max(1, round(w * scale))))
    return _resize(small, (h, w))


def _jpeg(image: np.ndarray, quality: float, rng: np.random.Generator) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray(np.round(image * 255).astype(np.uint8), mode="L").save(
        buffer, "JPEG", quality=int(quality)
    )
    buffer.seek(0)
    return np.asarray(Image.open(buffer), dtype=np.float32) / 255.0


def _window(image: np.ndarray, upper: float, rng: np.random.Generator) -> np.ndarray:
    return image / upper


def _gamma(image: np.ndarray, gamma: float, rng: np.random.Generator) -> np.ndarray:
    return np.power(np.clip(image, 0.0, 1.0), gamma)


def _bias_field(image: np.ndarray, amplitude: float, rng: np.random.Generator) -> np.ndarray:
    h, w = image.shape
    y, x = np.meshgrid(np.linspace(-1, 1, h), np.linspace(-1, 1, w), indexing="ij")
    angle = rng.uniform(0, 2 * math.pi)
    along = np.cos(angle) * x + np.sin(angle) * y  # a ramp in a random direction, plus curvature
    field = np.exp(amplitude * (0.7 * along + 0.3 * (along**2 - 0.5)))
    return image * field.astype(np.float32)


def _noise(image: np.ndarray, sigma: float, rng: np.random.Generator) -> np.ndarray:
    real = image + rng.normal(0, sigma, image.shape)
    imaginary = rng.normal(0, sigma, image.shape)
    return np.sqrt(real**2 + imaginary**2).astype(np.float32)  # magnitude images carry Rician noise


def _blur(image: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    from scipy import ndimage

    return ndimage.gaussian_filter(image, sigma=fraction * max(image.shape)).astype(np.float32)


def _ghosting(image: np.ndarray, intensity: float, rng: np.random.Generator) -> np.ndarray:
    offset = image.shape[0] // 4
    ghosts = np.roll(image, offset, axis=0) + np.roll(image, -offset, axis=0)
    return image + intensity * ghosts / 2


def _mirror(image: np.ndarray, _: float, rng: np.random.Generator) -> np.ndarray:
    return image[:, ::-1]


#: Every shift by name (see the module docstring).
SHIFTS: dict[str, Shift] = {
    "zoom_in": Shift("framing", (0.9, 0.78, 0.66), _zoom_in),
    "zoom_out": Shift("framing", (1.2, 1.45, 1.75), _zoom_out),
    "off_centre": Shift("framing", (0.1, 0.25, 0.4), _off_centre),
    "downsample": Shift("resolution", (256, 160, 96), _downsample),
    "jpeg": Shift("resolution", (70, 40, 15), _jpeg),
    "window": Shift("contrast", (0.8, 0.6, 0.45), _window),
    "gamma_up": Shift("contrast", (1.4, 1.8, 2.4), _gamma),
    "gamma_down": Shift("contrast", (0.75, 0.55, 0.4), _gamma),
    "bias_field": Shift("artefact", (0.3, 0.6, 0.9), _bias_field),
    "noise": Shift("artefact", (0.02, 0.05, 0.1), _noise),
    "blur": Shift("artefact", (0.002, 0.004, 0.008), _blur),
    "ghosting": Shift("artefact", (0.1, 0.2, 0.35), _ghosting),
    "mirror": Shift("mirror", (1.0,), _mirror),
}


def apply_shift(image: np.ndarray, name: str, severity: int, rng: np.random.Generator) -> np.ndarray:
    """``image`` (a ``(H, W)`` float slice in ``[0, 1]``) under shift ``name`` at ``severity`` (1-3).

    Returns a float32 ``(H', W')`` array in ``[0, 1]`` (framing shifts change the size).

    Raises:
        InvalidArgumentError: an unknown shift, a severity the shift does not have, or an image that
            is not a 2-D array.
    """
    if name not in SHIFTS:
        raise InvalidArgumentError(
            f"unknown shift {name!r}{did_you_mean(name, SHIFTS)}; known: {sorted(SHIFTS)}."
        )
    shift = SHIFTS[name]
    if not 1 <= severity <= len(shift.levels):
        raise InvalidArgumentError(f"shift {name!r} has severities 1-{len(shift.levels)}; got {severity!r}.")
    image = np.asarray(image, dtype=np.float32)
    if image.ndim != 2:
        raise InvalidArgumentError(f"apply_shift takes one (H, W) slice; got shape {image.shape}.")
    out = shift.fn(image, shift.levels[severity - 1], rng)
    return np.ascontiguousarray(np.clip(out, 0.0, 1.0), dtype=np.float32)
