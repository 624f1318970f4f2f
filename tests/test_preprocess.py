"""Intensity scaling and the study's brain-contour crop (scipy reimplementation of the OpenCV code)."""

from __future__ import annotations

import logging
from collections import deque
from pathlib import Path

import numpy as np
import pytest
import torch

from brainvit_effnet.data.preprocess import brain_bbox, crop_to_brain, to_unit_float


def ellipse(shape: tuple[int, int], center: tuple[float, float], axes: tuple[float, float]) -> np.ndarray:
    rows, cols = np.ogrid[: shape[0], : shape[1]]
    return ((rows - center[0]) / axes[0]) ** 2 + ((cols - center[1]) / axes[1]) ** 2 <= 1


def synthetic_brain(seed: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """A noisy bright ellipse on a dark noisy background, plus a small bright speck; and the ellipse box."""
    rng = np.random.default_rng(seed)
    shape = (128, 160)
    image = rng.normal(12, 6, shape)  # background noise, well under the threshold of 45
    brain = ellipse(shape, center=(66, 84), axes=(40, 52))
    image[brain] = rng.normal(150, 20, int(brain.sum()))
    image[4:10, 4:10] = 255  # a bright speck (e.g. a marker) away from the brain; survives the erosion
    rows, cols = np.nonzero(brain)
    box = (int(rows.min()), int(rows.max()) + 1, int(cols.min()), int(cols.max()) + 1)
    return np.clip(np.rint(image), 0, 255).astype(np.uint8), box


# --------------------------------------------------------------------------------------- to_unit_float
def test_to_unit_float_divides_uint8_by_255() -> None:
    out = to_unit_float(np.array([[0, 51], [204, 255]], dtype=np.uint8))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.2], [0.8, 1.0]], rtol=0, atol=1e-7)
    # 8-bit images keep their absolute grey levels: no stretching.
    np.testing.assert_allclose(to_unit_float(np.array([[10, 20]], dtype=np.uint8)), [[10 / 255, 20 / 255]])


def test_to_unit_float_min_max_scales_int16_and_float() -> None:
    mat_slice = np.array([[-100, 0], [100, 300]], dtype=np.int16)  # MATLAB-style signed slice
    out = to_unit_float(mat_slice)
    assert out.dtype == np.float32
    np.testing.assert_allclose(out, [[0.0, 0.25], [0.5, 1.0]], atol=1e-7)
    np.testing.assert_allclose(to_unit_float(np.array([[2.0, 4.0, 3.0]])), [[0.0, 1.0, 0.5]], atol=1e-7)


def test_to_unit_float_constant_image_is_zeros() -> None:
    out = to_unit_float(np.full((4, 5), 1234, dtype=np.int16))
    assert out.shape == (4, 5)
    assert out.dtype == np.float32
    assert not out.any()


def test_to_unit_float_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(H, W\).*got shape \(2, 3, 3\)"):
        to_unit_float(np.zeros((2, 3, 3), dtype=np.uint8))
    with pytest.raises(TypeError, match=r"numpy array.*Tensor.*\.numpy\(\)"):
        to_unit_float(torch.zeros(3, 3))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="NaN"):
        to_unit_float(np.array([[0.0, np.nan]]))


# ------------------------------------------------------------------------------------------ brain_bbox
def test_bbox_finds_the_brain_and_ignores_a_bright_speck() -> None:
    image, (top, bottom, left, right) = synthetic_brain()
    got = brain_bbox(image)
    assert got == pytest.approx((top, bottom, left, right), abs=2)
    assert got[0] > 10 and got[2] > 10  # the speck at (4..9, 4..9) would have pulled the box to it


def test_bbox_float_and_uint8_inputs_agree() -> None:
    for seed in range(3):
        image, _ = synthetic_brain(seed)
        as_float32 = image.astype(np.float32) / 255
        assert brain_bbox(as_float32) == brain_bbox(image)
        assert brain_bbox(as_float32.astype(np.float64)) == brain_bbox(image)


def test_bbox_int16_is_min_max_scaled() -> None:
    image, _ = synthetic_brain()
    image[0, 0], image[0, 1] = 0, 255  # make min-max scaling the identity on the 0-255 grid
    as_int16 = image.astype(np.int16) * 4 - 300
    assert brain_bbox(as_int16) == brain_bbox(image)


def test_bbox_of_black_or_dim_image_is_the_full_image(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.DEBUG, logger="brainvit_effnet.data.preprocess"):
        assert brain_bbox(np.zeros((30, 40), dtype=np.uint8)) == (0, 30, 0, 40)
    assert "full image" in caplog.text
    assert brain_bbox(np.full((30, 40), 45, dtype=np.uint8)) == (0, 30, 0, 40)  # 45 is not > 45
    assert brain_bbox(np.zeros((30, 40), dtype=np.float32)) == (0, 30, 0, 40)


def test_threshold_is_strictly_greater_than() -> None:
    image = np.full((64, 64), 45, dtype=np.uint8)
    image[20:40, 10:30] = 46
    assert brain_bbox(image) == pytest.approx((20, 40, 10, 30), abs=1)
    image[20:40, 10:30] = 45
    assert brain_bbox(image) == (0, 64, 0, 64)


def test_blur_uses_opencvs_fixed_5x5_kernel() -> None:
    # cv2.GaussianBlur((5, 5), 0) uses the binomial [1, 4, 6, 4, 1] / 16, whose centre weight 0.375
    # turns a one-pixel line of 122 into 45.75 -> 46 > 45; a sampled Gaussian with sigma 1.1 (centre
    # weight 0.37) would give 45.1 -> 45 and find nothing. 121 * 0.375 = 45.4 -> 45 is below.
    image = np.zeros((32, 32), dtype=np.uint8)
    image[:, 16] = 122
    assert brain_bbox(image, erode_iterations=0, dilate_iterations=0) == (0, 32, 16, 17)
    image[:, 16] = 121
    assert brain_bbox(image, erode_iterations=0, dilate_iterations=0) == (0, 32, 0, 32)


def test_erosion_removes_thin_lines_and_does_not_erode_from_the_border() -> None:
    image = np.zeros((64, 96), dtype=np.uint8)
    image[30:50, 20:40] = 200  # the "brain"
    image[55, :] = 255  # a one-pixel line longer than the brain is wide: removed by erosion
    assert brain_bbox(image) == pytest.approx((30, 50, 20, 40), abs=1)
    # A 3-pixel strip along the top edge survives: cv2's erosion treats outside the image as foreground.
    strip = np.zeros((64, 96), dtype=np.uint8)
    strip[:3, :] = 200
    assert brain_bbox(strip) == (0, 4, 0, 96)


def test_largest_contour_counts_the_area_inside_holes() -> None:
    # A ring encloses more area than a solid disc that has more bright pixels: cv2.contourArea of the
    # ring's external contour includes its hole, so the ring wins.
    shape = (100, 200)
    ring = ellipse(shape, (50, 50), (40, 40)) & ~ellipse(shape, (50, 50), (30, 30))
    disc = ellipse(shape, (50, 150), (32, 32))
    assert disc.sum() > ring.sum()
    image = np.zeros(shape, dtype=np.uint8)
    image[ring | disc] = 200
    top, bottom, left, right = brain_bbox(image)
    assert right <= 100  # the ring's box (columns 10..90), not the disc's (118..182)
    assert (top, bottom, left, right) == pytest.approx((10, 91, 10, 91), abs=1)


def test_bbox_matches_a_plain_numpy_restatement_of_the_opencv_pipeline() -> None:
    rng = np.random.default_rng(7)
    for _ in range(4):
        image = rng.normal(20, 15, (48, 56))
        for _ in range(3):  # a few bright rectangles of random size
            r, c = rng.integers(0, 40), rng.integers(0, 48)
            h, w = rng.integers(3, 20), rng.integers(3, 20)
            image[r : r + h, c : c + w] += rng.uniform(20, 200)
        image = np.clip(np.rint(image), 0, 255).astype(np.uint8)
        assert brain_bbox(image) == reference_bbox(image)


def reference_bbox(image: np.ndarray) -> tuple[int, int, int, int]:
    """cv2 semantics written out with loops and padding, independent of scipy.ndimage."""
    height, width = image.shape
    kernel = np.outer([1, 4, 6, 4, 1], [1, 4, 6, 4, 1]) / 256
    padded = np.pad(image.astype(np.float64), 2, mode="reflect")  # numpy "reflect" == BORDER_REFLECT_101
    blurred = sum(kernel[i, j] * padded[i : i + height, j : j + width] for i in range(5) for j in range(5))
    mask = np.floor(blurred + 0.5) > 45
    for fill, reduce in ((True, np.all), (True, np.all), (False, np.any), (False, np.any)):
        padded_mask = np.pad(mask, 1, constant_values=fill)
        windows = [padded_mask[i : i + height, j : j + width] for i in range(3) for j in range(3)]
        mask = reduce(np.stack(windows), axis=0)
    # Components (8-connected), each with its holes (background not 4-connected to the outside) filled.
    outside = np.zeros((height + 2, width + 2), dtype=bool)
    free = ~np.pad(mask, 1, constant_values=False)
    queue = deque([(0, 0)])
    outside[0, 0] = True
    while queue:
        r, c = queue.popleft()
        for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
            rr, cc = r + dr, c + dc
            if 0 <= rr < height + 2 and 0 <= cc < width + 2 and free[rr, cc] and not outside[rr, cc]:
                outside[rr, cc] = True
                queue.append((rr, cc))
    filled = ~outside[1:-1, 1:-1]
    seen = np.zeros_like(filled)
    best: tuple[int, tuple[int, int, int, int]] | None = None
    for r0, c0 in zip(*np.nonzero(filled), strict=True):
        if seen[r0, c0]:
            continue
        pixels = []
        seen[r0, c0] = True
        queue = deque([(int(r0), int(c0))])
        while queue:
            r, c = queue.popleft()
            pixels.append((r, c))
            for dr in (-1, 0, 1):
                for dc in (-1, 0, 1):
                    rr, cc = r + dr, c + dc
                    if 0 <= rr < height and 0 <= cc < width and filled[rr, cc] and not seen[rr, cc]:
                        seen[rr, cc] = True
                        queue.append((rr, cc))
        rows, cols = zip(*pixels, strict=True)
        box = (min(rows), max(rows) + 1, min(cols), max(cols) + 1)
        if best is None or len(pixels) > best[0]:
            best = (len(pixels), box)
    return (0, height, 0, width) if best is None else best[1]


def test_bbox_rejects_bad_input() -> None:
    with pytest.raises(ValueError, match=r"\(H, W\).*image\[0\]"):
        brain_bbox(np.zeros((1, 8, 8), dtype=np.uint8))
    with pytest.raises(ValueError, match=r"\[0, 1\].*to_unit_float"):
        brain_bbox(np.full((8, 8), 200.0))  # a float image on the 0-255 scale
    with pytest.raises(ValueError, match="odd"):
        brain_bbox(np.zeros((8, 8), dtype=np.uint8), blur_size=4)
    with pytest.raises(ValueError, match="erode_iterations"):
        brain_bbox(np.zeros((8, 8), dtype=np.uint8), erode_iterations=-1)
    with pytest.raises(TypeError, match=r"numpy array.*\.numpy\(\)"):
        brain_bbox(torch.zeros(8, 8))  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------- crop_to_brain
def test_crop_to_brain_keeps_image_and_mask_aligned() -> None:
    image_u8, _ = synthetic_brain()
    image = torch.from_numpy(image_u8.astype(np.float32) / 255)[None]
    tumour = (slice(50, 62), slice(90, 104))
    image[0][tumour] = 1.0
    mask = torch.zeros(image.shape[-2:], dtype=torch.bool)
    mask[tumour] = True

    top, bottom, left, right = brain_bbox(image[0].numpy())
    cropped, cropped_mask = crop_to_brain(image, mask)
    assert cropped_mask is not None
    assert cropped.shape == (1, bottom - top, right - left)
    assert cropped_mask.shape == cropped.shape[-2:]
    assert (top, left) != (0, 0)  # the crop really moved the origin
    rows, cols = torch.nonzero(cropped_mask, as_tuple=True)
    assert (int(rows.min()), int(cols.min())) == (50 - top, 90 - left)
    assert int(cropped_mask.sum()) == int(mask.sum())
    assert torch.all(cropped[0][cropped_mask] == 1.0)  # the planted bright patch is under the mask
    torch.testing.assert_close(cropped, image[:, top:bottom, left:right])


def test_crop_to_brain_uses_the_first_channel_and_accepts_1hw_masks() -> None:
    image = torch.zeros(2, 40, 50)
    image[0, 5:25, 10:30] = 0.8  # brain in channel 0
    image[1, 30:38, 40:48] = 1.0  # something else in channel 1: ignored
    mask = torch.zeros(1, 40, 50, dtype=torch.uint8)
    mask[0, 10:12, 15:17] = 1
    cropped, cropped_mask = crop_to_brain(image, mask, threshold=30)
    assert cropped.shape == (2, 22, 22)  # rows 4..25, cols 9..30: the blurred edge adds a pixel
    assert cropped_mask is not None and cropped_mask.shape == (1, 22, 22)
    assert cropped_mask.dtype == torch.uint8
    assert cropped_mask[0, 6:8, 6:8].all() and int(cropped_mask.sum()) == 4


def test_crop_to_brain_without_mask_and_bad_input() -> None:
    image = torch.zeros(1, 20, 20)
    cropped, no_mask = crop_to_brain(image)
    assert no_mask is None and cropped.shape == (1, 20, 20)  # nothing found: whole image
    with pytest.raises(ValueError, match=r"\(C, H, W\).*unsqueeze\(0\)"):
        crop_to_brain(torch.zeros(20, 20))
    with pytest.raises(ValueError, match=r"mask of shape \(20, 20\)"):
        crop_to_brain(image, torch.zeros(20, 21, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"torch\.Tensor"):
        crop_to_brain(np.zeros((1, 20, 20)))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="blur"):
        crop_to_brain(image, blur=5)


def test_fast_morphology_equals_scipys_binary_operations() -> None:
    """The separable filters, label-based hole filling and shifted-AND border give scipy's results."""
    from scipy import ndimage

    from brainvit_effnet.data import preprocess as pp

    rng = np.random.default_rng(3)
    square, cross = np.ones((3, 3), bool), ndimage.generate_binary_structure(2, 1)
    for _ in range(300):
        mask = rng.random(tuple(rng.integers(1, 30, size=2))) < rng.uniform(0.1, 0.9)
        for n in (1, 2, 3):
            eroded = ndimage.binary_erosion(mask, structure=square, iterations=n, border_value=1)
            dilated = ndimage.binary_dilation(mask, structure=square, iterations=n, border_value=0)
            assert (pp._square_filter(mask, n, ndimage.minimum_filter1d, outside=1) == eroded).all()
            assert (pp._square_filter(mask, n, ndimage.maximum_filter1d, outside=0) == dilated).all()
        assert (pp._fill_holes(mask) == ndimage.binary_fill_holes(mask)).all()
        assert (pp._inner_border(mask) == mask & ~ndimage.binary_erosion(mask, structure=cross)).all()


@pytest.mark.parametrize("size", [3, 5, 7, 9])
def test_float32_blur_of_the_fixed_kernels_is_exact(size: int) -> None:
    """Worst cases for float32: full-scale values and a 0/255 checkerboard, against float64."""
    from scipy import ndimage

    from brainvit_effnet.data import preprocess as pp

    kernel = pp._gaussian_kernel(size)
    rng = np.random.default_rng(size)
    for gray in (
        np.full((20, 20), 255.0),
        np.indices((20, 20)).sum(0) % 2 * 255.0,
        rng.integers(0, 256, (20, 20)) * 1.0,
    ):
        wide = ndimage.correlate1d(
            ndimage.correlate1d(gray, kernel, axis=0, mode="mirror"), kernel, axis=1, mode="mirror"
        )
        for threshold in (0.0, 45.0, 127.0, 128.0, 254.0):
            expected = np.floor(wide + 0.5) > threshold
            assert (pp._foreground_mask(gray, threshold, size, 0, 0) == expected).all()


def test_the_brain_crop_benchmark_checks_boxes_against_the_reference(tmp_path: Path) -> None:
    """``benchmarks/brain_crop.py``: its scipy reference agrees with the library, and it says when not."""
    import json

    from PIL import Image

    from ._scripts import load_benchmark

    bench = load_benchmark("brain_crop")
    (tmp_path / "images").mkdir()
    for seed in range(3):
        Image.fromarray(synthetic_brain(seed)[0]).save(tmp_path / "images" / f"{seed}.jpg")
    out = tmp_path / "crop.json"
    assert bench.main(["--data", str(tmp_path), "--every", "1", "--out", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["slices"] == 3 and record["boxes_identical"] and record["speedup_median"] > 0
    bench.reference_bbox = lambda image: (0, 1, 0, 1)  # a reference that disagrees: exit 1, files named
    assert bench.main(["--data", str(tmp_path), "--every", "1", "--out", str(out)]) == 1
    assert {m["file"] for m in json.loads(out.read_text())["mismatches"]} == {"0.jpg", "1.jpg", "2.jpg"}
    with pytest.raises(SystemExit):  # --every 0 is a usage error naming the option, not a slicing crash
        bench.main(["--data", str(tmp_path), "--every", "0"])
