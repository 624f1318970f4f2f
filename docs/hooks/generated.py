"""MkDocs hook: fill the generated parts of pages at build time, so no table is typed by hand.

A page asks for generated content with an HTML comment on a line of its own:

* ``<!-- generated: model-zoo -->`` and ``<!-- generated: model-weights -->``: the model-zoo
  table and where each tag's weights live, from the registry
  (:func:`brainvit_effnet.models.catalog.describe_models`);
* ``<!-- generated: model-options -->``: the options of ``create_model`` for each family, from
  the signatures and docstrings of the two model classes;
* ``<!-- generated: benchmark-results -->``: the benchmark tables, from
  ``benchmarks/results/*.json`` (``benchmarks/results_page.py``);
* ``<!-- generated: recipe-results -->``: the from-scratch recipe study and benchmark, from
  ``benchmarks/results/recipe*/`` (``benchmarks/recipe_page.py``);
* ``<!-- generated: study-results -->``: the transformer x label-smoothing study, from
  ``benchmarks/results/transformer_study/`` (``benchmarks/study_page.py``);
* ``<!-- generated: study-results-finetune -->`` and ``study-results-scratch``: the same study's
  full-length grids, from ``benchmarks/results/transformer_study/finetune/`` and ``scratch/``.
* ``<!-- generated: robustness-results -->``: localisation, occlusion and shift records, from
  ``benchmarks/results/model_evidence/`` (``benchmarks/robustness_page.py``).

An unknown marker fails the build rather than leaving a hole in the page.
"""

from __future__ import annotations

import importlib.util
import logging
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
# Under mkdocs' logger, so `mkdocs build --strict` turns these warnings into a failed build.
_log = logging.getLogger("mkdocs.hooks.generated")
_MARKER = re.compile(r"^<!-- generated: ([a-z0-9-]+) -->$", re.MULTILINE)


def _model_zoo() -> str:
    from brainvit_effnet.models.catalog import describe_models, markdown_table

    return markdown_table(describe_models())


def _model_weights() -> str:
    from brainvit_effnet.models.catalog import describe_models, markdown_weights_table

    return markdown_weights_table(describe_models())


# Arguments of the model classes that are not options of create_model (see models/_factory.py).
_NOT_OPTIONS = {"self", "backbone", "device", "dtype"}
_ARG_LINE = re.compile(r"^(\s*)([a-z_][a-z0-9_]*): (.*)$")


def _arg_docs(doc: str) -> dict[str, str]:
    """``name -> description`` from the ``Args:`` section of a Google-style docstring."""
    lines = doc.splitlines()
    start = next((i for i, line in enumerate(lines) if line.strip() == "Args:"), None)
    if start is None:
        return {}
    found: dict[str, str] = {}
    name, indent = None, None
    for line in lines[start + 1 :]:
        if not line.strip():
            break
        match = _ARG_LINE.match(line)
        if match and (indent is None or len(match.group(1)) == indent):
            indent, name = len(match.group(1)), match.group(2)
            found[name] = match.group(3).strip()
        elif name is not None and indent is not None and len(line) - len(line.lstrip()) > indent:
            found[name] += " " + line.strip()  # a continuation line
        else:
            break
    return found


def _model_options() -> str:
    """Every option of the two model families: default per family and meaning, from the code."""
    import inspect

    from brainvit_effnet.models.effnet import EffNetBaseline, EffNetTransformer

    families = {"baseline": EffNetBaseline, "transformer": EffNetTransformer}
    defaults: dict[str, dict[str, Any]] = {}
    meanings: dict[str, dict[str, str]] = {}
    for family, cls in families.items():
        docs = _arg_docs(inspect.getdoc(cls) or "")
        for name, param in inspect.signature(cls.__init__).parameters.items():
            if name in _NOT_OPTIONS or param.kind is param.VAR_KEYWORD:
                continue
            defaults.setdefault(name, {})[family] = param.default
            meanings.setdefault(name, {})[family] = docs.get(name, "")

    def meaning(name: str) -> str:
        texts = meanings[name]
        if len(set(texts.values())) == 1:
            return next(iter(texts.values()))
        return " ".join(f"*{family}:* {text}" for family, text in texts.items())  # they differ

    def shown(name: str, family: str) -> str:
        if family not in defaults[name]:
            return "—"  # the family has no such option
        if name == "img_size":
            return "the variant's"  # create_model passes each variant's native size
        return f"`{defaults[name][family]!r}`"

    lines = [
        "| option | baseline (`effnet_bX`) | transformer (`effnet_bX_tf`) | meaning |",
        "|---|---|---|---|",
    ]
    for name in defaults:
        text = meaning(name).replace("|", "\\|").replace("``", "`")
        lines.append(f"| `{name}` | {shown(name, 'baseline')} | {shown(name, 'transformer')} | {text} |")
    return "\n".join(lines) + "\n"


def _benchmark_module(name: str) -> Any:
    """A renderer from benchmarks/ (a folder of scripts, not a package), loaded from its file."""
    path = ROOT / "benchmarks" / f"{name}.py"
    if not path.is_file():
        _log.warning("benchmarks/%s.py is missing: its generated section is left empty.", name)
        return None
    spec = importlib.util.spec_from_file_location(name, path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    # As when the script runs: its folder on sys.path, so it can import siblings (_records).
    sys.path.insert(0, str(path.parent))
    try:
        spec.loader.exec_module(module)
    finally:
        sys.path.remove(str(path.parent))
    return module


def _benchmark_results() -> str:
    module = _benchmark_module("results_page")
    if module is None:
        return "*The benchmark renderer `benchmarks/results_page.py` is missing.*\n"
    return str(module.render_results_page(ROOT / "benchmarks" / "results"))


def _recipe_results() -> str:
    module = _benchmark_module("recipe_page")
    if module is None:
        return "*The recipe renderer `benchmarks/recipe_page.py` is missing.*\n"
    return str(module.render_recipe_page(ROOT / "benchmarks" / "results"))


def _study_results() -> str:
    module = _benchmark_module("study_page")
    if module is None:
        return "*The study renderer `benchmarks/study_page.py` is missing.*\n"
    return str(module.render_study_page(ROOT / "benchmarks" / "results" / "transformer_study"))


def _study_grid_results(setting: str) -> Callable[[], str]:
    """The generator of one of the study's full-length grids (``finetune``, ``scratch``)."""

    def render() -> str:
        module = _benchmark_module("study_page")
        if module is None:
            return "*The study renderer `benchmarks/study_page.py` is missing.*\n"
        results = ROOT / "benchmarks" / "results" / "transformer_study" / setting
        return str(module.render_study_page(results, figure=module.grid_plot(setting).name))

    return render


def _robustness_results() -> str:
    module = _benchmark_module("robustness_page")
    if module is None:
        return "*The robustness renderer `benchmarks/robustness_page.py` is missing.*\n"
    return str(module.render_robustness_page(ROOT / "benchmarks" / "results"))


GENERATORS = {
    "model-zoo": _model_zoo,
    "model-weights": _model_weights,
    "model-options": _model_options,
    "benchmark-results": _benchmark_results,
    "recipe-results": _recipe_results,
    "study-results": _study_results,
    "study-results-finetune": _study_grid_results("finetune"),
    "study-results-scratch": _study_grid_results("scratch"),
    "robustness-results": _robustness_results,
}


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in GENERATORS:
            raise ValueError(
                f"{page.file.src_path}: unknown generated section {name!r}; known: {sorted(GENERATORS)}."
            )
        return GENERATORS[name]()

    return _MARKER.sub(fill, markdown)
