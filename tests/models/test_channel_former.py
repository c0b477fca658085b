import pytest
import torch

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.channel_former import ChannelFormerConfig, CrossChannelFormer
from tests.parameters import parameter


def _former_config(**overrides) -> ChannelFormerConfig:
    """Return the product's CrossChannelFormer settings (conf/base) with ``overrides``."""
    return ChannelFormerConfig(**{**parameter("modeling.model.channel_former", env="base"), **overrides})


@pytest.mark.parametrize(("batch", "channels", "in_dim", "dim"), [(1, 5, 8, 16), (3, 3, 4, 8)])
def test_cross_channel_former_tokens_give_batch_by_dim(batch, channels, in_dim, dim):
    former = CrossChannelFormer(in_dim, channels, _former_config(dim=dim, num_layers=1, num_heads=2))
    out = former(torch.randn(batch, channels, in_dim))
    assert out.shape == (batch, dim)
    assert torch.isfinite(out).all()


def test_cross_channel_former_channel_embeddings_make_order_matter():
    torch.manual_seed(0)
    former = CrossChannelFormer(4, 3, _former_config(dim=8, num_layers=1, num_heads=2)).eval()
    tokens = torch.randn(2, 3, 4)
    swapped = tokens[:, [1, 0, 2]]
    # without channel embeddings attention + CLS pooling would be permutation invariant
    assert not torch.allclose(former(tokens), former(swapped), atol=1e-4)


def test_cross_channel_former_wrong_token_count_raises():
    former = CrossChannelFormer(4, 5, _former_config(dim=8, num_heads=2))
    with pytest.raises(InvalidInputError, match=r"\(B, 5, D\)"):
        former(torch.randn(2, 3, 4))


@pytest.mark.parametrize(
    ("kwargs", "match"), [({"dim": 10, "num_heads": 4}, "divide"), ({"num_layers": 0}, "num_layers")]
)
def test_channel_former_config_bad_values_raise(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        _former_config(**kwargs)
