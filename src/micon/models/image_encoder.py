"""Image encoder: a timm backbone over the Cell Painting channels of a crop (jointly or per channel)."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import timm
import torch
import torch.nn.functional as F
from timm.models import group_modules, group_parameters, load_state_dict
from timm.utils import freeze
from torch import Tensor, nn

from micon.errors import InvalidConfigError, InvalidImageError

logger = logging.getLogger(__name__)

__all__ = [
    "INTENSITY_SCALINGS",
    "PRETRAINED_HUB",
    "CropNormalizer",
    "ImageEncoder",
    "ImageEncoderConfig",
    "IntensityScaling",
]

IntensityScaling = Literal["per_crop", "fixed", "plate_control"]
INTENSITY_SCALINGS: tuple[str, ...] = IntensityScaling.__args__
ChannelStrategy = Literal["joint", "per_channel"]
_CHANNEL_STRATEGIES: tuple[str, ...] = ("joint", "per_channel")
PRETRAINED_HUB = "hub"


@dataclass(frozen=True, kw_only=True)
class ImageEncoderConfig:
    """Settings of :class:`ImageEncoder`.

    Attributes:
        backbone: Name of a timm model (``timm.list_models()``). ``conf/base`` uses ``resnet10t``, the
            smallest real ResNet in timm and fast enough on CPU at 32 px.
        embedding_dim: Size D of the encoder output (the evaluated embedding of every method but CellCLIP).
            With ``per_channel`` each of the C channels gets ``D / C``; D must then be a multiple of C
            (``conf/base``: 120, which 3, 4 and 5 channels divide). The channels themselves are not a
            setting: the crop store records them (:class:`ImageEncoder` takes their count).
        channel_strategy: ``"joint"``: one backbone over all channels through a C-channel stem.
            ``"per_channel"``: one backbone with a 1-channel stem shared by all channels, each channel
            encoded on its own and the per-channel embeddings concatenated (the MICON reference code; also
            the channel tokens of CellCLIP's CrossChannelFormer). Costs about C times the joint forward.
            Every method may use either.
        l2_normalize: L2-normalise the encoder output (the concatenated per-channel embeddings, or the
            joint one), as the MICON reference code does before its projection head, its generator and
            evaluation. Per-channel tokens (:meth:`ImageEncoder.channel_tokens`) are not normalised.
        pretrained: ``None`` for random weights; a local file (a state dict or a timm/PyTorch checkpoint
            with a ``state_dict``/``model`` entry); or ``"hub"`` for timm's published weights (downloads:
            never used by ``conf/base`` or tests). timm adapts the RGB stem to the channel count with
            ``adapt_input_conv`` and drops the classifier.
        freeze_stages: ``None`` trains the whole backbone; ``N >= 0`` freezes the stem and the first N
            stages (timm's coarse ``group_matcher`` groups: ResNet layers, ViT blocks), with their batch
            norms turned into frozen ones. The reference code trains only the last ResNet stage (3).
        normalize_eps: Guard added to the per-crop, per-channel standard deviation.
        intensity_scaling: ``"per_crop"`` standardises each channel of each crop (gain and offset removed,
            with them any absolute intensity phenotype); ``"fixed"`` keeps absolute intensities on one
            log scale for all crops (technical gain reaches the network, which must learn to ignore it);
            ``"plate_control"`` expects crops already scaled against their plate's DMSO crops
            (``micon.imaging.intensity``, applied by the training and embedding code) and only applies
            ``asinh``, so intensities relative to the plate's controls reach the network.
    """

    backbone: str
    embedding_dim: int
    channel_strategy: ChannelStrategy
    l2_normalize: bool
    pretrained: str | None
    freeze_stages: int | None
    normalize_eps: float
    intensity_scaling: IntensityScaling

    def __post_init__(self) -> None:
        if not timm.is_model(self.backbone):
            raise InvalidConfigError(
                f"image backbone {self.backbone!r} is not a timm model; pick a name from timm.list_models()"
            )
        if self.embedding_dim < 1:
            raise InvalidConfigError(f"embedding_dim must be >= 1, got {self.embedding_dim}")
        if self.channel_strategy not in _CHANNEL_STRATEGIES:
            raise InvalidConfigError(
                f"channel_strategy must be one of {_CHANNEL_STRATEGIES}, got {self.channel_strategy!r}"
            )
        if self.freeze_stages is not None and self.freeze_stages < 0:
            raise InvalidConfigError(f"freeze_stages must be None or >= 0, got {self.freeze_stages}")
        if self.normalize_eps <= 0:
            raise InvalidConfigError(f"normalize_eps must be > 0, got {self.normalize_eps}")
        if self.intensity_scaling not in INTENSITY_SCALINGS:
            raise InvalidConfigError(
                f"intensity_scaling must be one of {INTENSITY_SCALINGS}, got {self.intensity_scaling!r}"
            )
        if self.pretrained not in (None, PRETRAINED_HUB) and not Path(self.pretrained).is_file():
            raise InvalidConfigError(
                f"pretrained {self.pretrained!r} is neither {PRETRAINED_HUB!r} nor an existing file"
            )

    def channel_dim(self, in_channels: int) -> int:
        """Return the size of one channel's embedding (per_channel) or of the whole embedding (joint).

        Raises:
            InvalidConfigError: ``per_channel`` and ``embedding_dim`` is not a positive multiple of the
                channel count (every method is evaluated at the same D, so nothing is rounded away).
        """
        if self.channel_strategy != "per_channel":
            return self.embedding_dim
        if self.embedding_dim < in_channels or self.embedding_dim % in_channels:
            raise InvalidConfigError(
                f"per_channel needs embedding_dim ({self.embedding_dim}) to be a multiple of the "
                f"{in_channels} channels (e.g. 120 for 3, 4 or 5 channels)"
            )
        return self.embedding_dim // in_channels

    def token_dim(self, in_channels: int) -> int:
        """Return the width of one channel token (:meth:`ImageEncoder.channel_tokens`): ``D / C``.

        Raises:
            InvalidConfigError: ``embedding_dim`` is not a positive multiple of ``in_channels``.
        """
        if self.embedding_dim < in_channels or self.embedding_dim % in_channels:
            raise InvalidConfigError(
                f"channel tokens need embedding_dim ({self.embedding_dim}) to be a multiple of the "
                f"{in_channels} channels (e.g. 120 for 3, 4 or 5 channels)"
            )
        return self.embedding_dim // in_channels

    def output_dim(self, in_channels: int) -> int:
        """Return the size of the encoder's output for crops of ``in_channels`` channels (D)."""
        self.channel_dim(in_channels)  # per_channel: D must split evenly
        return self.embedding_dim


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

    With ``channel_strategy="joint"`` one backbone sees all channels at once. With ``"per_channel"`` the
    C channels of each crop are stacked into the batch as C one-channel images, passed through the same
    backbone and the same linear layer to D / C, and the C outputs concatenated in channel order, as in
    the MICON reference code (which repeats each channel to RGB instead of adapting the stem).

    Args:
        config: Backbone name, strategy, embedding size, weights and frozen stages.
        in_channels: Channels C of a crop (the crop store's channel names, counted).

    Raises:
        InvalidConfigError: A local ``pretrained`` file does not fit the backbone, or ``freeze_stages``
            exceeds the backbone's stages.

    Shapes:
        - input: :math:`(B, C, S, S)` raw intensities (uint16 or float).
        - output: :math:`(B, D)` float32, ``D = config.output_dim(in_channels)``.
    """

    def __init__(self, config: ImageEncoderConfig, *, in_channels: int) -> None:
        super().__init__()
        if in_channels < 1:
            raise InvalidConfigError(f"in_channels must be >= 1, got {in_channels}")
        self.config = config
        self.in_channels = in_channels
        self.normalizer = CropNormalizer(eps=config.normalize_eps, scaling=config.intensity_scaling)
        stem_channels = 1 if config.channel_strategy == "per_channel" else in_channels
        self.backbone = _create_backbone(config, in_chans=stem_channels)
        if config.freeze_stages is not None:
            _freeze_stages(self.backbone, config.freeze_stages)
        self.embedding = nn.Linear(self.backbone.num_features, config.channel_dim(in_channels))

    @property
    def embedding_dim(self) -> int:
        """Return D, the size of the embedding."""
        return self.config.output_dim(self.in_channels)

    def forward(self, images: Tensor) -> Tensor:
        """Return the embedding of each crop (see class Shapes), L2-normalised with ``l2_normalize``."""
        if self.config.channel_strategy == "per_channel":
            out = self.encode_channels(images).flatten(1)
        else:
            self._check(images)
            out = self.embedding(self.backbone(self.normalizer(images)))
        return F.normalize(out, dim=1) if self.config.l2_normalize else out

    def channel_tokens(self, images: Tensor) -> Tensor:
        """Return C tokens per crop for a channel transformer (CellCLIP's CrossChannelFormer).

        ``per_channel``: each channel's own embedding (:meth:`encode_channels`). ``joint``: the joint
        embedding cut into C equal slices, which carry no per-channel meaning (an ablation that lets the
        channel former run on the joint stem). Never L2-normalised.

        Shapes:
            - images: :math:`(B, C, S, S)`; output: :math:`(B, C, D / C)` float32.
        """
        if self.config.channel_strategy == "per_channel":
            return self.encode_channels(images)
        self._check(images)
        width = self.config.token_dim(self.in_channels)
        return self.embedding(self.backbone(self.normalizer(images))).reshape(images.shape[0], -1, width)

    def encode(self, images: Tensor) -> Tensor:
        """Return the embedding used for evaluation: the encoder output, before any projection head."""
        return self.forward(images)

    def encode_channels(self, images: Tensor) -> Tensor:
        """Return one embedding per channel, the tokens of a channel transformer (per_channel only).

        Raises:
            InvalidConfigError: The encoder is ``joint`` (it has no per-channel embeddings).

        Shapes:
            - images: :math:`(B, C, S, S)`; output: :math:`(B, C, D / C)` float32.
        """
        if self.config.channel_strategy != "per_channel":
            raise InvalidConfigError("encode_channels needs channel_strategy='per_channel'")
        self._check(images)
        b, c, h, w = images.shape
        # Channels become batch items of one 1-channel backbone pass (shared weights, one forward).
        single = self.normalizer(images).reshape(b * c, 1, h, w)
        return self.embedding(self.backbone(single)).reshape(b, c, -1)

    def _check(self, images: Tensor) -> None:
        if images.ndim != 4 or images.shape[1] != self.in_channels:
            raise InvalidImageError(
                f"expected crops of shape (B, {self.in_channels}, S, S), got {tuple(images.shape)}"
            )


def _create_backbone(config: ImageEncoderConfig, *, in_chans: int) -> nn.Module:
    """Return the timm backbone without classifier, with the weights ``config.pretrained`` names.

    timm loads a local file through ``pretrained_cfg_overlay={"file": ...}``: the same code path as its
    hub weights, which adapts the stem with ``adapt_input_conv`` and drops a classifier of another size.
    """
    kwargs: dict = {"in_chans": in_chans, "num_classes": 0}
    if config.pretrained is None:
        return timm.create_model(config.backbone, pretrained=False, **kwargs)
    if config.pretrained == PRETRAINED_HUB:
        logger.info("loading timm's published weights of %s (network access)", config.backbone)
        return timm.create_model(config.backbone, pretrained=True, **kwargs)
    try:
        backbone = timm.create_model(
            config.backbone, pretrained=True, pretrained_cfg_overlay={"file": config.pretrained}, **kwargs
        )
    except RuntimeError as exc:
        raise InvalidConfigError(
            f"pretrained file {config.pretrained!r} does not fit backbone {config.backbone!r}: {exc}"
        ) from exc
    # Without a classifier timm loads non-strictly; a file of another architecture would load nothing.
    stored = load_state_dict(config.pretrained)
    missing = [k for k in backbone.state_dict() if k not in stored and not k.endswith("num_batches_tracked")]
    if missing:
        raise InvalidConfigError(
            f"pretrained file {config.pretrained!r} lacks {len(missing)} weights of backbone "
            f"{config.backbone!r} (e.g. {missing[:3]}); is it a checkpoint of that architecture?"
        )
    logger.info("loaded backbone weights of %s from %s", config.backbone, config.pretrained)
    return backbone


def _freeze_stages(backbone: nn.Module, n_stages: int) -> None:
    """Freeze the stem and the first ``n_stages`` stages of a timm backbone (timm's coarse groups).

    Group 0 of ``group_matcher(coarse=True)`` is the stem, groups 1.. the stages; the modules of the
    frozen groups go through ``timm.utils.freeze`` (no gradients, batch norms frozen), and their loose
    parameters (a ViT's position embedding, class token) get ``requires_grad=False``.
    """
    if not hasattr(backbone, "group_matcher"):
        raise InvalidConfigError(f"{type(backbone).__name__} has no group_matcher; set freeze_stages: null")
    matcher = backbone.group_matcher(coarse=True)
    module_groups = group_modules(backbone, matcher)
    param_groups = group_parameters(backbone, matcher)
    ordinals = sorted(param_groups)
    # At least the last group (the last stage, or a ViT's final norm) stays trainable.
    if n_stages + 1 > len(ordinals) - 1:
        raise InvalidConfigError(
            f"freeze_stages={n_stages} would leave no trainable stage of {type(backbone).__name__}; "
            f"it allows at most {len(ordinals) - 2}"
        )
    frozen = ordinals[: n_stages + 1]
    freeze(backbone, [name for k in frozen for name in module_groups.get(k, [])])
    frozen_params = {name for k in frozen for name in param_groups[k]}
    for name, param in backbone.named_parameters():
        if name in frozen_params:
            param.requires_grad_(False)
