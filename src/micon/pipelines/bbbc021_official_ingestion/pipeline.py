"""Wiring of the bbbc021_official_ingestion pipeline: the official BBBC021 metadata into the raw contract.

Its TIFFs are read in place: the ``bbbc021_official`` composition (``micon.pipelines.compositions``) feeds
``bbbc021_official_fields`` to data_engineering as ``field_images``.
"""

from kedro.pipeline import Node, Pipeline

from micon.pipelines.bbbc021_ingestion.nodes import read_bbbc021_official
from micon.pipelines.bbbc021_ingestion.pipeline import RAW_TABLES


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from ``BBBC021_v1_image.csv``, the MoA table and SMILES to the raw tables."""
    return Pipeline(
        [
            Node(
                read_bbbc021_official,
                ["bbbc021_image_table", "bbbc021_moa_table", "bbbc021_compound_smiles"],
                RAW_TABLES,
                name="read_bbbc021_official",
            )
        ]
    )
