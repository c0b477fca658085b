"""Wiring of the jump pipeline: a package of its own so that ``--pipeline jump`` loads it by name."""

from kedro.pipeline import Pipeline

from micon.pipelines import data_engineering, jump_ingestion, modeling, reporting


def create_pipeline(**kwargs) -> Pipeline:
    """Create jump_ingestion followed by the unchanged data_engineering, modeling and reporting pipelines."""
    return (
        jump_ingestion.create_pipeline()
        + data_engineering.create_pipeline()
        + modeling.create_pipeline()
        + reporting.create_pipeline()
    )
