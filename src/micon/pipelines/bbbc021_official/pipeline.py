"""Composition of the BBBC021 run on the official layout: its TIFFs are read in place."""

from kedro.pipeline import Pipeline

from micon.pipelines import bbbc021_ingestion
from micon.pipelines.bbbc021.pipeline import create_downstream_pipeline


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from ``BBBC021_v1_image.csv`` and the official TIFFs to ``bbbc021_metrics``."""
    return bbbc021_ingestion.create_official_pipeline() + Pipeline(
        create_downstream_pipeline(), inputs={"field_images": "bbbc021_official_fields"}
    )
