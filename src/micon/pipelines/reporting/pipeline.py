"""Wiring of the reporting pipeline."""

from kedro.pipeline import Node, Pipeline

from micon.pipelines.modeling.pipeline import METHODS

from .nodes import (
    aggregate_wells,
    collect_retrieval_metrics,
    compare_methods,
    evaluate_annotation_consistency,
    evaluate_batch_effects_before_after,
    evaluate_retrieval,
    normalize_wells,
    plot_embedding_map,
    plot_map_distribution,
    plot_retrieval,
    plot_topk,
    plot_training,
    project_wells,
    summarise_quarantine_tables,
    write_html_report,
)

# Every method with crop embeddings: the trained ones (modeling) and the CellProfiler-style baseline,
# whose `cellprofiler.crop_embeddings` (crop-index metadata + float features) data_engineering writes.
PROFILED_METHODS: tuple[str, ...] = (*METHODS, "cellprofiler")

QUARANTINES: tuple[str, ...] = (
    "standardization_quarantine",
    "well_join_quarantine",
    "site_join_quarantine",
    "crop_extraction_quarantine",
    "cell_features_quarantine",
)

_PER_METHOD_PARAMETERS = {
    "params:reporting.aggregation",
    "params:reporting.normalization",
    "params:reporting.retrieval",
    "params:reporting.projection",
}
_REPORTED_OUTPUTS: tuple[str, ...] = (
    "topk_accuracy",
    "compound_map",
    "normalization_log",
    "embedding_coordinates",
)


def create_pipeline(**kwargs) -> Pipeline:
    """Create the pipeline from crop embeddings to metrics, the comparison table, plots and HTML report."""
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
                ["retrieval_summary", "topk_accuracy", "compound_map"],
                name="evaluate_retrieval",
            ),
            Node(
                evaluate_batch_effects_before_after,
                ["well_profiles", "normalized_profiles", "params:reporting.retrieval"],
                "batch_effects",
                name="evaluate_batch_effects_before_after",
            ),
            Node(
                evaluate_annotation_consistency,
                ["normalized_profiles", "params:reporting.retrieval"],
                "consistency",
                name="evaluate_annotation_consistency",
            ),
            Node(
                project_wells,
                ["well_profiles", "normalized_profiles", "params:reporting.projection"],
                "embedding_coordinates",
                name="project_wells",
            ),
            Node(
                plot_embedding_map, "embedding_coordinates", "embedding_map_plot", name="plot_embedding_map"
            ),
        ]
    )
    evaluated = sum(
        Pipeline(per_method, namespace=method, parameters=_PER_METHOD_PARAMETERS)
        for method in PROFILED_METHODS
    )
    summary = Pipeline(
        [
            Node(
                collect_retrieval_metrics,
                {f"{m}_retrieval_summary": f"{m}.retrieval_summary" for m in PROFILED_METHODS},
                "retrieval_metrics",
                name="collect_retrieval_metrics",
            ),
            Node(
                compare_methods,
                {
                    "retrieval_metrics": "retrieval_metrics",
                    **{f"{m}_batch_effects": f"{m}.batch_effects" for m in PROFILED_METHODS},
                    **{f"{m}_consistency": f"{m}.consistency" for m in PROFILED_METHODS},
                },
                ["comparison_table", "comparison_table_markdown"],
                name="compare_methods",
            ),
            Node(plot_retrieval, "retrieval_metrics", "retrieval_comparison_plot", name="plot_retrieval"),
            Node(
                plot_topk,
                {f"{m}_topk_accuracy": f"{m}.topk_accuracy" for m in PROFILED_METHODS},
                "topk_accuracy_plot",
                name="plot_topk",
            ),
            Node(
                plot_map_distribution,
                {f"{m}_compound_map": f"{m}.compound_map" for m in PROFILED_METHODS},
                "map_distribution_plot",
                name="plot_map_distribution",
            ),
            Node(plot_training, "micon.training_history", "training_loss_plot", name="plot_training"),
            Node(
                summarise_quarantine_tables,
                {name: name for name in QUARANTINES},
                "quarantine_summary",
                name="summarise_quarantine_tables",
            ),
            Node(
                write_html_report,
                {
                    "comparison_table": "comparison_table",
                    "quarantine_summary": "quarantine_summary",
                    "training_history": "micon.training_history",
                    "parameters": "params:reporting",
                    **{f"{m}__{o}": f"{m}.{o}" for m in PROFILED_METHODS for o in _REPORTED_OUTPUTS},
                },
                "report_html",
                name="write_html_report",
            ),
        ]
    )
    return evaluated + summary
