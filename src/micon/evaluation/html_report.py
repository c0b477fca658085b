"""The HTML report's building blocks and its rendering: tables and figures into a jinja2 template.

The page is ``templates/report.html.j2`` (shipped in this package), rendered with autoescaping on, so
every name and value reaches the page escaped; figures are embedded as base64 PNG, so the one file opens
from disk with nothing fetched. Python only decides *what* is shown (:class:`Table`, :class:`FigureItem`,
:class:`Section`: cells already formatted, the best cell of a column marked); the template decides how.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import jinja2
import pandas as pd
from matplotlib.figure import Figure

from micon.errors import InvalidInputError
from micon.evaluation.glossary import GlossaryEntry, describe_metric, method_label
from micon.quarantine import require_columns

__all__ = [
    "Cell",
    "Column",
    "FigureItem",
    "Row",
    "Section",
    "Table",
    "difference_table",
    "figure_item",
    "frame_table",
    "headline_table",
    "render_html_report",
]

_ENVIRONMENT = jinja2.Environment(
    loader=jinja2.PackageLoader("micon.evaluation", "templates"),
    autoescape=True,
    undefined=jinja2.StrictUndefined,
    trim_blocks=True,
    lstrip_blocks=True,
)
ROLES: tuple[str, ...] = ("reference", "method", "floor")


@dataclass(frozen=True)
class Cell:
    """One formatted table cell: its text, an interval line under it, whether it is its column's best."""

    text: str
    interval: str = ""
    is_best: bool = False
    css: str = ""


@dataclass(frozen=True)
class Column:
    """A column heading and the explanation shown when hovering over it."""

    label: str
    title: str = ""


@dataclass(frozen=True)
class Row:
    """A table row: its heading (a method's readable name), its role and its cells."""

    header: str
    cells: tuple[Cell, ...]
    role: str = ""


@dataclass(frozen=True)
class Table:
    """A captioned table; ``row_header`` heads the column of row headings."""

    caption: str
    row_header: str
    columns: tuple[Column, ...]
    rows: tuple[Row, ...]


@dataclass(frozen=True)
class FigureItem:
    """A captioned figure, its image (PNG or JPEG) embedded as base64."""

    caption: str
    alt: str
    data_base64: str
    mime: str = "image/png"


@dataclass(frozen=True)
class Section:
    """A report section: heading, an introduction, its tables and figures; ``collapsed`` folds it away."""

    heading: str
    intro: str = ""
    tables: tuple[Table, ...] = ()
    figures: tuple[FigureItem, ...] = ()
    collapsed: bool = False
    anchor: str = field(default="")


def _number(value: Any, digits: int = 3, *, signed: bool = False) -> str:
    """Format a number (``—`` for NaN / None); integers stay integers."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int) or (isinstance(value, float) and value.is_integer() and abs(value) >= 100):
        return f"{int(value):,}"
    if isinstance(value, float):
        return f"{value:+.{digits}f}" if signed else f"{value:.{digits}f}"
    return str(value)


def _interval(low: Any, high: Any, digits: int = 3) -> str:
    """Format ``[low, high]``, or nothing when either bound is missing."""
    bounds = [low, high]
    if any(b is None or (isinstance(b, float) and math.isnan(b)) for b in bounds):
        return ""
    return f"[{float(low):.{digits}f}, {float(high):.{digits}f}]"


def _role(method: str, references: Sequence[str], floors: Sequence[str]) -> str:
    return "reference" if method in references else "floor" if method in floors else "method"


def headline_table(
    comparison: pd.DataFrame,
    *,
    chain: str,
    metrics: Sequence[str],
    references: Sequence[str],
    floors: Sequence[str],
    caption: str,
) -> Table:
    """Return one chain's comparison as a table: a row per method, ``estimate [low, high]`` cells.

    Rows: the references first (the ceiling), then the methods in table order, then the floors. In each
    column the best value among the methods (neither references nor floors) is marked, ties all marked;
    which way is better comes from :func:`micon.evaluation.glossary.describe_metric`.

    Args:
        comparison: The comparison table (``method``, ``chain``, metric columns, optional
            ``{metric}_ci_low`` / ``{metric}_ci_high``).
        chain: The chain shown.
        metrics: Metric columns shown, in order; those the table lacks are left out.
        references: Methods shown as the ceiling.
        floors: Methods shown as floors.
        caption: The table's caption.

    Raises:
        MissingColumnsError: ``method`` or ``chain`` is absent.
        InvalidInputError: The table has no row of ``chain`` or none of ``metrics``.
    """
    require_columns(comparison, ["method", "chain"], table_name="comparison table")
    rows = comparison[comparison["chain"].astype(str) == chain]
    shown = [m for m in metrics if m in comparison.columns]
    if rows.empty or not shown:
        raise InvalidInputError(
            f"the comparison table has no row of chain {chain!r} or none of the metrics {list(metrics)}"
        )
    rank = {role: i for i, role in enumerate(ROLES)}
    methods = sorted(
        dict.fromkeys(rows["method"].astype(str)), key=lambda m: rank[_role(m, references, floors)]
    )
    table = rows.assign(method=rows["method"].astype(str)).set_index("method").loc[methods]
    best: dict[str, float] = {}
    for metric in shown:
        better = describe_metric(metric).better
        candidates = table.loc[[m for m in methods if _role(m, references, floors) == "method"], metric]
        candidates = candidates.astype(float).dropna()
        if better and len(candidates):
            best[metric] = float(candidates.max() if better == "higher" else candidates.min())
    built = []
    for method in methods:
        role = _role(method, references, floors)
        cells = []
        for metric in shown:
            value = float(table.loc[method, metric])
            cells.append(
                Cell(
                    _number(value),
                    _interval(
                        table.loc[method].get(f"{metric}_ci_low"), table.loc[method].get(f"{metric}_ci_high")
                    ),
                    is_best=role == "method" and metric in best and value == best[metric],
                )
            )
        built.append(Row(method_label(method), tuple(cells), role))
    columns = tuple(Column(describe_metric(m).label, describe_metric(m).description) for m in shown)
    return Table(caption, "method", columns, tuple(built))


def difference_table(differences: pd.DataFrame, *, chain: str, metrics: Sequence[str], caption: str) -> Table:
    """Return the paired differences (one method minus each peer) of one chain, a row per peer.

    A cell whose interval excludes 0 is marked ``better`` (positive) or ``worse`` (negative).

    Args:
        differences: ``summarise_intervals``' differences (``method``, ``peer``, ``chain``, ``metric``,
            ``difference``, ``ci_low``, ``ci_high``).
        chain: The chain shown.
        metrics: Metrics shown, in order; those without a difference are left out.
        caption: The table's caption.

    Raises:
        MissingColumnsError: A needed column is absent.
    """
    require_columns(
        differences, ["peer", "chain", "metric", "difference", "ci_low", "ci_high"], table_name="differences"
    )
    rows = differences[differences["chain"].astype(str) == chain]
    shown = [m for m in metrics if m in set(rows["metric"].astype(str))]
    keyed = rows.assign(metric=rows["metric"].astype(str), peer=rows["peer"].astype(str)).set_index(
        ["peer", "metric"]
    )
    built = []
    for peer in dict.fromkeys(rows["peer"].astype(str)):
        cells = []
        for metric in shown:
            if (peer, metric) not in keyed.index:
                cells.append(Cell("—"))
                continue
            item = keyed.loc[(peer, metric)]
            low, high = float(item["ci_low"]), float(item["ci_high"])
            css = "better" if low > 0 else "worse" if high < 0 else ""
            cells.append(Cell(_number(float(item["difference"]), signed=True), _interval(low, high), css=css))
        built.append(Row(method_label(peer), tuple(cells)))
    columns = tuple(Column(describe_metric(m).label, describe_metric(m).description) for m in shown)
    return Table(caption, "peer", columns, tuple(built))


def frame_table(table: pd.DataFrame, *, caption: str, row_header: str | None = None) -> Table:
    """Return any DataFrame as a report table: floats to 3 decimals, NaN as ``—``.

    Args:
        table: The frame (its index is ignored).
        caption: The table's caption.
        row_header: A column shown as the row headings (a ``method`` column is shown by its readable
            name); None: the first column.
    """
    header = row_header if row_header is not None else (str(table.columns[0]) if len(table.columns) else "")
    others = [c for c in table.columns if str(c) != header]
    rows = []
    for record in table.to_dict(orient="records"):
        heading = record.get(header, "")
        heading = method_label(str(heading)) if header in ("method", "run", "peer") else _number(heading)
        rows.append(Row(heading, tuple(Cell(_number(record[c])) for c in others)))
    columns = tuple(
        Column(describe_metric(str(c)).label, describe_metric(str(c)).description) for c in others
    )
    return Table(caption, header, columns, tuple(rows))


def figure_item(figure: Figure, *, caption: str, alt: str, dpi: int = 100, photo: bool = False) -> FigureItem:
    """Render a figure and return it with its caption (the figure is not kept).

    Args:
        figure: The figure.
        caption: What it shows and how to read it.
        alt: Its text alternative.
        dpi: Resolution.
        photo: Save as JPEG (quality 85: images such as crop montages, which PNG stores at several
            times the size) instead of PNG (line art, text).
    """
    buffer = io.BytesIO()
    if photo:
        figure.savefig(buffer, format="jpeg", dpi=dpi, bbox_inches="tight", pil_kwargs={"quality": 85})
    else:
        figure.savefig(buffer, format="png", dpi=dpi, bbox_inches="tight")
    encoded = base64.b64encode(buffer.getvalue()).decode("ascii")
    return FigureItem(caption, alt, encoded, "image/jpeg" if photo else "image/png")


def render_html_report(
    *,
    title: str,
    run: Mapping[str, Any],
    sections: Sequence[Section],
    glossary: Mapping[str, Sequence[GlossaryEntry]],
    parameters: Mapping[str, Any],
    generated_at: datetime | None = None,
) -> str:
    """Render the report page from ``templates/report.html.j2``.

    Args:
        title: Page title and heading.
        run: The run it comes from: ``run_id``, ``commit``, ``dirty``, ``command`` (missing keys shown
            as unknown).
        sections: The sections, in order (a table of contents links them).
        glossary: Heading -> entries (e.g. evaluation levels, metrics).
        parameters: The run's parameters, shown folded as JSON.
        generated_at: Time stamp of the header (now, UTC, if None).

    Returns:
        The HTML document.
    """
    stamp = (generated_at or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%S %Z")
    numbered = [
        s if s.anchor else Section(**{**s.__dict__, "anchor": f"section-{i}"})
        for i, s in enumerate(sections, start=1)
    ]
    return _ENVIRONMENT.get_template("report.html.j2").render(
        title=title,
        run={key: run.get(key) for key in ("run_id", "commit", "dirty", "command")},
        generated_at=stamp,
        sections=numbered,
        glossary={heading: list(entries) for heading, entries in glossary.items()},
        parameters=json.dumps(parameters, indent=2, sort_keys=True, default=str),
    )
