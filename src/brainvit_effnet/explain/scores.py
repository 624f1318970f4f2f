"""How well an explanation heatmap localises the tumour, and how faithful it is to the model.

Localisation scores compare heatmaps with tumour masks; faithfulness scores (deletion/insertion)
ask the model itself whether the pixels the heatmap ranks highest matter for its prediction.

Conventions (torch tensors and numpy arrays are both accepted; results are numpy):

* ``heatmaps``: ``(B, H, W)`` (or one ``(H, W)`` map, treated as ``B = 1``), finite floats,
  normally in ``[0, 1]``; a heatmap whose size differs from the mask's (or the image's, for
  faithfulness) is resized bilinearly (``align_corners=False``);
* ``masks``: ``(B, H, W)`` bool (or 0/1 integers), ``True`` inside the tumour;
* results: float arrays ``(B,)``. NaN marks a sample where the score is undefined, so aggregate with
  ``np.nanmean`` and report how many samples were NaN.

Where each score is NaN:

* :func:`pointing_game`: empty mask, or a constant heatmap (it points nowhere);
* :func:`energy_inside`: empty mask, or a heatmap summing to 0;
* :func:`iou_at_threshold`: empty mask, or a constant heatmap (min-max normalisation undefined).

Read localisation scores against chance, :func:`mask_fraction`: a heatmap spread uniformly puts
``mask_fraction`` of its energy inside the mask and a random pixel lands in the mask with that
probability.

Examples:
    >>> import numpy as np
    >>> from brainvit_effnet.explain.scores import energy_inside, mask_fraction, pointing_game
    >>> heat = np.zeros((1, 4, 4)); heat[0, 1, 1] = 1.0; heat[0, 3, 3] = 1.0
    >>> mask = np.zeros((1, 4, 4), dtype=bool); mask[0, :2, :2] = True
    >>> pointing_game(heat, mask).tolist(), energy_inside(heat, mask).tolist(), mask_fraction(mask).tolist()
    ([1.0], [0.5], [0.25])
"""

from __future__ import annotations

import logging
import math
import numbers
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol, TypeAlias, cast, overload

import numpy as np
import torch
import torch.nn.functional as F
from numpy.typing import NDArray
from torch import nn

from .._checks import is_int, is_real
from .._tensors import eval_mode
from .._tensors import to_numpy as _to_numpy
from ..errors import InvalidArgumentError, InvalidTypeError

__all__ = [
    "Baseline",
    "deletion_auc",
    "energy_inside",
    "insertion_auc",
    "iou_at_threshold",
    "mask_fraction",
    "pointing_game",
]

logger = logging.getLogger(__name__)

#: Tensor or array input.
ArrayLike: TypeAlias = "torch.Tensor | NDArray[Any]"
#: Baseline of deletion/insertion: a name, or a tensor ``(B, C, H, W)`` / ``(C, H, W)``.
Baseline: TypeAlias = "Literal['blur', 'zero', 'mean'] | torch.Tensor"
FloatArray: TypeAlias = NDArray[np.float64]

_BASELINES = ("blur", "zero", "mean")


# -- input conversion -------------------------------------------------------------------------------
def _batched(x: NDArray[Any], name: str) -> NDArray[Any]:
    if x.ndim == 2:
        return x[None]
    if x.ndim != 3:
        raise InvalidArgumentError(
            f"{name} must have shape (B, H, W) or (H, W); got {tuple(x.shape)}. "
            "Squeeze any channel dimension, e.g. cams[:, 0]."
        )
    return x


def _check_heatmaps(heatmaps: ArrayLike, name: str = "heatmaps") -> NDArray[np.float64]:
    h = _batched(_to_numpy(heatmaps, name), name)
    if h.dtype == np.bool_ or not (np.issubdtype(h.dtype, np.floating) or np.issubdtype(h.dtype, np.integer)):
        raise InvalidTypeError(f"{name} must hold real numbers; got dtype {h.dtype}.")
    h = h.astype(np.float64)
    if not np.isfinite(h).all():
        bad = sorted({int(i) for i in np.argwhere(~np.isfinite(h))[:, 0]})
        raise InvalidArgumentError(
            f"{name} contains NaN or infinite values (samples {bad[:10]}); "
            "fix the explainer or replace them with np.nan_to_num first."
        )
    return h


def _check_masks(masks: ArrayLike, name: str = "masks") -> NDArray[np.bool_]:
    m = _batched(_to_numpy(masks, name), name)
    if m.dtype == np.bool_:
        return m
    if np.issubdtype(m.dtype, np.integer) or np.issubdtype(m.dtype, np.floating):
        values = np.unique(m)
        if np.isin(values, (0, 1)).all():
            return m.astype(bool)
        raise InvalidArgumentError(
            f"{name} must be boolean (or 0/1); got values {values[:5].tolist()}... "
            "Binarise it first, e.g. masks > 0.5."
        )
    raise InvalidTypeError(f"{name} must be a bool array; got dtype {m.dtype}.")


def _resize_maps(h: NDArray[np.float64], size_hw: tuple[int, int]) -> NDArray[np.float64]:
    """Bilinear resize of ``(B, H, W)`` maps (``align_corners=False``)."""
    if h.shape[1:] == size_hw:
        return h
    logger.debug("resizing heatmaps %s to %s", h.shape[1:], size_hw)
    t = torch.from_numpy(np.ascontiguousarray(h))[:, None]
    return F.interpolate(t, size=size_hw, mode="bilinear", align_corners=False)[:, 0].numpy()


def _pair(heatmaps: ArrayLike, masks: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.bool_]]:
    h = _check_heatmaps(heatmaps)
    m = _check_masks(masks)
    if h.shape[0] != m.shape[0]:
        raise InvalidArgumentError(
            f"heatmaps and masks must have the same batch size; got {h.shape[0]} heatmaps and "
            f"{m.shape[0]} masks. Pass one mask per heatmap."
        )
    return _resize_maps(h, (m.shape[1], m.shape[2])), m


def _disk(radius: int) -> torch.Tensor:
    r = torch.arange(-radius, radius + 1, dtype=torch.float32)
    return ((r[:, None] ** 2 + r[None, :] ** 2) <= radius**2).float()


def _dilate(masks: NDArray[np.bool_], radius: int) -> NDArray[np.bool_]:
    """Dilate ``(B, H, W)`` masks by a Euclidean disk of ``radius`` pixels."""
    if radius == 0:
        return masks
    t = torch.from_numpy(masks.astype(np.float32))[:, None]
    kernel = _disk(radius)[None, None]
    counts = F.conv2d(t, kernel, padding=radius)
    return (counts[:, 0] > 0.5).numpy()


def _log_nan(name: str, empty: NDArray[np.bool_], degenerate: NDArray[np.bool_], why: str) -> None:
    if empty.any() or degenerate.any():
        logger.info(
            "%s: NaN for %d sample(s) with an empty mask and %d with %s",
            name,
            int(empty.sum()),
            int((degenerate & ~empty).sum()),
            why,
        )


# -- localisation -----------------------------------------------------------------------------------
def mask_fraction(masks: ArrayLike) -> FloatArray:
    """Fraction of each image covered by its mask: the chance level of the localisation scores.

    A uniform heatmap has :func:`energy_inside` equal to this fraction, and a uniformly random
    pixel is inside the mask with this probability (the chance level of the pointing game with
    ``tolerance=0``).

    Args:
        masks: ``(B, H, W)`` or ``(H, W)`` bool masks.

    Returns:
        ``(B,)`` float64 in ``[0, 1]`` (0.0 for an empty mask).

    Examples:
        >>> import numpy as np
        >>> mask_fraction(np.eye(4, dtype=bool)).tolist()
        [0.25]
    """
    m = _check_masks(masks)
    return m.reshape(m.shape[0], -1).mean(axis=1).astype(np.float64)


def pointing_game(heatmaps: ArrayLike, masks: ArrayLike, tolerance: int = 0) -> FloatArray:
    """Pointing game (Zhang et al., 2018): does the heatmap's maximum fall on the tumour?

    A sample is a hit (1.0) if ANY pixel equal to the heatmap's maximum lies inside the mask dilated
    by a Euclidean disk of ``tolerance`` pixels, and a miss (0.0) otherwise. Zhang et al. use a
    15-pixel tolerance on ~224-pixel images; the default here is 0 (the maximum must be inside the
    mask itself), so pass ``tolerance=15`` to compare with their numbers.

    NaN marks an undefined sample: an empty mask (nothing to point at, e.g. a ``no_tumor`` slice)
    or a constant heatmap (every pixel is maximal, so it points nowhere; counting it as a hit would
    reward an explainer that failed and returned zeros).

    Args:
        heatmaps: ``(B, H, W)`` or ``(H, W)`` finite maps; resized bilinearly to the masks' size
            if they differ.
        masks: ``(B, H, W)`` or ``(H, W)`` bool masks.
        tolerance: Dilation radius in pixels, an int ``>= 0``.

    Returns:
        ``(B,)`` float64 of 1.0 (hit), 0.0 (miss) or NaN (undefined).

    Raises:
        ValueError: on mismatched batch sizes, bad shapes, non-finite heatmaps, negative tolerance.
        TypeError: on non-array inputs.

    Examples:
        >>> import numpy as np
        >>> heat = np.zeros((2, 5, 5)); heat[0, 0, 0] = 1; heat[1, 4, 4] = 1
        >>> mask = np.zeros((2, 5, 5), dtype=bool); mask[:, :2, :2] = True
        >>> pointing_game(heat, mask).tolist(), pointing_game(heat, mask, tolerance=5).tolist()
        ([1.0, 0.0], [1.0, 1.0])
    """
    if not is_int(tolerance) or tolerance < 0:
        raise InvalidArgumentError(
            f"tolerance must be an int >= 0 (pixels); got {tolerance!r}. Zhang et al. use 15."
        )
    h, m = _pair(heatmaps, masks)
    flat = h.reshape(h.shape[0], -1)
    hmax = flat.max(axis=1)
    constant: NDArray[np.bool_] = np.asarray(hmax == flat.min(axis=1))
    empty: NDArray[np.bool_] = np.asarray(~m.reshape(m.shape[0], -1).any(axis=1))
    maxima = h == hmax[:, None, None]
    hits = (maxima & _dilate(m, int(tolerance))).reshape(h.shape[0], -1).any(axis=1)
    out = hits.astype(np.float64)
    out[empty | constant] = np.nan
    _log_nan("pointing_game", empty, constant, "a constant heatmap")
    return out


def energy_inside(heatmaps: ArrayLike, masks: ArrayLike) -> FloatArray:
    """Fraction of the heatmap's total mass inside the mask: ``sum(h * mask) / sum(h)``.

    Compare with :func:`mask_fraction`, the value a uniform heatmap gets. Heatmaps must be
    non-negative (a mass fraction of a signed map is meaningless).

    Args:
        heatmaps: ``(B, H, W)`` or ``(H, W)`` non-negative finite maps; resized bilinearly to the
            masks' size if they differ.
        masks: ``(B, H, W)`` or ``(H, W)`` bool masks.

    Returns:
        ``(B,)`` float64 in ``[0, 1]``; NaN for an all-zero heatmap or an empty mask.

    Raises:
        ValueError: on negative or non-finite heatmaps, mismatched or bad shapes.
        TypeError: on non-array inputs.

    Examples:
        >>> import numpy as np
        >>> heat = np.array([[1.0, 3.0], [0.0, 0.0]])
        >>> energy_inside(heat, np.array([[True, False], [False, False]])).tolist()
        [0.25]
    """
    h, m = _pair(heatmaps, masks)
    if (h < 0).any():
        raise InvalidArgumentError(
            f"heatmaps must be non-negative for energy_inside; got a minimum of {h.min():.4g}. "
            "Clip (np.clip(h, 0, None)) or min-max normalise them first."
        )
    total = h.reshape(h.shape[0], -1).sum(axis=1)
    inside = (h * m).reshape(h.shape[0], -1).sum(axis=1)
    empty: NDArray[np.bool_] = np.asarray(~m.reshape(m.shape[0], -1).any(axis=1))
    zero: NDArray[np.bool_] = np.asarray(total == 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = inside / total
    out[empty | zero] = np.nan
    _log_nan("energy_inside", empty, zero, "an all-zero heatmap")
    return out.astype(np.float64)


def iou_at_threshold(heatmaps: ArrayLike, masks: ArrayLike, threshold: float = 0.5) -> FloatArray:
    """IoU between the mask and the heatmap binarised at ``threshold`` after per-sample min-max.

    Each heatmap is rescaled to ``(h - min) / (max - min)`` and the pixels with value
    ``>= threshold`` form the predicted region; the score is ``|region & mask| / |region | mask|``.

    Args:
        heatmaps: ``(B, H, W)`` or ``(H, W)`` finite maps; resized bilinearly to the masks' size if
            they differ (before normalising).
        masks: ``(B, H, W)`` or ``(H, W)`` bool masks.
        threshold: In ``[0, 1]``, applied to the normalised map.

    Returns:
        ``(B,)`` float64 in ``[0, 1]``; NaN for a constant heatmap or an empty mask.

    Raises:
        ValueError: on a threshold outside ``[0, 1]``, mismatched or bad shapes, non-finite maps.
        TypeError: on non-array inputs.

    Examples:
        >>> import numpy as np
        >>> heat = np.array([[0.0, 0.2, 0.6, 1.0]])
        >>> iou_at_threshold(heat, np.array([[False, False, True, False]]), threshold=0.5).tolist()
        [0.5]
    """
    if not is_real(threshold) or not 0 <= threshold <= 1:
        raise InvalidArgumentError(
            f"threshold must be a float in [0, 1] (of the min-max normalised map); got {threshold!r}."
        )
    h, m = _pair(heatmaps, masks)
    flat = h.reshape(h.shape[0], -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    constant = hi == lo
    with np.errstate(invalid="ignore", divide="ignore"):
        norm = (flat - lo[:, None]) / (hi - lo)[:, None]
    region = norm >= float(threshold)
    mf = m.reshape(m.shape[0], -1)
    inter = (region & mf).sum(axis=1)
    union = (region | mf).sum(axis=1)
    empty: NDArray[np.bool_] = np.asarray(~mf.any(axis=1))
    with np.errstate(invalid="ignore", divide="ignore"):
        out = inter / union
    out = out.astype(np.float64)
    out[empty | constant] = np.nan
    _log_nan("iou_at_threshold", empty, constant, "a constant heatmap")
    return out


# -- faithfulness -----------------------------------------------------------------------------------
def _gaussian_blur(images: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of ``(B, C, H, W)``, replicate padding, kernel radius ``ceil(3 sigma)``."""
    b, c, height, width = images.shape
    radius = min(math.ceil(3.0 * sigma), max(height, width) - 1)
    if radius < 1:
        return images.clone()
    x = torch.arange(-radius, radius + 1, dtype=images.dtype, device=images.device)
    kernel = torch.exp(-(x**2) / (2.0 * sigma**2))
    kernel = kernel / kernel.sum()
    flat = images.reshape(b * c, 1, height, width)
    flat = F.conv2d(F.pad(flat, (radius, radius, 0, 0), mode="replicate"), kernel.view(1, 1, 1, -1))
    flat = F.conv2d(F.pad(flat, (0, 0, radius, radius), mode="replicate"), kernel.view(1, 1, -1, 1))
    return flat.reshape(b, c, height, width)


def _make_baseline(images: torch.Tensor, baseline: Baseline, blur_sigma: float | None) -> torch.Tensor:
    if isinstance(baseline, torch.Tensor):
        base = baseline.to(device=images.device, dtype=images.dtype)
        if base.ndim == 3:
            base = base[None]
        try:
            return torch.broadcast_to(base, images.shape).contiguous()
        except RuntimeError:
            raise InvalidArgumentError(
                f"baseline tensor must broadcast to images {tuple(images.shape)}; "
                f"got {tuple(baseline.shape)}. Pass (B, C, H, W) or (C, H, W)."
            ) from None
    if baseline == "zero":
        return torch.zeros_like(images)
    if baseline == "mean":
        return images.mean(dim=(2, 3), keepdim=True).expand_as(images).contiguous()
    if baseline == "blur":
        sigma = blur_sigma if blur_sigma is not None else max(images.shape[2], images.shape[3]) / 20.0
        return _gaussian_blur(images, float(sigma))
    raise InvalidArgumentError(f"baseline must be one of {_BASELINES} or a tensor; got {baseline!r}.")


def _check_targets(targets: Any, n: int) -> torch.Tensor:
    if is_int(targets):
        return torch.full((n,), int(targets), dtype=torch.long)
    t = torch.as_tensor(_to_numpy(targets, "targets") if isinstance(targets, np.ndarray) else targets)
    if t.dtype.is_floating_point or t.dtype == torch.bool or t.dtype.is_complex or t.ndim != 1 or len(t) != n:
        raise InvalidArgumentError(
            f"targets must be {n} integer class indices (B,) or one int; got dtype {t.dtype} "
            f"shape {tuple(t.shape)}. Pass e.g. logits.argmax(1) for the predicted class."
        )
    if (t < 0).any():
        raise InvalidArgumentError(f"targets must be >= 0; got {t.tolist()[:10]}.")
    return t.to(torch.long).cpu()


def _model_device(model: nn.Module, fallback: torch.device) -> torch.device:
    for p in model.parameters():
        return p.device
    for b in model.buffers():
        return b.device
    return fallback


class _PerturbationScore(Protocol):
    """The call signature of :func:`deletion_auc` and :func:`insertion_auc`, for type checkers.

    Written once for both: the AUCs alone by default, ``(auc, curves)`` with ``return_curves=True``.
    """

    @overload
    def __call__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        heatmaps: ArrayLike,
        targets: int | Sequence[int] | ArrayLike,
        steps: int = ...,
        baseline: Baseline = ...,
        batch_size: int = ...,
        *,
        blur_sigma: float | None = ...,
        return_curves: Literal[False] = ...,
    ) -> FloatArray: ...
    @overload
    def __call__(
        self,
        model: nn.Module,
        images: torch.Tensor,
        heatmaps: ArrayLike,
        targets: int | Sequence[int] | ArrayLike,
        steps: int = ...,
        baseline: Baseline = ...,
        batch_size: int = ...,
        *,
        blur_sigma: float | None = ...,
        return_curves: Literal[True],
    ) -> tuple[FloatArray, FloatArray]: ...


def _perturbation_score(
    function: Callable[..., FloatArray | tuple[FloatArray, FloatArray]],
) -> _PerturbationScore:
    """Give a perturbation score the overloaded signature of :class:`_PerturbationScore`.

    Only the static type changes; the function itself is returned (and documented) as written.
    """
    return cast(_PerturbationScore, function)


def _perturbation_curves(
    mode: Literal["deletion", "insertion"],
    model: nn.Module,
    images: torch.Tensor,
    heatmaps: ArrayLike,
    targets: Any,
    steps: int,
    baseline: Baseline,
    batch_size: int,
    blur_sigma: float | None,
) -> tuple[FloatArray, FloatArray]:
    if not isinstance(model, nn.Module):
        raise InvalidTypeError(f"model must be a torch.nn.Module; got {type(model).__name__}.")
    if not isinstance(images, torch.Tensor):
        raise InvalidTypeError(
            f"images must be a torch.Tensor (B, C, H, W) of model inputs; got {type(images).__name__}."
        )
    if images.ndim != 4 or not images.dtype.is_floating_point:
        raise InvalidArgumentError(
            f"images must be a float (B, C, H, W) tensor of model inputs; got dtype {images.dtype} "
            f"shape {tuple(images.shape)}. Add a batch dimension with x[None]."
        )
    if not is_int(steps) or steps < 1:
        raise InvalidArgumentError(f"steps must be an int >= 1; got {steps!r}.")
    if not is_int(batch_size) or batch_size < 1:
        raise InvalidArgumentError(f"batch_size must be an int >= 1; got {batch_size!r}.")
    if blur_sigma is not None and not (isinstance(blur_sigma, numbers.Real) and blur_sigma > 0):
        raise InvalidArgumentError(f"blur_sigma must be a float > 0 (pixels) or None; got {blur_sigma!r}.")
    if isinstance(baseline, str) and baseline not in _BASELINES:
        raise InvalidArgumentError(f"baseline must be one of {_BASELINES} or a tensor; got {baseline!r}.")
    b, _, height, width = images.shape
    h = _check_heatmaps(heatmaps)
    if h.shape[0] != b:
        raise InvalidArgumentError(f"heatmaps must have one map per image ({b}); got {h.shape[0]}.")
    h = _resize_maps(h, (height, width))
    tgt = _check_targets(targets, b)

    device = _model_device(model, images.device)
    x = images.detach().to(device)
    base = _make_baseline(x, baseline, blur_sigma)
    n_pix = height * width
    # rank[i, p] = position of pixel p in the descending order (stable: earlier pixels win ties)
    order = np.argsort(-h.reshape(b, -1), axis=1, kind="stable")
    rank = np.empty_like(order)
    np.put_along_axis(rank, order, np.arange(n_pix)[None].repeat(b, axis=0), axis=1)
    rank_t = torch.from_numpy(rank).to(device)
    counts = torch.from_numpy(np.rint(np.linspace(0, n_pix, steps + 1)).astype(np.int64)).to(device)

    total = b * (steps + 1)
    probs = np.empty(total, dtype=np.float64)
    with eval_mode(model), torch.no_grad():
        for start in range(0, total, int(batch_size)):
            idx = torch.arange(start, min(start + int(batch_size), total), device=device)
            sample, step = idx // (steps + 1), idx % (steps + 1)
            top = (rank_t[sample] < counts[step][:, None]).view(-1, 1, height, width)
            if mode == "deletion":
                batch = torch.where(top, base[sample], x[sample])
            else:
                batch = torch.where(top, x[sample], base[sample])
            logits = model(batch)
            if not isinstance(logits, torch.Tensor) or logits.ndim != 2 or logits.shape[0] != len(idx):
                shape = tuple(logits.shape) if isinstance(logits, torch.Tensor) else type(logits).__name__
                raise InvalidArgumentError(
                    f"model must return logits of shape (N, num_classes); got {shape}. "
                    "Wrap the model so that it returns a logits tensor."
                )
            t = tgt[sample.cpu()]
            if int(t.max()) >= logits.shape[1]:
                raise InvalidArgumentError(
                    f"targets must be < num_classes ({logits.shape[1]}); got {int(t.max())}."
                )
            p = torch.softmax(logits.float(), dim=1).gather(1, t.to(logits.device)[:, None])[:, 0]
            probs[start : start + len(idx)] = p.cpu().double().numpy()
    curves = probs.reshape(b, steps + 1)
    fractions = np.linspace(0.0, 1.0, steps + 1)
    auc = ((curves[:, 1:] + curves[:, :-1]) / 2.0 * np.diff(fractions)[None]).sum(axis=1)
    return auc, curves


@_perturbation_score
def deletion_auc(
    model: nn.Module,
    images: torch.Tensor,
    heatmaps: ArrayLike,
    targets: int | Sequence[int] | ArrayLike,
    steps: int = 20,
    baseline: Baseline = "blur",
    batch_size: int = 32,
    *,
    blur_sigma: float | None = None,
    return_curves: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """Deletion score (Petsiuk et al., 2018): remove the most important pixels first. Lower is better.

    Pixels are ranked by heatmap value (descending; ties broken stably, in row-major order). For each
    fraction ``f_k = k / steps``, ``k = 0..steps``, the top ``round(f_k * H * W)`` pixels (all channels)
    are replaced by the baseline and the model's softmax probability of the target class is
    recorded. The score is the trapezoid area under that curve over ``[0, 1]``: a faithful heatmap
    makes the probability collapse early, giving a small area. Compare heatmaps on the same model,
    images, targets and baseline only.

    The model runs in eval mode under ``torch.no_grad()`` (its training mode is restored after), on
    the device of its parameters, in batches of ``batch_size`` perturbed images across samples and
    steps.

    Args:
        model: Classifier returning logits ``(N, num_classes)``.
        images: ``(B, C, H, W)`` float model inputs (already normalised as the model expects).
        heatmaps: ``(B, h, w)`` maps; resized bilinearly to ``(H, W)`` if they differ.
        targets: Class index per sample ``(B,)``, or one int for all (often the predicted class).
        steps: Number of intervals; the curve has ``steps + 1`` points.
        baseline: ``"blur"`` (Gaussian blur of the image, sigma ``blur_sigma``), ``"zero"`` (0 in
            input space: the dataset mean for normalised inputs), ``"mean"`` (each image's
            per-channel mean), or a tensor ``(B, C, H, W)``/``(C, H, W)``.
        batch_size: Perturbed images per forward pass.
        blur_sigma: Gaussian sigma in pixels for ``"blur"``; default ``max(H, W) / 20`` (about 11 at 224
            pixels: the image is reduced to coarse blobs).
        return_curves: Also return the curves.

    Returns:
        ``(B,)`` float64 AUCs in ``[0, 1]``; with ``return_curves=True`` a tuple ``(auc, curves)``
        where ``curves`` is ``(B, steps + 1)``, the probabilities at fractions
        ``np.linspace(0, 1, steps + 1)``.

    Raises:
        ValueError: on bad shapes, targets, steps, batch size, baseline, or model output.
        TypeError: if ``model``/``images`` are of the wrong type.

    Examples:
        >>> auc = deletion_auc(model, x, cams, targets=logits.argmax(1), steps=20)  # doctest: +SKIP
        >>> auc, curves = deletion_auc(model, x, cams, 0, return_curves=True)  # doctest: +SKIP
    """
    auc, curves = _perturbation_curves(
        "deletion", model, images, heatmaps, targets, steps, baseline, batch_size, blur_sigma
    )
    return (auc, curves) if return_curves else auc


@_perturbation_score
def insertion_auc(
    model: nn.Module,
    images: torch.Tensor,
    heatmaps: ArrayLike,
    targets: int | Sequence[int] | ArrayLike,
    steps: int = 20,
    baseline: Baseline = "blur",
    batch_size: int = 32,
    *,
    blur_sigma: float | None = None,
    return_curves: bool = False,
) -> FloatArray | tuple[FloatArray, FloatArray]:
    """Insertion score (Petsiuk et al., 2018): reveal the most important pixels first. Higher is better.

    Starts from the baseline image and, for each fraction ``f_k = k / steps``, reveals the top
    ``round(f_k * H * W)`` pixels of the real image (same ranking as :func:`deletion_auc`), recording
    the softmax probability of the target class; the score is the trapezoid area under the curve
    over ``[0, 1]``. A faithful heatmap makes the probability rise early, giving a large area.

    Args:
        model: Classifier returning logits ``(N, num_classes)``.
        images: ``(B, C, H, W)`` float model inputs.
        heatmaps: ``(B, h, w)`` maps; resized bilinearly to ``(H, W)`` if they differ.
        targets: Class index per sample ``(B,)``, or one int for all.
        steps: Number of intervals; the curve has ``steps + 1`` points.
        baseline: ``"blur"``, ``"zero"``, ``"mean"`` or a tensor, as for :func:`deletion_auc`.
        batch_size: Perturbed images per forward pass.
        blur_sigma: Gaussian sigma in pixels for ``"blur"``; default ``max(H, W) / 20``.
        return_curves: Also return the ``(B, steps + 1)`` curves.

    Returns:
        ``(B,)`` float64 AUCs, or ``(auc, curves)`` with ``return_curves=True``.

    Raises:
        ValueError: on bad shapes, targets, steps, batch size, baseline, or model output.
        TypeError: if ``model``/``images`` are of the wrong type.

    Examples:
        >>> ins = insertion_auc(model, x, cams, targets=y, baseline="blur")  # doctest: +SKIP
        >>> dele = deletion_auc(model, x, cams, targets=y, baseline="blur")  # doctest: +SKIP
        >>> (ins - dele).mean()  # one common summary: higher is better  # doctest: +SKIP
    """
    auc, curves = _perturbation_curves(
        "insertion", model, images, heatmaps, targets, steps, baseline, batch_size, blur_sigma
    )
    return (auc, curves) if return_curves else auc
