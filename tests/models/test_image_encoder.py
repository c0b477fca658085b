import logging

import numpy as np
import pytest
import timm
import torch

from micon.errors import InvalidConfigError, InvalidImageError
from micon.models.image_encoder import CropNormalizer, ImageEncoder, ImageEncoderConfig


@pytest.mark.parametrize("backbone", ["test_resnet", "resnet10t"])
@pytest.mark.parametrize(("batch", "size", "dim"), [(1, 16, 8), (3, 32, 32)])
def test_image_encoder_crops_give_batch_by_dim(backbone, batch, size, dim):
    encoder = ImageEncoder(ImageEncoderConfig(backbone=backbone, embedding_dim=dim)).eval()
    crops = torch.randint(0, 5000, (batch, 5, size, size), dtype=torch.int32).to(torch.uint16)
    out = encoder(crops)
    assert out.shape == (batch, dim)
    assert out.dtype == torch.float32
    assert torch.equal(encoder.encode(crops), out)


def test_image_encoder_wrong_channel_count_raises():
    encoder = ImageEncoder(ImageEncoderConfig(backbone="test_resnet", embedding_dim=4))
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
        ImageEncoderConfig(backbone="no_such_net")


def test_image_encoder_config_missing_pretrained_file_raises(tmp_path):
    with pytest.raises(InvalidConfigError, match="missing.pt"):
        ImageEncoderConfig(backbone="test_resnet", pretrained_path=str(tmp_path / "missing.pt"))


def test_image_encoder_pretrained_rgb_weights_loaded_and_stem_adapted(tmp_path, caplog):
    rgb = timm.create_model("test_resnet", pretrained=False, in_chans=3, num_classes=10)
    path = tmp_path / "weights.pt"
    torch.save(rgb.state_dict(), path)
    with caplog.at_level(logging.INFO, logger="micon.models.image_encoder"):
        encoder = ImageEncoder(ImageEncoderConfig(backbone="test_resnet", pretrained_path=str(path)))
    assert encoder.backbone.conv1[0].weight.shape[1] == 5
    assert torch.equal(encoder.backbone.layer1[0].conv1.weight, rgb.layer1[0].conv1.weight)
    assert "loaded backbone weights" in caplog.text


def test_crop_normalizer_fixed_scale_keeps_absolute_intensity():
    normalizer = CropNormalizer(scaling="fixed")
    crops = torch.tensor([0.0, 255.0, 65535.0]).reshape(1, 3, 1, 1)
    expected = torch.log1p(crops) / np.log(65536.0)
    assert torch.allclose(normalizer(crops), expected)
    # a brighter copy stays brighter: the fixed scale does not standardise it away
    assert (normalizer(crops * 2 + 1) > normalizer(crops)).all()


def test_image_encoder_config_unknown_intensity_scaling_raises():
    with pytest.raises(InvalidConfigError, match="'per_plate'"):
        ImageEncoderConfig(backbone="test_resnet", intensity_scaling="per_plate")
