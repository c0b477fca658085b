"""Wiring of the data_engineering pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import (
    extract_cell_crops,
    join_sites,
    join_wells,
    measure_cellprofiler_features,
    measure_intensity_features,
    split_wells,
    standardize_compound_table,
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from raw JUMP-layout tables and fields to crops, their masks and cell features."""
    return Pipeline(
        [
            Node(
                standardize_compound_table,
                [
                    "compound_table",
                    "params:data_engineering.standardization",
                    "params:data_engineering.standardization_parallel",
                ],
                ["standardized_compounds", "standardization_quarantine"],
                name="standardize_compound_table",
            ),
            Node(
                join_wells,
                ["plate_table", "well_table", "standardized_compounds", "source_profile"],
                ["joined_wells", "well_join_quarantine"],
                name="join_wells",
            ),
            Node(
                split_wells,
                ["joined_wells", "params:data_engineering.splits", "source_profile"],
                "well_metadata",
                name="split_wells",
            ),
            Node(
                join_sites,
                ["image_index", "well_metadata", "source_profile"],
                ["site_table", "site_join_quarantine", "well_image_quarantine"],
                name="join_sites",
            ),
            Node(
                extract_cell_crops,
                [
                    "site_table",
                    "field_images",
                    "crop_store_writer",
                    "crop_masks_writer",
                    "params:data_engineering.crops",
                    "params:data_engineering.extraction",
                    "params:data_engineering.controls",
                    "source_profile",
                ],
                ["crop_index", "crop_store", "crop_masks", "crop_extraction_quarantine", "site_summary"],
                name="extract_cell_crops",
            ),
            Node(
                measure_cellprofiler_features,
                [
                    "crop_store",
                    "crop_masks",
                    "crop_index",
                    "params:data_engineering.cell_features",
                ],
                ["cellprofiler.crop_embeddings", "cell_features_quarantine"],
                name="measure_cellprofiler_features",
            ),
            Node(
                measure_intensity_features,
                ["crop_store", "crop_masks", "crop_index"],
                "intensity.crop_embeddings",
                name="measure_intensity_features",
            ),
        ]
    )
