"""What the evaluation report shows: its sections, tables, figures and captions, from a run's outputs.

:func:`build_report` turns the comparison, the paired differences, the diagnostics, per-run curves, maps
and crops into :class:`~micon.evaluation.html_report.Section` objects and renders them
(:func:`~micon.evaluation.html_report.render_html_report`). Kedro-free: the reporting pipeline's node
loads the datasets and passes them here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError
from micon.evaluation.glossary import level_glossary, method_label, metric_glossary
from micon.evaluation.html_report import (
    FigureItem,
    Section,
    Table,
    difference_table,
    figure_item,
    frame_table,
    headline_table,
    render_html_report,
)
from micon.evaluation.notebook_views import plot_crop_montage, plot_embedding_scatter
from micon.evaluation.plots import (
    plot_map_distributions,
    plot_retrieval_comparison,
    plot_topk_curves,
    plot_training_history,
)

__all__ = ["ReportConfig", "ReportInputs", "build_report"]

# Columns of the comparison table that are not metrics (identifiers, counts, interval bounds).
_NOT_METRICS = ("method", "chain", "n_seeds")


@dataclass(frozen=True, kw_only=True)
class ReportConfig:
    """``reporting.report``: what the HTML report shows.

    Attributes:
        headline_metrics: Comparison-table columns of the headline table (few, so it fits 1280 px).
        montage_crops_per_compound: Example crops drawn per compound, >= 1.
        montage_max_compounds: Compounds in the crop montage, >= 1 (the first ones in sorted order).
        seed: Seed of the crops drawn.
    """

    headline_metrics: tuple[str, ...]
    montage_crops_per_compound: int
    montage_max_compounds: int
    seed: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "headline_metrics", tuple(self.headline_metrics))
        if not self.headline_metrics:
            raise InvalidConfigError("headline_metrics must name at least one comparison-table column")
        for name in ("montage_crops_per_compound", "montage_max_compounds"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidConfigError(f"{name} must be an integer >= 1, got {value!r}")


@dataclass(frozen=True, kw_only=True)
class ReportInputs:
    """A run's outputs the report shows.

    Attributes:
        comparison: The comparison table (one row per method and chain, with interval columns).
        differences: The paired differences of the reference method against each peer.
        diagnostics: One row per run: effective rank and (MICON) generator sensitivity.
        quarantine: Quarantined items per stage and reason.
        retrieval_metrics: ``{run: {chain: {level: {metric: value}}}}``.
        histories: Trained run -> its training history (``step``, ``loss``, loss parts, ``lr``).
        topk: Run -> the chain's top-k table.
        compound_maps: Run -> the chain's per-compound mAP table.
        normalization_logs: Run -> the chain's step log (``step``, feature counts).
        coordinates: Run -> its 2-D maps (``embedding_coordinates``).
        crops: The crop store ``(N, C, H, W)``, read only at the drawn rows.
        channels: Its channel names.
        crop_index: One row per crop (``Metadata_CropID``, ``Metadata_JCP2022``, ...).
        run: The run's provenance (``run_id``, ``commit``, ``dirty``, ``command``).
        parameters: The reporting parameters (shown folded; the levels' glossary reads
            ``retrieval.scenarios``).
    """

    comparison: pd.DataFrame
    differences: pd.DataFrame
    diagnostics: pd.DataFrame
    quarantine: pd.DataFrame
    retrieval_metrics: Mapping[str, Mapping[str, Mapping[str, Mapping[str, float]]]]
    histories: Mapping[str, pd.DataFrame]
    topk: Mapping[str, pd.DataFrame]
    compound_maps: Mapping[str, pd.DataFrame]
    normalization_logs: Mapping[str, pd.DataFrame]
    coordinates: Mapping[str, pd.DataFrame]
    crops: Any
    channels: Sequence[str]
    crop_index: pd.DataFrame
    run: Mapping[str, Any]
    parameters: Mapping[str, Any]


def _metric_columns(comparison: pd.DataFrame) -> list[str]:
    """The comparison table's metric columns (no identifiers, counts or interval bounds)."""
    return [
        str(c)
        for c in comparison.columns
        if str(c) not in _NOT_METRICS and not str(c).endswith(("_ci_low", "_ci_high"))
    ]


def _comparison_sections(
    inputs: ReportInputs,
    config: ReportConfig,
    *,
    chain: str,
    references: Sequence[str],
    floors: Sequence[str],
) -> list[Section]:
    """The headline, the paired differences and every metric of every chain."""
    table = inputs.comparison
    seeded = "n_seeds" in table.columns and (table["n_seeds"] > 1).any()
    over = (
        "across training seeds for seeded methods, over compounds otherwise" if seeded else "over compounds"
    )
    headline = headline_table(
        table,
        chain=chain,
        metrics=config.headline_metrics,
        references=references,
        floors=floors,
        caption=(
            f"Retrieval under the {chain} normalisation chain, one row per method: the estimate and under it "
            f"its 95% interval ({over}). Higher is better; the best method per column is marked (green, "
            "▲), the known-truth ceiling (first) and the floors (last) are not ranked. A method at or "
            "below a floor has learnt nothing the floor lacks. Hover a heading for its meaning; the "
            "glossary explains levels and metrics."
        ),
    )
    chains = list(dict.fromkeys(table["chain"].astype(str)))
    everything = _metric_columns(table)
    full = tuple(
        headline_table(
            table,
            chain=name,
            metrics=everything,
            references=references,
            floors=floors,
            caption=(
                f"Every metric under the {name} chain (intervals where computed). Batch-effect scores: "
                "lower is better; the best method per column is marked."
            ),
        )
        for name in chains
    )
    peers = difference_table(
        inputs.differences,
        chain=chain,
        metrics=config.headline_metrics,
        caption=(
            f"MICON minus each peer under the {chain} chain, with its 95% interval (paired over the same "
            "compounds; across seeds where both have seeds). Green: MICON better, the interval above 0; "
            "red: worse, below 0; unmarked: no difference the data can resolve."
        ),
    )
    return [
        Section("Headline comparison", tables=(headline,), anchor="headline"),
        Section("MICON against each peer", tables=(peers,), anchor="differences"),
        Section(
            "Every metric, every chain",
            intro="The full comparison table, one table per normalisation chain (raw well means, the "
            "default chain, the JUMP recipe).",
            tables=full,
            collapsed=True,
        ),
        Section(
            "Every paired difference",
            tables=(
                frame_table(
                    inputs.differences,
                    caption="MICON minus each peer for every chain and metric: difference, 95% interval and "
                    "what it was resampled over.",
                    row_header="peer",
                ),
            ),
            collapsed=True,
        ),
    ]


def _retrieval_figures(inputs: ReportInputs, *, chain: str) -> Section:
    """The retrieval comparison, the top-k curves and the per-compound mAP distributions."""
    flat = {
        f"{method_label(run)} / {name}": levels
        for run, per_chain in inputs.retrieval_metrics.items()
        for name, levels in per_chain.items()
    }
    labelled = {method_label(run): table for run, table in inputs.topk.items()}
    maps = {method_label(run): table for run, table in inputs.compound_maps.items()}
    return Section(
        "Retrieval at every level",
        figures=(
            figure_item(
                plot_retrieval_comparison(flat),
                caption="Top-1 replicate retrieval (left) and replicate mAP (right) at each level, "
                "one bar per method and chain. Bars fall from NR to NSS as more of the easy (same batch, "
                "same source) replicates are left out.",
                alt="bar charts of top-1 and mAP per level",
            ),
            figure_item(
                plot_topk_curves(labelled),
                caption=f"Top-k replicate retrieval against k, one panel per level, one line per method "
                f"({chain} chain): higher and steeper is better.",
                alt="top-k accuracy curves per level",
            ),
            figure_item(
                plot_map_distributions(maps),
                caption=f"Per-compound replicate mAP, one box per method and panel per level ({chain} "
                "chain): the spread over compounds behind each mean; each dot is one compound.",
                alt="box plots of per-compound mAP",
            ),
        ),
        anchor="retrieval",
    )


def _training_section(inputs: ReportInputs) -> Section:
    """One figure per trained run: losses and learning rate on separate axes."""
    figures = tuple(
        figure_item(
            plot_training_history(history, title=method_label(run)),
            caption=f"{method_label(run)}: training losses (left: the total and its parts) and learning rate "
            "(right) against the optimisation step.",
            alt=f"training curves of {run}",
        )
        for run, history in inputs.histories.items()
    )
    return Section(
        "Training curves",
        intro="" if figures else "No trained method in this run.",
        figures=figures,
        anchor="training",
    )


def _embedding_section(inputs: ReportInputs) -> Section:
    """Per run, the wells after correction coloured by compound, mechanism and source (one projection)."""
    figures: list[FigureItem] = []
    for run, coordinates in inputs.coordinates.items():
        after = coordinates[coordinates["stage"].astype(str) == "after"]
        drawn = list(dict.fromkeys(after["projection"].astype(str)))
        if not drawn:
            continue
        # one map per run keeps the report light: UMAP where drawn (it shows neighbourhoods), else PCA
        projection = "UMAP" if "UMAP" in drawn else drawn[0]
        shown = after[after["projection"].astype(str) == projection]
        figures.append(
            figure_item(
                plot_embedding_scatter(
                    shown,
                    [schema.JCP2022, schema.MOA, schema.SOURCE],
                    title=f"{method_label(run)}: {projection} of the wells after correction",
                ),
                caption=f"{method_label(run)}: {projection} map of the well profiles after the default "
                "chain, one dot per well, coloured by compound, mechanism (where annotated) and source "
                "(DMSO and missing values grey). Wells of one compound or mechanism should gather; wells "
                "of one source should not.",
                alt=f"{projection} map of {run}",
                dpi=80,
            )
        )
    return Section(
        "Embedding maps",
        intro="Every projection, before and after correction, is in each run's embedding_map.png beside "
        "this report.",
        figures=tuple(figures),
        anchor="maps",
    )


def _montage_section(inputs: ReportInputs, config: ReportConfig) -> Section:
    """Example crops per compound, drawn from the crop store."""
    figure = plot_crop_montage(
        inputs.crops,
        inputs.channels,
        inputs.crop_index,
        group_by=(schema.JCP2022,),
        per_group=config.montage_crops_per_compound,
        max_groups=config.montage_max_compounds,
        seed=config.seed,
        title="Example crops per compound",
    )
    n = inputs.crop_index[schema.JCP2022].nunique()
    return Section(
        "Example crops per compound",
        figures=(
            figure_item(
                figure,
                caption=f"Up to {config.montage_crops_per_compound} crops drawn at random "
                f"(seed {config.seed}) for each of the first {min(n, config.montage_max_compounds)} of {n} "
                "compounds, one row per compound, as false-colour composites (key below the crops).",
                alt="crop montage per compound",
                photo=True,
            ),
        ),
        anchor="crops",
    )


def _normalization_table(logs: Mapping[str, pd.DataFrame], *, chain: str) -> Table:
    """One row per run: its feature count after each normalisation step of the chain."""
    rows = []
    for run, log in logs.items():
        row: dict[str, Any] = {"run": run}
        for record in log.to_dict(orient="records"):
            row[str(record["step"])] = f"{int(record['n_features_in'])} → {int(record['n_features_out'])}"
        rows.append(row)
    return frame_table(
        pd.DataFrame(rows),
        caption=f"Features in → out at each step of the {chain} chain, per run.",
        row_header="run",
    )


def build_report(
    inputs: ReportInputs,
    config: ReportConfig,
    *,
    chain: str,
    references: Sequence[str],
    floors: Sequence[str],
    title: str = "micon evaluation report",
) -> str:
    """Return the self-contained HTML report of a run.

    Sections: the headline comparison (one chain, readable names, intervals, the best method per column
    marked, the ceiling and floors set apart), MICON against each peer, retrieval figures (the comparison
    of levels, top-k curves, per-compound mAP), training curves of every trained run, embedding maps with
    legends, example crops per compound, diagnostics, the normalisation steps, quarantined items, every
    metric of every chain and every paired difference (folded), then the glossary of levels and metrics.

    Args:
        inputs: The run's outputs.
        config: What the report shows.
        chain: The normalisation chain of the headline, figures and maps.
        references: Rows shown as the known-truth ceiling.
        floors: Rows shown as floors.
        title: The page title.

    Raises:
        InvalidInputError, MissingColumnsError: As the table and figure builders, naming the input.
    """
    comparison = _comparison_sections(inputs, config, chain=chain, references=references, floors=floors)
    sections = [
        *comparison[:2],
        _retrieval_figures(inputs, chain=chain),
        _training_section(inputs),
        _embedding_section(inputs),
        _montage_section(inputs, config),
        Section(
            "Diagnostics",
            intro="Effective rank: how many dimensions the well profiles really use (low: collapse). For "
            "MICON, the generator's sensitivity: similarity of generated embeddings across controls (1: "
            "the control is ignored) and across molecules (1: the molecule is ignored).",
            tables=(
                frame_table(
                    inputs.diagnostics,
                    caption="One row per run: effective rank of its well profiles and, for MICON, how much "
                    "its generator's output follows the control versus the molecule.",
                    row_header="run",
                ),
            ),
            anchor="diagnostics",
        ),
        Section(
            "Normalisation steps",
            tables=(_normalization_table(inputs.normalization_logs, chain=chain),),
            collapsed=True,
        ),
        Section(
            "Quarantined items",
            tables=(
                frame_table(
                    inputs.quarantine,
                    caption="Items set aside before evaluation, per stage and reason (none dropped).",
                ),
            ),
        ),
        *comparison[2:],
    ]
    scenarios = inputs.parameters.get("retrieval", {}).get("scenarios", {})
    glossary = {
        "Evaluation levels (which wells a query may not retrieve)": level_glossary(scenarios),
        "Metrics": metric_glossary(_metric_columns(inputs.comparison)),
    }
    return render_html_report(
        title=title, run=inputs.run, sections=sections, glossary=glossary, parameters=inputs.parameters
    )
