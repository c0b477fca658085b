"""Image encoder: a timm backbone over the five Cell Painting channels of a crop, with its own scaling."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import timm
import torch
from timm.models import adapt_input_conv
from torch import Tensor, nn

from micon.errors import InvalidConfigError, InvalidImageError

logger = logging.getLogger(__name__)

__all__ = ["INTENSITY_SCALINGS", "CropNormalizer", "ImageEncoder", "ImageEncoderConfig", "IntensityScaling"]

IntensityScaling = Literal["per_crop", "fixed", "plate_control"]
INTENSITY_SCALINGS: tuple[str, ...] = IntensityScaling.__args__


@dataclass(frozen=True, kw_only=True)
class ImageEncoderConfig:
    """Settings of :class:`ImageEncoder`.

    Attributes:
        backbone: Name of a timm model (``timm.list_models()``); built with random weights. The default,
            ``resnet10t``, is the smallest real ResNet in timm and fast enough on CPU at 32 px.
        in_channels: Channels of a crop (5: AGP, DNA, ER, Mito, RNA); the backbone's stem takes them all.
        embedding_dim: Size D of the embedding that is evaluated.
        pretrained_path: Optional local file holding a backbone state dict (never downloaded). Loaded with
            ``strict=False``; a 3-channel stem is adapted to ``in_channels`` by timm's ``adapt_input_conv``.
        normalize_eps: Guard added to the per-crop, per-channel standard deviation.
        intensity_scaling: ``"per_crop"`` standardises each channel of each crop (gain and offset removed,
            with them any absolute intensity phenotype); ``"fixed"`` keeps absolute intensities on one
            log scale for all crops (technical gain reaches the network, which must learn to ignore it);
            ``"plate_control"`` expects crops already scaled against their plate's DMSO crops
            (``micon.imaging.intensity``, applied by the training and embedding code) and only applies
            ``asinh``, so intensities relative to the plate's controls reach the network.
    """

    backbone: str = "resnet10t"
    in_channels: int = 5
    embedding_dim: int = 128
    pretrained_path: str | None = None
    normalize_eps: float = 1e-3
    intensity_scaling: IntensityScaling = "per_crop"

    def __post_init__(self) -> None:
        if not timm.is_model(self.backbone):
            raise InvalidConfigError(
                f"image backbone {self.backbone!r} is not a timm model; pick a name from timm.list_models()"
            )
        if self.in_channels < 1:
            raise InvalidConfigError(f"in_channels must be >= 1, got {self.in_channels}")
        if self.embedding_dim < 1:
            raise InvalidConfigError(f"embedding_dim must be >= 1, got {self.embedding_dim}")
        if self.normalize_eps <= 0:
            raise InvalidConfigError(f"normalize_eps must be > 0, got {self.normalize_eps}")
        if self.intensity_scaling not in INTENSITY_SCALINGS:
            raise InvalidConfigError(
                f"intensity_scaling must be one of {INTENSITY_SCALINGS}, got {self.intensity_scaling!r}"
            )
        if self.pretrained_path is not None and not Path(self.pretrained_path).is_file():
            raise InvalidConfigError(f"pretrained_path {self.pretrained_path!r} is not a file")


class CropNormalizer(nn.Module):
    r"""Scale crops for the network by one of three rules (``scaling``).

    ``"per_crop"``: log, then standardise each channel of each crop,

    .. math::
        y_{c,h,w} = \frac{\log(1 + x_{c,h,w}) - \mu_c}{\sigma_c + \epsilon}

    with :math:`\mu_c, \sigma_c` the mean and standard deviation of :math:`\log(1 + x_c)` over the crop's
    pixels. This is the per-crop analogue of the reference code's per-image percentile scaling; a
    multiplicative channel gain becomes an additive constant after the log and is removed by the mean,
    so plate- and batch-level gain differences do not reach the backbone, and neither does a cell's
    absolute brightness.

    ``"fixed"``: the log intensities mapped to [0, 1] by the uint16 range,
    :math:`y = \log(1 + x) / \log(65536)`, the same for every crop.

    ``"plate_control"``: :math:`y = \operatorname{asinh}(x)`, for crops already scaled as
    :math:`(x - b) / s` against their plate's DMSO crops (``micon.imaging.intensity``): a DMSO crop then
    has mean 1 above a background of 0, and ``asinh`` (linear near 0, logarithmic above) tames bright
    pixels while accepting the slightly negative values background subtraction leaves.

    It lives inside the encoder so that training and inference scale pixels identically (the reference
    code did not: 0-1 vs 0-255).

    Args:
        eps: Guard against flat channels (``per_crop``).
        scaling: ``"per_crop"``, ``"fixed"`` or ``"plate_control"``.

    Shapes:
        - input: :math:`(B, C, H, W)`, any real or integer dtype (uint16 crops as stored).
        - output: :math:`(B, C, H, W)` float32.
    """

    def __init__(self, eps: float = 1e-3, *, scaling: IntensityScaling = "per_crop") -> None:
        super().__init__()
        if scaling not in INTENSITY_SCALINGS:
            raise InvalidConfigError(f"scaling must be one of {INTENSITY_SCALINGS}, got {scaling!r}")
        self.eps = eps
        self.scaling = scaling

    def forward(self, x: Tensor) -> Tensor:
        """Return the scaled crops."""
        if self.scaling == "plate_control":
            return torch.asinh(x.float())
        x = torch.log1p(x.float().clamp_min(0.0))
        if self.scaling == "fixed":
            return x / math.log(65536.0)
        mean = x.mean(dim=(-2, -1), keepdim=True)
        std = x.std(dim=(-2, -1), keepdim=True, unbiased=False)
        return (x - mean) / (std + self.eps)

    def extra_repr(self) -> str:
        """Return the settings for ``repr``."""
        return f"eps={self.eps}, scaling={self.scaling!r}"


class ImageEncoder(nn.Module):
    """Embed multi-channel crops: :class:`CropNormalizer`, a timm backbone, a linear layer to D.

    One backbone sees all channels at once through a ``in_channels``-wide stem. The reference code instead
    passes each channel separately through a shared backbone and concatenates the outputs; that per-channel
    shared strategy is planned as an option of this class (a later issue).

    Args:
        config: Backbone name, channels, embedding size, optional local weights.

    Shapes:
        - input: :math:`(B, C, S, S)` raw intensities (uint16 or float).
        - output: :math:`(B, D)` float32, ``D = config.embedding_dim``.
    """

    def __init__(self, config: ImageEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.normalizer = CropNormalizer(eps=config.normalize_eps, scaling=config.intensity_scaling)
        self.backbone = timm.create_model(
            config.backbone, pretrained=False, in_chans=config.in_channels, num_classes=0
        )
        if config.pretrained_path is not None:
            _load_backbone_weights(self.backbone, config.pretrained_path, in_channels=config.in_channels)
        self.embedding = nn.Linear(self.backbone.num_features, config.embedding_dim)

    @property
    def embedding_dim(self) -> int:
        """Return D, the size of the embedding."""
        return self.config.embedding_dim

    def forward(self, images: Tensor) -> Tensor:
        """Return the embedding of each crop (see class Shapes)."""
        if images.ndim != 4 or images.shape[1] != self.config.in_channels:
            raise InvalidImageError(
                f"expected crops of shape (B, {self.config.in_channels}, S, S), got {tuple(images.shape)}"
            )
        return self.embedding(self.backbone(self.normalizer(images)))

    def encode(self, images: Tensor) -> Tensor:
        """Return the embedding used for evaluation: the encoder output, before any projection head."""
        return self.forward(images)


def _load_backbone_weights(backbone: nn.Module, path: str, *, in_channels: int) -> None:
    """Load a local state dict into ``backbone`` (strict=False), adapting a 3-channel stem; log the rest."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and key in state and isinstance(state[key], dict):
            state = state[key]
    own = backbone.state_dict()
    first_conv = backbone.pretrained_cfg.get("first_conv")
    weight_key = f"{first_conv}.weight" if first_conv else None
    if weight_key in state and weight_key in own and state[weight_key].shape[1] != in_channels:
        # timm's own stem adaptation (repeat and rescale the RGB filters), as for pretrained=True.
        state[weight_key] = adapt_input_conv(
            in_channels, state[weight_key], base_chans=state[weight_key].shape[1]
        )
    skipped = [k for k, v in state.items() if k in own and own[k].shape != v.shape]
    state = {k: v for k, v in state.items() if k not in skipped}
    result = backbone.load_state_dict(state, strict=False)
    logger.info(
        "loaded backbone weights from %s: %d missing, %d unexpected, %d shape-mismatched keys",
        path,
        len(result.missing_keys),
        len(result.unexpected_keys),
        len(skipped),
    )
    if result.missing_keys:
        logger.warning("keys missing from %s (left at random init): %s", path, result.missing_keys)
    if skipped:
        logger.warning("keys of %s with a mismatched shape (skipped): %s", path, skipped)
