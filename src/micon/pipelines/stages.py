"""Stage tags of the project's nodes: kedro-viz's tag filter and ``kedro run --tags <stage>``.

Every node is tagged with the pipeline package it belongs to (``data_engineering``, ``modeling``, ...) and
with its stage (:data:`STAGES`: ``extraction``, ``training``, ``evaluation``, ...), whatever method
namespace it runs in. ``micon.pipeline_registry`` tags every registered pipeline package and
``micon.pipelines.compositions.compose`` tags each part of a composed run.
"""

from __future__ import annotations

from collections.abc import Mapping

from kedro.pipeline import Pipeline

__all__ = ["STAGES", "stage_of", "tag_stages"]

# Stage -> the names of its nodes (without the method or chain namespace).
_NODES_BY_STAGE: Mapping[str, tuple[str, ...]] = {
    "ingestion": (
        "generate_synthetic_screen",
        "select_jump_screen",
        "index_jump_images",
        "read_jump_fields_in_place",
        "read_bbbc021_png_subset",
        "read_bbbc021_official",
    ),
    "metadata": ("standardize_compound_table", "join_wells", "split_wells", "join_sites"),
    "extraction": ("extract_cell_crops",),
    "features": ("measure_cellprofiler_features", "measure_intensity_features"),
    "tuning": ("tune_method", "select_hyperparameters"),
    "training": ("train_model", "build_untrained_model"),
    "embedding": ("embed_cell_crops",),
    "evaluation": (
        "aggregate_wells",
        "reference_profiles",
        "diagnose_embedding",
        "diagnose_generator",
        "normalize_wells",
        "evaluate_retrieval",
        "evaluate_mechanism",
        "score_compounds",
        "evaluate_batch_effects_before_after",
        "evaluate_annotation_consistency",
        "project_wells",
        "aggregate_bbbc021_wells",
        "evaluate_bbbc021_moa",
        "collect_bbbc021_metrics",
        "bundle_run_outputs",
        "gather_run_evaluations",
        "collect_retrieval_metrics",
        "summarise_uncertainty",
        "collect_diagnostics",
        "compare_methods",
        "record_run_provenance",
        "summarise_quarantine_tables",
    ),
    "report": (
        "plot_embedding_map",
        "plot_retrieval",
        "plot_topk",
        "plot_map_distribution",
        "plot_training",
        "write_html_report",
    ),
}

STAGES: Mapping[str, str] = {node: stage for stage, nodes in _NODES_BY_STAGE.items() for node in nodes}
"""Node name (without namespace) -> its stage."""


def stage_of(node_name: str) -> str | None:
    """Return the stage of a node by its name (``micon_seed1.default.evaluate_retrieval``: ``evaluation``).

    Returns:
        The stage, or None for a node :data:`STAGES` does not list.
    """
    return STAGES.get(node_name.rsplit(".", 1)[-1])


def tag_stages(pipeline: Pipeline, part: str) -> Pipeline:
    """Return ``pipeline`` with every node tagged ``part`` (its pipeline package) and its stage.

    Namespaces, inputs and outputs are unchanged; a node :data:`STAGES` does not list gets ``part`` only.
    """
    nodes = []
    for node in pipeline.nodes:
        stage = stage_of(node.name)
        nodes.append(node.tag([part] if stage is None else [part, stage]))
    return Pipeline(nodes)
