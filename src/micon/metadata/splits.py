"""Assign each well a split: held-out sources, held-out batches per source, held-out compounds.

Order of assignment: (1) every well of a held-out source is ``ood_source``; (2) in each other source,
whole batches are ``test``, ``val`` or ``train`` (so no batch spans two of them, and DMSO wells follow
their plate's batch); (3) treated wells of held-out compounds that landed in train/val/test become
``ood_compound``. DMSO is never a held-out compound. Every random choice is drawn from
``SplitConfig.seed`` over sorted candidates, so the result depends only on the data and the config.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.quarantine import require_columns

logger = logging.getLogger(__name__)


def _check_ids(name: str, ids: tuple[str, ...] | None) -> None:
    """Raise unless ``ids`` is None or a non-empty tuple of distinct non-empty strings."""
    if ids is None:
        return
    if not isinstance(ids, tuple) or not ids:
        raise InvalidConfigError(f"SplitConfig.{name} must be None or a non-empty tuple, got {ids!r}")
    bad = [i for i in ids if not isinstance(i, str) or not i]
    if bad:
        raise InvalidConfigError(f"SplitConfig.{name} holds non-string or empty id(s) {bad}")
    if len(set(ids)) != len(ids):
        raise InvalidConfigError(f"SplitConfig.{name} repeats an id: {ids!r}")


def _check_count(name: str, value: int) -> None:
    """Raise unless ``value`` is an int >= 0."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise InvalidConfigError(f"SplitConfig.{name} must be an int >= 0, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class SplitConfig:
    """How wells are split.

    Attributes:
        seed: Seed of every random choice.
        ood_sources: Sources held out whole (``ood_source``); None: draw ``n_ood_sources`` by seed.
        n_ood_sources: How many sources to draw when ``ood_sources`` is None (0: none held out).
        test_batches_per_source: Batches per remaining source that become ``test``.
        val_batches_per_source: Batches per remaining source that become ``val``.
        ood_compound_fraction: Fraction of treated compounds (outside held-out sources) held out,
            rounded half up; used when ``ood_compounds`` is None.
        ood_compounds: JCP2022 ids held out explicitly (never DMSO); None: draw by fraction.
    """

    seed: int
    ood_sources: tuple[str, ...] | None
    n_ood_sources: int
    test_batches_per_source: int
    val_batches_per_source: int
    ood_compound_fraction: float
    ood_compounds: tuple[str, ...] | None

    def __post_init__(self) -> None:
        for name in ("ood_sources", "ood_compounds"):
            if isinstance(getattr(self, name), list):  # parameters files give lists
                object.__setattr__(self, name, tuple(getattr(self, name)))
        _check_count("seed", self.seed)
        _check_count("n_ood_sources", self.n_ood_sources)
        _check_count("test_batches_per_source", self.test_batches_per_source)
        _check_count("val_batches_per_source", self.val_batches_per_source)
        _check_ids("ood_sources", self.ood_sources)
        _check_ids("ood_compounds", self.ood_compounds)
        fraction = self.ood_compound_fraction
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0.0 <= fraction < 1.0:
            raise InvalidConfigError(
                f"SplitConfig.ood_compound_fraction must be a number in [0, 1), got {fraction!r}"
            )
        if self.ood_compounds is not None and schema.DMSO_JCP2022 in self.ood_compounds:
            raise InvalidConfigError(
                f"SplitConfig.ood_compounds holds DMSO ({schema.DMSO_JCP2022}); the control is never held out"
            )


def _choose(candidates: list[str], n: int, rng: np.random.Generator) -> list[str]:
    """Return ``n`` of the sorted ``candidates`` drawn without replacement, in sorted order."""
    ordered = sorted(candidates)
    picked = rng.choice(len(ordered), size=n, replace=False) if n else []
    return sorted(ordered[i] for i in picked)


def _held_out_sources(sources: list[str], config: SplitConfig, rng: np.random.Generator) -> list[str]:
    """Return the held-out sources: the configured ones (checked) or ``n_ood_sources`` drawn."""
    if config.ood_sources is not None:
        unknown = sorted(set(config.ood_sources) - set(sources))
        if unknown:
            raise InvalidConfigError(f"SplitConfig.ood_sources {unknown} are not among the sources {sources}")
        held_out = sorted(config.ood_sources)
    else:
        if config.n_ood_sources > len(sources):
            raise InvalidConfigError(
                f"SplitConfig.n_ood_sources={config.n_ood_sources} exceeds the "
                f"{len(sources)} sources {sources}"
            )
        held_out = _choose(sources, config.n_ood_sources, rng)
    if len(held_out) == len(sources):
        raise InvalidConfigError(
            f"holding out sources {held_out} leaves no source to train on (sources: {sources})"
        )
    return held_out


def _held_out_compounds(treated: list[str], config: SplitConfig, rng: np.random.Generator) -> list[str]:
    """Return the held-out compounds: the configured ones (checked) or a seeded fraction of ``treated``."""
    if config.ood_compounds is not None:
        unknown = sorted(set(config.ood_compounds) - set(treated))
        if unknown:
            raise InvalidConfigError(
                f"SplitConfig.ood_compounds {unknown} are not treated compounds outside the held-out sources"
            )
        return sorted(config.ood_compounds)
    n = math.floor(config.ood_compound_fraction * len(treated) + 0.5)
    return _choose(treated, n, rng)


def assign_splits(well_metadata: pd.DataFrame, config: SplitConfig) -> pd.DataFrame:
    """Return a copy of ``well_metadata`` with ``Metadata_Split`` set for every well.

    Args:
        well_metadata: One row per well with ``Metadata_Source``, ``Metadata_Batch`` and
            ``Metadata_JCP2022`` (``Metadata_IsControl`` is used when present, else JCP2022 == DMSO).
        config: Held-out sources, batches and compounds.

    Returns:
        The wells in input order with ``Metadata_Split`` in ``schema.SPLITS`` (an existing split
        column is replaced).

    Raises:
        MissingColumnsError: A required column is missing.
        InvalidInputError: ``well_metadata`` is empty.
        InvalidConfigError: A configured source or compound is absent, every source would be held
            out, or a source has too few batches to give test and val batches and keep a train batch
            (the message names the source and its batches).
    """
    require_columns(well_metadata, [schema.SOURCE, schema.BATCH, schema.JCP2022], table_name="well metadata")
    if well_metadata.empty:
        raise InvalidInputError("well metadata is empty: there is no well to split")
    source_rng, batch_rng, compound_rng = (
        np.random.default_rng(s) for s in np.random.SeedSequence(config.seed).spawn(3)
    )
    wells = well_metadata.copy()
    source = wells[schema.SOURCE].astype("str")
    batch = wells[schema.BATCH].astype("str")
    if schema.IS_CONTROL in wells.columns:
        is_control = wells[schema.IS_CONTROL].astype(bool)
    else:
        is_control = wells[schema.JCP2022] == schema.DMSO_JCP2022

    held_out_sources = _held_out_sources(sorted(source.unique()), config, source_rng)
    split = pd.Series(schema.SPLIT_TRAIN, index=wells.index, dtype="object")
    split[source.isin(held_out_sources)] = schema.SPLIT_OOD_SOURCE

    n_held = config.test_batches_per_source + config.val_batches_per_source
    for name in sorted(set(source.unique()) - set(held_out_sources)):
        in_source = source == name
        batches = sorted(batch[in_source].unique())
        if len(batches) < n_held + 1:
            raise InvalidConfigError(
                f"source {name!r} has {len(batches)} batch(es) {batches}; test_batches_per_source="
                f"{config.test_batches_per_source} + val_batches_per_source={config.val_batches_per_source} "
                "would leave no train batch"
            )
        order = [batches[i] for i in batch_rng.permutation(len(batches))]
        test_batches = order[: config.test_batches_per_source]
        val_batches = order[config.test_batches_per_source : n_held]
        split[in_source & batch.isin(test_batches)] = schema.SPLIT_TEST
        split[in_source & batch.isin(val_batches)] = schema.SPLIT_VAL

    in_domain = split != schema.SPLIT_OOD_SOURCE
    treated = sorted(wells.loc[in_domain & ~is_control, schema.JCP2022].astype("str").unique())
    held_out_compounds = _held_out_compounds(treated, config, compound_rng)
    split[in_domain & ~is_control & wells[schema.JCP2022].isin(held_out_compounds)] = (
        schema.SPLIT_OOD_COMPOUND
    )

    wells[schema.SPLIT] = split.astype("str")
    logger.info(
        "assign_splits: held-out sources %s, %d of %d treated compounds held out; wells per split %s",
        held_out_sources,
        len(held_out_compounds),
        len(treated),
        wells[schema.SPLIT].value_counts().to_dict(),
    )
    return wells


def split_by_molecule(well_metadata: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``well_metadata`` split by whether each well's compound has a usable molecule.

    The ``molecule_known`` policy of a source profile (BBBC021): a well whose compound has a standardised
    SMILES is ``train``; any other is ``ood_compound``, kept for image-only methods and the evaluation but
    never drawn for training (the molecule encoder cannot see it). No source or batch is held out.

    Args:
        well_metadata: One row per well with ``Metadata_StandardSMILES`` (missing where no molecule).

    Returns:
        The wells in input order with ``Metadata_Split``.

    Raises:
        MissingColumnsError: ``Metadata_StandardSMILES`` is missing.
        InvalidInputError: ``well_metadata`` is empty.
    """
    require_columns(well_metadata, [schema.STANDARD_SMILES, schema.JCP2022], table_name="well metadata")
    if well_metadata.empty:
        raise InvalidInputError("well metadata is empty: there is no well to split")
    wells = well_metadata.copy()
    has_molecule = wells[schema.STANDARD_SMILES].notna().to_numpy()
    wells[schema.SPLIT] = np.where(has_molecule, schema.SPLIT_TRAIN, schema.SPLIT_OOD_COMPOUND)
    held_out = sorted(wells.loc[~has_molecule, schema.JCP2022].astype("str").unique())
    logger.info(
        "split_by_molecule: %d wells of %d compounds without a usable SMILES are held out of training "
        "(split %s): %s",
        int((~has_molecule).sum()),
        len(held_out),
        schema.SPLIT_OOD_COMPOUND,
        held_out,
    )
    return wells


def split_summary(well_metadata: pd.DataFrame) -> pd.DataFrame:
    """Count wells, DMSO wells and compounds per split and source.

    Args:
        well_metadata: Wells with ``Metadata_Split``, ``Metadata_Source`` and ``Metadata_JCP2022``.

    Returns:
        One row per (split, source) present, ordered by ``schema.SPLITS`` then source, with columns
        ``Metadata_Split``, ``Metadata_Source``, ``n_wells``, ``n_dmso_wells``, ``n_compounds``
        (distinct JCP2022 ids, DMSO included).

    Raises:
        MissingColumnsError: A required column is missing.
    """
    require_columns(well_metadata, [schema.SPLIT, schema.SOURCE, schema.JCP2022], table_name="well metadata")
    if schema.IS_CONTROL in well_metadata.columns:
        is_dmso = well_metadata[schema.IS_CONTROL].astype(bool)
    else:
        is_dmso = well_metadata[schema.JCP2022] == schema.DMSO_JCP2022
    grouped = well_metadata.assign(_dmso=is_dmso).groupby([schema.SPLIT, schema.SOURCE], sort=False)
    summary = grouped.agg(
        n_wells=(schema.JCP2022, "size"),
        n_dmso_wells=("_dmso", "sum"),
        n_compounds=(schema.JCP2022, "nunique"),
    ).reset_index()
    order = {name: i for i, name in enumerate(schema.SPLITS)}
    summary["_order"] = summary[schema.SPLIT].map(order).fillna(len(order))
    summary = summary.sort_values(["_order", schema.SOURCE], kind="stable").drop(columns="_order")
    return summary.astype({"n_wells": "int64", "n_dmso_wells": "int64", "n_compounds": "int64"}).reset_index(
        drop=True
    )
