"""The bbbc021 pipeline: the PNG subset end to end (run with ``--env bbbc021``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
