"""Image processing without Kedro: field QC, nucleus and cell segmentation, crops, masks, cell features."""

from micon.imaging.cell_features import CellFeatures, CellFeaturesConfig, measure_cell_features
from micon.imaging.cells import CellsConfig, segment_cells
from micon.imaging.crops import extract_crops
from micon.imaging.extraction import CropExtraction, CropExtractionConfig, extract_crop_table
from micon.imaging.nuclei import NucleiConfig, detect_nuclei, segment_nuclei
from micon.imaging.qc import check_channel_shapes, check_field

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
