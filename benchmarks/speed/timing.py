"""Timing primitives shared by every measurement: the clock, round-robin order, percentiles, rounding."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, TypeVar

import torch


class Clock:
    """Wall time of a block: CUDA events (plus synchronisation) on CUDA, perf_counter on CPU."""

    def __init__(self, device: torch.device) -> None:
        self.cuda = device.type == "cuda"

    def sync(self) -> None:
        """Wait for queued CUDA work (nothing on CPU)."""
        if self.cuda:
            torch.cuda.synchronize()

    def time(self, fn: Callable[..., Any], *args: Any) -> float:
        """Seconds taken by ``fn(*args)``, all queued device work included."""
        if self.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            torch.cuda.synchronize()
            start.record()
            fn(*args)
            end.record()
            end.synchronize()
            return float(start.elapsed_time(end)) / 1e3
        t0 = time.perf_counter()
        fn(*args)
        return time.perf_counter() - t0


T = TypeVar("T")


def rotations(items: list[T], rounds: int) -> Iterator[list[T]]:
    """Round-robin order for each round, starting one model later every round."""
    n = len(items)
    for r in range(rounds):
        k = r % n if n else 0
        yield items[k:] + items[:k]


def percentile(values: Sequence[float], q: float) -> float:
    """Linear-interpolation percentile (``q`` in 0..100) of a non-empty sequence."""
    data = sorted(values)
    if len(data) == 1:
        return data[0]
    pos = (len(data) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(data) - 1)
    return data[lo] + (data[hi] - data[lo]) * (pos - lo)


def error_text(exc: BaseException) -> str:
    """``Type: first line of the message``, at most 500 characters, for the JSON."""
    lines = [ln for ln in str(exc).strip().splitlines() if ln.strip()]
    first = lines[0] if lines else ""
    return f"{type(exc).__name__}: {first}"[:500]


def sig(value: float, digits: int = 6) -> float:
    """``value`` to ``digits`` significant digits: the same relative precision for 0.5 and 5000 img/s."""
    return float(f"{value:.{digits}g}")


def ratio(num: float, den: float) -> float:
    """``num / den`` to 5 significant digits (plain rounding would flatten a small ratio)."""
    return sig(num / den, 5)
