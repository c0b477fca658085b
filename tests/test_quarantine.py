from __future__ import annotations

import logging

import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError
from micon.quarantine import (
    check_partition,
    empty_quarantine,
    finish_stage,
    make_quarantine,
    require_columns,
    summarise_quarantines,
)


def test_require_columns_missing_column_raises_naming_it():
    with pytest.raises(MissingColumnsError, match=r"wells lacks column\(s\) \['Metadata_Well'\]"):
        require_columns(
            pd.DataFrame({"Metadata_Plate": ["P1"]}), [schema.PLATE, schema.WELL], table_name="wells"
        )


def test_make_quarantine_per_row_reasons_keeps_keys_and_adds_stage():
    rows = pd.DataFrame({schema.JCP2022: ["J1", "J2"], schema.SMILES: ["C1CC", ""], "extra": [1, 2]})
    quarantine = make_quarantine(
        rows,
        [schema.JCP2022],
        stage="standardize_compounds",
        reason=pd.Series(["invalid_smiles", "missing_smiles"]),
        detail="bad",
    )
    assert quarantine.columns.tolist() == [schema.JCP2022, "stage", "reason", "detail"]
    assert quarantine["reason"].tolist() == ["invalid_smiles", "missing_smiles"]
    assert quarantine["stage"].tolist() == ["standardize_compounds"] * 2


def test_empty_quarantine_has_key_and_reason_columns():
    assert empty_quarantine(schema.WELL_KEY).columns.tolist() == [
        *schema.WELL_KEY,
        "stage",
        "reason",
        "detail",
    ]


def test_check_partition_lost_rows_raises():
    with pytest.raises(InvalidInputError, match="2 accepted \\+ 0 quarantined != 3 input rows"):
        check_partition(3, pd.DataFrame({"a": [1, 2]}), empty_quarantine(["a"]), stage="s")


def test_summarise_quarantines_counts_per_table_stage_reason():
    first = make_quarantine(
        pd.DataFrame({"k": [1, 2, 3]}), ["k"], stage="s1", reason=pd.Series(["a", "a", "b"]), detail="d"
    )
    summary = summarise_quarantines({"first": first, "second": empty_quarantine(["k"])})
    assert summary.to_dict("records") == [
        {"table": "first", "stage": "s1", "reason": "a", "n_items": 2},
        {"table": "first", "stage": "s1", "reason": "b", "n_items": 1},
    ]


def test_summarise_quarantines_nothing_quarantined_is_empty_table():
    summary = summarise_quarantines({"t": empty_quarantine(["k"])})
    assert summary.empty and summary.columns.tolist() == ["table", "stage", "reason", "n_items"]


def _rejects(ids: list[str], reason: str) -> pd.DataFrame:
    return make_quarantine(
        pd.DataFrame({schema.JCP2022: ids}), [schema.JCP2022], stage="s", reason=reason, detail="d"
    )


def test_finish_stage_concatenates_checks_and_logs_counts_per_reason(caplog):
    accepted = pd.DataFrame({schema.JCP2022: ["J1"]})
    rejects = [
        _rejects(["J9", "J3"], "invalid_smiles"),
        _rejects([], "unused"),
        _rejects(["J2"], "missing_smiles"),
    ]
    stage_logger = logging.getLogger("micon.test_stage")
    with caplog.at_level(logging.INFO, logger="micon.test_stage"):
        kept, quarantined = finish_stage("s", 4, accepted, rejects, [schema.JCP2022], log=stage_logger)
    assert kept is accepted
    assert quarantined[schema.JCP2022].tolist() == ["J9", "J3", "J2"]
    assert quarantined.index.tolist() == [0, 1, 2]
    assert caplog.records[0].name == "micon.test_stage"
    assert "s: 4 in, 1 accepted, 3 quarantined {'invalid_smiles': 2, 'missing_smiles': 1}" in caplog.text


def test_finish_stage_sorts_the_quarantine_when_asked():
    rejects = [_rejects(["J9", "J3"], "a"), _rejects(["J2"], "b")]
    _, quarantined = finish_stage("s", 3, pd.DataFrame(), rejects, [schema.JCP2022], sort_by=[schema.JCP2022])
    assert quarantined[schema.JCP2022].tolist() == ["J2", "J3", "J9"]


def test_finish_stage_nothing_rejected_gives_the_empty_quarantine():
    _, quarantined = finish_stage("s", 1, pd.DataFrame({"x": [1]}), [_rejects([], "a")], [schema.JCP2022])
    pd.testing.assert_frame_equal(quarantined, empty_quarantine([schema.JCP2022]))


def test_finish_stage_lost_rows_raise():
    with pytest.raises(InvalidInputError, match="s: 1 accepted"):
        finish_stage("s", 3, pd.DataFrame({"x": [1]}), [_rejects(["J1"], "a")], [schema.JCP2022])
