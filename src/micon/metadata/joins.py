"""Join plates, wells and standardised compounds into one row of metadata per usable well."""

from __future__ import annotations

import logging
from collections.abc import Callable

import pandas as pd

from micon import schema
from micon.contracts import (
    PLATE_TABLE,
    REASON_INVALID_IDENTIFIER,
    WELL_TABLE,
    ContractError,
    conform_table,
    invalid_key_rows,
    normalize_identifiers,
)
from micon.errors import InvalidInputError, NoControlsError
from micon.metadata._duplicates import duplicate_rows
from micon.profile import SourceProfile
from micon.quarantine import finish_stage, make_quarantine, require_columns

logger = logging.getLogger(__name__)

_STAGE = "join_well_metadata"
QUARANTINE_KEY: tuple[str, ...] = (*schema.WELL_KEY, schema.JCP2022)
WELL_METADATA_COLUMNS: tuple[str, ...] = (
    schema.SOURCE,
    schema.BATCH,
    schema.PLATE,
    schema.PLATE_TYPE,
    schema.WELL,
    schema.JCP2022,
    schema.STANDARD_SMILES,
    schema.STANDARD_INCHIKEY,
    schema.IS_CONTROL,
)
_PLATE_COLUMNS = (schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE)
_WELL_COLUMNS = (schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022)
_COMPOUND_COLUMNS = (schema.JCP2022, schema.STANDARD_SMILES, schema.STANDARD_INCHIKEY)


def _reject_duplicated_lookup(table: pd.DataFrame, key: list[str], *, table_name: str) -> None:
    """Raise if a lookup table (plates, compounds) lists a key twice, which would multiply wells."""
    repeated = table.loc[table.duplicated(subset=key, keep=False), key].drop_duplicates()
    if not repeated.empty:
        raise InvalidInputError(
            f"{table_name} lists {repeated.iloc[0].to_dict()} more than once ({len(repeated)} key(s) "
            f"repeat); each {key} must appear once"
        )


def join_well_metadata(
    plates: pd.DataFrame, wells: pd.DataFrame, compounds: pd.DataFrame, *, profile: SourceProfile
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach each well's plate and standardised compound; quarantine wells that cannot be used.

    The plate and well tables are first checked against their contracts (:mod:`micon.contracts`: required
    columns, identifier types, unique plates) and their identifiers normalised to stripped text, so ids
    typed as integers in one table and text in another, or with stray spaces, still join.

    Reasons for quarantine, checked in this order: ``invalid_identifier`` (a well without a source,
    plate, well or compound id: missing, NaN or blank), ``duplicate_well`` (a well listed twice: every copy
    when they name different compounds or annotations, else the later copies), ``unknown_plate`` (its
    plate is not in the plate table), ``unknown_compound`` (its JCP2022 id is not among the standardised
    compounds, e.g. because ``standardize_compounds`` quarantined its SMILES; only where the profile's
    ``split_policy`` is ``held_out`` — with ``molecule_known`` such wells are kept without a molecule, for
    image-only use and evaluation), ``plate_without_dmso`` (every well of a plate left with no control
    well, where the profile's ``controls`` is ``dmso``: such a plate cannot be normalised to its controls).

    Args:
        plates: plate_table: ``Metadata_Source``, ``Metadata_Batch``, ``Metadata_Plate``,
            ``Metadata_PlateType``; one row per plate.
        wells: well_table: ``Metadata_Source``, ``Metadata_Plate``, ``Metadata_Well``,
            ``Metadata_JCP2022`` and the profile's ``well_annotations``.
        compounds: standardized_compounds: ``Metadata_JCP2022``, ``Metadata_StandardSMILES``,
            ``Metadata_StandardInChIKey``; one row per compound.
        profile: The source: its control compound, control mode, split policy and well annotations.

    Returns:
        ``(well_metadata, quarantined)``: one row per accepted well with the columns of
        ``WELL_METADATA_COLUMNS`` then the profile's ``well_annotations`` (``Metadata_IsControl`` True for
        the control compound's wells), in the wells' input order; quarantine rows keyed by source, plate,
        well and JCP2022.

    Raises:
        MissingColumnsError: A table lacks a required column.
        ContractError: A table holds values of the wrong type, or the plate table repeats a plate or lacks
            a plate id (names the table, column and rows).
        InvalidInputError: A table is empty, the compound table repeats a key, or no well is left before
            controls are looked for (the counts per reason are given).
        NoControlsError: The profile's ``controls`` is ``dmso`` and no plate has a control well left.
    """
    well_columns = (*_WELL_COLUMNS, *profile.well_annotations)
    plates = conform_table(plates, PLATE_TABLE)
    require_columns(wells, well_columns, table_name="well table")
    wells = conform_table(wells, WELL_TABLE)
    require_columns(compounds, _COMPOUND_COLUMNS, table_name="standardized compound table")
    compounds = compounds.assign(**{schema.JCP2022: normalize_identifiers(compounds[schema.JCP2022])})
    blank_plate, blank_detail = invalid_key_rows(plates, PLATE_TABLE)
    if blank_plate.any():
        raise ContractError(
            f"{blank_detail[blank_plate].iloc[0]} ({int(blank_plate.sum())} row(s)); a plate needs its ids"
        )
    for name, table in (
        ("plate table", plates),
        ("well table", wells),
        ("standardized compound table", compounds),
    ):
        if table.empty:
            raise InvalidInputError(f"{name} is empty")
    _reject_duplicated_lookup(compounds, [schema.JCP2022], table_name="standardized compound table")

    table = wells.loc[:, list(well_columns)].reset_index(drop=True)
    control_compound = str(profile.control_compound).strip()
    rejects: list[pd.DataFrame] = []

    def reject(mask: pd.Series, reason: str, detail: pd.Series) -> None:
        nonlocal table
        if mask.any():
            rejects.append(
                make_quarantine(table[mask], QUARANTINE_KEY, stage=_STAGE, reason=reason, detail=detail[mask])
            )
        table = table[~mask]

    no_id, no_id_detail = invalid_key_rows(table, WELL_TABLE)
    reject(no_id, REASON_INVALID_IDENTIFIER, no_id_detail)

    duplicated, duplicate_detail = duplicate_rows(
        table, schema.WELL_KEY, [schema.JCP2022, *profile.well_annotations]
    )
    reject(duplicated, "duplicate_well", duplicate_detail.reindex(table.index))

    table = table.merge(
        plates.loc[:, list(_PLATE_COLUMNS)], on=[schema.SOURCE, schema.PLATE], how="left", indicator="_plate"
    ).set_axis(table.index)
    unknown_plate = table.pop("_plate") == "left_only"
    reject(
        unknown_plate,
        "unknown_plate",
        "plate "
        + table[schema.PLATE].astype("string")
        + " of source "
        + table[schema.SOURCE].astype("string")
        + " is not in the plate table",
    )

    table = table.merge(
        compounds.loc[:, list(_COMPOUND_COLUMNS)], on=schema.JCP2022, how="left", indicator="_compound"
    ).set_axis(table.index)
    unknown_compound = table.pop("_compound") == "left_only"
    if profile.split_policy == "held_out":
        reject(
            unknown_compound,
            "unknown_compound",
            "compound "
            + table[schema.JCP2022].astype("string").fillna("<missing>")
            + " is not among the standardized compounds (no such id in the compound table, or "
            "standardize_compounds quarantined it, e.g. for an invalid or missing SMILES)",
        )

    if table.empty:
        counts = pd.concat(rejects)[schema.QUARANTINE_REASON].value_counts().to_dict()
        raise InvalidInputError(
            f"{_STAGE}: none of the {len(wells)} wells is left to use; quarantined {counts}: check that the "
            "well table's plates and compounds are those of the plate and compound tables"
        )
    table[schema.IS_CONTROL] = (table[schema.JCP2022] == control_compound).astype(bool)
    if profile.controls == "dmso":
        _reject_plates_without_controls(table, reject, control_compound)

    well_metadata = table.loc[:, [*WELL_METADATA_COLUMNS, *profile.well_annotations]].reset_index(drop=True)
    logger.info(
        "%s: %d accepted wells (%d controls) on %d plates",
        _STAGE,
        len(well_metadata),
        int(well_metadata[schema.IS_CONTROL].sum()),
        well_metadata[[schema.SOURCE, schema.PLATE]].drop_duplicates().shape[0],
    )
    return finish_stage(_STAGE, len(wells), well_metadata, rejects, QUARANTINE_KEY, log=logger)


def _reject_plates_without_controls(
    table: pd.DataFrame, reject: Callable[[pd.Series, str, pd.Series], None], control_compound: str
) -> None:
    """Quarantine every well of a plate without a control well (``plate_without_dmso``).

    Raises:
        NoControlsError: No plate has a control well.
    """
    plate_has_control = table.groupby([schema.SOURCE, schema.PLATE], sort=False)[schema.IS_CONTROL].transform(
        "any"
    )
    if not plate_has_control.any():
        raise NoControlsError(
            f"no plate has a control well ({schema.JCP2022} == {control_compound!r}) among "
            f"{len(table)} joined wells of {table[[schema.SOURCE, schema.PLATE]].drop_duplicates().shape[0]} "
            "plates; controls are needed to normalise and to pair treated wells"
        )
    reject(
        ~plate_has_control.astype(bool),
        "plate_without_dmso",
        "plate "
        + table[schema.PLATE].astype("string")
        + " of source "
        + table[schema.SOURCE].astype("string")
        + f" has no control ({control_compound}) well",
    )
