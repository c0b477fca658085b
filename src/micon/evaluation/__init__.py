"""Evaluate image representations as image-based profiling does: wells, DMSO normalisation, retrieval.

copairs (through duckdb) and harmonypy are nanobind extensions; a process that holds them at exit may end
with dozens of nanobind "leaked ..." lines. They are imported inside the functions that use them, so a
process that never evaluates (a failed run, ``kedro viz``, the CLI) never loads them.
"""

from micon.evaluation.aggregate import aggregate_to_wells, reference_well_profiles
from micon.evaluation.batch_correction import harmonize_profiles, morphohelm_correct
from micon.evaluation.batch_effects import knn_label_accuracy, label_silhouette, measure_batch_effects
from micon.evaluation.chain import (
    NORMALIZATION_STEPS,
    NormalizationConfig,
    normalize_profiles,
    plate_controls_needed,
)
from micon.evaluation.consistency import annotation_map
from micon.evaluation.layout import assign_plate_layouts
from micon.evaluation.metrics import (
    RetrievalConfig,
    evaluate_batch_effects,
    evaluate_consistency,
    evaluate_mechanism_retrieval,
    evaluate_profiles,
    select_evaluated_wells,
)
from micon.evaluation.normalize import (
    center_on_plate_controls,
    filter_variant_features,
    inverse_normal_transform,
    robust_mad_normalize,
    scale_by_control_mad,
    select_features,
    sphere_profiles,
)
from micon.evaluation.plots import (
    plot_embedding_maps,
    plot_map_distributions,
    plot_retrieval_comparison,
    plot_topk_curves,
    plot_training_history,
)
from micon.evaluation.projection import project_profiles
from micon.evaluation.reduction import reduce_dimension, sphere_with_shrinkage
from micon.evaluation.replicability import replicate_map, replicate_map_at_levels, summarise_replicability
from micon.evaluation.report import (
    build_comparison_table,
    format_markdown_table,
)
from micon.evaluation.retrieval import (
    retrieve_mechanism,
    retrieve_replicates,
    retrieve_replicates_at_levels,
    summarise_retrieval,
)

__all__ = [
    "NORMALIZATION_STEPS",
    "NormalizationConfig",
    "RetrievalConfig",
    "aggregate_to_wells",
    "build_comparison_table",
    "center_on_plate_controls",
    "format_markdown_table",
    "annotation_map",
    "assign_plate_layouts",
    "evaluate_batch_effects",
    "evaluate_consistency",
    "evaluate_mechanism_retrieval",
    "evaluate_profiles",
    "filter_variant_features",
    "harmonize_profiles",
    "inverse_normal_transform",
    "knn_label_accuracy",
    "label_silhouette",
    "measure_batch_effects",
    "morphohelm_correct",
    "normalize_profiles",
    "plate_controls_needed",
    "plot_embedding_maps",
    "plot_map_distributions",
    "plot_retrieval_comparison",
    "plot_topk_curves",
    "plot_training_history",
    "project_profiles",
    "reduce_dimension",
    "reference_well_profiles",
    "replicate_map",
    "replicate_map_at_levels",
    "retrieve_mechanism",
    "retrieve_replicates",
    "retrieve_replicates_at_levels",
    "robust_mad_normalize",
    "scale_by_control_mad",
    "select_evaluated_wells",
    "select_features",
    "sphere_profiles",
    "sphere_with_shrinkage",
    "summarise_replicability",
    "summarise_retrieval",
]
