"""Reading the run records the study and benchmark scripts write (standard library only).

The docs hook imports the page renderers, which import this module, without torch installed in
the way a training run needs it, so nothing here may import torch, timm or the package.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def val_metrics_at(history: Sequence[Mapping[str, Any]], epoch: int | None) -> dict[str, Any]:
    """The validation metrics logged at ``epoch`` (``val_`` prefix dropped), plus ``"epoch"``.

    ``{}`` when no history row has that epoch, e.g. a run without validation.
    """
    row = next((h for h in history if h.get("epoch") == epoch), None)
    if row is None:
        return {}
    return {k.removeprefix("val_"): v for k, v in row.items() if k.startswith("val_")} | {"epoch": epoch}
