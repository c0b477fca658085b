import pandas as pd
import pytest

from micon import schema
from micon.contracts import ContractError
from micon.errors import InvalidConfigError, InvalidInputError, MissingColumnsError
from micon.imaging.illumination import illumination_keys_of
from micon.sources.jump.cpg0016 import (
    JumpSelectionConfig,
    assemble_image_index,
    check_site_files,
    load_data_key,
    select_screen,
    site_file_keys,
)
from tests.parameters import make_config
from tests.shared_data import require_shared

GALLERY = "s3://cellpainting-gallery/"
TREATED = "JCP2022_000001"
POSCON = "JCP2022_000002"


def _plates() -> pd.DataFrame:
    return pd.DataFrame(
        [
            ("source_1", "b1", "P1", "TARGET2"),
            ("source_1", "b2", "P2", "TARGET2"),
            ("source_2", "b3", "P3", "COMPOUND"),
            ("source_3", "b4", "P4", "TARGET2"),  # no wells
        ],
        columns=[schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE],
    )


def _wells() -> pd.DataFrame:
    rows = []
    for source, plate in (("source_1", "P1"), ("source_1", "P2"), ("source_2", "P3")):
        for well, compound in (("A01", schema.DMSO_JCP2022), ("A02", TREATED), ("A03", POSCON)):
            rows.append((source, plate, well, compound))
    return pd.DataFrame(rows, columns=[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022])


def _compounds() -> pd.DataFrame:
    return pd.DataFrame(
        {
            schema.JCP2022: [schema.DMSO_JCP2022, TREATED, POSCON, "JCP2022_999"],
            schema.SMILES: ["CS(C)=O", "CCO", "CCN", "C"],
            schema.INCHIKEY: ["K1", "K2", "K3", "K4"],
        }
    )


def test_select_screen_keeps_plate_types_and_quarantines_plates_without_wells():
    screen = select_screen(
        _plates(),
        _wells(),
        _compounds(),
        make_config(JumpSelectionConfig, "jump.selection", env="jump", plate_types=["TARGET2"]),
    )
    assert screen.plate_table[schema.PLATE].tolist() == ["P1", "P2"]
    assert set(screen.well_table[schema.PLATE]) == {"P1", "P2"} and len(screen.well_table) == 6
    assert set(screen.compound_table[schema.JCP2022]) == {schema.DMSO_JCP2022, TREATED, POSCON}
    assert screen.quarantine[[schema.PLATE, schema.QUARANTINE_REASON]].values.tolist() == [
        ["P4", "plate_without_wells"]
    ]
    assert list(screen.quarantine.columns)[:3] == list(schema.PLATE_KEY)


def test_select_screen_filters_sources_batches_plates_and_compounds():
    config = make_config(
        JumpSelectionConfig,
        "jump.selection",
        env="jump",
        plate_types=["TARGET2", "COMPOUND"],
        sources=["source_1", "source_2"],
        batches=["b2", "b3"],
        compounds=[POSCON],
    )
    screen = select_screen(_plates(), _wells(), _compounds(), config)
    assert screen.plate_table[schema.PLATE].tolist() == ["P2", "P3"]
    assert set(screen.well_table[schema.JCP2022]) == {schema.DMSO_JCP2022, POSCON}
    assert screen.quarantine.empty
    only_p3 = select_screen(
        _plates(),
        _wells(),
        _compounds(),
        make_config(
            JumpSelectionConfig, "jump.selection", env="jump", plate_types=["COMPOUND"], plates=["P3"]
        ),
    )
    assert only_p3.plate_table[schema.PLATE].tolist() == ["P3"]


@pytest.mark.parametrize(
    ("field", "value"), [("plates", ["P9"]), ("sources", ["source_9"]), ("plate_types", ["ORF"])]
)
def test_select_screen_unknown_configured_id_raises_naming_it(field, value):
    with pytest.raises(InvalidConfigError, match=value[0]):
        select_screen(
            _plates(),
            _wells(),
            _compounds(),
            make_config(JumpSelectionConfig, "jump.selection", env="jump", **{field: value}),
        )


def test_select_screen_nothing_left_raises():
    config = make_config(JumpSelectionConfig, "jump.selection", env="jump", plates=["P4"])
    with pytest.raises(InvalidConfigError, match="keeps no plate with wells"):
        select_screen(_plates(), _wells(), _compounds(), config)


def test_select_screen_missing_column_raises():
    with pytest.raises(MissingColumnsError, match="Metadata_PlateType"):
        select_screen(
            _plates().drop(columns=schema.PLATE_TYPE),
            _wells(),
            _compounds(),
            make_config(JumpSelectionConfig, "jump.selection", env="jump"),
        )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"sites_per_well": 0}, "sites_per_well"),
        ({"sites_per_well": True}, "sites_per_well"),
        ({"plate_types": None}, "plate_types"),
        ({"sources": "source_1"}, "sources"),
        ({"plates": []}, "plates"),
        ({"load_data_file": "a/b.parquet"}, "load_data_file"),
    ],
)
def test_jump_selection_config_rejects_bad_values(kwargs, message):
    with pytest.raises(InvalidConfigError, match=message):
        make_config(JumpSelectionConfig, "jump.selection", env="jump", **kwargs)


def test_load_data_key_follows_the_gallery_layout():
    assert load_data_key("source_4", "2021_08_23_Batch12", "BR00126114") == (
        "cpg0016-jump/source_4/workspace/load_data_csv/2021_08_23_Batch12/BR00126114/load_data_with_illum.parquet"
    )
    assert load_data_key("s", "b", "p", file_name="load_data.parquet").endswith(
        "/s/workspace/load_data_csv/b/p/load_data.parquet"
    )


def _load_data(plate: str, wells=("A01", "A02"), sites=("1", "2", "10"), illum: bool = True) -> pd.DataFrame:
    rows = []
    for well in wells:
        for site in sites:
            row = {schema.PLATE: plate, schema.WELL: well, schema.SITE: site, schema.SOURCE: "ignored"}
            for ch in schema.CHANNELS:
                row[schema.file_name_column(ch)] = f"{well}-f{site}-{ch}.tiff"
                row[schema.path_name_column(ch)] = (
                    f"{GALLERY}cpg0016-jump/source_1/images/b/images/{plate}__m/Images/"
                )
                if illum:
                    row[schema.illum_file_name_column(ch)] = f"{plate}_Illum{ch}.npy"
                    row[schema.illum_path_name_column(ch)] = (
                        f"{GALLERY}cpg0016-jump/source_1/images/b/illum/{plate}"
                    )
            rows.append(row)
    return pd.DataFrame(rows)


def _selected():
    screen = select_screen(
        _plates(), _wells(), _compounds(), make_config(JumpSelectionConfig, "jump.selection", env="jump")
    )
    return screen.plate_table, screen.well_table


def test_assemble_image_index_keeps_lowest_sites_and_relativises_paths():
    plates, wells = _selected()
    tables = {load_data_key("source_1", "b1", "P1"): _load_data("P1", wells=("A01", "A02", "H24"))}
    index, plate_quarantine, site_quarantine = assemble_image_index(
        plates,
        wells,
        tables,
        make_config(JumpSelectionConfig, "jump.selection", env="jump", sites_per_well=2),
    )
    assert index[[schema.WELL, schema.SITE]].values.tolist() == [
        ["A01", "1"],
        ["A01", "2"],
        ["A02", "1"],
        ["A02", "2"],
    ]
    assert set(index[schema.SOURCE]) == {"source_1"} and set(index[schema.BATCH]) == {"b1"}
    assert (
        index[schema.path_name_column("DNA")].iloc[0] == "cpg0016-jump/source_1/images/b/images/P1__m/Images"
    )
    assert index[schema.illum_path_name_column("DNA")].iloc[0] == "cpg0016-jump/source_1/images/b/illum/P1"
    assert plate_quarantine[[schema.PLATE, schema.QUARANTINE_REASON]].values.tolist() == [
        ["P2", "missing_load_data"]
    ]
    assert (
        "cpg0016-jump/source_1/workspace/load_data_csv/b2/P2/"
        in plate_quarantine[schema.QUARANTINE_DETAIL].item()
    )
    assert site_quarantine.empty


def test_assemble_image_index_all_sites_numeric_order_and_no_illum_columns():
    plates, wells = _selected()
    tables = {load_data_key("source_1", "b1", "P1"): _load_data("P1", illum=False)}
    selection = make_config(JumpSelectionConfig, "jump.selection", env="jump", sites_per_well=None)
    index, _, _ = assemble_image_index(plates, wells, tables, selection)
    assert index[schema.SITE].tolist() == ["1", "2", "10", "1", "2", "10"]  # numeric order, all kept
    assert not any(c.startswith("FileName_Illum") for c in index.columns)
    one, _, _ = assemble_image_index(
        plates,
        wells,
        tables,
        make_config(JumpSelectionConfig, "jump.selection", env="jump", sites_per_well=1),
    )
    assert one[schema.SITE].tolist() == ["1", "1"]


def test_assemble_image_index_path_outside_gallery_quarantined():
    plates, wells = _selected()
    table = _load_data("P1", sites=("1",))
    table.loc[0, schema.path_name_column("RNA")] = "/local/images/"
    index, _, site_quarantine = assemble_image_index(
        plates,
        wells,
        {load_data_key("source_1", "b1", "P1"): table},
        make_config(JumpSelectionConfig, "jump.selection", env="jump"),
    )
    assert len(index) == 1
    assert site_quarantine[[schema.WELL, schema.QUARANTINE_REASON]].values.tolist() == [
        ["A01", "path_outside_gallery"]
    ]


def test_assemble_image_index_errors():
    plates, wells = _selected()
    with pytest.raises(InvalidInputError, match="none of the 2 selected plates"):
        assemble_image_index(
            plates, wells, {}, make_config(JumpSelectionConfig, "jump.selection", env="jump")
        )
    bad = _load_data("P1").drop(columns=schema.file_name_column("Mito"))
    with pytest.raises(MissingColumnsError, match="FileName_OrigMito"):
        assemble_image_index(
            plates,
            wells,
            {load_data_key("source_1", "b1", "P1"): bad},
            make_config(JumpSelectionConfig, "jump.selection", env="jump"),
        )
    other_wells = _load_data("P1", wells=("P24",))
    with pytest.raises(InvalidInputError, match="no selected well has a site"):
        assemble_image_index(
            plates,
            wells,
            {load_data_key("source_1", "b1", "P1"): other_wells},
            make_config(JumpSelectionConfig, "jump.selection", env="jump"),
        )


def test_check_site_files_quarantines_missing_images_then_illumination():
    plates, wells = _selected()
    tables = {load_data_key("source_1", "b1", "P1"): _load_data("P1", sites=("1",))}
    index, _, _ = assemble_image_index(
        plates, wells, tables, make_config(JumpSelectionConfig, "jump.selection", env="jump")
    )
    keys = site_file_keys(index, illumination=True)
    existing = {k for series in keys.values() for k in series}
    missing_image = keys["OrigER"].iloc[0]
    existing -= {missing_image, keys["IllumAGP"].iloc[0]}
    accepted, quarantine = check_site_files(index, existing, illumination=True)
    assert accepted.empty
    assert quarantine[[schema.WELL, schema.QUARANTINE_REASON]].values.tolist() == [
        ["A01", "missing_illumination"],
        ["A02", "missing_illumination"],
    ]
    accepted, quarantine = check_site_files(index, existing, illumination=False)
    assert accepted[schema.WELL].tolist() == ["A02"]
    assert quarantine[schema.QUARANTINE_REASON].tolist() == ["missing_image"]
    assert missing_image in quarantine[schema.QUARANTINE_DETAIL].item()


@pytest.mark.realdata
def test_assemble_image_index_real_load_data_gives_gallery_keys():
    real = pd.read_parquet(
        require_shared("fields/cpg0016_BR00126114_load_data/test_BR00126114_load_data_with_illum.parquet")
    )
    plates = pd.DataFrame(
        [("source_4", "2021_08_23_Batch12", "BR00126114", "TARGET2")],
        columns=[schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE],
    )
    wells = pd.DataFrame(
        [("source_4", "BR00126114", "A01", TREATED)],
        columns=[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022],
    )
    key = load_data_key("source_4", "2021_08_23_Batch12", "BR00126114")
    selection = make_config(JumpSelectionConfig, "jump.selection", env="jump", sites_per_well=None)
    index, _, quarantine = assemble_image_index(plates, wells, {key: real}, selection)
    assert quarantine.empty and index[schema.SITE].tolist() == ["1", "2"]
    keys = site_file_keys(index, illumination=True)
    assert keys["OrigDNA"].iloc[0] == (
        "cpg0016-jump/source_4/images/2021_08_23_Batch12/images/BR00126114__2021-09-01T15_39_48-Measurement1"
        "/Images/r01c01f01p01-ch5sk1fk1fl1.tiff"
    )
    assert keys["IllumDNA"].iloc[0] == (
        "cpg0016-jump/source_4/images/2021_08_23_Batch12/illum/BR00126114/BR00126114_IllumDNA.npy"
    )


def test_illumination_keys_of_pairs_each_channel_image_with_its_plate_function():
    plates, wells = _selected()
    tables = {load_data_key("source_1", "b1", "P1"): _load_data("P1", wells=("A01",), sites=("1",))}
    index, _, _ = assemble_image_index(
        plates, wells, tables, make_config(JumpSelectionConfig, "jump.selection", env="jump")
    )
    pairs = illumination_keys_of(index)
    assert len(pairs) == len(schema.CHANNELS)
    assert pairs["cpg0016-jump/source_1/images/b/images/P1__m/Images/A01-f1-DNA.tiff"] == (
        "cpg0016-jump/source_1/images/b/illum/P1/P1_IllumDNA.npy"
    )
    uncorrected = index.drop(columns=[c for c in index.columns if "_Illum" in c])
    assert set(illumination_keys_of(uncorrected).values()) == {None}


def test_select_screen_missing_values_stay_missing_not_the_text_nan():
    wells = _wells()
    wells.loc[1, schema.JCP2022] = None
    compounds = _compounds()
    compounds.loc[1, schema.SMILES] = float("nan")
    screen = select_screen(
        _plates(), wells, compounds, make_config(JumpSelectionConfig, "jump.selection", env="jump")
    )
    assert screen.well_table[schema.JCP2022].isna().sum() == 1
    assert "nan" not in set(screen.well_table[schema.JCP2022].dropna())
    assert screen.compound_table[schema.SMILES].isna().sum() <= 1
    assert "nan" not in set(screen.compound_table[schema.SMILES].dropna())


def test_select_screen_blank_plate_id_raises_naming_the_row():
    plates = _plates()
    plates.loc[2, schema.PLATE] = " "
    with pytest.raises(ContractError, match="JUMP plate table: plate_table row 2 has no Metadata_Plate"):
        select_screen(
            plates, _wells(), _compounds(), make_config(JumpSelectionConfig, "jump.selection", env="jump")
        )


# --- paths confined to the gallery root -------------------------------------------------------------------


@pytest.mark.parametrize(
    "path_name",
    [
        "s3://cellpainting-gallery/../../etc/",
        "s3://cellpainting-gallery/cpg0016-jump/../../outside/",
        "s3://cellpainting-gallery//etc/",
        "s3://cellpainting-gallery/",
        "/etc/",
    ],
)
def test_assemble_image_index_path_leaving_the_gallery_quarantined(path_name):
    plates, wells = _selected()
    table = _load_data("P1", sites=("1",))
    table.loc[0, schema.path_name_column("DNA")] = path_name
    index, _, site_quarantine = assemble_image_index(
        plates,
        wells,
        {load_data_key("source_1", "b1", "P1"): table},
        make_config(JumpSelectionConfig, "jump.selection", env="jump"),
    )
    assert index[schema.WELL].tolist() == ["A02"]
    assert site_quarantine[[schema.WELL, schema.QUARANTINE_REASON]].values.tolist() == [
        ["A01", "path_outside_gallery"]
    ]
    assert not any(
        ".." in key for series in site_file_keys(index, illumination=True).values() for key in series
    )


def test_assemble_image_index_normalises_paths_inside_the_gallery():
    plates, wells = _selected()
    table = _load_data("P1", sites=("1",))
    table[schema.path_name_column("DNA")] = f"{GALLERY}cpg0016-jump/./source_1//images/x/../b/Images/"
    index, _, site_quarantine = assemble_image_index(
        plates,
        wells,
        {load_data_key("source_1", "b1", "P1"): table},
        make_config(JumpSelectionConfig, "jump.selection", env="jump"),
    )
    assert site_quarantine.empty
    assert set(index[schema.path_name_column("DNA")]) == {"cpg0016-jump/source_1/images/b/Images"}


def test_check_site_files_quarantines_keys_leaving_the_store_root():
    plates, wells = _selected()
    tables = {load_data_key("source_1", "b1", "P1"): _load_data("P1", sites=("1",))}
    index, _, _ = assemble_image_index(
        plates, wells, tables, make_config(JumpSelectionConfig, "jump.selection", env="jump")
    )
    keys = site_file_keys(index, illumination=False)
    existing = {k for series in keys.values() for k in series}
    linked = keys["OrigDNA"].iloc[1]
    accepted, quarantine = check_site_files(index, existing, illumination=False, outside_root={linked})
    assert accepted[schema.WELL].tolist() == ["A01"]
    assert quarantine[[schema.WELL, schema.QUARANTINE_REASON]].values.tolist() == [
        ["A02", "path_outside_root"]
    ]
    assert linked in quarantine[schema.QUARANTINE_DETAIL].item()
