import pandas as pd
import pytest

from micon import schema
from micon.errors import MissingColumnsError
from micon.evaluation import assign_plate_layouts


def _plates() -> pd.DataFrame:
    """Three plates: p1 and p3 share a map, p2 swaps the two compounds."""
    wells = {
        "p1": [("A01", "X"), ("A02", "Y")],
        "p2": [("A01", "Y"), ("A02", "X")],
        "p3": [("A02", "Y"), ("A01", "X")],
    }
    rows = [
        {
            schema.SOURCE: "s",
            schema.BATCH: "b",
            schema.PLATE: plate,
            schema.WELL: well,
            schema.JCP2022: compound,
        }
        for plate, pairs in wells.items()
        for well, compound in pairs
    ]
    return pd.DataFrame(rows).assign(emb_0000=1.0)


def test_assign_plate_layouts_groups_plates_with_same_map():
    out = assign_plate_layouts(_plates())
    layout = out.groupby(schema.PLATE)[schema.PLATE_LAYOUT].first()
    assert layout["p1"] == layout["p3"] != layout["p2"]
    assert layout["p1"] == "layout_0"
    assert schema.metadata_columns(out.columns)[-1] == schema.PLATE_LAYOUT
    assert schema.feature_columns(out.columns) == ["emb_0000"]


def test_assign_plate_layouts_keeps_existing_column():
    plates = _plates().assign(**{schema.PLATE_LAYOUT: "map_A"})
    assert assign_plate_layouts(plates) is plates


def test_assign_plate_layouts_missing_well_raises():
    with pytest.raises(MissingColumnsError, match=schema.WELL):
        assign_plate_layouts(_plates().drop(columns=[schema.WELL]))
