"""Declared contracts of the raw tables (columns, types, keys) and the one place identifiers are normalised.

Every source writes the same raw tables (``plate_table``, ``well_table``, ``compound_table``,
``image_index``); the stages that read them first (``standardize_compounds``, ``join_well_metadata``,
``join_image_index``) and the source ingestions call :func:`conform_table`, so a table that breaks its
contract fails there with a message naming the table, the column and the rows, not later as a pandas merge
error or an empty join. Identifiers are compared as text: :func:`normalize_identifiers` turns ``1``,
``1.0`` and ``" 1 "`` into ``"1"``, so an id typed as an integer in one table and as text in another, or
written with a trailing space, still joins. A missing or blank key is not an error of the table but of the
row: :func:`invalid_key_rows` finds such rows and the stage quarantines them (``invalid_identifier``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError

__all__ = [
    "COMPOUND_TABLE",
    "PLATE_TABLE",
    "REASON_INVALID_IDENTIFIER",
    "WELL_TABLE",
    "ColumnSpec",
    "ContractError",
    "TableContract",
    "conform_raw_tables",
    "conform_table",
    "image_index_contract",
    "invalid_key_rows",
    "normalize_identifiers",
]

REASON_INVALID_IDENTIFIER = "invalid_identifier"
_SHOWN_ROWS = 5

ColumnKind = Literal["identifier", "text", "number"]


class ContractError(InvalidInputError):
    """A raw table breaks its declared contract (a column of the wrong type, a repeated unique key)."""


@dataclass(frozen=True, kw_only=True)
class ColumnSpec:
    """One column of a raw table.

    Attributes:
        name: The column name.
        kind: ``"identifier"`` (compared as stripped text; ints and integral floats become their digits),
            ``"text"`` (strings or missing) or ``"number"`` (numeric or missing).
    """

    name: str
    kind: ColumnKind


@dataclass(frozen=True, kw_only=True)
class TableContract:
    """What a raw table must hold.

    Attributes:
        name: The table's catalog name (quoted in every error).
        columns: Required columns and their kinds.
        key: Identifier columns that must be present and non-blank in every row (rows breaking it are
            the stage's to quarantine, see :func:`invalid_key_rows`).
        unique: Whether ``key`` must also be unique (a lookup table: a repeat would multiply rows).
    """

    name: str
    columns: tuple[ColumnSpec, ...]
    key: tuple[str, ...]
    unique: bool


def _ids(*names: str) -> tuple[ColumnSpec, ...]:
    return tuple(ColumnSpec(name=n, kind="identifier") for n in names)


PLATE_TABLE = TableContract(
    name="plate_table",
    columns=_ids(schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE),
    key=(schema.SOURCE, schema.PLATE),
    unique=True,
)
WELL_TABLE = TableContract(
    name="well_table",
    columns=_ids(schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022),
    key=(schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022),
    unique=False,  # a repeated well is quarantined by join_well_metadata (duplicate_well)
)
COMPOUND_TABLE = TableContract(
    name="compound_table",
    columns=(
        *_ids(schema.JCP2022),
        ColumnSpec(name=schema.SMILES, kind="text"),
        ColumnSpec(name=schema.INCHIKEY, kind="text"),
    ),
    key=(schema.JCP2022,),
    unique=False,  # a repeated id is quarantined by standardize_compounds (duplicate_compound_id)
)


def image_index_contract(channels: Sequence[str]) -> TableContract:
    """Return the contract of a load_data image index holding ``channels``."""
    files = tuple(
        ColumnSpec(name=column(ch), kind="text")
        for ch in channels
        for column in (schema.file_name_column, schema.path_name_column)
    )
    return TableContract(
        name="image_index",
        columns=(*_ids(schema.SOURCE, schema.PLATE, schema.WELL, schema.SITE), *files),
        key=(schema.SOURCE, schema.PLATE, schema.WELL, schema.SITE),
        unique=False,  # a repeated site is quarantined by join_image_index (duplicate_site)
    )


def _rows(positions: np.ndarray) -> str:
    shown = ", ".join(str(int(p)) for p in positions[:_SHOWN_ROWS])
    more = f" and {len(positions) - _SHOWN_ROWS} more" if len(positions) > _SHOWN_ROWS else ""
    return f"row(s) {shown}{more}"


def normalize_identifiers(values: pd.Series) -> pd.Series:
    """Return identifiers as stripped text; missing and blank values become ``None``.

    An integer ``7``, an integral float ``7.0`` (a column of ints with a gap, as pandas reads it) and the
    text ``" 7 "`` all become ``"7"``; a non-integral float keeps its text (``"7.5"``). Booleans are
    refused by :func:`conform_table`, not here.

    Args:
        values: One identifier column, any dtype.

    Returns:
        An object Series of the same index: ``str`` values, or ``None`` where missing or blank.
    """
    if pd.api.types.infer_dtype(values, skipna=True) in ("string", "empty"):
        # Fast path (a million-row JUMP well table): text only, stripped in one vectorised pass.
        text = values.astype("string").str.strip()
        keep = (text.notna() & (text != "")).fillna(False).astype(bool)
        return text.astype("object").where(keep, None)

    def one(value: object) -> str | None:
        if value is None or (not isinstance(value, str) and pd.isna(value)):
            return None
        if isinstance(value, float | np.floating) and float(value).is_integer():
            value = int(value)
        text = str(value).strip()
        return text or None

    return pd.Series([one(v) for v in values], index=values.index, dtype="object")


_FINE_KINDS: dict[str, frozenset[str]] = {
    "identifier": frozenset({"string", "integer", "floating", "mixed-integer-float", "empty"}),
    "text": frozenset({"string", "empty"}),
    "number": frozenset({"integer", "floating", "mixed-integer-float", "empty"}),
}


def _type_problem(values: pd.Series, kind: ColumnKind) -> np.ndarray:
    """Return the positions of values that cannot be of ``kind`` (booleans are never identifiers)."""
    if pd.api.types.infer_dtype(values, skipna=True) in _FINE_KINDS[kind]:
        return np.zeros(0, dtype=np.int64)  # fast path: pandas saw one acceptable kind throughout

    def bad(value: object) -> bool:
        if value is None or (not isinstance(value, str | bool | np.bool_) and pd.isna(value)):
            return False
        if kind == "number":
            return isinstance(value, bool | np.bool_) or not isinstance(value, int | float | np.number)
        if kind == "text":
            return not isinstance(value, str)
        return isinstance(value, bool | np.bool_) or not isinstance(value, str | int | float | np.number)

    return np.flatnonzero([bad(v) for v in values])


def conform_table(table: pd.DataFrame, contract: TableContract) -> pd.DataFrame:
    """Check a raw table against its contract and return it with its identifiers normalised.

    Checks, in order: every required column is present; every value has its column's kind (text, a
    number, or an identifier: text or an integer, never a boolean, a list or a date); where the contract
    says so, no two rows share a (non-blank) key. Identifier columns are then normalised by
    :func:`normalize_identifiers`; other columns are left as they are. Missing or blank keys are left for
    the stage to quarantine (:func:`invalid_key_rows`).

    Args:
        table: The raw table.
        contract: Its contract.

    Returns:
        A copy of ``table`` (index reset) with its identifier columns as stripped ``str`` or ``None``.

    Raises:
        MissingColumnsError: A required column is absent (names the table, the columns and those present).
        ContractError: A value has the wrong type, or a unique key repeats (names table, column, rows).
    """
    missing = [c.name for c in contract.columns if c.name not in table.columns]
    if missing:
        raise MissingColumnsError(
            f"{contract.name} lacks required column(s) {missing}; it has {list(table.columns)}"
        )
    out = table.reset_index(drop=True).copy()
    for column in contract.columns:
        bad = _type_problem(out[column.name], column.kind)
        if bad.size:
            example = out[column.name].iloc[bad[0]]
            raise ContractError(
                f"{contract.name}: column {column.name} must hold {column.kind} values; {_rows(bad)} do not "
                f"(first: {example!r} of type {type(example).__name__})"
            )
        if column.kind == "identifier":
            out[column.name] = normalize_identifiers(out[column.name])
    if contract.unique:
        keyed = out.loc[out[list(contract.key)].notna().all(axis=1), list(contract.key)]
        repeated = keyed.duplicated(keep=False)
        if repeated.any():
            positions = keyed.index[repeated].to_numpy()
            raise ContractError(
                f"{contract.name}: key {list(contract.key)} must be unique; {_rows(positions)} repeat "
                f"{keyed.loc[positions[0]].to_dict()}"
            )
    return out


def invalid_key_rows(table: pd.DataFrame, contract: TableContract) -> tuple[pd.Series, pd.Series]:
    """Return the rows of a conformed table whose key is missing or blank, and why.

    Args:
        table: A table returned by :func:`conform_table`.
        contract: Its contract.

    Returns:
        ``(mask, detail)``: a boolean mask over ``table`` and, per row, a message naming the table, the row
        and its blank key columns (empty text where the row is fine).
    """
    blank = table[list(contract.key)].isna()
    mask = blank.any(axis=1)
    detail = pd.Series("", index=table.index, dtype="object")
    for position, row in blank[mask].iterrows():
        columns = [c for c in contract.key if row[c]]
        detail[position] = f"{contract.name} row {position} has no {', '.join(columns)} (missing or blank)"
    return mask, detail


def conform_raw_tables(
    plate_table: pd.DataFrame,
    well_table: pd.DataFrame,
    compound_table: pd.DataFrame,
    image_index: pd.DataFrame,
    *,
    channels: Sequence[str],
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Check the four raw tables a source writes against their contracts; return them with ids normalised.

    A source's ingestion calls this on what it writes, so a source that breaks the raw contract fails
    where it is written, naming the table, column and rows.

    Args:
        plate_table: The plates (:data:`PLATE_TABLE`).
        well_table: The wells (:data:`WELL_TABLE`).
        compound_table: The compounds (:data:`COMPOUND_TABLE`).
        image_index: The sites (:func:`image_index_contract` of ``channels``).
        channels: The source profile's channels.

    Returns:
        The four tables, in that order, as :func:`conform_table` returns them.

    Raises:
        MissingColumnsError, ContractError: As :func:`conform_table`.
    """
    return (
        conform_table(plate_table, PLATE_TABLE),
        conform_table(well_table, WELL_TABLE),
        conform_table(compound_table, COMPOUND_TABLE),
        conform_table(image_index, image_index_contract(channels)),
    )
