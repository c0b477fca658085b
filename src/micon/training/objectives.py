"""The objective configs and loss functions of MICON, PaCLR, CLIP/CLOOME, CellCLIP and SimCLR.

Each loss function has the signature ``micon.training.methods`` registers, ``(model, batch, config,
augment) -> {"loss", *parts}``; the registry, not this module, says which method uses which.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from typing import Any, Literal

import torch
from torch import Tensor

from micon.errors import InvalidConfigError
from micon.models.alignment_losses import cloob_loss, cwcl_loss, info_nce_loss
from micon.models.losses import counterfactual_loss, nt_xent_loss, paclr_loss
from micon.models.micon import MiconModel
from micon.training.augment import AugmentationConfig, CropAugmenter

__all__ = [
    "CellclipObjectiveConfig",
    "ClipObjectiveConfig",
    "MiconObjectiveConfig",
    "PaclrObjectiveConfig",
    "SimclrObjectiveConfig",
    "TrainingBatch",
    "cellclip_losses",
    "clip_losses",
    "micon_losses",
    "paclr_losses",
    "simclr_losses",
]

TrainingBatch = Mapping[str, Any]
"""A training batch of :class:`~micon.training.data.MiconDataModule` (the fields its method consumes)."""
_IMAGES: tuple[str, ...] = ("treated_1", "treated_2", "control_1", "control_2")


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

    paclr_weight: float
    cf_weight: float
    paclr_temperature: float
    cf_temperature: float
    detach_control: bool
    detach_treated: bool

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

    temperature: float

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

    loss: Literal["infonce", "cloob"]
    temperature: float
    hopfield_scale: float

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

    temperature: float

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

    temperature: float
    augmentation: Mapping[str, Any]

    def __post_init__(self) -> None:
        _check_positive(temperature=self.temperature)
        object.__setattr__(self, "augmentation", dict(self.augmentation))
        known = {field.name for field in fields(AugmentationConfig)}
        unknown = sorted(set(self.augmentation) - known)
        if unknown:
            raise InvalidConfigError(f"augmentation keys {unknown} are unknown; known: {sorted(known)}")


def paclr_losses(
    model: MiconModel, batch: TrainingBatch, config: PaclrObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return PaCLR over the batch's 4B crops (treated pairs and their controls, one encoder forward)."""
    images = torch.cat([augment(batch[k]) for k in _IMAGES])
    projections = model.projection_head(model.image_encoder(images))
    return {"loss": _paclr(projections, batch, config.temperature)}


def simclr_losses(
    model: MiconModel, batch: TrainingBatch, config: SimclrObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return NT-Xent between two augmentations of each treated crop (SimCLR's only positives).

    Raises:
        InvalidConfigError: ``augment`` is disabled: without augmentation the two views are identical.
    """
    crops = torch.cat([batch["treated_1"], batch["treated_2"]])
    if not augment.is_enabled:
        raise InvalidConfigError("SimCLR needs an augmentation: its positives are two augmented views")
    views = torch.cat([augment(crops, **config.augmentation), augment(crops, **config.augmentation)])
    projections = model.projection_head(model.image_encoder(views))
    return {"loss": nt_xent_loss(*projections.chunk(2), temperature=config.temperature)}


def _paclr(projections: Tensor, batch: TrainingBatch, temperature: float) -> Tensor:
    return paclr_loss(
        *projections.chunk(4),
        batch["compound_labels"],
        batch["control_labels_1"],
        batch["control_labels_2"],
        temperature=temperature,
    )


def micon_losses(
    model: MiconModel, batch: TrainingBatch, config: MiconObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return PaCLR over the 4B crops (one batched encoder forward) plus the counterfactual loss per view."""
    labels = batch["compound_labels"]
    images = torch.cat([augment(batch[k]) for k in _IMAGES])
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


def clip_losses(
    model: MiconModel, batch: TrainingBatch, config: ClipObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return InfoNCE (CLIP) or CLOOB (CLOOME) between the treated crops and their compound's molecule."""
    image_proj, molecule_rows, rows = _aligned_projections(model, batch, augment)
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


def cellclip_losses(
    model: MiconModel, batch: TrainingBatch, config: CellclipObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return CWCL image -> molecule (Tanimoto weights) and CLIP molecule -> image, and their mean."""
    image_proj, molecule_rows, rows = _aligned_projections(model, batch, augment)
    similarity = batch["molecule_similarity"][rows][:, rows]  # (2B, 2B) in [0, 1], 1 for one compound
    same = (rows[:, None] == rows[None, :]).to(similarity.dtype)
    cwcl = cwcl_loss(image_proj, molecule_rows, similarity, temperature=config.temperature)
    clip = cwcl_loss(molecule_rows, image_proj, same, temperature=config.temperature)
    return {"loss": 0.5 * (cwcl + clip), "cwcl": cwcl, "clip": clip}


def _aligned_projections(
    model: MiconModel, batch: TrainingBatch, augment: CropAugmenter
) -> tuple[Tensor, Tensor, Tensor]:
    """Return the projections of each row's two treated crops and of their molecules, and row -> compound."""
    images = torch.cat([augment(batch["treated_1"]), augment(batch["treated_2"])])  # (2B, C, S, S)
    image_proj = model.projection_head(model.embed(images))
    molecule_proj = model.molecule_projection(model.molecule_encoder(batch["molecules"]))  # (G, P)
    rows = batch["molecule_index"].repeat(2)  # (2B,) row -> compound of the batch
    return image_proj, molecule_proj[rows], rows
