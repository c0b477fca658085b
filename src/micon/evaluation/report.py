"""The evaluation report: the comparison table of all methods (CSV, Markdown) and a self-contained HTML."""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import pandas as pd
from matplotlib.figure import Figure

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


def pivot_chains(table: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Return one row per method with ``columns`` side by side per chain: ``{column} ({chain})``.

    Args:
        table: ``build_comparison_table``'s output.
        columns: Metric columns shown (those absent from ``table`` are left out).

    Returns:
        Column ``method``, then for each of ``columns`` one column per chain (chains in first-seen order).
    """
    chains = list(dict.fromkeys(table["chain"]))
    shown = [c for c in columns if c in table.columns]
    wide = table.pivot(index="method", columns="chain", values=shown)
    wide = wide.reindex(index=list(dict.fromkeys(table["method"])))
    ordered = [(column, chain) for column in shown for chain in chains]
    wide = wide.reindex(columns=pd.MultiIndex.from_tuples(ordered))
    wide.columns = [f"{column} ({chain})" for column, chain in ordered]
    return wide.reset_index()


def format_markdown_table(table: pd.DataFrame, *, digits: int = 3) -> str:
    """Return ``table`` as a GitHub Markdown table, floats rounded to ``digits``, NaN as an em dash.

    Hand-written because pandas' ``to_markdown`` needs the ``tabulate`` package, which the project
    does not depend on.
    """
    header = "| " + " | ".join(map(str, table.columns)) + " |"
    rule = "|" + "|".join("---" if i == 0 else "---:" for i in range(table.shape[1])) + "|"
    lines = [header, rule]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(_format_cell(value, digits) for value in row) + " |")
    return "\n".join(lines) + "\n"


def build_html_report(
    *,
    title: str,
    parameters: Mapping[str, Any],
    tables: Mapping[str, pd.DataFrame],
    figures: Mapping[str, Figure],
    generated_at: datetime | None = None,
) -> str:
    """Return one self-contained HTML page: a header with the run parameters, tables, embedded figures.

    Figures become base64 PNG ``<img>`` tags (no file beside the page); tables become HTML tables
    with floats rounded to 3 digits. Nothing is fetched from the network when the page is opened.

    Args:
        title: Page title and heading.
        parameters: Run parameters, shown as indented JSON in the header.
        tables: Section heading -> table, in order.
        figures: Section heading -> figure, in order (after the tables).
        generated_at: Time stamp of the header (now, UTC, if None).

    Returns:
        The HTML document as a string.
    """
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{html.escape(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em;max-width:1400px}"
        "table{border-collapse:collapse;font-size:small}td,th{border:1px solid #ccc;padding:2px 6px}"
        "th{background:#eee}img{max-width:100%}pre{background:#f6f6f6;padding:1em;font-size:small}</style>",
        "</head><body>",
        f"<h1>{html.escape(title)}</h1>",
        f"<p>Generated {html.escape(stamp)}.</p>",
        "<details><summary>Run parameters</summary>",
        f"<pre>{html.escape(json.dumps(parameters, indent=2, sort_keys=True, default=str))}</pre></details>",
    ]
    for heading, table in tables.items():
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(table.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep="—", border=0))
    for heading, figure in figures.items():
        parts.append(f"<h2>{html.escape(heading)}</h2>")
        parts.append(f'<img alt="{html.escape(heading)}" src="data:image/png;base64,{_png_base64(figure)}">')
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _png_base64(figure: Figure) -> str:
    """Render a figure to PNG and return it base64-encoded."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=90, bbox_inches="tight")
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _format_cell(value: Any, digits: int) -> str:
    """Format one Markdown cell: rounded float, em dash for NaN, escaped pipes."""
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


__all__ = [
    "BATCH_METRICS",
    "LEVEL_METRICS",
    "MECHANISM_METRICS",
    "build_comparison_table",
    "build_html_report",
    "format_markdown_table",
    "pivot_chains",
]
