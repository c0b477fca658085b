"""Nodes of the reporting pipeline: profiles, normalisation, evaluation, comparison, plots, HTML report."""

from __future__ import annotations

import logging
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


def collect_retrieval_metrics(
    **summaries: dict[str, dict[str, float]],
) -> dict[str, dict[str, dict[str, float]]]:
    """Gather every method's headline scores into ``{method: {level: {metric: value}}}``."""
    return {
        method.removesuffix("_retrieval_summary"): {
            level: {metric: scores[metric] for metric in HEADLINE_METRICS}
            for level, scores in summary.items()
        }
        for method, summary in summaries.items()
    }


def compare_methods(
    retrieval_metrics: dict[str, dict[str, dict[str, float]]], **per_method: dict[str, Any]
) -> tuple[pd.DataFrame, str]:
    """Build the one comparison table of all methods (CSV) and its Markdown rendering."""
    batch = {
        m.removesuffix("_batch_effects"): v for m, v in per_method.items() if m.endswith("_batch_effects")
    }
    consistency = {
        m.removesuffix("_consistency"): v for m, v in per_method.items() if m.endswith("_consistency")
    }
    table = build_comparison_table(retrieval_metrics, batch, consistency)
    logger.info("comparison of %d methods:\n%s", len(table), table.to_string(index=False))
    return table, format_markdown_table(table)


def plot_retrieval(retrieval_metrics: dict[str, dict[str, dict[str, float]]]) -> Figure:
    """Plot top-1 accuracy and mAP per method and level."""
    return plot_retrieval_comparison(retrieval_metrics)


def plot_topk(**topk_tables: pd.DataFrame) -> Figure:
    """Plot top-k accuracy against k per level, one line per method."""
    return plot_topk_curves({m.removesuffix("_topk_accuracy"): t for m, t in topk_tables.items()})


def plot_map_distribution(**compound_maps: pd.DataFrame) -> Figure:
    """Plot the per-compound mAP distribution per level, one box per method."""
    return plot_map_distributions({m.removesuffix("_compound_map"): t for m, t in compound_maps.items()})


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
    **per_method: pd.DataFrame,
) -> str:
    """Assemble the self-contained HTML report from the tables and per-method outputs.

    ``per_method`` keys are ``{method}__{output}`` for ``topk_accuracy``, ``compound_map``,
    ``normalization_log`` and ``embedding_coordinates``.
    """
    outputs: dict[str, dict[str, pd.DataFrame]] = {}
    for key, value in per_method.items():
        method, output = key.split("__", 1)
        outputs.setdefault(output, {})[method] = value
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
