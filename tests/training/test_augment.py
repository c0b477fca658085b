import pytest
import torch

from micon.errors import InvalidConfigError
from micon.training.augment import AugmentationConfig, augment_images, augmentation_generator
from tests.parameters import parameter


def _augmentation(**overrides) -> AugmentationConfig:
    """Return the product's augmentation (conf/base ``modeling.training``) with ``overrides``."""
    training = parameter("modeling.training", env="base")
    values = {key: training[key] for key in ("flips", "rot90", "intensity_jitter")}
    return AugmentationConfig(**{**values, **overrides})


def _symmetries(crop: torch.Tensor) -> list[torch.Tensor]:
    out = []
    for flipped in (crop, crop.flip(-1)):
        out += [torch.rot90(flipped, k, dims=(-2, -1)) for k in range(4)]
    return out


def test_augment_images_each_crop_is_a_dihedral_copy_of_itself():
    images = torch.arange(6 * 2 * 4 * 4, dtype=torch.float32).reshape(6, 2, 4, 4)
    out = augment_images(images, config=_augmentation(), generator=torch.Generator().manual_seed(0))
    assert out.shape == images.shape
    for original, augmented in zip(images, out, strict=True):
        assert any(torch.equal(augmented, s) for s in _symmetries(original))
    assert not torch.equal(out, images)


def test_augment_images_all_off_returns_input_values():
    images = torch.randn(3, 5, 8, 8)
    config = _augmentation(flips=False, rot90=False)
    assert torch.equal(augment_images(images, config=config), images)


def test_augment_images_jitter_scales_each_channel_by_a_constant():
    images = torch.rand(4, 5, 8, 8) + 1.0
    config = _augmentation(flips=False, rot90=False, intensity_jitter=0.3)
    ratio = augment_images(images, config=config) / images
    assert torch.allclose(ratio, ratio[..., :1, :1].expand_as(ratio))
    assert not torch.allclose(ratio, torch.ones_like(ratio))


def test_augmentation_config_negative_jitter_raises():
    with pytest.raises(InvalidConfigError, match="intensity_jitter"):
        _augmentation(intensity_jitter=-0.1)


def test_augmentation_generator_same_keys_same_draws_other_step_differs():
    images = torch.rand(16, 2, 6, 6)
    config = _augmentation(intensity_jitter=0.1)

    def draw(*keys: int) -> torch.Tensor:
        return augment_images(images, config=config, generator=augmentation_generator(7, *keys))

    assert torch.equal(draw(3, 0), draw(3, 0))
    assert not torch.equal(draw(3, 0), draw(4, 0))
    assert not torch.equal(draw(3, 0), draw(3, 1))
