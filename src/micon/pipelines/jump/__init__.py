"""The jump pipeline: JUMP cpg0016 from ingestion to the report (`kedro run --env jump --pipeline jump`)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
