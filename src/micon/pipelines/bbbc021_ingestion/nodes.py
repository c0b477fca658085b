"""Nodes of the bbbc021_ingestion pipeline: BBBC021 metadata and images into the project's raw layout."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np
import pandas as pd

from micon.contracts import conform_raw_tables
from micon.sources.bbbc021 import (
    BBBC021_PROFILE,
    Bbbc021Tables,
    png_channel_loaders,
    read_official_layout,
    read_png_subset,
)

logger = logging.getLogger(__name__)

RawTables = tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame, dict[str, Any]]


def _unpack(tables: Bbbc021Tables) -> RawTables:
    """Return the raw tables, checked against the raw contract (micon.contracts), and the profile."""
    checked = conform_raw_tables(
        tables.plate_table,
        tables.well_table,
        tables.compound_table,
        tables.image_index,
        channels=BBBC021_PROFILE.channels,
    )
    return (*checked, BBBC021_PROFILE.to_dict())


def read_bbbc021_png_subset(
    png_metadata: pd.DataFrame, png_fields: Mapping[str, Callable[[], object]]
) -> tuple[
    pd.DataFrame,
    pd.DataFrame,
    pd.DataFrame,
    pd.DataFrame,
    dict[str, Any],
    dict[str, Callable[[], np.ndarray]],
]:
    """Turn the PNG subset into raw tables, its profile and one (lazily written) TIFF per channel image."""
    tables = read_png_subset(png_metadata)
    loaders = png_channel_loaders(tables.image_index, png_fields)
    logger.info("BBBC021 PNG subset: %d PNGs -> %d channel images", len(png_fields), len(loaders))
    return (*_unpack(tables), loaders)


def read_bbbc021_official(
    image_table: pd.DataFrame, moa_table: pd.DataFrame, compound_smiles: pd.DataFrame
) -> RawTables:
    """Turn the official BBBC021 metadata into raw tables and its profile (the TIFFs are read in place)."""
    return _unpack(read_official_layout(image_table, moa_table, compound_smiles))
