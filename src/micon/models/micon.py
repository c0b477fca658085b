"""The networks of MICON and its peers (one class, parts by method) and their checkpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import Tensor, nn

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.channel_former import ChannelFormerConfig, CrossChannelFormer
from micon.models.heads import ProjectionHead, TreatmentGenerator
from micon.models.image_encoder import ImageEncoder, ImageEncoderConfig
from micon.models.molecule_encoder import MoleculeEncoderConfig, build_molecule_encoder

__all__ = [
    "CHECKPOINT_METHODS",
    "TRAINED_METHODS",
    "MiconModel",
    "MiconModelConfig",
    "build_model",
    "load_model",
    "make_checkpoint",
    "merge_params",
]

Architecture = Literal["micon", "paclr", "clip", "cellclip", "simclr"]
TRAINED_METHODS: tuple[str, ...] = ("micon", "paclr", "clip", "cellclip", "simclr")
CHECKPOINT_METHODS: tuple[str, ...] = (*TRAINED_METHODS, "untrained")
_WITH_MOLECULES: frozenset[str] = frozenset({"micon", "clip", "cellclip"})
_ALIGNED: frozenset[str] = frozenset({"clip", "cellclip"})


@dataclass(frozen=True, kw_only=True)
class MiconModelConfig:
    """Architecture of :class:`MiconModel`; everything needed to rebuild it from a checkpoint.

    Attributes:
        architecture: Which networks the model holds (see :class:`MiconModel`): the method it is trained
            by; an untrained baseline keeps the default.
        image: Image encoder settings (embedding size D).
        molecule: Molecule encoder settings (embedding size M).
        channel_former: CrossChannelFormer settings (``cellclip`` only).
        projection_hidden_dim: Hidden width of the projection heads.
        projection_dim: Output size P of the heads, the space the losses compare.
        generator_hidden_dim: Hidden width of the treatment generator G (``micon`` only).
    """

    architecture: Architecture = "micon"
    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    molecule: MoleculeEncoderConfig = field(default_factory=MoleculeEncoderConfig)
    channel_former: ChannelFormerConfig = field(default_factory=ChannelFormerConfig)
    projection_hidden_dim: int = 256
    projection_dim: int = 128
    generator_hidden_dim: int = 256

    def __post_init__(self) -> None:
        if self.architecture not in TRAINED_METHODS:
            raise InvalidConfigError(
                f"architecture must be one of {TRAINED_METHODS}, got {self.architecture!r}"
            )
        for name in ("projection_hidden_dim", "projection_dim", "generator_hidden_dim"):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not (
            isinstance(self.image, ImageEncoderConfig)
            and isinstance(self.molecule, MoleculeEncoderConfig)
            and isinstance(self.channel_former, ChannelFormerConfig)
        ):
            raise InvalidConfigError(
                "image, molecule and channel_former must be their config classes; "
                "build from plain dicts with MiconModelConfig.from_dict"
            )
        if self.architecture == "cellclip" and self.image.channel_strategy != "per_channel":
            raise InvalidConfigError(
                "cellclip feeds per-channel tokens to its CrossChannelFormer; set image.channel_strategy: "
                "per_channel"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MiconModelConfig:
        """Build the config from plain (e.g. YAML) values; nested sections are dicts.

        Raises:
            TypeError: A key is unknown (named by the dataclass constructor).
        """
        values = dict(values)
        image = ImageEncoderConfig(**dict(values.pop("image", {})))
        molecule = MoleculeEncoderConfig(**dict(values.pop("molecule", {})))
        channel_former = ChannelFormerConfig(**dict(values.pop("channel_former", {})))
        return cls(image=image, molecule=molecule, channel_former=channel_former, **values)

    def to_dict(self) -> dict[str, Any]:
        """Return plain values (JSON-able, loadable with ``torch.load(weights_only=True)``)."""
        return dataclasses.asdict(self)

    @property
    def embedding_dim(self) -> int:
        """Return the size of the evaluated embedding (the CLS width for cellclip, else D)."""
        return self.channel_former.dim if self.architecture == "cellclip" else self.image.embedding_dim


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
    """Hold the networks of one method; its training objective lives in ``micon.training.objectives``.

    Every architecture has ``image_encoder`` and ``projection_head``; the others exist only where the
    method uses them (``None`` otherwise): ``molecule_encoder`` (micon, clip, cellclip),
    ``generator`` (micon), ``molecule_projection`` (clip, cellclip) and ``channel_former`` (cellclip).

    Args:
        config: The architecture.

    Attributes:
        image_encoder: e, crops ``(B, C, S, S)`` -> ``(B, D)``.
        projection_head: g, ``(N, E)`` -> ``(N, P)`` with E the evaluated embedding size.
        molecule_encoder: m, molecule features of G compounds -> ``(G, M)``.
        generator: G, ``(B, D)`` control and ``(B, M)`` molecule -> ``(B, D)``.
        molecule_projection: ``(G, M)`` -> ``(G, P)``.
        channel_former: per-channel tokens ``(B, C, D / C)`` -> ``(B, E)``.
    """

    def __init__(self, config: MiconModelConfig) -> None:
        super().__init__()
        self.config = config
        arch = config.architecture
        self.image_encoder = ImageEncoder(config.image)
        self.channel_former = (
            CrossChannelFormer(config.image.channel_dim, config.image.in_channels, config.channel_former)
            if arch == "cellclip"
            else None
        )
        self.projection_head = ProjectionHead(
            config.embedding_dim, config.projection_hidden_dim, config.projection_dim
        )
        self.molecule_encoder = build_molecule_encoder(config.molecule) if arch in _WITH_MOLECULES else None
        self.generator = (
            TreatmentGenerator(
                config.image.embedding_dim, config.molecule.out_dim, config.generator_hidden_dim
            )
            if arch == "micon"
            else None
        )
        self.molecule_projection = (
            ProjectionHead(config.molecule.out_dim, config.projection_hidden_dim, config.projection_dim)
            if arch in _ALIGNED
            else None
        )

    @property
    def embedding_dim(self) -> int:
        """Return the size of the evaluated image embedding."""
        return self.config.embedding_dim

    def embed(self, images: Tensor) -> Tensor:
        """Return the evaluated embedding of crops: the encoder output before any projection head.

        For cellclip this is the CrossChannelFormer's CLS output, the image embedding CellCLIP aligns
        and evaluates; for every other method the image encoder's output.

        Shapes:
            - images: :math:`(B, C, S, S)`; output: :math:`(B, E)`.
        """
        if self.channel_former is not None:
            return self.channel_former(self.image_encoder.encode_channels(images))
        return self.image_encoder(images)


def build_model(config: MiconModelConfig) -> MiconModel:
    """Return a randomly initialised :class:`MiconModel` (seed torch beforehand for a fixed init)."""
    return MiconModel(config)


def make_checkpoint(model: MiconModel, *, method: str) -> dict[str, Any]:
    """Return the checkpoint dict of ``model``: ``{"method", "config", "state_dict"}`` (CPU tensors).

    Raises:
        InvalidInputError: ``method`` is not one of :data:`CHECKPOINT_METHODS`, or a trained method's
            name differs from the model's architecture.
    """
    if method not in CHECKPOINT_METHODS:
        raise InvalidInputError(f"checkpoint method must be one of {CHECKPOINT_METHODS}, got {method!r}")
    if method != "untrained" and method != model.config.architecture:
        raise InvalidInputError(
            f"checkpoint method {method!r} differs from the model's architecture "
            f"{model.config.architecture!r}"
        )
    state_dict = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    return {"method": method, "config": model.config.to_dict(), "state_dict": state_dict}


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
