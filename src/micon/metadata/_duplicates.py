"""Shared plumbing of the metadata joins: find rows that repeat a key."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd


def duplicate_rows(
    table: pd.DataFrame, key: Sequence[str], values: Sequence[str]
) -> tuple[pd.Series, pd.Series]:
    """Return which rows to reject for repeating ``key``, and why.

    A key whose rows disagree on ``values`` is ambiguous: all its rows are rejected. A key whose rows
    agree is kept once: its later copies are rejected.

    Args:
        table: The rows.
        key: Columns that must identify one row.
        values: Columns whose disagreement makes a repeated key ambiguous.

    Returns:
        ``(mask, detail)``: a boolean mask over ``table`` and, for the masked rows, a message.
    """
    key = list(key)
    values = [c for c in values if c not in key]
    repeated_key = table.duplicated(subset=key, keep=False)
    if not repeated_key.any():
        return repeated_key, pd.Series(dtype="object")
    variants = (
        table[key + values].drop_duplicates().groupby(key, dropna=False, sort=False).size().rename("_n")
    )
    n_variants = table[key].merge(variants.reset_index(), on=key, how="left")["_n"].to_numpy()
    conflicting = repeated_key & (n_variants > 1)
    repeated = table.duplicated(subset=key, keep="first") & ~conflicting
    mask = conflicting | repeated
    rows = table.loc[mask, key]
    detail = [
        ", ".join(f"{c}={v!s}" for c, v in zip(key, row, strict=True))
        + (
            f" is listed more than once with different {values}"
            if is_conflict
            else " repeats an earlier identical row"
        )
        for row, is_conflict in zip(rows.itertuples(index=False), np.asarray(conflicting[mask]), strict=True)
    ]
    return mask, pd.Series(detail, index=rows.index, dtype="object")
