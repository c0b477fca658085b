"""Wiring of the jump_ingestion pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import ingest_jump_images, select_jump_screen


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline that writes a JUMP cpg0016 selection to the raw layer (``--env jump``)."""
    return Pipeline(
        [
            Node(
                select_jump_screen,
                ["jump_plates", "jump_wells", "jump_compounds", "params:jump.selection"],
                [
                    "plate_table",
                    "well_table",
                    "compound_table",
                    "jump_selection_quarantine",
                    "source_profile",
                ],
                name="select_jump_screen",
            ),
            Node(
                ingest_jump_images,
                [
                    "plate_table",
                    "well_table",
                    "jump_gallery",
                    "params:jump.selection",
                    "params:jump.illumination_correction",
                ],
                ["image_index", "field_images", "jump_load_data_quarantine", "jump_site_quarantine"],
                name="ingest_jump_images",
            ),
        ]
    )
