"""Griffe extension: render the Sphinx roles of our docstrings as links in the API reference.

The docstrings are written for ``help()`` and IDEs with Sphinx-style roles
(``:class:`~brainvit_effnet.data.base.MRIDataset```), which mkdocstrings would print literally.
This turns each role into an optional cross-reference: a link where the target is documented on
the site, plain code where it is not (e.g. a torch or timm symbol), never a broken link.
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(r":(?:py:)?(?:class|func|meth|attr|data|mod|exc|obj|const):`(~?)([^`<>]+?)`")


def _replace(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    title = target.rsplit(".", 1)[-1] if short else target
    if "." not in target:  # unqualified: no reliable target, show it as code
        return f"`{title}`"
    return f'<autoref identifier="{target}" optional><code>{title}</code></autoref>'


def convert(text: str) -> str:
    """Replace every Sphinx role in ``text`` (exposed for tests)."""
    return _ROLE.sub(_replace, text)


class SphinxRoles(griffe.Extension):
    """Rewrite docstrings as they are loaded."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = convert(obj.docstring.value)
