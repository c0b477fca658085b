"""Project pipelines, found by Kedro's ``find_pipelines``."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

# Pipelines that write the raw layer from real data in place of `synthetic` (same outputs) and run with their
# environment's catalog (`kedro run --env jump --pipeline jump`, `--env bbbc021 --pipeline bbbc021`), so they
# are left out of `__default__`.
REAL_DATA_PIPELINES = frozenset(
    {"jump", "jump_ingestion", "bbbc021", "bbbc021_official", "bbbc021_ingestion", "bbbc021_evaluation"}
)


def register_pipelines() -> dict[str, Pipeline]:
    """Register the project's pipelines; ``__default__`` runs the synthetic screen end to end.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    pipelines["__default__"] = sum(p for name, p in pipelines.items() if name not in REAL_DATA_PIPELINES)
    return pipelines
