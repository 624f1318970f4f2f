"""The documentation site: generated sections, verbatim examples, API pages, and the browser check."""

from __future__ import annotations

import importlib.util
import re
import shutil
import sys
from pathlib import Path
from types import ModuleType, SimpleNamespace

import pytest

import brainvit_effnet as bve
from brainvit_effnet.models.catalog import describe_models, markdown_table, markdown_weights_table

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(path.stem, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[path.stem] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def hook() -> ModuleType:
    return _load(DOCS / "hooks" / "generated.py")


@pytest.fixture(scope="module")
def check_site() -> ModuleType:
    return _load(ROOT / "tools" / "check_site.py")


def _page(src: str) -> SimpleNamespace:
    return SimpleNamespace(file=SimpleNamespace(src_path=src))


# --- the model zoo is read from the registry ---------------------------------------------------


def test_zoo_table_lists_every_registered_model_with_its_tags() -> None:
    table = markdown_table(describe_models())
    for name in bve.list_models():
        assert f"| `{name}` |" in table
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    # The shipped models' architectures offer the figshare tag; no other row does.
    assert "`in1k` (default), `figshare`" in rows["effnet_b0"] and "`figshare`" in rows["effnet_lite0"]
    assert {name for name, row in rows.items() if "`figshare`" in row} == {"effnet_b0", "effnet_lite0"}
    assert "effnet_b2_tf.figshare" not in table
    weights = markdown_weights_table(describe_models("effnet_b[02]*"))
    assert (
        "| `effnet_b0.figshare` | `brainvit-effnet/effnet_b0.figshare` (shipped inside the package" in weights
    )
    assert "| `effnet_b2_tf.in1k` | `timm/efficientnet_b2.ra_in1k` |" in weights
    assert "effnet_b2_tf.figshare" not in weights  # no weights anywhere: not offered


def test_zoo_parameter_counts_match_the_built_models() -> None:
    (info,) = describe_models("effnet_test_tf")
    model = bve.create_model("effnet_test_tf")
    assert info.params == sum(p.numel() for p in model.parameters())
    assert info.input_size == tuple(model.pretrained_cfg["input_size"])
    assert info.family == "transformer" and info.backbone == "test_efficientnet"


def test_model_options_are_read_from_the_model_classes(hook: ModuleType) -> None:
    import inspect

    from brainvit_effnet.models.effnet import EffNetBaseline, EffNetTransformer

    table = hook._model_options()
    rows = {line.split(" | ")[0].strip("| `"): line for line in table.splitlines()[2:]}
    for cls, column in ((EffNetBaseline, 1), (EffNetTransformer, 2)):
        params = inspect.signature(cls.__init__).parameters
        options = {n for n in params if n not in {"self", "backbone", "device", "dtype"}}
        assert options <= set(rows), options - set(rows)  # every option of every family is listed
        for name in options - {"img_size"}:  # img_size: each variant's own
            assert rows[name].split(" | ")[column] == f"`{params[name].default!r}`", name
    assert rows["depth"].split(" | ")[1] == "—"  # a transformer-only option
    assert "Attention heads; must divide `embed_dim`." in rows["num_heads"]
    assert "<!-- generated: model-options -->" in (DOCS / "zoo.md").read_text(encoding="utf-8")
    model = bve.create_model("effnet_test_tf", num_classes=3, in_chans=1, depth=2, pos_embed="sincos")
    assert model.in_chans == 1 and model.num_classes == 3  # the options work as the page says


def test_hook_fills_markers_and_rejects_unknown_ones(hook: ModuleType) -> None:
    page = "# Zoo\n\n<!-- generated: model-zoo -->\n\ntext\n"
    out = hook.on_page_markdown(page, page=_page("zoo.md"))
    assert "<!-- generated" not in out and "| `effnet_b2_tf` |" in out
    with pytest.raises(ValueError, match=r"zoo\.md: unknown generated section 'nope'"):
        hook.on_page_markdown("<!-- generated: nope -->\n", page=_page("zoo.md"))


def test_the_study_page_has_a_generated_section_per_grid(hook: ModuleType) -> None:
    out = hook.on_page_markdown((DOCS / "study.md").read_text(encoding="utf-8"), page=_page("study.md"))
    assert "<!-- generated" not in out
    # each grid's section shows its records (one per-fold table and its plot) or says it holds none;
    # which grids have records changes as runs land, so the test asks each section, not a total
    sections = {
        "finetune": ("## In the proposal's own setting", "## From scratch at the full recipe"),
        "scratch": ("## From scratch at the full recipe", "## What n = 5"),
    }
    for setting, (start, end) in sections.items():
        section = out[out.index(start) : out.index(end)]
        if "holds no record" in section:
            assert "### Test accuracy per fold" not in section, setting
        else:
            assert section.count("### Test accuracy per fold") == 1, setting
            assert f"(assets/study_{setting}_per_fold_accuracy.png)" in section, setting
    appendix = out[out.index("## Appendix: the short-budget grid") :]
    assert appendix.count("### Test accuracy per fold") == 1
    assert out.count("### Test accuracy per fold") <= 3


def test_pages_with_markers_use_known_generators(hook: ModuleType) -> None:
    found = {m for p in DOCS.rglob("*.md") for m in hook._MARKER.findall(p.read_text(encoding="utf-8"))}
    assert found == set(hook.GENERATORS), "every generator is used by a page, and no page asks for more"


# --- examples are included verbatim, API pages cover the package -------------------------------

_SNIPPET = re.compile(r'^\s*--8<-- "([^"]+)"$', re.MULTILINE)


def _snippets() -> dict[str, list[str]]:
    included: dict[str, list[str]] = {}
    for page in DOCS.rglob("*.md"):
        for target in _SNIPPET.findall(page.read_text(encoding="utf-8")):
            included.setdefault(target, []).append(str(page.relative_to(DOCS)))
    return included


def test_every_example_is_included_verbatim_in_a_page() -> None:
    included = _snippets()
    missing = [
        p.name for p in sorted((ROOT / "examples").glob("*.py")) if f"examples/{p.name}" not in included
    ]
    assert not missing, f'examples not shown in any docs page (add --8<-- "examples/NAME"): {missing}'


def test_every_included_file_exists() -> None:
    absent = [t for t in _snippets() if not (ROOT / t).is_file()]
    assert not absent


def test_tutorials_in_nav_exist_and_each_includes_an_example() -> None:
    nav = (ROOT / "mkdocs.yml").read_text(encoding="utf-8")
    tutorials = re.findall(r"(tutorials/\d\d-[a-z-]+\.md)", nav)
    assert len(tutorials) == 8
    for rel in tutorials:
        text = (DOCS / rel).read_text(encoding="utf-8")
        assert _SNIPPET.search(text), f"{rel} includes no example"


def test_api_reference_covers_every_public_module() -> None:
    package = Path(bve.__file__).parent
    modules = {
        ".".join(p.relative_to(package.parent).with_suffix("").parts).removesuffix(".__init__")
        for p in package.rglob("*.py")
        if not any(part.startswith("_") and part != "__init__.py" for part in p.relative_to(package).parts)
    }
    documented = {
        m
        for page in (DOCS / "api").glob("*.md")
        for m in re.findall(r"^::: ([\w.]+)$", page.read_text(), re.M)
    }

    def covered(module: str) -> bool:
        return any(
            module == d or d.startswith(module + ".") or module.startswith(d + ".") for d in documented
        )

    # Packages are covered through their modules; the CLI is documented by --help and the guide.
    skip = {
        "brainvit_effnet",
        "brainvit_effnet.cli",
        "brainvit_effnet.models.effnet",
        "brainvit_effnet.models.layers",
    }
    missing = sorted(m for m in modules - skip if not covered(m) and not m.startswith("brainvit_effnet.cli."))
    assert not missing, f"modules without an API page entry: {missing}"


def test_sphinx_roles_become_optional_links() -> None:
    roles = _load(DOCS / "hooks" / "sphinx_roles.py")
    text = "See :class:`~brainvit_effnet.data.base.MRIDataset`, :func:`create_model` and :mod:`torch.nn`."
    out = roles.convert(text)
    assert (
        '<autoref identifier="brainvit_effnet.data.base.MRIDataset" optional><code>MRIDataset</code>' in out
    )
    assert "`create_model`" in out and "<code>torch.nn</code>" in out and ":class:" not in out


# --- the browser check -------------------------------------------------------------------------


def test_check_site_explains_a_missing_build(check_site: ModuleType, tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="mkdocs build --strict"):
        check_site.check_pages(tmp_path)


def test_find_chromium_names_the_fix(check_site: ModuleType, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PATH", "")
    monkeypatch.delenv("CHROMIUM", raising=False)
    with pytest.raises(FileNotFoundError, match="apt-get install -y chromium"):
        check_site.find_chromium()


def _browser_available() -> str | None:
    if importlib.util.find_spec("playwright") is None:
        return "playwright is not installed (it comes with the dev extra)"
    if not (shutil.which("chromium") or shutil.which("chromium-browser")):
        return "no chromium on PATH (.ci/run installs Debian's package)"
    return None


@pytest.mark.skipif(_browser_available() is not None, reason=str(_browser_available()))
def test_check_site_passes_a_clean_page_and_reports_a_broken_one(
    check_site: ModuleType, tmp_path: Path
) -> None:
    page = (
        '<html><head><title>{t}</title><link rel="icon" href="data:,"></head>'
        '<body><nav class="md-nav"></nav><article><h1>{t}</h1></article>{x}</body></html>'
    )
    (tmp_path / "index.html").write_text(page.format(t="Home", x=""))
    (tmp_path / "bad").mkdir()
    broken = '<img src="/missing.png"><script>console.error("boom"); undefined_function();</script>'
    (tmp_path / "bad" / "index.html").write_text(page.format(t="Bad", x=broken))
    good, bad = check_site.check_pages(tmp_path, ["", "bad/"], screenshots=tmp_path / "shots")
    assert good.problems == [] and good.heading == "Home" and good.screenshot.is_file()
    problems = "\n".join(bad.problems)
    assert "console error: boom" in problems
    assert "undefined_function" in problems  # the uncaught ReferenceError
    assert "HTTP 404" in problems and "missing.png" in problems


def test_the_home_page_code_fits_its_block_and_leads_with_what_works_offline() -> None:
    """Code lines longer than the theme's block are cut off; the first example needs no Hub."""
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    blocks = re.findall(r"^```\w*\n(.*?)^```", text, re.M | re.S)
    long = [line for block in blocks for line in block.splitlines() if len(line) > 88]
    assert not long, f"lines cut off on the home page: {long}"
    first = next(b for b in blocks if "import brainvit_effnet" in b)
    assert ".figshare" in first and "effnet_b2" not in first


def test_the_bundled_slice_counts_agree_with_the_data() -> None:
    from brainvit_effnet.data import load_heldout_sample, load_sample

    sample, heldout = load_sample(crop=False), load_heldout_sample(crop=False)
    shared = {Path(r.source).name for r in sample.records} & {Path(r.source).name for r in heldout.records}
    text = (DOCS / "index.md").read_text(encoding="utf-8")
    claim = (
        f"a sample of {len(sample)} slices",
        f"the {len(heldout)} fold-1 slices",
        f"{len(sample) + len(heldout) - len(shared)} distinct slices in all ({len(shared)} are in both)",
    )
    flat = " ".join(text.split())
    assert all(c in flat for c in claim), claim


def test_the_readme_quotes_the_times_the_install_page_measured() -> None:
    readme = " ".join((DOCS.parent / "README.md").read_text(encoding="utf-8").split())
    install = " ".join((DOCS / "install.md").read_text(encoding="utf-8").split())
    demo = re.search(r"in (\d+ s) on 2 idle CPU cores", readme)
    suite = re.search(r"about (\d+ minutes) on 2 quiet CPU cores", readme)
    assert demo and suite, "the README states the demo's and the suite's measured times"
    assert f"took {demo[1]} on the 2-core development machine when it was idle" in install
    assert f"about {suite[1]}" in install
