import logging

import pandas as pd
import pytest

from micon import schema
from micon.contracts import ContractError
from micon.errors import InvalidInputError, MissingColumnsError, NoControlsError
from micon.metadata import WELL_METADATA_COLUMNS, join_well_metadata
from micon.sources.jump.cpg0016 import JUMP_PROFILE

KEY = [*schema.WELL_KEY, schema.JCP2022]


def _reasons(quarantined: pd.DataFrame) -> dict[str, int]:
    return quarantined[schema.QUARANTINE_REASON].value_counts().to_dict()


def test_join_well_metadata_clean_tables_accept_every_well(plates, wells, compounds, caplog):
    with caplog.at_level(logging.INFO, logger="micon.metadata.joins"):
        well_metadata, quarantined = join_well_metadata(plates, wells, compounds, profile=JUMP_PROFILE)
    assert len(well_metadata) == len(wells)
    assert quarantined.empty
    assert list(quarantined.columns) == [*KEY, "stage", "reason", "detail"]
    assert list(well_metadata.columns) == list(WELL_METADATA_COLUMNS)
    assert well_metadata[schema.IS_CONTROL].dtype == bool
    assert (well_metadata[schema.IS_CONTROL] == (well_metadata[schema.JCP2022] == schema.DMSO_JCP2022)).all()
    first = well_metadata.iloc[0]
    assert first[schema.BATCH] == "batch_0_0"
    assert first[schema.STANDARD_INCHIKEY] == "STD0"
    assert "quarantined" in caplog.text


def test_join_well_metadata_well_on_unlisted_plate_quarantined_unknown_plate(plates, wells, compounds):
    extra = pd.DataFrame([("source_0", "ghost_plate", "A01", schema.DMSO_JCP2022)], columns=wells.columns)
    well_metadata, quarantined = join_well_metadata(
        plates, pd.concat([wells, extra]), compounds, profile=JUMP_PROFILE
    )
    assert len(well_metadata) == len(wells)
    assert _reasons(quarantined) == {"unknown_plate": 1}
    assert "ghost_plate" in quarantined[schema.QUARANTINE_DETAIL].iloc[0]


def test_join_well_metadata_compound_without_standard_form_quarantined_unknown_compound(
    plates, wells, compounds
):
    dropped = compounds[schema.JCP2022].iloc[1]
    kept = compounds[compounds[schema.JCP2022] != dropped]
    well_metadata, quarantined = join_well_metadata(plates, wells, kept, profile=JUMP_PROFILE)
    n_dropped = int((wells[schema.JCP2022] == dropped).sum())
    assert n_dropped > 0
    assert _reasons(quarantined) == {"unknown_compound": n_dropped}
    assert len(well_metadata) + n_dropped == len(wells)
    detail = quarantined[schema.QUARANTINE_DETAIL].iloc[0]
    assert dropped in detail
    assert "quarantined" in detail


def test_join_well_metadata_plate_without_dmso_quarantines_its_wells(plates, wells, compounds):
    plate = plates[schema.PLATE].iloc[0]
    no_dmso = wells[~((wells[schema.PLATE] == plate) & (wells[schema.JCP2022] == schema.DMSO_JCP2022))]
    well_metadata, quarantined = join_well_metadata(plates, no_dmso, compounds, profile=JUMP_PROFILE)
    assert _reasons(quarantined) == {"plate_without_dmso": 4}
    assert set(quarantined[schema.PLATE]) == {plate}
    assert plate not in set(well_metadata[schema.PLATE])
    assert len(well_metadata) + len(quarantined) == len(no_dmso)


def test_join_well_metadata_no_dmso_anywhere_raises(plates, wells, compounds):
    treated_only = wells[wells[schema.JCP2022] != schema.DMSO_JCP2022]
    with pytest.raises(NoControlsError, match=schema.DMSO_JCP2022):
        join_well_metadata(plates, treated_only, compounds, profile=JUMP_PROFILE)


def test_join_well_metadata_duplicate_wells_quarantined(plates, wells, compounds):
    identical = wells.iloc[[2]]
    conflicting = wells.iloc[[3]].assign(**{schema.JCP2022: schema.DMSO_JCP2022})
    doubled = pd.concat([wells, identical, conflicting], ignore_index=True)
    well_metadata, quarantined = join_well_metadata(plates, doubled, compounds, profile=JUMP_PROFILE)
    assert _reasons(quarantined) == {"duplicate_well": 3}  # 1 repeat + both conflicting copies
    assert len(well_metadata) == len(wells) - 1
    assert not well_metadata.duplicated(subset=list(schema.WELL_KEY)).any()
    details = " ".join(quarantined[schema.QUARANTINE_DETAIL])
    assert "different" in details and "repeats" in details


def test_join_well_metadata_every_reason_at_once_partitions_rows(plates, wells, compounds):
    plate = plates[schema.PLATE].iloc[-1]
    table = pd.concat(
        [
            wells[~((wells[schema.PLATE] == plate) & (wells[schema.JCP2022] == schema.DMSO_JCP2022))],
            pd.DataFrame([("source_9", "nowhere", "A01", schema.DMSO_JCP2022)], columns=wells.columns),
            pd.DataFrame([("source_0", "plate_0_0_0", "H12", "JCP2022_999999")], columns=wells.columns),
            wells.iloc[[0]],
        ],
        ignore_index=True,
    )
    well_metadata, quarantined = join_well_metadata(plates, table, compounds, profile=JUMP_PROFILE)
    assert len(well_metadata) + len(quarantined) == len(table)
    assert set(_reasons(quarantined)) == {
        "unknown_plate",
        "unknown_compound",
        "plate_without_dmso",
        "duplicate_well",
    }


def test_join_well_metadata_missing_column_raises_naming_it(plates, wells, compounds):
    with pytest.raises(MissingColumnsError, match=schema.PLATE_TYPE):
        join_well_metadata(plates.drop(columns=schema.PLATE_TYPE), wells, compounds, profile=JUMP_PROFILE)


def test_join_well_metadata_empty_well_table_raises(plates, wells, compounds):
    with pytest.raises(InvalidInputError, match="well table is empty"):
        join_well_metadata(plates, wells.iloc[:0], compounds, profile=JUMP_PROFILE)


def test_join_well_metadata_repeated_plate_raises(plates, wells, compounds):
    with pytest.raises(InvalidInputError, match="plate_table: key"):
        join_well_metadata(pd.concat([plates, plates.iloc[[0]]]), wells, compounds, profile=JUMP_PROFILE)


def test_join_well_metadata_int_ids_in_one_table_and_text_in_another_join(compounds):
    plates = pd.DataFrame(
        {schema.SOURCE: [1], schema.BATCH: ["b"], schema.PLATE: [1001], schema.PLATE_TYPE: ["COMPOUND"]}
    )
    wells = pd.DataFrame(
        {
            schema.SOURCE: ["1", "1 ", " 1"],
            schema.PLATE: ["1001", 1001.0, " 1001 "],
            schema.WELL: ["A01", "A02 ", "B01"],
            schema.JCP2022: [schema.DMSO_JCP2022 + " ", schema.DMSO_JCP2022, "JCP2022_000001"],
        }
    )
    well_metadata, quarantined = join_well_metadata(plates, wells, compounds, profile=JUMP_PROFILE)
    assert quarantined.empty
    assert well_metadata[schema.PLATE].tolist() == ["1001"] * 3
    assert well_metadata[schema.WELL].tolist() == ["A01", "A02", "B01"]
    assert well_metadata[schema.IS_CONTROL].tolist() == [True, True, False]


def test_join_well_metadata_missing_ids_quarantined_invalid_identifier(plates, wells, compounds):
    broken = wells.copy()
    broken.loc[2, schema.WELL] = None
    broken.loc[3, schema.JCP2022] = float("nan")
    broken.loc[4, schema.PLATE] = "  "
    well_metadata, quarantined = join_well_metadata(plates, broken, compounds, profile=JUMP_PROFILE)
    assert _reasons(quarantined) == {"invalid_identifier": 3}
    assert len(well_metadata) + 3 == len(wells)
    assert "well_table row 2 has no Metadata_Well" in quarantined[schema.QUARANTINE_DETAIL].iloc[0]


def test_join_well_metadata_nothing_joins_names_the_reasons_not_no_dmso(plates, wells, compounds):
    strangers = wells.assign(**{schema.PLATE: "other_" + wells[schema.PLATE]})
    with pytest.raises(InvalidInputError, match=r"none of the \d+ wells is left.*unknown_plate"):
        join_well_metadata(plates, strangers, compounds, profile=JUMP_PROFILE)


def test_join_well_metadata_boolean_id_raises_naming_table_column_rows(plates, wells, compounds):
    broken = wells.astype({schema.WELL: object})
    broken.loc[[1, 7], schema.WELL] = True
    with pytest.raises(ContractError, match=r"well_table: column Metadata_Well .* row\(s\) 1, 7"):
        join_well_metadata(plates, broken, compounds, profile=JUMP_PROFILE)


def test_join_well_metadata_plate_without_id_raises_naming_row(plates, wells, compounds):
    broken = plates.copy()
    broken.loc[3, schema.PLATE] = None
    with pytest.raises(ContractError, match="plate_table row 3 has no Metadata_Plate"):
        join_well_metadata(broken, wells, compounds, profile=JUMP_PROFILE)
