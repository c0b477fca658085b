"""Project pipelines, found by Kedro's ``find_pipelines``; ``__default__`` is the synthetic screen's run."""

from __future__ import annotations

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from micon.pipelines.compositions import DEFAULT, compose


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline package; ``__default__`` is its composition (``micon.pipelines.compositions``).

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    pipelines = find_pipelines(raise_errors=True)
    if DEFAULT in pipelines:  # Kedro loaded every pipeline (not only those a `--pipeline` run asked for)
        pipelines[DEFAULT] = compose(DEFAULT)
    return pipelines
