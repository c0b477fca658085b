"""Nodes of the synthetic pipeline: generate the embedded default screen in the JUMP layout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from micon.sources.synthetic import (
    CELL_COUNT_COLUMN,
    SYNTHETIC_PROFILE,
    SyntheticScreenConfig,
    generate_screen,
)

logger = logging.getLogger(__name__)


def generate_synthetic_screen(
    params: dict[str, Any],
) -> tuple[
    pd.DataFrame,
    pd.DataFrame,
    pd.DataFrame,
    pd.DataFrame,
    dict[str, Callable[[], np.ndarray]],
    dict[str, Any],
    pd.DataFrame,
    pd.DataFrame,
]:
    """Generate the seeded synthetic screen: raw tables, image index, lazy fields, profile, known truth."""
    screen = generate_screen(SyntheticScreenConfig(**params))
    logger.info(
        "synthetic screen: %d plates, %d wells, %d compounds (%d active), %d sites, %d cells, %d images",
        len(screen.plate_table),
        len(screen.well_table),
        len(screen.compound_table),
        int(screen.compound_annotations["is_active"].sum()),
        len(screen.image_index),
        int(screen.well_truth[CELL_COUNT_COLUMN].sum()),
        len(screen.fields),
    )
    return (
        screen.plate_table,
        screen.well_table,
        screen.compound_table,
        screen.image_index,
        screen.fields,
        SYNTHETIC_PROFILE.to_dict(),
        screen.well_truth,
        screen.compound_annotations,
    )
