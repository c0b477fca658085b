"""Raw-table contracts and identifier normalisation, with property-based tests (hypothesis)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from micon import schema
from micon.contracts import (
    PLATE_TABLE,
    WELL_TABLE,
    ContractError,
    conform_table,
    image_index_contract,
    invalid_key_rows,
    normalize_identifiers,
)
from micon.errors import InvalidInputError, MissingColumnsError, NoControlsError
from micon.metadata import join_well_metadata
from micon.sources.jump.cpg0016 import JUMP_PROFILE

SETTINGS = settings(max_examples=60, deadline=None)
_SPACES = st.text(alphabet=" \t", max_size=2)


@st.composite
def spellings(draw) -> tuple[str, object]:
    """Return ``(canonical id, one spelling of it)``: an int, an integral float, or text with spaces."""
    number = draw(st.integers(0, 10**6))
    if draw(st.booleans()):
        text = draw(st.from_regex(r"[A-Za-z][A-Za-z0-9_\-]{0,12}", fullmatch=True))
        return text, draw(_SPACES) + text + draw(_SPACES)
    spelling = draw(st.sampled_from(["int", "float", "numpy", "text"]))
    value = {
        "int": number,
        "float": float(number),
        "numpy": np.int64(number),
        "text": draw(_SPACES) + str(number) + draw(_SPACES),
    }[spelling]
    return str(number), value


MISSING = st.sampled_from([None, np.nan, pd.NA, "", "   ", "\t"])


@SETTINGS
@given(st.lists(spellings(), max_size=20))
def test_normalize_identifiers_every_spelling_gives_the_canonical_text(cases):
    values = pd.Series([v for _, v in cases], dtype="object")
    assert normalize_identifiers(values).tolist() == [c for c, _ in cases]


@SETTINGS
@given(st.lists(st.one_of(spellings().map(lambda c: c[1]), MISSING), max_size=20))
def test_normalize_identifiers_idempotent_stripped_text_or_none(values):
    once = normalize_identifiers(pd.Series(values, dtype="object"))
    assert normalize_identifiers(once).tolist() == once.tolist()
    for value in once:
        assert value is None or (isinstance(value, str) and value == value.strip() and value)
    assert [v is None for v in once] == [
        not isinstance(v, int | float | np.integer)
        and (v is None or v is pd.NA or (isinstance(v, str) and not v.strip()))
        or (isinstance(v, float) and np.isnan(v))
        for v in values
    ]


@SETTINGS
@given(st.lists(st.tuples(spellings(), st.booleans()), min_size=1, max_size=15))
def test_conform_table_ids_normalised_and_blank_keys_found(rows):
    table = pd.DataFrame(
        {
            schema.SOURCE: ["s"] * len(rows),
            schema.PLATE: [v if keep else None for (_, v), keep in rows],
            schema.WELL: "A01",
            schema.JCP2022: "JCP2022_000001",
        }
    )
    conformed = conform_table(table, WELL_TABLE)
    assert conformed[schema.PLATE].tolist() == [c if keep else None for (c, _), keep in rows]
    mask, detail = invalid_key_rows(conformed, WELL_TABLE)
    assert mask.tolist() == [not keep for _, keep in rows]
    assert all("Metadata_Plate" in d for d in detail[mask])


@SETTINGS
@given(st.sampled_from([True, [1], {"a": 1}, pd.Timestamp("2024-01-01"), b"P1"]), st.integers(0, 4))
def test_conform_table_wrong_type_raises_naming_table_column_and_row(bad, row):
    plates = pd.DataFrame(
        {
            schema.SOURCE: ["s"] * 5,
            schema.BATCH: "b",
            schema.PLATE: [f"P{i}" for i in range(5)],
            schema.PLATE_TYPE: "COMPOUND",
        },
        dtype="object",
    )
    plates.at[row, schema.PLATE] = bad
    with pytest.raises(ContractError, match=rf"plate_table: column Metadata_Plate .* row\(s\) {row}"):
        conform_table(plates, PLATE_TABLE)


def test_conform_table_repeated_unique_key_raises_naming_rows():
    plates = pd.DataFrame(
        {
            schema.SOURCE: ["s", "s ", "s"],
            schema.BATCH: "b",
            schema.PLATE: [1, "1", 2],
            schema.PLATE_TYPE: "C",
        }
    )
    with pytest.raises(ContractError, match=r"plate_table: key .* must be unique; row\(s\) 0, 1 repeat"):
        conform_table(plates, PLATE_TABLE)


def test_conform_table_missing_column_raises_naming_it():
    with pytest.raises(
        MissingColumnsError, match=r"image_index lacks required column\(s\) .*'FileName_OrigDNA'"
    ):
        conform_table(pd.DataFrame({schema.SOURCE: ["s"]}), image_index_contract(["DNA"]))


PLATES = pd.DataFrame(
    {
        schema.SOURCE: ["s1", "s1", "s2"],
        schema.BATCH: ["b1", "b2", "b3"],
        schema.PLATE: ["P1", "P2", "P3"],
        schema.PLATE_TYPE: "COMPOUND",
    }
)
COMPOUNDS = pd.DataFrame(
    {
        schema.JCP2022: [schema.DMSO_JCP2022, "JCP2022_000001", "JCP2022_000002"],
        schema.STANDARD_SMILES: ["C[S+](C)[O-]", "CCO", "CCN"],
        schema.STANDARD_INCHIKEY: ["K0", "K1", "K2"],
    }
)


@st.composite
def well_tables(draw) -> pd.DataFrame:
    """Return a well table with padded, numeric, blank, unknown and repeated ids."""
    n = draw(st.integers(1, 25))
    pad = lambda text: draw(_SPACES) + text + draw(_SPACES)  # noqa: E731
    rows = []
    for _ in range(n):
        source, plate = draw(st.sampled_from([("s1", "P1"), ("s1", "P2"), ("s2", "P3"), ("s2", "P9")]))
        rows.append(
            {
                schema.SOURCE: pad(source),
                schema.PLATE: draw(st.one_of(st.just(pad(plate)), MISSING)),
                schema.WELL: draw(st.one_of(st.sampled_from(["A01", "A02", "B01", 7, 8.0]), MISSING)),
                schema.JCP2022: pad(draw(st.sampled_from([*COMPOUNDS[schema.JCP2022], "JCP2022_UNKNOWN"]))),
            }
        )
    return pd.DataFrame(rows, dtype="object")


@settings(max_examples=80, deadline=None)
@given(well_tables())
def test_join_well_metadata_every_well_accepted_or_quarantined_never_a_raw_error(wells):
    try:
        accepted, quarantined = join_well_metadata(PLATES, wells, COMPOUNDS, profile=JUMP_PROFILE)
    except (NoControlsError, InvalidInputError) as err:  # nothing usable left: a named, domain error
        assert "wells" in str(err) or "plate" in str(err)
        return
    assert len(accepted) + len(quarantined) == len(wells)
    for column in (schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022):
        assert all(isinstance(v, str) and v == v.strip() and v for v in accepted[column])
    assert set(quarantined[schema.QUARANTINE_REASON]) <= {
        "invalid_identifier",
        "duplicate_well",
        "unknown_plate",
        "unknown_compound",
        "plate_without_dmso",
    }
