"""The bbbc021 run: its composition in ``micon.pipelines.compositions.COMPOSITIONS``."""

from kedro.pipeline import Pipeline

from micon.pipelines.compositions import compose


def create_pipeline(**kwargs) -> Pipeline:
    """Create the bbbc021 composition (its source's ingestion, then the shared stages)."""
    return compose("bbbc021")


__all__ = ["create_pipeline"]
