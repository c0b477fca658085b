"""The tuning pipeline: the same search for every trained method, selected on validation wells."""

from .pipeline import create_pipeline

__all__ = ["create_pipeline"]
