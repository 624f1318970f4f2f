"""Files are never dropped in silence: linked and unreadable folders, multi-page files, odd names."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from brainvit_effnet.data import FolderDataset, ImageFiles
from brainvit_effnet.data._walk import walk_files
from brainvit_effnet.data.images import read_grey


def _png(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (36, 36), dtype=np.uint8)).save(path)
    return path


def test_a_linked_folder_is_read_and_a_link_up_the_tree_does_not_loop(tmp_path: Path) -> None:
    _png(tmp_path / "tree" / "glioma" / "a.png")
    _png(tmp_path / "elsewhere" / "b.png")
    os.symlink(tmp_path / "elsewhere", tmp_path / "tree" / "glioma" / "linked")
    os.symlink(tmp_path / "tree", tmp_path / "tree" / "glioma" / "loop")  # a link to an ancestor
    names = sorted(Path(r.source).name for r in FolderDataset(tmp_path / "tree").records)
    assert names == ["a.png", "b.png"]
    assert sorted(Path(r.source).name for r in ImageFiles([tmp_path / "tree"]).records) == ["a.png", "b.png"]


def test_an_unreadable_folder_is_named_not_skipped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _png(tmp_path / "tree" / "glioma" / "a.png")
    _png(tmp_path / "tree" / "glioma" / "locked" / "b.png")
    locked = str(tmp_path / "tree" / "glioma" / "locked")
    real_scandir = os.scandir

    def scandir(path: object = ".") -> object:  # chmod 000 does not stop root: refuse by hand
        if os.fspath(path) == locked:  # type: ignore[arg-type]
            raise PermissionError(13, "Permission denied", locked)
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    files, unreadable = walk_files(tmp_path / "tree")
    assert [f.name for f in files] == ["a.png"] and list(unreadable) == [locked]
    assert "Permission denied" in unreadable[locked] and "permissions" in unreadable[locked]
    with pytest.raises(ValueError, match=r"locked: folder could not be read"):
        FolderDataset(tmp_path / "tree")
    assert len(FolderDataset(tmp_path / "tree", strict=False)) == 1
    listed = ImageFiles([tmp_path / "tree"])
    assert len(listed) == 1 and "folder could not be read" in listed.errors[locked]


def test_a_multi_page_tiff_is_refused_naming_its_pages(tmp_path: Path) -> None:
    pages = [Image.fromarray(np.full((20, 20), v, dtype=np.uint8)) for v in (10, 120, 240)]
    stack = tmp_path / "stack.tif"
    pages[0].save(stack, save_all=True, append_images=pages[1:])
    with pytest.raises(ValueError, match=r"stack\.tif: holds 3 pages .* one image is read per file"):
        read_grey(stack)
    single = tmp_path / "one.tif"
    pages[1].save(single)
    assert read_grey(single).shape == (20, 20)


def test_a_file_name_that_is_not_utf8_keeps_its_row_and_the_csv(tmp_path: Path) -> None:
    from brainvit_effnet.cli import main
    from brainvit_effnet.models.zoo import BUNDLED_WEIGHTS

    folder = tmp_path / "scans"
    _png(folder / "plain.png")
    odd = os.fsencode(folder) + b"/caf\xe9.png"  # Latin-1 bytes, not UTF-8
    try:
        with open(odd, "wb") as fh:
            fh.write((folder / "plain.png").read_bytes())
    except OSError:
        pytest.skip("this file system refuses file names that are not UTF-8")
    out = tmp_path / "p.csv"
    assert main(["predict", str(BUNDLED_WEIGHTS["effnet_b0.figshare"]), str(folder), "--out", str(out)]) == 0
    rows = list(csv.DictReader(out.open(encoding="utf-8")))
    assert sorted(Path(r["path"]).name for r in rows) == ["caf\\xe9.png", "plain.png"]
    assert all(r["predicted"] for r in rows)
