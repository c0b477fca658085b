"""Sampler of MICON training rows: two replicate crops of a compound, each with a plate-matched DMSO crop."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError, NoControlsError

logger = logging.getLogger(__name__)

__all__ = ["SAMPLER_COLUMNS", "TreatmentPairSampler"]

SAMPLER_COLUMNS: tuple[str, ...] = (
    schema.CROP_ID,
    schema.SOURCE,
    schema.BATCH,
    schema.PLATE,
    schema.WELL,
    schema.STANDARD_SMILES,
    schema.IS_CONTROL,
    schema.SPLIT,
)

TreatmentBatch = dict[str, np.ndarray]


class TreatmentPairSampler:
    """Yield MICON training batches of crop ids: treated pairs and the DMSO crops of their plates.

    Each step yields ``batch_rows`` rows. Row i is built as in the MICON reference code:

    - ``treated_1``: a treated crop drawn uniformly from all treated crops in ``splits``, so compound
      ``y_i`` is drawn in proportion to its crop count. Within one global step (all ranks together)
      these crops are distinct while there are enough of them.
    - ``treated_2``: a crop of the same compound from a different well, the most different replicate
      available: from another batch if the compound has one (which includes other sources), else from
      another plate of the batch, else from another well of the plate. Biological replicates, not
      augmentations, are the two views.
    - ``control_1`` / ``control_2``: a DMSO crop from the plate of ``treated_1`` / ``treated_2``; where a
      plate has no DMSO crop in ``splits``, one from its batch, else from its source.
    - ``compound_index``: ``y_i`` as an index into :attr:`compounds`.

    Compounds are *not* made unique within a batch: the losses label items by compound, so a repeated
    compound only adds positives (with ~24 compounds and 32 rows repeats are unavoidable anyway).

    A compound is identified by its standardised SMILES, the structure the molecule encoder sees, so
    two ids of one parent structure are one treatment. Compounds whose crops lie in a single well are
    left out (no second view), with a warning.

    Sampling is a pure function of ``(seed, epoch, step)``: the global batch of
    ``batch_rows * world_size`` rows is drawn from that and rank r takes rows
    ``[r * batch_rows, (r + 1) * batch_rows)``, so ranks are disjoint and their union does not depend on
    ``world_size``. All lookups are precomputed numpy arrays; no pandas work happens per batch.

    Args:
        crop_index: One row per crop with :data:`SAMPLER_COLUMNS`.
        batch_rows: Rows per batch and rank (B).
        splits: Values of ``Metadata_Split`` whose crops may be drawn; no other crop is ever yielded.
        seed: Seed of all draws.
        rank: This process's rank.
        world_size: Number of processes.
        steps_per_epoch: Batches per epoch (the length of the sampler).

    Raises:
        MissingColumnsError: ``crop_index`` lacks a column of :data:`SAMPLER_COLUMNS`.
        InvalidConfigError: ``batch_rows``, ``steps_per_epoch``, ``rank`` or ``world_size`` is out of range,
            or a split name is unknown.
        InvalidInputError: No compound in ``splits`` has crops in two wells.
        NoControlsError: A plate with treated crops has no DMSO crop on it, in its batch or its source
            (names the plate).
    """

    def __init__(
        self,
        crop_index: pd.DataFrame,
        *,
        batch_rows: int,
        splits: Sequence[str] = (schema.SPLIT_TRAIN,),
        seed: int,
        rank: int = 0,
        world_size: int = 1,
        steps_per_epoch: int,
    ) -> None:
        missing = [c for c in SAMPLER_COLUMNS if c not in crop_index.columns]
        if missing:
            raise MissingColumnsError(f"crop_index lacks columns {missing} needed to sample training rows")
        unknown = [s for s in splits if s not in schema.SPLITS]
        if unknown or not splits:
            raise InvalidConfigError(
                f"splits must be a non-empty subset of {schema.SPLITS}, got {list(splits)}"
            )
        if batch_rows < 1 or steps_per_epoch < 1:
            raise InvalidConfigError(
                f"batch_rows and steps_per_epoch must be >= 1, got {batch_rows} and {steps_per_epoch}"
            )
        if world_size < 1 or not 0 <= rank < world_size:
            raise InvalidConfigError(f"need 0 <= rank < world_size, got rank {rank}, world_size {world_size}")
        self.batch_rows = batch_rows
        self.splits = tuple(splits)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.steps_per_epoch = steps_per_epoch
        self.epoch = 0
        self._index(crop_index[crop_index[schema.SPLIT].isin(self.splits)])

    def _index(self, table: pd.DataFrame) -> None:
        """Precompute the arrays the draws use."""
        crop_ids = table[schema.CROP_ID].to_numpy(dtype=np.int64)
        source = pd.factorize(table[schema.SOURCE].astype(str))[0]
        batch = pd.factorize(table[schema.SOURCE].astype(str) + "\x1f" + table[schema.BATCH].astype(str))[0]
        plate_keys = table[schema.SOURCE].astype(str) + "\x1f" + table[schema.PLATE].astype(str)
        plate, plate_names = pd.factorize(plate_keys)
        well = pd.factorize(plate_keys + "\x1f" + table[schema.WELL].astype(str))[0]
        is_control = table[schema.IS_CONTROL].to_numpy(dtype=bool)

        treated = ~is_control
        smiles = table[schema.STANDARD_SMILES].astype(str).to_numpy()
        compound_codes, compounds = pd.factorize(smiles[treated], sort=True)
        n_wells = np.array(
            [np.unique(well[treated][compound_codes == c]).size for c in range(len(compounds))]
        )
        single_well = [compounds[c] for c in np.flatnonzero(n_wells < 2)]
        if single_well:
            logger.warning(
                "left out %d compounds with crops in one well only: %s", len(single_well), single_well
            )
        kept = [c for c in range(len(compounds)) if n_wells[c] >= 2]
        if not kept:
            raise InvalidInputError(
                f"no compound in splits {list(self.splits)} has crops in two wells; MICON needs replicates"
            )
        self.compounds: tuple[str, ...] = tuple(compounds[c] for c in kept)
        remap = np.full(len(compounds), -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))

        rows = np.flatnonzero(treated)
        codes = remap[compound_codes]
        keep = codes >= 0
        rows, codes = rows[keep], codes[keep]
        order = np.argsort(codes, kind="stable")
        rows, codes = rows[order], codes[order]
        # Treated crops grouped by compound: compound k owns positions starts[k]:starts[k+1].
        self._t_crop = crop_ids[rows]
        self._t_compound = codes
        self._t_source, self._t_batch = source[rows], batch[rows]
        self._t_plate, self._t_well = plate[rows], well[rows]
        self._starts = np.searchsorted(codes, np.arange(len(kept) + 1))

        self._control_pools = self._control_pools_by_plate(
            crop_ids, source, batch, plate, is_control, plate_names, treated_plates=np.unique(self._t_plate)
        )

    @staticmethod
    def _control_pools_by_plate(
        crop_ids: np.ndarray,
        source: np.ndarray,
        batch: np.ndarray,
        plate: np.ndarray,
        is_control: np.ndarray,
        plate_names: Sequence[str],
        *,
        treated_plates: np.ndarray,
    ) -> list[np.ndarray]:
        """Return, per plate code, the DMSO crop ids to draw from (plate, else batch, else source)."""
        pools: list[np.ndarray] = [np.empty(0, dtype=np.int64)] * len(plate_names)
        for p in treated_plates:
            on_plate = plate == p
            for level in (plate, batch, source):
                value = level[on_plate][0]
                pool = crop_ids[is_control & (level == value)]
                if pool.size:
                    break
            source_name, plate_name = str(plate_names[p]).split("\x1f")
            if not pool.size:
                raise NoControlsError(
                    f"plate {plate_name!r} (source {source_name!r}) has no DMSO crop on the plate, in its "
                    "batch or in its source within the sampled splits"
                )
            if level is not plate:
                logger.warning(
                    "plate %s has no DMSO crops; drawing its controls from its batch or source", plate_name
                )
            pools[p] = pool
        return pools

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        return self.steps_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches :meth:`__iter__` yields (called by Lightning)."""
        self.epoch = epoch

    def __iter__(self) -> Iterator[TreatmentBatch]:
        """Yield ``steps_per_epoch`` batches of this rank (see :meth:`sample_batch`)."""
        for step in range(self.steps_per_epoch):
            yield self.sample_batch(step)

    def sample_batch(self, step: int) -> TreatmentBatch:
        """Return this rank's batch of ``step`` in the current epoch.

        Returns:
            ``treated_1``, ``treated_2``, ``control_1``, ``control_2`` (crop ids, int64) and
            ``compound_index`` (int64 index into :attr:`compounds`), each of shape ``(batch_rows,)``.
        """
        rng = np.random.default_rng([self.seed, self.epoch, step])
        n_global = self.batch_rows * self.world_size
        n_treated = self._t_crop.size
        first = rng.choice(n_treated, size=n_global, replace=n_global > n_treated)
        second = np.array([self._draw_replicate(i, rng) for i in first], dtype=np.int64)
        control_1 = self._draw_controls(self._t_plate[first], rng)
        control_2 = self._draw_controls(self._t_plate[second], rng)
        mine = slice(self.rank * self.batch_rows, (self.rank + 1) * self.batch_rows)
        return {
            "treated_1": self._t_crop[first][mine],
            "treated_2": self._t_crop[second][mine],
            "control_1": control_1[mine],
            "control_2": control_2[mine],
            "compound_index": self._t_compound[first][mine],
        }

    def _draw_replicate(self, i: int, rng: np.random.Generator) -> int:
        """Return the position of a crop of i's compound from the most different tier of wells."""
        k = self._t_compound[i]
        lo, hi = self._starts[k], self._starts[k + 1]
        other_well = self._t_well[lo:hi] != self._t_well[i]
        other_plate = self._t_plate[lo:hi] != self._t_plate[i]
        other_batch = self._t_batch[lo:hi] != self._t_batch[i]
        for tier in (other_batch, other_plate, other_well):
            candidates = np.flatnonzero(tier)
            if candidates.size:
                return lo + candidates[rng.integers(candidates.size)]
        raise AssertionError("unreachable: compounds in one well are dropped in __init__")

    def _draw_controls(self, plates: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Return one DMSO crop id per entry of ``plates`` from that plate's pool."""
        return np.array([pool[rng.integers(pool.size)] for pool in (self._control_pools[p] for p in plates)])
