import logging

import numpy as np
import pytest
import timm
import torch

from micon.errors import InvalidConfigError, InvalidImageError
from micon.models.image_encoder import CropNormalizer, ImageEncoder, ImageEncoderConfig
from tests.parameters import parameter


def _image_config(**overrides) -> ImageEncoderConfig:
    """Return the product's ImageEncoderConfig (conf/base ``modeling.model.image``) with ``overrides``."""
    return ImageEncoderConfig(**{**parameter("modeling.model.image", env="base"), **overrides})


@pytest.mark.parametrize("backbone", ["test_resnet", "resnet10t"])
@pytest.mark.parametrize(("batch", "size", "dim"), [(1, 16, 8), (3, 32, 32)])
def test_image_encoder_crops_give_batch_by_dim(backbone, batch, size, dim):
    encoder = ImageEncoder(_image_config(backbone=backbone, embedding_dim=dim), in_channels=5).eval()
    crops = torch.randint(0, 5000, (batch, 5, size, size), dtype=torch.int32).to(torch.uint16)
    out = encoder(crops)
    assert out.shape == (batch, dim)
    assert out.dtype == torch.float32
    assert torch.equal(encoder.encode(crops), out)


def test_image_encoder_wrong_channel_count_raises():
    encoder = ImageEncoder(_image_config(backbone="test_resnet", embedding_dim=4), in_channels=5)
    with pytest.raises(InvalidImageError, match=r"\(2, 3, 16, 16\)"):
        encoder(torch.zeros(2, 3, 16, 16))


def test_crop_normalizer_channel_gain_and_offset_removed():
    rng = np.random.default_rng(0)
    crops = torch.tensor(rng.uniform(100, 4000, size=(2, 5, 8, 8)), dtype=torch.float32)
    normalizer = CropNormalizer(eps=1e-6)
    out = normalizer(crops)
    assert torch.allclose(out.mean(dim=(-2, -1)), torch.zeros(2, 5), atol=1e-5)
    assert torch.allclose(out.std(dim=(-2, -1), unbiased=False), torch.ones(2, 5), atol=1e-4)
    # log1p(g * x) ~ log(g) + log(x) for x >> 1: a channel gain is removed by the per-crop mean.
    gained = normalizer(crops * torch.tensor([0.5, 1, 2, 3, 4]).view(1, 5, 1, 1))
    assert torch.allclose(gained, out, atol=1e-2)


def test_crop_normalizer_flat_channel_gives_zeros_not_nan():
    out = CropNormalizer()(torch.full((1, 5, 4, 4), 7, dtype=torch.uint16))
    assert torch.isfinite(out).all()
    assert torch.allclose(out, torch.zeros_like(out), atol=1e-3)


def test_image_encoder_config_unknown_backbone_raises():
    with pytest.raises(InvalidConfigError, match="no_such_net"):
        _image_config(backbone="no_such_net")


def test_image_encoder_config_missing_pretrained_file_raises(tmp_path):
    with pytest.raises(InvalidConfigError, match="missing.pt"):
        _image_config(backbone="test_resnet", pretrained=str(tmp_path / "missing.pt"))


def test_image_encoder_config_hub_is_accepted_without_a_file():
    # "hub" asks timm for its published weights; only the config is built here (nothing downloads).
    assert _image_config(backbone="test_resnet", pretrained="hub").pretrained == "hub"


@pytest.mark.parametrize(("strategy", "stem_channels"), [("joint", 5), ("per_channel", 1)])
@pytest.mark.parametrize("wrapped", [False, True])
def test_image_encoder_local_rgb_weights_loaded_and_stem_adapted(
    tmp_path, caplog, strategy, stem_channels, wrapped
):
    rgb = timm.create_model("test_resnet", pretrained=False, in_chans=3, num_classes=10)
    path = tmp_path / "weights.pt"
    # a bare state dict, or a training checkpoint holding it under "state_dict"
    torch.save({"state_dict": rgb.state_dict()} if wrapped else rgb.state_dict(), path)
    config = _image_config(
        backbone="test_resnet", pretrained=str(path), channel_strategy=strategy, embedding_dim=10
    )
    with caplog.at_level(logging.INFO, logger="micon.models.image_encoder"):
        encoder = ImageEncoder(config, in_channels=5)
    stem = encoder.backbone.conv1[0].weight
    assert stem.shape[1] == stem_channels
    # timm's adapt_input_conv: 1 channel sums the RGB filters; C > 3 repeats them, rescaled by 3 / C.
    rgb_stem = rgb.conv1[0].weight
    expected = (
        rgb_stem.sum(1, keepdim=True) if stem_channels == 1 else rgb_stem.repeat(1, 2, 1, 1)[:, :5] * 3 / 5
    )
    assert torch.allclose(stem, expected, atol=1e-6)
    assert torch.equal(encoder.backbone.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    assert "loaded backbone weights" in caplog.text


def test_image_encoder_pretrained_file_of_other_architecture_raises(tmp_path):
    path = tmp_path / "vit.pt"
    torch.save(timm.create_model("test_vit", pretrained=False).state_dict(), path)
    with pytest.raises(InvalidConfigError, match="vit.pt"):
        ImageEncoder(_image_config(backbone="test_resnet", pretrained=str(path)), in_channels=5)


@pytest.mark.parametrize("backbone", ["test_resnet", "resnet10t"])
def test_image_encoder_per_channel_concatenates_shared_channel_embeddings(backbone):
    torch.manual_seed(0)
    config = _image_config(backbone=backbone, channel_strategy="per_channel", embedding_dim=15)
    encoder = ImageEncoder(config, in_channels=5).eval()
    crops = torch.randint(0, 5000, (2, 5, 16, 16)).float()
    tokens = encoder.encode_channels(crops)
    assert tokens.shape == (2, 5, 3)
    out = encoder(crops)
    assert out.shape == (2, 15)
    assert torch.equal(out, tokens.flatten(1))
    # each channel alone through the one shared 1-channel backbone and linear layer
    normalized = encoder.normalizer(crops)
    for c in range(5):
        alone = encoder.embedding(encoder.backbone(normalized[:, c : c + 1]))
        assert torch.allclose(tokens[:, c], alone, atol=1e-5)


def test_image_encoder_joint_has_no_per_channel_embeddings():
    encoder = ImageEncoder(_image_config(backbone="test_resnet", embedding_dim=4), in_channels=5)
    with pytest.raises(InvalidConfigError, match="per_channel"):
        encoder.encode_channels(torch.zeros(1, 5, 16, 16))


def test_image_encoder_joint_channel_tokens_are_slices_of_the_joint_embedding():
    encoder = ImageEncoder(_image_config(backbone="test_resnet", embedding_dim=10), in_channels=5).eval()
    crops = torch.randint(0, 5000, (2, 5, 16, 16)).float()
    tokens = encoder.channel_tokens(crops)
    assert tokens.shape == (2, 5, 2)
    assert torch.equal(tokens.flatten(1), encoder(crops))


def test_image_encoder_per_channel_channel_tokens_are_the_channel_embeddings():
    config = _image_config(backbone="test_resnet", channel_strategy="per_channel", embedding_dim=10)
    encoder = ImageEncoder(config, in_channels=5).eval()
    crops = torch.randint(0, 5000, (2, 5, 16, 16)).float()
    assert torch.equal(encoder.channel_tokens(crops), encoder.encode_channels(crops))


@pytest.mark.parametrize("strategy", ["joint", "per_channel"])
def test_image_encoder_l2_normalize_gives_unit_norm_outputs(strategy):
    torch.manual_seed(0)
    crops = torch.randint(0, 5000, (3, 5, 16, 16)).float()
    raw = _image_config(backbone="test_resnet", channel_strategy=strategy, embedding_dim=10)
    normed = _image_config(
        backbone="test_resnet", channel_strategy=strategy, embedding_dim=10, l2_normalize=True
    )
    torch.manual_seed(0)
    out_raw = ImageEncoder(raw, in_channels=5).eval()(crops)
    torch.manual_seed(0)
    out = ImageEncoder(normed, in_channels=5).eval()(crops)
    assert torch.allclose(out.norm(dim=1), torch.ones(3), atol=1e-5)
    assert not torch.allclose(out_raw.norm(dim=1), torch.ones(3), atol=1e-2)
    assert torch.allclose(out, torch.nn.functional.normalize(out_raw, dim=1), atol=1e-5)


@pytest.mark.parametrize("channels", [3, 4, 5])
def test_image_encoder_per_channel_base_dim_splits_evenly(channels):
    # conf/base's embedding size splits into 3, 4 or 5 channels: every method is evaluated at it
    config = _image_config(backbone="test_resnet", channel_strategy="per_channel")
    encoder = ImageEncoder(config, in_channels=channels)
    assert encoder.embedding_dim == config.embedding_dim == config.output_dim(channels)


@pytest.mark.parametrize("dim", [4, 12])
def test_image_encoder_per_channel_dim_not_a_multiple_of_the_channels_raises(dim):
    config = _image_config(backbone="test_resnet", channel_strategy="per_channel", embedding_dim=dim)
    with pytest.raises(InvalidConfigError, match=f"embedding_dim \\({dim}\\).*5 channels"):
        ImageEncoder(config, in_channels=5)


@pytest.mark.parametrize(("field", "value"), [("channel_strategy", "stacked"), ("freeze_stages", -1)])
def test_image_encoder_config_bad_strategy_or_freeze_raises(field, value):
    with pytest.raises(InvalidConfigError, match=field):
        _image_config(backbone="test_resnet", **{field: value})


@pytest.mark.parametrize("strategy", ["joint", "per_channel"])
def test_image_encoder_frozen_stages_get_no_gradient(strategy):
    config = _image_config(
        backbone="test_resnet", embedding_dim=10, channel_strategy=strategy, freeze_stages=2
    )
    encoder = ImageEncoder(config, in_channels=5).train()
    before = encoder.backbone.conv1[1].running_mean.clone()
    encoder(torch.rand(4, 5, 16, 16) * 1000).sum().backward()
    frozen = [
        n
        for n, _ in encoder.named_parameters()
        if n.startswith(("backbone.conv1", "backbone.layer1", "backbone.layer2"))
    ]
    trained = [
        n
        for n, _ in encoder.named_parameters()
        if n.startswith(("backbone.layer3", "backbone.layer4", "embedding"))
    ]
    assert frozen and trained
    params = dict(encoder.named_parameters())
    assert all(not params[n].requires_grad and params[n].grad is None for n in frozen)
    assert all(params[n].grad is not None for n in trained)
    # frozen batch norms keep their statistics in training mode
    assert torch.equal(encoder.backbone.conv1[1].running_mean, before)


def test_image_encoder_freeze_stages_vit_freezes_embeddings_and_first_blocks():
    config = _image_config(backbone="test_vit", embedding_dim=8, freeze_stages=1)
    encoder = ImageEncoder(config, in_channels=5)
    frozen = {n for n, p in encoder.backbone.named_parameters() if not p.requires_grad}
    assert {"pos_embed", "cls_token", "patch_embed.proj.weight", "blocks.0.attn.qkv.weight"} <= frozen
    assert not any(n.startswith("blocks.1.") for n in frozen)


def test_image_encoder_freeze_every_stage_raises():
    with pytest.raises(InvalidConfigError, match="freeze_stages=4"):
        ImageEncoder(_image_config(backbone="test_resnet", freeze_stages=4), in_channels=5)


def test_crop_normalizer_fixed_scale_keeps_absolute_intensity():
    normalizer = CropNormalizer(scaling="fixed")
    crops = torch.tensor([0.0, 255.0, 65535.0]).reshape(1, 3, 1, 1)
    expected = torch.log1p(crops) / np.log(65536.0)
    assert torch.allclose(normalizer(crops), expected)
    # a brighter copy stays brighter: the fixed scale does not standardise it away
    assert (normalizer(crops * 2 + 1) > normalizer(crops)).all()


def test_image_encoder_config_unknown_intensity_scaling_raises():
    with pytest.raises(InvalidConfigError, match="'per_plate'"):
        _image_config(backbone="test_resnet", intensity_scaling="per_plate")
