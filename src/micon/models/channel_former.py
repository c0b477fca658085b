"""CellCLIP's CrossChannelFormer: a transformer over per-channel image embeddings, pooled by a CLS token."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from micon.errors import InvalidConfigError, InvalidInputError

__all__ = ["ChannelFormerConfig", "CrossChannelFormer"]


@dataclass(frozen=True, kw_only=True)
class ChannelFormerConfig:
    """Settings of :class:`CrossChannelFormer`.

    Attributes:
        dim: Token width; also the size of the CLS output, the embedding CellCLIP evaluates.
        num_layers: Transformer encoder layers.
        num_heads: Attention heads (must divide ``dim``).
        dropout: Dropout inside the transformer layers.
    """

    dim: int
    num_layers: int
    num_heads: int
    dropout: float

    def __post_init__(self) -> None:
        if self.dim < 1 or self.num_layers < 1 or self.num_heads < 1:
            raise InvalidConfigError(
                f"dim, num_layers and num_heads must be >= 1, got {self.dim}, {self.num_layers}, "
                f"{self.num_heads}"
            )
        if self.dim % self.num_heads:
            raise InvalidConfigError(f"num_heads ({self.num_heads}) must divide dim ({self.dim})")
        if not 0.0 <= self.dropout < 1.0:
            raise InvalidConfigError(f"dropout must be in [0, 1), got {self.dropout}")


class CrossChannelFormer(nn.Module):
    """Mix the C channel embeddings of a crop with self-attention and pool them with a CLS token.

    As in CellCLIP (arXiv 2506.06290): each channel's embedding is mapped to ``dim``, a learned channel
    embedding is added (so the transformer knows which stain a token is), a learned CLS token is
    prepended, and a pre-norm ``nn.TransformerEncoder`` runs over the C + 1 tokens; the final-normed CLS
    token is the crop's embedding. CellCLIP feeds frozen DINOv2 features; here the tokens come from the
    trained image encoder (:meth:`~micon.models.ImageEncoder.channel_tokens`: per-channel embeddings, or
    slices of a joint embedding), and CellCLIP's frozen features serve its soft targets only
    (:class:`~micon.models.FrozenChannelFeatures`).

    Args:
        in_dim: Width of the input channel tokens.
        num_channels: C.
        config: Width, depth, heads, dropout.

    Shapes:
        - input: :math:`(B, C, D_{in})`; output: :math:`(B, dim)`.
    """

    def __init__(self, in_dim: int, num_channels: int, config: ChannelFormerConfig) -> None:
        super().__init__()
        self.config = config
        self.num_channels = num_channels
        self.input = nn.Linear(in_dim, config.dim)
        self.channel_embedding = nn.Parameter(torch.randn(num_channels, config.dim) * 0.02)
        self.cls_token = nn.Parameter(torch.randn(1, 1, config.dim) * 0.02)
        layer = nn.TransformerEncoderLayer(
            config.dim,
            config.num_heads,
            dim_feedforward=2 * config.dim,
            dropout=config.dropout,
            batch_first=True,
            norm_first=True,
        )
        self.transformer = nn.TransformerEncoder(layer, config.num_layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(config.dim)

    def forward(self, tokens: Tensor) -> Tensor:
        """Return the CLS embedding of each crop (see class Shapes).

        Raises:
            InvalidInputError: ``tokens`` does not have ``num_channels`` tokens.
        """
        if tokens.ndim != 3 or tokens.shape[1] != self.num_channels:
            raise InvalidInputError(
                f"expected channel tokens (B, {self.num_channels}, D), got {tuple(tokens.shape)}"
            )
        x = self.input(tokens) + self.channel_embedding
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1)
        return self.norm(self.transformer(x)[:, 0])
