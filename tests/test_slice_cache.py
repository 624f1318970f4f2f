"""The on-disk slice cache: same pixels as decoding, stale entries decoded again, wrong files refused."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from brainvit_effnet.data import FigshareDataset
from brainvit_effnet.data.sample import sample_root
from brainvit_effnet.data.slice_cache import load_slice_cache, save_slice_cache
from brainvit_effnet.experiment import ExperimentConfig, run_experiment


@pytest.fixture
def sample_copy(tmp_path: Path) -> Path:
    """A writable copy of the bundled sample, so that files can be changed."""
    return Path(shutil.copytree(sample_root(), tmp_path / "sample"))


def test_a_saved_cache_gives_back_the_same_slices_masks_and_borders(
    sample_copy: Path, tmp_path: Path
) -> None:
    first = FigshareDataset(sample_copy, cache=True)
    first.warm_cache()
    assert save_slice_cache(first, tmp_path / "c.safetensors") == len(first)

    second = FigshareDataset(sample_copy, cache=True)
    part = second.subset(range(10))
    assert load_slice_cache(part, tmp_path / "c.safetensors") == 10  # only the part's records
    for i in range(10):
        a, b = first.sample(i), second.sample(i)
        assert torch.equal(a.image, b.image)
        assert (a.mask is None) == (b.mask is None) and (a.mask is None or torch.equal(a.mask, b.mask))
        assert (a.border is None) == (b.border is None)
        if a.border is not None:
            np.testing.assert_array_equal(a.border, b.border)
    assert load_slice_cache(part, tmp_path / "c.safetensors") == 0  # already cached: nothing reread


def test_a_slice_whose_file_changed_is_decoded_again(sample_copy: Path, tmp_path: Path) -> None:
    data = FigshareDataset(sample_copy, cache=True)
    data.warm_cache()
    save_slice_cache(data, tmp_path / "c.safetensors")
    changed = Path(data.records[0].source)
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    fresh = FigshareDataset(sample_copy, cache=True)
    assert load_slice_cache(fresh, tmp_path / "c.safetensors") == len(fresh) - 1
    assert data.records[0].source not in (fresh._cache or {})


def test_wrong_files_and_settings_are_refused_with_the_file_named(sample_copy: Path, tmp_path: Path) -> None:
    data = FigshareDataset(sample_copy, cache=True)
    data.subset([0, 1]).warm_cache()
    path = tmp_path / "c.safetensors"
    save_slice_cache(data, path)
    uncropped = FigshareDataset(sample_copy, cache=True, crop=False)
    with pytest.raises(ValueError, match=r"c\.safetensors was written with crop/max_side"):
        load_slice_cache(uncropped, path)
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match=r"junk\.safetensors is not a readable slice cache"):
        load_slice_cache(data, junk)
    with pytest.raises(ValueError, match="cache=False"):
        save_slice_cache(FigshareDataset(sample_copy), tmp_path / "x.safetensors")


def test_experiments_share_one_decoding_through_cache_dir(tmp_path: Path) -> None:
    def config(fold: int) -> ExperimentConfig:
        return ExperimentConfig.from_dict(
            {
                "model": "effnet_test",
                "model_kwargs": {"img_size": 64},
                "cache": True,
                "cache_dir": str(tmp_path / "cache"),
                "bootstrap": 0,
                "val_folds": [fold % 5 + 1],
                "test_folds": [fold],
                "train": {
                    "epochs": 1,
                    "limit_train_batches": 1,
                    "progress": False,
                    "output_dir": str(tmp_path / f"r{fold}"),
                },
            }
        )

    run_experiment(config(1))
    (written,) = (tmp_path / "cache").iterdir()
    stamp = written.stat().st_mtime_ns
    run_experiment(config(2))  # every slice comes from the file: it is not written again
    assert written.stat().st_mtime_ns == stamp
    bad = config(3)
    bad.cache = False
    with pytest.raises(ValueError, match="cache_dir needs cache: true"):
        run_experiment(bad)
