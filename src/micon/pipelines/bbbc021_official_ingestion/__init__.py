"""The bbbc021_official_ingestion pipeline (run with ``--env bbbc021 --pipelines bbbc021_official``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
