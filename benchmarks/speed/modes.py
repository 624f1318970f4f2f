"""Execution modes (precision, memory format, compilation) parsed from specs like ``bf16+channels_last``."""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from typing import Any

import torch

from .config import FLAGS, PRECISIONS


@dataclass(frozen=True)
class Mode:
    """An execution mode: precision, memory format and compilation."""

    name: str
    precision: str = "fp32"
    channels_last: bool = False
    compile: str | None = None  # None, "default" or "reduce-overhead" (CUDA graphs)

    @classmethod
    def parse(cls, spec: str) -> Mode:
        """Parse a spec such as ``bf16+channels_last+compile``; ``ValueError`` names what is wrong."""
        tokens = [t.strip() for t in spec.split("+") if t.strip()]
        precision = [t for t in tokens if t in PRECISIONS]
        unknown = [t for t in tokens if t not in PRECISIONS and t not in FLAGS]
        if unknown or len(precision) > 1 or not tokens or len(set(tokens)) != len(tokens):
            raise ValueError(
                f"bad mode {spec!r}: combine at most one of {'/'.join(PRECISIONS)} with "
                f"{', '.join(FLAGS)} using '+', e.g. bf16+channels_last+compile"
            )
        if "compile" in tokens and "cudagraphs" in tokens:
            raise ValueError(f"bad mode {spec!r}: 'cudagraphs' already compiles (mode='reduce-overhead')")
        compile_mode = (
            "reduce-overhead" if "cudagraphs" in tokens else "default" if "compile" in tokens else None
        )
        prec = precision[0] if precision else "fp32"
        # canonical name: precision, then flags in a fixed order ("fp32" dropped when flags are present)
        flags = [f for f in FLAGS if f in tokens]
        name = "+".join(([prec] if prec != "fp32" or not flags else []) + flags)
        return cls(name=name, precision=prec, channels_last="channels_last" in tokens, compile=compile_mode)

    @property
    def dtype(self) -> torch.dtype | None:
        """The autocast dtype, ``None`` for fp32."""
        return PRECISIONS[self.precision]

    @property
    def eager(self) -> bool:
        """True when the mode does not compile."""
        return self.compile is None

    def autocast(self, device: torch.device) -> contextlib.AbstractContextManager[Any]:
        """``torch.autocast`` for the precision, a null context for fp32."""
        if self.dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(device.type, dtype=self.dtype)
