"""The benchmark's reporting alone: its composition in ``micon.pipelines.compositions.COMPOSITIONS``.

Re-evaluates the last benchmark run's embeddings and checkpoints (every method and seed) without training
again: ``uv run kedro run --env benchmark --pipeline benchmark_reporting``.
"""

from kedro.pipeline import Pipeline

from micon.pipelines.compositions import compose


def create_pipeline(**kwargs) -> Pipeline:
    """Create the benchmark's reporting (every registered method and seed, with the known-truth row)."""
    return compose("benchmark_reporting")


__all__ = ["create_pipeline"]
