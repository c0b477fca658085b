"""Image processing without Kedro: field QC, nucleus and cell segmentation, crops, masks, cell features.

Names are imported on first use (PEP 562), so a process that needs one module (a Dask worker unpickling a
crop store writer, an extraction task) does not import the others' dependencies (cell features, ...).
"""

from __future__ import annotations

import importlib
from typing import Any

_LAZY: dict[str, str] = {
    "CellFeatures": "micon.imaging.cell_features",
    "CellFeaturesConfig": "micon.imaging.cell_features",
    "CellsConfig": "micon.imaging.cells",
    "CropExtraction": "micon.imaging.extraction",
    "CropExtractionConfig": "micon.imaging.extraction",
    "NucleiConfig": "micon.imaging.nuclei",
    "check_channel_shapes": "micon.imaging.qc",
    "check_field": "micon.imaging.qc",
    "detect_nuclei": "micon.imaging.nuclei",
    "extract_crop_table": "micon.imaging.extraction",
    "extract_crops": "micon.imaging.crops",
    "measure_cell_features": "micon.imaging.cell_features",
    "segment_cells": "micon.imaging.cells",
    "segment_nuclei": "micon.imaging.nuclei",
}

__all__ = [
    "CellFeatures",
    "CellFeaturesConfig",
    "CellsConfig",
    "CropExtraction",
    "CropExtractionConfig",
    "NucleiConfig",
    "check_channel_shapes",
    "check_field",
    "detect_nuclei",
    "extract_crop_table",
    "extract_crops",
    "measure_cell_features",
    "segment_cells",
    "segment_nuclei",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module, __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)
