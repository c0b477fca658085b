"""Nodes of the data_engineering pipeline: metadata joins, standardisation, splits, crops, cell features."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig, standardize_compounds
from micon.imaging.cell_features import CellFeaturesConfig, measure_cell_features
from micon.imaging.controls import ControlsConfig, enforce_plate_controls
from micon.imaging.crops import StoredCrops
from micon.imaging.extraction import MASK_PLANES, CropExtraction, CropExtractionConfig
from micon.imaging.intensity_statistics import measure_intensity_statistics
from micon.imaging.parallel_extraction import ExtractionClusterConfig, extract_crops_to_store
from micon.metadata.joins import join_well_metadata
from micon.metadata.load_data import join_image_index, quarantine_wells_without_sites
from micon.metadata.provenance import (
    CROP_STORE_ID,
    content_digest,
    recorded_id,
    require_crops_of_index,
    with_ids,
)
from micon.metadata.splits import SplitConfig, assign_splits, split_by_molecule, split_summary
from micon.profile import SourceProfile
from micon.schema import feature_columns

logger = logging.getLogger(__name__)


def standardize_compound_table(
    compound_table: pd.DataFrame, params: dict[str, Any], parallel_params: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Standardise each compound's SMILES over worker processes; rows RDKit cannot use go to quarantine."""
    accepted, quarantined = standardize_compounds(
        compound_table, StandardizationConfig(**params), ParallelConfig(**parallel_params)
    )
    logger.info("standardised %d compounds, quarantined %d", len(accepted), len(quarantined))
    return accepted, quarantined


def join_wells(
    plate_table: pd.DataFrame,
    well_table: pd.DataFrame,
    standardized_compounds: pd.DataFrame,
    source_profile: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Join wells with their plate and standardised compound; orphan wells go to quarantine."""
    joined, quarantined = join_well_metadata(
        plate_table, well_table, standardized_compounds, profile=SourceProfile.from_dict(source_profile)
    )
    logger.info("joined %d wells, quarantined %d", len(joined), len(quarantined))
    return joined, quarantined


def split_wells(
    joined_wells: pd.DataFrame, params: dict[str, Any], source_profile: dict[str, Any]
) -> pd.DataFrame:
    """Assign each well a split by the source's policy: held-out sources/batches/compounds, or by molecule."""
    if SourceProfile.from_dict(source_profile).split_policy == "molecule_known":
        well_metadata = split_by_molecule(joined_wells)
    else:
        well_metadata = assign_splits(joined_wells, SplitConfig(**params))
    logger.info("wells per split and source:\n%s", split_summary(well_metadata).to_string())
    return well_metadata


def join_sites(
    image_index: pd.DataFrame, well_metadata: pd.DataFrame, source_profile: dict[str, Any]
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Attach well metadata to each imaged site; unusable sites and unimaged accepted wells to quarantine."""
    channels = SourceProfile.from_dict(source_profile).channels
    sites, quarantined = join_image_index(image_index, well_metadata, channels=channels)
    unimaged = quarantine_wells_without_sites(well_metadata, image_index, sites)
    logger.info(
        "%d sites to process, quarantined %d sites and %d wells without a site",
        len(sites),
        len(quarantined),
        len(unimaged),
    )
    return sites, quarantined, unimaged


def extract_cell_crops(  # noqa: PLR0913
    site_table: pd.DataFrame,
    field_images: Mapping[str, Callable[[], np.ndarray]],
    crop_store_writer: Any,
    crop_masks_writer: Any,
    params: dict[str, Any],
    cluster_params: dict[str, Any],
    controls_params: dict[str, Any],
    source_profile: dict[str, Any],
) -> tuple[pd.DataFrame, StoredCrops, StoredCrops, pd.DataFrame, pd.DataFrame]:
    """Detect nuclei, grow their cells, cut one crop and its masks per cell; crops in the profile's channels.

    The sites run as Dask tasks (``data_engineering.extraction``), a plate's sites at a time, each
    writing its crops and masks as one part of the crop store and the mask store through the writers
    (``crop_store_writer``, ``crop_masks_writer``: the stores' save paths); saving ``crop_store`` and
    ``crop_masks`` commits the parts. After image QC, where the profile's controls are DMSO wells, each
    plate's usable DMSO wells are counted and the controls policy applied (``data_engineering.controls``):
    the crops of a quarantined plate stay in the stores, out of the crop index. The crop index, crop
    store and crop masks record one write id, the digest of the index and of every part's pixels
    (``micon.metadata.provenance``), which every stage reading them together checks.
    """
    profile = SourceProfile.from_dict(source_profile)
    channels = profile.channels
    config = CropExtractionConfig(**params)
    stored = extract_crops_to_store(
        site_table,
        field_images,
        config,
        ExtractionClusterConfig(**cluster_params),
        channels=channels,
        nuclear_channel=profile.nuclear_channel,
        cytoplasm_channels=profile.cytoplasm_channels,
        crops_writer=crop_store_writer,
        masks_writer=crop_masks_writer,
    )
    extraction = CropExtraction(
        crop_index=stored.crop_index,
        crops=None,
        masks=None,
        quarantine=stored.quarantine,
        site_summary=stored.site_summary,
    )
    if profile.controls == "dmso":
        extraction = enforce_plate_controls(extraction, site_table, ControlsConfig(**controls_params))
    logger.info(
        "extracted %d crops from %d sites in %d parts; quarantined %d sites",
        len(extraction.crop_index),
        len(extraction.site_summary),
        len(stored.crop_parts),
        len(extraction.quarantine),
    )
    write_id = content_digest([extraction.crop_index, *stored.part_digests])
    size = config.crop_size_px
    crops = crop_store_writer.open(stored.crop_parts, chw=(len(channels), size, size), dtype="uint16")
    masks = crop_masks_writer.open(stored.mask_parts, chw=(len(MASK_PLANES), size, size), dtype="bool")
    return (
        with_ids(extraction.crop_index, **{CROP_STORE_ID: write_id}),
        StoredCrops(stored.crop_parts, tuple(channels), write_id, crops),
        StoredCrops(stored.mask_parts, MASK_PLANES, write_id, masks),
        extraction.quarantine,
        extraction.site_summary,
    )


def measure_intensity_features(crop_store: Any, crop_masks: Any, crop_index: pd.DataFrame) -> pd.DataFrame:
    """Measure raw intensity statistics inside each crop's cell: the crop embeddings of the intensity floor.

    The three stores must come from one extraction (the write id each records).
    """
    require_crops_of_index(crop_index, crop_store, "crop_store")
    require_crops_of_index(crop_index, crop_masks, "crop_masks")
    features = measure_intensity_statistics(
        crop_store.crops, crop_masks.crops, crop_index, channels=crop_store.channels
    )
    logger.info(
        "measured %d intensity statistics of %d cells", len(feature_columns(features.columns)), len(features)
    )
    return with_ids(features, **{CROP_STORE_ID: recorded_id(crop_index, CROP_STORE_ID)})


def measure_cellprofiler_features(
    crop_store: Any,
    crop_masks: Any,
    crop_index: pd.DataFrame,
    params: dict[str, Any],
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Measure CellProfiler-style features of each crop's cell: the crop embeddings of 'CellProfiler'.

    ``crop_store`` and ``crop_masks`` are stores as loaded: ``crops`` (a read-only array) with the
    ``channels`` that name its planes (the crop store's are the source profile's, recorded at save).
    The three must come from one extraction (the write id each records).
    """
    require_crops_of_index(crop_index, crop_store, "crop_store")
    require_crops_of_index(crop_index, crop_masks, "crop_masks")
    result = measure_cell_features(
        crop_store.crops,
        crop_masks.crops,
        crop_index,
        CellFeaturesConfig(**params),
        channels=crop_store.channels,
    )
    logger.info(
        "measured %d features of %d cells; quarantined %d",
        len(feature_columns(list(result.features.columns))),
        len(result.features),
        len(result.quarantine),
    )
    features = with_ids(result.features, **{CROP_STORE_ID: recorded_id(crop_index, CROP_STORE_ID)})
    return features, result.quarantine
