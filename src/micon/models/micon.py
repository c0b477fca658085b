"""The networks of MICON and its peers (one class holding the parts a config lists) and their checkpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from torch import Tensor, nn

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.channel_former import ChannelFormerConfig, CrossChannelFormer
from micon.models.frozen_features import FrozenChannelFeatures, FrozenFeaturesConfig
from micon.models.heads import LogitScale, ProjectionHead, TreatmentGenerator
from micon.models.image_encoder import ImageEncoder, ImageEncoderConfig
from micon.models.molecule_encoder import MoleculeEncoderConfig, build_molecule_encoder

__all__ = [
    "EMBEDDINGS",
    "MODEL_PARTS",
    "Embedding",
    "MiconModel",
    "MiconModelConfig",
    "ModelPart",
    "NetworkConfig",
    "build_model",
    "load_model",
    "merge_params",
    "model_state",
]

ModelPart = Literal[
    "molecule_encoder", "generator", "molecule_projection", "channel_former", "logit_scale", "frozen_features"
]
MODEL_PARTS: tuple[str, ...] = ModelPart.__args__
"""The optional networks of :class:`MiconModel` (``image_encoder`` and ``projection_head`` always exist)."""
Embedding = Literal["image_encoder", "channel_former"]
EMBEDDINGS: tuple[str, ...] = Embedding.__args__
"""Which network's output :meth:`MiconModel.embed` returns."""
# A part that feeds on another's output needs that part.
_NEEDS: dict[str, str] = {"generator": "molecule_encoder", "molecule_projection": "molecule_encoder"}


@dataclass(frozen=True, kw_only=True)
class NetworkConfig:
    """The networks' settings shared by every method: the parameters ``modeling.model`` (conf/base).

    Attributes:
        image: Image encoder settings (embedding size D).
        molecule: Molecule encoder settings (embedding size M).
        channel_former: CrossChannelFormer settings (used with the ``channel_former`` part).
        frozen_features: CellCLIP's frozen per-channel feature extractor (the ``frozen_features`` part).
        projection_hidden_dim: Hidden width of the projection heads.
        projection_dim: Output size P of the heads, the space the losses compare.
        generator_hidden_dim: Hidden width of the treatment generator G (used with the ``generator`` part).
    """

    image: ImageEncoderConfig
    molecule: MoleculeEncoderConfig
    channel_former: ChannelFormerConfig
    frozen_features: FrozenFeaturesConfig
    projection_hidden_dim: int
    projection_dim: int
    generator_hidden_dim: int

    def __post_init__(self) -> None:
        for name in ("projection_hidden_dim", "projection_dim", "generator_hidden_dim"):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (
            isinstance(self.image, ImageEncoderConfig)
            and isinstance(self.molecule, MoleculeEncoderConfig)
            and isinstance(self.channel_former, ChannelFormerConfig)
            and isinstance(self.frozen_features, FrozenFeaturesConfig)
        ):
            raise InvalidConfigError(
                "image, molecule, channel_former and frozen_features must be their config classes; "
                "build from plain dicts with MiconModelConfig.from_dict"
            )


@dataclass(frozen=True, kw_only=True)
class MiconModelConfig(NetworkConfig):
    """Architecture of :class:`MiconModel`; everything needed to rebuild it from a checkpoint.

    Every field is required: the networks' settings (:class:`NetworkConfig`) live in ``conf/base``
    (``modeling.model``), the channels come from the crop store, and ``parts`` and ``embedding`` from the
    method that trains the model (``micon.training.methods``).

    Attributes:
        channels: The crops' channel names, in order, as the crop store records them (the source
            profile's): the model's input channels, so a checkpoint refuses crops of other channels.
        parts: The optional networks the model holds, a subset of :data:`MODEL_PARTS` (see
            :class:`MiconModel`); ``generator`` and ``molecule_projection`` need ``molecule_encoder``.
        embedding: The evaluated embedding: ``"image_encoder"`` (the encoder output) or
            ``"channel_former"`` (the CrossChannelFormer's CLS output; needs that part). The channel
            former reads per-channel tokens with ``image.channel_strategy: per_channel``, slices of the
            joint embedding with ``joint``.
    """

    channels: tuple[str, ...]
    parts: tuple[ModelPart, ...]
    embedding: Embedding

    def __post_init__(self) -> None:
        super().__post_init__()
        # Lists from YAML or a checkpoint become tuples; parts sorted: one config per set of parts.
        object.__setattr__(self, "parts", tuple(sorted(set(self.parts), key=_part_order)))
        object.__setattr__(self, "channels", tuple(str(c) for c in self.channels))
        if not self.channels or len(set(self.channels)) != len(self.channels):
            raise InvalidConfigError(f"channels must be distinct and non-empty, got {self.channels}")
        unknown = [p for p in self.parts if p not in MODEL_PARTS]
        if unknown:
            raise InvalidConfigError(f"model parts {unknown} are unknown; known parts: {list(MODEL_PARTS)}")
        for part, needed in _NEEDS.items():
            if part in self.parts and needed not in self.parts:
                raise InvalidConfigError(f"model part {part!r} needs {needed!r} in parts, got {self.parts}")
        if self.embedding not in EMBEDDINGS:
            raise InvalidConfigError(f"embedding must be one of {EMBEDDINGS}, got {self.embedding!r}")
        if self.embedding == "channel_former" and "channel_former" not in self.parts:
            raise InvalidConfigError(
                f"embedding 'channel_former' needs the channel_former part, got parts {self.parts}"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MiconModelConfig:
        """Build the config from plain (e.g. YAML) values; nested sections are dicts.

        Raises:
            TypeError: A key is unknown or missing (named by the dataclass constructor).
        """
        values = dict(values)
        for key, section in _SECTIONS.items():
            if key in values:
                values[key] = section(**dict(values[key]))
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        """Return plain values (JSON-able, loadable with ``torch.load(weights_only=True)``)."""
        return dataclasses.asdict(self)

    @property
    def in_channels(self) -> int:
        """Return C, the number of input channels."""
        return len(self.channels)

    @property
    def embedding_dim(self) -> int:
        """Return the size of the evaluated embedding (the CLS width for cellclip, else D).

        Raises:
            InvalidConfigError: D does not split into the channels where it must (``per_channel``, or
                channel tokens of the channel former).
        """
        if "channel_former" in self.parts:
            self.image.token_dim(self.in_channels)
        image_dim = self.image.output_dim(self.in_channels)
        return self.channel_former.dim if self.embedding == "channel_former" else image_dim


_SECTIONS: dict[str, type] = {
    "image": ImageEncoderConfig,
    "molecule": MoleculeEncoderConfig,
    "channel_former": ChannelFormerConfig,
    "frozen_features": FrozenFeaturesConfig,
}


def _part_order(part: str) -> int:
    return MODEL_PARTS.index(part) if part in MODEL_PARTS else len(MODEL_PARTS)


def merge_params(base: Mapping[str, Any], overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return ``base`` with ``overrides`` merged in, nested mappings merged key by key (a new dict)."""
    merged = dict(base)
    for key, value in (overrides or {}).items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_params(merged[key], value)
        else:
            merged[key] = value
    return merged


class MiconModel(nn.Module):
    """Hold the networks of one method; which method needs which parts is ``micon.training.methods``'s.

    Every model has ``image_encoder`` and ``projection_head``; the others exist only where
    ``config.parts`` lists them (``None`` otherwise): ``molecule_encoder``, ``generator``,
    ``molecule_projection`` and ``channel_former``.

    Args:
        config: The architecture.

    Attributes:
        image_encoder: e, crops ``(B, C, S, S)`` -> ``(B, D)``.
        projection_head: g, ``(N, E)`` -> ``(N, P)`` with E the evaluated embedding size.
        molecule_encoder: m, molecule features of G compounds -> ``(G, M)``.
        generator: G, ``(B, D)`` control and ``(B, M)`` molecule -> ``(B, D)``.
        molecule_projection: ``(G, M)`` -> ``(G, P)``.
        channel_former: per-channel tokens ``(B, C, D / C)`` -> ``(B, E)``.
        logit_scale: a learnable (or fixed) inverse temperature of the alignment losses.
        frozen_features: CellCLIP's frozen per-channel feature extractor, ``(B, C, S, S)`` ->
            ``(B, C, F)``; never trained (its weights are in the checkpoint, drawn with its own seed).
    """

    def __init__(self, config: MiconModelConfig) -> None:
        super().__init__()
        self.config = config
        parts = config.parts
        # Built in this order, so that a seeded init of the image encoder does not depend on the parts.
        self.image_encoder = ImageEncoder(config.image, in_channels=config.in_channels)
        self.channel_former = (
            CrossChannelFormer(
                config.image.token_dim(config.in_channels), config.in_channels, config.channel_former
            )
            if "channel_former" in parts
            else None
        )
        self.projection_head = ProjectionHead(
            config.embedding_dim, config.projection_hidden_dim, config.projection_dim
        )
        self.molecule_encoder = (
            build_molecule_encoder(config.molecule) if "molecule_encoder" in parts else None
        )
        self.generator = (
            TreatmentGenerator(
                config.image.output_dim(config.in_channels),
                config.molecule.out_dim,
                config.generator_hidden_dim,
            )
            if "generator" in parts
            else None
        )
        self.molecule_projection = (
            ProjectionHead(config.molecule.out_dim, config.projection_hidden_dim, config.projection_dim)
            if "molecule_projection" in parts
            else None
        )
        self.logit_scale = LogitScale() if "logit_scale" in parts else None
        # Last, and from its own seed: building it never changes the other parts' initialisation.
        self.frozen_features = (
            FrozenChannelFeatures(config.frozen_features, image=config.image, in_channels=config.in_channels)
            if "frozen_features" in parts
            else None
        )

    @property
    def embedding_dim(self) -> int:
        """Return the size of the evaluated image embedding."""
        return self.config.embedding_dim

    def embed(self, images: Tensor) -> Tensor:
        """Return the evaluated embedding of crops: the encoder output before any projection head.

        With ``config.embedding == "channel_former"`` this is the CrossChannelFormer's CLS output (the
        image embedding CellCLIP aligns and evaluates), else the image encoder's output.

        Shapes:
            - images: :math:`(B, C, S, S)`; output: :math:`(B, E)`.
        """
        if self.config.embedding == "channel_former":
            return self.channel_former(self.image_encoder.channel_tokens(images))
        return self.image_encoder(images)


def build_model(config: MiconModelConfig) -> MiconModel:
    """Return a randomly initialised :class:`MiconModel` (seed torch beforehand for a fixed init)."""
    return MiconModel(config)


def model_state(model: MiconModel) -> dict[str, Any]:
    """Return ``{"config", "state_dict"}`` of ``model``: plain values and CPU tensors.

    A checkpoint adds the method's name (``micon.training.methods.make_checkpoint``); both load with
    ``torch.load(weights_only=True)``.
    """
    state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"config": model.config.to_dict(), "state_dict": state_dict}


def load_model(checkpoint: Mapping[str, Any]) -> MiconModel:
    """Rebuild a :class:`MiconModel` from a checkpoint dict (as from ``torch.load(weights_only=True)``).

    The model is returned in eval mode on the CPU.

    Raises:
        InvalidInputError: ``checkpoint`` lacks ``config`` or ``state_dict``, or the weights do not fit
            the architecture the config describes.
    """
    missing = [k for k in ("config", "state_dict") if k not in checkpoint]
    if missing:
        raise InvalidInputError(f"checkpoint lacks {missing}; expected keys 'method', 'config', 'state_dict'")
    config = MiconModelConfig.from_dict(checkpoint["config"])
    model = build_model(config)
    try:
        model.load_state_dict(checkpoint["state_dict"], strict=True)
    except RuntimeError as exc:
        raise InvalidInputError(f"checkpoint weights do not fit its config {checkpoint['config']}") from exc
    return model.eval()
