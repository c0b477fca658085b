"""Throughput of the CellProfiler-style feature groups (cells/s on one core), printed as a table.

Usage: ``uv run python benchmarks/bench_cell_features.py [--cells N]``. Crops and masks come from a
small synthetic screen run through crop extraction in-process, so no data folder is needed.
"""

from __future__ import annotations

import argparse
import logging
import time
from dataclasses import replace

import numpy as np
import pandas as pd

from micon import schema
from micon.imaging.cell_features import CellFeaturesConfig, measure_batch, texture_reference
from micon.imaging.extraction import CropExtractionConfig, extract_crop_table
from micon.project_parameters import make_config
from micon.sources.synthetic import SYNTHETIC_PROFILE, SyntheticScreenConfig, generate_screen

ALL_OFF = {
    "intensity": False,
    "texture": False,
    "shape": False,
    "radial_distribution": False,
    "correlation": False,
}


def synthetic_cells(n_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Return at least ``n_cells`` crops and masks of a synthetic screen (32-px crops)."""
    screen = generate_screen(
        make_config(
            SyntheticScreenConfig,
            "synthetic",
            n_sources=1,
            n_batches_per_source=2,
            n_plates_per_batch=2,
            sites_per_well=1,
        )
    )
    extraction = extract_crop_table(
        screen.image_index,
        screen.fields,
        make_config(CropExtractionConfig, "data_engineering.crops", crop_size_px=32),
        channels=SYNTHETIC_PROFILE.channels,
        nuclear_channel=SYNTHETIC_PROFILE.nuclear_channel,
        cytoplasm_channels=SYNTHETIC_PROFILE.cytoplasm_channels,
    )
    return extraction.crops[:n_cells], extraction.masks[:n_cells]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cells", type=int, default=1024, help="cells per timing (one batch)")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    crops, masks = synthetic_cells(args.cells)
    base = make_config(CellFeaturesConfig, "data_engineering.cell_features", batch_size=len(crops))
    reference = texture_reference(crops, base.texture_percentile)
    groups = {
        "shape (AreaShape + Feret)": {"shape": True, "zernike_degree": 0},
        "shape + Zernike (degree 9)": {"shape": True},
        "intensity": {"intensity": True},
        "texture, 1 scale": {"texture": True, "texture_scales": (3,)},
        "texture, scales 1 and 3": {"texture": True},
        "radial distribution (Cells)": {"radial_distribution": True},
        "correlation (Cells)": {"correlation": True},
        "all (default config)": {},
    }
    measure_batch(crops[:8], masks[:8], schema.CHANNELS, base, reference)  # load numba's compiled kernels
    rows = []
    for name, switches in groups.items():
        config = replace(base, **({**ALL_OFF, **switches} if switches else {}))
        start = time.perf_counter()
        values, names = measure_batch(crops, masks, schema.CHANNELS, config, reference)
        seconds = time.perf_counter() - start
        rows.append((name, len(names), len(crops) / seconds, float(np.isfinite(values).all(axis=1).mean())))
    table = pd.DataFrame(rows, columns=["feature group", "features", "cells/s (1 core)", "finite rows"])
    print(f"{len(crops)} cells of 5x32x32")
    print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))


if __name__ == "__main__":
    main()
