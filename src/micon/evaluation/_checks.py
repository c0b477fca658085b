"""Input checks shared by the evaluation modules: finite features and present, non-null metadata."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidFeaturesError, InvalidInputError
from micon.quarantine import require_columns


def describe_row(table: pd.DataFrame, position: int) -> str:
    """Return ``Source=..., Plate=..., Well=...`` (the well key columns present) for row ``position``."""
    row = table.iloc[position]
    parts = [f"{c.removeprefix('Metadata_')}={row[c]}" for c in schema.WELL_KEY if c in table.columns]
    return ", ".join(parts) if parts else f"row {position}"


def require_features(table: pd.DataFrame, feature_columns: Sequence[str], *, table_name: str) -> None:
    """Raise unless ``feature_columns`` exist, are numeric and every value is finite.

    Checked column by column so that a large crop table is never copied whole.

    Raises:
        MissingColumnsError: A feature column is absent.
        InvalidInputError: There are no feature columns.
        InvalidFeaturesError: A column is not numeric, or holds NaN/inf (names the column and the
            first offending row's well).
    """
    if len(feature_columns) == 0:
        raise InvalidInputError(f"{table_name} has no feature columns; it has {list(table.columns)}")
    require_columns(table, feature_columns, table_name=table_name)
    for column in feature_columns:
        series = table[column]
        if not pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            raise InvalidFeaturesError(
                f"{table_name}: feature column {column!r} has dtype {series.dtype}; expected floats"
            )
        finite = np.isfinite(series.to_numpy(dtype=np.float64, na_value=np.nan))
        if not finite.all():
            first = int(np.flatnonzero(~finite)[0])
            raise InvalidFeaturesError(
                f"{table_name}: feature column {column!r} holds {int((~finite).sum())} NaN/inf value(s); "
                f"first at {describe_row(table, first)} (value {series.iloc[first]})"
            )


def require_metadata(table: pd.DataFrame, columns: Sequence[str], *, table_name: str) -> None:
    """Raise unless ``columns`` exist and hold no missing value.

    Raises:
        MissingColumnsError: A column is absent.
        InvalidInputError: A column holds a missing value (names the column and the first such well).
    """
    require_columns(table, columns, table_name=table_name)
    for column in columns:
        missing = table[column].isna().to_numpy()
        if missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise InvalidInputError(
                f"{table_name}: metadata column {column!r} is missing for {int(missing.sum())} row(s); "
                f"first at {describe_row(table, first)}"
            )


def control_mask(table: pd.DataFrame, *, table_name: str) -> np.ndarray:
    """Return ``schema.IS_CONTROL`` as a boolean array, refusing missing or non-boolean values.

    Raises:
        MissingColumnsError: ``schema.IS_CONTROL`` is absent.
        InvalidInputError: It holds a missing value or a value other than True/False.
    """
    require_metadata(table, [schema.IS_CONTROL], table_name=table_name)
    values = table[schema.IS_CONTROL]
    if not pd.api.types.is_bool_dtype(values):
        unique = set(values.unique().tolist())
        if not unique <= {True, False}:
            raise InvalidInputError(
                f"{table_name}: {schema.IS_CONTROL} must be boolean; found values {sorted(map(str, unique))}"
            )
    return values.to_numpy(dtype=bool)


def checked_features(table: pd.DataFrame, *, table_name: str) -> list[str]:
    """Return the feature columns of ``table`` after refusing an empty table or non-finite features.

    Raises:
        InvalidInputError: ``table`` is empty or has no feature column.
        InvalidFeaturesError: A feature is not numeric, NaN or inf (names the column and well).
    """
    if table.empty:
        raise InvalidInputError(f"{table_name}: the table is empty")
    features = schema.feature_columns(table.columns)
    require_features(table, features, table_name=table_name)
    return features
