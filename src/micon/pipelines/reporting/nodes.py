"""Nodes of the reporting pipeline: profiles, normalisation, evaluation, comparison, plots, HTML report."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from micon.evaluation import (
    NormalizationConfig,
    RetrievalConfig,
    aggregate_to_wells,
    build_comparison_table,
    build_html_report,
    evaluate_batch_effects,
    evaluate_consistency,
    evaluate_profiles,
    format_markdown_table,
    normalize_profiles,
    plot_embedding_maps,
    plot_map_distributions,
    plot_retrieval_comparison,
    plot_topk_curves,
    plot_training_history,
    project_profiles,
)
from micon.quarantine import summarise_quarantines

logger = logging.getLogger(__name__)


def aggregate_wells(crop_embeddings: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Aggregate crop embeddings to one profile per well (crop -> site -> well when configured)."""
    profiles = aggregate_to_wells(crop_embeddings, **params)
    logger.info("aggregated %d crops to %d wells", len(crop_embeddings), len(profiles))
    return profiles


def normalize_wells(well_profiles: pd.DataFrame, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the named normalisation chain; also return its per-step feature counts."""
    return normalize_profiles(well_profiles, NormalizationConfig(**params))


def evaluate_retrieval(
    normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> tuple[dict[str, dict[str, float]], pd.DataFrame, pd.DataFrame]:
    """Score replicate retrieval (top-k, mAP, fraction retrieved) per level (NR, NSB, NSS, NSL)."""
    summary, topk, compound_map = evaluate_profiles(normalized_profiles, RetrievalConfig(**params))
    for level, scores in summary.items():
        logger.info("%s: %s", level, ", ".join(f"{k}={v:.3f}" for k, v in scores.items()))
    return summary, topk, compound_map


def evaluate_batch_effects_before_after(
    well_profiles: pd.DataFrame, normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Measure how much source and batch remain, before and after normalisation."""
    config = RetrievalConfig(**params)
    return {
        "before": evaluate_batch_effects(well_profiles, config),
        "after": evaluate_batch_effects(normalized_profiles, config),
    }


def evaluate_annotation_consistency(
    normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> dict[str, dict[str, float]]:
    """Score MoA / target consistency where the profiles carry annotation columns (else ``{}``)."""
    return evaluate_consistency(normalized_profiles, RetrievalConfig(**params))


def project_wells(
    well_profiles: pd.DataFrame, normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> pd.DataFrame:
    """Project the wells to 2-D (PCA, UMAP) before and after normalisation."""
    return project_profiles({"before": well_profiles, "after": normalized_profiles}, **params)


def plot_embedding_map(embedding_coordinates: pd.DataFrame) -> Figure:
    """Plot the 2-D maps coloured by compound and by source."""
    return plot_embedding_maps(embedding_coordinates)


# The headline metrics of retrieval_metrics.json; every k stays in each method's topk_accuracy table.
HEADLINE_METRICS: tuple[str, ...] = ("top1", "top5", "map", "fraction_retrieved", "n_queries")


# The per-method outputs the HTML report shows, in the order write_html_report takes them.
REPORTED_OUTPUTS: tuple[str, ...] = (
    "topk_accuracy",
    "compound_map",
    "normalization_log",
    "embedding_coordinates",
)


def _by_method(methods: Sequence[str], values: Sequence[Any]) -> dict[str, Any]:
    """Zip per-method values (one per method, in order) to the method names."""
    return dict(zip(methods, values, strict=True))


def collect_retrieval_metrics(
    *summaries: dict[str, dict[str, float]], methods: Sequence[str]
) -> dict[str, dict[str, dict[str, float]]]:
    """Gather every method's headline scores into ``{method: {level: {metric: value}}}``.

    ``summaries`` holds one retrieval summary per method, in the order of ``methods``.
    """
    return {
        method: {
            level: {metric: scores[metric] for metric in HEADLINE_METRICS}
            for level, scores in summary.items()
        }
        for method, summary in _by_method(methods, summaries).items()
    }


def compare_methods(
    retrieval_metrics: dict[str, dict[str, dict[str, float]]],
    *per_method: dict[str, Any],
    methods: Sequence[str],
) -> tuple[pd.DataFrame, str]:
    """Build the one comparison table of all methods (CSV) and its Markdown rendering.

    ``per_method`` holds every method's batch effects, then every method's consistency scores, each in
    the order of ``methods``.
    """
    n = len(methods)
    batch = _by_method(methods, per_method[:n])
    consistency = _by_method(methods, per_method[n:])
    table = build_comparison_table(retrieval_metrics, batch, consistency)
    logger.info("comparison of %d methods:\n%s", len(table), table.to_string(index=False))
    return table, format_markdown_table(table)


def plot_retrieval(retrieval_metrics: dict[str, dict[str, dict[str, float]]]) -> Figure:
    """Plot top-1 accuracy and mAP per method and level."""
    return plot_retrieval_comparison(retrieval_metrics)


def plot_topk(*topk_tables: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Plot top-k accuracy against k per level, one line per method (tables in the order of ``methods``)."""
    return plot_topk_curves(_by_method(methods, topk_tables))


def plot_map_distribution(*compound_maps: pd.DataFrame, methods: Sequence[str]) -> Figure:
    """Plot the per-compound mAP distribution per level, one box per method (in the order of ``methods``)."""
    return plot_map_distributions(_by_method(methods, compound_maps))


def plot_training(training_history: pd.DataFrame) -> Figure:
    """Plot MICON's training losses against the step."""
    return plot_training_history(training_history)


def summarise_quarantine_tables(**quarantines: pd.DataFrame) -> pd.DataFrame:
    """Count quarantined items per stage and reason across the pipeline."""
    summary = summarise_quarantines(quarantines)
    logger.info("quarantined items:\n%s", summary.to_string(index=False) if len(summary) else "none")
    return summary


def write_html_report(
    comparison_table: pd.DataFrame,
    quarantine_summary: pd.DataFrame,
    training_history: pd.DataFrame,
    parameters: dict[str, Any],
    *per_method: pd.DataFrame,
    methods: Sequence[str],
) -> str:
    """Assemble the self-contained HTML report from the tables and per-method outputs.

    ``per_method`` holds, for each output of :data:`REPORTED_OUTPUTS` in turn, one table per method in
    the order of ``methods``.

    Raises:
        ValueError: ``per_method`` does not hold one table per reported output and method.
    """
    n = len(methods)
    if len(per_method) != n * len(REPORTED_OUTPUTS):
        raise ValueError(
            f"write_html_report needs {len(REPORTED_OUTPUTS)} x {n} per-method tables "
            f"({list(REPORTED_OUTPUTS)} for {list(methods)}), got {len(per_method)}"
        )
    outputs = {
        output: _by_method(methods, per_method[i * n : (i + 1) * n])
        for i, output in enumerate(REPORTED_OUTPUTS)
    }
    tables = {"Comparison of methods": comparison_table}
    tables |= {f"Normalisation steps: {m}": log for m, log in outputs.get("normalization_log", {}).items()}
    tables["Quarantined items"] = quarantine_summary
    figures = {
        "Top-k replicate retrieval per level": plot_topk_curves(outputs["topk_accuracy"]),
        "Per-compound replicate mAP": plot_map_distributions(outputs["compound_map"]),
        "MICON training losses": plot_training_history(training_history),
    }
    figures |= {
        f"PCA and UMAP of {m}, before and after correction": plot_embedding_maps(coordinates, title=m)
        for m, coordinates in outputs.get("embedding_coordinates", {}).items()
    }
    return build_html_report(
        title="micon evaluation report", parameters=parameters, tables=tables, figures=figures
    )
