"""Aggregate per-crop embeddings into well profiles, directly or through sites (pycytominer.aggregate)."""

from __future__ import annotations

import logging
from typing import Literal

import numpy as np
import pandas as pd
import pycytominer

from micon import schema
from micon.errors import InvalidConfigError, InvalidInputError
from micon.evaluation._checks import require_features, require_metadata

logger = logging.getLogger(__name__)

# Metadata that describes a single crop, never a well, even when it happens to be constant within one.
_PER_CROP_COLUMNS: tuple[str, ...] = (schema.CROP_ID, schema.SITE, schema.CELL_X, schema.CELL_Y)
_OPERATIONS: tuple[str, ...] = ("mean", "median")


def aggregate_to_wells(
    crops: pd.DataFrame, *, operation: Literal["mean", "median"], via_sites: bool
) -> pd.DataFrame:
    """Aggregate crop embeddings to one profile per well.

    Features are aggregated by ``pycytominer.aggregate`` over the strata ``schema.WELL_KEY``; with
    ``via_sites`` the crops are first aggregated per site (``schema.SITE_KEY``) and the site profiles
    then per well, so every imaged site weighs the same whatever its cell count. The cell
    count is the number of crops of a well (``groupby().size()``, so it does not depend on a crop-id
    column being present, unlike pycytominer's ``compute_object_count``). Every ``Metadata_*`` column
    that is constant within each well is carried over (Source, Batch, Plate, PlateType, Well, JCP2022,
    StandardSMILES, StandardInChIKey, IsControl, Split); per-crop columns (CropID, Site, CellX, CellY)
    and any other column that varies within a well are dropped.

    Args:
        crops: One row per crop: ``Metadata_*`` columns (at least ``schema.WELL_KEY``) plus float
            feature columns (``emb_0000`` ...).
        operation: ``"mean"`` (the MICON reference code) or ``"median"``, used at both levels.
        via_sites: Aggregate crop -> site -> well instead of crop -> well.

    Returns:
        One row per well, sorted by ``schema.WELL_KEY``: the well-level metadata columns in their input
        order, ``schema.CELL_COUNT`` (int64) and the aggregated features (float32 for float32 input,
        else float64).

    Raises:
        InvalidConfigError: ``operation`` is not ``"mean"`` or ``"median"``.
        InvalidInputError: ``crops`` is empty or has no feature column, or a well key is missing.
        MissingColumnsError: A ``schema.WELL_KEY`` column (or, with ``via_sites``, ``schema.SITE``) is
            absent.
        InvalidFeaturesError: A feature is NaN or inf (names the column and the first crop's well).
    """
    if operation not in _OPERATIONS:
        raise InvalidConfigError(f"aggregation operation {operation!r} is not one of {list(_OPERATIONS)}")
    if crops.empty:
        raise InvalidInputError("crop embeddings are empty; nothing to aggregate")
    strata = list(schema.WELL_KEY)
    require_metadata(crops, [*strata, *([schema.SITE] if via_sites else [])], table_name="crop embeddings")
    features = schema.feature_columns(crops.columns)
    require_features(crops, features, table_name="crop embeddings")

    well_metadata = _well_level_metadata(crops, strata)
    counts = crops.groupby(strata, sort=False).size().rename(schema.CELL_COUNT).reset_index()
    population = crops.loc[:, [*schema.SITE_KEY, *features] if via_sites else [*strata, *features]]
    if via_sites:
        population = pycytominer.aggregate(
            population_df=population,
            strata=list(schema.SITE_KEY),
            features=features,
            operation=operation,
            output_file=None,
        )
    aggregated = pycytominer.aggregate(
        population_df=population.loc[:, [*strata, *features]],
        strata=strata,
        features=features,
        operation=operation,
        output_file=None,
    )
    profiles = well_metadata.merge(counts, on=strata, how="inner", validate="one_to_one").merge(
        aggregated, on=strata, how="inner", validate="one_to_one"
    )
    profiles = profiles.sort_values(strata, kind="stable").reset_index(drop=True)
    dtype = np.result_type(np.float32, *[crops[c].dtype for c in features])
    profiles[features] = profiles[features].astype(dtype)
    profiles[schema.CELL_COUNT] = profiles[schema.CELL_COUNT].astype(np.int64)

    n_wells = well_metadata.shape[0]
    if len(profiles) != n_wells:
        raise InvalidInputError(
            f"aggregate_to_wells produced {len(profiles)} rows for {n_wells} wells; this is likely a bug"
        )
    logger.info(
        "aggregated %d crops into %d wells (%s%s)",
        len(crops),
        n_wells,
        operation,
        ", via sites" if via_sites else "",
    )
    return profiles


def _well_level_metadata(crops: pd.DataFrame, strata: list[str]) -> pd.DataFrame:
    """Return one row per well with the metadata columns that are constant within every well."""
    candidates = [
        c for c in schema.metadata_columns(crops.columns) if c not in strata and c not in _PER_CROP_COLUMNS
    ]
    if candidates:
        n_unique = crops.groupby(strata, sort=False)[candidates].nunique(dropna=False)
        varying = [c for c in candidates if (n_unique[c] > 1).any()]
    else:
        varying = []
    if varying:
        logger.info("dropping metadata that varies within a well: %s", varying)
    keep = [c for c in schema.metadata_columns(crops.columns) if c in strata or c in candidates]
    keep = [c for c in keep if c not in varying]
    return crops.loc[:, keep].drop_duplicates(subset=strata, keep="first")


def reference_well_profiles(well_truth: pd.DataFrame, crop_index: pd.DataFrame) -> pd.DataFrame:
    """Return a well-level reference (e.g. a synthetic screen's known truth) as well profiles.

    The reference is scored exactly like a method's ``aggregate_to_wells`` output: the same wells (those
    with at least one crop in ``crop_index``, i.e. that passed image QC and extraction), the same
    well-level metadata (taken from the crop index, as ``aggregate_to_wells`` takes it from the crops)
    and ``schema.CELL_COUNT``, then the reference's feature columns.

    Args:
        well_truth: One row per well: ``schema.WELL_KEY``, ``schema.JCP2022`` and float feature columns
            (every non-``Metadata_*`` column is a feature).
        crop_index: One row per crop with the well metadata (``schema.WELL_KEY`` and the other
            well-level ``Metadata_*`` columns).

    Returns:
        One row per well of the crop index, sorted by ``schema.WELL_KEY``.

    Raises:
        MissingColumnsError: A key column is missing from either table.
        InvalidInputError: The reference repeats a well, lacks a well that has crops (names the first
            ones), has no feature column, or names another compound than the crop index for a well.
        InvalidFeaturesError: A reference feature is NaN or inf.
    """
    strata = list(schema.WELL_KEY)
    require_metadata(well_truth, [*strata, schema.JCP2022], table_name="reference well table")
    require_metadata(crop_index, [*strata, schema.JCP2022], table_name="crop index")
    features = schema.feature_columns(well_truth.columns)
    if not features:
        raise InvalidInputError("the reference well table has no feature column")
    require_features(well_truth, features, table_name="reference well table")
    repeated = well_truth.loc[well_truth.duplicated(strata), strata]
    if len(repeated):
        raise InvalidInputError(
            f"the reference repeats {len(repeated)} well(s), e.g. {repeated.head(3).to_dict('records')}"
        )
    metadata = _well_level_metadata(crop_index, strata)
    counts = crop_index.groupby(strata, sort=False).size().rename(schema.CELL_COUNT).reset_index()
    metadata = metadata.merge(counts, on=strata, how="inner", validate="one_to_one")
    reference = well_truth.loc[:, [*strata, schema.JCP2022, *features]].rename(
        columns={schema.JCP2022: "_reference_compound"}
    )
    profiles = metadata.merge(reference, on=strata, how="left", validate="one_to_one", indicator=True)
    missing = profiles.loc[profiles.pop("_merge") != "both", strata]
    if len(missing):
        raise InvalidInputError(
            f"the reference lacks {len(missing)} well(s) that have crops, e.g. "
            f"{missing.head(3).to_dict('records')}"
        )
    mismatch = profiles.loc[profiles[schema.JCP2022] != profiles["_reference_compound"], strata]
    if len(mismatch):
        raise InvalidInputError(
            f"the reference names another compound than the crop index for {len(mismatch)} well(s), e.g. "
            f"{mismatch.head(3).to_dict('records')}"
        )
    profiles = profiles.drop(columns="_reference_compound")
    profiles[schema.CELL_COUNT] = profiles[schema.CELL_COUNT].astype(np.int64)
    profiles[features] = profiles[features].astype(np.float64)
    n_without_crops = len(well_truth) - len(profiles)
    logger.info(
        "reference profiles: %d wells with crops; %d reference wells have no crop (quarantined upstream) "
        "and are not scored, as for every method",
        len(profiles),
        n_without_crops,
    )
    return profiles.sort_values(strata, kind="stable").reset_index(drop=True)
