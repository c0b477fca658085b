"""Nodes of the jump_ingestion pipeline: select part of JUMP cpg0016 and copy its sites to the raw layer."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError
from micon.imaging.illumination import corrected_image_loaders
from micon.sources.jump import (
    JUMP_PROFILE,
    JumpSelectionConfig,
    assemble_image_index,
    check_site_files,
    illumination_key_of,
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


def ingest_jump_images(
    plate_table: pd.DataFrame,
    well_table: pd.DataFrame,
    jump_gallery: Any,
    selection: dict[str, Any] | None,
    illumination_correction: bool,
) -> tuple[pd.DataFrame, dict[str, Callable[[], np.ndarray]], pd.DataFrame, pd.DataFrame]:
    """Read the plates' load_data, index the selected sites and return lazy (corrected) image loaders.

    ``jump_gallery`` is a ``micon.datasets.FileStore`` (the bucket or a local mirror). The loaders
    are called one at a time when ``field_images`` is saved, so each image is read once.
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
        logger.warning("load_data has no illumination columns: images are copied uncorrected")
    keys_of = site_file_keys(image_index, illumination=illumination)
    keys = {k for series in keys_of.values() for k in series}
    existing = jump_gallery.existing(keys)
    outside_root = {k for k in keys if jump_gallery.is_outside_root(k)}
    image_index, file_quarantine = check_site_files(
        image_index, existing, illumination=illumination, outside_root=outside_root
    )
    illum_key_of = illumination_key_of(image_index, illumination=illumination)
    loaders = corrected_image_loaders(illum_key_of, jump_gallery.read_array)
    site_quarantine = pd.concat([path_quarantine, file_quarantine], ignore_index=True)
    logger.info(
        "jump ingestion: %d sites (%d images, illumination correction %s) from %s; %d sites quarantined",
        len(image_index),
        len(loaders),
        "on" if illumination else "off",
        jump_gallery.root_url,
        len(site_quarantine),
    )
    return image_index, loaders, plate_quarantine, site_quarantine
