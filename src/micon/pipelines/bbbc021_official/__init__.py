"""The bbbc021_official run: its composition in ``micon.pipelines.compositions.COMPOSITIONS``."""

from kedro.pipeline import Pipeline

from micon.pipelines.compositions import compose


def create_pipeline(**kwargs) -> Pipeline:
    """Create the bbbc021_official composition (its source's ingestion, then the shared stages)."""
    return compose("bbbc021_official")


__all__ = ["create_pipeline"]
