"""Overlays, outlines, captioned grids and atomic PNG writing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from brainvit_effnet.explain import _grid_layout as grid_layout
from brainvit_effnet.explain.overlay import (
    COLORMAPS,
    colorize,
    draw_outline,
    explanation_grid,
    overlay_heatmap,
    save_grid,
    save_overlay,
)

NAMES = ["glioma", "meningioma", "pituitary"]
GREEN = np.array(grid_layout._CAPTION_CORRECT)
RED = np.array(grid_layout._CAPTION_WRONG)
PAD = grid_layout._GRID_PADDING


# -- colour maps --------------------------------------------------------------------------------------
def test_colorize_shape_dtype_and_jet_endpoints() -> None:
    heat = torch.tensor([[0.0, 0.5, 1.0]])
    rgb = colorize(heat, "jet")
    assert rgb.shape == (1, 3, 3) and rgb.dtype == np.uint8
    assert rgb[0, 0].tolist() == [0, 0, 128]  # dark blue
    assert rgb[0, 2].tolist() == [128, 0, 0]  # dark red
    assert rgb[0, 1, 1] > 200  # greenish in the middle


def test_the_default_colour_map_is_perceptually_uniform() -> None:
    """Jet's bright bands invent edges in a smooth map; the default is inferno, whose lightness rises
    monotonically from 0 to 1 (readable in greyscale too)."""
    rgb = colorize(torch.linspace(0, 1, 256)[None])[0].astype(float)
    lightness = rgb @ np.array([0.299, 0.587, 0.114])
    assert np.all(np.diff(lightness) >= 0)


@pytest.mark.parametrize("name", ["jet", "inferno", "viridis"])
def test_colormaps_match_matplotlib(name: str) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    ref = np.rint(matplotlib.colormaps[name](np.linspace(0, 1, 256))[:, :3] * 255)
    assert np.abs(COLORMAPS[name].astype(float) - ref).max() == 0  # matplotlib's own tables


def test_colorize_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match="colormap must be one of"):
        colorize(np.zeros((2, 2)), "hot")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"values must lie in \[0, 1\]"):
        colorize(np.full((2, 2), 3.0))
    with pytest.raises(ValueError, match=r"shape \(H, W\)"):
        colorize(np.zeros((1, 2, 2)))


# -- overlays -----------------------------------------------------------------------------------------------
def test_overlay_grey_where_zero_and_coloured_where_high() -> None:
    image = torch.full((1, 20, 30), 0.4)
    heat = torch.zeros(20, 30)
    heat[5:10, 5:10] = 1.0
    out = overlay_heatmap(image, heat, alpha=0.5, colormap="jet")
    assert out.mode == "RGB" and out.size == (30, 20)
    arr = np.asarray(out).astype(int)
    assert arr[15, 20].tolist() == [102, 102, 102]  # 0.4 * 255 untouched where the heatmap is 0
    hot = arr[7, 7]
    assert hot.tolist() == [round(102 * 0.5 + 128 * 0.5), 51, 51]  # half-way to jet's dark red


def test_overlay_resizes_heatmap_and_accepts_three_channels_and_pil() -> None:
    image = torch.rand(3, 64, 48)
    heat = torch.zeros(8, 6)
    heat[:4] = 1.0
    out = np.asarray(overlay_heatmap(image, heat)).astype(int)
    assert out.shape == (64, 48, 3)
    top, bottom = out[:24], out[40:]
    assert (bottom[..., 0] == bottom[..., 1]).all()  # still grey far from the hot half
    assert (np.abs(top[..., 0] - top[..., 2]) > 10).mean() > 0.9
    pil = Image.fromarray((np.random.rand(16, 16) * 255).astype(np.uint8))
    assert overlay_heatmap(pil, np.zeros((16, 16))).size == (16, 16)


def test_overlay_unnormalises_with_mean_and_std() -> None:
    raw = torch.linspace(0, 1, 16).reshape(1, 4, 4).repeat(3, 1, 1)
    mean, std = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
    normed = (raw - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]
    heat = torch.zeros(4, 4)
    got = np.asarray(overlay_heatmap(normed, heat, mean=mean, std=std)).astype(int)
    expected = np.rint(raw[0].numpy() * 255)
    assert np.abs(got[..., 0] - expected).max() <= 1
    with pytest.raises(ValueError, match="pass the mean= and std="):
        overlay_heatmap(normed, heat)
    with pytest.raises(ValueError, match="both mean and std"):
        overlay_heatmap(normed, heat, mean=mean)


def test_overlay_validation() -> None:
    with pytest.raises(ValueError, match=r"\(1, H, W\), \(3, H, W\) or \(H, W\)"):
        overlay_heatmap(torch.rand(2, 4, 4), torch.rand(4, 4))
    with pytest.raises(ValueError, match="alpha must be a float"):
        overlay_heatmap(torch.rand(1, 4, 4), torch.rand(4, 4), alpha=2.0)
    with pytest.raises(TypeError, match="integer dtype"):
        overlay_heatmap(np.zeros((1, 4, 4), dtype=np.uint8), np.zeros((4, 4)))


# -- outlines ---------------------------------------------------------------------------------------------
def test_outline_pixels_are_drawn_at_the_polygon_coordinates() -> None:
    image = Image.new("RGB", (32, 24), (10, 10, 10))
    square = np.array([[5.0, 4.0], [20.0, 4.0], [20.0, 15.0], [5.0, 15.0]])  # (x, y)
    out = np.asarray(draw_outline(image, square, color=(0, 255, 0)))
    for x, y in [(5, 4), (20, 4), (20, 15), (5, 15), (12, 4), (5, 10), (20, 9), (12, 15)]:
        assert out[y, x].tolist() == [0, 255, 0], (x, y)
    assert out[10, 12].tolist() == [10, 10, 10]  # inside is untouched
    assert out[2, 2].tolist() == [10, 10, 10]
    assert np.asarray(image)[4, 5].tolist() == [10, 10, 10]  # the input image is not modified


def test_mask_boundary_pixels_only() -> None:
    image = Image.new("RGB", (12, 10))
    mask = np.zeros((10, 12), dtype=bool)
    mask[2:7, 3:9] = True
    out = np.asarray(draw_outline(image, mask, color=(255, 0, 0)))
    red = (out == [255, 0, 0]).all(axis=2)
    expected = mask.copy()
    expected[3:6, 4:8] = False  # interior
    np.testing.assert_array_equal(red, expected)
    thick = (np.asarray(draw_outline(image, mask, color=(255, 0, 0), width=2)) == [255, 0, 0]).all(axis=2)
    assert thick.sum() == mask.sum() - 1 * 2  # only the 1x2 core stays unpainted
    with pytest.raises(ValueError, match="image's shape"):
        draw_outline(image, np.zeros((4, 4), dtype=bool))
    with pytest.raises(ValueError, match=r"\(K, 2\)"):
        draw_outline(image, np.zeros((4, 3)))


# -- grids --------------------------------------------------------------------------------------------------
def grid_inputs(n: int, size: int = 32) -> tuple[torch.Tensor, torch.Tensor]:
    images = torch.full((n, 1, size, size), 0.5)
    heat = torch.zeros(n, size, size)
    return images, heat


def cell_origin(index: int, ncols: int, tile: int, cell_h: int, title_h: int = 0) -> tuple[int, int]:
    r, c = divmod(index, ncols)
    return PAD + c * (tile + PAD), title_h + PAD + r * cell_h


def test_grid_layout_and_tile_count() -> None:
    tile = 48
    images, heat = grid_inputs(5)
    grid5 = explanation_grid(
        images, heat, ncols=2, tile=tile, true_labels=[0] * 5, pred_labels=[0] * 5, colorbar=False
    )
    grid3 = explanation_grid(
        images[:3], heat[:3], ncols=2, tile=tile, true_labels=[0] * 3, pred_labels=[0] * 3, colorbar=False
    )
    assert grid5.width == grid3.width == 2 * tile + 3 * PAD
    cell_h = grid5.height - grid3.height  # one more row
    assert cell_h > tile + PAD
    assert grid5.height == 3 * cell_h + PAD
    arr = np.asarray(grid5).astype(int)
    grey = 128  # rint(0.5 * 255)
    for i in range(5):
        x0, y0 = cell_origin(i, 2, tile, cell_h)
        assert arr[y0 + tile // 2, x0 + tile // 2].tolist() == [grey] * 3, i
    x5, y5 = cell_origin(5, 2, tile, cell_h)  # the empty sixth cell stays background
    assert arr[y5 + tile // 2, x5 + tile // 2].tolist() == [0, 0, 0]
    assert explanation_grid(images[:1], heat[:1], ncols=4, tile=tile).width == tile + 2 * PAD
    # the colour bar is a strip under the tiles: the colour map from low (left) to high (right)
    labels = {"true_labels": [0] * 5, "pred_labels": [0] * 5}
    with_bar = np.asarray(explanation_grid(images, heat, ncols=2, tile=tile, **labels)).astype(int)
    assert with_bar.shape[0] > grid5.height
    strip = with_bar[grid5.height + PAD + 2, :, :]  # a row through the strip
    coloured = strip[(strip.max(axis=1) - strip.min(axis=1)) > 60]  # saturated colour-map pixels
    assert len(coloured) > 20 and coloured[0, 2] > coloured[0, 0] and coloured[-1, 0] > coloured[-1, 2]


def test_caption_colour_green_if_correct_red_if_wrong() -> None:
    tile = 64
    images, heat = grid_inputs(3)
    grid = explanation_grid(
        images,
        heat,
        true_labels=[0, 1, "pituitary"],
        pred_labels=torch.tensor([0, 2, 2]),
        probs=np.array([0.9, 0.6, 0.7]),
        class_names=NAMES,
        ncols=3,
        tile=tile,
        colorbar=False,
    )
    arr = np.asarray(grid).astype(int)
    band_y = PAD + tile + 1
    for i, expected in enumerate([GREEN, RED, GREEN]):
        x0 = PAD + i * (tile + PAD)
        band = arr[band_y : grid.height - PAD, x0 : x0 + tile].reshape(-1, 3)
        share = (band == expected).all(axis=1).mean()
        assert share > 0.5, (i, share)
        assert (band.min(axis=1) > 150).sum() > 10  # white (anti-aliased) text drawn on the band


def test_caption_from_probability_matrix_and_unknown_labels() -> None:
    tile = 64
    images, heat = grid_inputs(2)
    probs = torch.tensor([[0.1, 0.8, 0.1], [0.7, 0.2, 0.1]])
    grid = explanation_grid(images, heat, true_labels=[1, 1], probs=probs, class_names=NAMES, tile=tile)
    arr = np.asarray(grid).astype(int)
    colours = [arr[PAD + tile + 1, PAD + i * (tile + PAD) + tile - 2].tolist() for i in range(2)]
    assert colours == [GREEN.tolist(), RED.tolist()]  # argmax of probs is the prediction
    no_truth = np.asarray(explanation_grid(images, heat, pred_labels=[0, 1], tile=tile)).astype(int)
    assert no_truth[PAD + tile + 1, tile].tolist() == list(grid_layout._CAPTION_UNKNOWN)


def test_caption_text() -> None:
    import PIL.ImageDraw
    import PIL.ImageFont

    draw = PIL.ImageDraw.Draw(Image.new("RGB", (1, 1)))
    font = PIL.ImageFont.load_default()
    assert grid_layout._caption_lines("glioma", "meningioma", 0.8712, draw, font, 10_000) == [
        "true: glioma | pred: meningioma 0.87"
    ]
    narrow = grid_layout._caption_lines("glioma", "meningioma", 0.8712, draw, font, 90)
    assert len(narrow) == 2 and narrow[0] == "true: glioma" and narrow[1].endswith(" 0.87")


def test_grid_draws_outlines_and_masks_scaled_to_the_tile() -> None:
    size, tile = 32, 64  # scale 2
    images, heat = grid_inputs(2, size)
    square = np.array([[8.0, 8.0], [23.0, 8.0], [23.0, 23.0], [8.0, 23.0]])
    mask = np.zeros((size, size), dtype=bool)
    mask[8:24, 8:24] = True
    grid = explanation_grid(images, heat, outlines=[square, None], masks=[None, mask], tile=tile, ncols=2)
    arr = np.asarray(grid)
    for i in range(2):
        x0 = PAD + i * (tile + PAD)
        cell = arr[PAD : PAD + tile, x0 : x0 + tile]
        green = (cell == [0, 255, 0]).all(axis=2)
        _, xs = np.nonzero(green)
        assert green.any(), i
        assert abs(xs.min() - 16.5) <= 1.5 and abs(xs.max() - 47) <= 1.5, (i, xs.min(), xs.max())
        assert not green[32, 32]  # centre of the square untouched


def test_grid_validation() -> None:
    images, heat = grid_inputs(2)
    with pytest.raises(ValueError, match="one map per image"):
        explanation_grid(images, heat[:1])
    with pytest.raises(ValueError, match="outside class_names"):
        explanation_grid(images, heat, true_labels=[0, 5], class_names=NAMES)
    with pytest.raises(ValueError, match="ncols must be"):
        explanation_grid(images, heat, ncols=0)
    with pytest.raises(ValueError, match=r"probs must have shape \(2,\)"):
        explanation_grid(images, heat, probs=[0.1, 0.2, 0.3])


# -- saving -----------------------------------------------------------------------------------------------
def test_save_overlay_writes_png_atomically(tmp_path: Path) -> None:
    image, heat = torch.rand(1, 16, 16), torch.rand(16, 16)
    outline = np.array([[2.0, 2.0], [12.0, 2.0], [12.0, 12.0]])
    path = save_overlay(tmp_path / "sub" / "case.png", image, heat, outline, alpha=0.3, colormap="viridis")
    assert path == tmp_path / "sub" / "case.png"
    assert [p.name for p in path.parent.iterdir()] == ["case.png"]  # no temp files left
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size == (16, 16)
        expected = draw_outline(overlay_heatmap(image, heat, alpha=0.3, colormap="viridis"), outline)
        np.testing.assert_array_equal(np.asarray(img), np.asarray(expected))
    grid_path = save_grid(tmp_path / "grid.png", image[None], heat[None], title="t")
    with Image.open(grid_path) as img:
        assert img.format == "PNG"
    with pytest.raises(ValueError, match=r"must end in \.png"):
        save_overlay(tmp_path / "x.jpg", image, heat)


def test_failed_write_leaves_no_partial_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "case.png"
    target.write_bytes(b"old")

    def broken_save(self: Image.Image, fp: object, *args: object, **kwargs: object) -> None:
        fp.write(b"partial")  # type: ignore[attr-defined]
        raise OSError("disk full")

    monkeypatch.setattr(Image.Image, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_overlay(target, torch.rand(1, 8, 8), torch.rand(8, 8))
    assert [p.name for p in tmp_path.iterdir()] == ["case.png"]
    assert target.read_bytes() == b"old"  # the previous file is intact


def test_grid_scales_with_sample_count() -> None:
    images, heat = grid_inputs(9, 16)
    grid = explanation_grid(images, heat, ncols=4, tile=16, title="Grad-CAM")
    rows = math.ceil(9 / 4)
    assert grid.width == 4 * 16 + 5 * PAD
    assert grid.height > rows * 16


def test_half_precision_tensors_are_accepted() -> None:
    image = torch.full((1, 8, 8), 0.5, dtype=torch.bfloat16)
    out = overlay_heatmap(image, torch.zeros(8, 8, dtype=torch.float16))
    assert np.asarray(out)[0, 0].tolist() == [128, 128, 128]


# -- legend and figure formats ----------------------------------------------------------------------
def test_legend_names_the_outline_and_the_caption_colours_in_use() -> None:
    images, heat = grid_inputs(3, 48)
    masks = np.zeros((3, 48, 48), dtype=bool)
    masks[:, 10:30, 10:30] = True
    labelled = {"true_labels": [0, 1, 2], "pred_labels": [0, 2, 2], "class_names": NAMES}
    grid = explanation_grid(images, heat, masks=masks, tile=48, outline_color=(255, 0, 255), **labelled)
    assert grid.info["legend"] == [
        "outline: tumour mask",
        "caption: prediction correct",
        "caption: prediction wrong",
    ]
    without = explanation_grid(images, heat, masks=masks, tile=48, legend=False, **labelled)
    assert without.info["legend"] == [] and without.height < grid.height
    legend_band = np.asarray(grid).astype(int)[without.height :]  # below the colour bar
    for colour in ((255, 0, 255), tuple(GREEN), tuple(RED)):  # a swatch of each colour is drawn
        assert (legend_band == colour).all(axis=-1).sum() > 10, colour
    unlabelled = explanation_grid(images, heat, tile=48)  # no outline, no caption: nothing to explain
    assert unlabelled.info["legend"] == []
    assert explanation_grid(images, heat, tile=48, true_labels=[0, 1, 2]).info["legend"] == [
        "caption: true label unknown"  # no prediction given: the grey band
    ]


@pytest.mark.parametrize(("suffix", "magic"), [(".pdf", (b"%PDF",)), (".svg", (b"<?xml", b"<svg"))])
def test_grids_and_overlays_are_written_as_pdf_and_svg(tmp_path: Path, suffix: str, magic: tuple) -> None:
    images, heat = grid_inputs(2, 32)
    grid = save_grid(tmp_path / f"grid{suffix}", images, heat, true_labels=[0, 1], pred_labels=[0, 0])
    single = save_overlay(tmp_path / f"one{suffix}", images[0], heat[0])
    for path in (grid, single):
        assert path.read_bytes().lstrip().startswith(magic), path.read_bytes()[:40]
    if suffix == ".svg":
        assert "<svg" in grid.read_text() and "<image" in grid.read_text()  # the grid's pixels
    first = grid.read_bytes()
    save_grid(tmp_path / f"grid{suffix}", images, heat, true_labels=[0, 1], pred_labels=[0, 0])
    assert grid.read_bytes() == first  # no creation date: the same grid gives the same file
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([f"grid{suffix}", f"one{suffix}"])


def test_grid_captions_name_each_slice() -> None:
    images, heat = torch.rand(2, 1, 64, 64), torch.rand(2, 64, 64)
    plain = explanation_grid(images, heat, true_labels=[0, 1], class_names=["a", "b"], tile=96)
    named = explanation_grid(
        images, heat, true_labels=[0, 1], class_names=["a", "b"], tile=96, ids=["2098.png", "t1.nii.gz::z=12"]
    )
    assert named.height > plain.height  # one more caption line per tile
    with pytest.raises(ValueError, match="ids has 1 entries for 2 samples"):
        explanation_grid(images, heat, ids=["only one"])
