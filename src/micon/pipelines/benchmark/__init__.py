"""The benchmark run: its composition in ``micon.pipelines.compositions.COMPOSITIONS``."""

from kedro.pipeline import Pipeline

from micon.pipelines.compositions import compose


def create_pipeline(**kwargs) -> Pipeline:
    """Create the benchmark composition (the synthetic screen, every registered method)."""
    return compose("benchmark")


__all__ = ["create_pipeline"]
