"""Wiring of the reporting pipeline."""

from collections.abc import Sequence

from kedro.pipeline import Node, Pipeline

from micon.errors import UnknownNameError
from micon.pipelines.per_method import bind_keywords, pipeline_per_method, resolve_methods

from .nodes import (
    DEFAULT_CHAIN,
    REPORTED_OUTPUTS,
    aggregate_wells,
    collect_retrieval_metrics,
    compare_methods,
    evaluate_annotation_consistency,
    evaluate_batch_effects_before_after,
    evaluate_mechanism,
    evaluate_retrieval,
    normalize_wells,
    plot_embedding_map,
    plot_map_distribution,
    plot_retrieval,
    plot_topk,
    plot_training,
    project_wells,
    record_run_provenance,
    reference_profiles,
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

# The chain slots every method is evaluated under; each reads its steps from
# reporting.normalization.chains.<slot> (conf/base/parameters_reporting.yml).
CHAINS: tuple[str, ...] = ("raw", DEFAULT_CHAIN, "recipe")

_PER_METHOD_PARAMETERS: tuple[str, ...] = (
    "params:reporting.aggregation",
    "params:reporting.normalization",
    "params:reporting.retrieval",
    "params:reporting.projection",
)


def _chain_pipeline(chain: str) -> Pipeline:
    """Normalise the well profiles with one chain and score replicate and mechanism retrieval on them."""
    return Pipeline(
        [
            Node(
                bind_keywords(normalize_wells, chain=chain),
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
                evaluate_mechanism,
                ["normalized_profiles", "params:reporting.retrieval"],
                "mechanism_summary",
                name="evaluate_mechanism",
            ),
        ],
        namespace=chain,
        inputs={"well_profiles"},
        parameters={"params:reporting.normalization", "params:reporting.retrieval"},
    )


# References: rows scored beside the methods whose well profiles a source provides directly (no crops),
# by name -> the dataset holding them. Only the synthetic screen knows its truth (compositions.py).
REFERENCES: dict[str, str] = {"known_truth": "synthetic_well_truth"}


def create_pipeline(
    methods: Sequence[str] | None = None, references: Sequence[str] = (), **kwargs
) -> Pipeline:
    """Create the pipeline from crop embeddings to metrics, the comparison table, plots and HTML report.

    Per method: well profiles, then per chain of ``CHAINS`` (a namespace inside the method's) the
    normalised profiles and their replicate and mechanism retrieval (``<method>.<chain>.*``); batch
    effects, annotation consistency and the 2-D maps on the default chain.

    Args:
        methods: Methods whose ``{method}.crop_embeddings`` are profiled, in the order of the tables;
            None: every method of the registry (``micon.training.methods``: trained, untrained and
            features such as ``cellprofiler``, whose crop embeddings data_engineering writes) when this
            is called.
        references: Names of :data:`REFERENCES` scored beside the methods, first in every table (the
            synthetic screen's ``known_truth``): their well profiles are built from the source's
            well-level table on the wells that have crops, then evaluated exactly like a method's.
        **kwargs: Ignored (Kedro's ``find_pipelines`` passes none).

    Raises:
        UnknownNameError: A method is not registered.
    """
    methods = resolve_methods(methods)
    unknown = [r for r in references if r not in REFERENCES]
    if unknown:
        raise UnknownNameError(f"unknown reference(s) {unknown}; known: {sorted(REFERENCES)}")
    default_profiles = f"{DEFAULT_CHAIN}.normalized_profiles"
    evaluate = Pipeline(
        [
            *(_chain_pipeline(chain) for chain in CHAINS),
            Node(
                evaluate_batch_effects_before_after,
                ["well_profiles", default_profiles, "params:reporting.retrieval"],
                "batch_effects",
                name="evaluate_batch_effects_before_after",
            ),
            Node(
                evaluate_annotation_consistency,
                [default_profiles, "params:reporting.retrieval"],
                "consistency",
                name="evaluate_annotation_consistency",
            ),
            Node(
                project_wells,
                ["well_profiles", default_profiles, "params:reporting.projection"],
                "embedding_coordinates",
                name="project_wells",
            ),
            Node(
                plot_embedding_map, "embedding_coordinates", "embedding_map_plot", name="plot_embedding_map"
            ),
        ]
    )
    aggregate = Node(
        aggregate_wells,
        ["crop_embeddings", "params:reporting.aggregation"],
        "well_profiles",
        name="aggregate_wells",
    )
    evaluated = pipeline_per_method(
        Pipeline([aggregate]) + evaluate, methods, parameters=_PER_METHOD_PARAMETERS
    )
    for reference in references:
        build = Node(
            reference_profiles,
            [REFERENCES[reference], "crop_index"],
            "well_profiles",
            name="reference_profiles",
        )
        evaluated += pipeline_per_method(
            Pipeline([build]) + evaluate,
            [reference],
            inputs=(REFERENCES[reference], "crop_index"),
            parameters=[p for p in _PER_METHOD_PARAMETERS if p != "params:reporting.aggregation"],
        )
    rows = (*references, *methods)  # every table lists the references first

    def each(output: str) -> list[str]:
        return [f"{row}.{output}" for row in rows]

    def each_chain(output: str) -> list[str]:
        return [f"{row}.{chain}.{output}" for row in rows for chain in CHAINS]

    summary = Pipeline(
        [
            Node(
                bind_keywords(collect_retrieval_metrics, methods=rows, chains=CHAINS),
                each_chain("retrieval_summary"),
                "retrieval_metrics",
                name="collect_retrieval_metrics",
            ),
            Node(
                bind_keywords(compare_methods, methods=rows, chains=CHAINS),
                [
                    "retrieval_metrics",
                    *each_chain("mechanism_summary"),
                    *each("batch_effects"),
                    *each("consistency"),
                ],
                ["comparison_table", "comparison_table_markdown"],
                name="compare_methods",
            ),
            Node(plot_retrieval, "retrieval_metrics", "retrieval_comparison_plot", name="plot_retrieval"),
            Node(
                bind_keywords(plot_topk, methods=rows),
                each(f"{DEFAULT_CHAIN}.topk_accuracy"),
                "topk_accuracy_plot",
                name="plot_topk",
            ),
            Node(
                bind_keywords(plot_map_distribution, methods=rows),
                each(f"{DEFAULT_CHAIN}.compound_map"),
                "map_distribution_plot",
                name="plot_map_distribution",
            ),
            Node(plot_training, "micon.training_history", "training_loss_plot", name="plot_training"),
            Node(record_run_provenance, "comparison_table", "run_provenance", name="record_run_provenance"),
            Node(
                summarise_quarantine_tables,
                {name: name for name in QUARANTINES},
                "quarantine_summary",
                name="summarise_quarantine_tables",
            ),
            Node(
                bind_keywords(write_html_report, methods=rows),
                [
                    "comparison_table",
                    "quarantine_summary",
                    "micon.training_history",
                    "params:reporting",
                    "run_provenance",
                    *(name for output in REPORTED_OUTPUTS for name in each(output)),
                ],
                "report_html",
                name="write_html_report",
            ),
        ]
    )
    return evaluated + summary
