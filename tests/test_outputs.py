"""One rule for outputs: a command never writes over one of its inputs, a model's file or a file of
another kind (the second reliability audit: `predict --out folder/b.jpg` overwrote an input image,
`--out other/model.safetensors` a model's weights)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from brainvit_effnet._outputs import check_output_file
from brainvit_effnet.cli import main
from brainvit_effnet.data.sample import sample_root
from brainvit_effnet.errors import InvalidArgumentError
from brainvit_effnet.models.zoo import BUNDLED_WEIGHTS


@pytest.fixture
def inputs(tmp_path: Path) -> Path:
    folder = tmp_path / "inputs"
    folder.mkdir()
    for name in sorted(p.name for p in (sample_root() / "images").iterdir())[:2]:
        shutil.copyfile(sample_root() / "images" / name, folder / name)
    return folder


@pytest.mark.parametrize("target", ["image", "weights", "config"])
def test_predict_never_writes_over_an_input_or_a_model(
    inputs: Path, tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(BUNDLED_WEIGHTS["effnet_lite0.figshare"], model)
    out = {
        "image": next(inputs.iterdir()),
        "weights": model / "model.safetensors",
        "config": model / "config.json",
    }[target]
    before = out.read_bytes()
    assert main(["predict", str(model), str(inputs), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"--out {out}: this command writes the predictions as a .csv file" in err and "e.g. --out" in err
    assert out.read_bytes() == before  # untouched


def test_an_input_named_as_the_output_is_refused_whatever_its_suffix(tmp_path: Path) -> None:
    table = tmp_path / "list.csv"
    table.write_text("a,b\n")
    with pytest.raises(InvalidArgumentError, match="is one of the inputs"):
        check_output_file(table, suffixes=(".csv",), what="the predictions", inputs=[str(table)])
    assert check_output_file(tmp_path / "new.CSV", suffixes=(".csv",), what="x") == tmp_path / "new.CSV"


def test_export_refuses_to_replace_the_weights_it_exports(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    model = tmp_path / "model"
    shutil.copytree(BUNDLED_WEIGHTS["effnet_b0.figshare"], model)
    before = (model / "model.safetensors").read_bytes()
    argv = ["export", str(model), "--format", "torchscript", "--out", str(model / "model.safetensors")]
    assert main(argv) == 2
    assert "writes the torchscript export as a .pt file" in capsys.readouterr().err
    assert (model / "model.safetensors").read_bytes() == before
