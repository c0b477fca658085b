"""Whole cells grown from their nuclei over a cytoplasmic stain, as CellProfiler's secondary objects."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from skimage.filters import gaussian, sobel, threshold_otsu
from skimage.segmentation import watershed

from micon.errors import InvalidConfigError, InvalidImageError


@dataclass(frozen=True, kw_only=True)
class CellsConfig:
    """How cells are grown from their nuclei.

    Which stains outline the cells is the screen's (its source profile's ``cytoplasm_channels``), not a
    setting: :func:`cytoplasm_composite` averages them.

    Attributes:
        gaussian_sigma_px: Smoothing of the composite before thresholding (>= 0; 0 disables it).
        compactness: Weight of the distance to the seed against the stain gradient (>= 0): 0 follows
            the gradient only, large values give Voronoi-like cells (CellProfiler's propagation
            ``regularization factor``).
        threshold_correction: Factor on the Otsu threshold of the composite (> 0); pixels above it
            are cell foreground.
    """

    gaussian_sigma_px: float
    compactness: float
    threshold_correction: float

    def __post_init__(self) -> None:
        if not self.gaussian_sigma_px >= 0:
            raise InvalidConfigError(
                f"CellsConfig.gaussian_sigma_px must be >= 0, got {self.gaussian_sigma_px}"
            )
        if not self.compactness >= 0:
            raise InvalidConfigError(f"CellsConfig.compactness must be >= 0, got {self.compactness}")
        if not self.threshold_correction > 0:
            raise InvalidConfigError(
                f"CellsConfig.threshold_correction must be > 0, got {self.threshold_correction}"
            )


def cytoplasm_composite(field: np.ndarray, channel_indices: Sequence[int]) -> np.ndarray:
    """Return the mean of the chosen channels, each divided by its 99th percentile (float64, ``(H, W)``).

    Dividing by a high percentile puts stains of very different brightness on one scale, so no
    single channel dominates the composite.
    """
    # Only the chosen planes are converted (not the whole field first).
    planes = np.asarray(field)[list(channel_indices)].astype(np.float64)
    scale = np.percentile(planes.reshape(len(planes), -1), 99.0, axis=1)
    scale[scale <= 0] = 1.0
    return (planes / scale[:, None, None]).mean(axis=0)


def segment_cells(nuclei: np.ndarray, cytoplasm: np.ndarray, config: CellsConfig) -> np.ndarray:
    """Grow each nucleus into its cell over a cytoplasmic stain.

    This approximates CellProfiler's IdentifySecondaryObjects with the *Propagation* method
    (Jones et al. 2005), which floods outward from each nucleus with a distance that mixes the
    stain's local change and the Euclidean distance to the seed, stopping at the thresholded
    foreground: here a compact watershed (scikit-image) of the Sobel gradient of the smoothed
    stain, seeded by the nuclei, masked to pixels above the (corrected) Otsu threshold or inside a
    nucleus. ``compactness`` plays the role of Propagation's regularisation factor. Every nucleus
    lies inside its cell, with the same label.

    Args:
        nuclei: ``(H, W)`` integer label image of the nuclei (0 = background).
        cytoplasm: ``(H, W)`` real image of the cytoplasmic stain (e.g. :func:`cytoplasm_composite`).
        config: Growth settings.

    Returns:
        ``(H, W)`` int32 label image of the cells, each with its nucleus's label; 0 for background.

    Raises:
        InvalidImageError: The images are not 2-D of one shape, ``nuclei`` is not integer, or
            ``cytoplasm`` holds NaN or infinite values.
    """
    labels = np.asarray(nuclei)
    stain = np.asarray(cytoplasm, dtype=np.float64)
    if labels.ndim != 2 or labels.shape != stain.shape:  # noqa: PLR2004
        raise InvalidImageError(
            f"segment_cells needs 2-D nuclei and cytoplasm images of one shape, got {labels.shape} "
            f"and {stain.shape}"
        )
    if labels.dtype.kind not in "ui":
        raise InvalidImageError(f"segment_cells needs integer nucleus labels, got dtype {labels.dtype}")
    if not np.isfinite(stain).all():
        raise InvalidImageError("segment_cells: the cytoplasm image holds NaN or infinite values")
    labels = labels.astype(np.int32, copy=False)
    if not labels.any():
        return np.zeros(labels.shape, dtype=np.int32)
    smoothed = gaussian(stain, sigma=config.gaussian_sigma_px) if config.gaussian_sigma_px else stain
    foreground = labels > 0
    if smoothed.min() < smoothed.max():
        foreground |= smoothed > config.threshold_correction * threshold_otsu(smoothed)
    cells = watershed(sobel(smoothed), markers=labels, mask=foreground, compactness=config.compactness)
    return cells.astype(np.int32, copy=False)
