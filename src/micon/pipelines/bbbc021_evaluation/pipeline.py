"""Wiring of the bbbc021_evaluation pipeline: one evaluation per method, then one metrics table."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.pipelines.per_method import bind_keywords, pipeline_per_method, resolve_methods

from .nodes import aggregate_bbbc021_wells, collect_bbbc021_metrics, evaluate_bbbc021_moa


def create_pipeline(methods: Sequence[str] | None = None, **kwargs) -> Pipeline:
    """Create the pipeline from ``{method}.crop_embeddings`` to ``bbbc021_metrics``.

    Args:
        methods: Methods whose ``{method}.crop_embeddings`` are evaluated; None: every method of the
            registry (``micon.training.methods``, the embedded ones and the CellProfiler-style features)
            when this is called.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
    """
    methods = resolve_methods(methods)
    per_method = Pipeline(
        [
            Node(
                aggregate_bbbc021_wells,
                ["crop_embeddings", "params:bbbc021_evaluation.aggregation"],
                "well_profiles",
                name="aggregate_bbbc021_wells",
            ),
            Node(
                evaluate_bbbc021_moa,
                ["well_profiles", "params:bbbc021_evaluation.moa"],
                ["bbbc021_metrics", "moa_predictions"],
                name="evaluate_bbbc021_moa",
            ),
        ]
    )
    evaluated = pipeline_per_method(
        per_method,
        methods,
        parameters=("params:bbbc021_evaluation.aggregation", "params:bbbc021_evaluation.moa"),
    )
    collect = Node(
        bind_keywords(collect_bbbc021_metrics, methods=methods),
        [f"{m}.bbbc021_metrics" for m in methods],
        "bbbc021_metrics",
        name="collect_bbbc021_metrics",
    )
    return evaluated + Pipeline([collect])
