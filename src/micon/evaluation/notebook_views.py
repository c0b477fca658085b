"""Figures and small tables for the notebooks in ``notebooks/``: screen, embeddings, comparison of methods.

Kedro-free like the rest of ``micon.evaluation``: the notebooks load every table through the catalog and
pass it here, so a cell is one call. Every function returns a ``matplotlib.figure.Figure`` (built without
pyplot, so no backend state is touched) or a DataFrame and never saves anything.

Hand-written: the plate-grid, montage and gallery layouts are specific to this project's tables; the
projections (scikit-learn PCA), neighbours (scikit-learn) and quarantine counts
(:func:`micon.quarantine.summarise_quarantines`) come from libraries or the project.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Patch
from sklearn.decomposition import PCA
from sklearn.neighbors import NearestNeighbors

from micon import schema
from micon.errors import InvalidInputError
from micon.evaluation.glossary import FLOOR_METHODS, REFERENCE_METHODS
from micon.quarantine import require_columns, summarise_quarantines

__all__ = [
    "CHANNEL_COLOURS",
    "add_well_columns",
    "nearest_wells",
    "pca_coordinates",
    "plot_crop_montage",
    "plot_embedding_scatter",
    "plot_headline_bars",
    "plot_neighbour_gallery",
    "plot_plate_maps",
    "plot_quarantine_overview",
    "rgb_composite",
    "well_position",
]

# The colour each Cell Painting / BBBC021 channel gets in a composite: the usual display of nuclei in blue,
# ER and RNA in green, actin/Golgi/membrane and mitochondria in red.
CHANNEL_COLOURS: dict[str, str] = {
    "DNA": "#0000ff",
    "ER": "#00ff00",
    "RNA": "#00ff00",
    "AGP": "#ff0000",
    "Mito": "#ff0000",
    "Tubulin": "#00ff00",
    "Actin": "#ff0000",
}
_WELL = re.compile(r"^\s*([A-Za-z]{1,2})\s*0*(\d+)\s*$")
_MISSING = "(missing)"
_LEGEND_MAX = 24


def well_position(well: str) -> tuple[int, int]:
    """Return the 0-based (row, column) of a well name such as ``"A01"``, ``"b7"`` or ``"AA12"``.

    Raises:
        InvalidInputError: ``well`` is not letters followed by a number (names it).
    """
    match = _WELL.match(str(well))
    if not match:
        raise InvalidInputError(f"well name {well!r} is not a row letter followed by a column number")
    letters, number = match.group(1).upper(), int(match.group(2))
    row = 0
    for letter in letters:
        row = row * 26 + (ord(letter) - ord("A") + 1)
    return row - 1, number - 1


def _categories(values: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Return integer codes and sorted category labels of ``values`` (NaN becomes ``"(missing)"``)."""
    labels = values.astype("string").fillna(_MISSING).astype(str)
    codes, uniques = pd.factorize(labels, sort=True)
    return codes, [str(u) for u in uniques]


def _palette(labels: Sequence[str], *, grey: Sequence[str] = ()) -> dict[str, tuple[float, float, float]]:
    """One colour per label: tab10/tab20/turbo by count; labels in ``grey`` (DMSO, missing) are grey."""
    coloured = [label for label in labels if label not in grey]
    if len(coloured) <= 10:
        cmap, positions = colormaps["tab10"], np.arange(len(coloured)) / 10 + 0.05
    elif len(coloured) <= 20:
        cmap, positions = colormaps["tab20"], np.arange(len(coloured)) / 20 + 0.025
    else:
        cmap, positions = colormaps["turbo"], np.linspace(0.05, 0.95, len(coloured))
    colours = {label: tuple(cmap(p)[:3]) for label, p in zip(coloured, positions, strict=True)}
    return colours | {label: (0.78, 0.78, 0.78) for label in labels if label in grey}


def _grey_labels(column: str) -> tuple[str, ...]:
    """Labels drawn grey in a colouring by ``column``: DMSO for compounds and mechanisms, missing values."""
    if column == schema.JCP2022:
        return (schema.DMSO_JCP2022, _MISSING)
    return ("DMSO", _MISSING) if column == schema.MOA else (_MISSING,)


def _legend(ax, colours: Mapping[str, tuple[float, float, float]], *, title: str) -> None:
    """Put a legend of ``colours`` beside ``ax`` (or a note when there are too many labels to list)."""
    if len(colours) > _LEGEND_MAX:
        ax.text(
            1.02,
            0.5,
            f"{len(colours)} {title} values\n(too many to list)",
            transform=ax.transAxes,
            va="center",
            fontsize="small",
        )
        return
    handles = [Patch(facecolor=c, edgecolor="none", label=label) for label, c in colours.items()]
    ax.legend(
        handles=handles,
        title=title,
        fontsize="x-small",
        title_fontsize="small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        ncols=1 if len(handles) <= 12 else 2,
    )


def plot_plate_maps(wells: pd.DataFrame, colour_by: str, *, title: str = "") -> Figure:
    """Draw one well grid per plate, each well coloured by ``colour_by`` (shared colours, one legend).

    Args:
        wells: One row per well with ``Metadata_Source``, ``Metadata_Plate``, ``Metadata_Well`` and
            ``colour_by`` (e.g. ``well_metadata``).
        colour_by: The column that colours the wells (``Metadata_JCP2022``, ``Metadata_MoA``: DMSO grey;
            ``Metadata_Split``, ...); missing values are grey.
        title: Figure title.

    Returns:
        A figure with one axes per plate (source/plate in its title), rows lettered from the top; a well
        absent from ``wells`` is left white.

    Raises:
        MissingColumnsError: A needed column is absent.
        InvalidInputError: ``wells`` is empty or a well name does not parse (named).
    """
    require_columns(wells, [schema.SOURCE, schema.PLATE, schema.WELL, colour_by], table_name="wells")
    if wells.empty:
        raise InvalidInputError("no wells to draw")
    positions = np.array([well_position(w) for w in wells[schema.WELL]])
    n_rows, n_cols = (int(positions[:, 0].max()) + 1, int(positions[:, 1].max()) + 1)
    codes, labels = _categories(wells[colour_by])
    colours = _palette(labels, grey=_grey_labels(colour_by))
    rgb = np.array([colours[label] for label in labels])
    plates = list(
        dict.fromkeys(zip(wells[schema.SOURCE].astype(str), wells[schema.PLATE].astype(str), strict=True))
    )
    n_panel_cols = min(len(plates), 3)
    n_panel_rows = -(-len(plates) // n_panel_cols)
    panel_w, panel_h = max(2.5, 0.28 * n_cols), max(1.8, 0.28 * n_rows)
    figure = Figure(
        figsize=(panel_w * n_panel_cols + 2.5, panel_h * n_panel_rows + 0.8), layout="constrained"
    )
    axes = figure.subplots(n_panel_rows, n_panel_cols, squeeze=False).ravel()
    keys = list(zip(wells[schema.SOURCE].astype(str), wells[schema.PLATE].astype(str), strict=True))
    for ax, plate in zip(axes, plates, strict=False):
        image = np.ones((n_rows, n_cols, 3))
        chosen = np.array([k == plate for k in keys])
        image[positions[chosen, 0], positions[chosen, 1]] = rgb[codes[chosen]]
        ax.imshow(image, interpolation="nearest", aspect="equal")
        ax.set_xticks(range(n_cols), [str(c + 1) for c in range(n_cols)], fontsize=5)
        ax.set_yticks(
            range(n_rows), [chr(ord("A") + r) if r < 26 else str(r + 1) for r in range(n_rows)], fontsize=5
        )
        ax.set_xticks(np.arange(-0.5, n_cols), minor=True)
        ax.set_yticks(np.arange(-0.5, n_rows), minor=True)
        ax.grid(which="minor", color="white", linewidth=0.5)
        ax.tick_params(which="minor", length=0)
        ax.set_title(f"{plate[0]} / {plate[1]}", fontsize="small")
    for ax in axes[len(plates) :]:
        ax.set_axis_off()
    _legend(axes[min(len(plates), n_panel_cols) - 1], colours, title=colour_by.removeprefix("Metadata_"))
    figure.suptitle(title or f"Plate maps coloured by {colour_by.removeprefix('Metadata_')}")
    return figure


def rgb_composite(
    crop: np.ndarray, channels: Sequence[str], *, percentiles: tuple[float, float] = (1, 99.5)
) -> np.ndarray:
    """Blend a multi-channel crop into one RGB image: each channel rescaled and tinted by its colour.

    Each channel is rescaled between its own ``percentiles`` (clipped to [0, 1]) and tinted with
    :data:`CHANNEL_COLOURS` (a channel not listed gets an evenly spaced hue); each of red, green and blue
    is the mean of the channels tinted with it (e.g. green = mean of ER and RNA), so no channel washes the
    others out. This is the usual false-colour display of a Cell Painting crop.

    Args:
        crop: One crop ``(C, H, W)``.
        channels: Its C channel names.
        percentiles: Lower and upper percentiles mapped to black and full colour, per channel.

    Returns:
        A float array ``(H, W, 3)`` in [0, 1].

    Raises:
        InvalidInputError: ``crop`` is not 3-D or ``channels`` does not name its planes.
    """
    crop = np.asarray(crop, dtype=np.float64)
    if crop.ndim != 3 or len(channels) != crop.shape[0]:
        raise InvalidInputError(
            f"crop of shape {crop.shape} does not have one plane per channel {list(channels)}"
        )
    hues = colormaps["hsv"](np.linspace(0, 1, len(channels), endpoint=False))
    rgb = np.zeros((*crop.shape[1:], 3))
    weight = np.zeros(3)
    for plane, channel, hue in zip(crop, channels, hues, strict=True):
        low, high = np.percentile(plane, percentiles)
        scaled = np.clip((plane - low) / (high - low), 0, 1) if high > low else np.zeros_like(plane)
        colour = np.array(to_rgb(CHANNEL_COLOURS[channel])) if channel in CHANNEL_COLOURS else hue[:3]
        rgb += scaled[..., None] * colour
        weight += colour
    return np.clip(rgb / np.maximum(weight, 1.0), 0, 1)


_COLOUR_NAMES = {"#0000ff": "blue", "#00ff00": "green", "#ff0000": "red"}


def _channel_key(channels: Sequence[str]) -> str:
    """A one-line legend of the composite's colours, e.g. ``DNA blue, ER green, ...``."""
    names = [_COLOUR_NAMES.get(CHANNEL_COLOURS.get(c, ""), "own hue") for c in channels]
    return "composite: " + ", ".join(f"{c} {n}" for c, n in zip(channels, names, strict=True))


def plot_crop_montage(
    crops: np.ndarray,
    channels: Sequence[str],
    crop_index: pd.DataFrame,
    *,
    group_by: Sequence[str] = (schema.JCP2022, schema.SOURCE),
    per_group: int = 6,
    max_groups: int = 12,
    seed: int = 0,
    title: str = "",
) -> Figure:
    """Draw one row of RGB composites per group (by default compound and source), crops drawn at random.

    Args:
        crops: The crop store ``(N, C, H, W)`` (a ``CropArray`` or array; only the drawn rows are read).
        channels: Its channel names (``CropArray.channels``).
        crop_index: One row per crop with ``Metadata_CropID`` (the row in ``crops``) and ``group_by``.
        group_by: Columns whose value combinations make the rows (first ``max_groups``, sorted).
        per_group: Crops per row (fewer when a group has fewer).
        max_groups: Most rows drawn.
        seed: Seed of the draw.
        title: Figure title.

    Returns:
        A figure of ``groups x per_group`` image axes, each row labelled with its group values.

    Raises:
        MissingColumnsError: A needed column is absent.
        InvalidInputError: ``crop_index`` is empty, or ``per_group`` / ``max_groups`` is not positive.
    """
    group_by = list(group_by)
    require_columns(crop_index, [schema.CROP_ID, *group_by], table_name="crop index")
    if crop_index.empty:
        raise InvalidInputError("no crops to draw")
    if per_group < 1 or max_groups < 1:
        raise InvalidInputError(f"per_group and max_groups must be positive, got {per_group}, {max_groups}")
    rng = np.random.default_rng(seed)
    groups = sorted(
        crop_index.groupby(group_by, sort=True, dropna=False).groups.items(), key=lambda g: str(g[0])
    )
    groups = groups[:max_groups]
    figure = Figure(figsize=(1.1 * per_group + 2.2, 1.15 * len(groups) + 0.9), layout="constrained")
    axes = figure.subplots(len(groups), per_group, squeeze=False)
    for row, (key, rows) in enumerate(groups):
        chosen = rng.choice(np.asarray(rows), size=min(per_group, len(rows)), replace=False)
        ids = np.sort(crop_index.loc[chosen, schema.CROP_ID].to_numpy(dtype=np.int64))
        for col, ax in enumerate(axes[row]):
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
            if col < len(ids):
                ax.imshow(rgb_composite(crops[int(ids[col])], channels))
        values = key if isinstance(key, tuple) else (key,)
        axes[row][0].set_ylabel(
            "\n".join(str(v) for v in values), rotation=0, ha="right", va="center", fontsize="x-small"
        )
    figure.suptitle(title or f"Crops per {' and '.join(c.removeprefix('Metadata_') for c in group_by)}")
    figure.supxlabel(_channel_key(channels), fontsize="x-small")
    return figure


def plot_quarantine_overview(tables: Mapping[str, pd.DataFrame]) -> tuple[pd.DataFrame, Figure]:
    """Count quarantined items per stage and reason and draw them as horizontal bars.

    Args:
        tables: Quarantine tables by name (the ``*_quarantine`` datasets the data_engineering pipeline
            writes), each with ``stage`` and ``reason``.

    Returns:
        :func:`micon.quarantine.summarise_quarantines`' table and a figure with one bar per
        (stage, reason) (a note saying nothing was quarantined when all tables are empty).

    Raises:
        MissingColumnsError: A non-empty table lacks ``stage`` or ``reason`` (named).
    """
    for name, table in tables.items():
        if len(table):
            require_columns(table, [schema.QUARANTINE_STAGE, schema.QUARANTINE_REASON], table_name=name)
    summary = summarise_quarantines(tables)
    figure = Figure(figsize=(7, 1.2 + 0.35 * max(len(summary), 1)), layout="constrained")
    ax = figure.subplots()
    if summary.empty:
        ax.text(0.5, 0.5, f"nothing quarantined ({len(tables)} tables, all empty)", ha="center", va="center")
        ax.set_axis_off()
    else:
        labels = [
            f"{s}: {r}"
            for s, r in zip(summary[schema.QUARANTINE_STAGE], summary[schema.QUARANTINE_REASON], strict=True)
        ]
        stages, stage_names = _categories(summary[schema.QUARANTINE_STAGE])
        colours = _palette(stage_names)
        ax.barh(range(len(summary)), summary["n_items"], color=[colours[stage_names[c]] for c in stages])
        ax.set_yticks(range(len(summary)), labels, fontsize="small")
        ax.invert_yaxis()
        ax.set_xlabel("quarantined items")
        for y, n in enumerate(summary["n_items"]):
            ax.text(n, y, f" {n}", va="center", fontsize="x-small")
    ax.set_title("Quarantined items per stage and reason")
    return summary, figure


def pca_coordinates(profiles: pd.DataFrame, *, seed: int = 0) -> pd.DataFrame:
    """Project well profiles onto their first two principal components (scikit-learn PCA).

    Args:
        profiles: One row per well: ``Metadata_*`` columns and numeric feature columns.
        seed: PCA's random state (used by its randomised solver on large tables).

    Returns:
        The ``Metadata_*`` columns with ``x`` and ``y`` (PC1, PC2) and ``projection`` = ``"pca"``.

    Raises:
        InvalidInputError: Fewer than 2 wells or 2 feature columns, or a feature is not finite.
    """
    metadata = [c for c in profiles.columns if str(c).startswith("Metadata_")]
    features = profiles.drop(columns=metadata).select_dtypes("number")
    if len(features) < 2 or features.shape[1] < 2:
        raise InvalidInputError(f"PCA needs at least 2 wells and 2 features, got {features.shape}")
    values = features.to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInputError("well profiles hold non-finite features; PCA needs finite ones")
    xy = PCA(n_components=2, random_state=seed).fit_transform(values)
    return profiles[metadata].reset_index(drop=True).assign(x=xy[:, 0], y=xy[:, 1], projection="pca")


def add_well_columns(table: pd.DataFrame, wells: pd.DataFrame, columns: Sequence[str]) -> pd.DataFrame:
    """Add the ``columns`` of ``wells`` that ``table`` lacks, matched on the well key (source, plate, well).

    Used to colour 2-D maps by a well annotation (e.g. ``Metadata_MoA``) their table does not carry.

    Args:
        table: One row per well with the well key.
        wells: One row per well with the well key (e.g. ``well_metadata``).
        columns: Columns wanted; those ``table`` has, or ``wells`` lacks, are left as they are.

    Returns:
        ``table`` (same rows, same order) with the added columns (NaN for a well ``wells`` lacks).

    Raises:
        MissingColumnsError: Either table lacks the well key.
        InvalidInputError: ``wells`` holds a well twice (named).
    """
    key = list(schema.WELL_KEY)
    require_columns(table, key, table_name="table")
    require_columns(wells, key, table_name="wells")
    added = [c for c in columns if c not in table.columns and c in wells.columns]
    if not added:
        return table
    duplicated = wells.duplicated(key)
    if duplicated.any():
        first = tuple(wells.loc[duplicated, key].iloc[0])
        raise InvalidInputError(f"wells holds well {first} more than once")
    return table.merge(wells[[*key, *added]], on=key, how="left", validate="many_to_one")


def plot_embedding_scatter(coordinates: pd.DataFrame, colour_by: Sequence[str], *, title: str = "") -> Figure:
    """Draw the same 2-D map of wells once per colouring, each panel with its legend.

    Args:
        coordinates: One row per well with ``x``, ``y`` and the ``colour_by`` columns (e.g. one
            projection and stage of ``embedding_coordinates``, or :func:`pca_coordinates`).
        colour_by: Columns to colour by, one panel each (``Metadata_JCP2022``, ``Metadata_MoA``: DMSO grey).
        title: Figure title.

    Returns:
        A figure with one axes per column of ``colour_by`` that ``coordinates`` has.

    Raises:
        MissingColumnsError: ``x`` or ``y`` is absent.
        InvalidInputError: ``coordinates`` is empty or holds none of ``colour_by``.
    """
    require_columns(coordinates, ["x", "y"], table_name="coordinates")
    shown = [c for c in colour_by if c in coordinates.columns]
    if coordinates.empty or not shown:
        raise InvalidInputError(f"nothing to draw: {len(coordinates)} wells, colourings {list(colour_by)}")
    figure = Figure(figsize=(5.6 * len(shown), 4.2), layout="constrained")
    axes = figure.subplots(1, len(shown), squeeze=False)[0]
    for ax, column in zip(axes, shown, strict=True):
        codes, labels = _categories(coordinates[column])
        colours = _palette(labels, grey=_grey_labels(column))
        grey = set(_grey_labels(column))
        order = sorted(range(len(labels)), key=lambda i: labels[i] not in grey)  # grey underneath
        for code in order:
            mask = codes == code
            ax.scatter(
                coordinates.loc[mask, "x"],
                coordinates.loc[mask, "y"],
                s=14,
                color=colours[labels[code]],
                alpha=0.85,
                linewidths=0,
            )
        ax.set_title(f"by {column.removeprefix('Metadata_')}", fontsize="small")
        ax.set_xticks([])
        ax.set_yticks([])
        _legend(ax, colours, title=column.removeprefix("Metadata_"))
    if title:
        figure.suptitle(title)
    return figure


def nearest_wells(profiles: pd.DataFrame, queries: Sequence[int], *, k: int = 5) -> pd.DataFrame:
    """Find each query well's ``k`` nearest other wells by cosine distance of their features.

    Args:
        profiles: One row per well: ``Metadata_*`` columns and numeric feature columns (e.g. a
            ``<method>.<chain>.normalized_profiles`` table).
        queries: Row positions of the query wells in ``profiles``.
        k: Neighbours per query (fewer when there are fewer other wells).

    Returns:
        One row per (query, rank): ``query`` and ``neighbour`` (row positions), ``rank`` (1 = nearest),
        ``distance`` (cosine) and the neighbour's ``Metadata_*`` columns.

    Raises:
        InvalidInputError: ``k`` is not positive, a query is out of range, or a feature is not finite.
    """
    if k < 1:
        raise InvalidInputError(f"k must be positive, got {k}")
    metadata = [c for c in profiles.columns if str(c).startswith("Metadata_")]
    values = profiles.drop(columns=metadata).select_dtypes("number").to_numpy(dtype=np.float64)
    if not np.isfinite(values).all():
        raise InvalidInputError("profiles hold non-finite features")
    bad = [q for q in queries if not 0 <= int(q) < len(profiles)]
    if bad:
        raise InvalidInputError(f"query rows {bad} are outside the {len(profiles)} profiles")
    n = min(k + 1, len(profiles))
    index = NearestNeighbors(n_neighbors=n, metric="cosine").fit(values)
    distances, neighbours = index.kneighbors(values[list(queries)])
    rows = []
    for query, dists, found in zip(queries, distances, neighbours, strict=True):
        others = [(d, j) for d, j in zip(dists, found, strict=True) if j != query][:k]
        rows += [
            {"query": int(query), "neighbour": int(j), "rank": r, "distance": float(d)}
            for r, (d, j) in enumerate(others, start=1)
        ]
    table = pd.DataFrame(rows, columns=["query", "neighbour", "rank", "distance"])
    neighbour_meta = profiles[metadata].iloc[table["neighbour"]].reset_index(drop=True)
    return pd.concat([table, neighbour_meta], axis=1)


def plot_neighbour_gallery(
    crops: np.ndarray,
    channels: Sequence[str],
    crop_index: pd.DataFrame,
    profiles: pd.DataFrame,
    neighbours: pd.DataFrame,
    *,
    seed: int = 0,
    title: str = "",
) -> Figure:
    """Draw one row per query well: a crop of the query, then one crop of each of its nearest wells.

    Args:
        crops: The crop store ``(N, C, H, W)``; only the drawn rows are read.
        channels: Its channel names.
        crop_index: One row per crop with ``Metadata_CropID`` and the well key (source, plate, well).
        profiles: The profiles :func:`nearest_wells` searched (for the query wells' keys and compounds).
        neighbours: :func:`nearest_wells`' output.
        seed: Seed of the crop drawn in each well.
        title: Figure title.

    Returns:
        A figure of ``queries x (1 + k)`` image axes; each is titled with its compound (and rank and
        cosine distance for neighbours), a matching compound in green; a well without crops is left blank.

    Raises:
        MissingColumnsError: A needed column is absent.
        InvalidInputError: ``neighbours`` is empty.
    """
    key = list(schema.WELL_KEY)
    require_columns(crop_index, [schema.CROP_ID, *key], table_name="crop index")
    require_columns(profiles, [*key, schema.JCP2022], table_name="profiles")
    require_columns(neighbours, ["query", "neighbour", "rank", "distance"], table_name="neighbours")
    if neighbours.empty:
        raise InvalidInputError("no neighbours to draw")
    rng = np.random.default_rng(seed)
    by_well = crop_index.groupby(key, sort=False)[schema.CROP_ID].apply(lambda s: s.to_numpy(dtype=np.int64))
    queries = list(dict.fromkeys(neighbours["query"]))
    k = int(neighbours["rank"].max())
    figure = Figure(figsize=(1.5 * (k + 1) + 0.5, 1.75 * len(queries) + 0.8), layout="constrained")
    axes = figure.subplots(len(queries), k + 1, squeeze=False)

    def draw(ax, row: int, label: str, colour: str) -> None:
        ax.set_xticks([])
        ax.set_yticks([])
        well = tuple(profiles.iloc[row][key])
        ids = by_well.get(well)
        if ids is not None and len(ids):
            ax.imshow(rgb_composite(crops[int(rng.choice(ids))], channels))
        ax.set_title(label, fontsize=6, color=colour)

    for r, query in enumerate(queries):
        compound = str(profiles.iloc[query][schema.JCP2022])
        draw(axes[r][0], query, f"query\n{compound}", "black")
        found = neighbours[neighbours["query"] == query].sort_values("rank")
        for ax, item in zip(axes[r][1:], found.itertuples(index=False), strict=False):
            other = str(profiles.iloc[item.neighbour][schema.JCP2022])
            draw(
                ax,
                item.neighbour,
                f"#{item.rank} {other}\nd={item.distance:.2f}",
                "green" if other == compound else "black",
            )
        for ax in axes[r][1 + len(found) :]:
            ax.set_axis_off()
    figure.suptitle(title or "Nearest wells of each query well (one crop per well)")
    figure.supxlabel(_channel_key(channels), fontsize="x-small")
    return figure


def plot_headline_bars(
    comparison: pd.DataFrame,
    metrics: Mapping[str, str],
    *,
    reference: str = REFERENCE_METHODS[0],
    floors: Sequence[str] = FLOOR_METHODS,
    title: str = "",
) -> Figure:
    """Draw grouped bars of headline metrics: one panel per metric, one group per method, one bar per chain.

    The reference row (the known truth) is drawn hatched ``//`` and the floors hatched ``..``; per chain a
    dashed line marks the best floor, so a method below it is no better than a floor.

    Args:
        comparison: ``build_comparison_table``'s output (``method``, ``chain``, metric columns).
        metrics: Column -> panel title, e.g. ``{"NSS_top1": "NSS top-1"}``; absent columns are skipped.
        reference: The known-truth method (marked when present).
        floors: The floor methods (marked when present).
        title: Figure title.

    Returns:
        A figure with one axes per metric present.

    Raises:
        MissingColumnsError: ``method`` or ``chain`` is absent.
        InvalidInputError: None of ``metrics`` is a column of ``comparison``, or it has no rows.
    """
    require_columns(comparison, ["method", "chain"], table_name="comparison table")
    shown = {c: t for c, t in metrics.items() if c in comparison.columns}
    if not shown or comparison.empty:
        raise InvalidInputError(f"the comparison table has none of the columns {list(metrics)} (or no rows)")
    methods = list(dict.fromkeys(comparison["method"].astype(str)))
    chains = list(dict.fromkeys(comparison["chain"].astype(str)))
    chain_colours = _palette(chains)
    figure = Figure(figsize=(1.0 + 0.55 * len(methods) * len(shown) + 2, 4.2), layout="constrained")
    axes = figure.subplots(1, len(shown), squeeze=False)[0]
    width = 0.8 / len(chains)
    x = np.arange(len(methods))
    for ax, (column, panel_title) in zip(axes, shown.items(), strict=True):
        table = comparison.assign(
            method=comparison["method"].astype(str), chain=comparison["chain"].astype(str)
        )
        values = table.pivot_table(index="method", columns="chain", values=column, aggfunc="first")
        values = values.reindex(index=methods, columns=chains)
        for i, chain in enumerate(chains):
            bars = ax.bar(
                x - 0.4 + width * (i + 0.5),
                values[chain].to_numpy(dtype=float),
                width,
                color=chain_colours[chain],
                label=chain,
            )
            for method, bar in zip(methods, bars, strict=True):
                if method == reference:
                    bar.set_hatch("//")
                elif method in floors:
                    bar.set_hatch("..")
            floor_values = values.loc[[m for m in floors if m in values.index], chain]
            if floor_values.notna().any():
                ax.axhline(float(floor_values.max()), color=chain_colours[chain], linestyle="--", linewidth=1)
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xticks(
            x,
            [
                f"{m}\n(reference)" if m == reference else f"{m}\n(floor)" if m in floors else m
                for m in methods
            ],
            rotation=45,
            ha="right",
            fontsize="small",
        )
        ax.set_title(panel_title)
        ax.set_ylabel(column)
    handles = [Patch(facecolor=chain_colours[c], label=c) for c in chains]
    handles += [
        Patch(facecolor="white", edgecolor="black", hatch="//", label=f"{reference} (reference)"),
        Patch(facecolor="white", edgecolor="black", hatch="..", label="floor"),
    ]
    axes[-1].legend(
        handles=handles,
        title="chain (dashed line: best floor)",
        fontsize="x-small",
        title_fontsize="x-small",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
    )
    if title:
        figure.suptitle(title)
    return figure
