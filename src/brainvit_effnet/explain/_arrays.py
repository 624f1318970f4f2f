"""Input conversion shared by the explain modules (kept for the modules that import it from here)."""

from __future__ import annotations

from .._tensors import to_numpy

__all__ = ["to_numpy"]
