"""Figures comparing methods on retrieval metrics; functions return Figures and never save them."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure

from micon import schema
from micon.errors import InvalidInputError
from micon.evaluation.metrics import TOPK_COLUMNS
from micon.quarantine import require_columns

# Panels per row of the per-level figures, so that six levels stay readable at a page's width.
_PANEL_COLUMNS = 3
_PANELS: tuple[tuple[str, str], ...] = (
    ("top1", "Top-1 replicate retrieval"),
    ("map", "Replicate mAP vs DMSO"),
)


def plot_retrieval_comparison(metrics: Mapping[str, Mapping[str, Mapping[str, float]]]) -> Figure:
    """Draw grouped bars of top-1 accuracy and mAP per scenario, one bar per method.

    Built on ``matplotlib.figure.Figure`` directly, so no pyplot state or backend is touched.

    Args:
        metrics: Method name -> scenario -> metric name -> value (``evaluate_profiles``' first output
            per method); every method needs ``"top1"`` and ``"map"`` for every scenario it has.

    Returns:
        A figure with two axes (top-1, mAP); each holds one bar container per method with one bar per
        scenario (the union of all methods' scenarios, in first-seen order; missing ones are NaN).

    Raises:
        InvalidInputError: ``metrics`` is empty, or a scenario lacks ``"top1"`` or ``"map"`` (named).
    """
    if not metrics:
        raise InvalidInputError("no method metrics to plot")
    scenarios = list(dict.fromkeys(s for per_method in metrics.values() for s in per_method))
    for method, per_method in metrics.items():
        for scenario, values in per_method.items():
            missing = [key for key, _ in _PANELS if key not in values]
            if missing:
                raise InvalidInputError(f"metrics of method {method!r}, scenario {scenario!r} lack {missing}")

    figure = Figure(figsize=(4 + 1.5 * len(scenarios), 4), layout="constrained")
    axes = figure.subplots(1, len(_PANELS), squeeze=False)[0]
    x = np.arange(len(scenarios))
    width = 0.8 / len(metrics)
    for ax, (key, title) in zip(axes, _PANELS, strict=True):
        for i, (method, per_method) in enumerate(metrics.items()):
            heights = [float(per_method.get(s, {}).get(key, np.nan)) for s in scenarios]
            ax.bar(x - 0.4 + width * (i + 0.5), heights, width, label=str(method))
        ax.set_xticks(x, scenarios)
        ax.set_title(title)
        ax.set_ylim(0, 1)
        ax.set_ylabel(key)
    axes[0].legend(fontsize="small")
    return figure


def plot_topk_curves(topk_tables: Mapping[str, pd.DataFrame]) -> Figure:
    """Draw top-k accuracy against k, one panel per scenario and one line per method.

    Args:
        topk_tables: Method name -> ``evaluate_profiles``' second output (``scenario``, ``k``,
            ``accuracy``).

    Returns:
        A figure with one axes per scenario (union over methods, first-seen order), each with one line
        per method that has that scenario.

    Raises:
        InvalidInputError: ``topk_tables`` is empty.
        MissingColumnsError: A table lacks ``scenario``, ``k`` or ``accuracy`` (names the method).
    """
    scenarios = _scenarios(topk_tables, TOPK_COLUMNS, what="top-k")

    n_cols = min(len(scenarios), _PANEL_COLUMNS)
    figure = Figure(figsize=(4 * n_cols, 3.3 * -(-len(scenarios) // n_cols)), layout="constrained")
    axes = _panels(figure, len(scenarios), n_cols)
    for ax, scenario in zip(axes, scenarios, strict=True):
        for method, table in topk_tables.items():
            rows = table.loc[table["scenario"].astype(str) == scenario].sort_values("k")
            if not rows.empty:
                ax.plot(rows["k"].to_numpy(), rows["accuracy"].to_numpy(), marker="o", label=str(method))
        ax.set_title(scenario)
        ax.set_xlabel("k")
        ax.set_ylim(0, 1)
        ax.set_ylabel("top-k accuracy")
    axes[-1].legend(fontsize="small", loc="upper left", bbox_to_anchor=(1.02, 1.0), frameon=False)
    return figure


def plot_training_history(history: pd.DataFrame, *, title: str = "") -> Figure:
    """Draw each logged training loss against the step, and the learning rate on its own axes.

    Args:
        history: One row per logged step: a ``step`` column, one numeric column per loss (e.g. ``loss``,
            ``paclr``, ``cf``) and optionally ``lr`` (the learning rate, never drawn on the loss axes).
        title: Figure title (e.g. the method).

    Returns:
        A figure with the loss axes (one line per loss column) and, when ``lr`` is logged, a second
        axes holding the learning rate.

    Raises:
        InvalidInputError: ``history`` is empty or has no loss column besides ``step`` and ``lr``.
    """
    require_columns(history, ["step"], table_name="training history")
    losses = [
        c for c in history.columns if c not in ("step", "lr") and pd.api.types.is_numeric_dtype(history[c])
    ]
    if history.empty or not losses:
        raise InvalidInputError(
            f"training history has {len(history)} rows and loss columns {losses}; nothing to plot"
        )
    has_lr = "lr" in history.columns
    figure = Figure(figsize=(10 if has_lr else 6, 3.2), layout="constrained")
    axes = figure.subplots(1, 2 if has_lr else 1, squeeze=False, width_ratios=[3, 2] if has_lr else None)[0]
    for column in losses:
        axes[0].plot(history["step"], history[column], label=column)
    axes[0].set_xlabel("step")
    axes[0].set_ylabel("loss")
    axes[0].set_title("training losses")
    axes[0].legend(fontsize="small")
    if has_lr:
        axes[1].plot(history["step"], history["lr"], color="black")
        axes[1].set_xlabel("step")
        axes[1].set_ylabel("learning rate")
        axes[1].set_title("learning rate")
        axes[1].ticklabel_format(axis="y", style="sci", scilimits=(-2, 3))
    figure.suptitle(title or "Training")
    return figure


def plot_map_distributions(compound_maps: Mapping[str, pd.DataFrame]) -> Figure:
    """Draw the distribution of per-compound replicate mAP, one panel per level and one box per method.

    Args:
        compound_maps: Method name -> ``evaluate_profiles``' third output (``scenario``,
            ``mean_average_precision``, ...).

    Returns:
        A figure with one axes per scenario (union over methods, first-seen order), each with one box
        (and its points) per method that has mAP values there.

    Raises:
        InvalidInputError: ``compound_maps`` is empty or holds no scenario.
        MissingColumnsError: A table lacks a documented column (names the method).
    """
    scenarios = _scenarios(compound_maps, ("scenario", "mean_average_precision"), what="compound mAP")
    methods = list(compound_maps)
    n_cols = min(len(scenarios), _PANEL_COLUMNS)
    panel_width = max(3.0, 0.45 * len(methods) + 1.0)
    figure = Figure(figsize=(panel_width * n_cols, 3.8 * -(-len(scenarios) // n_cols)), layout="constrained")
    axes = _panels(figure, len(scenarios), n_cols)
    for ax, scenario in zip(axes, scenarios, strict=True):
        values = [
            t.loc[t["scenario"].astype(str) == scenario, "mean_average_precision"].to_numpy(dtype=float)
            for t in compound_maps.values()
        ]
        values = [v[np.isfinite(v)] for v in values]
        positions = [i for i, v in enumerate(values) if len(v)]
        if positions:
            ax.boxplot([values[i] for i in positions], positions=positions, widths=0.6, showfliers=False)
            for i in positions:
                jitter = np.linspace(-0.15, 0.15, len(values[i])) if len(values[i]) > 1 else [0.0]
                ax.plot(i + np.asarray(jitter), values[i], ".", alpha=0.5, markersize=4)
        ax.set_xticks(range(len(methods)), methods, rotation=45, ha="right")
        ax.set_title(scenario)
        ax.set_ylim(0, 1)
        ax.set_ylabel("per-compound replicate mAP")
    return figure


def plot_embedding_maps(coordinates: pd.DataFrame, *, title: str = "") -> Figure:
    """Draw 2-D maps of wells coloured by compound and by source, one row per stage and projection.

    Args:
        coordinates: ``project_profiles``' output (``stage``, ``projection``, ``x``, ``y``,
            ``Metadata_JCP2022``, ``Metadata_Source``, ...).
        title: Figure title (e.g. the method).

    Returns:
        A figure with one row per (projection, stage) in first-seen order and two columns: coloured by
        compound (DMSO grey) and by source (with a legend).

    Raises:
        InvalidInputError: ``coordinates`` is empty.
        MissingColumnsError: A needed column is absent.
    """
    needed = ["stage", "projection", "x", "y", schema.JCP2022, schema.SOURCE]
    require_columns(coordinates, needed, table_name="embedding coordinates")
    if coordinates.empty:
        raise InvalidInputError("no embedding coordinates to plot")
    panels = list(dict.fromkeys(zip(coordinates["projection"], coordinates["stage"], strict=True)))
    figure = Figure(figsize=(9, 3.6 * len(panels)), layout="constrained")
    axes = figure.subplots(len(panels), 2, squeeze=False)
    compounds = pd.factorize(coordinates[schema.JCP2022].astype(str), sort=True)[0]
    sources = pd.factorize(coordinates[schema.SOURCE].astype(str), sort=True)
    is_dmso = (coordinates[schema.JCP2022].astype(str) == schema.DMSO_JCP2022).to_numpy()
    compound_colours = np.where(is_dmso[:, None], 0.75, _colours(compounds, "tab20"))
    source_colours = _colours(sources[0], "tab10")
    for row, (projection, stage) in enumerate(panels):
        mask = ((coordinates["projection"] == projection) & (coordinates["stage"] == stage)).to_numpy()
        x, y = coordinates.loc[mask, "x"].to_numpy(), coordinates.loc[mask, "y"].to_numpy()
        left, right = axes[row]
        left.scatter(x, y, c=compound_colours[mask], s=8)
        left.set_title(f"{projection}, {stage} correction: by compound (DMSO grey)", fontsize="small")
        for code, source in enumerate(sources[1]):
            chosen = mask & (sources[0] == code)
            right.scatter(
                coordinates.loc[chosen, "x"],
                coordinates.loc[chosen, "y"],
                color=source_colours[chosen][:1],
                s=8,
                label=str(source),
            )
        right.set_title(f"{projection}, {stage} correction: by source", fontsize="small")
        right.legend(fontsize="x-small", markerscale=2)
    if title:
        figure.suptitle(title)
    return figure


def _panels(figure: Figure, n: int, n_cols: int) -> list:
    """Return ``n`` axes on a grid of ``n_cols`` columns (rows as needed), unused cells removed."""
    n_rows = -(-n // n_cols)
    grid = figure.subplots(n_rows, n_cols, squeeze=False, sharey=True).ravel()
    for ax in grid[n:]:
        figure.delaxes(ax)
    return list(grid[:n])


def _colours(codes: np.ndarray, colormap: str) -> np.ndarray:
    """Return one RGBA colour per integer code from a qualitative matplotlib colormap (cycled)."""
    palette = colormaps[colormap]
    return np.asarray([palette(int(code) % palette.N) for code in codes])


def _scenarios(tables: Mapping[str, pd.DataFrame], columns: Sequence[str], *, what: str) -> list[str]:
    """Check each method's table and return the scenarios they hold, in first-seen order."""
    if not tables:
        raise InvalidInputError(f"no {what} tables to plot")
    for method, table in tables.items():
        require_columns(table, columns, table_name=f"{what} table of method {method!r}")
    scenarios = list(dict.fromkeys(s for t in tables.values() for s in t["scenario"].astype(str)))
    if not scenarios:
        raise InvalidInputError(f"the {what} tables hold no scenario")
    return scenarios
