"""Wiring of the jump_ingestion pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import index_jump_images, read_jump_fields_in_place, select_jump_screen


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline that writes a JUMP cpg0016 selection's tables to the raw layer (``--env jump``).

    No image is copied: ``field_images`` (in memory, ``conf/jump/catalog.yml``) reads each image from
    ``jump_gallery`` when extraction asks for it, illumination-corrected on the fly.
    """
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
                index_jump_images,
                [
                    "plate_table",
                    "well_table",
                    "jump_gallery",
                    "params:jump.selection",
                    "params:jump.illumination_correction",
                ],
                ["image_index", "jump_load_data_quarantine", "jump_site_quarantine"],
                name="index_jump_images",
            ),
            Node(
                read_jump_fields_in_place,
                ["image_index", "jump_gallery"],
                "field_images",
                name="read_jump_fields_in_place",
            ),
        ]
    )
