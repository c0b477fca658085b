"""Sampler of MICON training rows: two replicate crops of a compound, each with a nearby control crop."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from typing import Literal

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError, NoControlsError

logger = logging.getLogger(__name__)

__all__ = [
    "CONTROL_MODES",
    "DMSO_LABEL",
    "SAMPLER_COLUMNS",
    "SECOND_VIEWS",
    "ControlMode",
    "SecondView",
    "TreatmentPairSampler",
]

SAMPLER_COLUMNS: tuple[str, ...] = (
    schema.CROP_ID,
    schema.SOURCE,
    schema.BATCH,
    schema.PLATE,
    schema.WELL,
    schema.SITE,
    schema.STANDARD_SMILES,
    schema.IS_CONTROL,
    schema.SPLIT,
)

TreatmentBatch = dict[str, np.ndarray]
ControlMode = Literal["dmso", "same_plate"]
CONTROL_MODES: tuple[str, ...] = ControlMode.__args__
SecondView = Literal["reference", "tiered"]
SECOND_VIEWS: tuple[str, ...] = SecondView.__args__
DMSO_LABEL = -1
"""``control_labels_*`` value of a DMSO control crop."""

_LEFT_OUT_LABEL = -2  # label of crops of compounds left out (one well): neither sampled nor a control
# Pool levels for controls, nearest first; a plate falls back to the next level only when it has no candidate.
_CONTROL_LEVELS: tuple[str, ...] = ("plate", "batch", "source")


class TreatmentPairSampler:
    """Yield MICON training batches of crop ids: treated pairs and a control crop for each.

    Each step yields ``batch_rows`` rows. Row i is built as follows:

    - ``treated_1``: a treated crop drawn uniformly from all treated crops in ``splits``, so compound
      ``y_i`` is drawn in proportion to its crop count (the reference code draws images in proportion to
      a compound's image count). Within one global step (all ranks together) these crops are distinct
      while there are enough of them.
    - ``treated_2``: another crop of the same compound, never from the same image (site). With
      ``second_view="reference"`` (as in the MICON reference code) it is drawn uniformly from the
      compound's crops of every other image, of any well, plate, batch or source. With ``"tiered"``
      (this project's earlier draw, not the reference code's) it comes from a different well and the
      most different tier available: another source if the compound has crops there, else another
      batch, else another plate, else another well of the same plate. Biological replicates, not
      augmentations, are the two views.
    - ``control_1`` / ``control_2``: a control crop for ``treated_1`` / ``treated_2``, drawn from the
      treated crop's plate, else (no candidate there) its batch, else its source. With
      ``controls="dmso"`` the candidates are the DMSO crops (the reference code); with
      ``controls="same_plate"`` (screens without DMSO images, such as the BBBC021 subset) they are the
      crops of every *other* compound (and DMSO, if any): never the treated row's own compound.
    - ``compound_index``: ``y_i`` as an index into :attr:`compounds`.
    - ``control_labels_1`` / ``control_labels_2``: the compound of each control crop as an index into
      :attr:`compounds`, or :data:`DMSO_LABEL` (-1) for DMSO; always -1 with ``controls="dmso"``.
    - ``crops``: ``2 * batch_rows`` crops drawn uniformly from *every* crop in ``splits`` (treated, DMSO
      and left-out compounds alike), for image-only methods (SimCLR). Drawn after the other fields, so
      they do not change the other fields' draws.

    Compounds are *not* made unique within a batch: the losses label items by compound, so a repeated
    compound only adds positives (with ~24 compounds and 32 rows repeats are unavoidable anyway).

    A compound is identified by its standardised SMILES, the structure the molecule encoder sees, so
    two ids of one parent structure are one treatment. Compounds whose crops lie in a single well are
    left out (no second view), with a warning; they are not used as ``same_plate`` controls either, as
    they have no label.

    Sampling is a pure function of ``(seed, epoch, step)``: the global batch of
    ``batch_rows * world_size`` rows is drawn from that and rank r takes rows
    ``[r * batch_rows, (r + 1) * batch_rows)``, so ranks are disjoint and their union does not depend on
    ``world_size``. A resumed run calls :meth:`resume_at` and sees the batches the uninterrupted run would
    have seen. All lookups are precomputed numpy arrays; no pandas work happens per batch.

    Args:
        crop_index: One row per crop with :data:`SAMPLER_COLUMNS`.
        batch_rows: Rows per batch and rank (B).
        splits: Values of ``Metadata_Split`` whose crops may be drawn; no other crop is ever yielded.
        seed: Seed of all draws.
        rank: This process's rank.
        world_size: Number of processes.
        steps_per_epoch: Batches per epoch (the length of the sampler).
        controls: ``"dmso"`` (plate-matched DMSO crops) or ``"same_plate"`` (a crop of another compound).
        second_view: ``"reference"`` or ``"tiered"`` draw of ``treated_2`` (see above).

    Raises:
        MissingColumnsError: ``crop_index`` lacks a column of :data:`SAMPLER_COLUMNS`.
        InvalidConfigError: ``batch_rows``, ``steps_per_epoch``, ``rank``, ``world_size``, ``controls`` or
            ``second_view`` is out of range, or a split name is unknown.
        InvalidInputError: No compound in ``splits`` has crops in two wells.
        NoControlsError: A plate with treated crops has no control candidate on it, in its batch or in its
            source (names the plate, and the compound with ``same_plate``).
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
        controls: ControlMode = "dmso",
        second_view: SecondView,
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
        if controls not in CONTROL_MODES:
            raise InvalidConfigError(f"controls must be one of {CONTROL_MODES}, got {controls!r}")
        if second_view not in SECOND_VIEWS:
            raise InvalidConfigError(f"second_view must be one of {SECOND_VIEWS}, got {second_view!r}")
        self.second_view = second_view
        self.batch_rows = batch_rows
        self.splits = tuple(splits)
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.steps_per_epoch = steps_per_epoch
        self.controls = controls
        self.epoch = 0
        self._start_step = 0
        self._index(crop_index[crop_index[schema.SPLIT].isin(self.splits)])

    def _index(self, table: pd.DataFrame) -> None:
        """Precompute the arrays the draws use."""
        crop_ids = table[schema.CROP_ID].to_numpy(dtype=np.int64)
        source_keys = table[schema.SOURCE].astype(str)
        source = pd.factorize(source_keys)[0]
        batch = pd.factorize(source_keys + "\x1f" + table[schema.BATCH].astype(str))[0]
        plate_keys = source_keys + "\x1f" + table[schema.PLATE].astype(str)
        plate, plate_names = pd.factorize(plate_keys)
        well_keys = plate_keys + "\x1f" + table[schema.WELL].astype(str)
        well = pd.factorize(well_keys)[0]
        image = pd.factorize(well_keys + "\x1f" + table[schema.SITE].astype(str))[0]
        self._all_crops = crop_ids
        is_control = table[schema.IS_CONTROL].to_numpy(dtype=bool)
        self._plate_names = [tuple(str(name).split("\x1f")) for name in plate_names]

        treated = ~is_control
        smiles = table[schema.STANDARD_SMILES].astype(str).to_numpy()
        compound_codes, compounds = pd.factorize(smiles[treated], sort=True)
        # Wells per compound in one groupby (factorize gives every code 0..K-1 at least one crop).
        n_wells = (
            pd.Series(well[treated]).groupby(compound_codes, sort=True).nunique().to_numpy()
            if compound_codes.size
            else np.zeros(0, dtype=np.int64)
        )
        single_well = list(compounds[n_wells < 2])
        if single_well:
            logger.warning(
                "left out %d compounds with crops in one well only: %s", len(single_well), single_well
            )
        kept = np.flatnonzero(n_wells >= 2)
        if not kept.size:
            raise InvalidInputError(
                f"no compound in splits {list(self.splits)} has crops in two wells; MICON needs replicates"
            )
        self.compounds: tuple[str, ...] = tuple(compounds[kept])
        remap = np.full(len(compounds), -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        # Label of every crop: compound index, DMSO_LABEL for controls, _LEFT_OUT_LABEL when left out.
        labels = np.full(len(table), DMSO_LABEL, dtype=np.int64)
        labels[treated] = np.where(remap[compound_codes] >= 0, remap[compound_codes], _LEFT_OUT_LABEL)

        rows = np.flatnonzero(labels >= 0)
        order = np.argsort(labels[rows], kind="stable")
        rows = rows[order]
        codes = labels[rows]
        # Treated crops grouped by compound: compound k owns positions starts[k]:starts[k+1].
        self._t_crop = crop_ids[rows]
        self._t_compound = codes
        self._t_source, self._t_batch = source[rows], batch[rows]
        self._t_plate, self._t_well, self._t_image = plate[rows], well[rows], image[rows]
        self._starts = np.searchsorted(codes, np.arange(len(kept) + 1))

        # Plate -> batch and source codes (a plate lies in one batch of one source).
        self._plate_levels = np.zeros((len(plate_names), len(_CONTROL_LEVELS)), dtype=np.int64)
        self._plate_levels[plate] = np.stack([plate, batch, source], axis=1)
        in_pool = is_control if self.controls == "dmso" else labels != _LEFT_OUT_LABEL
        self._pools = [
            _ControlPool(crop_ids[in_pool], labels[in_pool], level[in_pool], n_values=level.max() + 1)
            for level in (plate, batch, source)
        ]
        self._check_controls()

    def _check_controls(self) -> None:
        """Find each treated crop's control level; raise NoControlsError where none; log the fallbacks.

        Vectorised over the distinct (plate, compound) pairs: no Python loop over compounds or crops.
        The level of treated position i is kept in ``self._t_level`` for the draws.
        """
        pairs, inverse = np.unique(
            np.stack([self._t_plate, self._t_compound], axis=1), axis=0, return_inverse=True
        )
        plates, compounds = pairs[:, 0], pairs[:, 1]
        levels = np.full(len(pairs), -1, dtype=np.int64)  # -1: no candidate at any level
        for level, pool in enumerate(self._pools):
            open_ = levels < 0
            counts = pool.counts_excluding(self._plate_levels[plates[open_], level], compounds[open_])
            levels[np.flatnonzero(open_)[counts > 0]] = level
        missing = np.flatnonzero(levels < 0)
        if missing.size:
            p, k = plates[missing[0]], compounds[missing[0]]  # the first pair, in (plate, compound) order
            source_name, plate_name = self._plate_names[p]
            what = (
                "a DMSO crop"
                if self.controls == "dmso"
                else f"a crop of a compound other than {self.compounds[k]!r}"
            )
            raise NoControlsError(
                f"plate {plate_name!r} (source {source_name!r}) has no control candidate ({what}) on the "
                "plate, in its batch or in its source within the sampled splits"
            )
        self._t_level = levels[inverse.reshape(-1)]
        fallbacks = {self._plate_names[p][1] for p in np.unique(plates[levels > 0])}
        if fallbacks:
            logger.warning(
                "%d plates lack %s controls for some rows; those are drawn from the batch or source: %s",
                len(fallbacks),
                self.controls,
                sorted(fallbacks),
            )

    def __len__(self) -> int:
        """Return the number of batches per epoch."""
        return self.steps_per_epoch

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose batches :meth:`__iter__` yields (called by Lightning)."""
        self.epoch = epoch

    def resume_at(self, *, epoch: int, step: int) -> None:
        """Make the next iteration yield the batches of ``epoch`` from ``step`` on (a resumed run).

        Later iterations start at step 0 of whatever epoch :meth:`set_epoch` selects.

        Raises:
            InvalidConfigError: ``step`` is outside ``[0, steps_per_epoch]`` or ``epoch`` is negative.
        """
        if epoch < 0 or not 0 <= step <= self.steps_per_epoch:
            raise InvalidConfigError(
                f"cannot resume at epoch {epoch}, step {step} of a {self.steps_per_epoch}-step epoch"
            )
        self.epoch = epoch
        self._start_step = step

    def __iter__(self) -> Iterator[TreatmentBatch]:
        """Yield this rank's batches of the current epoch (see :meth:`sample_batch`)."""
        # Read the position now, not lazily: Lightning may call iter() before the first next().
        epoch, start = self.epoch, self._start_step
        self._start_step = 0
        return (self.sample_batch(step, epoch=epoch) for step in range(start, self.steps_per_epoch))

    def sample_batch(self, step: int, *, epoch: int | None = None) -> TreatmentBatch:
        """Return this rank's batch of ``step`` in ``epoch`` (default: the current epoch).

        Returns:
            ``treated_1``, ``treated_2``, ``control_1``, ``control_2`` (crop ids, int64),
            ``compound_index`` (int64 index into :attr:`compounds`) and ``control_labels_1``,
            ``control_labels_2`` (int64, index into :attr:`compounds` or :data:`DMSO_LABEL`), each of
            shape ``(batch_rows,)``, and ``crops`` (int64 crop ids, any crop of the splits), of shape
            ``(2 * batch_rows,)``.
        """
        rng = np.random.default_rng([self.seed, self.epoch if epoch is None else epoch, step])
        n_global = self.batch_rows * self.world_size
        n_treated = self._t_crop.size
        first = rng.choice(n_treated, size=n_global, replace=n_global > n_treated)
        second = np.array([self._draw_replicate(i, rng) for i in first], dtype=np.int64)
        control_1, labels_1 = self._draw_controls(first, rng)
        control_2, labels_2 = self._draw_controls(second, rng)
        n_all = self._all_crops.size
        crops = self._all_crops[rng.choice(n_all, size=2 * n_global, replace=2 * n_global > n_all)]
        mine = slice(self.rank * self.batch_rows, (self.rank + 1) * self.batch_rows)
        mine_2 = slice(2 * self.rank * self.batch_rows, 2 * (self.rank + 1) * self.batch_rows)
        return {
            "treated_1": self._t_crop[first][mine],
            "treated_2": self._t_crop[second][mine],
            "control_1": control_1[mine],
            "control_2": control_2[mine],
            "compound_index": self._t_compound[first][mine],
            "control_labels_1": labels_1[mine],
            "control_labels_2": labels_2[mine],
            "crops": crops[mine_2],
        }

    def _draw_replicate(self, i: int, rng: np.random.Generator) -> int:
        """Return the position of another crop of i's compound (``second_view``: reference or tiered)."""
        k = self._t_compound[i]
        lo, hi = self._starts[k], self._starts[k + 1]
        if self.second_view == "reference":  # any crop of another image of the compound
            candidates = np.flatnonzero(self._t_image[lo:hi] != self._t_image[i])
            return lo + candidates[rng.integers(candidates.size)]
        for tier in (
            self._t_source[lo:hi] != self._t_source[i],
            self._t_batch[lo:hi] != self._t_batch[i],
            self._t_plate[lo:hi] != self._t_plate[i],
            self._t_well[lo:hi] != self._t_well[i],  # well codes are unique across plates
        ):
            candidates = np.flatnonzero(tier)
            if candidates.size:
                return lo + candidates[rng.integers(candidates.size)]
        raise AssertionError("unreachable: compounds in one well are dropped in __init__")

    def _draw_controls(
        self, positions: np.ndarray, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """Return a control crop id and its label for each treated position (nearest level first)."""
        ids = np.empty(positions.size, dtype=np.int64)
        labels = np.empty(positions.size, dtype=np.int64)
        for row, i in enumerate(positions):  # B rows: the draws stay one rng call per row, in order
            plate, compound, level = self._t_plate[i], self._t_compound[i], self._t_level[i]
            ids[row], labels[row] = self._pools[level].draw_excluding(
                self._plate_levels[plate, level], compound, rng
            )
        return ids, labels


class _ControlPool:
    """Control candidates grouped by the value of one level (plate, batch or source), sorted by label.

    Group v owns positions ``starts[v]:starts[v + 1]``; within it the labels are sorted, so the crops of
    one compound form a block that a draw skips in O(log n).
    """

    def __init__(
        self, crop_ids: np.ndarray, labels: np.ndarray, values: np.ndarray, *, n_values: int
    ) -> None:
        order = np.lexsort((labels, values))
        self.crop_ids, self.labels = crop_ids[order], labels[order]
        self.starts = np.searchsorted(values[order], np.arange(n_values + 1))

    def _span(self, value: int, excluded: int) -> tuple[int, int, int, int]:
        lo, hi = self.starts[value], self.starts[value + 1]
        group = self.labels[lo:hi]
        return (
            lo,
            hi,
            lo + np.searchsorted(group, excluded, "left"),
            lo + np.searchsorted(group, excluded, "right"),
        )

    def counts_excluding(self, values: np.ndarray, excluded: np.ndarray) -> np.ndarray:
        """Return, for each i, how many candidates of group ``values[i]`` have a label not ``excluded[i]``.

        Vectorised over all queries: the sorted (group, label) pairs are searched as one int64 key.
        """
        values, excluded = np.asarray(values, dtype=np.int64), np.asarray(excluded, dtype=np.int64)
        if not values.size:
            return np.zeros(0, dtype=np.int64)
        sizes = self.starts[values + 1] - self.starts[values]
        if not self.labels.size:
            return sizes
        # Labels run from DMSO_LABEL (-1) up; shifted to >= 0 they order the key within a group.
        low = min(int(self.labels.min()), int(excluded.min()))
        width = max(int(self.labels.max()), int(excluded.max())) - low + 1
        group_of = np.repeat(np.arange(self.starts.size - 1, dtype=np.int64), np.diff(self.starts))
        keys = group_of * width + (self.labels - low)  # sorted: the pool is sorted by (group, label)
        target = values * width + (excluded - low)
        same = np.searchsorted(keys, target, "right") - np.searchsorted(keys, target, "left")
        return sizes - same

    def draw_excluding(self, value: int, excluded: int, rng: np.random.Generator) -> tuple[int, int]:
        """Return a uniform candidate (crop id, label) of group ``value`` whose label is not ``excluded``."""
        lo, hi, a, b = self._span(value, excluded)
        r = lo + int(rng.integers((hi - lo) - (b - a)))
        if r >= a:
            r += b - a
        return int(self.crop_ids[r]), int(self.labels[r])
