"""What training is fed: crops from the store and molecule features, batched by the treatment sampler."""

from __future__ import annotations

import functools
import logging
import random
from collections.abc import Collection, Sequence
from typing import Any, Literal

import lightning as L
import numpy as np
import pandas as pd
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset

from micon import schema
from micon.chem.fingerprints import morgan_fingerprints, tanimoto_similarity
from micon.errors import InvalidConfigError, InvalidImageError, InvalidInputError
from micon.imaging.intensity import CropIntensityScaling
from micon.models.molecule_encoder import (
    MoleculeEncoderConfig,
    MoleculeFeatures,
    collate_molecules,
    featurize_molecules,
)
from micon.training.sampler import ControlMode, SecondView, TreatmentBatch, TreatmentPairSampler

logger = logging.getLogger(__name__)

__all__ = [
    "BATCH_FIELDS",
    "IMAGE_KEYS",
    "BatchField",
    "MiconDataModule",
    "crop_dataloader",
    "loader_options",
    "read_crops",
    "resolve_pin_memory",
]

IMAGE_KEYS: tuple[str, ...] = ("treated_1", "treated_2", "control_1", "control_2")
BatchField = Literal["treated", "controls", "molecules", "molecule_similarity", "crops"]
BATCH_FIELDS: tuple[str, ...] = BatchField.__args__
"""Groups of training-batch fields a method may consume (see :class:`MiconDataModule`)."""
_FIELD_IMAGES: dict[str, tuple[str, ...]] = {
    "treated": ("treated_1", "treated_2"),
    "controls": ("control_1", "control_2"),
    "crops": ("crops",),
}


def read_crops(
    crops: np.ndarray, crop_ids: np.ndarray, *, intensity: CropIntensityScaling | None = None
) -> Tensor:
    r"""Read crops by id as float32, touching the store once in ascending id order.

    Sorting the ids makes one sequential pass over the store (a crop store reads each part touched
    once) instead of random seeks; repeated ids are read once.

    Args:
        crops: The crop store ``(N, C, S, S)`` uint16 (ndarray, or a loaded crop store's lazy array).
        crop_ids: Ids (row positions) to read, any order, repeats allowed.
        intensity: Plate scaling applied to the crops read (None: raw intensities).

    Returns:
        The crops in the order of ``crop_ids``.

    Shapes:
        - output: :math:`(len(crop\\_ids), C, S, S)` float32.
    """
    unique, inverse = np.unique(np.asarray(crop_ids, dtype=np.int64), return_inverse=True)
    block = np.asarray(crops[unique], dtype=np.float32)
    if intensity is not None:
        block = intensity.apply(block, unique)
    return torch.from_numpy(block[inverse])


def resolve_pin_memory(pin_memory: bool | str) -> bool:
    """Resolve ``"auto"``: pin host memory exactly when a CUDA device will receive the batches.

    Raises:
        InvalidConfigError: ``pin_memory`` is neither a bool nor ``"auto"``.
    """
    if pin_memory == "auto":
        return torch.cuda.is_available()
    if not isinstance(pin_memory, bool):
        raise InvalidConfigError(f"pin_memory must be true, false or 'auto', got {pin_memory!r}")
    return pin_memory


def loader_options(
    *,
    num_workers: int,
    pin_memory: bool,
    persistent_workers: bool,
    prefetch_factor: int | None,
    seed: int,
    rank: int,
) -> dict[str, Any]:
    """Return the ``DataLoader`` keywords of the worker settings (valid for ``num_workers == 0`` too).

    PyTorch refuses ``persistent_workers`` and ``prefetch_factor`` without workers, so they are passed only
    with workers. Each worker seeds numpy and Python's ``random`` from ``(seed, rank, worker id)``
    (:func:`_seed_worker`): any draw made in a worker is distinct per worker and per rank, and repeatable.

    Raises:
        InvalidConfigError: ``num_workers`` < 0 or ``prefetch_factor`` < 1.
    """
    if num_workers < 0:
        raise InvalidConfigError(f"num_workers must be >= 0, got {num_workers}")
    if prefetch_factor is not None and prefetch_factor < 1:
        raise InvalidConfigError(f"prefetch_factor must be >= 1 or None, got {prefetch_factor}")
    options: dict[str, Any] = {"num_workers": num_workers, "pin_memory": pin_memory}
    if num_workers > 0:
        options |= {
            "persistent_workers": persistent_workers,
            "prefetch_factor": prefetch_factor,
            "worker_init_fn": functools.partial(_seed_worker, seed=seed, rank=rank),
        }
    return options


def _seed_worker(worker_id: int, *, seed: int, rank: int) -> None:
    """Seed a DataLoader worker's numpy and ``random`` from (seed, rank, worker id); torch's is per worker."""
    state = np.random.SeedSequence([seed, rank, worker_id])
    np.random.seed(state.generate_state(1)[0])
    random.seed(int(state.generate_state(2, dtype=np.uint64)[1]))


class _TreatmentBatches(Dataset):
    """Map a sampler batch (crop ids) to tensors; indexed by the sampler's dicts, not by integers."""

    def __init__(
        self,
        crops: np.ndarray,
        fields: frozenset[str],
        molecules: MoleculeFeatures,
        fingerprints: np.ndarray,
        intensity: CropIntensityScaling | None,
    ) -> None:
        self.crops = crops
        self.fields = fields
        self.image_keys = tuple(
            k for field in BATCH_FIELDS if field in fields for k in _FIELD_IMAGES.get(field, ())
        )
        self.molecules = molecules
        self.fingerprints = fingerprints
        self.intensity = intensity

    def __getitem__(self, ids: TreatmentBatch) -> dict[str, Any]:
        # The batch's crops are read through read_crops alone: the one seam to the crop store.
        batch: dict[str, Any] = {}
        if self.image_keys:  # only the crops the method consumes are read
            images = read_crops(
                self.crops, np.concatenate([ids[k] for k in self.image_keys]), intensity=self.intensity
            )
            sizes = [ids[k].size for k in self.image_keys]
            batch |= dict(zip(self.image_keys, images.split(sizes), strict=True))
        batch["compound_labels"] = torch.from_numpy(ids["compound_index"].astype(np.int64))
        if "controls" in self.fields:
            for key in ("control_labels_1", "control_labels_2"):
                batch[key] = torch.from_numpy(ids[key].astype(np.int64))
        if not {"molecules", "molecule_similarity"} & self.fields:
            return batch
        unique, inverse = np.unique(ids["compound_index"], return_inverse=True)
        batch["molecule_index"] = torch.from_numpy(inverse.astype(np.int64).reshape(-1))
        if "molecules" in self.fields:
            batch["molecules"] = collate_molecules(self.molecules, unique)
        if "molecule_similarity" in self.fields:
            # Per batch, on the G compounds of the batch: never a matrix over every compound.
            batch["molecule_similarity"] = torch.from_numpy(tanimoto_similarity(self.fingerprints[unique]))
        return batch


class _CropBatches(Dataset):
    """Consecutive batches of crops, for inference; item j is the j-th batch."""

    def __init__(
        self,
        crops: np.ndarray,
        crop_ids: np.ndarray,
        batch_size: int,
        intensity: CropIntensityScaling | None,
    ) -> None:
        self.crops = crops
        self.crop_ids = crop_ids
        self.batch_size = batch_size
        self.intensity = intensity

    def __len__(self) -> int:
        return -(-self.crop_ids.size // self.batch_size)

    def __getitem__(self, j: int) -> Tensor:
        ids = self.crop_ids[j * self.batch_size : (j + 1) * self.batch_size]
        return read_crops(self.crops, ids, intensity=self.intensity)


class _TreatmentLoader(DataLoader):
    """The training DataLoader; Lightning checkpoints its ``state_dict`` (a ``_Stateful`` loader).

    The sampler's position needs no state of its own: batches are a function of (seed, epoch, step) and
    :meth:`MiconDataModule.train_dataloader` resumes the sampler at the trainer's restored step. The state
    records the sampler settings, so that a resume with other settings (which changes the batches of the
    remaining steps) is reported.
    """

    def state_dict(self) -> dict[str, Any]:
        """Return the settings that determine the sampler's batches."""
        return _sampler_settings(self.sampler)

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Warn when the checkpoint's sampler settings differ from this run's."""
        current = _sampler_settings(self.sampler)
        if state_dict != current:
            logger.warning(
                "resuming with sampler settings %s instead of the checkpoint's %s: the remaining batches "
                "differ from those of an uninterrupted run",
                current,
                state_dict,
            )


def _sampler_settings(sampler: TreatmentPairSampler) -> dict[str, Any]:
    return {
        "seed": sampler.seed,
        "batch_rows": sampler.batch_rows,
        "world_size": sampler.world_size,
        "steps_per_epoch": sampler.steps_per_epoch,
        "splits": list(sampler.splits),
        "controls": sampler.controls,
        "second_view": sampler.second_view,
    }


class MiconDataModule(L.LightningDataModule):
    r"""Feed MICON training: sampler batches of crop ids turned into image tensors and molecule inputs.

    The module owns the crop store, the crop index, the :class:`TreatmentPairSampler` (built in
    :meth:`setup`, where the trainer's rank and world size are known: under DDP each rank draws its own
    shard of one global batch, so the Trainer must be built with ``use_distributed_sampler=False``, never
    wrapping the sampler in a ``DistributedSampler``) and, computed once per compound, the molecule
    encoder's input (a PyG graph or a Morgan fingerprint, as ``molecule.kind`` says) and a Morgan
    fingerprint for similarities, each only when ``fields`` consumes it; each batch collates the features
    of its unique compounds. Images are raw
    intensities (as float32), or with ``intensity`` given, scaled against their plate's DMSO crops (the
    same :class:`~micon.imaging.intensity.CropIntensityScaling` embedding uses); the remaining scaling is
    the image encoder's, so that training and inference see identical pixels.

    A training batch is a dict of ``compound_labels`` and the field groups of ``fields`` (the method's
    ``batch_fields``, ``micon.training.methods``); crops of a group not consumed are never read:

    - always ``compound_labels``: :math:`(B,)` long, index into :attr:`compounds`.
    - ``treated``: ``treated_1``, ``treated_2`` :math:`(B, C, S, S)` float32.
    - ``controls``: ``control_1``, ``control_2`` :math:`(B, C, S, S)` float32; ``control_labels_1``,
      ``control_labels_2`` :math:`(B,)` long, the compound of each control crop as an index into
      :attr:`compounds`, or -1 (``sampler.DMSO_LABEL``) for DMSO.
    - ``molecules``: ``molecules``, the encoder input of the G unique compounds of the batch (a PyG
      ``Batch`` (gnn) or :math:`(G, n\_bits)` float32 fingerprints), and ``molecule_index``
      :math:`(B,)` long, row -> compound of ``molecules``.
    - ``molecule_similarity``: ``molecule_similarity`` :math:`(G, G)` float32, Tanimoto similarity of the
      Morgan fingerprints (radius and bits of ``molecule``) of the G compounds (CellCLIP's CWCL weights
      with ``soft_targets: tanimoto`` only), and ``molecule_index``.
    - ``crops``: ``crops`` :math:`(2B, C, S, S)` float32, crops drawn uniformly from every crop of the
      splits, DMSO included (SimCLR).

    Resuming: :meth:`train_dataloader` starts the sampler at the trainer's (restored) epoch and step, so a
    run resumed from a checkpoint sees the batches the uninterrupted run would have seen.

    Args:
        crops: ``(N, C, S, S)`` uint16, row i the crop with ``Metadata_CropID == i``.
        crop_index: One row per crop (see ``docs/architecture.md``).
        batch_rows: Rows per batch and device (B).
        splits: Splits the sampler draws from.
        seed: Sampler seed.
        steps_per_epoch: Batches per epoch.
        num_workers: DataLoader worker processes (0: read in the main process). The sampler runs in the
            main process and hands each batch of crop ids to one worker, which reads only those crops:
            workers never draw batches, so no batch is read twice.
        pin_memory: Pin the batches in page-locked memory (faster host-to-GPU copies).
        persistent_workers: Keep the workers between epochs (only with workers).
        prefetch_factor: Batches each worker loads ahead (None: PyTorch's default; only with workers).
        controls: ``"dmso"`` or ``"same_plate"`` control crops (see :class:`TreatmentPairSampler`).
        second_view: ``"reference"`` or ``"tiered"`` draw of the second treated crop (ditto).
        intensity: Plate intensity scaling of every crop read (None: raw intensities).
        fields: The field groups of :data:`BATCH_FIELDS` each batch holds.
        molecule: The molecule encoder settings (which features to compute, fingerprint radius and
            bits); needed when ``fields`` holds ``molecules`` or ``molecule_similarity``, else None.

    Raises:
        InvalidImageError: ``crops`` is not 4-D or has fewer rows than the largest crop id.
        InvalidConfigError: ``num_workers`` is negative, ``prefetch_factor`` < 1, a field is unknown, or
            ``molecule`` is None where molecules are consumed.
    """

    def __init__(
        self,
        crops: np.ndarray,
        crop_index: pd.DataFrame,
        *,
        batch_rows: int,
        splits: Sequence[str],
        seed: int,
        steps_per_epoch: int,
        num_workers: int,
        pin_memory: bool,
        persistent_workers: bool,
        prefetch_factor: int | None,
        controls: ControlMode,
        second_view: SecondView,
        intensity: CropIntensityScaling | None,
        fields: Collection[str],
        molecule: MoleculeEncoderConfig | None,
    ) -> None:
        super().__init__()
        if crops.ndim != 4:
            raise InvalidImageError(f"crops must be (N, C, S, S), got shape {crops.shape}")
        if len(crop_index) and int(crop_index[schema.CROP_ID].max()) >= crops.shape[0]:
            raise InvalidImageError(
                f"crop_index has {schema.CROP_ID} up to {int(crop_index[schema.CROP_ID].max())} but the crop "
                f"store holds {crops.shape[0]} crops"
            )
        loader_options(  # checks the worker settings now, not when the loader is built
            num_workers=num_workers,
            pin_memory=pin_memory,
            persistent_workers=persistent_workers,
            prefetch_factor=prefetch_factor,
            seed=seed,
            rank=0,
        )
        unknown = sorted(set(fields) - set(BATCH_FIELDS))
        if unknown:
            raise InvalidConfigError(
                f"batch fields {unknown} are unknown; known fields: {list(BATCH_FIELDS)}"
            )
        self.fields = frozenset(fields)
        if molecule is None and {"molecules", "molecule_similarity"} & self.fields:
            raise InvalidConfigError(
                f"batch fields {sorted(self.fields)} need the molecule encoder settings; got molecule=None"
            )
        self.crops = crops
        self.crop_index = crop_index
        self.batch_rows = batch_rows
        self.splits = tuple(splits)
        self.seed = seed
        self.steps_per_epoch = steps_per_epoch
        self.num_workers = num_workers
        self.pin_memory = pin_memory
        self.persistent_workers = persistent_workers
        self.prefetch_factor = prefetch_factor
        self.controls = controls
        self.second_view = second_view
        self.intensity = intensity
        self.molecule = molecule
        self.sampler: TreatmentPairSampler | None = None
        self.molecule_features: MoleculeFeatures = []
        self.fingerprints = np.zeros((0, 0), dtype=np.uint8)

    @property
    def compounds(self) -> tuple[str, ...]:
        """Return the sampled compounds (standardised SMILES); ``compound_labels`` index this."""
        return self._require_sampler().compounds

    def setup(self, stage: str | None = None) -> None:
        """Build this rank's sampler and the per-compound molecule caches (once)."""
        if self.sampler is not None:
            return
        rank, world_size = 0, 1
        if self.trainer is not None:
            rank, world_size = self.trainer.global_rank, self.trainer.world_size
        self.sampler = TreatmentPairSampler(
            self.crop_index,
            batch_rows=self.batch_rows,
            splits=self.splits,
            seed=self.seed,
            rank=rank,
            world_size=world_size,
            steps_per_epoch=self.steps_per_epoch,
            controls=self.controls,
            second_view=self.second_view,
        )
        compounds = self.sampler.compounds
        if "molecules" in self.fields:
            self.molecule_features = featurize_molecules(compounds, self.molecule)
        if "molecule_similarity" in self.fields:
            # Fingerprints once per compound (K x n_bits bytes); each batch computes the Tanimoto
            # similarity of its own G compounds, so no K x K matrix is ever held.
            self.fingerprints = morgan_fingerprints(
                list(compounds), radius=self.molecule.radius, n_bits=self.molecule.n_bits
            )

    def train_dataloader(self) -> DataLoader:
        """Return the loader of training batches, from the trainer's current step (see the class docstring).

        Lightning calls this after restoring a checkpoint, so ``global_step`` is the resumed step.
        """
        sampler = self._require_sampler()
        if self.trainer is not None:
            epoch = self.trainer.current_epoch
            sampler.resume_at(epoch=epoch, step=self.trainer.global_step - epoch * self.steps_per_epoch)
        return _TreatmentLoader(
            _TreatmentBatches(
                self.crops, self.fields, self.molecule_features, self.fingerprints, self.intensity
            ),
            sampler=sampler,
            batch_size=None,  # the sampler yields whole batches
            **loader_options(
                num_workers=self.num_workers,
                pin_memory=self.pin_memory,
                persistent_workers=self.persistent_workers,
                prefetch_factor=self.prefetch_factor,
                seed=self.seed,
                rank=sampler.rank,
            ),
        )

    def embedding_dataloader(
        self, crop_ids: Sequence[int] | np.ndarray, *, batch_size: int = 512
    ) -> DataLoader:
        """Return a loader of consecutive crop batches ``(b, C, S, S)`` float32 in ``crop_ids`` order."""
        return crop_dataloader(
            self.crops,
            crop_ids,
            batch_size=batch_size,
            num_workers=self.num_workers,
            intensity=self.intensity,
        )

    def _require_sampler(self) -> TreatmentPairSampler:
        if self.sampler is None:
            raise InvalidInputError("MiconDataModule.setup() has not run; call it (the Trainer does) first")
        return self.sampler


def crop_dataloader(
    crops: np.ndarray,
    crop_ids: Sequence[int] | np.ndarray,
    *,
    batch_size: int = 512,
    num_workers: int = 0,
    intensity: CropIntensityScaling | None = None,
) -> DataLoader:
    """Return a loader of consecutive crop batches ``(b, C, S, S)`` float32, in the order of ``crop_ids``.

    With ``intensity`` given, each crop is scaled against its plate's DMSO crops, as in training.

    Raises:
        InvalidConfigError: ``batch_size`` < 1 or ``num_workers`` < 0.
    """
    if batch_size < 1 or num_workers < 0:
        raise InvalidConfigError(f"need batch_size >= 1, num_workers >= 0; got {batch_size}, {num_workers}")
    ids = np.asarray(crop_ids, dtype=np.int64)
    return DataLoader(
        _CropBatches(crops, ids, batch_size, intensity),
        batch_size=None,
        num_workers=num_workers,
        pin_memory=torch.cuda.is_available(),
    )
