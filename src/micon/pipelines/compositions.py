"""The runs made of pipelines by name: each environment's source ingestion, then the shared stages.

One table, :data:`COMPOSITIONS`, names every composed run. ``micon.pipeline_registry`` registers
``__default__`` from it; the packages ``jump``, ``bbbc021``, ``bbbc021_official``, ``benchmark`` and
``benchmark_reporting`` expose
theirs so that Kedro finds them by name (also when ``kedro run --pipeline`` loads only the pipelines it
is asked for); and ``micon.session.MiconSession`` makes a bare ``kedro run --env <env>`` run the composition
named like the environment (``__default__`` for environments that only overlay base, such as local and test).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from kedro.pipeline import Pipeline

from micon.pipelines.stages import tag_stages

DEFAULT = "__default__"


@dataclass(frozen=True)
class Composition:
    """A run made of pipelines by name.

    Attributes:
        pipelines: Names of the pipeline packages under ``micon.pipelines``, in order.
        inputs: Free inputs read from another dataset (e.g. images read in place instead of the raw copy).
        options: Keyword arguments of a part's ``create_pipeline``, by part name (e.g. the synthetic
            screen's reporting adds the known-truth reference row, which only that source can provide).
            ``seeds`` trains each trained method once per seed and gathers the seeds in the
            comparison; it must be given alike to ``modeling`` and ``reporting``
            (``{"modeling": {"seeds": (0, 1, 2)}, "reporting": {"seeds": (0, 1, 2)}}``).
    """

    pipelines: tuple[str, ...]
    inputs: Mapping[str, str] = field(default_factory=dict)
    options: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


BENCHMARK = "benchmark"
# The training seeds of every trained method in the benchmark (a structure of the pipeline, so not a
# parameter: Kedro builds pipelines before it reads parameters).
BENCHMARK_SEEDS: tuple[int, ...] = (0, 1, 2)

# The default run's rows: MICON (the one trained method), the floors (untrained encoder, raw intensity
# statistics) and the CellProfiler-style features, in the registry's order. ``kedro run --env benchmark``
# trains every registered method instead (methods None: the registry's, read when the pipeline is created).
DEFAULT_METHODS: tuple[str, ...] = ("micon", "untrained", "cellprofiler", "intensity")
# Of those, the methods with a model, which the modeling pipeline trains or builds and embeds.
DEFAULT_MODEL_METHODS: tuple[str, ...] = ("micon", "untrained")

_SYNTHETIC_RUN: tuple[str, ...] = ("synthetic", "data_engineering", "modeling", "reporting")

COMPOSITIONS: Mapping[str, Composition] = {
    # The synthetic screen knows its truth: its report carries the known-truth row beside the methods.
    # The default run is the quick one (MICON, the floors, CellProfiler-style; conf/base's small screen).
    DEFAULT: Composition(
        _SYNTHETIC_RUN,
        options={
            "modeling": {"methods": DEFAULT_MODEL_METHODS},
            "reporting": {"methods": DEFAULT_METHODS, "references": ("known_truth",)},
        },
    ),
    # The full comparison: every registered method on conf/benchmark's screen and budget, each trained
    # method first tuned by the same search on the validation wells (tuning), then trained with its
    # selection once per seed of BENCHMARK_SEEDS; the report gathers the seeds with intervals.
    BENCHMARK: Composition(
        ("synthetic", "data_engineering", "tuning", "modeling", "reporting"),
        options={
            "tuning": {"methods": None},
            "modeling": {"methods": None, "seeds": BENCHMARK_SEEDS, "tuned": True},
            "reporting": {"methods": None, "seeds": BENCHMARK_SEEDS, "references": ("known_truth",)},
        },
    ),
    # The benchmark's reporting alone, on the checkpoints and embeddings of the last benchmark run (after a
    # change to the evaluation: `uv run kedro run --env benchmark --pipeline benchmark_reporting`).
    "benchmark_reporting": Composition(
        ("reporting",),
        options={"reporting": {"methods": None, "seeds": BENCHMARK_SEEDS, "references": ("known_truth",)}},
    ),
    "jump": Composition(("jump_ingestion", "data_engineering", "modeling", "reporting")),
    "bbbc021": Composition(("bbbc021_ingestion", "data_engineering", "modeling", "bbbc021_evaluation")),
    # The official BBBC021 layout: its per-channel TIFFs are read in place, not copied to the raw layer.
    "bbbc021_official": Composition(
        ("bbbc021_official_ingestion", "data_engineering", "modeling", "bbbc021_evaluation"),
        inputs={"field_images": "bbbc021_official_fields"},
    ),
}


def compose(name: str) -> Pipeline:
    """Return the composition ``name`` of :data:`COMPOSITIONS` as one pipeline.

    Each part's nodes are tagged with the part's name and their stage (:mod:`micon.pipelines.stages`).
    """
    composition = COMPOSITIONS[name]
    unknown = sorted(set(composition.options) - set(composition.pipelines))
    if unknown:
        raise ValueError(f"composition {name!r} has options for pipelines it does not run: {unknown}")
    seeds = {part: tuple(opts["seeds"]) for part, opts in composition.options.items() if "seeds" in opts}
    both = {"modeling", "reporting"} <= set(composition.pipelines)
    if seeds and both and (set(seeds) != {"modeling", "reporting"} or len(set(seeds.values())) > 1):
        raise ValueError(
            f"composition {name!r}: modeling and reporting must be given the same seeds, got {seeds}"
        )
    parts = (
        tag_stages(_module(part).create_pipeline(**composition.options.get(part, {})), part)
        for part in composition.pipelines
    )
    composed = sum(parts, Pipeline([]))
    return Pipeline(composed, inputs=dict(composition.inputs)) if composition.inputs else composed


def _module(part: str):
    """Return the pipeline package ``micon.pipelines.<part>``."""
    return importlib.import_module(f"micon.pipelines.{part}")


def default_pipeline_name(env: str | None) -> str:
    """Return the name of the composition a bare ``kedro run --env <env>`` runs."""
    return env if env in COMPOSITIONS else DEFAULT
