"""Input conversion shared by the explain modules."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from numpy.typing import NDArray


def to_numpy(x: object, name: str) -> NDArray[Any]:
    if isinstance(x, torch.Tensor):
        t = x.detach().to("cpu")
        if t.dtype in (torch.float16, torch.bfloat16):  # numpy has no bfloat16
            t = t.float()
        return t.numpy()
    if isinstance(x, np.ndarray):
        return x
    raise TypeError(
        f"{name} must be a torch.Tensor or numpy.ndarray; got {type(x).__name__}. "
        "Convert it with torch.as_tensor(...) or np.asarray(...)."
    )
