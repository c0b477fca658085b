"""CellCLIP's frozen per-channel image features: the source of its CWCL soft targets."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import timm
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from micon.errors import InvalidConfigError, InvalidImageError
from micon.models.image_encoder import CropNormalizer, ImageEncoderConfig, _create_backbone

__all__ = ["FrozenChannelFeatures", "FrozenFeaturesConfig", "image_soft_targets"]


@dataclass(frozen=True, kw_only=True)
class FrozenFeaturesConfig:
    """Settings of :class:`FrozenChannelFeatures`.

    Attributes:
        backbone: Name of a timm model, built with a 1-channel stem and no classifier.
        pretrained: ``None``: random weights drawn with ``seed`` (an untrained extractor); or a local
            weights file (as :class:`~micon.models.ImageEncoderConfig`'s ``pretrained``). Never a download:
            CellCLIP uses DINOv2, which this project does not fetch at run time.
        seed: Seed of the random weights (``pretrained: null``); the draw does not touch torch's global RNG.
    """

    backbone: str
    pretrained: str | None
    seed: int

    def __post_init__(self) -> None:
        if not timm.is_model(self.backbone):
            raise InvalidConfigError(
                f"frozen feature backbone {self.backbone!r} is not a timm model (timm.list_models())"
            )
        if self.pretrained is not None and not Path(self.pretrained).is_file():
            raise InvalidConfigError(
                f"frozen feature weights {self.pretrained!r} must be null or an existing local file "
                "(nothing is downloaded)"
            )


class FrozenChannelFeatures(nn.Module):
    """Embed each channel of a crop with a frozen 1-channel backbone (CellCLIP's per-channel features).

    CellCLIP (arXiv 2506.06290) passes each channel through a frozen DINOv2 and takes the CWCL soft targets
    of its image -> text loss from the cosine similarity of these features. Here the backbone is a timm
    model with a 1-channel stem, randomly initialised with a fixed seed or loaded from a local file; it is
    never trained (no gradients, always in eval mode, whatever ``train()`` asks) and scales crops with the
    trained encoder's :class:`~micon.models.CropNormalizer` settings.

    Args:
        config: Backbone, weights and seed.
        image: The trained image encoder's settings (its intensity scaling and epsilon are reused).
        in_channels: C.

    Shapes:
        - input: :math:`(B, C, S, S)`; output: :math:`(B, C, F)` float32, F the backbone's feature width.
    """

    def __init__(self, config: FrozenFeaturesConfig, *, image: ImageEncoderConfig, in_channels: int) -> None:
        super().__init__()
        self.config = config
        self.in_channels = in_channels
        self.normalizer = CropNormalizer(eps=image.normalize_eps, scaling=image.intensity_scaling)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            self.backbone = _create_backbone(config, in_chans=1)  # type: ignore[arg-type]
        self.backbone.requires_grad_(False)
        super().train(False)

    def train(self, mode: bool = True) -> FrozenChannelFeatures:
        """Stay in eval mode: the batch norms of a frozen extractor never update."""
        return super().train(False)

    @torch.no_grad()
    def forward(self, images: Tensor) -> Tensor:
        """Return the frozen features of every channel of every crop (see class Shapes).

        Raises:
            InvalidImageError: ``images`` is not ``(B, C, S, S)`` with the model's C.
        """
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise InvalidImageError(
                f"expected crops of shape (B, {self.in_channels}, S, S), got {tuple(images.shape)}"
            )
        b, c, h, w = images.shape
        single = self.normalizer(images).reshape(b * c, 1, h, w)
        return self.backbone(single).reshape(b, c, -1).float()


def image_soft_targets(features: Tensor, groups: Tensor | None = None) -> Tensor:
    r"""Return CellCLIP's CWCL weights: the cosine similarity of frozen per-channel features in [0, 1].

    Each item's feature vector is its C channel features, each L2-normalised, concatenated; with
    ``groups`` (e.g. the compound of each item) the vectors of a group are averaged first and every item
    gets its group's vector, so two items of one group have weight 1. Then
    :math:`w_{ij} = (1 + \cos(f_i, f_j)) / 2`.

    Args:
        features: ``(N, C, F)`` frozen per-channel features.
        groups: ``(N,)`` group of each item, or None (one vector per item).

    Returns:
        ``(N, N)`` weights in [0, 1], 1 on the diagonal.
    """
    vectors = F.normalize(features.float(), dim=-1).flatten(1)
    if groups is not None:
        codes, inverse = torch.unique(groups, return_inverse=True)
        sums = vectors.new_zeros(codes.numel(), vectors.shape[1]).index_add_(0, inverse, vectors)
        vectors = sums[inverse]
    vectors = F.normalize(vectors, dim=1)
    return ((1.0 + vectors @ vectors.T) / 2.0).clamp(0.0, 1.0)
