"""Plate layouts: which plates share one compound-to-well map (for the not-same-layout level, NSL)."""

from __future__ import annotations

import logging

import pandas as pd

from micon import schema
from micon.evaluation._checks import require_metadata

logger = logging.getLogger(__name__)


def assign_plate_layouts(profiles: pd.DataFrame) -> pd.DataFrame:
    """Add ``schema.PLATE_LAYOUT``: plates whose wells hold the same compounds share one layout id.

    A plate's layout is the set of its ``(Metadata_Well, Metadata_JCP2022)`` pairs; plates with equal
    sets get the same id, ``layout_0``, ``layout_1`` ... numbered in plate-key order. An existing
    ``schema.PLATE_LAYOUT`` column (e.g. the JUMP plate-map name) is kept as it is.

    Args:
        profiles: One row per well: ``schema.PLATE_KEY``, ``schema.WELL`` and ``schema.JCP2022``.

    Returns:
        A copy of ``profiles`` with ``schema.PLATE_LAYOUT`` (str) as its last metadata column, or
        ``profiles`` itself when the column exists.

    Raises:
        MissingColumnsError: A plate key, well or compound column is absent.
        InvalidInputError: One of them holds a missing value.
    """
    if schema.PLATE_LAYOUT in profiles.columns:
        return profiles
    columns = [*schema.PLATE_KEY, schema.WELL, schema.JCP2022]
    require_metadata(profiles, columns, table_name="profiles for plate layouts")
    pairs = profiles[columns].astype(str)
    signatures = pairs.groupby(list(schema.PLATE_KEY), sort=True).apply(
        lambda plate: tuple(sorted(zip(plate[schema.WELL], plate[schema.JCP2022], strict=True))),
        include_groups=False,
    )
    codes = pd.factorize(signatures)[0]
    layout_of_plate = pd.Series([f"layout_{c}" for c in codes], index=signatures.index)
    plate_index = pd.MultiIndex.from_frame(pairs[list(schema.PLATE_KEY)])
    layouts = layout_of_plate.reindex(plate_index).to_numpy()
    n_metadata = len(schema.metadata_columns(profiles.columns))
    assigned = profiles.copy()
    assigned.insert(n_metadata, schema.PLATE_LAYOUT, layouts)
    assigned[schema.PLATE_LAYOUT] = assigned[schema.PLATE_LAYOUT].astype(str)
    logger.info("%d plates share %d layout(s)", len(signatures), int(codes.max()) + 1)
    return assigned
