"""Train/eval transforms: shapes, normalisation, on-the-fly augmentation and mask alignment."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from brainvit_effnet.data.transforms import MRITransform, create_transforms

MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)
CFG = {"input_size": (3, 64, 64), "mean": MEAN, "std": STD}


class TinyModel(nn.Module):
    def __init__(self, in_chans: int = 3) -> None:
        super().__init__()
        self.pretrained_cfg = {"input_size": (in_chans, 48, 40), "mean": MEAN, "std": STD}


def square_image(size: tuple[int, int] = (64, 64), box: tuple[int, int, int, int] = (8, 24, 12, 28)):
    """A dark noisy image with one bright square, and the square's mask."""
    top, bottom, left, right = box
    image = torch.rand(1, *size) * 0.2
    image[0, top:bottom, left:right] = 0.9
    mask = torch.zeros(size, dtype=torch.bool)
    mask[top:bottom, left:right] = True
    return image, mask


def unnormalise(
    x: torch.Tensor, mean: tuple[float, ...] = MEAN, std: tuple[float, ...] = STD
) -> torch.Tensor:
    return x * torch.tensor(std)[:, None, None] + torch.tensor(mean)[:, None, None]


def iou(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a & b).sum()) / max(float((a | b).sum()), 1.0)


# ------------------------------------------------------------------------------------------- eval path
def test_eval_transform_shape_normalisation_and_determinism() -> None:
    _, eval_tf = create_transforms(CFG)
    out = eval_tf(torch.full((1, 100, 80), 0.6))
    assert out.shape == (3, 64, 64)
    assert out.dtype == torch.float32
    for c in range(3):
        torch.testing.assert_close(out[c], torch.full((64, 64), (0.6 - MEAN[c]) / STD[c]), atol=1e-5, rtol=0)
    image = torch.rand(1, 90, 70)
    assert torch.equal(eval_tf(image), eval_tf(image))


def test_in_chans_1_averages_the_rgb_statistics() -> None:
    _, eval_tf = create_transforms(CFG, in_chans=1)
    out = eval_tf(torch.full((1, 30, 30), 0.6))
    assert out.shape == (1, 64, 64)
    expected = (0.6 - sum(MEAN) / 3) / (sum(STD) / 3)
    torch.testing.assert_close(out, torch.full((1, 64, 64), expected), atol=1e-5, rtol=0)


def test_model_with_pretrained_cfg_and_greyscale_stem() -> None:
    train_tf, eval_tf = create_transforms(TinyModel(in_chans=1))
    assert eval_tf(torch.rand(1, 50, 50)).shape == (1, 48, 40)
    assert train_tf(torch.rand(1, 50, 50)).shape == (1, 48, 40)
    assert create_transforms(TinyModel())[1](torch.rand(1, 50, 50)).shape == (3, 48, 40)


def test_eval_resize_keeps_mask_aligned_with_image() -> None:
    image, mask = square_image(size=(100, 80), box=(20, 60, 10, 40))
    _, eval_tf = create_transforms(CFG)
    out, out_mask = eval_tf(image, mask)
    assert out_mask.shape == (64, 64) and out_mask.dtype == torch.bool
    bright = unnormalise(out)[0] > 0.55
    assert iou(bright, out_mask) > 0.9


@pytest.mark.parametrize("axis", [-1, -2])
def test_downscaled_mask_samples_pixel_centres_like_the_image(axis: int) -> None:
    # 96 -> 32: output pixel j covers input 3j..3j+2. A stripe over input 10..18 makes image columns
    # 3, 4, 5 more than half bright (2/3, 1, 1) and column 6 one third; the mask must pick the same
    # three (sampling each output pixel's centre, 3j + 1, not its corner, 3j).
    _, eval_tf = create_transforms({"input_size": (1, 32, 32), "mean": (0.0,), "std": (1.0,)})
    image = torch.zeros(1, 96, 96)
    image.narrow(axis, 10, 9).fill_(1.0)
    out, out_mask = eval_tf(image, image[0] > 0.5)
    assert torch.equal(out[0] > 0.5, out_mask)
    assert out_mask.narrow(axis, 3, 3).all() and int(out_mask.sum()) == 3 * 32


# ------------------------------------------------------------------------------------------ train path
def test_train_transform_is_random_per_call_and_reproducible_with_a_seed() -> None:
    train_tf, _ = create_transforms(CFG)
    image = torch.rand(1, 64, 64)
    first, second = train_tf(image), train_tf(image)
    assert not torch.equal(first, second)
    torch.manual_seed(123)
    a = train_tf(image)
    torch.manual_seed(123)
    b = train_tf(image)
    assert torch.equal(a, b)


def test_augment_false_makes_train_equal_to_eval() -> None:
    train_tf, eval_tf = create_transforms(CFG, augment=False)
    image = torch.rand(1, 64, 64)
    assert torch.equal(train_tf(image), eval_tf(image))
    assert "Random" not in repr(train_tf)


def test_mask_follows_horizontal_flip_exactly() -> None:
    # Only the horizontal flip is random here; both outcomes must occur and the mask must match each.
    train_tf, _ = create_transforms(CFG, rotation=0, shift=0, vflip=False)
    image, mask = square_image(box=(8, 24, 4, 20))
    flipped_mask = mask.flip(-1)
    outcomes = set()
    for seed in range(12):
        torch.manual_seed(seed)
        out, out_mask = train_tf(image, mask)
        bright = unnormalise(out)[0] > 0.55
        assert torch.equal(bright, out_mask)
        if torch.equal(out_mask, mask):
            outcomes.add("kept")
        else:
            assert torch.equal(out_mask, flipped_mask)
            outcomes.add("flipped")
    assert outcomes == {"kept", "flipped"}


def test_mask_stays_aligned_under_rotation_shift_and_flips() -> None:
    train_tf, _ = create_transforms(CFG, rotation=30, shift=0.15)
    image, mask = square_image(size=(80, 72), box=(14, 38, 30, 54))
    _, reference_mask = create_transforms(CFG)[1](image, mask)
    moved = 0
    for seed in range(8):
        torch.manual_seed(seed)
        out, out_mask = train_tf(image, mask)
        bright = unnormalise(out)[0] > 0.55
        assert out_mask.any()
        assert iou(bright, out_mask) > 0.85
        moved += not torch.equal(out_mask, reference_mask)
    assert moved >= 6  # the geometry really changed


def test_intensity_jitter_changes_the_image_only() -> None:
    image, mask = square_image()
    jitter_tf, _ = create_transforms(CFG, rotation=0, shift=0, hflip=False, vflip=False, intensity_jitter=0.4)
    _, eval_tf = create_transforms(CFG)
    out, out_mask = jitter_tf(image, mask)
    ref, ref_mask = eval_tf(image, mask)
    assert torch.equal(out_mask, ref_mask)
    assert not torch.allclose(out, ref, atol=1e-3)
    assert torch.allclose(out[0], out[1] * STD[1] / STD[0] + (MEAN[1] - MEAN[0]) / STD[0], atol=1e-5)


# -------------------------------------------------------------------------------------- input formats
def test_pil_numpy_uint8_and_rgb_inputs_agree_with_the_tensor_convention() -> None:
    _, eval_tf = create_transforms(CFG)
    pixels = (np.arange(40 * 30, dtype=np.int64).reshape(40, 30) % 256).astype(np.uint8)
    expected = eval_tf(torch.from_numpy(pixels.astype(np.float32) / 255)[None])
    torch.testing.assert_close(eval_tf(pixels), expected)
    torch.testing.assert_close(eval_tf(Image.fromarray(pixels)), expected)
    torch.testing.assert_close(eval_tf(torch.from_numpy(pixels)[None]), expected)
    rgb = np.stack([pixels, pixels, pixels], axis=-1)
    torch.testing.assert_close(eval_tf(Image.fromarray(rgb)), expected)
    grey = torch.from_numpy(pixels.astype(np.float32) / 255)
    torch.testing.assert_close(eval_tf(grey), expected)  # (H, W) tensor
    channels = torch.rand(3, 40, 30)  # a (3, H, W) tensor is averaged over its channels
    torch.testing.assert_close(eval_tf(channels), eval_tf(channels.mean(dim=0, keepdim=True)))


def test_int16_numpy_input_is_min_max_scaled() -> None:
    _, eval_tf = create_transforms(CFG, in_chans=1)
    slice_ = np.full((20, 20), -500, dtype=np.int16)
    slice_[:, 10:] = 1500
    out = eval_tf(slice_)
    low, high = (0.0 - sum(MEAN) / 3) / (sum(STD) / 3), (1.0 - sum(MEAN) / 3) / (sum(STD) / 3)
    assert out.min().item() == pytest.approx(low, abs=1e-5)
    assert out.max().item() == pytest.approx(high, abs=1e-5)


def test_numpy_mask_and_1hw_mask_are_accepted() -> None:
    image, mask = square_image()
    _, eval_tf = create_transforms(CFG)
    _, from_tensor = eval_tf(image, mask)
    _, from_numpy = eval_tf(image, mask.numpy().astype(np.uint8))
    _, from_1hw = eval_tf(image, mask[None].to(torch.uint8) * 255)
    assert torch.equal(from_tensor, from_numpy) and torch.equal(from_tensor, from_1hw)


# ----------------------------------------------------------------------------------------- bad inputs
@pytest.mark.parametrize(
    ("bad", "error", "pattern"),
    [
        (torch.rand(2, 1, 8, 8), ValueError, "one image"),
        (torch.rand(8, 8, 3), ValueError, r"channels-last.*permute"),
        (torch.rand(1, 8, 8) * 4 - 2, ValueError, r"\[0, 1\].*normalised"),
        (torch.zeros(1, 8, 8, dtype=torch.int32), TypeError, "to_unit_float"),
        (np.zeros((8, 8, 3), dtype=np.uint8), ValueError, r"\(H, W\).*mean\(axis=-1\)"),
        ([[0.0, 1.0]], TypeError, r"torch.Tensor.*PIL.*got list"),
    ],
)
def test_bad_images_raise_helpful_errors(bad: object, error: type[Exception], pattern: str) -> None:
    _, eval_tf = create_transforms(CFG)
    with pytest.raises(error, match=pattern):
        eval_tf(bad)  # type: ignore[call-overload]


def test_bad_masks_raise_helpful_errors() -> None:
    _, eval_tf = create_transforms(CFG)
    image = torch.rand(1, 16, 16)
    with pytest.raises(ValueError, match=r"mask of shape \(16, 16\).*got \(16, 15\)"):
        eval_tf(image, torch.zeros(16, 15, dtype=torch.bool))
    with pytest.raises(TypeError, match=r"bool or integer.*mask > 0.5"):
        eval_tf(image, torch.zeros(16, 16))


def test_bad_configs_and_parameters_raise_helpful_errors() -> None:
    with pytest.raises(TypeError, match="pretrained_cfg"):
        create_transforms(nn.Linear(2, 2))
    with pytest.raises(ValueError, match=r"lacks \['mean', 'std'\]"):
        create_transforms({"input_size": (3, 64, 64)})
    with pytest.raises(ValueError, match=r"input_size.*\(C, H, W\)"):
        create_transforms({**CFG, "input_size": (64, 64)})
    with pytest.raises(ValueError, match="shift must be in"):
        create_transforms(CFG, shift=1.5)
    with pytest.raises(ValueError, match="rotation"):
        create_transforms(CFG, rotation=-5)
    with pytest.raises(ValueError, match="in_chans=4"):
        create_transforms(CFG, in_chans=4)
    with pytest.raises(ValueError, match="std must be > 0"):
        MRITransform((8, 8), mean=(0.5,), std=(0.0,), in_chans=1)


# ------------------------------------------------------------------------------------------ utilities
def test_repr_lists_the_steps_and_transform_pickles() -> None:
    train_tf, eval_tf = create_transforms(CFG, intensity_jitter=0.1)
    text = repr(train_tf)
    for step in (
        "Resize(size=(64, 64)",
        "RandomAffine(degrees=±10",
        "RandomHorizontalFlip",
        "RandomVerticalFlip",
    ):
        assert step in text
    assert "ColorJitter" in text and "RepeatChannels(1 -> 3)" in text and "Normalize(mean=(0.485" in text
    assert "Random" not in repr(eval_tf)
    clone = pickle.loads(pickle.dumps(train_tf))  # DataLoader workers pickle their dataset's transform
    image = torch.rand(1, 32, 32)
    torch.manual_seed(5)
    a = train_tf(image)
    torch.manual_seed(5)
    assert torch.equal(clone(image), a)
