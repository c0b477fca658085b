"""The bbbc021_ingestion pipeline (run with ``--env bbbc021``)."""

from .pipeline import create_official_pipeline, create_pipeline

__all__ = ["create_official_pipeline", "create_pipeline"]
