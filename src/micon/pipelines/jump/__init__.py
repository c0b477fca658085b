"""The jump run: its composition in ``micon.pipelines.compositions.COMPOSITIONS``."""

from kedro.pipeline import Pipeline

from micon.pipelines.compositions import compose


def create_pipeline(**kwargs) -> Pipeline:
    """Create the jump composition (its source's ingestion, then the shared stages)."""
    return compose("jump")


__all__ = ["create_pipeline"]
