"""Wiring of the bbbc021_ingestion pipeline: the 660-field PNG subset into the raw contract."""

from kedro.pipeline import Node, Pipeline

from .nodes import read_bbbc021_png_subset

# The raw contract every source writes (conf/base/catalog.yml), images aside.
RAW_TABLES: list[str] = ["plate_table", "well_table", "compound_table", "image_index", "source_profile"]


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from the 660-field PNG subset to the raw tables, profile and per-channel TIFFs."""
    return Pipeline(
        [
            Node(
                read_bbbc021_png_subset,
                ["bbbc021_png_metadata", "bbbc021_png_fields"],
                [*RAW_TABLES, "field_images"],
                name="read_bbbc021_png_subset",
            )
        ]
    )
