"""Nodes of the jump_ingestion pipeline: select part of JUMP cpg0016, index its sites, read them in place.

Ingestion writes tables only (the selection, the image index with each channel image's and illumination
function's key in the gallery, quarantines); no image is copied. The images are read where they lie (the
bucket, an S3-compatible endpoint or a local mirror, through ``jump_gallery``) when crop extraction asks
for them, and divided by their illumination function on the fly.
"""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError
from micon.imaging.illumination import CorrectedFields, illumination_keys_of
from micon.sources.jump import (
    JUMP_PROFILE,
    JumpSelectionConfig,
    assemble_image_index,
    check_site_files,
    load_data_key,
    select_screen,
    site_file_keys,
)

logger = logging.getLogger(__name__)


def _selection_config(selection: dict[str, Any] | None) -> JumpSelectionConfig:
    """Return the design's selection; None (no JUMP design chosen) raises, naming ``--env jump``."""
    if selection is None:
        raise InvalidConfigError(
            "jump.selection is null: no JUMP design is chosen in this environment; run the JUMP screen with "
            "`--env jump` (conf/jump/parameters_jump.yml names the designs)"
        )
    return JumpSelectionConfig(**selection)


def select_jump_screen(
    jump_plates: pd.DataFrame,
    jump_wells: pd.DataFrame,
    jump_compounds: pd.DataFrame,
    params: dict[str, Any] | None,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """Select the design's plates, their wells and compounds from the JUMP metadata tables; JUMP's profile."""
    screen = select_screen(jump_plates, jump_wells, jump_compounds, _selection_config(params))
    profile = JUMP_PROFILE.to_dict()
    return screen.plate_table, screen.well_table, screen.compound_table, screen.quarantine, profile


def index_jump_images(
    plate_table: pd.DataFrame,
    well_table: pd.DataFrame,
    jump_gallery: Any,
    selection: dict[str, Any] | None,
    illumination_correction: bool,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Read the plates' load_data and index the selected sites whose files are all in the gallery.

    ``jump_gallery`` is a ``micon.datasets.FileStore`` (the bucket or a local mirror). Only the
    selected plates' load_data tables are read and their image and illumination folders listed; no image
    is read. The image index keeps the channels' illumination columns only when the images are to be
    corrected (``illumination_correction`` and load_data names the functions), so the index alone says
    how its images are read (:func:`read_jump_fields_in_place`).
    """
    config = _selection_config(selection)
    keys = [
        load_data_key(*row, file_name=config.load_data_file)
        for row in plate_table[list(schema.PLATE_KEY)].itertuples(index=False)
    ]
    load_data = {key: jump_gallery.read_parquet(key) for key in sorted(jump_gallery.existing(keys))}
    image_index, plate_quarantine, path_quarantine = assemble_image_index(
        plate_table, well_table, load_data, config
    )
    has_illum = schema.illum_file_name_column(schema.CHANNELS[0]) in image_index.columns
    illumination = bool(illumination_correction) and has_illum
    if illumination_correction and not has_illum:
        logger.warning("load_data has no illumination columns: images will be read uncorrected")
    if not illumination:
        image_index = image_index.drop(
            columns=[c for c in image_index.columns if c.startswith(("FileName_Illum", "PathName_Illum"))]
        )
    keys_of = site_file_keys(image_index, illumination=illumination)
    keys = {k for series in keys_of.values() for k in series}
    existing = jump_gallery.existing(keys)
    outside_root = {k for k in keys if jump_gallery.is_outside_root(k)}
    image_index, file_quarantine = check_site_files(
        image_index, existing, illumination=illumination, outside_root=outside_root
    )
    site_quarantine = pd.concat([path_quarantine, file_quarantine], ignore_index=True)
    logger.info(
        "jump ingestion: %d sites indexed (illumination correction %s) in %s; %d sites quarantined",
        len(image_index),
        "on" if illumination else "off",
        jump_gallery.root_url,
        len(site_quarantine),
    )
    return image_index, plate_quarantine, site_quarantine


def read_jump_fields_in_place(image_index: pd.DataFrame, jump_gallery: Any) -> CorrectedFields:
    """Return image key -> loader of each indexed channel image, read in place and corrected on the fly.

    Nothing is read here: each loader reads its image from ``jump_gallery`` (a ``micon.datasets.FileStore``)
    when crop extraction calls it and divides it by its plate's illumination function when the index names
    one (:class:`~micon.imaging.illumination.CorrectedFields`; functions cached per plate and channel).
    """
    fields = CorrectedFields(illumination_keys_of(image_index), jump_gallery.read_array)
    logger.info("jump fields: %d channel images read in place from %s", len(fields), jump_gallery.root_url)
    return fields
