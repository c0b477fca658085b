from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError
from micon.sources.synthetic import (
    WELL_NAMES,
    SyntheticScreenConfig,
    generate_compounds,
    generate_layout,
    well_position,
)
from tests.parameters import make_config as make_project_config


@pytest.fixture(scope="module")
def layout(tiny_config: SyntheticScreenConfig) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    compounds = generate_compounds(tiny_config)
    plates, wells = generate_layout(compounds, tiny_config)
    return compounds, plates, wells


def test_generate_layout_tiny_config_returns_contract_columns(layout) -> None:
    _, plates, wells = layout
    assert list(plates.columns) == [schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE]
    assert list(wells.columns) == [schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022]
    assert (plates[schema.PLATE_TYPE] == "COMPOUND").all()
    assert plates[schema.PLATE].is_unique


def test_generate_layout_tiny_config_sources_batches_plates_counts(layout) -> None:
    _, plates, _ = layout
    assert plates[schema.SOURCE].nunique() == 2
    assert plates[schema.BATCH].nunique() == 4  # batch ids unique across sources
    assert plates.groupby(schema.BATCH)[schema.PLATE].nunique().eq(2).all()
    assert plates[schema.SOURCE].tolist()[0] == "source_1"
    assert plates[schema.BATCH].tolist()[0] == "2024_01_01_Batch1"
    assert plates[schema.PLATE].tolist()[:2] == ["SYN010101", "SYN010102"]


def test_generate_layout_every_plate_has_dmso_and_each_compound_once(layout, tiny_config) -> None:
    compounds, plates, wells = layout
    treatments = set(compounds[schema.JCP2022]) - {schema.DMSO_JCP2022}
    for plate, plate_wells in wells.groupby(schema.PLATE):
        counts = plate_wells[schema.JCP2022].value_counts()
        assert counts[schema.DMSO_JCP2022] == tiny_config.n_dmso_wells_per_plate, plate
        assert set(counts.index) - {schema.DMSO_JCP2022} == treatments, plate
        assert (counts.drop(schema.DMSO_JCP2022) == 1).all(), plate
        assert plate_wells[schema.WELL].is_unique, plate
        assert plate_wells[schema.WELL].isin(WELL_NAMES).all(), plate
    assert set(wells[schema.PLATE]) == set(plates[schema.PLATE])


def test_generate_layout_every_compound_replicated_across_batches_and_sources(layout) -> None:
    compounds, plates, wells = layout
    merged = wells.merge(plates, on=[schema.SOURCE, schema.PLATE])
    spread = merged.groupby(schema.JCP2022).agg(
        sources=(schema.SOURCE, "nunique"), batches=(schema.BATCH, "nunique")
    )
    assert set(spread.index) == set(compounds[schema.JCP2022])
    assert (spread["sources"] >= 2).all()
    assert (spread["batches"] >= 2).all()


def test_generate_layout_positions_shuffled_per_plate_and_seeded(
    layout, make_config: Callable[..., SyntheticScreenConfig]
) -> None:
    compounds, _, wells = layout
    by_plate = wells.groupby(schema.PLATE)
    first = by_plate.get_group("SYN010101").set_index(schema.JCP2022)[schema.WELL]
    second = by_plate.get_group("SYN010102").set_index(schema.JCP2022)[schema.WELL]
    assert not first.drop(schema.DMSO_JCP2022).equals(second.drop(schema.DMSO_JCP2022))  # two plate maps
    _, again = generate_layout(compounds, make_config())
    pd.testing.assert_frame_equal(wells, again)
    _, reseeded = generate_layout(compounds, make_config(seed=1))
    assert not wells.equals(reseeded)


def test_generate_layout_duplicate_compound_ids_raise_naming_id(tiny_config) -> None:
    compounds = pd.DataFrame({schema.JCP2022: ["JCP2022_900001", "JCP2022_900001"]})
    with pytest.raises(InvalidInputError, match="JCP2022_900001"):
        generate_layout(compounds, tiny_config)


def test_generate_layout_too_many_compounds_raise_invalid_input(tiny_config) -> None:
    compounds = pd.DataFrame({schema.JCP2022: [f"JCP2022_9{i:05d}" for i in range(383)]})
    with pytest.raises(InvalidInputError, match="384"):
        generate_layout(compounds, tiny_config)


def test_generate_layout_missing_id_column_raises_naming_it(tiny_config) -> None:
    with pytest.raises(MissingColumnsError, match=schema.JCP2022):
        generate_layout(pd.DataFrame({"x": [1]}), tiny_config)


def _layout_of(wells: pd.DataFrame) -> pd.Series:
    pairs = wells.groupby(schema.PLATE).apply(
        lambda plate: tuple(sorted(zip(plate[schema.WELL], plate[schema.JCP2022], strict=True))),
        include_groups=False,
    )
    return pd.Series(pd.factorize(pairs)[0], index=pairs.index)


def test_generate_layout_plate_maps_repeat_across_plates_and_sources(layout, tiny_config) -> None:
    _, plates, wells = layout
    layout_of = _layout_of(wells)
    assert layout_of.nunique() == tiny_config.n_layouts
    sources = plates.set_index(schema.PLATE)[schema.SOURCE]
    per_layout = sources.loc[layout_of.index].groupby(layout_of.to_numpy()).nunique()
    assert (per_layout == plates[schema.SOURCE].nunique()).all()  # every map recurs in every source


def test_generate_layout_default_at_least_16_dmso_wells_per_plate() -> None:
    config = make_project_config(SyntheticScreenConfig, "synthetic", env="base")
    assert config.n_dmso_wells_per_plate >= 16
    _, wells = generate_layout(generate_compounds(config), config)
    dmso = wells[wells[schema.JCP2022] == schema.DMSO_JCP2022].groupby(schema.PLATE).size()
    assert (dmso >= 16).all()


@pytest.mark.parametrize(
    ("well", "edge"), [("A01", 1.0), ("P24", 1.0), ("A12", 1.0), ("H01", 1.0), ("B02", 0.0), ("H12", 0.0)]
)
def test_well_position_edge_wells_outer_ring(well: str, edge: float) -> None:
    position, is_edge = well_position(well)
    assert is_edge == edge
    assert np.all(np.abs(position) <= 0.5)


def test_well_position_unknown_well_raises_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="Q01"):
        well_position("Q01")
