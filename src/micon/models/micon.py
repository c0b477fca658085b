"""The MICON model (image and molecule encoders, projection head, treatment generator) and its checkpoints."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from torch import nn

from micon.errors import InvalidConfigError, InvalidInputError
from micon.models.heads import ProjectionHead, TreatmentGenerator
from micon.models.image_encoder import ImageEncoder, ImageEncoderConfig
from micon.models.molecule_encoder import GraphMoleculeEncoder, MoleculeEncoderConfig

__all__ = [
    "CHECKPOINT_METHODS",
    "MiconModel",
    "MiconModelConfig",
    "build_model",
    "load_model",
    "make_checkpoint",
]

CheckpointMethod = Literal["micon", "untrained"]
CHECKPOINT_METHODS: tuple[str, ...] = ("micon", "untrained")


@dataclass(frozen=True, kw_only=True)
class MiconModelConfig:
    """Architecture of :class:`MiconModel`; everything needed to rebuild it from a checkpoint.

    Attributes:
        image: Image encoder settings (embedding size D).
        molecule: Molecule encoder settings (embedding size M).
        projection_hidden_dim: Hidden width of the projection head g.
        projection_dim: Output size P of g, the space the losses compare.
        generator_hidden_dim: Hidden width of the treatment generator G.
    """

    image: ImageEncoderConfig = field(default_factory=ImageEncoderConfig)
    molecule: MoleculeEncoderConfig = field(default_factory=MoleculeEncoderConfig)
    projection_hidden_dim: int = 256
    projection_dim: int = 128
    generator_hidden_dim: int = 256

    def __post_init__(self) -> None:
        for name in ("projection_hidden_dim", "projection_dim", "generator_hidden_dim"):
            if getattr(self, name) < 1:
                raise InvalidConfigError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not isinstance(self.image, ImageEncoderConfig) or not isinstance(
            self.molecule, MoleculeEncoderConfig
        ):
            raise InvalidConfigError(
                "image and molecule must be ImageEncoderConfig and MoleculeEncoderConfig; "
                "build from plain dicts with MiconModelConfig.from_dict"
            )

    @classmethod
    def from_dict(cls, values: Mapping[str, Any]) -> MiconModelConfig:
        """Build the config from plain (e.g. YAML) values; nested ``image``/``molecule`` are dicts.

        Raises:
            TypeError: A key is unknown (named by the dataclass constructor).
        """
        values = dict(values)
        image = ImageEncoderConfig(**dict(values.pop("image", {})))
        molecule = MoleculeEncoderConfig(**dict(values.pop("molecule", {})))
        return cls(image=image, molecule=molecule, **values)

    def to_dict(self) -> dict[str, Any]:
        """Return plain values (JSON-able, loadable with ``torch.load(weights_only=True)``)."""
        return dataclasses.asdict(self)


class MiconModel(nn.Module):
    """Hold the four networks of MICON; the training objective lives in ``micon.training.module``.

    Args:
        config: The architecture.

    Attributes:
        image_encoder: e, crops ``(B, C, S, S)`` -> ``(B, D)``; its output is the evaluated embedding.
        molecule_encoder: m, a PyG ``Batch`` of G graphs -> ``(G, M)``.
        projection_head: g, ``(N, D)`` -> ``(N, P)``.
        generator: G, ``(B, D)`` control and ``(B, M)`` molecule -> ``(B, D)``.
    """

    def __init__(self, config: MiconModelConfig) -> None:
        super().__init__()
        self.config = config
        self.image_encoder = ImageEncoder(config.image)
        self.molecule_encoder = GraphMoleculeEncoder(config.molecule)
        self.projection_head = ProjectionHead(
            config.image.embedding_dim, config.projection_hidden_dim, config.projection_dim
        )
        self.generator = TreatmentGenerator(
            config.image.embedding_dim, config.molecule.out_dim, config.generator_hidden_dim
        )

    @property
    def embedding_dim(self) -> int:
        """Return D, the size of the evaluated image embedding."""
        return self.config.image.embedding_dim


def build_model(config: MiconModelConfig) -> MiconModel:
    """Return a randomly initialised :class:`MiconModel` (seed torch beforehand for a fixed init)."""
    return MiconModel(config)


def make_checkpoint(model: MiconModel, *, method: CheckpointMethod) -> dict[str, Any]:
    """Return the checkpoint dict of ``model``: ``{"method", "config", "state_dict"}`` (CPU tensors).

    Raises:
        InvalidInputError: ``method`` is not one of :data:`CHECKPOINT_METHODS`.
    """
    if method not in CHECKPOINT_METHODS:
        raise InvalidInputError(f"checkpoint method must be one of {CHECKPOINT_METHODS}, got {method!r}")
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
