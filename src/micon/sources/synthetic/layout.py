"""Plate layout of the synthetic screen: sources x batches x plates, every compound on every plate, DMSO.

Plates share a few plate maps (layouts), as JUMP's compound plates do: plate ``k`` (in source, batch,
plate order) uses layout ``k mod n_layouts``, so each layout recurs on plates of every source and a
compound sits at the same well on the plates of one layout and elsewhere on the others (MorphoHELM's
not-same-layout level, NSL, is then meaningful).
"""

from __future__ import annotations

import logging
import string
import zlib

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError
from micon.quarantine import require_columns
from micon.sources.synthetic.config import WELLS_PER_PLATE, SyntheticScreenConfig

logger = logging.getLogger(__name__)

PLATE_TYPE_COMPOUND = "COMPOUND"
#: The 384 well names "A01" ... "P24", row-major.
WELL_NAMES: tuple[str, ...] = tuple(
    f"{row}{col:02d}" for row in string.ascii_uppercase[:16] for col in range(1, 25)
)
_WELL_INDEX = {name: i for i, name in enumerate(WELL_NAMES)}


def source_id(source: int) -> str:
    """Return the id of the 1-based ``source``: ``source_1``."""
    return f"source_{source}"


def batch_id(source: int, batch: int) -> str:
    """Return the id of 1-based ``batch`` of ``source``, unique across sources: ``2024_01_02_Batch2``."""
    return f"2024_{source:02d}_{batch:02d}_Batch{batch}"


def plate_id(source: int, batch: int, plate: int) -> str:
    """Return the id of a 1-based plate, each index zero-padded to two digits: ``SYN010203``."""
    return f"SYN{source:02d}{batch:02d}{plate:02d}"


def well_position(well: str) -> tuple[np.ndarray, float]:
    """Return a well's centred plate position ``(row, column)`` in [-0.5, 0.5] and 1.0 if on the edge.

    Edge wells are the outer ring of the 16 x 24 plate (rows A and P, columns 1 and 24).

    Raises:
        InvalidInputError: ``well`` is not one of ``WELL_NAMES``.
    """
    if well not in _WELL_INDEX:
        raise InvalidInputError(f"well {well!r} is not a 384-well plate well (A01 ... P24)")
    row, column = divmod(_WELL_INDEX[well], 24)
    is_edge = float(row in (0, 15) or column in (0, 23))
    return np.array([row / 15 - 0.5, column / 23 - 0.5]), is_edge


def generate_layout(
    compounds: pd.DataFrame, config: SyntheticScreenConfig
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Lay out the screen: every plate holds each non-DMSO compound once plus DMSO control wells.

    Plates are ``n_sources x n_batches_per_source x n_plates_per_batch``; so every compound is replicated
    on plates of different batches and of different sources. ``n_layouts`` plate maps are drawn (well
    positions shuffled by a seed derived from ``config.seed`` and the layout number); plate ``k`` in
    plate order uses map ``k mod n_layouts``.

    Args:
        compounds: Compound table with ``schema.JCP2022`` (DMSO rows, if any, are not placed as compounds).
        config: Screen sizes, DMSO well count and seed.

    Returns:
        ``(plate_table, well_table)``: one row per plate with ``schema.PLATE_KEY`` + ``schema.PLATE_TYPE``;
        one row per well with ``schema.SOURCE, PLATE, WELL, JCP2022``, sorted by plate then well.

    Raises:
        MissingColumnsError: ``compounds`` lacks ``schema.JCP2022``.
        InvalidInputError: Compound ids repeat, or compounds and DMSO wells exceed a 384-well plate.
    """
    require_columns(compounds, [schema.JCP2022], table_name="compounds")
    ids = compounds[schema.JCP2022].astype(str)
    duplicated = ids[ids.duplicated()].unique().tolist()
    if duplicated:
        raise InvalidInputError(f"compound ids repeat in the compound table: {duplicated}")
    treatments = [c for c in ids if c != schema.DMSO_JCP2022]
    contents = treatments + [schema.DMSO_JCP2022] * config.n_dmso_wells_per_plate
    if len(contents) > WELLS_PER_PLATE:
        raise InvalidInputError(
            f"{len(treatments)} compounds + {config.n_dmso_wells_per_plate} DMSO wells exceed a "
            f"{WELLS_PER_PLATE}-well plate; reduce n_compounds or n_dmso_wells_per_plate"
        )
    layouts = [
        np.random.default_rng([config.seed, zlib.crc32(f"layout:{k}".encode())]).choice(
            WELLS_PER_PLATE, size=len(contents), replace=False
        )
        for k in range(config.n_layouts)
    ]
    plates, wells = [], []
    for s in range(1, config.n_sources + 1):
        for b in range(1, config.n_batches_per_source + 1):
            for p in range(1, config.n_plates_per_batch + 1):
                plate = plate_id(s, b, p)
                plates.append((source_id(s), batch_id(s, b), plate, PLATE_TYPE_COMPOUND))
                positions = layouts[(len(plates) - 1) % config.n_layouts]
                wells.extend(
                    (source_id(s), plate, WELL_NAMES[pos], jcp)
                    for pos, jcp in zip(positions, contents, strict=True)
                )
    plate_table = pd.DataFrame(plates, columns=[*schema.PLATE_KEY, schema.PLATE_TYPE])
    well_table = pd.DataFrame(wells, columns=[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022])
    well_table = well_table.sort_values([schema.PLATE, schema.WELL], ignore_index=True)
    logger.info(
        "laid out %d plates x %d wells on %d plate maps", len(plate_table), len(contents), config.n_layouts
    )
    return plate_table, well_table
