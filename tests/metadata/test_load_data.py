import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError
from micon.metadata import join_image_index, join_well_metadata
from micon.metadata.load_data import quarantine_wells_without_sites
from micon.sources.jump.cpg0016 import JUMP_PROFILE
from tests.shared_data import SHARED_DATA as DATA_ROOT

LOAD_DATA = (
    DATA_ROOT / "fields" / "cpg0016_BR00126114_load_data" / "test_BR00126114_load_data_with_illum.parquet"
)


@pytest.fixture
def well_metadata(plates, wells, compounds) -> pd.DataFrame:
    return join_well_metadata(plates, wells, compounds, profile=JUMP_PROFILE)[0]


def _image_index(well_metadata: pd.DataFrame, n_sites: int = 2) -> pd.DataFrame:
    rows = []
    for _, well in well_metadata.iterrows():
        for site in range(1, n_sites + 1):
            row = {
                schema.SOURCE: well[schema.SOURCE],
                schema.BATCH: well[schema.BATCH],
                schema.PLATE: well[schema.PLATE],
                schema.WELL: well[schema.WELL],
                schema.SITE: site,
            }
            for ch in schema.CHANNELS:
                row[schema.file_name_column(ch)] = f"{well[schema.WELL]}_s{site}_{ch}.tiff"
                row[schema.path_name_column(ch)] = f"images/{well[schema.PLATE]}"
            row["FileName_IllumDNA"] = "illum.npy"
            rows.append(row)
    return pd.DataFrame(rows)


def test_join_image_index_clean_index_accepts_every_site(well_metadata):
    index = _image_index(well_metadata)
    sites, quarantined = join_image_index(index, well_metadata, channels=schema.CHANNELS)
    assert len(sites) == len(index)
    assert quarantined.empty
    file_columns = [schema.file_name_column(c) for c in schema.CHANNELS]
    path_columns = [schema.path_name_column(c) for c in schema.CHANNELS]
    assert list(sites.columns) == [
        *well_metadata.columns,
        schema.SITE,
        *file_columns,
        *path_columns,
        "FileName_IllumDNA",
    ]
    assert set(sites[schema.SITE]) == {"1", "2"}
    assert sites[schema.IS_CONTROL].dtype == bool


def test_join_image_index_float_sites_become_integer_strings(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    index[schema.SITE] = index[schema.SITE].astype(float)
    sites, _ = join_image_index(index, well_metadata, channels=schema.CHANNELS)
    assert set(sites[schema.SITE]) == {"1"}


def test_join_image_index_site_of_unaccepted_well_quarantined(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    dropped = well_metadata.iloc[0]
    kept = well_metadata.iloc[1:]
    sites, quarantined = join_image_index(index, kept, channels=schema.CHANNELS)
    assert quarantined[schema.QUARANTINE_REASON].tolist() == ["well_not_accepted"]
    assert quarantined[schema.WELL].iloc[0] == dropped[schema.WELL]
    assert list(quarantined.columns)[:4] == list(schema.SITE_KEY)
    assert len(sites) == len(index) - 1


def test_join_image_index_duplicate_sites_quarantined(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    identical = index.iloc[[0]]
    conflicting = index.iloc[[1]].assign(**{schema.file_name_column("DNA"): "other.tiff"})
    sites, quarantined = join_image_index(
        pd.concat([index, identical, conflicting]), well_metadata, channels=schema.CHANNELS
    )
    assert quarantined[schema.QUARANTINE_REASON].value_counts().to_dict() == {"duplicate_site": 3}
    assert len(sites) == len(index) - 1
    assert not sites.duplicated(subset=list(schema.SITE_KEY)).any()


def test_join_image_index_missing_channel_file_quarantined_naming_channel(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    index.loc[0, schema.file_name_column("Mito")] = np.nan
    index.loc[1, schema.path_name_column("ER")] = ""
    sites, quarantined = join_image_index(index, well_metadata, channels=schema.CHANNELS)
    assert quarantined[schema.QUARANTINE_REASON].tolist() == ["missing_channel_file"] * 2
    details = quarantined[schema.QUARANTINE_DETAIL].tolist()
    assert "Mito" in details[0] and "ER" in details[1]
    assert len(sites) + 2 == len(index)


def test_join_image_index_missing_site_quarantined(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    index[schema.SITE] = index[schema.SITE].astype(object)
    index.loc[0, schema.SITE] = None
    _, quarantined = join_image_index(index, well_metadata, channels=schema.CHANNELS)
    assert quarantined[schema.QUARANTINE_REASON].tolist() == ["missing_site"]


def test_join_image_index_missing_channel_columns_raise_naming_channel(well_metadata):
    index = _image_index(well_metadata, n_sites=1).drop(columns=[schema.path_name_column("RNA")])
    with pytest.raises(MissingColumnsError, match="RNA"):
        join_image_index(index, well_metadata, channels=schema.CHANNELS)


def test_join_image_index_subset_of_channels_needs_only_those(well_metadata):
    index = _image_index(well_metadata, n_sites=1).drop(columns=[schema.file_name_column("RNA")])
    sites, quarantined = join_image_index(index, well_metadata, channels=("DNA", "AGP"))
    assert len(sites) == len(index) and quarantined.empty


def test_join_image_index_empty_index_raises(well_metadata):
    with pytest.raises(InvalidInputError, match="empty"):
        join_image_index(_image_index(well_metadata).iloc[:0], well_metadata, channels=schema.CHANNELS)


def test_join_image_index_repeated_metadata_well_raises(well_metadata):
    with pytest.raises(InvalidInputError, match="more than once"):
        join_image_index(
            _image_index(well_metadata),
            pd.concat([well_metadata, well_metadata.iloc[[0]]]),
            channels=schema.CHANNELS,
        )


@pytest.mark.realdata
def test_join_image_index_jump_load_data_joins_on_matching_wells():
    if not LOAD_DATA.exists():
        pytest.skip(f"JUMP load_data example not found at {LOAD_DATA}")
    index = pd.read_parquet(LOAD_DATA)
    wells = index[[schema.SOURCE, schema.BATCH, schema.PLATE, schema.WELL]].drop_duplicates()
    well_metadata = wells.assign(**{schema.JCP2022: schema.DMSO_JCP2022, schema.IS_CONTROL: True})
    held_out = well_metadata.iloc[1:]
    sites, quarantined = join_image_index(index, held_out, channels=schema.CHANNELS)
    assert len(sites) + len(quarantined) == len(index)
    assert set(quarantined[schema.QUARANTINE_REASON]) <= {"well_not_accepted"}
    assert "PathName_IllumDNA" in sites.columns
    assert all(isinstance(site, str) for site in sites[schema.SITE])


def test_join_image_index_padded_and_numeric_ids_join(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    index[schema.WELL] = index[schema.WELL] + "  "
    index[schema.SITE] = index[schema.SITE].astype(float)
    sites, quarantined = join_image_index(index, well_metadata, channels=schema.CHANNELS)
    assert quarantined.empty
    assert set(sites[schema.SITE]) == {"1"}


def test_join_image_index_missing_plate_quarantined_invalid_identifier(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    index.loc[0, schema.PLATE] = None
    sites, quarantined = join_image_index(index, well_metadata, channels=schema.CHANNELS)
    assert quarantined[schema.QUARANTINE_REASON].tolist() == ["invalid_identifier"]
    assert len(sites) + 1 == len(index)


def test_quarantine_wells_without_sites_every_accepted_well_accounted_for(well_metadata):
    index = _image_index(well_metadata, n_sites=1)
    no_row = well_metadata.iloc[0]
    unusable = well_metadata.iloc[1]
    index = index[
        ~((index[schema.PLATE] == no_row[schema.PLATE]) & (index[schema.WELL] == no_row[schema.WELL]))
    ]
    mask = (index[schema.PLATE] == unusable[schema.PLATE]) & (index[schema.WELL] == unusable[schema.WELL])
    index.loc[mask, schema.file_name_column("DNA")] = None
    sites, _ = join_image_index(index, well_metadata, channels=schema.CHANNELS)

    quarantined = quarantine_wells_without_sites(well_metadata, index, sites)

    assert quarantined[schema.QUARANTINE_REASON].tolist() == ["no_images", "no_usable_images"]
    assert quarantined[schema.WELL].tolist() == [no_row[schema.WELL], unusable[schema.WELL]]
    imaged_wells = sites[list(schema.WELL_KEY)].drop_duplicates()
    assert len(imaged_wells) + len(quarantined) == len(well_metadata)
