"""DataSource: the one parser of data strings (config, CLI, ablation)."""

from __future__ import annotations

from pathlib import Path

import pytest

from brainvit_effnet.data.sources import DataSource


def test_every_form_parses_and_prints_back() -> None:
    assert DataSource.parse("sample") == DataSource("sample")
    assert DataSource.parse("figshare:/d/f") == DataSource("figshare", Path("/d/f"))
    assert DataSource.parse("folder:~/x").path == Path("~/x").expanduser()
    assert str(DataSource.parse("figshare:/d/f")) == "figshare:/d/f"
    assert DataSource.parse("heldout", allow_heldout=True).kind == "heldout"
    assert (
        DataSource.parse("sample").has_official_folds and not DataSource.parse("folder:/x").has_official_folds
    )


@pytest.mark.parametrize("text", ["kaggle:/x", "figshare:", "folder", "heldout", "", "Sample"])
def test_other_strings_are_refused_naming_the_forms(text: str) -> None:
    with pytest.raises(
        ValueError, match=r"data must be 'sample', 'figshare:PATH', 'folder:PATH' or 'br35h:PATH'"
    ):
        DataSource.parse(text)


def test_the_evaluation_form_names_heldout() -> None:
    with pytest.raises(
        ValueError, match=r"'sample', 'heldout', 'figshare:PATH', 'folder:PATH' or 'br35h:PATH'"
    ):
        DataSource.parse("nope", allow_heldout=True)
