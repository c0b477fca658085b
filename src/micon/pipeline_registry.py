"""Project pipelines, found by Kedro's ``find_pipelines``; ``__default__`` is the synthetic screen's run."""

from __future__ import annotations

import warnings

from kedro.framework.project import find_pipelines
from kedro.pipeline import Pipeline

from micon.pipelines.compositions import COMPOSITIONS, DEFAULT, compose
from micon.pipelines.stages import tag_stages


def register_pipelines() -> dict[str, Pipeline]:
    """Register every pipeline package; ``__default__`` is its composition (``micon.pipelines.compositions``).

    A pipeline package that fails to import raises (its error chained). A requested name that is no package
    (``kedro run --pipelines modelling``) is left out, so that Kedro's session answers with its "did you
    mean 'modeling'" instead of an import error about a module that does not exist.

    Every node is tagged with its pipeline package and its stage (:mod:`micon.pipelines.stages`), so
    kedro-viz filters by them and ``kedro run --tags training`` runs one stage.

    Returns:
        A mapping from pipeline names to ``Pipeline`` objects.
    """
    try:
        pipelines = find_pipelines(raise_errors=True)
    except ImportError as exc:
        if exc.__cause__ is not None:  # a real package failed to import: its error matters
            raise
        with warnings.catch_warnings():  # only unknown names are missing; Kedro names them next
            warnings.simplefilter("ignore")
            pipelines = find_pipelines(raise_errors=False)
    # every node tagged with its pipeline package and stage; compositions tag each of their parts
    pipelines = {
        name: pipeline if name in COMPOSITIONS else tag_stages(pipeline, name)
        for name, pipeline in pipelines.items()
    }
    if DEFAULT in pipelines:  # Kedro loaded every pipeline (not only those a `--pipeline` run asked for)
        pipelines[DEFAULT] = compose(DEFAULT)
    return pipelines
