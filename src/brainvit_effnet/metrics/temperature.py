"""Temperature scaling: fit one temperature on validation logits (:func:`fit_temperature`), apply it."""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import NDArray
from scipy.special import logsumexp

from .._checks import is_real
from ..errors import InvalidArgumentError, InvalidTypeError
from ._checks import ArrayLike, _check_labels_logits, _check_scores, logger
from ._kernels import _softmax

__all__ = ["apply_temperature", "fit_temperature"]


def _check_temperature(temperature: object) -> float:
    if not is_real(temperature):
        raise InvalidTypeError(
            f"temperature must be a positive float; got {temperature!r} ({type(temperature).__name__})."
        )
    t = float(temperature)
    if not math.isfinite(t) or t <= 0:
        raise InvalidArgumentError(
            f"temperature must be finite and > 0; got {t}. Use fit_temperature(val_logits, val_labels) "
            "to choose one; 1.0 leaves the logits unchanged."
        )
    return t


def fit_temperature(
    logits: ArrayLike,
    y_true: ArrayLike,
    *,
    bounds: tuple[float, float] = (0.01, 100.0),
    tol: float = 1e-6,
) -> float:
    """Fit the temperature ``T`` minimising the NLL of ``softmax(logits / T)`` (Guo et al., 2017).

    Fit on held-out validation logits, never on the test set. The NLL is minimised over
    ``log T`` within ``log(bounds)`` by bounded Brent search (it is smooth and unimodal in
    practice). ``T > 1`` softens an overconfident model, ``T < 1`` sharpens an underconfident one;
    the argmax, hence accuracy, never changes. A warning is logged when the optimum sits at a bound.

    Args:
        logits: Validation logits (pre-softmax scores), shape ``(N, C)``, finite.
        y_true: Validation class indices, shape ``(N,)``, in ``[0, C)``.
        bounds: Search interval ``(T_min, T_max)`` with ``0 < T_min < T_max``.
        tol: Absolute tolerance on ``log T``.

    Returns:
        The fitted temperature ``T > 0``.

    Examples:
        >>> import numpy as np
        >>> rng = np.random.default_rng(0)
        >>> true_logits = rng.normal(size=(2000, 3)) * 2
        >>> y = np.array([rng.choice(3, p=p) for p in apply_temperature(true_logits, 1.0)])
        >>> T = fit_temperature(true_logits * 3, y)  # a model 3x too confident
        >>> 2.5 < T < 3.5
        True
    """
    y, z = _check_labels_logits(y_true, logits)
    if not isinstance(bounds, (tuple, list)) or len(bounds) != 2 or not all(is_real(b) for b in bounds):
        raise InvalidTypeError(f"bounds must be a pair of floats (T_min, T_max); got {bounds!r}.")
    t_min, t_max = float(bounds[0]), float(bounds[1])
    if not (0 < t_min < t_max and math.isfinite(t_max)):
        raise InvalidArgumentError(
            f"bounds must satisfy 0 < T_min < T_max < inf; got {bounds!r}. E.g. (0.01, 100.0)."
        )
    if not is_real(tol) or not float(tol) > 0:
        raise InvalidArgumentError(f"tol must be a float > 0; got {tol!r}.")

    rows = np.arange(y.shape[0])
    true_logit = z[rows, y]

    def nll(log_t: float) -> float:
        scaled = z / math.exp(log_t)
        return float(np.mean(logsumexp(scaled, axis=1) - true_logit / math.exp(log_t)))

    from scipy.optimize import minimize_scalar  # on use: scipy.optimize is slow to import

    result = minimize_scalar(
        nll, bounds=(math.log(t_min), math.log(t_max)), method="bounded", options={"xatol": float(tol)}
    )
    temperature = math.exp(float(result.x))
    if math.isclose(temperature, t_min, rel_tol=1e-3) or math.isclose(temperature, t_max, rel_tol=1e-3):
        logger.warning(
            "fit_temperature: optimum T=%.4g is at the search bound %s; the logits may be degenerate "
            "(e.g. all predictions wrong or perfectly separated). Widen bounds if this is expected.",
            temperature,
            (t_min, t_max),
        )
    logger.debug("fit_temperature: T=%.6g, NLL %.6g -> %.6g", temperature, nll(0.0), float(result.fun))
    return temperature


def apply_temperature(logits: ArrayLike, temperature: float) -> NDArray[np.float64]:
    """Probabilities ``softmax(logits / temperature)``, computed stably in float64.

    Args:
        logits: Logits, shape ``(N, C)``, finite.
        temperature: ``T > 0``, e.g. from :func:`fit_temperature`; 1.0 is a plain softmax.

    Returns:
        Probabilities, float64 array of shape ``(N, C)`` with rows summing to 1.

    Examples:
        >>> apply_temperature([[0.0, 0.0], [2.0, 0.0]], 2.0).round(4).tolist()
        [[0.5, 0.5], [0.7311, 0.2689]]
    """
    t = _check_temperature(temperature)
    z = _check_scores(logits, "logits")
    return _softmax(z, t)
