"""The training objective of each method (MICON, PaCLR, CLIP/CLOOME, CellCLIP, SimCLR) on sampler batches."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from micon.errors import InvalidConfigError
from micon.models.alignment_losses import cloob_loss, cwcl_loss, info_nce_loss
from micon.models.losses import counterfactual_loss, nt_xent_loss, paclr_loss
from micon.models.micon import TRAINED_METHODS, MiconModel
from micon.training.augment import AugmentationConfig, augment_images

__all__ = [
    "CellclipObjectiveConfig",
    "ClipObjectiveConfig",
    "MiconObjectiveConfig",
    "Objective",
    "ObjectiveConfig",
    "PaclrObjectiveConfig",
    "SimclrObjectiveConfig",
    "build_objective_config",
    "compute_losses",
]

TrainingBatch = Mapping[str, Any]
Augment = Callable[[Tensor], Tensor]


def _check_positive(**values: float) -> None:
    bad = {k: v for k, v in values.items() if v <= 0}
    if bad:
        raise InvalidConfigError(f"these objective settings must be > 0: {bad}")


@dataclass(frozen=True, kw_only=True)
class MiconObjectiveConfig:
    r"""MICON: :math:`w_p \mathcal{L}_{PaCLR} + \lambda \tfrac12(\mathcal{L}^1_{cf} + \mathcal{L}^2_{cf})`.

    Attributes:
        paclr_weight: :math:`w_p`, weight of PaCLR.
        cf_weight: :math:`\lambda`, weight of the counterfactual loss (0 skips it and the generator).
        paclr_temperature: SupCon temperature of PaCLR (the reference code ships 1.0; sweep 0.05-1.0).
        cf_temperature: SupCon temperature of the counterfactual loss.
        detach_control: Stop the gradient of the control embedding fed to the generator.
        detach_treated: Stop the gradient of the real treated embedding in the counterfactual loss.
    """

    paclr_weight: float = 1.0
    cf_weight: float = 1.0
    paclr_temperature: float = 0.1
    cf_temperature: float = 0.1
    detach_control: bool = True
    detach_treated: bool = True

    def __post_init__(self) -> None:
        _check_positive(paclr_temperature=self.paclr_temperature, cf_temperature=self.cf_temperature)
        if self.paclr_weight < 0 or self.cf_weight < 0:
            raise InvalidConfigError(
                f"paclr_weight and cf_weight must be >= 0, got {self.paclr_weight} and {self.cf_weight}"
            )


@dataclass(frozen=True, kw_only=True)
class PaclrObjectiveConfig:
    """PaCLR alone: MICON without molecule encoder and generator.

    Attributes:
        temperature: SupCon temperature.
    """

    temperature: float = 0.1

    def __post_init__(self) -> None:
        _check_positive(temperature=self.temperature)


@dataclass(frozen=True, kw_only=True)
class ClipObjectiveConfig:
    r"""CLIP / CLOOME image-molecule alignment of the treated crops.

    Attributes:
        loss: ``"infonce"`` (CLIP) or ``"cloob"`` (CLOOME).
        temperature: InfoNCE temperature; CLOOB uses ``inv_tau = 1 / temperature`` (CLOOME: 1/30).
        hopfield_scale: CLOOB's Hopfield :math:`\beta` (CLOOME: 14.3); unused by InfoNCE.
    """

    loss: Literal["infonce", "cloob"] = "infonce"
    temperature: float = 0.1
    hopfield_scale: float = 14.3

    def __post_init__(self) -> None:
        if self.loss not in ("infonce", "cloob"):
            raise InvalidConfigError(f"clip loss must be 'infonce' or 'cloob', got {self.loss!r}")
        _check_positive(temperature=self.temperature, hopfield_scale=self.hopfield_scale)


@dataclass(frozen=True, kw_only=True)
class CellclipObjectiveConfig:
    """CellCLIP: CWCL image -> molecule (weights: Tanimoto similarity of the batch's compounds) + CLIP back.

    Attributes:
        temperature: Temperature of both directions.
    """

    temperature: float = 0.1

    def __post_init__(self) -> None:
        _check_positive(temperature=self.temperature)


@dataclass(frozen=True, kw_only=True)
class SimclrObjectiveConfig:
    """SimCLR: NT-Xent between two augmentations of each treated crop.

    Attributes:
        temperature: NT-Xent temperature.
        augmentation: Fields of :class:`~micon.training.augment.AugmentationConfig` that replace the
            shared augmentation for SimCLR's two views (its only source of positives).
    """

    temperature: float = 0.1
    augmentation: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        _check_positive(temperature=self.temperature)
        object.__setattr__(self, "augmentation", dict(self.augmentation))


ObjectiveConfig = (
    MiconObjectiveConfig
    | PaclrObjectiveConfig
    | ClipObjectiveConfig
    | CellclipObjectiveConfig
    | SimclrObjectiveConfig
)
_CONFIGS: dict[str, type] = {
    "micon": MiconObjectiveConfig,
    "paclr": PaclrObjectiveConfig,
    "clip": ClipObjectiveConfig,
    "cellclip": CellclipObjectiveConfig,
    "simclr": SimclrObjectiveConfig,
}
_PARTS: dict[str, tuple[str, ...]] = {
    "micon": ("paclr", "cf"),
    "paclr": (),
    "clip": (),
    "cellclip": ("cwcl", "clip"),
    "simclr": (),
}


def build_objective_config(method: str, params: Mapping[str, Any] | None = None) -> ObjectiveConfig:
    """Return the objective config of ``method`` from plain (YAML) values.

    Raises:
        InvalidConfigError: ``method`` is not a trained method.
        TypeError: A key is unknown (named by the dataclass constructor).
    """
    if method not in _CONFIGS:
        raise InvalidConfigError(f"method must be one of {TRAINED_METHODS}, got {method!r}")
    return _CONFIGS[method](**dict(params or {}))


class Objective:
    """Compute one method's losses on a sampler batch, augmenting the crops it uses on their device.

    Args:
        config: The method's objective config (its type names the method).
        augmentation: The shared augmentation of training crops.
    """

    def __init__(self, config: ObjectiveConfig, *, augmentation: AugmentationConfig) -> None:
        self.config = config
        self.method = next(m for m, cls in _CONFIGS.items() if isinstance(config, cls))
        self.augmentation = augmentation
        if isinstance(config, SimclrObjectiveConfig):
            self.augmentation = dataclasses.replace(augmentation, **config.augmentation)

    @property
    def parts(self) -> tuple[str, ...]:
        """Return the names of the loss parts logged besides ``loss``."""
        return _PARTS[self.method]

    def __call__(
        self,
        model: MiconModel,
        batch: TrainingBatch,
        *,
        augment: bool = True,
        generator: torch.Generator | None = None,
    ) -> dict[str, Tensor]:
        """Return ``{"loss", *parts}`` for one batch (see :func:`compute_losses`)."""
        return compute_losses(
            model,
            batch,
            self.config,
            augmentation=self.augmentation if augment else None,
            generator=generator,
        )


def compute_losses(
    model: MiconModel,
    batch: TrainingBatch,
    config: ObjectiveConfig,
    *,
    augmentation: AugmentationConfig | None,
    generator: torch.Generator | None = None,
) -> dict[str, Tensor]:
    """Return the total ``loss`` and its logged parts for one training batch.

    Args:
        model: The networks of the method (its architecture matches ``config``).
        batch: A training batch of :class:`~micon.training.data.MiconDataModule`.
        config: The method's objective config.
        augmentation: Augmentation of the crops used (``None``: none; SimCLR needs one).
        generator: Generator of the augmentation draws on the crops' device (None: torch's global RNG);
            seeded per step by the LightningModule so that a resumed run augments as the uninterrupted one.

    Returns:
        ``loss`` and the method's parts (:attr:`Objective.parts`), scalar tensors.
    """

    def aug(images: Tensor) -> Tensor:
        if augmentation is None:
            return images
        return augment_images(images, config=augmentation, generator=generator)

    if isinstance(config, MiconObjectiveConfig):
        return _micon_losses(model, batch, config, aug)
    if isinstance(config, PaclrObjectiveConfig):
        images = torch.cat([aug(batch[k]) for k in ("treated_1", "treated_2", "control_1", "control_2")])
        projections = model.projection_head(model.image_encoder(images))
        return {"loss": _paclr(projections, batch, config.temperature)}
    if isinstance(config, SimclrObjectiveConfig):
        crops = torch.cat([batch["treated_1"], batch["treated_2"]])
        if augmentation is None:
            raise InvalidConfigError("SimCLR needs an augmentation: its positives are two augmented views")
        views = torch.cat([aug(crops), aug(crops)])
        projections = model.projection_head(model.image_encoder(views))
        return {"loss": nt_xent_loss(*projections.chunk(2), temperature=config.temperature)}
    return _alignment_losses(model, batch, config, aug)


def _paclr(projections: Tensor, batch: TrainingBatch, temperature: float) -> Tensor:
    return paclr_loss(
        *projections.chunk(4),
        batch["compound_labels"],
        batch["control_labels_1"],
        batch["control_labels_2"],
        temperature=temperature,
    )


def _micon_losses(
    model: MiconModel, batch: TrainingBatch, config: MiconObjectiveConfig, aug: Augment
) -> dict[str, Tensor]:
    """PaCLR over the 4B crops (one batched encoder forward) plus the counterfactual loss per view."""
    labels = batch["compound_labels"]
    images = torch.cat([aug(batch[k]) for k in ("treated_1", "treated_2", "control_1", "control_2")])
    embeddings = model.image_encoder(images)  # (4B, D)
    paclr = _paclr(model.projection_head(embeddings), batch, config.paclr_temperature)
    cf = paclr.new_zeros(())
    if config.cf_weight > 0:
        treated_1, treated_2, control_1, control_2 = embeddings.chunk(4)
        molecules = model.molecule_encoder(batch["molecules"])[batch["molecule_index"]]  # (B, M)
        treated = torch.cat([treated_1, treated_2])
        control = torch.cat([control_1, control_2])
        # Stop-gradients of the reference code: L_cf trains G, the molecule encoder and g, not e.
        if config.detach_treated:
            treated = treated.detach()
        if config.detach_control:
            control = control.detach()
        generated = model.generator(control, molecules.repeat(2, 1))
        real_proj = model.projection_head(treated).chunk(2)
        generated_proj = model.projection_head(generated).chunk(2)
        cf = torch.stack(
            [
                counterfactual_loss(
                    real_proj[v], generated_proj[v], labels, temperature=config.cf_temperature
                )
                for v in range(2)
            ]
        ).mean()
    return {"loss": config.paclr_weight * paclr + config.cf_weight * cf, "paclr": paclr, "cf": cf}


def _alignment_losses(
    model: MiconModel,
    batch: TrainingBatch,
    config: ClipObjectiveConfig | CellclipObjectiveConfig,
    aug: Augment,
) -> dict[str, Tensor]:
    """Align the two treated crops of each row with their compound's molecule embedding."""
    images = torch.cat([aug(batch["treated_1"]), aug(batch["treated_2"])])  # (2B, C, S, S)
    image_proj = model.projection_head(model.embed(images))
    molecule_proj = model.molecule_projection(model.molecule_encoder(batch["molecules"]))  # (G, P)
    rows = batch["molecule_index"].repeat(2)  # (2B,) row -> compound of the batch
    molecule_rows = molecule_proj[rows]
    if isinstance(config, ClipObjectiveConfig):
        if config.loss == "cloob":
            loss = cloob_loss(
                image_proj,
                molecule_rows,
                rows,
                inv_tau=1.0 / config.temperature,
                hopfield_scale=config.hopfield_scale,
            )
        else:
            loss = info_nce_loss(image_proj, molecule_rows, rows, temperature=config.temperature)
        return {"loss": loss}
    similarity = batch["molecule_similarity"][rows][:, rows]  # (2B, 2B) in [0, 1], 1 for one compound
    same = (rows[:, None] == rows[None, :]).to(similarity.dtype)
    cwcl = cwcl_loss(image_proj, molecule_rows, similarity, temperature=config.temperature)
    clip = cwcl_loss(molecule_rows, image_proj, same, temperature=config.temperature)
    return {"loss": 0.5 * (cwcl + clip), "cwcl": cwcl, "clip": clip}
