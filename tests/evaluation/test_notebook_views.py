import numpy as np
import pandas as pd
import pytest
from matplotlib.figure import Figure

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError
from micon.evaluation.notebook_views import (
    add_well_columns,
    nearest_wells,
    pca_coordinates,
    plot_crop_montage,
    plot_embedding_scatter,
    plot_headline_bars,
    plot_neighbour_gallery,
    plot_plate_maps,
    plot_quarantine_overview,
    rgb_composite,
    well_position,
)

CHANNELS = ("AGP", "DNA", "ER", "Mito", "RNA")


def _wells() -> pd.DataFrame:
    rows = []
    for plate in ("P1", "P2"):
        for i, well in enumerate(("A01", "A02", "B01", "B03")):
            compound = schema.DMSO_JCP2022 if i == 0 else f"C{i % 2}"
            rows.append(
                {
                    schema.SOURCE: "s1",
                    schema.PLATE: plate,
                    schema.WELL: well,
                    schema.JCP2022: compound,
                    schema.MOA: None if i == 0 else f"moa{i % 2}",
                    schema.SPLIT: "train" if plate == "P1" else "test",
                }
            )
    return pd.DataFrame(rows)


def _profiles(wells: pd.DataFrame, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    centres = {c: rng.normal(size=6) for c in wells[schema.JCP2022].unique()}
    features = np.stack([centres[c] + 0.01 * rng.normal(size=6) for c in wells[schema.JCP2022]])
    return pd.concat(
        [wells.reset_index(drop=True), pd.DataFrame(features, columns=[f"f{i}" for i in range(6)])], axis=1
    )


def _crops(wells: pd.DataFrame, per_well: int = 2) -> tuple[np.ndarray, pd.DataFrame]:
    index = wells.loc[wells.index.repeat(per_well)].reset_index(drop=True)
    index[schema.CROP_ID] = np.arange(len(index))
    crops = np.random.default_rng(1).integers(
        0, 4000, size=(len(index), len(CHANNELS), 8, 8), dtype=np.uint16
    )
    return crops, index


@pytest.mark.parametrize(
    ("well", "position"), [("A01", (0, 0)), ("b7", (1, 6)), ("P24", (15, 23)), ("AA1", (26, 0))]
)
def test_well_position_parses_letters_and_number(well, position):
    assert well_position(well) == position


def test_well_position_rejects_names_it_cannot_parse():
    with pytest.raises(InvalidInputError, match="'12A'"):
        well_position("12A")


@pytest.mark.parametrize("colour_by", [schema.JCP2022, schema.MOA, schema.SPLIT])
def test_plot_plate_maps_one_grid_per_plate_with_legend(colour_by):
    figure = plot_plate_maps(_wells(), colour_by)
    images = [ax for ax in figure.axes if ax.images]
    assert len(images) == 2
    assert [ax.get_title() for ax in images] == ["s1 / P1", "s1 / P2"]
    assert images[0].images[0].get_array().shape == (2, 3, 3)
    assert figure.axes[1].get_legend() is not None
    assert figure.get_suptitle()


def test_plot_plate_maps_leaves_absent_wells_white_and_dmso_grey():
    figure = plot_plate_maps(_wells(), schema.JCP2022)
    grid = figure.axes[0].images[0].get_array()
    assert np.allclose(grid[1, 1], 1.0)  # B02 is not in the table
    assert np.allclose(grid[0, 0], 0.78)  # A01 is DMSO


def test_plot_plate_maps_names_missing_column():
    with pytest.raises(MissingColumnsError, match="Metadata_MoA"):
        plot_plate_maps(_wells().drop(columns=schema.MOA), schema.MOA)


def test_rgb_composite_tints_each_channel_and_stays_in_range():
    crop = np.zeros((5, 4, 4), dtype=np.uint16)
    crop[CHANNELS.index("DNA"), :2] = 1000
    rgb = rgb_composite(crop, CHANNELS)
    assert rgb.shape == (4, 4, 3)
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert rgb[0, 0, 2] > rgb[0, 0, 0]  # DNA is blue
    assert np.allclose(rgb[3, 3], 0)


def test_rgb_composite_rejects_channel_mismatch():
    with pytest.raises(InvalidInputError, match="one plane per channel"):
        rgb_composite(np.zeros((3, 4, 4)), CHANNELS)


def test_plot_crop_montage_one_row_per_group():
    wells = _wells()
    crops, index = _crops(wells)
    figure = plot_crop_montage(crops, CHANNELS, index, per_group=3)
    n_groups = index.groupby([schema.JCP2022, schema.SOURCE]).ngroups
    assert len(figure.axes) == n_groups * 3
    drawn = sum(bool(ax.images) for ax in figure.axes)
    assert drawn == sum(min(3, len(g)) for _, g in index.groupby([schema.JCP2022, schema.SOURCE]))
    with pytest.raises(InvalidInputError, match="positive"):
        plot_crop_montage(crops, CHANNELS, index, per_group=0)


def test_plot_quarantine_overview_counts_per_stage_and_reason():
    table = pd.DataFrame({"stage": ["join", "join", "crops"], "reason": ["no_dmso", "no_dmso", "no_cells"]})
    summary, figure = plot_quarantine_overview({"a_quarantine": table, "b_quarantine": table.iloc[:0]})
    assert summary["n_items"].tolist() == [1, 2]
    assert len(figure.axes[0].patches) == 2
    empty_summary, empty_figure = plot_quarantine_overview({"a_quarantine": table.iloc[:0]})
    assert empty_summary.empty
    assert "nothing quarantined" in empty_figure.axes[0].texts[0].get_text()


def test_pca_coordinates_keeps_metadata_and_adds_xy():
    profiles = _profiles(_wells())
    coordinates = pca_coordinates(profiles)
    assert {"x", "y", "projection", schema.JCP2022} <= set(coordinates.columns)
    assert len(coordinates) == len(profiles)
    with pytest.raises(InvalidInputError, match="non-finite"):
        pca_coordinates(profiles.assign(f0=np.nan))


def test_plot_embedding_scatter_one_panel_per_colouring_with_legends():
    coordinates = pca_coordinates(_profiles(_wells()))
    figure = plot_embedding_scatter(coordinates, [schema.JCP2022, schema.MOA, "absent"], title="t")
    assert len(figure.axes) == 2
    assert all(ax.get_legend() is not None for ax in figure.axes)
    with pytest.raises(InvalidInputError, match="nothing to draw"):
        plot_embedding_scatter(coordinates, ["absent"])


def test_nearest_wells_finds_replicates_first():
    profiles = _profiles(_wells())
    neighbours = nearest_wells(profiles, [1], k=2)
    assert neighbours["rank"].tolist() == [1, 2]
    assert 1 not in neighbours["neighbour"].tolist()
    assert neighbours[schema.JCP2022].iloc[0] == profiles[schema.JCP2022].iloc[1]
    with pytest.raises(InvalidInputError, match="outside"):
        nearest_wells(profiles, [99])


def test_plot_neighbour_gallery_query_then_neighbours():
    wells = _wells()
    profiles = _profiles(wells)
    crops, index = _crops(wells)
    neighbours = nearest_wells(profiles, [1, 2], k=3)
    figure = plot_neighbour_gallery(crops, CHANNELS, index, profiles, neighbours)
    assert len(figure.axes) == 2 * 4
    assert all(ax.images for ax in figure.axes)
    assert figure.axes[0].get_title().startswith("query")


def test_plot_headline_bars_marks_reference_and_floors():
    comparison = pd.DataFrame(
        [
            (m, c, v)
            for m, v in (("known_truth", 0.9), ("micon", 0.5), ("untrained", 0.2))
            for c in ("raw", "default")
        ],
        columns=["method", "chain", "NSS_top1"],
    )
    figure = plot_headline_bars(comparison, {"NSS_top1": "NSS top-1", "absent": "x"})
    (ax,) = figure.axes
    hatches = [bar.get_hatch() for bar in ax.patches]
    assert hatches.count("//") == 2 and hatches.count("..") == 2
    assert any(np.allclose(line.get_ydata(), 0.2) for line in ax.lines)  # the floor line
    with pytest.raises(InvalidInputError, match="none of the columns"):
        plot_headline_bars(comparison, {"absent": "x"})


def test_figures_are_figures():
    assert isinstance(plot_plate_maps(_wells(), schema.SPLIT), Figure)


def test_add_well_columns_adds_only_missing_columns_in_row_order():
    wells = _wells()
    table = (
        wells[[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022]].iloc[::-1].reset_index(drop=True)
    )
    added = add_well_columns(table, wells, [schema.MOA, schema.JCP2022, "absent"])
    assert list(added.columns) == [*table.columns, schema.MOA]
    assert added[schema.WELL].tolist() == table[schema.WELL].tolist()
    with pytest.raises(InvalidInputError, match="more than once"):
        add_well_columns(table, pd.concat([wells, wells.iloc[:1]]), [schema.MOA])
