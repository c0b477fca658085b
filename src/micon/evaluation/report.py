"""The comparison table of all methods (CSV) and its Markdown rendering (the HTML report: ``html_report``)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import pandas as pd

from micon.errors import InvalidInputError

# Per level: the retrieval metrics of the comparison table, as keys of evaluate_profiles' summary.
LEVEL_METRICS: tuple[str, ...] = ("top1", "top5", "map", "map_above_chance", "fraction_retrieved")
# Per annotation and level: the mechanism-retrieval metrics, as keys of evaluate_mechanism_retrieval's.
MECHANISM_METRICS: tuple[str, ...] = ("top1", "top5", "map")
# Batch-effect scores of the comparison table, measured on a chain's profiles.
BATCH_METRICS: tuple[str, ...] = (
    "source_knn_accuracy",
    "source_silhouette",
    "batch_knn_accuracy",
    "batch_silhouette",
)


def build_comparison_table(
    retrieval: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
    *,
    mechanism: Mapping[str, Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]],
    batch_effects: Mapping[str, Mapping[str, Mapping[str, float]]],
    consistency: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]],
) -> pd.DataFrame:
    """Return one row per method and chain: replicate and mechanism retrieval, batch effects, consistency.

    Args:
        retrieval: Method -> chain -> level (NR, NSB, NSS, ...) -> ``evaluate_profiles``' summary.
        mechanism: Method -> chain -> annotation column -> level -> ``evaluate_mechanism_retrieval``'s
            summary (``{}`` where the profiles carry no annotation).
        batch_effects: Method -> chain -> ``evaluate_batch_effects``' scores, for the chains measured.
        consistency: Method -> chain -> annotation column -> ``{"map", ...}``, for the chains scored.

    Returns:
        Columns ``method``, ``chain``, ``{level}_{metric}`` for each level (first-seen order) and metric
        of ``LEVEL_METRICS``; ``{annotation}_{level}_{metric}`` for each annotation and level scored
        anywhere and metric of ``MECHANISM_METRICS`` (``Metadata_`` prefix dropped, e.g.
        ``MoA_NSS_top1``); ``{metric}`` of ``BATCH_METRICS``; ``{annotation}_consistency_map``. A value a
        (method, chain) lacks is NaN. Rows by method in the order of ``retrieval``, then chain in its order.

    Raises:
        InvalidInputError: ``retrieval`` is empty.
    """
    if not retrieval:
        raise InvalidInputError("no method has retrieval metrics; nothing to compare")
    per_chain = [levels for chains in retrieval.values() for levels in chains.values()]
    levels = list(dict.fromkeys(level for per_level in per_chain for level in per_level))
    mechanism_pairs = list(
        dict.fromkeys(
            (annotation, level)
            for chains in mechanism.values()
            for annotations in chains.values()
            for annotation, per_level in annotations.items()
            for level in per_level
        )
    )
    annotations = list(
        dict.fromkeys(a for chains in consistency.values() for scores in chains.values() for a in scores)
    )
    rows = []
    for method, chains in retrieval.items():
        for chain, per_level in chains.items():
            row: dict[str, Any] = {"method": method, "chain": chain}
            for level in levels:
                for metric in LEVEL_METRICS:
                    row[f"{level}_{metric}"] = float(per_level.get(level, {}).get(metric, math.nan))
            scored = mechanism.get(method, {}).get(chain, {})
            for annotation, level in mechanism_pairs:
                values = scored.get(annotation, {}).get(level, {})
                for metric in MECHANISM_METRICS:
                    name = f"{annotation.removeprefix('Metadata_')}_{level}_{metric}"
                    row[name] = float(values.get(metric, math.nan))
            batch = batch_effects.get(method, {}).get(chain, {})
            for metric in BATCH_METRICS:
                row[metric] = float(batch.get(metric, math.nan))
            for annotation in annotations:
                scores = consistency.get(method, {}).get(chain, {}).get(annotation, {})
                name = f"{annotation.removeprefix('Metadata_')}_consistency_map"
                row[name] = float(scores.get("map", math.nan))
            rows.append(row)
    return pd.DataFrame(rows)


def format_markdown_table(
    table: pd.DataFrame, *, digits: int = 3, formats: dict[str, str] | None = None
) -> str:
    """Return ``table`` as a Markdown (pipe) table, floats rounded to ``digits``, NaN as an em dash.

    Rendered by pandas' ``to_markdown`` (tabulate); pipes inside text cells are escaped so they do
    not split a cell. ``formats`` gives columns their own format spec (``{"lr": "g"}``: a learning rate of
    0.0003 would read 0.000 at three digits); tabulate then leaves those cells as written.
    """
    formats = formats or {}
    shown = table.copy()
    for column in shown.columns:
        if column in formats:
            spec = formats[column]
            shown[column] = shown[column].map(lambda v, spec=spec: v if _is_missing(v) else format(v, spec))
        elif not pd.api.types.is_numeric_dtype(shown[column]):
            shown[column] = shown[column].map(lambda v: v if _is_missing(v) else str(v).replace("|", "\\|"))
    shown = shown.astype(object).where(shown.notna(), None)
    as_written = [i for i, c in enumerate(shown.columns) if c in formats]
    return (
        shown.to_markdown(
            index=False,
            tablefmt="pipe",
            floatfmt=f".{digits}f",
            missingval="—",
            disable_numparse=as_written or False,
        )
        + "\n"
    )


def _is_missing(value: Any) -> bool:
    """Whether a cell is missing (None or NaN)."""
    return value is None or (isinstance(value, float) and math.isnan(value))


__all__ = [
    "BATCH_METRICS",
    "LEVEL_METRICS",
    "MECHANISM_METRICS",
    "build_comparison_table",
    "format_markdown_table",
]
