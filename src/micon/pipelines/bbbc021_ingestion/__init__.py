"""The bbbc021_ingestion pipeline (run with ``--env bbbc021``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
