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


def _fill_holes(mask: np.ndarray) -> np.ndarray:
    """Return ``mask`` with its holes filled: ``ndi.binary_fill_holes``'s result, from one labelling.

    A hole is a background component (4-connected, ``binary_fill_holes``' default structure) that does not
    touch the image border. ``binary_fill_holes`` finds them by dilating the border inward, one pixel per
    iteration (a sixth of a 1080x1080 field's nucleus detection); labelling the background once and
    keeping the components that touch the border gives the same mask.
    """
    background, _ = ndi.label(~mask)
    border = np.unique(np.concatenate([background[0], background[-1], background[:, 0], background[:, -1]]))
    outside = np.zeros(int(background.max()) + 1, dtype=bool)
    outside[border] = True
    outside[0] = False
    return ~outside[background]


def _label_large_objects(mask: np.ndarray, min_area_px: int) -> tuple[np.ndarray, int]:
    """Label the 4-connected objects of ``mask`` of at least ``min_area_px`` pixels (others removed).

    Equal to ``ndi.label(remove_small_objects(mask, max_size=min_area_px - 1))``, labels included
    (numbered 1..n in raster order of their first pixel), from one labelling instead of two.

    Returns:
        ``(labels, n_objects)`` and the mask of the kept objects is ``labels > 0``.
    """
    labels, n_objects = ndi.label(mask)
    if n_objects == 0:
        return labels, 0
    large = np.bincount(labels.ravel()) >= min_area_px
    large[0] = False
    renumber = np.zeros(n_objects + 1, dtype=labels.dtype)
    renumber[large] = np.arange(1, int(large.sum()) + 1, dtype=labels.dtype)
    return renumber[labels], int(large.sum())


def _object_distance(labels: np.ndarray, boxes: list[tuple[slice, ...] | None]) -> np.ndarray:
    """Return ``ndi.distance_transform_edt(labels > 0)``, computed object by object.

    Inside an object, the distance to the nearest background pixel equals the distance to the nearest
    pixel outside the object (the nearest such pixel has a 4-neighbour nearer to the pixel, so inside
    the object, so it is not in another 4-connected object: it is background), and that pixel lies in the
    object's bounding box grown by one pixel (clipped to the image, as the transform sees it). So the
    transform runs on each object's small window rather than on the whole field, where the time went
    (a third of the detection); the result is identical.

    Args:
        labels: 4-connected objects labelled 1..n.
        boxes: ``ndi.find_objects(labels)``.
    """
    distance = np.zeros(labels.shape, dtype=np.float64)
    height, width = labels.shape
    for index, box in enumerate(boxes, start=1):
        if box is None:
            continue
        rows = slice(max(box[0].start - 1, 0), min(box[0].stop + 1, height))
        cols = slice(max(box[1].start - 1, 0), min(box[1].stop + 1, width))
        own = labels[rows, cols] == index
        distance[rows, cols][own] = ndi.distance_transform_edt(own)[own]
    return distance


def _split_touching(mask: np.ndarray, labels: np.ndarray, min_distance_px: int) -> np.ndarray:
    """Split touching objects with a watershed seeded at the maxima of the distance transform.

    The watershed runs over the whole field: flooding each object in its own box would be faster, but
    scikit-image breaks ties between equal seeds by its heap's layout, which then differs, and so would
    a few boundary pixels between touching nuclei.
    """
    distance = _object_distance(labels, ndi.find_objects(labels))
    # peak_local_max's default threshold is the image minimum: 0 wherever the field has background.
    floor = 0.0 if not mask.all() else float(distance.min())
    peaks = peak_local_max(
        distance, min_distance=min_distance_px, labels=labels, exclude_border=False, threshold_abs=floor
    )
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
    mask = _fill_holes(smoothed > threshold_otsu(smoothed))
    labels, n_objects = _label_large_objects(mask, config.min_area_px)
    if n_objects == 0:
        return empty
    mask = labels > 0
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
