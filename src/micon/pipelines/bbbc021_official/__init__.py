"""The bbbc021_official pipeline: the official per-channel TIFF layout end to end (``--env bbbc021``)."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
