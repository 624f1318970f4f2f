"""Where an experiment's data comes from, spelled as one string: ``DataSource.parse("figshare:PATH")``.

The one parser of the data strings that the config (``ExperimentConfig.data``), the CLI
(``--data``) and ablation studies take:

* ``"sample"``: the bundled 96-slice Figshare sample (offline);
* ``"heldout"``: the bundled held-out slices of the bundled model (evaluation only);
* ``"figshare:PATH"``: a Figshare release in any of its layouts (official patient-disjoint folds);
* ``"folder:PATH"``: a class-per-folder tree (``Training``/``Testing`` split folders are used);
* ``"br35h:PATH"``: the Br35H release, in its ``yes``/``no`` or its YOLO detection layout (tumour
  or no tumour; the boxes become masks).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from ..errors import InvalidArgumentError

__all__ = ["DataSource"]

Kind = Literal["sample", "heldout", "figshare", "folder", "br35h"]
_BUNDLED: tuple[Kind, ...] = ("sample", "heldout")
_WITH_PATH: tuple[Kind, ...] = ("figshare", "folder", "br35h")


@dataclass(frozen=True)
class DataSource:
    """A parsed data string.

    Attributes:
        kind: ``"sample"``, ``"heldout"``, ``"figshare"``, ``"folder"`` or ``"br35h"``.
        path: The folder of ``figshare``/``folder``/``br35h`` sources (``~`` expanded), else ``None``.

    Examples:
        >>> DataSource.parse("figshare:/data/figshare")
        DataSource(kind='figshare', path=PosixPath('/data/figshare'))
        >>> DataSource.parse("sample").has_official_folds
        True
    """

    kind: Kind
    path: Path | None = None

    @classmethod
    def parse(cls, text: str, *, allow_heldout: bool = False) -> DataSource:
        """Parse ``text``; ``allow_heldout`` admits ``"heldout"`` (evaluation commands only).

        Raises:
            ValueError: any other string, naming the accepted forms.
        """
        accepted = [
            "sample",
            *(["heldout"] if allow_heldout else []),
            "figshare:PATH",
            "folder:PATH",
            "br35h:PATH",
        ]
        if isinstance(text, str) and text in _BUNDLED and (text != "heldout" or allow_heldout):
            return cls(text)
        kind, sep, path = text.partition(":") if isinstance(text, str) else ("", "", "")
        if not sep or kind not in _WITH_PATH or not path:
            names = ", ".join(repr(a) for a in accepted[:-1]) + f" or {accepted[-1]!r}"
            raise InvalidArgumentError(f"data must be {names}; got {text!r}.")
        return cls(kind, Path(path).expanduser())

    @property
    def has_official_folds(self) -> bool:
        """Whether the source carries Figshare's official patient-disjoint folds."""
        return self.kind in ("sample", "heldout", "figshare")

    def __str__(self) -> str:
        return self.kind if self.path is None else f"{self.kind}:{self.path}"
