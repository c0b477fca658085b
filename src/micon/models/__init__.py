"""Pure-torch MICON networks, losses and checkpoints (no Lightning: training lives in micon.training)."""

from micon.models.heads import ProjectionHead, TreatmentGenerator
from micon.models.image_encoder import CropNormalizer, ImageEncoder, ImageEncoderConfig
from micon.models.losses import counterfactual_loss, paclr_loss, supervised_contrastive_loss
from micon.models.micon import MiconModel, MiconModelConfig, build_model, load_model, make_checkpoint
from micon.models.molecule_encoder import GraphMoleculeEncoder, MoleculeEncoderConfig

__all__ = [
    "CropNormalizer",
    "GraphMoleculeEncoder",
    "ImageEncoder",
    "ImageEncoderConfig",
    "MiconModel",
    "MiconModelConfig",
    "MoleculeEncoderConfig",
    "ProjectionHead",
    "TreatmentGenerator",
    "build_model",
    "counterfactual_loss",
    "load_model",
    "make_checkpoint",
    "paclr_loss",
    "supervised_contrastive_loss",
]
