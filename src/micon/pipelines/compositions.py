"""The runs made of pipelines by name: each environment's source ingestion, then the shared stages.

One table, :data:`COMPOSITIONS`, names every composed run. ``micon.pipeline_registry`` registers
``__default__`` from it; the packages ``jump``, ``bbbc021`` and ``bbbc021_official`` expose theirs so that
Kedro finds them by name (also when ``kedro run --pipeline`` loads only the pipelines it is asked for); and
``micon.session.MiconSession`` makes a bare ``kedro run --env <env>`` run the composition named like the
environment (``__default__`` for environments that only overlay base, such as local and test).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from kedro.pipeline import Pipeline

DEFAULT = "__default__"


@dataclass(frozen=True)
class Composition:
    """A run made of pipelines by name.

    Attributes:
        pipelines: Names of the pipeline packages under ``micon.pipelines``, in order.
        inputs: Free inputs read from another dataset (e.g. images read in place instead of the raw copy).
    """

    pipelines: tuple[str, ...]
    inputs: Mapping[str, str] = field(default_factory=dict)


COMPOSITIONS: Mapping[str, Composition] = {
    DEFAULT: Composition(("synthetic", "data_engineering", "modeling", "reporting")),
    "jump": Composition(("jump_ingestion", "data_engineering", "modeling", "reporting")),
    "bbbc021": Composition(("bbbc021_ingestion", "data_engineering", "modeling", "bbbc021_evaluation")),
    # The official BBBC021 layout: its per-channel TIFFs are read in place, not copied to the raw layer.
    "bbbc021_official": Composition(
        ("bbbc021_official_ingestion", "data_engineering", "modeling", "bbbc021_evaluation"),
        inputs={"field_images": "bbbc021_official_fields"},
    ),
}


def compose(name: str) -> Pipeline:
    """Return the composition ``name`` of :data:`COMPOSITIONS` as one pipeline."""
    composition = COMPOSITIONS[name]
    parts = (
        importlib.import_module(f"micon.pipelines.{part}").create_pipeline() for part in composition.pipelines
    )
    composed = sum(parts, Pipeline([]))
    return Pipeline(composed, inputs=dict(composition.inputs)) if composition.inputs else composed


def default_pipeline_name(env: str | None) -> str:
    """Return the name of the composition a bare ``kedro run --env <env>`` runs."""
    return env if env in COMPOSITIONS else DEFAULT
