"""Pure-torch networks, losses and checkpoints of MICON and its peers (no Lightning: see micon.training)."""

from micon.models.alignment_losses import cloob_loss, cwcl_loss, info_nce_loss
from micon.models.channel_former import ChannelFormerConfig, CrossChannelFormer
from micon.models.frozen_features import FrozenChannelFeatures, FrozenFeaturesConfig, image_soft_targets
from micon.models.heads import LogitScale, ProjectionHead, TreatmentGenerator
from micon.models.image_encoder import CropNormalizer, ImageEncoder, ImageEncoderConfig
from micon.models.losses import counterfactual_loss, nt_xent_loss, paclr_loss, supervised_contrastive_loss
from micon.models.micon import (
    EMBEDDINGS,
    MODEL_PARTS,
    MiconModel,
    MiconModelConfig,
    NetworkConfig,
    build_model,
    load_model,
    merge_params,
    model_state,
)
from micon.models.molecule_encoder import (
    FingerprintMoleculeEncoder,
    GraphMoleculeEncoder,
    MoleculeEncoderConfig,
    build_molecule_encoder,
    collate_molecules,
    featurize_molecules,
)

__all__ = [
    "EMBEDDINGS",
    "MODEL_PARTS",
    "ChannelFormerConfig",
    "CropNormalizer",
    "CrossChannelFormer",
    "FingerprintMoleculeEncoder",
    "FrozenChannelFeatures",
    "FrozenFeaturesConfig",
    "GraphMoleculeEncoder",
    "ImageEncoder",
    "ImageEncoderConfig",
    "LogitScale",
    "MiconModel",
    "MiconModelConfig",
    "MoleculeEncoderConfig",
    "NetworkConfig",
    "ProjectionHead",
    "TreatmentGenerator",
    "build_model",
    "build_molecule_encoder",
    "cloob_loss",
    "collate_molecules",
    "counterfactual_loss",
    "cwcl_loss",
    "featurize_molecules",
    "image_soft_targets",
    "info_nce_loss",
    "load_model",
    "merge_params",
    "model_state",
    "nt_xent_loss",
    "paclr_loss",
    "supervised_contrastive_loss",
]
