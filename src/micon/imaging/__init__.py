"""Image processing without Kedro: field QC, nucleus detection, crops and the per-site crop table."""

from micon.imaging.crops import extract_crops
from micon.imaging.extraction import CropExtraction, CropExtractionConfig, extract_crop_table
from micon.imaging.nuclei import NucleiConfig, detect_nuclei
from micon.imaging.qc import check_channel_shapes, check_field

__all__ = [
    "CropExtraction",
    "CropExtractionConfig",
    "NucleiConfig",
    "check_channel_shapes",
    "check_field",
    "detect_nuclei",
    "extract_crop_table",
    "extract_crops",
]
