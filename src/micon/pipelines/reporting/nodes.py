"""Nodes of the reporting pipeline: well profiles, normalisation, replicate retrieval, plots."""

from __future__ import annotations

import logging
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

from micon.evaluation import (
    NormalizationConfig,
    RetrievalConfig,
    aggregate_to_wells,
    evaluate_profiles,
    normalize_profiles,
    plot_retrieval_comparison,
    plot_topk_curves,
    plot_training_history,
)
from micon.quarantine import summarise_quarantines

logger = logging.getLogger(__name__)


def aggregate_wells(crop_embeddings: pd.DataFrame, params: dict[str, Any]) -> pd.DataFrame:
    """Aggregate crop embeddings to one profile per well."""
    profiles = aggregate_to_wells(crop_embeddings, **params)
    logger.info("aggregated %d crops to %d wells", len(crop_embeddings), len(profiles))
    return profiles


def normalize_wells(well_profiles: pd.DataFrame, params: dict[str, Any]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Apply the named normalisation chain; also return its per-step feature counts."""
    return normalize_profiles(well_profiles, NormalizationConfig(**params))


def evaluate_retrieval(
    normalized_profiles: pd.DataFrame, params: dict[str, Any]
) -> tuple[dict[str, dict[str, float]], pd.DataFrame]:
    """Score replicate retrieval (top-k, mAP, fraction retrieved) per batch-effect scenario."""
    summary, topk = evaluate_profiles(normalized_profiles, RetrievalConfig(**params))
    for scenario, scores in summary.items():
        logger.info("%s: %s", scenario, ", ".join(f"{k}={v:.3f}" for k, v in scores.items()))
    return summary, topk


# The headline metrics of retrieval_metrics.json; every k stays in each method's topk_accuracy table.
HEADLINE_METRICS: tuple[str, ...] = ("top1", "top5", "map", "fraction_retrieved", "n_queries")


def collect_retrieval_metrics(
    **summaries: dict[str, dict[str, float]],
) -> dict[str, dict[str, dict[str, float]]]:
    """Gather every method's headline scores into ``{method: {scenario: {metric: value}}}``."""
    return {
        method.removesuffix("_retrieval_summary"): {
            scenario: {metric: scores[metric] for metric in HEADLINE_METRICS}
            for scenario, scores in summary.items()
        }
        for method, summary in summaries.items()
    }


def plot_retrieval(retrieval_metrics: dict[str, dict[str, dict[str, float]]]) -> Figure:
    """Plot top-1 accuracy and mAP per method and scenario."""
    return plot_retrieval_comparison(retrieval_metrics)


def plot_topk(**topk_tables: pd.DataFrame) -> Figure:
    """Plot top-k accuracy against k per scenario, one line per method."""
    return plot_topk_curves({m.removesuffix("_topk_accuracy"): t for m, t in topk_tables.items()})


def plot_training(training_history: pd.DataFrame) -> Figure:
    """Plot MICON's training losses against the step."""
    return plot_training_history(training_history)


def summarise_quarantine_tables(**quarantines: pd.DataFrame) -> pd.DataFrame:
    """Count quarantined items per stage and reason across the pipeline."""
    summary = summarise_quarantines(quarantines)
    logger.info("quarantined items:\n%s", summary.to_string(index=False) if len(summary) else "none")
    return summary
