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
from micon.models.frozen_features import image_soft_targets
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
    "prepare_logit_scale",
    "simclr_losses",
]

TrainingBatch = Mapping[str, Any]
"""A training batch of :class:`~micon.training.data.MiconDataModule` (the fields its method consumes)."""
_IMAGES: tuple[str, ...] = ("treated_1", "treated_2", "control_1", "control_2")


def _check_positive(**values: float) -> None:
    bad = {k: v for k, v in values.items() if v <= 0}
    if bad:
        raise InvalidConfigError(f"these objective settings must be > 0: {bad}")


def _check_logit_scale_temperature(temperature: float) -> None:
    """Refuse a temperature the logit scale would clamp: CLIP keeps 1/T in [1, 100]."""
    if not 0.01 <= temperature <= 1.0:
        raise InvalidConfigError(
            f"temperature must lie in [0.01, 1] (the logit scale 1/T is kept in [1, 100] as in CLIP and "
            f"CLOOME), got {temperature}"
        )


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
        temperature: Initial (or, with ``learn_temperature`` false, fixed) temperature :math:`\tau`;
            CLOOB uses ``inv_tau = 1 / temperature`` (CLOOME: 1/30).
        learn_temperature: Learn :math:`\log(1/\tau)` as CLIP does (and CLOOME with its
            ``--learnable-inv-tau``), clamped to :math:`1/\tau \le 100`; false keeps it fixed.
        hopfield_scale: CLOOB's Hopfield :math:`\beta` (CLOOME: 14.3, fixed); unused by InfoNCE.
    """

    loss: Literal["infonce", "cloob"]
    temperature: float
    learn_temperature: bool
    hopfield_scale: float

    def __post_init__(self) -> None:
        if self.loss not in ("infonce", "cloob"):
            raise InvalidConfigError(f"clip loss must be 'infonce' or 'cloob', got {self.loss!r}")
        _check_positive(temperature=self.temperature, hopfield_scale=self.hopfield_scale)
        _check_logit_scale_temperature(self.temperature)


SoftTargets = Literal["image", "tanimoto"]
SOFT_TARGETS: tuple[str, ...] = SoftTargets.__args__
SoftTargetGroups = Literal["compound", "sample"]
SOFT_TARGET_GROUPS: tuple[str, ...] = SoftTargetGroups.__args__


@dataclass(frozen=True, kw_only=True)
class CellclipObjectiveConfig:
    r"""CellCLIP: CWCL image -> molecule with soft targets from frozen image features, plus CLIP back.

    Attributes:
        temperature: Initial (or fixed) temperature of both directions.
        learn_temperature: Learn :math:`\log(1/\tau)` as CLIP does, clamped to :math:`1/\tau \le 100`
            (CellCLIP learns its temperature); false keeps it fixed.
        soft_targets: ``"image"`` (CellCLIP): the CWCL weights are the cosine similarity of the frozen
            per-channel image features of the batch's treated crops, rescaled to [0, 1]; ``"tanimoto"``:
            the Tanimoto similarity of the compounds' Morgan fingerprints (the project's earlier
            variant: it hands a fingerprint-generated screen its generating kernel).
        soft_target_groups: ``"compound"``: the features of a batch's crops of one compound are averaged
            (one vector per compound, as CellCLIP pools a well's sites); ``"sample"``: one per crop.
    """

    temperature: float
    learn_temperature: bool
    soft_targets: SoftTargets
    soft_target_groups: SoftTargetGroups

    def __post_init__(self) -> None:
        _check_positive(temperature=self.temperature)
        _check_logit_scale_temperature(self.temperature)
        if self.soft_targets not in SOFT_TARGETS:
            raise InvalidConfigError(f"soft_targets must be one of {SOFT_TARGETS}, got {self.soft_targets!r}")
        if self.soft_target_groups not in SOFT_TARGET_GROUPS:
            raise InvalidConfigError(
                f"soft_target_groups must be one of {SOFT_TARGET_GROUPS}, got {self.soft_target_groups!r}"
            )


@dataclass(frozen=True, kw_only=True)
class SimclrObjectiveConfig:
    """SimCLR: NT-Xent between two augmentations of each crop.

    Attributes:
        temperature: NT-Xent temperature.
        augmentation: Fields of :class:`~micon.training.augment.AugmentationConfig` that replace the
            shared augmentation for SimCLR's two views (its only source of positives).
        crops: ``"all"``: crops drawn uniformly from every training crop, DMSO included (SimCLR sees
            images, not treatments); ``"treated"``: the sampler's two treated crops of each row (the
            project's earlier variant, no DMSO).
    """

    temperature: float
    augmentation: Mapping[str, Any]
    crops: Literal["all", "treated"]

    def __post_init__(self) -> None:
        _check_positive(temperature=self.temperature)
        if self.crops not in ("all", "treated"):
            raise InvalidConfigError(f"simclr crops must be 'all' or 'treated', got {self.crops!r}")
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
    """Return NT-Xent between two augmentations of each crop (SimCLR's only positives).

    The crops are the batch's ``crops`` (any training crop, DMSO included) or, with ``crops:
    treated``, its two treated crops per row.

    Raises:
        InvalidConfigError: ``augment`` is disabled: without augmentation the two views are identical.
    """
    if config.crops == "all":
        crops = batch["crops"]
    else:
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
    """Return InfoNCE (CLIP) or CLOOB (CLOOME) between the treated crops and their compound's molecule.

    The inverse temperature is the model's ``logit_scale`` (learned or fixed, see
    :func:`prepare_logit_scale`).
    """
    _, image_proj, molecule_rows, rows = _aligned_projections(model, batch, augment)
    inv_tau = model.logit_scale()
    if config.loss == "cloob":
        loss = cloob_loss(
            image_proj, molecule_rows, rows, inv_tau=inv_tau, hopfield_scale=config.hopfield_scale
        )
    else:
        loss = info_nce_loss(image_proj, molecule_rows, rows, temperature=1.0 / inv_tau)
    return {"loss": loss}


def cellclip_losses(
    model: MiconModel, batch: TrainingBatch, config: CellclipObjectiveConfig, augment: CropAugmenter
) -> dict[str, Tensor]:
    """Return CWCL image -> molecule and CLIP molecule -> image, and their mean.

    The CWCL weights are CellCLIP's (:func:`~micon.models.image_soft_targets` of the model's frozen
    per-channel features of the batch's treated crops, before augmentation), or with ``soft_targets:
    tanimoto`` the Tanimoto similarity of the compounds. The temperature is the model's ``logit_scale``.
    """
    crops, image_proj, molecule_rows, rows = _aligned_projections(model, batch, augment)
    if config.soft_targets == "image":
        groups = rows if config.soft_target_groups == "compound" else None
        weights = image_soft_targets(model.frozen_features(crops), groups)  # (2B, 2B) in [0, 1]
    else:
        weights = batch["molecule_similarity"][rows][:, rows]  # (2B, 2B) in [0, 1], 1 for one compound
    same = (rows[:, None] == rows[None, :]).to(image_proj.dtype)
    temperature = 1.0 / model.logit_scale()
    cwcl = cwcl_loss(image_proj, molecule_rows, weights, temperature=temperature)
    clip = cwcl_loss(molecule_rows, image_proj, same, temperature=temperature)
    return {"loss": 0.5 * (cwcl + clip), "cwcl": cwcl, "clip": clip}


def prepare_logit_scale(model: MiconModel, config: ClipObjectiveConfig | CellclipObjectiveConfig) -> None:
    """Initialise the model's logit scale from ``config.temperature``; learnable as the config says."""
    model.logit_scale.reset(config.temperature, learnable=config.learn_temperature)


def _aligned_projections(
    model: MiconModel, batch: TrainingBatch, augment: CropAugmenter
) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Return the rows' treated crops (unaugmented), their and their molecules' projections, rows."""
    crops = torch.cat([batch["treated_1"], batch["treated_2"]])  # (2B, C, S, S)
    images = torch.cat([augment(batch["treated_1"]), augment(batch["treated_2"])])
    image_proj = model.projection_head(model.embed(images))
    molecule_proj = model.molecule_projection(model.molecule_encoder(batch["molecules"]))  # (G, P)
    rows = batch["molecule_index"].repeat(2)  # (2B,) row -> compound of the batch
    return crops, image_proj, molecule_proj[rows], rows
