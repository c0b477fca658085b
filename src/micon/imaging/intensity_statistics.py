"""Raw per-cell intensity statistics of crops: the simplest image representation, a floor for the others.

Per channel, the mean, standard deviation and 10th / 50th / 90th percentiles of the raw counts inside
the centre cell's mask. No texture, shape or learned feature: what any representation sees of a cell's
overall brightness. Hand-written (numpy) because it is a masked reduction of a few lines; cp-measure's
intensity module computes many more features and needs labelled mosaics.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidImageError
from micon.quarantine import require_columns

logger = logging.getLogger(__name__)

#: Statistics per channel, in column order: name -> percentile (None: mean or sd).
INTENSITY_STATISTICS: tuple[str, ...] = ("mean", "sd", "p10", "p50", "p90")
_PERCENTILES = {"p10": 10.0, "p50": 50.0, "p90": 90.0}
_BATCH = 2048


def intensity_feature_names(channels: Sequence[str]) -> list[str]:
    """Return the feature columns ``Intensity_{stat}_{channel}``, statistics within each channel."""
    return [f"Intensity_{stat}_{channel}" for channel in channels for stat in INTENSITY_STATISTICS]


def measure_intensity_statistics(
    crops: np.ndarray,
    masks: np.ndarray,
    crop_index: pd.DataFrame,
    *,
    channels: Sequence[str],
) -> pd.DataFrame:
    """Measure each crop's raw intensity statistics inside its centre cell's mask.

    Args:
        crops: ``(N, C, S, S)`` crop store (uint16 or float; a memmap is read in batches).
        masks: ``(N, 2, S, S)`` crop masks, row-aligned with ``crops``: nucleus, cell.
        crop_index: The crops to measure (any subset or order of the store's rows), with
            ``schema.CROP_ID``.
        channels: Channel names of ``crops``, used in the feature names.

    Returns:
        One row per crop, in ``crop_index`` order: the ``crop_index`` columns plus float64
        ``intensity_feature_names(channels)`` (mean, sd, 10th, 50th and 90th percentile of the counts
        inside the cell mask).

    Raises:
        MissingColumnsError: ``crop_index`` lacks ``schema.CROP_ID``.
        InvalidImageError: ``crops`` does not have ``len(channels)`` channels, ``masks`` is not aligned
            with it, a crop id is outside the store, or a crop's cell mask is empty (names the ids).
    """
    require_columns(crop_index, [schema.CROP_ID], table_name="crop_index")
    if crops.ndim != 4 or crops.shape[1] != len(channels):  # noqa: PLR2004
        raise InvalidImageError(
            f"crops must be (N, {len(channels)}, S, S) for channels {list(channels)}, got {crops.shape}"
        )
    if masks.shape != (crops.shape[0], 2, *crops.shape[2:]):
        raise InvalidImageError(
            f"masks must be (N, 2, S, S) aligned with crops {crops.shape}, got {masks.shape}"
        )
    index = crop_index.reset_index(drop=True)
    ids = index[schema.CROP_ID].to_numpy(dtype=np.int64)
    if len(ids) and (ids.min() < 0 or ids.max() >= len(crops)):
        raise InvalidImageError(
            f"crop ids span [{ids.min()}, {ids.max()}] but the store holds {len(crops)} crops"
        )
    names = intensity_feature_names(channels)
    values = np.full((len(ids), len(names)), np.nan)
    for start in range(0, len(ids), _BATCH):
        rows = ids[start : start + _BATCH]
        batch = np.asarray(crops[rows], dtype=np.float64)
        cell = np.asarray(masks[rows][:, 1]) > 0
        for k in range(len(rows)):
            inside = batch[k][:, cell[k]]  # (C, pixels)
            if inside.shape[1] == 0:
                continue
            stats = [inside.mean(axis=1), inside.std(axis=1)]
            stats += list(np.percentile(inside, list(_PERCENTILES.values()), axis=1))
            values[start + k] = np.stack(stats, axis=1).reshape(-1)
    empty = np.isnan(values).any(axis=1)
    if empty.any():
        # Extraction writes a crop only for a cell with pixels: an empty mask means a damaged store.
        raise InvalidImageError(
            f"{int(empty.sum())} of {len(ids)} crops have an empty cell mask (crop ids "
            f"{ids[empty][:5].tolist()}...); the crop masks do not belong to these crops"
        )
    features = pd.DataFrame(values, columns=names)
    return pd.concat([index, features], axis=1)
