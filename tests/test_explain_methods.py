"""Explainers: Grad-CAM / Grad-CAM++ / token Grad-CAM, attention rollout and raw attention maps."""

from __future__ import annotations

import gc
import weakref

import numpy as np
import pytest
import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

import brainvit_effnet as bve
from brainvit_effnet.explain.attention import (
    attention_rollout,
    collect_attention,
    discard_lowest,
    fuse_heads,
    last_layer_attention,
    last_layer_attention_map,
    readout,
    rollout,
    rollout_matrices,
    rollout_step,
    upsample,
)
from brainvit_effnet.explain.cam import (
    BaseCAM,
    ClassTarget,
    GradCAM,
    GradCAMPlusPlus,
    TokenGradCAM,
    minmax_normalize,
    token_gradcam,
)

CAMS = (GradCAM, GradCAMPlusPlus)


def tiny(name: str = "effnet_test_tf", **kwargs: object) -> nn.Module:
    return bve.create_model(name, num_classes=3, **kwargs)


class RegionNet(nn.Module):
    """Logits depend only on the top-right quadrant of the image (rows 0:32, columns 32:64 at 64 px).

    The image is masked first, then bias-free 2x2 stride-2 convolutions (each feature cell sees
    exactly its 8x8 pixel block) keep the spatial layout down to 8x8 (the Grad-CAM layer), then a
    1x1 conv + ReLU (so gradients vary over space), mean pooling and a linear layer. Positive
    weights after the Grad-CAM layer make every class score grow with the activations.
    """

    def __init__(self) -> None:
        super().__init__()
        mask = torch.zeros(1, 1, 64, 64)
        mask[..., :32, 32:] = 1.0
        self.register_buffer("mask", mask)
        self.features = nn.Sequential(
            nn.Conv2d(3, 8, 2, stride=2, bias=False),
            nn.ReLU(),
            nn.Conv2d(8, 16, 2, stride=2, bias=False),
            nn.ReLU(),
            nn.Conv2d(16, 16, 2, stride=2, bias=False),
            nn.ReLU(),
        )
        self.mix = nn.Sequential(nn.Conv2d(16, 16, 1), nn.ReLU())
        self.head = nn.Linear(16, 3)
        with torch.no_grad():
            self.mix[0].weight.abs_()
            self.head.weight.abs_()

    def forward(self, x: Tensor) -> Tensor:
        f = self.mix(self.features(x * self.mask))
        return self.head(f.mean(dim=(2, 3)))


def quadrant_mass(maps: Tensor) -> Tensor:
    """Share of each map's sum inside the planted top-right quadrant, ``(B,)``."""
    return maps[:, :32, 32:].sum(dim=(1, 2)) / maps.sum(dim=(1, 2))


def hook_counts(model: nn.Module) -> list[int]:
    return [
        len(m._forward_hooks)
        + len(m._forward_pre_hooks)
        + len(m._backward_hooks)
        + len(m._backward_pre_hooks)
        for m in model.modules()
    ]


def global_hook_count() -> int:
    mod = torch.nn.modules.module
    return (
        len(mod._global_forward_hooks) + len(mod._global_forward_pre_hooks) + len(mod._global_backward_hooks)
    )


@pytest.fixture
def region_net() -> RegionNet:
    return RegionNet().eval()


# -- Grad-CAM localises what the logit depends on ------------------------------------------------
@pytest.mark.parametrize("cam_cls", CAMS)
def test_cam_highlights_the_only_region_the_logit_depends_on(
    cam_cls: type[BaseCAM], region_net: RegionNet
) -> None:
    x = torch.randn(4, 3, 64, 64)
    with cam_cls(region_net, target_layers=[region_net.features]) as cam:
        maps = cam(x, targets=[0, 1, 2, 0])
    assert maps.shape == (4, 64, 64)
    assert (maps.sum(dim=(1, 2)) > 0).all()
    assert (quadrant_mass(maps) > 0.8).all(), quadrant_mass(maps)
    # the opposite (bottom-left) quadrant, where a transposed or flipped map would land, stays dark
    assert maps[:, 40:, :24].max() < 0.05


def test_gradcam_plusplus_differs_from_gradcam_but_localises_the_same_region(region_net: RegionNet) -> None:
    x = torch.randn(3, 3, 64, 64)
    plain = GradCAM(region_net, [region_net.features])(x, targets=1)
    plus = GradCAMPlusPlus(region_net, [region_net.features])(x, targets=1)
    assert not torch.allclose(plain, plus, atol=1e-3)
    assert (quadrant_mass(plus) > 0.8).all() and (quadrant_mass(plain) > 0.8).all()


@pytest.mark.parametrize("cam_cls", CAMS)
@pytest.mark.parametrize("name", ["effnet_test", "effnet_test_tf"])
def test_cam_on_the_tiny_models(cam_cls: type[BaseCAM], name: str) -> None:
    model = tiny(name).eval()
    x = torch.randn(2, 3, 96, 64)
    with cam_cls(model) as cam:
        result = cam.explain(x)
        other = cam(x, targets=[(int(c) + 1) % 3 for c in result.target_indices])
        explicit = cam(x, targets=model(x).argmax(dim=1).tolist())
    assert cam.target_layers == model.cam_target_layers()
    assert result.maps.shape == (2, 96, 64)
    assert result.maps.min() >= 0 and result.maps.max() <= 1
    assert torch.allclose(result.maps.amax(dim=(1, 2)), torch.ones(2))  # each map uses the full range
    # default target = predicted class
    assert torch.equal(result.target_indices, result.logits.argmax(dim=1))
    assert torch.allclose(result.maps, explicit, atol=1e-6)
    assert cam.last_output is not None and torch.allclose(cam.last_output, model(x), atol=1e-5)
    # another class gives another map
    assert not torch.allclose(result.maps, other, atol=1e-3)


def test_several_target_layers_are_averaged() -> None:
    model = tiny("effnet_test").eval()
    x = torch.randn(2, 3, 64, 64)
    layer = model.backbone.bn2
    single = GradCAM(model, layer)(x, targets=0)
    twice = GradCAM(model, [layer, layer])(x, targets=0)
    assert torch.allclose(single, twice, atol=1e-6)
    mixed = GradCAM(model, [layer, model.backbone.blocks[-1]])(x, targets=0)
    assert mixed.shape == (2, 64, 64) and mixed.min() >= 0 and mixed.max() <= 1
    assert not torch.allclose(mixed, single, atol=1e-3)


def test_targets_accept_ints_tensors_and_callables() -> None:
    model = tiny("effnet_test").eval()
    x = torch.randn(3, 3, 64, 64)
    cam = GradCAM(model)
    by_int = cam(x, targets=2)
    assert torch.allclose(cam(x, targets=torch.tensor([2, 2, 2])), by_int)
    assert torch.allclose(cam(x, targets=[ClassTarget(2)] * 3), by_int)
    assert torch.allclose(cam(x, targets=lambda row: row[2]), by_int)
    result = cam.explain(x, targets=[0, lambda row: row[1] - row[0], 2])
    assert result.target_indices.tolist() == [0, -1, 2]


def test_an_all_zero_map_stays_zero() -> None:
    maps = minmax_normalize(torch.stack([torch.zeros(4, 4), torch.full((4, 4), 3.0), torch.rand(4, 4)]))
    assert torch.equal(maps[0], torch.zeros(4, 4)) and torch.equal(maps[1], torch.zeros(4, 4))
    assert maps[2].min() == 0 and maps[2].max() == 1


# -- no side effects -----------------------------------------------------------------------------
@pytest.mark.parametrize("use_context", [True, False])
def test_hooks_are_removed_after_use_and_after_exceptions(use_context: bool) -> None:
    model = tiny("effnet_test_tf").eval()
    x = torch.randn(2, 3, 64, 64)
    before, global_before = hook_counts(model), global_hook_count()
    cam = GradCAM(model, [*model.cam_target_layers(), model.backbone.blocks[-1]])
    if use_context:
        with cam:
            assert all(len(layer._forward_hooks) == 1 for layer in cam.target_layers)
            assert cam.active
            cam(x)
    else:
        cam(x)
    assert hook_counts(model) == before and not cam.active

    with pytest.raises(ZeroDivisionError), GradCAM(model):
        raise ZeroDivisionError
    assert hook_counts(model) == before

    def explain_bad_input() -> None:  # the model raises inside its forward: wrong channel count
        bad = torch.randn(2, 1, 64, 64)
        if use_context:
            with GradCAM(model) as c:
                c(bad)
        else:
            GradCAM(model)(bad)

    with pytest.raises(ValueError, match="3-channel"):
        explain_bad_input()
    assert hook_counts(model) == before
    assert global_hook_count() == global_before

    GradCAM(model)(x)  # outside a context: registered and removed within the call
    assert hook_counts(model) == before and global_hook_count() == global_before


def test_no_activation_or_graph_outlives_the_call() -> None:
    model = tiny("effnet_test").eval()
    seen: list[weakref.ref[Tensor]] = []
    spy = model.backbone.bn2.register_forward_hook(lambda m, i, o: seen.append(weakref.ref(o)))
    try:
        with GradCAM(model) as cam:
            result = cam.explain(torch.randn(2, 3, 64, 64))
            gc.collect()
            assert len(seen) == 1 and seen[0]() is None  # freed although the hooks are still in place
    finally:
        spy.remove()
    assert result.maps.grad_fn is None and result.logits.grad_fn is None


def test_explaining_leaves_parameters_modes_flags_and_input_untouched() -> None:
    model = tiny("effnet_test_tf")
    model.train()
    model.freeze_backbone(True)  # mixed modes: backbone in eval, the rest in train; frozen flags
    modes = {name: m.training for name, m in model.named_modules()}
    flags = {name: p.requires_grad for name, p in model.named_parameters()}
    assert not modes["backbone"] and modes["blocks"]
    preexisting = torch.full_like(model.head.weight, 7.0)
    model.head.weight.grad = preexisting.clone()
    x = torch.randn(2, 3, 64, 64)
    x_copy = x.clone()

    for explainer in (GradCAM(model), GradCAMPlusPlus(model), TokenGradCAM(model)):
        maps = explainer(x)
        assert maps.shape == (2, 64, 64) and maps.isfinite().all()
    attention_rollout(model, x)
    last_layer_attention_map(model, x)

    assert {name: m.training for name, m in model.named_modules()} == modes
    assert {name: p.requires_grad for name, p in model.named_parameters()} == flags
    assert all(p.grad is None for name, p in model.named_parameters() if name != "head.weight")
    assert torch.equal(model.head.weight.grad, preexisting)
    assert torch.equal(x, x_copy) and x.grad is None and not x.requires_grad


def test_mode_is_restored_when_the_forward_fails() -> None:
    model = tiny("effnet_test").train()
    with pytest.raises(ValueError, match="3-channel"):
        GradCAM(model)(torch.randn(1, 2, 64, 64))
    with pytest.raises(ValueError, match="3-channel"):
        attention_rollout(tiny().train(), torch.randn(1, 2, 64, 64))
    assert all(m.training for m in model.modules())


def test_works_under_no_grad_and_inference_mode() -> None:
    model = tiny("effnet_test").eval()
    x = torch.randn(2, 3, 64, 64)
    reference = GradCAM(model)(x, targets=1)
    with torch.no_grad():
        assert torch.allclose(GradCAM(model)(x, targets=1), reference, atol=1e-6)
    with torch.inference_mode():
        x_inf = x.clone()
        assert torch.allclose(GradCAM(model)(x_inf, targets=1), reference, atol=1e-6)


# -- other models --------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "layer"), [("resnet10t", "layer4"), ("test_efficientnet", "blocks.4")])
def test_plain_timm_cnn_uses_its_last_feature_stage(name: str, layer: str) -> None:
    model = timm.create_model(name, num_classes=3).eval()
    x = torch.randn(2, 3, 64, 64)
    with GradCAM(model) as cam:
        maps = cam(x, targets=[0, 1])
    assert cam.target_layers == [model.get_submodule(layer)]
    assert maps.shape == (2, 64, 64) and maps.min() >= 0 and maps.max() <= 1
    assert all(p.grad is None for p in model.parameters())


def test_model_without_default_layers_needs_target_layers() -> None:
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.LazyLinear(3))
    with pytest.raises(ValueError, match="target_layers"):
        GradCAM(model)
    with pytest.raises(ValueError, match="not a submodule"):
        GradCAM(model, target_layers=[nn.Conv2d(3, 4, 3)])
    with pytest.raises(TypeError, match="modules of the model"):
        GradCAM(model, target_layers=["0"])  # type: ignore[list-item]


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_token_gradcam(global_pool: str) -> None:
    model = tiny(global_pool=global_pool).eval()
    x = torch.randn(2, 3, 128, 96)
    with TokenGradCAM(model) as cam:
        maps = cam(x, targets=[0, 2])
    assert cam.target_layers == model.token_cam_target_layers()
    assert maps.shape == (2, 128, 96) and maps.min() >= 0 and maps.max() <= 1
    assert torch.allclose(token_gradcam(model, x, targets=[0, 2]), maps, atol=1e-6)
    # by hand: tokens of the last block's norm1 -> grid, gradient-weighted sum, ReLU, upsample, min-max
    tokens: list[Tensor] = []
    handle = model.token_cam_target_layers()[0].register_forward_hook(lambda m, i, o: tokens.append(o))
    try:
        logits = model(x)
    finally:
        handle.remove()
    (grad,) = torch.autograd.grad(logits[0, 0] + logits[1, 2], tokens[0])
    act, grad = model.reshape_tokens(tokens[0].detach()), model.reshape_tokens(grad)
    assert act.shape == (2, model.embed_dim, 4, 3)
    raw = F.relu((grad.mean(dim=(2, 3))[:, :, None, None] * act).sum(1))
    expected = F.interpolate(raw[:, None], size=(128, 96), mode="bilinear", align_corners=False)[:, 0]
    low = expected.amin(dim=(1, 2), keepdim=True)
    span = expected.amax(dim=(1, 2), keepdim=True) - low
    expected = torch.where(span > 0, (expected - low) / span.clamp_min(1e-12), 0.0)
    assert torch.allclose(maps, expected, atol=1e-5)
    # at random init one class's map may be all zero (negative evidence everywhere), not every class's
    every_class = torch.stack([token_gradcam(model, x, c) for c in range(3)])
    assert (every_class.amax(dim=(0, 2, 3)) > 0).all()
    with pytest.raises(TypeError, match="transformer variant"):
        TokenGradCAM(tiny("effnet_test"))


def test_tokens_without_reshape_transform_get_a_clear_error() -> None:
    model = tiny().eval()
    with pytest.raises(ValueError, match="reshape_tokens"):
        GradCAM(model, model.token_cam_target_layers())(torch.randn(1, 3, 64, 64))


# -- bad Grad-CAM input ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("targets", "error", "match"),
    [
        (3, ValueError, "out of range"),
        ([0, 5], ValueError, "out of range"),
        ([0], ValueError, "2 images"),
        ([0, -1], ValueError, "out of range"),
        (1.5, TypeError, "targets must be"),
        (torch.tensor([0.0, 1.0]), TypeError, "integer class indices"),
        ([0, "a"], TypeError, "each target"),
    ],
)
def test_bad_targets(targets: object, error: type[Exception], match: str) -> None:
    model = tiny("effnet_test").eval()
    with pytest.raises(error, match=match):
        GradCAM(model)(torch.randn(2, 3, 64, 64), targets)  # type: ignore[arg-type]
    assert hook_counts(model) == [0] * len(hook_counts(model))


def test_bad_images() -> None:
    cam = GradCAM(tiny("effnet_test").eval())
    with pytest.raises(ValueError, match="unsqueeze"):
        cam(torch.randn(3, 64, 64))
    with pytest.raises(TypeError, match="floating-point"):
        cam(torch.zeros(1, 3, 64, 64, dtype=torch.uint8))
    with pytest.raises(ValueError, match=">= 0"):
        ClassTarget(-1)


# -- attention rollout -----------------------------------------------------------------------------
@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_rollout_layer_matrices_and_joint_matrix_are_row_stochastic(global_pool: str) -> None:
    model = tiny(depth=3, num_heads=4, global_pool=global_pool).eval()
    x = torch.randn(2, 3, 96, 64)
    record = collect_attention(model, x)
    assert len(record.attentions) == 3
    prefix = record.num_prefix_tokens
    assert prefix == (global_pool == "token")
    for fusion in ("mean", "max", "min"):
        for ratio in (0.0, 0.5):
            for attn in record.attentions:
                step = rollout_step(fuse_heads(attn, fusion), ratio, prefix)
                assert torch.allclose(step.sum(-1), torch.ones(2, 6 + prefix), atol=1e-5)
                assert (step >= 0).all()
            joint = rollout(record.attentions, fusion, ratio, prefix)
            assert torch.allclose(joint.sum(-1), torch.ones(joint.shape[:2]), atol=1e-5)
    joint = rollout_matrices(model, x, "mean", 0.3)
    assert joint.shape == (2, 6 + prefix, 6 + prefix)
    assert torch.allclose(joint.sum(-1), torch.ones(2, 6 + prefix), atol=1e-5)
    # joint = A_3 @ A_2 @ A_1 (later layers on the left)
    steps = [rollout_step(fuse_heads(a, "mean")) for a in record.attentions]
    assert torch.allclose(rollout(record.attentions), steps[2] @ steps[1] @ steps[0], atol=1e-6)
    assert not torch.allclose(steps[0] @ steps[1] @ steps[2], steps[2] @ steps[1] @ steps[0], atol=1e-4)


def test_discard_never_touches_the_class_token_column() -> None:
    b, t = 2, 5
    attn = torch.rand(b, t, t) + 1.0
    attn[:, :, 0] = torch.tensor([[0.01, 0.02, 0.03, 0.04, 0.05], [0.5, 0.001, 0.002, 0.9, 0.003]])
    attn[1, 2, 3] = 0.0001  # a low weight elsewhere in sample 1 only
    kept = discard_lowest(attn, 0.5, num_prefix_tokens=1)
    assert torch.equal(kept[:, :, 0], attn[:, :, 0])  # the lowest weights, yet all survive
    k = int(t * (t - 1) * 0.5)
    for i in range(b):  # per sample: exactly the k lowest of the other columns are zeroed
        zeroed = kept[i, :, 1:] == 0
        assert int(zeroed.sum()) == k
        threshold = attn[i, :, 1:].flatten().sort().values[k - 1]
        assert torch.equal(zeroed, attn[i, :, 1:] <= threshold)
    assert kept[1, 2, 3] == 0
    assert torch.equal(attn[:, :, 0], kept[:, :, 0]) and attn.min() > 0  # the input is not modified
    # without a class token the same column is fair game (so the check above can fail)
    assert (discard_lowest(attn, 0.5, num_prefix_tokens=0)[:, :, 0] == 0).all()
    # and rollout steps keep the protected weights (relative to the row) after renormalising
    step = rollout_step(attn, 0.5, num_prefix_tokens=1)
    assert (step[:, :, 0] > 0).all()


def test_head_fusions_differ() -> None:
    model = tiny(depth=2, num_heads=4).eval()
    x = torch.randn(2, 3, 128, 128)
    maps = {f: attention_rollout(model, x, head_fusion=f, normalize=False) for f in ("mean", "max", "min")}
    assert not torch.allclose(maps["mean"], maps["max"], atol=1e-6)
    assert not torch.allclose(maps["mean"], maps["min"], atol=1e-6)
    assert not torch.allclose(maps["max"], maps["min"], atol=1e-6)
    record = collect_attention(model, x)
    assert torch.equal(fuse_heads(record.attentions[0], "max"), record.attentions[0].amax(1))


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_rollout_map_has_the_feature_grid_shape_and_range(global_pool: str) -> None:
    model = tiny(global_pool=global_pool).eval()
    x = torch.randn(2, 3, 128, 96)
    maps = attention_rollout(model, x, discard_ratio=0.2)
    assert model.feature_grid == (4, 3)
    assert maps.shape == (2, 4, 3)
    assert maps.min() >= 0 and maps.max() <= 1
    assert torch.allclose(maps.amax(dim=(1, 2)), torch.ones(2))
    big = upsample(maps, x.shape[-2:])
    assert big.shape == (2, 128, 96)
    raw = last_layer_attention(model, x)
    t = 12 + (global_pool == "token")
    assert raw.shape == (2, 2, t, t)
    last = last_layer_attention_map(model, x, head_fusion="max")
    assert last.shape == (2, 4, 3) and last.min() >= 0 and last.max() <= 1


def test_readout_reads_the_class_token_row_or_the_mean_of_patch_rows() -> None:
    joint = torch.rand(2, 5, 5).softmax(-1)
    assert torch.equal(readout(joint, 1, "token"), joint[:, 0, 1:])
    assert torch.allclose(readout(joint, 1, "mean"), joint[:, 1:, 1:].mean(1))
    assert torch.allclose(readout(joint, 0, "mean"), joint.mean(1))


def test_identity_attention_rolls_out_to_a_uniform_map() -> None:
    eye = torch.eye(5).expand(2, 3, 5, 5)
    joint = rollout([eye])
    assert torch.allclose(joint, torch.eye(5).expand(2, 5, 5))
    assert torch.allclose(readout(joint, 0, "mean"), torch.full((2, 5), 0.2))


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_a_depth_one_model_with_uninformative_attention_rolls_out_near_uniform(global_pool: str) -> None:
    model = tiny(depth=1, global_pool=global_pool).eval()
    with torch.no_grad():  # q = k = 0: every token attends uniformly, nothing is singled out
        model.blocks[0].attn.qkv.weight.zero_()
        model.blocks[0].attn.qkv.bias.zero_()
    x = torch.randn(2, 3, 128, 128)
    raw = attention_rollout(model, x, normalize=False)
    assert raw.shape == (2, 4, 4)
    assert torch.allclose(raw, raw.mean(dim=(1, 2), keepdim=True).expand_as(raw), atol=1e-6)
    # the trained-looking (random) model is not uniform, so the check above can fail
    other = attention_rollout(tiny(depth=1, global_pool=global_pool).eval(), x, normalize=False)
    assert not torch.allclose(other, other.mean(dim=(1, 2), keepdim=True).expand_as(other), atol=1e-4)


@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_recorded_attention_is_the_attention_of_the_real_forward(global_pool: str) -> None:
    model = tiny(depth=2, num_heads=2, global_pool=global_pool).eval()
    x = torch.randn(2, 3, 96, 96)
    block_inputs: list[Tensor] = []
    handle = model.blocks[0].norm1.register_forward_hook(lambda m, i, o: block_inputs.append(o))
    try:
        record = collect_attention(model, x)
    finally:
        handle.remove()
    with torch.no_grad():
        assert torch.allclose(record.logits, model(x), atol=1e-5)
        (y,) = block_inputs
        attn = model.blocks[0].attn
        qkv = attn.qkv(y).reshape(2, y.shape[1], 3, attn.num_heads, attn.head_dim).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        by_hand = F.softmax(q @ k.transpose(-2, -1) / attn.head_dim**0.5, dim=-1)
    assert torch.allclose(record.attentions[0], by_hand, atol=1e-6)
    assert record.grid_size == model.feature_grid == (3, 3)
    assert record.readout == ("token" if global_pool == "token" else "mean")


# -- bad rollout input -----------------------------------------------------------------------------
def test_bad_rollout_arguments() -> None:
    model = tiny().eval()
    x = torch.randn(1, 3, 64, 64)
    with pytest.raises(ValueError, match="head_fusion"):
        attention_rollout(model, x, head_fusion="median")
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        attention_rollout(model, x, discard_ratio=1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        rollout_matrices(model, x, discard_ratio=-0.1)
    with pytest.raises(TypeError, match="effnet_b2_tf"):
        attention_rollout(tiny("effnet_test"), x)
    with pytest.raises(TypeError, match="transformer variant"):
        last_layer_attention(timm.create_model("resnet10t", num_classes=3), x)
    with pytest.raises(ValueError, match="head_fusion"):
        last_layer_attention_map(model, x, head_fusion="sum")
    with pytest.raises(ValueError, match="at least one layer"):
        rollout([])
    with pytest.raises(ValueError, match=r"\(B, h, w\)"):
        upsample(torch.rand(4, 4), (8, 8))


def test_default_cam_layer_follows_the_layer_recorded_with_the_weights() -> None:
    """Weights whose provenance names a Grad-CAM layer (chosen on validation) use it by default."""
    model = bve.create_model("effnet_test", num_classes=3)
    assert model.cam_target_layers() == [model.backbone.bn2]
    model.pretrained_cfg["provenance"] = {"localisation": {"layer": "backbone.blocks.2"}}
    assert model.cam_target_layers() == [model.backbone.blocks[2]]
    model.pretrained_cfg["provenance"] = {"localisation": {"layer": "backbone.no_such_layer"}}
    assert model.cam_target_layers() == [model.backbone.bn2]


def test_gradcam_plusplus_weights_are_pytorch_grad_cams_closed_form() -> None:
    """The reference's get_cam_weights (pytorch-grad-cam, GradCAMPlusPlus), written out in numpy:
    eps 1e-6, alpha zero where the gradient is zero, weights summed over space."""
    generator = torch.Generator().manual_seed(0)
    activations = torch.rand(2, 5, 6, 6, generator=generator) * 3
    grads = torch.randn(2, 5, 6, 6, generator=generator) * 1e-3  # small gradients: where eps matters
    grads[0, 0, :2] = 0.0
    a, g = activations.double().numpy(), grads.double().numpy()
    g2, g3 = g**2, g**3
    aij = g2 / (2 * g2 + a.sum(axis=(2, 3))[:, :, None, None] * g3 + 0.000001)
    aij = np.where(g != 0, aij, 0)
    reference = (np.maximum(g, 0) * aij).sum(axis=(2, 3))
    ours = GradCAMPlusPlus.get_cam_weights(
        GradCAMPlusPlus.__new__(GradCAMPlusPlus), activations.double(), grads.double()
    )
    np.testing.assert_allclose(ours.numpy(), reference, rtol=1e-10, atol=1e-12)
