"""Screen metadata: join plates, wells, compounds and the image index; assign train/val/test/OOD splits.

Knows nothing of Kedro; imports only pandas, numpy and micon's schema, errors and quarantine.
"""

from micon.metadata.joins import WELL_METADATA_COLUMNS, join_well_metadata
from micon.metadata.load_data import join_image_index
from micon.metadata.splits import SplitConfig, assign_splits, split_by_molecule, split_summary

__all__ = [
    "WELL_METADATA_COLUMNS",
    "SplitConfig",
    "assign_splits",
    "join_image_index",
    "join_well_metadata",
    "split_by_molecule",
    "split_summary",
]
