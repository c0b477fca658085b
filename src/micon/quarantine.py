"""Quarantine tables: rows a stage rejects, with the stage, a stable reason code and a detail message."""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping, Sequence

import pandas as pd

from micon import schema
from micon.errors import InvalidInputError, MissingColumnsError

logger = logging.getLogger(__name__)


def require_columns(table: pd.DataFrame, columns: Sequence[str], *, table_name: str) -> None:
    """Raise if ``table`` lacks any of ``columns``.

    Raises:
        MissingColumnsError: Names the table, the missing columns and the columns present.
    """
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise MissingColumnsError(f"{table_name} lacks column(s) {missing}; it has {list(table.columns)}")


def make_quarantine(
    rows: pd.DataFrame,
    key_columns: Sequence[str],
    *,
    stage: str,
    reason: str | pd.Series,
    detail: str | pd.Series,
) -> pd.DataFrame:
    """Return quarantine rows: the items' key columns plus ``stage``, ``reason`` and ``detail``.

    Args:
        rows: The rejected items, one row each.
        key_columns: Columns that identify an item (e.g. ``schema.WELL_KEY``).
        stage: Name of the function that rejected them.
        reason: A snake_case code (``invalid_smiles``), one for all rows or one per row.
        detail: A message quoting the offending value, one for all rows or one per row.

    Returns:
        One row per rejected item with ``key_columns`` + stage, reason, detail (all strings).
    """
    require_columns(rows, key_columns, table_name=f"{stage} rejects")
    out = rows.loc[:, list(key_columns)].copy()
    out[schema.QUARANTINE_STAGE] = stage
    out[schema.QUARANTINE_REASON] = reason if isinstance(reason, str) else reason.to_numpy()
    out[schema.QUARANTINE_DETAIL] = detail if isinstance(detail, str) else detail.to_numpy()
    return out.reset_index(drop=True)


def empty_quarantine(key_columns: Sequence[str]) -> pd.DataFrame:
    """Return an empty quarantine table with the given key columns."""
    columns = [*key_columns, schema.QUARANTINE_STAGE, schema.QUARANTINE_REASON, schema.QUARANTINE_DETAIL]
    return pd.DataFrame({c: pd.Series(dtype="object") for c in columns})


def check_partition(n_input: int, accepted: pd.DataFrame, quarantined: pd.DataFrame, *, stage: str) -> None:
    """Check that accepted and quarantined rows together account for every input row.

    Raises:
        InvalidInputError: The counts disagree (a bug in ``stage``: rows were lost or duplicated).
    """
    if len(accepted) + len(quarantined) != n_input:
        raise InvalidInputError(
            f"{stage}: {len(accepted)} accepted + {len(quarantined)} quarantined != {n_input} input rows; "
            "this is a bug in the stage"
        )


def finish_stage(  # noqa: PLR0913
    stage: str,
    n_input: int,
    accepted: pd.DataFrame,
    rejects: Iterable[pd.DataFrame],
    key_columns: Sequence[str],
    *,
    sort_by: Sequence[str] = (),
    log: logging.Logger | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Close a rejecting stage: gather its quarantine, check that no row was lost, log the counts.

    Args:
        stage: The stage's name (as in its quarantine rows).
        n_input: How many items the stage was given.
        accepted: The items it kept, one row each.
        rejects: Quarantine tables from :func:`make_quarantine`, one per check; empty ones are skipped.
        key_columns: The quarantine's key columns, for an empty quarantine.
        sort_by: Columns to order the quarantine by (stable); none: in the order of ``rejects``.
        log: The stage's logger (default: this module's); the counts are logged at INFO as
            ``"<stage>: <n> in, <n> accepted, <n> quarantined {reason: count}"``.

    Returns:
        ``accepted`` unchanged, and the quarantine: the non-empty ``rejects`` concatenated with a fresh
        index, or :func:`empty_quarantine` of ``key_columns`` when there is none.

    Raises:
        InvalidInputError: Accepted and quarantined rows do not add up to ``n_input`` (a bug in ``stage``).
    """
    frames = [frame for frame in rejects if len(frame)]
    if not frames:
        quarantined = empty_quarantine(key_columns)
    else:
        quarantined = pd.concat(frames, ignore_index=True)
        if sort_by:
            quarantined = quarantined.sort_values(list(sort_by), kind="stable").reset_index(drop=True)
    check_partition(n_input, accepted, quarantined, stage=stage)
    (log or logger).info(
        "%s: %d in, %d accepted, %d quarantined %s",
        stage,
        n_input,
        len(accepted),
        len(quarantined),
        quarantined[schema.QUARANTINE_REASON].value_counts().to_dict(),
    )
    return accepted, quarantined


def summarise_quarantines(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """Count quarantined items per table, stage and reason.

    Args:
        tables: Quarantine tables by name (e.g. ``standardization_quarantine``).

    Returns:
        One row per (table, stage, reason) with column ``n_items``; an empty table of those
        columns when nothing was quarantined.
    """
    columns = ["table", schema.QUARANTINE_STAGE, schema.QUARANTINE_REASON]
    counts = [
        table.groupby([schema.QUARANTINE_STAGE, schema.QUARANTINE_REASON], dropna=False)
        .size()
        .rename("n_items")
        .reset_index()
        .assign(table=name)
        for name, table in tables.items()
        if len(table)
    ]
    if not counts:
        return pd.DataFrame(
            {c: pd.Series(dtype="object") for c in columns} | {"n_items": pd.Series(dtype="int64")}
        )
    return pd.concat(counts, ignore_index=True)[[*columns, "n_items"]]
