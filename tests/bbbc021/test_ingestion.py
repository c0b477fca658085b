"""BBBC021 ingestion: official layout and PNG subset into raw tables, channel planes, well metadata."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.chem.parallel import ParallelConfig
from micon.chem.standardize import StandardizationConfig, standardize_compounds
from micon.errors import InvalidInputError, MissingColumnsError
from micon.metadata import join_well_metadata, split_by_molecule
from micon.sources.bbbc021.layouts import (
    BBBC021_PROFILE,
    PNG_RGB_CHANNELS,
    png_channel_loaders,
    read_official_layout,
    read_png_subset,
)
from tests.parameters import make_config
from tests.shared_data import require_shared

PNG_COLUMNS = ["image_path", "compound", "concentration_uM", "moa", "plate", "week", "well", "site_inferred"]


def _png_metadata() -> pd.DataFrame:
    rows = [
        ("fields_png/f0.png", "taxol", 1.0, "Microtubule stabilizers", "Week1_1", "Week1", "B02", 1, "CC"),
        ("fields_png/f1.png", "taxol", 1.0, "Microtubule stabilizers", "Week1_1", "Week1", "B02", 2, "CC"),
        ("fields_png/f2.png", "AZ-A", 0.3, "Eg5 inhibitors", "Week1_2", "Week1", "C03", 1, ""),
    ]
    return pd.DataFrame(rows, columns=[*PNG_COLUMNS, "smiles"])


def _official_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    images = pd.DataFrame(
        {
            "Image_FileName_DAPI": ["B02_s1_w1X.tif", "B02_s2_w1Y.tif", "C03_s1_w1Z.tif"],
            "Image_PathName_DAPI": ["Week1/Week1_1"] * 3,
            "Image_FileName_Tubulin": ["B02_s1_w2X.tif", "B02_s2_w2Y.tif", "C03_s1_w2Z.tif"],
            "Image_PathName_Tubulin": ["Week1/Week1_1"] * 3,
            "Image_FileName_Actin": ["B02_s1_w4X.tif", "B02_s2_w4Y.tif", "C03_s1_w4Z.tif"],
            "Image_PathName_Actin": ["Week1/Week1_1"] * 3,
            "Image_Metadata_Plate_DAPI": ["Week1_1"] * 3,
            "Image_Metadata_Well_DAPI": ["B02", "B02", "C03"],
            "Image_Metadata_Compound": ["taxol", "taxol", "DMSO"],
            "Image_Metadata_Concentration": [1.0, 1.0, 0.0],
        }
    )
    moa = pd.DataFrame(
        {
            "compound": ["taxol", "DMSO"],
            "concentration": [1.0, 0.0],
            "moa": ["Microtubule stabilizers", "DMSO"],
        }
    )
    smiles = pd.DataFrame({"bbbc021_compound": ["taxol", "AZ-A"], "smiles": ["CC", None]})
    return images, moa, smiles


def test_read_png_subset_builds_raw_tables_and_channel_files() -> None:
    tables = read_png_subset(_png_metadata())
    assert tables.plate_table[schema.PLATE].tolist() == ["Week1_1", "Week1_2"]
    assert set(tables.plate_table[schema.BATCH]) == {"Week1"}
    assert len(tables.well_table) == 2
    site = tables.image_index.iloc[1]
    assert site[schema.SITE] == "2"
    assert site[schema.file_name_column("DNA")] == "f1_DNA.tiff"
    assert site[schema.path_name_column("Actin")] == "Week1/Week1_1"
    compounds = tables.compound_table.set_index(schema.JCP2022)[schema.SMILES]
    assert compounds["taxol"] == "CC"
    assert pd.isna(compounds["AZ-A"])  # blank SMILES is missing, not ""


def test_read_png_subset_missing_column_raises() -> None:
    with pytest.raises(MissingColumnsError, match="week"):
        read_png_subset(_png_metadata().drop(columns="week"))


def test_read_png_subset_conflicting_smiles_raises() -> None:
    table = _png_metadata()
    table.loc[1, "smiles"] = "CCO"
    with pytest.raises(InvalidInputError, match="taxol"):
        read_png_subset(table)


def test_read_official_layout_parses_sites_weeks_moa_and_dmso_smiles() -> None:
    tables = read_official_layout(*_official_tables())
    index = tables.image_index
    assert index[schema.SITE].tolist() == ["1", "2", "1"]
    assert index[schema.file_name_column("DNA")].iloc[0] == "B02_s1_w1X.tif"
    assert set(index[schema.BATCH]) == {"Week1"}
    wells = tables.well_table.set_index(schema.WELL)
    assert wells.loc["B02", schema.MOA] == "Microtubule stabilizers"
    smiles = tables.compound_table.set_index(schema.JCP2022)[schema.SMILES]
    assert smiles["DMSO"] == schema.DMSO_SMILES


def test_read_official_layout_file_without_site_raises() -> None:
    images, moa, smiles = _official_tables()
    images.loc[2, "Image_FileName_DAPI"] = "C03_w1Z.tif"
    with pytest.raises(InvalidInputError, match="C03_w1Z.tif"):
        read_official_layout(images, moa, smiles)


def test_png_channel_loaders_split_rgb_planes_and_skip_missing_pngs() -> None:
    tables = read_png_subset(_png_metadata())
    rgb = np.stack([np.full((4, 4), v, dtype=np.uint8) for v in (10, 20, 30)], axis=-1)
    loaders = png_channel_loaders(tables.image_index, {"f0": lambda: rgb, "f2": lambda: rgb})
    assert len(loaders) == 6  # f1's PNG is absent: no loaders, the crop extraction quarantines it
    for plane, channel in enumerate(PNG_RGB_CHANNELS):
        image = loaders[schema.image_key("Week1/Week1_1", f"f0_{channel}.tiff")]()
        assert image.shape == (4, 4)
        assert image[0, 0] == (10, 20, 30)[plane]


def test_png_channel_loader_rejects_grey_png() -> None:
    tables = read_png_subset(_png_metadata())
    loaders = png_channel_loaders(tables.image_index, {"f0": lambda: np.zeros((4, 4), dtype=np.uint8)})
    with pytest.raises(InvalidInputError, match="f0"):
        next(iter(loaders.values()))()


def _standardized(compounds: pd.DataFrame) -> pd.DataFrame:
    return standardize_compounds(
        compounds,
        make_config(StandardizationConfig, "data_engineering.standardization"),
        make_config(ParallelConfig, "data_engineering.standardization_parallel"),
    )[0]


def _well_metadata(plates: pd.DataFrame, wells: pd.DataFrame, compounds: pd.DataFrame):
    joined, quarantined = join_well_metadata(plates, wells, compounds, profile=BBBC021_PROFILE)
    return split_by_molecule(joined), quarantined


def test_bbbc021_well_metadata_holds_out_compounds_without_smiles() -> None:
    tables = read_png_subset(_png_metadata())
    wells, quarantined = _well_metadata(
        tables.plate_table, tables.well_table, _standardized(tables.compound_table)
    )
    assert quarantined.empty
    assert list(wells.columns[-3:]) == [schema.CONCENTRATION, schema.MOA, schema.SPLIT]
    split = wells.set_index(schema.JCP2022)[schema.SPLIT]
    assert split["taxol"] == schema.SPLIT_TRAIN
    assert split["AZ-A"] == schema.SPLIT_OOD_COMPOUND
    assert not wells[schema.IS_CONTROL].any()
    assert wells.set_index(schema.JCP2022).loc["taxol", schema.STANDARD_SMILES] == "CC"


def test_bbbc021_well_metadata_quarantines_conflicting_well_and_unknown_plate() -> None:
    tables = read_png_subset(_png_metadata())
    conflicting = tables.well_table.iloc[[0]].assign(**{schema.JCP2022: "AZ-A"})
    orphan = tables.well_table.iloc[[1]].assign(**{schema.PLATE: "Week9_9"})
    wells_in = pd.concat([tables.well_table, conflicting, orphan], ignore_index=True)
    wells, quarantined = _well_metadata(tables.plate_table, wells_in, _standardized(tables.compound_table))
    assert len(wells) + len(quarantined) == len(wells_in)
    assert quarantined[schema.QUARANTINE_REASON].value_counts().to_dict() == {
        "duplicate_well": 2,
        "unknown_plate": 1,
    }


def test_bbbc021_well_metadata_empty_wells_raises() -> None:
    tables = read_png_subset(_png_metadata())
    with pytest.raises(InvalidInputError, match="empty"):
        _well_metadata(tables.plate_table, tables.well_table.iloc[:0], _standardized(tables.compound_table))


@pytest.mark.realdata
def test_read_png_subset_real_metadata_counts() -> None:
    tables = read_png_subset(pd.read_csv(require_shared("bbbc021/fields_png_metadata.csv")))
    assert len(tables.image_index) == 660
    assert len(tables.plate_table) == 30
    assert tables.plate_table[schema.BATCH].nunique() == 7
    assert len(tables.compound_table) == 18
    assert int(tables.compound_table[schema.SMILES].notna().sum()) == 13
    assert tables.well_table[[schema.JCP2022, schema.CONCENTRATION]].drop_duplicates().shape[0] == 55
    assert tables.well_table[schema.MOA].nunique() == 6


@pytest.mark.realdata
def test_read_official_layout_real_metadata_counts() -> None:
    folder = require_shared("bbbc021")
    tables = read_official_layout(
        pd.read_csv(folder / "BBBC021_v1_image.csv"),
        pd.read_csv(folder / "BBBC021_v1_moa.csv"),
        pd.read_csv(folder / "moa_compound_smiles.csv"),
    )
    assert len(tables.image_index) == 13200
    assert tables.image_index[schema.SITE].isin(["1", "2", "3", "4"]).all()
    assert tables.plate_table[schema.BATCH].str.startswith("Week").all()
    labelled = tables.well_table.dropna(subset=[schema.MOA])
    assert labelled[schema.MOA].nunique() == 13  # 12 MoAs + DMSO
    assert labelled[[schema.JCP2022, schema.CONCENTRATION]].drop_duplicates().shape[0] == 104
    assert tables.compound_table.set_index(schema.JCP2022).loc["DMSO", schema.SMILES] == schema.DMSO_SMILES
