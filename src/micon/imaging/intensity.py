"""Plate-level intensity normalisation of crops against the plate's own DMSO control crops."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidConfigError, InvalidImageError, MissingColumnsError, NoControlsError

logger = logging.getLogger(__name__)

__all__ = [
    "CONTROL_CROP_COUNT",
    "CropIntensityScaling",
    "background_columns",
    "fit_plate_intensity_references",
    "scale_columns",
]

CONTROL_CROP_COUNT = "Metadata_ControlCropCount"
_PLATE_KEY: tuple[str, ...] = (schema.SOURCE, schema.PLATE)


def background_columns(n_channels: int) -> list[str]:
    """Return the names of the per-channel background columns of a reference table."""
    return [f"Background_{c}" for c in _channel_names(n_channels)]


def scale_columns(n_channels: int) -> list[str]:
    """Return the names of the per-channel scale columns of a reference table."""
    return [f"Scale_{c}" for c in _channel_names(n_channels)]


def _channel_names(n_channels: int) -> Sequence[str]:
    return schema.CHANNELS if n_channels == len(schema.CHANNELS) else [str(c) for c in range(n_channels)]


def fit_plate_intensity_references(
    crops: np.ndarray,
    crop_index: pd.DataFrame,
    *,
    background_quantile: float = 0.1,
    chunk_crops: int = 4096,
) -> pd.DataFrame:
    r"""Measure each plate's DMSO intensity level: a per-channel background and scale from its controls.

    For every DMSO crop :math:`j` of a plate and channel :math:`c`, two numbers are taken: its pixel
    quantile :math:`q_{jc}` at ``background_quantile`` (background: crops are centred on a cell, so
    their darkest pixels lie between cells) and its pixel mean :math:`m_{jc}`. The plate's reference is

    .. math::
        b_c = \operatorname{median}_j q_{jc}, \qquad s_c = \operatorname{median}_j m_{jc} - b_c,

    the median over crops making it robust to debris, empty or saturated crops. A crop is then scaled as
    :math:`(x - b_c) / s_c` (:class:`CropIntensityScaling`), so a typical DMSO crop has mean 1 above a
    background of 0 on every plate: a plate's camera offset and gain (the technical effects that differ
    most between sources) are removed, while a treated cell's brightness *relative to DMSO cells of its
    plate* (the absolute-intensity phenotype that per-crop standardisation would discard) is kept.
    This is the image-level analogue of robust-MAD profile normalisation on a plate's negative controls.
    Hand-written because no library normalises image crops against a plate's control wells.

    Args:
        crops: Crop store ``(N, C, S, S)`` (uint16 or float), row i the crop with ``Metadata_CropID == i``.
        crop_index: The crops whose plates are fitted; each plate's DMSO crops (``Metadata_IsControl``)
            in it are read, nothing else; a plate whose ``Metadata_ControlGroup`` names its batch
            (data_engineering kept it on its batch's controls) is fitted on its batch's DMSO crops.
        background_quantile: Pixel quantile in [0, 1) taken as a crop's background.
        chunk_crops: Crops read at a time (bounds the memory).

    Returns:
        One row per plate of ``crop_index`` (``Metadata_Source``, ``Metadata_Plate``), with
        ``Metadata_ControlCropCount`` and the float64 columns :func:`background_columns` and
        :func:`scale_columns`.

    Raises:
        MissingColumnsError: ``crop_index`` lacks a column needed.
        InvalidConfigError: ``background_quantile`` or ``chunk_crops`` is out of range.
        InvalidImageError: ``crops`` is not 4-D; or a plate's DMSO crops have no signal above the
            background in a channel (names the plate and channel).
        NoControlsError: A plate has no DMSO crop in ``crop_index`` (names the plates).
    """
    needed = [schema.CROP_ID, *_PLATE_KEY, schema.IS_CONTROL]
    missing = [c for c in needed if c not in crop_index.columns]
    if missing:
        raise MissingColumnsError(f"crop_index lacks columns {missing} needed to fit plate intensities")
    if not 0.0 <= background_quantile < 1.0:
        raise InvalidConfigError(f"background_quantile must be in [0, 1), got {background_quantile}")
    if chunk_crops < 1:
        raise InvalidConfigError(f"chunk_crops must be >= 1, got {chunk_crops}")
    if crops.ndim != 4:
        raise InvalidImageError(f"crops must be (N, C, S, S), got shape {crops.shape}")
    plates = crop_index.loc[:, list(_PLATE_KEY)].drop_duplicates().reset_index(drop=True)
    controls = _fit_controls(crop_index)
    counts = controls.groupby(list(_PLATE_KEY), sort=False).size().rename(CONTROL_CROP_COUNT).reset_index()
    plates = plates.merge(counts, on=list(_PLATE_KEY), how="left")
    plates[CONTROL_CROP_COUNT] = plates[CONTROL_CROP_COUNT].fillna(0).astype(np.int64)
    lacking = plates.loc[plates[CONTROL_CROP_COUNT] == 0]
    if len(lacking):
        names = [f"{p} (source {s})" for s, p in lacking.loc[:, list(_PLATE_KEY)].itertuples(index=False)]
        raise NoControlsError(
            f"{len(names)} plates have no DMSO crop to normalise intensities against: {names}; use an "
            "intensity_scaling that needs no controls (per_crop) for such screens"
        )

    ids = controls[schema.CROP_ID].to_numpy(dtype=np.int64)
    quantiles, means = _crop_statistics(crops, ids, background_quantile, chunk_crops)
    n_channels = crops.shape[1]
    stats = controls.loc[:, list(_PLATE_KEY)].reset_index(drop=True)
    stats[background_columns(n_channels)] = quantiles
    stats[scale_columns(n_channels)] = means
    medians = stats.groupby(list(_PLATE_KEY), sort=False).median().reset_index()
    medians[scale_columns(n_channels)] = (
        medians[scale_columns(n_channels)].to_numpy() - medians[background_columns(n_channels)].to_numpy()
    )
    references = plates.merge(medians, on=list(_PLATE_KEY), how="left")
    flat = references[scale_columns(n_channels)].to_numpy() <= 0
    if flat.any():
        row, channel = np.argwhere(flat)[0]
        raise InvalidImageError(
            f"plate {references[schema.PLATE].iloc[row]!r} (source {references[schema.SOURCE].iloc[row]!r}): "
            f"its DMSO crops have no signal above background in channel {_channel_names(n_channels)[channel]}"
            f" ({int(flat.sum())} plate-channels affected); check the images or use per_crop scaling"
        )
    logger.info(
        "fitted DMSO intensity references of %d plates from %d control crops", len(references), ids.size
    )
    return references


def _fit_controls(crop_index: pd.DataFrame) -> pd.DataFrame:
    """Return the DMSO crops each plate is fitted on: plate key and crop id (batch-grouped: the batch's)."""
    is_control = crop_index[schema.IS_CONTROL].astype(bool)
    columns = [*_PLATE_KEY, schema.CROP_ID]
    if schema.CONTROL_GROUP not in crop_index.columns or schema.BATCH not in crop_index.columns:
        return crop_index.loc[is_control, columns]
    batch = crop_index[schema.SOURCE].astype(str) + "/" + crop_index[schema.BATCH].astype(str)
    on_batch = crop_index[schema.CONTROL_GROUP].astype(str) == batch
    own = crop_index.loc[is_control & ~on_batch, columns]
    batch_plates = crop_index.loc[on_batch, [schema.SOURCE, schema.BATCH, schema.PLATE]].drop_duplicates()
    batch_controls = crop_index.loc[is_control, [schema.SOURCE, schema.BATCH, schema.CROP_ID]]
    borrowed = batch_plates.merge(batch_controls, on=[schema.SOURCE, schema.BATCH])[columns]
    return pd.concat([own, borrowed], ignore_index=True)


def _crop_statistics(
    crops: np.ndarray, crop_ids: np.ndarray, quantile: float, chunk_crops: int
) -> tuple[np.ndarray, np.ndarray]:
    """Return each crop's per-channel pixel quantile and mean, ``(n, C)`` each, reading in sorted chunks."""
    order = np.argsort(crop_ids, kind="stable")
    quantiles = np.empty((crop_ids.size, crops.shape[1]), dtype=np.float64)
    means = np.empty_like(quantiles)
    for start in range(0, crop_ids.size, chunk_crops):
        rows = order[start : start + chunk_crops]
        pixels = np.asarray(crops[crop_ids[rows]], dtype=np.float64).reshape(rows.size, crops.shape[1], -1)
        quantiles[rows] = np.quantile(pixels, quantile, axis=2)
        means[rows] = pixels.mean(axis=2)
    return quantiles, means


@dataclass(frozen=True)
class CropIntensityScaling:
    """Per-crop affine intensity scaling ``(x - background) / scale``, looked up by crop id.

    Built from a plate reference table (:func:`fit_plate_intensity_references`) with :meth:`for_crops`;
    the same object scales training batches and embedding batches, so both see identical pixels.

    Attributes:
        background: ``(N, C)`` float32, row i the background of crop i's plate (NaN: crop not covered).
        scale: ``(N, C)`` float32, row i the scale of crop i's plate (NaN: crop not covered).
    """

    background: np.ndarray
    scale: np.ndarray

    @classmethod
    def for_crops(
        cls, references: pd.DataFrame, crop_index: pd.DataFrame, *, n_crops: int
    ) -> CropIntensityScaling:
        """Return the scaling of a store of ``n_crops`` crops for the crops of ``crop_index``.

        Args:
            references: Output of :func:`fit_plate_intensity_references`.
            crop_index: Crops to cover (``Metadata_CropID``, ``Metadata_Source``, ``Metadata_Plate``).
            n_crops: Rows of the crop store.

        Raises:
            MissingColumnsError: ``crop_index`` lacks a column needed.
            NoControlsError: A plate of ``crop_index`` has no reference (names the plates).
        """
        missing = [c for c in (schema.CROP_ID, *_PLATE_KEY) if c not in crop_index.columns]
        if missing:
            raise MissingColumnsError(f"crop_index lacks columns {missing} needed to scale crop intensities")
        n_channels = len([c for c in references.columns if c.startswith("Scale_")])
        merged = crop_index.loc[:, [schema.CROP_ID, *_PLATE_KEY]].merge(
            references, on=list(_PLATE_KEY), how="left", validate="many_to_one"
        )
        uncovered = merged[scale_columns(n_channels)[0]].isna()
        if uncovered.any():
            names = sorted(merged.loc[uncovered, schema.PLATE].astype(str).unique())
            raise NoControlsError(f"no DMSO intensity reference for plates {names}")
        ids = merged[schema.CROP_ID].to_numpy(dtype=np.int64)
        background = np.full((n_crops, n_channels), np.nan, dtype=np.float32)
        scale = np.full((n_crops, n_channels), np.nan, dtype=np.float32)
        background[ids] = merged[background_columns(n_channels)].to_numpy(dtype=np.float32)
        scale[ids] = merged[scale_columns(n_channels)].to_numpy(dtype=np.float32)
        return cls(background=background, scale=scale)

    def apply(self, images: np.ndarray, crop_ids: np.ndarray) -> np.ndarray:
        """Return ``(images - background) / scale`` of each crop's plate, float32.

        Args:
            images: The crops ``crop_ids`` read from the store, ``(n, C, S, S)`` float32.
            crop_ids: Their ids, ``(n,)``.

        Raises:
            NoControlsError: A crop id has no reference (its plate was not fitted).

        Shapes:
            - images: :math:`(n, C, S, S)`; output: same, float32.
        """
        background, scale = self.background[crop_ids], self.scale[crop_ids]
        if np.isnan(scale[:, 0]).any():
            bad = np.asarray(crop_ids)[np.isnan(scale[:, 0])]
            raise NoControlsError(f"crops {bad[:5].tolist()} have no plate intensity reference")
        out = images - background[:, :, None, None]
        out /= scale[:, :, None, None]
        return out.astype(np.float32, copy=False)
