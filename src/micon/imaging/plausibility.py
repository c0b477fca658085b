"""Whether the objects found on a nuclear channel are nuclei: contrast, shape, and size against the screen.

Otsu's threshold always splits an image in two, so a field without cells (camera noise, shot noise, an
illumination gradient) still gives dozens of "nuclei". Real nuclei stand out from their surroundings by
much more than the noise, have a large share of the field's dynamic range between them and their
background, are compact, and are about as large as the screen's other nuclei. CellProfiler has no such
check either (it counts objects, it does not judge them); the measures here are plain numpy/scikit-image.

Size is judged against the screen's own fields; intensity is judged against the field's own dynamic range
and noise rather than against the screen, because raw intensities differ about tenfold between JUMP
sources (a screen-wide intensity test would quarantine whole sources, not fields without nuclei).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import ndimage as ndi
from skimage.filters import gaussian
from skimage.measure import regionprops

from micon.errors import InvalidConfigError

__all__ = [
    "REASON_IMPLAUSIBLE_NUCLEI",
    "REASON_NO_REAL_NUCLEI",
    "NucleusPlausibilityConfig",
    "NucleusStatistics",
    "check_nucleus_statistics",
    "measure_nuclei",
    "screen_outliers",
]

REASON_NO_REAL_NUCLEI = "no_real_nuclei"
REASON_IMPLAUSIBLE_NUCLEI = "implausible_nuclei"

_RING_PX = 3
_NOISE_SIGMA_PX = 2.0
_MAD_TO_SIGMA = 1.4826
_RANGE_PERCENTILES = (0.5, 99.5)
# Medians need no more objects than this; a crowded field is measured on an even stride of its objects.
_MAX_MEASURED = 64


@dataclass(frozen=True, kw_only=True)
class NucleusPlausibilityConfig:
    """When the objects of a field count as nuclei.

    Attributes:
        min_contrast_fraction: The median object's contrast (mean inside minus mean of a 3-px ring
            around it) over the field's dynamic range (99.5th minus 0.5th percentile) must be at least
            this, in [0, 1]. Real nuclei: 0.28-0.7, median 0.54 (BBBC021's 660 fields; synthetic and blob
            fields alike); Gaussian or shot noise: ~0.17; a linear gradient: ~0.26.
        min_contrast_to_noise: The median object's contrast over the field's noise (robust standard
            deviation of the image minus its 2-px Gaussian blur) must be at least this, >= 0. Real
            nuclei: 8-160 (BBBC021), 90-110 (synthetic); dim blobs 6; noise ~0.9.
        min_solidity: The median object's solidity (area over convex area) must be at least this, in
            [0, 1]. Real nuclei 0.90-0.97; noise blobs ~0.75.
        min_isolation: The median object's isolation (the share of the pixels just outside it that are
            background rather than another object) must be at least this, in [0, 1]. Real nuclei: 0.85-1
            (BBBC021's median per field); the watershed pieces an illumination gradient is cut into tile
            the bright half of the field: ~0.05.
        max_area_ratio_to_screen: A field whose median nucleus area differs from the median over the
            screen's fields by more than this factor (either way) is ``implausible_nuclei``, >= 1.
        min_sites_for_screen_check: The screen comparison runs only with at least this many fields
            that passed every other check, >= 1 (a handful of fields has no distribution to speak of).
    """

    min_contrast_fraction: float
    min_contrast_to_noise: float
    min_solidity: float
    min_isolation: float
    max_area_ratio_to_screen: float
    min_sites_for_screen_check: int

    def __post_init__(self) -> None:
        for name in ("min_contrast_fraction", "min_solidity", "min_isolation"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InvalidConfigError(
                    f"NucleusPlausibilityConfig.{name} must be in [0, 1], got {getattr(self, name)}"
                )
        if not self.min_contrast_to_noise >= 0:
            raise InvalidConfigError(
                "NucleusPlausibilityConfig.min_contrast_to_noise must be >= 0, "
                f"got {self.min_contrast_to_noise}"
            )
        if not self.max_area_ratio_to_screen >= 1:
            raise InvalidConfigError(
                "NucleusPlausibilityConfig.max_area_ratio_to_screen must be >= 1, "
                f"got {self.max_area_ratio_to_screen}"
            )
        if self.min_sites_for_screen_check < 1:
            raise InvalidConfigError(
                "NucleusPlausibilityConfig.min_sites_for_screen_check must be >= 1, "
                f"got {self.min_sites_for_screen_check}"
            )


@dataclass(frozen=True)
class NucleusStatistics:
    """Medians over the objects of one field (NaN when it has none).

    Attributes:
        n_objects: Objects measured.
        contrast_fraction: Contrast over the field's dynamic range.
        contrast_to_noise: Contrast over the field's noise.
        solidity: Area over convex area.
        isolation: Share of the pixels just outside the object that are background.
        area_px: Object area in pixels.
    """

    n_objects: int
    contrast_fraction: float
    contrast_to_noise: float
    solidity: float
    isolation: float
    area_px: float


def measure_nuclei(image: np.ndarray, labels: np.ndarray) -> NucleusStatistics:
    """Measure the median contrast, solidity and area of the labelled objects of a nuclear channel.

    Args:
        image: The nuclear channel ``(H, W)``, any real dtype.
        labels: Its object labels ``(H, W)`` (0 = background), as
            :func:`~micon.imaging.nuclei.segment_nuclei` gives.

    Returns:
        The medians over objects (at most 64, on an even stride of the labels, bound the cost of a
        crowded field); contrast is each object's mean minus the mean of the ring of background pixels
        within 3 px of it (objects with no such ring are left out of the contrast); ``n_objects`` counts
        every object.
    """
    values = np.asarray(image, dtype=np.float64)
    if not labels.any():
        return NucleusStatistics(0, np.nan, np.nan, np.nan, np.nan, np.nan)
    residual = values - gaussian(values, sigma=_NOISE_SIGMA_PX, preserve_range=True)
    noise = _MAD_TO_SIGMA * float(np.median(np.abs(residual - np.median(residual))))
    low, high = np.percentile(values, _RANGE_PERCENTILES)
    foreground = labels > 0
    contrasts: list[float] = []
    solidities: list[float] = []
    isolations: list[float] = []
    areas: list[float] = []
    regions = regionprops(labels)
    stride = max(1, -(-len(regions) // _MAX_MEASURED))
    for region in regions[::stride]:
        top, left, bottom, right = region.bbox
        window = (
            slice(max(top - _RING_PX, 0), bottom + _RING_PX),
            slice(max(left - _RING_PX, 0), right + _RING_PX),
        )
        own = labels[window] == region.label
        ring = ndi.binary_dilation(own, iterations=_RING_PX) & ~foreground[window]
        if ring.any():
            contrasts.append(float(values[window][own].mean() - values[window][ring].mean()))
        edge = ndi.binary_dilation(own) & ~own
        isolations.append(float((edge & ~foreground[window]).sum() / max(int(edge.sum()), 1)))
        solidities.append(float(region.solidity))
        areas.append(float(region.area))
    contrast = float(np.median(contrasts)) if contrasts else np.nan
    return NucleusStatistics(
        n_objects=len(regions),
        contrast_fraction=contrast / (high - low) if high > low else 0.0,
        contrast_to_noise=contrast / noise if noise > 0 else np.inf,
        solidity=float(np.median(solidities)),
        isolation=float(np.median(isolations)),
        area_px=float(np.median(areas)),
    )


def check_nucleus_statistics(
    stats: NucleusStatistics, config: NucleusPlausibilityConfig, *, key: str
) -> tuple[str, str] | None:
    """Return ``("no_real_nuclei", detail)`` when a field's objects are not nuclei, else None.

    Args:
        stats: The field's :func:`measure_nuclei`.
        config: The thresholds.
        key: Names the field in the detail.

    Returns:
        The reason and a detail quoting every measure that failed and its threshold; None when every
        measure passes, or when the field has no object (that is ``no_cells``, decided elsewhere).
    """
    if stats.n_objects == 0:
        return None
    failed = [
        f"{name} {value:.3g} < {limit:g}"
        for name, value, limit in (
            ("contrast/range", stats.contrast_fraction, config.min_contrast_fraction),
            ("contrast/noise", stats.contrast_to_noise, config.min_contrast_to_noise),
            ("solidity", stats.solidity, config.min_solidity),
            ("isolation", stats.isolation, config.min_isolation),
        )
        if not value >= limit
    ]
    if not failed:
        return None
    return (
        REASON_NO_REAL_NUCLEI,
        f"{key}: the {stats.n_objects} objects found do not look like nuclei (median {'; '.join(failed)}): "
        "noise, an illumination gradient or an empty field",
    )


def screen_outliers(areas_px: Sequence[float], config: NucleusPlausibilityConfig) -> tuple[np.ndarray, float]:
    """Return which fields' median nucleus area is far from the screen's, and the screen's median.

    Args:
        areas_px: Median nucleus area of each field that passed the other checks.
        config: The factor allowed and the fewest fields the comparison needs.

    Returns:
        ``(mask, screen_median)``: True for fields whose area is more than ``max_area_ratio_to_screen``
        times above or below the median of ``areas_px``; all False with fewer than
        ``min_sites_for_screen_check`` fields (the median is then NaN).
    """
    areas = np.asarray(areas_px, dtype=np.float64)
    if areas.size < config.min_sites_for_screen_check:
        return np.zeros(areas.size, dtype=bool), np.nan
    median = float(np.median(areas))
    ratio = np.maximum(areas / median, median / areas)
    return ratio > config.max_area_ratio_to_screen, median
