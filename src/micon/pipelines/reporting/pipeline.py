"""Wiring of the reporting pipeline."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.pipelines.per_method import bind_keywords, pipeline_per_method, resolve_methods

from .nodes import (
    REPORTED_OUTPUTS,
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

QUARANTINES: tuple[str, ...] = (
    "standardization_quarantine",
    "well_join_quarantine",
    "site_join_quarantine",
    "well_image_quarantine",
    "crop_extraction_quarantine",
    "cell_features_quarantine",
)

_PER_METHOD_PARAMETERS: tuple[str, ...] = (
    "params:reporting.aggregation",
    "params:reporting.normalization",
    "params:reporting.retrieval",
    "params:reporting.projection",
)


def create_pipeline(methods: Sequence[str] | None = None, **kwargs) -> Pipeline:
    """Create the pipeline from crop embeddings to metrics, the comparison table, plots and HTML report.

    Args:
        methods: Methods whose ``{method}.crop_embeddings`` are profiled, in the order of the tables;
            None: every method of the registry (``micon.training.methods``: trained, untrained and
            features such as ``cellprofiler``, whose crop embeddings data_engineering writes) when this
            is called.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
    """
    methods = resolve_methods(methods)
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
    evaluated = pipeline_per_method(per_method, methods, parameters=_PER_METHOD_PARAMETERS)

    def each(output: str) -> list[str]:
        return [f"{method}.{output}" for method in methods]

    summary = Pipeline(
        [
            Node(
                bind_keywords(collect_retrieval_metrics, methods=methods),
                each("retrieval_summary"),
                "retrieval_metrics",
                name="collect_retrieval_metrics",
            ),
            Node(
                bind_keywords(compare_methods, methods=methods),
                ["retrieval_metrics", *each("batch_effects"), *each("consistency")],
                ["comparison_table", "comparison_table_markdown"],
                name="compare_methods",
            ),
            Node(plot_retrieval, "retrieval_metrics", "retrieval_comparison_plot", name="plot_retrieval"),
            Node(
                bind_keywords(plot_topk, methods=methods),
                each("topk_accuracy"),
                "topk_accuracy_plot",
                name="plot_topk",
            ),
            Node(
                bind_keywords(plot_map_distribution, methods=methods),
                each("compound_map"),
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
                bind_keywords(write_html_report, methods=methods),
                [
                    "comparison_table",
                    "quarantine_summary",
                    "micon.training_history",
                    "params:reporting",
                    *(name for output in REPORTED_OUTPUTS for name in each(output)),
                ],
                "report_html",
                name="write_html_report",
            ),
        ]
    )
    return evaluated + summary
