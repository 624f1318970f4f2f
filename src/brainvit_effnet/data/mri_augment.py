"""MRI artefact augmentation for 2D slices, built on TorchIO.

Other scanners and protocols differ from Figshare's in ways a model should not care about:
intensity inhomogeneity (bias field), contrast (gamma), noise, resolution (blur, thick or
anisotropic sampling) and k-space artefacts (ghosting, motion). :class:`MRIArtefacts` draws them
at random during training so that the model learns to ignore them.

Why TorchIO (``pip install "brainvit-effnet[augment]"``) rather than MONAI: both model the bias
field the same way (the exponential of a random low-order polynomial) and both have gamma, noise
and blur; TorchIO also simulates motion and ghosting in k-space and anisotropic acquisition, and
it draws every random number from torch's global generator, so ``torch.manual_seed`` and the
Trainer's saved RNG state reproduce an augmented run exactly. MONAI's transforms keep their own
numpy generators. A slice is handed to TorchIO as a 3D image one voxel deep.

Examples:
    >>> import torch
    >>> augment = MRIArtefacts(strength=1.0)
    >>> out = augment(torch.rand(1, 64, 64))
    >>> out.shape, bool(out.min() >= 0) and bool(out.max() <= 1)
    (torch.Size([1, 64, 64]), True)
"""

from __future__ import annotations

from typing import Any

import torch

from .._checks import is_real
from ..errors import InvalidArgumentError, MissingDependencyError

__all__ = ["AUGMENT_EXTRA", "MRIArtefacts"]

#: What installs TorchIO for this module.
AUGMENT_EXTRA = 'pip install "brainvit-effnet[augment]"'


def _torchio() -> Any:
    try:
        import torchio
    except ImportError as e:
        raise MissingDependencyError(
            f"MRI artefact augmentation (mri_artefacts > 0) needs TorchIO: {AUGMENT_EXTRA} "
            f"(or pip install torchio)."
        ) from e
    return torchio


class MRIArtefacts:
    """Random MRI artefacts on one greyscale slice ``(1, H, W)`` in ``[0, 1]``.

    Each artefact is applied independently with its own probability; ``strength`` scales every
    magnitude (1.0 is the library's default, 0 turns everything off):

    ==================  ====  ============================================================
    artefact            p     magnitude at strength 1
    ==================  ====  ============================================================
    bias field          0.3   polynomial order 3, coefficients in [-0.5, 0.5], exponentiated
    gamma               0.3   log(gamma) in [-0.4, 0.4]
    anisotropy          0.15  one in-plane axis downsampled by 1.5-4x, resampled back
    blur                0.2   Gaussian, sigma up to 1 px
    noise               0.2   Gaussian, sigma up to 0.04 of the range
    ghosting            0.1   2-6 ghosts along one in-plane axis, intensity up to 0.5
    motion              0.1   2 movements, up to 4 degrees and 4 px
    ==================  ====  ============================================================

    The result is clipped back to ``[0, 1]``. Random numbers come from torch's global generator.

    Args:
        strength: Scale of every magnitude, >= 0.

    Raises:
        MissingDependencyError: TorchIO is not installed (``strength > 0``).
        InvalidArgumentError: ``strength`` is negative or not a number.
    """

    def __init__(self, strength: float = 1.0) -> None:
        if not is_real(strength) or not 0 <= float(strength) < float("inf"):
            raise InvalidArgumentError(f"mri_artefacts strength must be a number >= 0; got {strength!r}.")
        self.strength = float(strength)
        self._transform = self._build(self.strength) if self.strength > 0 else None

    @staticmethod
    def _build(s: float) -> Any:
        tio = _torchio()
        in_plane = (0, 1)  # the slice is (W, H, 1): never touch the one-voxel depth axis
        return tio.Compose(
            [
                tio.RandomBiasField(coefficients=0.5 * s, order=3, p=0.3),
                tio.RandomGamma(log_gamma=0.4 * s, p=0.3),
                tio.RandomAnisotropy(axes=in_plane, downsampling=(1.5, 1.5 + 2.5 * s), p=0.15),
                tio.RandomBlur(std=(0.0, 1.0 * s, 0.0, 1.0 * s, 0.0, 0.0), p=0.2),
                tio.RandomNoise(std=(0.0, 0.04 * s), p=0.2),
                tio.RandomGhosting(num_ghosts=(2, 6), axes=in_plane, intensity=(0.1, 0.5 * s), p=0.1),
                tio.RandomMotion(degrees=4 * s, translation=4 * s, num_transforms=2, p=0.1),
            ]
        )

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        """Augment ``image`` ``(1, H, W)`` (float in ``[0, 1]``); returns the same shape and range."""
        if self._transform is None:
            return image
        if image.dim() != 3 or image.shape[0] != 1:
            raise InvalidArgumentError(
                f"MRIArtefacts takes one slice (1, H, W); got shape {tuple(image.shape)}."
            )
        volume = image.float().clamp(0.0, 1.0).permute(0, 2, 1).unsqueeze(-1)  # (1, W, H, 1), TorchIO's order
        out = self._transform(volume)
        return torch.as_tensor(out)[..., 0].permute(0, 2, 1).clamp(0.0, 1.0).to(image.dtype)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(strength={self.strength:g})"
