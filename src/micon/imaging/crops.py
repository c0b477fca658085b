"""Fixed-size single-cell crops centred on nucleus centroids."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from micon.errors import InvalidConfigError, InvalidImageError
from micon.imaging.nuclei import NUCLEUS_X, NUCLEUS_Y
from micon.quarantine import require_columns

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class LabelledCrops:
    """Crops ``(N, C, S, S)`` with the name of each channel plane: what a crop store saves and records.

    Attributes:
        crops: ``(N, C, S, S)`` uint16 (or an iterable of such chunks).
        channels: One name per plane of axis 1, in order.
        write_id: The id of the extraction the crops belong to, which the store records and the crop
            index carries (``micon.metadata.provenance``); None: none.
    """

    crops: np.ndarray
    channels: tuple[str, ...]
    write_id: str | None = None


@dataclass(frozen=True)
class StoredCrops:
    """Crops workers wrote part by part into a store, to be committed there: what a crop store saves.

    Attributes:
        parts: The store's parts in row order, as its writer returned them.
        channels: One name per plane of axis 1, in order.
        write_id: The id of the extraction the crops belong to (recorded by the store and the crop index).
        crops: A read-only array ``(N, C, S, S)`` over the parts (what a stage run in memory reads).
    """

    parts: tuple[Any, ...]
    channels: tuple[str, ...]
    write_id: str | None
    crops: Any


def crop_origins(centroids: pd.DataFrame, *, crop_size_px: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the top-left row and column of the crop centred on each centroid.

    A centroid is rounded half up to its pixel, which becomes pixel ``crop_size_px // 2`` of the
    crop (the centre for odd sizes, just below and right of it for even sizes).

    Args:
        centroids: One row per cell with ``y`` and ``x`` (float, field pixels).
        crop_size_px: Side of the square crop.

    Returns:
        ``(rows, cols)``: int64 arrays, one entry per centroid.
    """
    half = crop_size_px // 2
    rows = np.floor(centroids[NUCLEUS_Y].to_numpy(dtype=np.float64) + 0.5).astype(np.int64) - half
    cols = np.floor(centroids[NUCLEUS_X].to_numpy(dtype=np.float64) + 0.5).astype(np.int64) - half
    return rows, cols


def extract_crops(
    field: np.ndarray, centroids: pd.DataFrame, *, crop_size_px: int
) -> tuple[np.ndarray, pd.DataFrame]:
    """Cut a square crop of every channel around each centroid.

    Crops that would leave the field are skipped, not padded (as DeepProfiler does): padding would
    give the encoder artificial edges. The number skipped is ``len(centroids) - len(kept)`` and is
    logged at debug level.

    Args:
        field: The field, ``(C, H, W)``, values in ``[0, 65535]`` (e.g. checked by
            :func:`micon.imaging.qc.check_field`); floats are rounded to the nearest integer.
        centroids: One row per cell with ``y`` and ``x`` (float, field pixels), as returned by
            :func:`micon.imaging.nuclei.detect_nuclei`; other columns are kept.
        crop_size_px: Side of the square crop, >= 1.

    Returns:
        ``(crops, kept)``: ``crops`` is ``(n, C, crop_size_px, crop_size_px)`` uint16, row ``i``
        the crop of ``kept`` row ``i``; ``kept`` holds the centroids whose crop fits, in input
        order, with a fresh index.

    Raises:
        InvalidImageError: ``field`` is not 3-D.
        InvalidConfigError: ``crop_size_px`` < 1.
        MissingColumnsError: ``centroids`` lacks ``y`` or ``x``.
    """
    if crop_size_px < 1:
        raise InvalidConfigError(f"extract_crops: crop_size_px must be >= 1, got {crop_size_px}")
    array = np.asarray(field)
    if array.ndim != 3:  # noqa: PLR2004
        raise InvalidImageError(f"extract_crops needs a (C, H, W) field, got shape {array.shape}")
    require_columns(centroids, [NUCLEUS_Y, NUCLEUS_X], table_name="centroids")
    n_channels, height, width = array.shape
    rows, cols = crop_origins(centroids, crop_size_px=crop_size_px)
    fits = (rows >= 0) & (cols >= 0) & (rows + crop_size_px <= height) & (cols + crop_size_px <= width)
    n_skipped = int((~fits).sum())
    if n_skipped:
        logger.debug(
            "skipped %d of %d crops that would leave the %dx%d field", n_skipped, len(fits), height, width
        )
    kept = centroids.loc[fits].reset_index(drop=True)
    if height < crop_size_px or width < crop_size_px or not fits.any():
        return np.zeros((0, n_channels, crop_size_px, crop_size_px), dtype=np.uint16), kept
    # A strided view of every window; fancy indexing copies only the chosen ones.
    windows = sliding_window_view(array, (crop_size_px, crop_size_px), axis=(1, 2))  # (C, H', W', s, s)
    crops = windows[:, rows[fits], cols[fits]].transpose(1, 0, 2, 3)  # (n, C, s, s)
    if crops.dtype.kind == "f":
        crops = np.rint(crops)
    return np.ascontiguousarray(crops.astype(np.uint16, copy=False)), kept
