"""The bbbc021_official_ingestion pipeline (run with ``--env bbbc021 --pipeline bbbc021_official``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
