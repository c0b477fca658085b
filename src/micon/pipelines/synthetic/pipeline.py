"""Wiring of the synthetic pipeline."""

from kedro.pipeline import Node, Pipeline

from .nodes import generate_synthetic_screen


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline that writes the embedded default screen in the raw contract (catalog.yml)."""
    return Pipeline(
        [
            Node(
                generate_synthetic_screen,
                "params:synthetic",
                [
                    "plate_table",
                    "well_table",
                    "compound_table",
                    "image_index",
                    "field_images",
                    "source_profile",
                    "synthetic_well_truth",
                    "synthetic_compound_annotations",
                ],
                name="generate_synthetic_screen",
            )
        ]
    )
