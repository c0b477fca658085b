"""Wiring of the bbbc021_ingestion pipeline: PNG subset (default) or official layout -> well metadata."""

from kedro.pipeline import Node, Pipeline

from .nodes import build_bbbc021_well_metadata, read_bbbc021_official, read_bbbc021_png_subset

RAW_TABLES: list[str] = ["plate_table", "well_table", "compound_table", "image_index"]


def _well_metadata_node() -> Node:
    return Node(
        build_bbbc021_well_metadata,
        ["plate_table", "well_table", "standardized_compounds"],
        ["well_metadata", "well_join_quarantine"],
        name="build_bbbc021_well_metadata",
    )


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from the 660-field PNG subset to raw tables, per-channel TIFFs, well metadata."""
    return Pipeline(
        [
            Node(
                read_bbbc021_png_subset,
                ["bbbc021_png_metadata", "bbbc021_png_fields"],
                [*RAW_TABLES, "field_images"],
                name="read_bbbc021_png_subset",
            ),
            _well_metadata_node(),
        ]
    )


def create_official_pipeline() -> Pipeline:
    """Create the pipeline from the official BBBC021 CSVs to raw tables and well metadata."""
    return Pipeline(
        [
            Node(
                read_bbbc021_official,
                ["bbbc021_image_table", "bbbc021_moa_table", "bbbc021_compound_smiles"],
                RAW_TABLES,
                name="read_bbbc021_official",
            ),
            _well_metadata_node(),
        ]
    )
