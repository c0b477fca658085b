"""After image QC: count each plate's usable DMSO wells and apply the controls policy before crops are used.

Image QC can quarantine the fields of control wells; a plate left with too few DMSO wells then breaks every
step that is fitted on its controls (robust MAD and the variance filter need 2 per plate, sphering after
robust MAD 3, the intensity references and MICON's control pairing at least 1). Counting once, here, turns
those late failures (``NoControlsError`` in modeling, a pycytominer error in sphering, every feature
dropped by the variance filter) into a decision named up front: quarantine the plate, or normalise it on
its batch's controls.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, NoControlsError
from micon.imaging.extraction import STAGE, CropExtraction
from micon.quarantine import make_quarantine, require_columns

logger = logging.getLogger(__name__)

__all__ = [
    "CONTROL_POLICIES",
    "REASON_TOO_FEW_CONTROLS",
    "ControlsConfig",
    "count_plate_controls",
    "enforce_plate_controls",
]

REASON_TOO_FEW_CONTROLS = "too_few_controls"
ControlPolicy = Literal["quarantine_plate", "batch_controls"]
CONTROL_POLICIES: tuple[str, ...] = ControlPolicy.__args__
USABLE = "n_usable_control_wells"
LISTED = "n_listed_control_wells"
_PLATE = [schema.SOURCE, schema.BATCH, schema.PLATE]


@dataclass(frozen=True, kw_only=True)
class ControlsConfig:
    """What a plate needs of its DMSO wells once image QC has run.

    Attributes:
        min_wells_per_plate: DMSO wells with at least one crop a plate needs, >= 1. The reporting chain
            needs 2 for robust MAD or the variance filter and 3 when sphering follows robust MAD (2 wells
            give mirror-image profiles, a rank-deficient DMSO matrix); parameter validation checks this
            against every chain of ``reporting.normalization.chains``.
        too_few: ``"quarantine_plate"``: every site of such a plate is quarantined
            (``too_few_controls``). ``"batch_controls"``: the plate is kept and normalised on the DMSO
            wells of its whole batch (``Metadata_ControlGroup`` = ``<source>/<batch>``), provided the
            batch has ``min_wells_per_plate`` of them; else it is quarantined all the same.
    """

    min_wells_per_plate: int
    too_few: ControlPolicy

    def __post_init__(self) -> None:
        if isinstance(self.min_wells_per_plate, bool) or self.min_wells_per_plate < 1:
            raise InvalidConfigError(
                "ControlsConfig.min_wells_per_plate must be an integer >= 1, "
                f"got {self.min_wells_per_plate!r}"
            )
        if self.too_few not in CONTROL_POLICIES:
            raise InvalidConfigError(
                f"ControlsConfig.too_few must be one of {CONTROL_POLICIES}, got {self.too_few!r}"
            )


def count_plate_controls(sites: pd.DataFrame, crop_index: pd.DataFrame) -> pd.DataFrame:
    """Count each plate's DMSO wells listed among its sites and those left with a crop.

    Args:
        sites: The sites given to crop extraction (``schema.SITE_KEY``, ``Metadata_Batch``,
            ``Metadata_IsControl``).
        crop_index: The crops extraction kept.

    Returns:
        One row per plate of ``sites``: ``Metadata_Source``, ``Metadata_Batch``, ``Metadata_Plate``,
        ``n_listed_control_wells``, ``n_usable_control_wells`` (int64).
    """
    needed = [*_PLATE, schema.WELL, schema.IS_CONTROL]
    require_columns(sites, needed, table_name="sites")
    plates = sites.loc[:, _PLATE].drop_duplicates().reset_index(drop=True)

    def wells_per_plate(table: pd.DataFrame, name: str) -> pd.Series:
        controls = table.loc[table[schema.IS_CONTROL].astype(bool), [*_PLATE, schema.WELL]].drop_duplicates()
        return controls.groupby(_PLATE, sort=False).size().rename(name)

    for table, name in ((sites, LISTED), (crop_index, USABLE)):
        plates = plates.merge(wells_per_plate(table, name).reset_index(), on=_PLATE, how="left")
        plates[name] = plates[name].fillna(0).astype(np.int64)
    return plates


def enforce_plate_controls(
    extraction: CropExtraction, sites: pd.DataFrame, config: ControlsConfig
) -> CropExtraction:
    """Apply the controls policy to an extraction: quarantine or re-group plates with too few DMSO wells.

    Every crop gets ``Metadata_ControlGroup``: ``<source>/<plate>``, or ``<source>/<batch>`` for a plate
    kept on its batch's controls. A quarantined plate's accepted sites move to the extraction's
    quarantine (``too_few_controls``, the detail naming the plate and its counts), its crops and masks
    leave the store, and the remaining crops are numbered 0..N-1 again in order.

    Args:
        extraction: The result of :func:`~micon.imaging.extraction.extract_crop_table` on ``sites``.
        sites: The sites it was given.
        config: The minimum and the policy.

    Returns:
        The extraction after the policy; every input site is still in exactly one of ``site_summary``
        and ``quarantine``.

    Raises:
        NoControlsError: No plate is left (every plate and its counts are named).
        MissingColumnsError: ``sites`` lacks a plate, well or control column.
    """
    counts = count_plate_controls(sites, extraction.crop_index)
    imaged = counts[counts[USABLE] + _n_crops(extraction, counts) > 0]
    short = imaged[USABLE] < config.min_wells_per_plate
    batch_wells = imaged.groupby([schema.SOURCE, schema.BATCH])[USABLE].transform("sum")
    to_batch = short & (config.too_few == "batch_controls") & (batch_wells >= config.min_wells_per_plate)
    dropped = imaged[short & ~to_batch]
    if len(dropped) and len(dropped) == len(imaged):
        raise NoControlsError(
            f"every plate has fewer than {config.min_wells_per_plate} usable DMSO wells after image QC "
            f"(data_engineering.controls.min_wells_per_plate): {_describe(dropped)}"
        )
    if to_batch.any():
        logger.warning(
            "plates normalised on their batch's DMSO wells (too few of their own after image QC): %s",
            _describe(imaged[to_batch]),
        )
    crop_index = extraction.crop_index
    group = crop_index[schema.SOURCE].astype(str) + "/" + crop_index[schema.PLATE].astype(str)
    batch_plates = pd.MultiIndex.from_frame(imaged.loc[to_batch, _PLATE])
    on_batch = pd.MultiIndex.from_frame(crop_index[_PLATE]).isin(batch_plates)
    group[on_batch] = (crop_index[schema.SOURCE].astype(str) + "/" + crop_index[schema.BATCH].astype(str))[
        on_batch
    ]
    crop_index = crop_index.assign(**{schema.CONTROL_GROUP: group.to_numpy()})
    extraction = replace(extraction, crop_index=crop_index)
    if dropped.empty:
        return extraction
    return _quarantine_plates(extraction, sites, dropped, config.min_wells_per_plate)


def _n_crops(extraction: CropExtraction, counts: pd.DataFrame) -> pd.Series:
    """Return, per plate of ``counts``, how many crops it has (a plate without any is not judged)."""
    per_plate = extraction.crop_index.groupby(_PLATE, sort=False).size().rename("_n").reset_index()
    return counts.merge(per_plate, on=_PLATE, how="left")["_n"].fillna(0).astype(np.int64)


def _describe(plates: pd.DataFrame) -> str:
    return "; ".join(
        f"plate {p} (source {s}, batch {b}): {u} usable of {n} listed DMSO wells"
        for s, b, p, n, u in plates[[*_PLATE, LISTED, USABLE]].itertuples(index=False)
    )


def _quarantine_plates(
    extraction: CropExtraction, sites: pd.DataFrame, plates: pd.DataFrame, minimum: int
) -> CropExtraction:
    """Move the accepted sites of ``plates`` to the quarantine and their crops out of the store."""
    plate_keys = pd.MultiIndex.from_frame(plates[_PLATE])
    site_plates = sites.loc[:, [*schema.SITE_KEY, schema.BATCH]]
    summary = extraction.site_summary.merge(site_plates, on=list(schema.SITE_KEY), how="left")
    leaving = pd.MultiIndex.from_frame(summary[_PLATE]).isin(plate_keys)
    counts = plates.set_index(_PLATE)
    detail = [
        f"site {'/'.join(map(str, key))}: plate {p} (source {s}, batch {b}) has "
        f"{counts.loc[(s, b, p), USABLE]} usable DMSO well(s) after image QC "
        f"({counts.loc[(s, b, p), LISTED]} listed), fewer than the {minimum} needed "
        "(data_engineering.controls.min_wells_per_plate)"
        for key, s, b, p in zip(
            summary.loc[leaving, list(schema.SITE_KEY)].itertuples(index=False),
            summary.loc[leaving, schema.SOURCE],
            summary.loc[leaving, schema.BATCH],
            summary.loc[leaving, schema.PLATE],
            strict=True,
        )
    ]
    rejects = make_quarantine(
        summary[leaving],
        schema.SITE_KEY,
        stage=STAGE,
        reason=REASON_TOO_FEW_CONTROLS,
        detail=pd.Series(detail),
    )
    keep = ~pd.MultiIndex.from_frame(extraction.crop_index[_PLATE]).isin(plate_keys)
    crop_index = extraction.crop_index[keep].reset_index(drop=True)
    in_memory = extraction.crops is not None  # else in a store: the ids stay the store's rows
    if in_memory:
        crop_index[schema.CROP_ID] = np.arange(len(crop_index), dtype=np.int64)
    quarantine = pd.concat([q for q in (extraction.quarantine, rejects) if len(q)], ignore_index=True)
    logger.warning(
        "%s: quarantined %d site(s) of %d plate(s) with too few DMSO wells: %s",
        STAGE,
        len(rejects),
        len(plates),
        _describe(plates),
    )
    return CropExtraction(
        crop_index=crop_index,
        crops=extraction.crops[keep] if in_memory else None,
        masks=extraction.masks[keep] if in_memory else None,
        quarantine=quarantine,
        site_summary=extraction.site_summary[~leaving].reset_index(drop=True),
    )
