"""MkDocs hook: fill the generated parts of pages at build time, so no table is typed by hand.

A page asks for generated content with an HTML comment on a line of its own:

* ``<!-- generated: model-zoo -->`` and ``<!-- generated: model-weights -->``: the model-zoo
  table and where each tag's weights live, from the registry
  (:func:`brainvit_effnet.models.catalog.describe_models`);
* ``<!-- generated: benchmark-results -->``: the benchmark tables, from
  ``benchmarks/results/*.json`` (``benchmarks/results_page.py``);
* ``<!-- generated: recipe-results -->``: the from-scratch recipe study and benchmark, from
  ``benchmarks/results/recipe*/`` (``benchmarks/recipe_page.py``);
* ``<!-- generated: study-results -->``: the transformer x label-smoothing study, from
  ``benchmarks/results/transformer_study/`` (``benchmarks/study_page.py``).

An unknown marker fails the build rather than leaving a hole in the page.
"""

from __future__ import annotations

import importlib.util
import logging
import re
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
    spec.loader.exec_module(module)
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


GENERATORS = {
    "model-zoo": _model_zoo,
    "model-weights": _model_weights,
    "benchmark-results": _benchmark_results,
    "recipe-results": _recipe_results,
    "study-results": _study_results,
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
