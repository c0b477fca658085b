"""JUMP cpg0016: select plates and wells from the JUMP metadata tables, assemble the per-plate load_data.

The JUMP metadata (``plate.csv.gz``, ``well.csv.gz``, ``compound.csv.gz`` of jump-cellpainting/datasets)
describe every plate; the Cell Painting Gallery holds one load_data table per plate (one row per imaged
site with ``FileName_Orig{ch}``/``PathName_Orig{ch}`` and the plate's illumination functions
``FileName_Illum{ch}``/``PathName_Illum{ch}``) at :func:`load_data_key`. Paths in load_data are full
``s3://cellpainting-gallery/...`` URLs; the image index made here holds them relative to the gallery
root, so the same index serves the bucket, a local mirror or a local copy.
"""

from __future__ import annotations

import logging
import posixpath
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from micon import schema
from micon.contracts import (
    COMPOUND_TABLE,
    PLATE_TABLE,
    WELL_TABLE,
    ContractError,
    conform_table,
    invalid_key_rows,
)
from micon.errors import InvalidConfigError, InvalidInputError
from micon.profile import SourceProfile
from micon.quarantine import empty_quarantine, finish_stage, make_quarantine, require_columns

logger = logging.getLogger(__name__)

GALLERY_URL = "s3://cellpainting-gallery/"
DATASET_PREFIX = "cpg0016-jump"
LOAD_DATA_FILE = "load_data_with_illum.parquet"

SELECT_STAGE = "select_jump_screen"
INDEX_STAGE = "assemble_jump_image_index"
FILES_STAGE = "check_jump_site_files"
REASON_PLATE_WITHOUT_WELLS = "plate_without_wells"
REASON_MISSING_LOAD_DATA = "missing_load_data"
REASON_PATH_OUTSIDE_GALLERY = "path_outside_gallery"
REASON_PATH_OUTSIDE_ROOT = "path_outside_root"
REASON_MISSING_IMAGE = "missing_image"
REASON_MISSING_ILLUMINATION = "missing_illumination"

# JUMP cpg0016: five Cell Painting channels, DMSO wells on every plate, held-out sources/batches/compounds.
JUMP_PROFILE = SourceProfile(
    name="jump",
    channels=schema.CHANNELS,
    nuclear_channel=schema.NUCLEAR_CHANNEL,
    cytoplasm_channels=("AGP", "RNA"),
    control_compound=schema.DMSO_JCP2022,
    controls="dmso",
    split_policy="held_out",
    well_annotations=(),
)

_PLATE_COLUMNS = (schema.SOURCE, schema.BATCH, schema.PLATE, schema.PLATE_TYPE)
_WELL_COLUMNS = (schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022)
_COMPOUND_COLUMNS = (schema.JCP2022, schema.SMILES, schema.INCHIKEY)


def _as_ids(name: str, values: object) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str) or not isinstance(values, Sequence) or len(values) == 0:
        raise InvalidConfigError(
            f"JumpSelectionConfig.{name} must be a non-empty list or null, got {values!r}"
        )
    return tuple(str(v) for v in values)


@dataclass(frozen=True, kw_only=True)
class JumpSelectionConfig:
    """Which part of cpg0016 to use; every filter left null keeps everything.

    Attributes:
        plate_types: ``Metadata_PlateType`` values kept (``TARGET2``, ``POSCON8``, ``COMPOUND``, ...).
        sources: Sources kept (``source_4``); null keeps all.
        batches: Batches kept; null keeps all.
        plates: Plates kept; null keeps all.
        compounds: JCP2022 ids whose wells are kept besides the DMSO wells (e.g. the 8 positive
            controls); null keeps every well of the selected plates.
        sites_per_well: Keep this many lowest-numbered sites of each well; null keeps all.
        load_data_file: File name of the per-plate load_data table.
    """

    plate_types: tuple[str, ...]
    sources: tuple[str, ...] | None
    batches: tuple[str, ...] | None
    plates: tuple[str, ...] | None
    compounds: tuple[str, ...] | None
    sites_per_well: int | None
    load_data_file: str

    def __post_init__(self) -> None:
        for name in ("plate_types", "sources", "batches", "plates", "compounds"):
            object.__setattr__(self, name, _as_ids(name, getattr(self, name)))
        if self.plate_types is None:
            raise InvalidConfigError("JumpSelectionConfig.plate_types must list at least one plate type")
        n = self.sites_per_well
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            raise InvalidConfigError(f"JumpSelectionConfig.sites_per_well must be >= 1 or null, got {n!r}")
        if not self.load_data_file or "/" in self.load_data_file:
            raise InvalidConfigError(
                f"JumpSelectionConfig.load_data_file must be a file name, got {self.load_data_file!r}"
            )


@dataclass(frozen=True)
class JumpScreen:
    """The selected part of cpg0016, in the project's raw-table layout.

    Attributes:
        plate_table: Selected plates that have wells: source, batch, plate, plate type.
        well_table: Their wells (optionally only DMSO and ``compounds``): source, plate, well, JCP2022.
        compound_table: The compound rows those wells name: JCP2022, SMILES, InChIKey.
        quarantine: Selected plates without any well in the well table (``schema.PLATE_KEY``).
    """

    plate_table: pd.DataFrame
    well_table: pd.DataFrame
    compound_table: pd.DataFrame
    quarantine: pd.DataFrame


def _check_known(name: str, wanted: tuple[str, ...] | None, present: pd.Series) -> None:
    if wanted is None:
        return
    unknown = sorted(set(wanted) - set(present.astype("str")))
    if unknown:
        raise InvalidConfigError(f"JumpSelectionConfig.{name} {unknown} are not in the plate table")


def select_screen(
    plates: pd.DataFrame, wells: pd.DataFrame, compounds: pd.DataFrame, config: JumpSelectionConfig
) -> JumpScreen:
    """Select plates by type, source, batch and name, then their wells and compounds.

    Args:
        plates: JUMP ``plate.csv.gz``: source, batch, plate, plate type.
        wells: JUMP ``well.csv.gz``: source, plate, well, JCP2022.
        compounds: JUMP ``compound.csv.gz``: JCP2022, SMILES, InChIKey.
        config: The selection.

    Returns:
        A :class:`JumpScreen`. Wells naming a compound absent from ``compounds`` are kept: the
        data_engineering join quarantines them with a reason.

    Raises:
        MissingColumnsError: A table lacks a required column.
        ContractError: A table breaks its contract (:mod:`micon.contracts`: a value of the wrong type, a
            repeated or blank plate), named with its table, column and rows.
        InvalidConfigError: A configured source, batch, plate or plate type is not in the plate table,
            or the selection keeps no plate with wells.
    """
    plates = conform_table(plates, replace(PLATE_TABLE, name="JUMP plate table")).loc[:, list(_PLATE_COLUMNS)]
    wells = conform_table(wells, replace(WELL_TABLE, name="JUMP well table"))
    compounds = conform_table(compounds, replace(COMPOUND_TABLE, name="JUMP compound table"))
    blank_plate, blank_detail = invalid_key_rows(plates, PLATE_TABLE)
    if blank_plate.any():
        raise ContractError(
            f"JUMP plate table: {blank_detail[blank_plate].iloc[0]} ({int(blank_plate.sum())} row(s))"
        )
    _check_known("plate_types", config.plate_types, plates[schema.PLATE_TYPE])
    _check_known("sources", config.sources, plates[schema.SOURCE])
    _check_known("batches", config.batches, plates[schema.BATCH])
    _check_known("plates", config.plates, plates[schema.PLATE])
    keep = plates[schema.PLATE_TYPE].isin(config.plate_types)
    for column, wanted in (
        (schema.SOURCE, config.sources),
        (schema.BATCH, config.batches),
        (schema.PLATE, config.plates),
    ):
        if wanted is not None:
            keep &= plates[column].isin(wanted)
    selected = plates[keep].reset_index(drop=True)

    plate_key = [schema.SOURCE, schema.PLATE]
    well_table = wells.loc[:, list(_WELL_COLUMNS)].merge(selected[plate_key], on=plate_key)
    if config.compounds is not None:
        wanted_compounds = {*config.compounds, schema.DMSO_JCP2022}
        well_table = well_table[well_table[schema.JCP2022].isin(wanted_compounds)]
    well_table = well_table.reset_index(drop=True)

    has_wells = selected.set_index(plate_key).index.isin(well_table.set_index(plate_key).index.unique())
    without_wells = make_quarantine(
        selected[~has_wells],
        schema.PLATE_KEY,
        stage=SELECT_STAGE,
        reason=REASON_PLATE_WITHOUT_WELLS,
        detail="plate "
        + selected.loc[~has_wells, schema.PLATE]
        + " of "
        + selected.loc[~has_wells, schema.SOURCE]
        + " has no selected well in the well table (not in this metadata release, or no well "
        "of the selected compounds)",
    )
    plate_table, quarantine = finish_stage(
        SELECT_STAGE,
        len(selected),
        selected[has_wells].reset_index(drop=True),
        [without_wells],
        schema.PLATE_KEY,
        log=logger,
    )
    if plate_table.empty:
        raise InvalidConfigError(
            f"the JUMP selection {config} keeps no plate with wells ({len(selected)} plate(s) matched "
            "before looking for wells)"
        )
    compound_table = (
        compounds.loc[:, list(_COMPOUND_COLUMNS)]
        .loc[lambda t: t[schema.JCP2022].isin(well_table[schema.JCP2022])]
        .drop_duplicates()
        .reset_index(drop=True)
    )
    logger.info(
        "%s: %d plates (%s), %d wells, %d compounds",
        SELECT_STAGE,
        len(plate_table),
        plate_table[schema.PLATE_TYPE].value_counts().to_dict(),
        len(well_table),
        len(compound_table),
    )
    return JumpScreen(plate_table, well_table, compound_table, quarantine)


def load_data_key(source: str, batch: str, plate: str, *, file_name: str = LOAD_DATA_FILE) -> str:
    """Return the key of a plate's load_data table in the Cell Painting Gallery (relative to the bucket)."""
    return f"{DATASET_PREFIX}/{source}/workspace/load_data_csv/{batch}/{plate}/{file_name}"


def _relative_to_gallery(paths: pd.Series) -> pd.Series:
    """Return ``paths`` as normalised keys under the gallery root; missing where not under the gallery.

    A path is under the gallery when it starts with :data:`GALLERY_URL` and, once normalised
    (``a/./b``, ``a//b``, ``a/x/../b`` -> ``a/b``), neither is empty nor climbs out with ``..``
    (``s3://cellpainting-gallery/../../etc`` is not under it): the key is then never outside the root
    of the store it is read from, the bucket or a local mirror.
    """
    text = paths.astype("string")
    inside = text.str.startswith(GALLERY_URL).fillna(False)
    relative = text.str.slice(len(GALLERY_URL)).str.rstrip("/")
    keys = relative.map(_gallery_key, na_action="ignore").astype("string")
    return keys.where(inside & keys.notna())


def _gallery_key(path: str) -> str | None:
    """Return ``path`` normalised, or None when it is empty, absolute or leaves the root with '..'."""
    normal = posixpath.normpath(path) if path else "."
    if path.startswith("/") or normal in (".", "..") or normal.startswith("../"):
        return None
    return normal


def _site_order(sites: pd.Series) -> pd.Series:
    numbers = pd.to_numeric(sites, errors="coerce")
    return numbers if numbers.notna().all() else sites.astype("str")


def assemble_image_index(
    plate_table: pd.DataFrame,
    well_table: pd.DataFrame,
    load_data: Mapping[str, pd.DataFrame],
    config: JumpSelectionConfig,
    *,
    channels: Sequence[str] = JUMP_PROFILE.channels,
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Concatenate the plates' load_data tables into one image index of the selected wells and sites.

    Sites of wells outside ``well_table`` are not selected (not quarantined); of each selected well, the
    ``sites_per_well`` lowest-numbered sites are kept. ``PathName_Orig{ch}``/``PathName_Illum{ch}``
    become keys relative to the gallery root (``cpg0016-jump/...``). Source and batch come from the
    plate table.

    Args:
        plate_table: Selected plates (from :func:`select_screen`).
        well_table: Selected wells.
        load_data: :func:`load_data_key` -> that plate's load_data table, for the plates that have one.
        config: The selection (sites per well, load_data file name).
        channels: Channels whose image columns every table must have.

    Returns:
        ``(image_index, plate_quarantine, site_quarantine)``: one row per selected site with the site
        key, ``Metadata_Batch``, the channels' FileName/PathName columns and, when load_data has them,
        the channels' illumination columns; plates without load_data (``missing_load_data``,
        ``schema.PLATE_KEY``); sites with a path outside the gallery (``path_outside_gallery``,
        ``schema.SITE_KEY``).

    Raises:
        MissingColumnsError: A load_data table lacks the well, site or a channel column (names the plate).
        InvalidInputError: No selected plate has a load_data table or no selected well has a site.
    """
    image_columns = [c for ch in channels for c in (schema.file_name_column(ch), schema.path_name_column(ch))]
    illum_columns = [
        c for ch in channels for c in (schema.illum_file_name_column(ch), schema.illum_path_name_column(ch))
    ]
    well_key = [schema.SOURCE, schema.PLATE, schema.WELL]
    tables: list[pd.DataFrame] = []
    missing: list[int] = []
    for position, plate in enumerate(plate_table.itertuples(index=False)):
        source, batch, name = (
            getattr(plate, schema.SOURCE),
            getattr(plate, schema.BATCH),
            getattr(plate, schema.PLATE),
        )
        key = load_data_key(source, batch, name, file_name=config.load_data_file)
        if key not in load_data:
            missing.append(position)
            continue
        table = load_data[key]
        require_columns(table, [schema.WELL, schema.SITE, *image_columns], table_name=f"load_data of {key}")
        has_illum = all(c in table.columns for c in illum_columns)
        table = table.loc[
            :, [schema.WELL, schema.SITE, *image_columns, *(illum_columns if has_illum else [])]
        ]
        tables.append(table.assign(**{schema.SOURCE: source, schema.BATCH: batch, schema.PLATE: name}))
    plate_quarantine = (
        make_quarantine(
            plate_table.iloc[missing],
            schema.PLATE_KEY,
            stage=INDEX_STAGE,
            reason=REASON_MISSING_LOAD_DATA,
            detail=pd.Series(
                [
                    "no load_data table at " + load_data_key(*row, file_name=config.load_data_file)
                    for row in plate_table.iloc[missing][list(schema.PLATE_KEY)].itertuples(index=False)
                ],
                dtype="object",
            ),
        )
        if missing
        else empty_quarantine(schema.PLATE_KEY)
    )
    if not tables:
        raise InvalidInputError(
            f"none of the {len(plate_table)} selected plates has a load_data table "
            f"({config.load_data_file}); first missing: {plate_quarantine[schema.QUARANTINE_DETAIL].iloc[0]}"
        )
    index = pd.concat(tables, ignore_index=True)
    index[schema.WELL] = index[schema.WELL].astype("str")
    index[schema.SITE] = index[schema.SITE].astype("str").str.removesuffix(".0")
    index = index.merge(well_table[well_key].drop_duplicates(), on=well_key)
    if config.sites_per_well is not None:
        index = (
            index.sort_values(schema.SITE, key=_site_order, kind="stable")
            .groupby(well_key, sort=False)
            .head(config.sites_per_well)
        )
    index = index.sort_values(
        [schema.SOURCE, schema.PLATE, schema.WELL, schema.SITE],
        key=lambda column: _site_order(column) if column.name == schema.SITE else column,
        kind="stable",
    )
    ordered = [*schema.SITE_KEY, schema.BATCH, *image_columns, *[c for c in illum_columns if c in index]]
    index = index.loc[:, ordered].reset_index(drop=True)
    if index.empty:
        raise InvalidInputError("no selected well has a site in the load_data tables of the selected plates")
    n_sites = len(index)

    path_columns = [c for c in index.columns if c.startswith("PathName_")]
    outside = pd.Series(False, index=index.index)
    for column in path_columns:
        relative = _relative_to_gallery(index[column])
        outside |= relative.isna()
        index[column] = relative.astype("object")
    outside_gallery = make_quarantine(
        index[outside],
        schema.SITE_KEY,
        stage=INDEX_STAGE,
        reason=REASON_PATH_OUTSIDE_GALLERY,
        detail="site "
        + index.loc[outside, schema.SITE]
        + " of well "
        + index.loc[outside, schema.WELL]
        + " on plate "
        + index.loc[outside, schema.PLATE]
        + f" has a PathName that is missing, not under {GALLERY_URL} or leaving it ('..')",
    )
    image_index, site_quarantine = finish_stage(
        INDEX_STAGE,
        n_sites,
        index[~outside].reset_index(drop=True),
        [outside_gallery],
        schema.SITE_KEY,
        log=logger,
    )
    logger.info(
        "%s: %d sites of %d wells on %d plates; %d plates without load_data",
        INDEX_STAGE,
        len(image_index),
        image_index[well_key].drop_duplicates().shape[0],
        image_index[schema.PLATE].nunique(),
        len(plate_quarantine),
    )
    return image_index, plate_quarantine, site_quarantine


def site_file_keys(
    image_index: pd.DataFrame, *, channels: Sequence[str] = JUMP_PROFILE.channels, illumination: bool
) -> dict[str, pd.Series]:
    """Return, per channel, the image keys (``"Orig{ch}"``) and, if used, illumination keys (``"Illum{ch}"``).

    Args:
        image_index: From :func:`assemble_image_index`.
        channels: Channels.
        illumination: Whether to include the illumination-function keys (the index must have them).

    Returns:
        ``{"Orig{ch}": keys, "Illum{ch}": keys}``, each a Series aligned with ``image_index``.
    """
    keys: dict[str, pd.Series] = {}
    for ch in channels:
        pairs = [(schema.path_name_column(ch), schema.file_name_column(ch), f"Orig{ch}")]
        if illumination:
            pairs.append((schema.illum_path_name_column(ch), schema.illum_file_name_column(ch), f"Illum{ch}"))
        for path_column, file_column, name in pairs:
            keys[name] = pd.Series(
                [
                    schema.image_key(p, f)
                    for p, f in zip(image_index[path_column], image_index[file_column], strict=True)
                ],
                index=image_index.index,
                dtype="object",
            )
    return keys


def check_site_files(
    image_index: pd.DataFrame,
    existing: set[str],
    *,
    channels: Sequence[str] = JUMP_PROFILE.channels,
    illumination: bool,
    outside_root: Collection[str] = frozenset(),
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Quarantine sites whose channel images (``missing_image``) or illumination files are not in the store.

    A site with a file the store refuses to read because its path leaves the store's root (a link out
    of a local mirror) is quarantined as ``path_outside_root``, before anything is read.

    Args:
        image_index: From :func:`assemble_image_index`.
        existing: The keys that exist in the store (e.g. ``FileStore.existing``).
        channels: Channels.
        illumination: Whether illumination files are required.
        outside_root: The keys the store refuses as leaving its root (``FileStore.is_outside_root``).

    Returns:
        ``(image_index, quarantine)``: the sites whose files all exist; the others, keyed by
        ``schema.SITE_KEY``, the detail naming the first missing key.
    """
    keys = site_file_keys(image_index, channels=channels, illumination=illumination)
    reasons = pd.Series(pd.NA, index=image_index.index, dtype="object")
    details = pd.Series(pd.NA, index=image_index.index, dtype="object")
    for name, series in keys.items():
        escaping = series.isin(set(outside_root)) & reasons.isna()
        reasons[escaping] = REASON_PATH_OUTSIDE_ROOT
        details[escaping] = f"{name} file '" + series[escaping] + "' leaves the store's root: not read"
        absent = ~series.isin(existing) & reasons.isna()
        reason = REASON_MISSING_ILLUMINATION if name.startswith("Illum") else REASON_MISSING_IMAGE
        reasons[absent] = reason
        details[absent] = f"{name} file '" + series[absent] + "' is not in the store"
    rejected = reasons.notna()
    missing_files = make_quarantine(
        image_index[rejected],
        schema.SITE_KEY,
        stage=FILES_STAGE,
        reason=reasons[rejected].reset_index(drop=True),
        detail=(
            "site "
            + image_index.loc[rejected, schema.SITE]
            + " of well "
            + image_index.loc[rejected, schema.WELL]
            + " on plate "
            + image_index.loc[rejected, schema.PLATE]
            + ": "
            + details[rejected]
        ).reset_index(drop=True),
    )
    return finish_stage(
        FILES_STAGE,
        len(image_index),
        image_index[~rejected].reset_index(drop=True),
        [missing_files],
        schema.SITE_KEY,
        log=logger,
    )
