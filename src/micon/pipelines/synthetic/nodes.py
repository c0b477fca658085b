"""Nodes of the synthetic pipeline: generate the embedded default screen in the JUMP layout."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from micon.sources.synthetic import SYNTHETIC_PROFILE, SyntheticScreenConfig, generate_screen

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
]:
    """Generate the seeded synthetic screen: raw tables, image index, lazy fields, profile, phenotypes."""
    screen = generate_screen(SyntheticScreenConfig(**params))
    logger.info(
        "synthetic screen: %d plates, %d wells, %d compounds, %d sites, %d channel images",
        len(screen.plate_table),
        len(screen.well_table),
        len(screen.compound_table),
        len(screen.image_index),
        len(screen.fields),
    )
    return (
        screen.plate_table,
        screen.well_table,
        screen.compound_table,
        screen.image_index,
        screen.fields,
        SYNTHETIC_PROFILE.to_dict(),
        screen.phenotypes.reset_index(),
    )
