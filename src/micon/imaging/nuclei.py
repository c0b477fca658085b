"""Nucleus segmentation on the DNA channel: Gaussian smoothing, Otsu threshold and a watershed split."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage as ndi
from skimage.feature import peak_local_max
from skimage.filters import gaussian, threshold_otsu
from skimage.measure import regionprops_table
from skimage.morphology import remove_small_objects
from skimage.segmentation import watershed

from micon.errors import InvalidConfigError, InvalidImageError

logger = logging.getLogger(__name__)

NUCLEUS_Y = "y"
NUCLEUS_X = "x"
NUCLEUS_AREA = "area_px"
NUCLEUS_LABEL = "label"
NUCLEUS_COLUMNS: tuple[str, ...] = (NUCLEUS_Y, NUCLEUS_X, NUCLEUS_AREA)


@dataclass(frozen=True, kw_only=True)
class NucleiConfig:
    """How nuclei are found in a DNA image.

    Attributes:
        gaussian_sigma_px: Standard deviation of the smoothing applied before thresholding (>= 0;
            0 disables smoothing).
        min_area_px: Objects smaller than this many pixels are dropped (noise, debris); >= 1.
        max_area_px: Objects larger than this after splitting are dropped (clumps); > min_area_px.
        split_touching: Whether touching nuclei are split by a watershed on the distance transform.
        min_distance_px: Minimum distance between two nucleus centres when splitting; >= 1.
    """

    gaussian_sigma_px: float
    min_area_px: int
    max_area_px: int
    split_touching: bool
    min_distance_px: int

    def __post_init__(self) -> None:
        if not self.gaussian_sigma_px >= 0:
            raise InvalidConfigError(
                f"NucleiConfig.gaussian_sigma_px must be >= 0, got {self.gaussian_sigma_px}"
            )
        if self.min_area_px < 1:
            raise InvalidConfigError(f"NucleiConfig.min_area_px must be >= 1, got {self.min_area_px}")
        if self.max_area_px <= self.min_area_px:
            raise InvalidConfigError(
                f"NucleiConfig.max_area_px ({self.max_area_px}) must exceed min_area_px ({self.min_area_px})"
            )
        if self.min_distance_px < 1:
            raise InvalidConfigError(f"NucleiConfig.min_distance_px must be >= 1, got {self.min_distance_px}")


def _empty_nuclei() -> pd.DataFrame:
    return pd.DataFrame(
        {
            NUCLEUS_Y: pd.Series(dtype="float64"),
            NUCLEUS_X: pd.Series(dtype="float64"),
            NUCLEUS_AREA: pd.Series(dtype="int64"),
        }
    )


def _split_touching(mask: np.ndarray, labels: np.ndarray, min_distance_px: int) -> np.ndarray:
    """Split touching objects with a watershed seeded at the maxima of the distance transform."""
    distance = ndi.distance_transform_edt(mask)
    peaks = peak_local_max(distance, min_distance=min_distance_px, labels=labels, exclude_border=False)
    markers = np.zeros(labels.shape, dtype=np.int32)
    markers[tuple(peaks.T)] = np.arange(1, len(peaks) + 1, dtype=np.int32)
    split = watershed(-distance, markers, mask=mask)
    # An object with no peak (rare: a flat, thin one) is not flooded; keep it whole, under a new label.
    unflooded = mask & (split == 0)
    if unflooded.any():
        split[unflooded] = labels[unflooded] + split.max()
    return split


def segment_nuclei(dna: np.ndarray, config: NucleiConfig) -> np.ndarray:
    """Label the nuclei of a DNA-stain image.

    The image is smoothed with a Gaussian, thresholded at Otsu's level, holes are filled and objects
    below ``min_area_px`` removed; touching nuclei are optionally split by a watershed on the
    distance transform; objects outside ``[min_area_px, max_area_px]`` are then set to background.

    Args:
        dna: The DNA channel, 2-D ``(H, W)``, any real dtype.
        config: Detection settings.

    Returns:
        ``(H, W)`` int32 label image, 0 for background; labels are positive but not necessarily
        contiguous. All zero when the image is constant (blank) or holds no object of an allowed size.

    Raises:
        InvalidImageError: ``dna`` is not a 2-D real-valued array, or holds NaN or infinite values.
    """
    image = np.asarray(dna)
    if image.ndim != 2:  # noqa: PLR2004
        raise InvalidImageError(f"detect_nuclei needs a 2-D DNA image, got shape {image.shape}")
    if image.dtype.kind not in "uif":
        raise InvalidImageError(f"detect_nuclei needs a real-valued image, got dtype {image.dtype}")
    image = image.astype(np.float64, copy=False)
    if not np.isfinite(image).all():
        raise InvalidImageError("detect_nuclei: the DNA image holds NaN or infinite values")
    empty = np.zeros(image.shape, dtype=np.int32)
    if image.size == 0 or image.min() == image.max():
        return empty
    smoothed = (
        gaussian(image, sigma=config.gaussian_sigma_px, preserve_range=True)
        if config.gaussian_sigma_px
        else image
    )
    if smoothed.min() == smoothed.max():
        return empty
    mask = smoothed > threshold_otsu(smoothed)
    mask = ndi.binary_fill_holes(mask)
    mask = remove_small_objects(mask, max_size=config.min_area_px - 1)
    labels, n_objects = ndi.label(mask)
    if n_objects == 0:
        return empty
    if config.split_touching:
        labels = _split_touching(mask, labels, config.min_distance_px)
    labels = labels.astype(np.int32, copy=False)
    areas = np.bincount(labels.ravel())
    allowed = (areas >= config.min_area_px) & (areas <= config.max_area_px)
    allowed[0] = False
    n_dropped = int(np.count_nonzero(~allowed[1:] & (areas[1:] > 0)))
    if n_dropped:
        logger.debug(
            "dropped %d objects outside [%d, %d] px", n_dropped, config.min_area_px, config.max_area_px
        )
        labels = np.where(allowed[labels], labels, 0).astype(np.int32)
    return labels


def nuclei_table(labels: np.ndarray) -> pd.DataFrame:
    """Return one row per labelled nucleus, sorted by centroid (``y``, then ``x``).

    Args:
        labels: A label image as returned by :func:`segment_nuclei`.

    Returns:
        ``y`` and ``x`` (centroid, float, field pixels), ``area_px`` (int) and ``label`` (int,
        the nucleus's value in ``labels``); empty when ``labels`` holds no object.
    """
    if not labels.any():
        return _empty_nuclei().assign(**{NUCLEUS_LABEL: pd.Series(dtype="int64")})
    props = regionprops_table(labels, properties=("label", "centroid", "area"))
    table = pd.DataFrame(
        {
            NUCLEUS_Y: np.asarray(props["centroid-0"], dtype=np.float64),
            NUCLEUS_X: np.asarray(props["centroid-1"], dtype=np.float64),
            NUCLEUS_AREA: np.asarray(props["area"]).astype(np.int64),
            NUCLEUS_LABEL: np.asarray(props["label"]).astype(np.int64),
        }
    )
    return table.sort_values([NUCLEUS_Y, NUCLEUS_X], kind="stable").reset_index(drop=True)


def detect_nuclei(dna: np.ndarray, config: NucleiConfig) -> pd.DataFrame:
    """Find nuclei in a DNA-stain image (:func:`segment_nuclei`) and return their centroids and areas.

    Args:
        dna: The DNA channel, 2-D ``(H, W)``, any real dtype.
        config: Detection settings.

    Returns:
        One row per nucleus, sorted by centroid (``y``, then ``x``): ``y`` and ``x``
        (centroid, float, field pixels) and ``area_px`` (int). Empty, not an error, when the image
        is constant (blank) or holds no object of an allowed size.

    Raises:
        InvalidImageError: ``dna`` is not a 2-D real-valued array, or holds NaN or infinite values.
    """
    return nuclei_table(segment_nuclei(dna, config)).loc[:, list(NUCLEUS_COLUMNS)]
