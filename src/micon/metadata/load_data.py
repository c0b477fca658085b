"""Join a JUMP load_data image index (one row per imaged site) onto the accepted wells."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import pandas as pd

from micon import schema
from micon.contracts import (
    REASON_INVALID_IDENTIFIER,
    conform_table,
    image_index_contract,
    invalid_key_rows,
    normalize_identifiers,
)
from micon.errors import InvalidInputError, MissingColumnsError
from micon.metadata._duplicates import duplicate_rows
from micon.quarantine import empty_quarantine, finish_stage, make_quarantine, require_columns

logger = logging.getLogger(__name__)

_STAGE = "join_image_index"
_MERGE_KEY: list[str] = [schema.SOURCE, schema.PLATE, schema.WELL]


def _channel_of_column(channels: Sequence[str]) -> dict[str, str]:
    """Return the FileName/PathName columns of ``channels`` (file names first), each mapped to its channel."""
    return {schema.file_name_column(ch): ch for ch in channels} | {
        schema.path_name_column(ch): ch for ch in channels
    }


def _is_blank(values: pd.Series) -> pd.Series:
    """Return True where a value is missing or a blank string."""
    return values.isna() | (values.astype("string").str.strip() == "")


def join_image_index(
    image_index: pd.DataFrame, well_metadata: pd.DataFrame, *, channels: Sequence[str]
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Attach well metadata to every imaged site; quarantine sites that cannot be used.

    The image index is first checked against its contract (:func:`micon.contracts.image_index_contract`)
    and its identifiers normalised to stripped text (a numeric site 1 or 1.0 becomes "1").

    Reasons for quarantine, checked in this order: ``missing_site`` (no site id), ``invalid_identifier``
    (no source, plate or well id),
    ``duplicate_site`` (a site listed twice: every copy when their files differ, else the later
    copies), ``well_not_accepted`` (its well is not in ``well_metadata``, e.g. it was quarantined by
    ``join_well_metadata``), ``missing_channel_file`` (a channel lacks a file name or folder).

    Args:
        image_index: load_data table: ``Metadata_Source``, ``Metadata_Plate``, ``Metadata_Well``,
            ``Metadata_Site`` and ``FileName_Orig{ch}``/``PathName_Orig{ch}`` per channel;
            ``Metadata_Batch`` and other columns (e.g. ``FileName_Illum*``) may be present.
        well_metadata: Accepted wells (from ``join_well_metadata``/``assign_splits``), one row per well.
        channels: Channels whose image files every site must have.

    Returns:
        ``(sites, quarantined)``: one row per accepted site with every ``well_metadata`` column, then
        ``Metadata_Site`` (str), the channel columns and the image index's other columns (its own copy of
        a well_metadata column, such as ``Metadata_Batch``, is dropped in favour of well_metadata's);
        quarantine rows keyed by source, plate, well and site.

    Raises:
        MissingColumnsError: The image index lacks key or channel columns (the message names the
            channels), or well_metadata lacks its key.
        InvalidInputError: The image index is empty, ``channels`` is empty, or well_metadata repeats a well.
    """
    if len(channels) == 0:
        raise InvalidInputError("join_image_index needs at least one channel, got none")
    require_columns(image_index, schema.SITE_KEY, table_name="image index")
    channel_of = _channel_of_column(channels)
    missing_channel_columns = [c for c in channel_of if c not in image_index.columns]
    if missing_channel_columns:
        lacking = list(dict.fromkeys(channel_of[c] for c in missing_channel_columns))
        raise MissingColumnsError(
            f"image index lacks column(s) {missing_channel_columns} of channel(s) {lacking}; "
            f"it has {list(image_index.columns)}"
        )
    require_columns(well_metadata, schema.WELL_KEY, table_name="well metadata")
    if image_index.empty:
        raise InvalidInputError("image index is empty: there is no site to join")
    well_metadata = _with_normalized_keys(well_metadata)
    if well_metadata.duplicated(subset=_MERGE_KEY).any():
        first = well_metadata.loc[well_metadata.duplicated(subset=_MERGE_KEY), _MERGE_KEY].iloc[0]
        raise InvalidInputError(f"well metadata lists well {first.to_dict()} more than once")

    contract = image_index_contract(channels)
    table = conform_table(image_index, contract)
    rejects: list[pd.DataFrame] = []

    def reject(mask: pd.Series, reason: str, detail: pd.Series) -> None:
        nonlocal table
        if mask.any():
            rejects.append(
                make_quarantine(
                    table[mask], schema.SITE_KEY, stage=_STAGE, reason=reason, detail=detail[mask]
                )
            )
        table = table[~mask]

    def where(frame: pd.DataFrame) -> pd.Series:
        return (
            "site "
            + frame[schema.SITE].astype("string").fillna("<missing>")
            + " of well "
            + frame[schema.WELL].astype("string")
            + " on plate "
            + frame[schema.PLATE].astype("string")
            + " ("
            + frame[schema.SOURCE].astype("string")
            + ")"
        )

    reject(table[schema.SITE].isna(), "missing_site", where(table) + " has no site id")
    no_id, no_id_detail = invalid_key_rows(table, contract)
    reject(no_id, REASON_INVALID_IDENTIFIER, no_id_detail)

    file_columns = list(channel_of)
    duplicated, duplicate_detail = duplicate_rows(table, schema.SITE_KEY, file_columns)
    reject(duplicated, "duplicate_site", duplicate_detail.reindex(table.index))

    known = pd.MultiIndex.from_frame(well_metadata.loc[:, _MERGE_KEY])
    is_known = pd.MultiIndex.from_frame(table[_MERGE_KEY]).isin(known)
    reject(
        pd.Series(~is_known, index=table.index),
        "well_not_accepted",
        where(table) + " belongs to a well that is not among the accepted wells",
    )

    blank = pd.DataFrame({c: _is_blank(table[c]) for c in file_columns}, index=table.index)
    lacking_file = blank.any(axis=1)
    lacking_channels = pd.Series(
        [
            ", ".join(dict.fromkeys(channel_of[c] for c in file_columns if row[c]))
            for _, row in blank[lacking_file].iterrows()
        ],
        index=blank.index[lacking_file],
        dtype="str",
    )
    reject(
        lacking_file,
        "missing_channel_file",
        where(table)
        + " has no image file name or folder for channel(s) "
        + lacking_channels.reindex(table.index),
    )

    metadata_columns = list(well_metadata.columns)
    extra_columns = [
        c for c in table.columns if c not in metadata_columns and c != schema.SITE and c not in file_columns
    ]
    merged = table.loc[:, [*_MERGE_KEY, schema.SITE, *file_columns, *extra_columns]].merge(
        well_metadata, on=_MERGE_KEY, how="left", validate="many_to_one"
    )
    sites = merged.loc[:, [*metadata_columns, schema.SITE, *file_columns, *extra_columns]]
    logger.info(
        "%s: %d accepted sites in %d wells", _STAGE, len(sites), sites[_MERGE_KEY].drop_duplicates().shape[0]
    )
    return finish_stage(_STAGE, len(image_index), sites, rejects, schema.SITE_KEY, log=logger)


def _with_normalized_keys(well_metadata: pd.DataFrame) -> pd.DataFrame:
    """Return ``well_metadata`` with its well key as stripped text, as the image index's."""
    return well_metadata.assign(**{c: normalize_identifiers(well_metadata[c]) for c in _MERGE_KEY})


def quarantine_wells_without_sites(
    well_metadata: pd.DataFrame, image_index: pd.DataFrame, sites: pd.DataFrame
) -> pd.DataFrame:
    """Return a quarantine row for every accepted well that no accepted site images.

    Without it such wells would leave data_engineering with only a log count: with these rows, every
    accepted well is either imaged in ``sites`` or here. Reasons: ``no_images`` (the image index has no
    row of the well) and ``no_usable_images`` (it has rows, all quarantined by :func:`join_image_index`:
    see ``site_join_quarantine`` for why).

    Args:
        well_metadata: The accepted wells, one row each (``schema.WELL_KEY``, ``Metadata_JCP2022``).
        image_index: The load_data table given to :func:`join_image_index`.
        sites: Its accepted sites (the first output of :func:`join_image_index`).

    Returns:
        Quarantine rows keyed by ``schema.WELL_KEY`` + ``Metadata_JCP2022`` (stage ``join_image_index``),
        in the wells' order; empty (with those columns) when every well is imaged.

    Raises:
        MissingColumnsError: A table lacks its well key.
    """
    key = [*schema.WELL_KEY, schema.JCP2022]
    require_columns(well_metadata, key, table_name="well metadata")
    require_columns(image_index, _MERGE_KEY, table_name="image index")
    wells = _with_normalized_keys(well_metadata.reset_index(drop=True))
    listed = pd.MultiIndex.from_frame(_with_normalized_keys(image_index)[_MERGE_KEY])
    imaged = pd.MultiIndex.from_frame(_with_normalized_keys(sites)[_MERGE_KEY])
    well_index = pd.MultiIndex.from_frame(wells[_MERGE_KEY])
    has_site = well_index.isin(imaged)
    has_row = well_index.isin(listed)
    label = (
        "well " + wells[schema.WELL].astype("string") + " on plate " + wells[schema.PLATE].astype("string")
    )
    frames = [
        make_quarantine(
            wells[mask],
            key,
            stage=_STAGE,
            reason=reason,
            detail=label[mask] + detail,
        )
        for mask, reason, detail in (
            (~has_row, "no_images", " was accepted but the image index has no site of it"),
            (
                has_row & ~has_site,
                "no_usable_images",
                " was accepted but every site of it was quarantined (see site_join_quarantine)",
            ),
        )
        if mask.any()
    ]
    if not frames:
        return empty_quarantine(key)
    quarantined = pd.concat(frames).sort_index(kind="stable").reset_index(drop=True)
    logger.info(
        "%s: %d accepted well(s) without a usable site %s",
        _STAGE,
        len(quarantined),
        quarantined[schema.QUARANTINE_REASON].value_counts().to_dict(),
    )
    return quarantined
