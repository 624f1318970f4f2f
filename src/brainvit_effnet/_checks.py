"""Scalar type predicates shared by every argument check: ``True`` is not a number here.

``bool`` subclasses ``int`` in Python, so ``isinstance(True, int)`` holds and ``epochs=True`` would
pass a plain check as 1. Numpy scalars (``np.int64`` from an array, ``np.float32``) do count. Each
caller keeps its own message and exception, which name the argument and what it must be.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from .errors import InvalidArgumentError

if TYPE_CHECKING:  # for the type checker only: no runtime dependency
    import numpy as np
    from typing_extensions import TypeIs

from ._suggest import close_matches

__all__ = ["check_choice", "is_int", "is_real"]


def is_int(value: object) -> TypeIs[int | np.integer[Any]]:
    """Whether ``value`` is an integer (Python or numpy), not a bool.

    Examples:
        >>> is_int(3), is_int(True), is_int(3.0)
        (True, False, False)
    """
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def is_real(value: object) -> TypeIs[int | float | np.integer[Any] | np.floating[Any]]:
    """Whether ``value`` is a real number (int or float, Python or numpy), not a bool.

    Examples:
        >>> is_real(0.5), is_real(2), is_real(False), is_real("0.5")
        (True, True, False, False)
    """
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_choice(value: object, choices: Sequence[str], name: str, note: str = "") -> str:
    """``value`` if it is one of the names ``choices``; else a ``ValueError`` that lists them.

    Args:
        value: What the caller was given.
        choices: The accepted names; the message shows them as given (a tuple or a list).
        name: The argument's name, as the message should call it.
        note: Optional aside after the choices, e.g. ``" (how the heads are combined)"``.

    Raises:
        ValueError: ``value`` is not one of ``choices``; a close name is suggested.

    Examples:
        >>> check_choice("max", ("mean", "max"), "head_fusion")
        'max'
    """
    if not isinstance(value, str) or value not in choices:
        hint = close_matches(value, choices) if isinstance(value, str) else ""
        raise InvalidArgumentError(f"{name} must be one of {choices}{note}; got {value!r}.{hint}")
    return value
