"""Wiring of the reporting pipeline."""

from kedro.pipeline import Node, Pipeline

from micon.pipelines.modeling.pipeline import METHODS

from .nodes import (
    aggregate_wells,
    collect_retrieval_metrics,
    evaluate_retrieval,
    normalize_wells,
    plot_retrieval,
    plot_topk,
    plot_training,
    summarise_quarantine_tables,
)

QUARANTINES: tuple[str, ...] = (
    "standardization_quarantine",
    "well_join_quarantine",
    "site_join_quarantine",
    "crop_extraction_quarantine",
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from crop embeddings to metrics, plots and the quarantine summary."""
    per_method = Pipeline(
        [
            Node(
                aggregate_wells,
                ["crop_embeddings", "params:reporting.aggregation"],
                "well_profiles",
                name="aggregate_wells",
            ),
            Node(
                normalize_wells,
                ["well_profiles", "params:reporting.normalization"],
                ["normalized_profiles", "normalization_log"],
                name="normalize_wells",
            ),
            Node(
                evaluate_retrieval,
                ["normalized_profiles", "params:reporting.retrieval"],
                ["retrieval_summary", "topk_accuracy"],
                name="evaluate_retrieval",
            ),
        ]
    )
    evaluated = sum(
        Pipeline(
            per_method,
            namespace=method,
            parameters={
                "params:reporting.aggregation",
                "params:reporting.normalization",
                "params:reporting.retrieval",
            },
        )
        for method in METHODS
    )
    summary = Pipeline(
        [
            Node(
                collect_retrieval_metrics,
                {f"{m}_retrieval_summary": f"{m}.retrieval_summary" for m in METHODS},
                "retrieval_metrics",
                name="collect_retrieval_metrics",
            ),
            Node(plot_retrieval, "retrieval_metrics", "retrieval_comparison_plot", name="plot_retrieval"),
            Node(
                plot_topk,
                {f"{m}_topk_accuracy": f"{m}.topk_accuracy" for m in METHODS},
                "topk_accuracy_plot",
                name="plot_topk",
            ),
            Node(plot_training, "micon.training_history", "training_loss_plot", name="plot_training"),
            Node(
                summarise_quarantine_tables,
                {name: name for name in QUARANTINES},
                "quarantine_summary",
                name="summarise_quarantine_tables",
            ),
        ]
    )
    return evaluated + summary
