"""Wiring of the bbbc021_evaluation pipeline: one evaluation per method, then one metrics table."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.pipelines.modeling.pipeline import METHODS

from .nodes import aggregate_bbbc021_wells, collect_bbbc021_metrics, evaluate_bbbc021_moa

# Every method evaluated on BBBC021: the embedded ones and the CellProfiler-style features.
EVALUATED_METHODS: tuple[str, ...] = (*METHODS, "cellprofiler")


def create_pipeline(methods: Sequence[str] = EVALUATED_METHODS, **kwargs) -> Pipeline:
    """Create the pipeline from ``{method}.crop_embeddings`` to ``bbbc021_metrics``.

    Args:
        methods: Methods whose ``{method}.crop_embeddings`` are evaluated (default: the modeling ones).
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).
    """
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
    evaluated = sum(
        Pipeline(
            per_method,
            namespace=method,
            parameters={"params:bbbc021_evaluation.aggregation", "params:bbbc021_evaluation.moa"},
        )
        for method in methods
    )
    collect = Node(
        collect_bbbc021_metrics,
        {f"{m}_bbbc021_metrics": f"{m}.bbbc021_metrics" for m in methods},
        "bbbc021_metrics",
        name="collect_bbbc021_metrics",
    )
    return evaluated + Pipeline([collect])
