"""Project pipelines, found by Kedro's ``find_pipelines``."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that read BBBC021 from the shared data and need ``--env bbbc021``: not part of __default__.
BBBC021_PIPELINES: tuple[str, ...] = (
    "bbbc021",
    "bbbc021_official",
    "bbbc021_ingestion",
    "bbbc021_evaluation",
)


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines; ``__default__`` runs them all but the BBBC021 ones.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(p for name, p in pipelines.items() if name not in BBBC021_PIPELINES)
    return pipelines
