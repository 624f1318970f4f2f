"""A description of every model in the zoo, read from the registry (for the CLI and the docs).

The ``brainvit-effnet models`` command and the docs' model-zoo page both render
:func:`describe_models`, so neither is ever typed by hand.

Examples:
    >>> from brainvit_effnet.models.catalog import describe_models
    >>> [m.name for m in describe_models("effnet_b2*")]
    ['effnet_b2', 'effnet_b2_tf']
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ._factory import create_model, list_models
from .names import parse_model_name
from .zoo import default_cfgs

__all__ = ["ModelInfo", "describe_models", "markdown_table", "markdown_weights_table"]


@dataclass(frozen=True)
class ModelInfo:
    """One architecture of the zoo.

    Attributes:
        name: Architecture name for :func:`~brainvit_effnet.create_model`.
        family: ``"baseline"`` (EfficientNet, pooling, dropout, linear) or ``"transformer"``.
        backbone: The timm EfficientNet it is built on.
        input_size: Native ``(C, H, W)``.
        params: Parameters with the default head (4 classes), in units.
        tags: Pretrained tags, the default first.
        hub_ids: Hugging Face Hub repo of each tag's weights.
        bundled: Tags whose weights ship inside the package (they load offline; their Hub repo is
            where they would be published).
    """

    name: str
    family: str
    backbone: str
    input_size: tuple[int, int, int]
    params: int
    tags: tuple[str, ...]
    hub_ids: dict[str, str]
    bundled: tuple[str, ...] = ()


def describe_models(filter: str | Sequence[str] = "") -> list[ModelInfo]:
    """Describe the models matching ``filter`` (shell wildcards), built on the meta device.

    No weights are allocated or downloaded: parameter counts come from the meta-device modules
    (the one thing here that needs a model; the rest is the registry's config).
    """
    infos = []
    for name in list_models(filter):
        with torch.device("meta"):
            model = create_model(name)
        cfgs = default_cfgs[name]
        infos.append(
            ModelInfo(
                name=name,
                family=parse_model_name(name).family,
                backbone=str(model.backbone_name),
                input_size=tuple(cfgs.default.input_size),
                params=sum(p.numel() for p in model.parameters()),
                tags=tuple(cfgs.tags),
                hub_ids={tag: str(cfgs.cfgs[tag].hf_hub_id) for tag in cfgs.tags},
                bundled=tuple(tag for tag in cfgs.tags if cfgs.cfgs[tag].file),
            )
        )
    return infos


def markdown_table(infos: Sequence[ModelInfo]) -> str:
    """A Markdown table of ``infos``: name, family, backbone, input size, parameters and tags."""
    lines = [
        "| model | family | backbone (timm) | input | params | pretrained tags |",
        "|---|---|---|---|---:|---|",
    ]
    for m in infos:
        side = f"{m.input_size[-2]}\u00d7{m.input_size[-1]}"  # the multiplication sign
        tags = ", ".join(f"`{t}`" + (" (default)" if i == 0 else "") for i, t in enumerate(m.tags))
        lines.append(
            f"| `{m.name}` | {m.family} | `{m.backbone}` | {side} | {m.params / 1e6:.2f}M | {tags} |"
        )
    return "\n".join(lines) + "\n"


def markdown_weights_table(infos: Sequence[ModelInfo]) -> str:
    """A Markdown table of where each ``arch.tag``'s weights live (Hub repo, or inside the package)."""
    lines = ["| `arch.tag` | Hub repo |", "|---|---|"]
    for m in infos:
        lines.extend(
            f"| `{m.name}.{tag}` | `{repo}`"
            + (" (shipped inside the package; loads offline; not yet published)" if tag in m.bundled else "")
            + " |"
            for tag, repo in m.hub_ids.items()
        )
    return "\n".join(lines) + "\n"
