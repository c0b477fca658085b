"""CellProfiler-style per-cell features (intensity, texture, shape, radial distribution, correlation).

The measurements are cp-measure's (a library port of CellProfiler's Measure* modules: object
intensity, Haralick texture, size/shape with Feret and Zernike, Pearson colocalisation), applied to
each crop's centre cell in three compartments: the nucleus, the whole cell and the cytoplasm (cell
minus nucleus), from the masks written at crop extraction. The radial intensity distribution is
computed here (:func:`radial_distribution` says why).

To amortise cp-measure's per-call overhead, a batch of crops is laid out as a mosaic, one crop per
tile with a 1-pixel background gap so that no two cells touch, and each cp-measure function runs
once per batch, compartment and channel over every cell of the mosaic. Every measurement used is
local to one object (its pixels or its bounding box), so a cell's values do not depend on the rest
of the mosaic. Not used: cp-measure's granularity, whose background subtraction and openings span
more than a 32-px crop and would mix neighbouring tiles; location features (centres, bounding-box
corners, raw spatial moments), which only say where a cell sits in its crop or the mosaic; and
orientation-dependent moments (orientation, central/normalised moments, inertia tensor).
"""

from __future__ import annotations

import logging
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from cp_measure.core import measurecolocalization, measureobjectsizeshape
from cp_measure.core.numba import measureobjectintensity, measuretexture
from joblib import Parallel, delayed
from scipy import ndimage as ndi

from micon import schema
from micon.errors import InvalidConfigError, InvalidImageError, MissingColumnsError
from micon.progress import progress as show_progress
from micon.quarantine import finish_stage, make_quarantine

logger = logging.getLogger(__name__)

STAGE = "measure_cell_features"
REASON_EMPTY_COMPARTMENT = "empty_compartment"
REASON_NOT_FINITE = "non_finite_features"

NUCLEI = "Nuclei"
CELLS = "Cells"
CYTOPLASM = "Cytoplasm"
COMPARTMENTS: tuple[str, ...] = (NUCLEI, CELLS, CYTOPLASM)

# cp-measure's names of the AreaShape features kept: translation- and rotation-invariant ones.
SHAPE_FEATURES: tuple[str, ...] = (
    "Area",
    "BoundingBoxArea",
    "ConvexArea",
    "FilledArea",
    "EquivalentDiameter",
    "Perimeter",
    "PerimeterCrofton",
    "MajorAxisLength",
    "MinorAxisLength",
    "Eccentricity",
    "FormFactor",
    "Extent",
    "Solidity",
    "Compactness",
    "EulerNumber",
    "MaximumRadius",
    "MeanRadius",
    "MedianRadius",
    "InertiaTensorEigenvalues_0",
    "InertiaTensorEigenvalues_1",
    *(f"HuMoment_{i}" for i in range(7)),
)
# cp-measure's intensity features kept (its Location_* entries say where the cell lies in the mosaic).
INTENSITY_FEATURES: tuple[str, ...] = (
    "IntegratedIntensity",
    "MeanIntensity",
    "StdIntensity",
    "MinIntensity",
    "MaxIntensity",
    "LowerQuartileIntensity",
    "MedianIntensity",
    "UpperQuartileIntensity",
    "MADIntensity",
    "MassDisplacement",
    "IntegratedIntensityEdge",
    "MeanIntensityEdge",
    "StdIntensityEdge",
    "MinIntensityEdge",
    "MaxIntensityEdge",
)
HARALICK_FEATURES: tuple[str, ...] = (
    "AngularSecondMoment",
    "Contrast",
    "Correlation",
    "Variance",
    "InverseDifferenceMoment",
    "SumAverage",
    "SumVariance",
    "SumEntropy",
    "Entropy",
    "DifferenceVariance",
    "DifferenceEntropy",
    "InfoMeas1",
    "InfoMeas2",
)
_UINT16_FULL_SCALE = float(np.iinfo(np.uint16).max)
_MASK_PLANES = 2  # nucleus, cell (micon.imaging.extraction.MASK_PLANES)


@dataclass(frozen=True, kw_only=True)
class CellFeaturesConfig:
    """Which CellProfiler-style feature groups to measure, and how.

    Attributes:
        intensity: MeasureObjectIntensity per compartment and channel (intensities scaled to
            ``[0, 1]`` by the uint16 full scale, as CellProfiler loads 16-bit images).
        texture: MeasureTexture (13 Haralick features) per compartment, channel and scale, each the
            mean over the 4 directions.
        texture_scales: Pixel distances of the co-occurrence pairs (each >= 1).
        texture_gray_levels: Grey levels of the quantised image (2..256); level 0 is reserved for
            background, so an object's pixels take levels ``1..texture_gray_levels - 1``.
        texture_percentile: Each channel is scaled by this percentile of its values over the crop
            store (one fixed mapping for all cells) before quantisation, in ``(0, 100]``.
        shape: MeasureObjectSizeShape (:data:`SHAPE_FEATURES`, Feret diameters, Zernike moments).
        shape_compartments: Compartments whose shape is measured; the cytoplasm's is left out by
            default, being mostly the cell's and the nucleus's and costing a third of the time.
        zernike_degree: Highest Zernike degree of the shape features (0 disables them).
        radial_distribution: MeasureObjectIntensityDistribution of each channel over the whole
            cell, in rings from the nucleus outward (:func:`radial_distribution`).
        radial_bins: Rings of the radial distribution (>= 2).
        correlation: MeasureColocalization's Pearson correlation and slope of each channel pair
            over the whole cell.
        batch_size: Crops per mosaic (>= 1): larger batches amortise cp-measure's overhead.
        n_jobs: Worker processes (joblib); 1 runs in this process.
    """

    intensity: bool
    texture: bool
    texture_scales: tuple[int, ...]
    texture_gray_levels: int
    texture_percentile: float
    shape: bool
    shape_compartments: tuple[str, ...]
    zernike_degree: int
    radial_distribution: bool
    radial_bins: int
    correlation: bool
    batch_size: int
    n_jobs: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "texture_scales", tuple(int(s) for s in self.texture_scales))
        object.__setattr__(self, "shape_compartments", tuple(str(c) for c in self.shape_compartments))
        unknown = sorted(set(self.shape_compartments) - set(COMPARTMENTS))
        if unknown:
            raise InvalidConfigError(
                f"CellFeaturesConfig.shape_compartments: unknown {unknown}; known: {list(COMPARTMENTS)}"
            )
        groups = (self.intensity, self.texture, self.shape, self.radial_distribution, self.correlation)
        if not any(groups):
            raise InvalidConfigError("CellFeaturesConfig: every feature group is switched off")
        if self.texture and (not self.texture_scales or min(self.texture_scales) < 1):
            raise InvalidConfigError(
                f"CellFeaturesConfig.texture_scales must be non-empty and >= 1, got {self.texture_scales}"
            )
        if not 2 <= self.texture_gray_levels <= 256:  # noqa: PLR2004
            raise InvalidConfigError(
                f"CellFeaturesConfig.texture_gray_levels must be in [2, 256], got {self.texture_gray_levels}"
            )
        if not 0 < self.texture_percentile <= 100:  # noqa: PLR2004
            raise InvalidConfigError(
                f"CellFeaturesConfig.texture_percentile must be in (0, 100], got {self.texture_percentile}"
            )
        if self.zernike_degree < 0:
            raise InvalidConfigError(
                f"CellFeaturesConfig.zernike_degree must be >= 0, got {self.zernike_degree}"
            )
        if self.radial_bins < 2:  # noqa: PLR2004
            raise InvalidConfigError(f"CellFeaturesConfig.radial_bins must be >= 2, got {self.radial_bins}")
        if self.batch_size < 1 or self.n_jobs < 1:
            raise InvalidConfigError(
                f"CellFeaturesConfig.batch_size and n_jobs must be >= 1, got {self.batch_size}, {self.n_jobs}"
            )


@dataclass(frozen=True)
class CellFeatures:
    """The result of :func:`measure_cell_features`.

    Attributes:
        features: One row per measured crop, in ``crop_index`` order: the ``crop_index`` columns
            plus float64 feature columns named CellProfiler-style
            (``Nuclei_Intensity_MeanIntensity_DNA``, ``Cells_Texture_Contrast_ER_3_16``,
            ``Cytoplasm_AreaShape_Area``), all finite.
        quarantine: One row per rejected crop: ``Metadata_CropID`` + stage, reason
            (``empty_compartment`` or ``non_finite_features``), detail.
    """

    features: pd.DataFrame
    quarantine: pd.DataFrame


def compartment_masks(masks: np.ndarray) -> dict[str, np.ndarray]:
    """Return each compartment's boolean masks ``(N, S, S)`` from the crop masks ``(N, 2, S, S)``.

    The cytoplasm is the cell minus its nucleus.
    """
    nucleus = np.asarray(masks[:, 0]) > 0
    cell = np.asarray(masks[:, 1]) > 0
    return {NUCLEI: nucleus, CELLS: cell, CYTOPLASM: cell & ~nucleus}


def texture_reference(crops: np.ndarray, percentile: float, *, max_crops: int = 4096) -> np.ndarray:
    """Return each channel's ``percentile`` over (up to ``max_crops`` evenly spaced) crops, at least 1.

    The quantisation for texture divides each channel by this one value, so all cells share a
    mapping and their textures are comparable.
    """
    step = max(1, math.ceil(len(crops) / max_crops))
    sample = np.asarray(crops[::step], dtype=np.float64)
    per_channel = sample.transpose(1, 0, 2, 3).reshape(sample.shape[1], -1)
    return np.maximum(np.percentile(per_channel, percentile, axis=1), 1.0)


def feature_names(channels: Sequence[str], config: CellFeaturesConfig) -> list[str]:
    """Return the feature columns :func:`measure_cell_features` produces, in order."""
    dummy = np.zeros((1, len(channels), 16, 16), dtype=np.uint16)
    dummy[:, :, 4:12, 4:12] = 1000
    dummy[:, :, 6:10, 6:10] = 3000
    masks = np.zeros((1, _MASK_PLANES, 16, 16), dtype=np.uint16)
    masks[:, 0, 6:10, 6:10] = 1
    masks[:, 1, 3:13, 3:13] = 1
    _, names = measure_batch(dummy, masks, channels, config, np.full(len(channels), 3000.0))
    return names


def radial_distribution(
    pixels: np.ndarray, nucleus: np.ndarray, cell: np.ndarray, bins: int, *, wedges: int = 8
) -> dict[str, np.ndarray]:
    """CellProfiler's MeasureObjectIntensityDistribution of each cell, centred on its nucleus.

    Each cell pixel gets the normalised distance ``d_n / (d_n + d_e)``, ``d_n`` its distance to the
    nucleus (0 inside it) and ``d_e`` its distance to the cell edge (the crop border counts as an
    edge), which splits the cell into ``bins`` rings from the nucleus outward (CellProfiler's
    setting with the nuclei as centre objects, as in Cell Painting pipelines). Per ring:
    ``FracAtD``, the ring's share of the cell's intensity; ``MeanFrac``, that share over the ring's
    share of pixels; ``RadialCV``, the coefficient of variation of the ring's mean intensity over
    ``wedges`` equal angular sectors around the nucleus centroid (sectors without pixels left
    out). Hand-written because cp-measure's version centres each object on its point farthest
    from the edge rather than on a centre object, and recomputes a whole-image propagation per
    channel, more than all the other feature groups together at 32-px crops; Euclidean distances
    stand in for CellProfiler's within-object (propagated) distances, equal for convex cells.

    Args:
        pixels: ``(n, C, S, S)`` intensities.
        nucleus: ``(n, S, S)`` bool, each crop's nucleus (non-empty).
        cell: ``(n, S, S)`` bool, each crop's cell, containing its nucleus.
        bins: Number of rings (>= 1).
        wedges: Angular sectors for ``RadialCV`` (>= 1).

    Returns:
        ``{"FracAtD", "MeanFrac", "RadialCV"}`` -> ``(n, C, bins)`` float64 (NaN where a ring of a
        cell holds no pixel or no intensity).
    """
    n, n_channels, size, _ = pixels.shape
    # One 3-D transform for all crops: the slice axis is spaced far apart, so a pixel's nearest
    # background always lies in its own crop; the 1-px zero border gives every crop a cell edge.
    far = float(4 * size)
    padded_cell = np.pad(cell, ((0, 0), (1, 1), (1, 1)))
    to_edge = ndi.distance_transform_edt(padded_cell, sampling=(far, 1.0, 1.0))[:, 1:-1, 1:-1]
    to_nucleus = ndi.distance_transform_edt(~nucleus, sampling=(far, 1.0, 1.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        normalised = np.where(cell, to_nucleus / (to_nucleus + to_edge), 0.0)
    ring = np.minimum((normalised * bins).astype(np.int64), bins - 1)
    rows, cols = np.mgrid[:size, :size]
    n_nucleus = nucleus.sum(axis=(1, 2))
    centre_y = (nucleus * rows).sum(axis=(1, 2)) / n_nucleus
    centre_x = (nucleus * cols).sum(axis=(1, 2)) / n_nucleus
    angle = np.arctan2(rows[None] - centre_y[:, None, None], cols[None] - centre_x[:, None, None])
    wedge = np.minimum(((angle + np.pi) / (2 * np.pi) * wedges).astype(np.int64), wedges - 1)
    crop_of, y_of, x_of = np.nonzero(cell)
    ring_of = ring[crop_of, y_of, x_of]
    slot = crop_of * bins + ring_of
    sector = slot * wedges + wedge[crop_of, y_of, x_of]
    pixel_share = np.bincount(slot, minlength=n * bins).reshape(n, bins)
    pixel_share = pixel_share / pixel_share.sum(axis=1, keepdims=True)
    sector_count = np.bincount(sector, minlength=n * bins * wedges).reshape(n, bins, wedges)
    frac = np.empty((n, n_channels, bins))
    cv = np.empty((n, n_channels, bins))
    for c in range(n_channels):
        values = pixels[crop_of, c, y_of, x_of]
        ring_sum = np.bincount(slot, weights=values, minlength=n * bins).reshape(n, bins)
        sector_sum = np.bincount(sector, weights=values, minlength=n * bins * wedges).reshape(n, bins, wedges)
        with np.errstate(divide="ignore", invalid="ignore"):
            frac[:, c] = ring_sum / ring_sum.sum(axis=1, keepdims=True)
            sector_mean = np.where(sector_count > 0, sector_sum / sector_count, np.nan)
        with warnings.catch_warnings():  # a ring with no pixel: all sectors NaN, its CV NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            cv[:, c] = np.nanstd(sector_mean, axis=2) / np.nanmean(sector_mean, axis=2)
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_frac = frac / pixel_share[:, None, :]
    return {"FracAtD": frac, "MeanFrac": mean_frac, "RadialCV": cv}


def _mosaic(tiles: np.ndarray, grid: int, pad: int) -> np.ndarray:
    """Lay ``(n, S, S)`` tiles out row by row on a ``grid`` x ``grid`` mosaic with ``pad`` px gaps."""
    n, size = tiles.shape[0], tiles.shape[1]
    step = size + pad
    out = np.zeros((grid * step, grid * step), dtype=tiles.dtype)
    blocks = out.reshape(grid, step, grid, step)
    filled = np.zeros((grid * grid, size, size), dtype=tiles.dtype)
    filled[:n] = tiles
    blocks[:, pad:, :, pad:] = filled.reshape(grid, grid, size, size).transpose(0, 2, 1, 3)
    return out


def _quantise(crops: np.ndarray, reference: np.ndarray, gray_levels: int) -> np.ndarray:
    """Map each channel to grey levels ``1..gray_levels - 1`` (uint8), by its ``reference`` value."""
    scaled = np.clip(crops / reference[None, :, None, None], 0.0, 1.0)
    return (1 + np.minimum(np.floor(scaled * (gray_levels - 1)), gray_levels - 2)).astype(np.uint8)


def _shape_features(
    compartment: str, labels: np.ndarray, config: CellFeaturesConfig
) -> dict[str, np.ndarray]:
    shape = measureobjectsizeshape.get_sizeshape(labels, None) | measureobjectsizeshape.get_feret(
        labels, None
    )
    if config.zernike_degree:
        shape |= measureobjectsizeshape.get_zernike(labels, None, zernike_numbers=config.zernike_degree)
    kept = [
        *SHAPE_FEATURES,
        "MinFeretDiameter",
        "MaxFeretDiameter",
        *(k for k in shape if k.startswith("Zernike_")),
    ]
    return {f"{compartment}_AreaShape_{key}": shape[key] for key in kept}


def _intensity_features(
    compartment: str, labels: np.ndarray, images: dict[str, np.ndarray]
) -> dict[str, np.ndarray]:
    out = {}
    for channel, image in images.items():
        intensity = measureobjectintensity.get_intensity(labels, image)
        for key in INTENSITY_FEATURES:
            out[f"{compartment}_Intensity_{key}_{channel}"] = intensity[f"Intensity_{key}"]
    return out


def _texture_features(
    compartment: str, labels: np.ndarray, quantised: dict[str, np.ndarray], config: CellFeaturesConfig
) -> dict[str, np.ndarray]:
    out = {}
    for channel, levels in quantised.items():
        for scale in config.texture_scales:
            # gray_levels=256: the uint8 levels are already final, cp-measure must not rescale them.
            texture = measuretexture.get_texture(labels, levels, scale=scale, gray_levels=256)
            for feature in HARALICK_FEATURES:
                directions = [texture[f"{feature}_{scale}_{d:02d}_256"] for d in range(4)]
                name = f"{compartment}_Texture_{feature}_{channel}_{scale}_{config.texture_gray_levels}"
                out[name] = np.mean(directions, axis=0)
    return out


def _correlation_features(cells: np.ndarray, images: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    out = {}
    for first, second in combinations(images, 2):
        with np.errstate(divide="ignore", invalid="ignore"):
            pearson = measurecolocalization.get_correlation_pearson(images[first], images[second], cells)
        out[f"{CELLS}_Correlation_Correlation_{first}_{second}"] = pearson["Correlation_Pearson"]
        out[f"{CELLS}_Correlation_Slope_{first}_{second}"] = pearson["Correlation_Slope"]
    return out


def measure_batch(
    crops: np.ndarray,
    masks: np.ndarray,
    channels: Sequence[str],
    config: CellFeaturesConfig,
    reference: np.ndarray,
) -> tuple[np.ndarray, list[str]]:
    """Measure the centre cell of every crop of one batch.

    Every crop must have a non-empty nucleus, cell and cytoplasm (see :func:`measure_cell_features`,
    which quarantines the others first).

    Args:
        crops: ``(n, C, S, S)`` uint16.
        masks: ``(n, 2, S, S)``: nucleus and cell masks.
        channels: The ``C`` channel names.
        config: Feature groups.
        reference: Per-channel texture scale (:func:`texture_reference`).

    Returns:
        ``(values, names)``: ``(n, F)`` float64 (may hold NaN/inf) and the ``F`` feature names.
    """
    n = crops.shape[0]
    grid = math.ceil(math.sqrt(n))
    labels_of = np.arange(1, n + 1, dtype=np.int32)[:, None, None]
    parts = compartment_masks(masks)
    compartments = {
        name: _mosaic(np.where(mask, labels_of, 0).astype(np.int32), grid, 1) for name, mask in parts.items()
    }
    pixels = np.asarray(crops, dtype=np.float64) / _UINT16_FULL_SCALE
    images = {channel: _mosaic(pixels[:, c], grid, 1) for c, channel in enumerate(channels)}
    results: dict[str, np.ndarray] = {}
    if config.texture:
        levels = _quantise(np.asarray(crops, dtype=np.float64), reference, config.texture_gray_levels)
        quantised = {channel: _mosaic(levels[:, c], grid, 1) for c, channel in enumerate(channels)}
    for compartment, labels in compartments.items():
        if config.shape and compartment in config.shape_compartments:
            results |= _shape_features(compartment, labels, config)
        if config.intensity:
            results |= _intensity_features(compartment, labels, images)
        if config.texture:
            results |= _texture_features(compartment, labels, quantised, config)
    if config.radial_distribution:
        radial = radial_distribution(pixels, parts[NUCLEI], parts[CELLS], config.radial_bins)
        for c, channel in enumerate(channels):
            for measure, values in radial.items():
                for ring in range(config.radial_bins):
                    name = f"{CELLS}_RadialDistribution_{measure}_{channel}_{ring + 1}of{config.radial_bins}"
                    results[name] = values[:, c, ring]
    if config.correlation:
        results |= _correlation_features(compartments[CELLS], images)
    names = list(results)
    values = np.column_stack([np.asarray(results[name], dtype=np.float64) for name in names])
    return values, names


def _check_inputs(
    crops: np.ndarray, masks: np.ndarray, crop_index: pd.DataFrame, channels: Sequence[str]
) -> None:
    if schema.CROP_ID not in crop_index.columns:
        raise MissingColumnsError(f"{STAGE}: crop_index lacks {schema.CROP_ID!r}, needed to read crops")
    if crops.ndim != 4 or crops.shape[1] != len(channels):  # noqa: PLR2004
        raise InvalidImageError(
            f"{STAGE}: crops must be (N, {len(channels)}, S, S) for channels {list(channels)}, "
            f"got {crops.shape}"
        )
    if masks.shape != (crops.shape[0], _MASK_PLANES, *crops.shape[2:]):
        raise InvalidImageError(
            f"{STAGE}: masks must be (N, 2, S, S) aligned with crops {crops.shape}, got {masks.shape}"
        )
    ids = crop_index[schema.CROP_ID].to_numpy()
    if len(ids) and (ids.min() < 0 or ids.max() >= len(crops)):
        raise InvalidImageError(
            f"{STAGE}: crop ids span [{ids.min()}, {ids.max()}] but the store holds {len(crops)} crops"
        )


def measure_cell_features(
    crops: np.ndarray,
    masks: np.ndarray,
    crop_index: pd.DataFrame,
    config: CellFeaturesConfig,
    *,
    channels: Sequence[str],
    progress: Callable[..., object] | None = None,
) -> CellFeatures:
    """Measure CellProfiler-style features of the centre cell of every crop in ``crop_index``.

    A crop whose nucleus, cell or cytoplasm mask is empty goes to quarantine
    (``empty_compartment``) before measuring; one with any NaN or infinite feature (e.g. a texture
    scale larger than a tiny nucleus, a zero-variance channel for the correlation) goes to
    quarantine afterwards (``non_finite_features``, naming up to three such features).

    Args:
        crops: ``(N, C, S, S)`` uint16 crop store (a memmap is read batch by batch).
        masks: ``(N, 2, S, S)`` crop mask store, row-aligned with ``crops``: nucleus, cell.
        crop_index: The crops to measure (any subset or order of the store's rows), with
            ``Metadata_CropID``.
        config: Feature groups and batching.
        channels: Channel names of ``crops``, used in feature names.
        progress: Wraps the iterator over batches (default :func:`micon.progress.progress`: a bar on a
            terminal, a few log lines elsewhere).

    Returns:
        A :class:`CellFeatures`; every ``crop_index`` row is in exactly one of its tables.

    Raises:
        MissingColumnsError: ``crop_index`` lacks ``Metadata_CropID``.
        InvalidImageError: ``crops`` does not match ``channels``, ``masks`` is not aligned with
            ``crops``, or a crop id is outside the store.
    """
    _check_inputs(crops, masks, crop_index, channels)
    index = crop_index.reset_index(drop=True)
    ids = index[schema.CROP_ID].to_numpy(dtype=np.int64)
    names = feature_names(channels, config)
    key = [schema.CROP_ID]
    rejected: list[pd.DataFrame] = []

    empty = np.zeros(len(ids), dtype=bool)
    details = np.full(len(ids), "", dtype=object)
    for name, mask in compartment_masks(np.asarray(masks[ids])).items():
        hit = ~mask.reshape(len(ids), -1).any(axis=1)
        details[hit & ~empty] = f"the centre cell's {name} mask is empty"
        empty |= hit
    if empty.any():
        rejected.append(
            make_quarantine(
                index.loc[empty],
                key,
                stage=STAGE,
                reason=REASON_EMPTY_COMPARTMENT,
                detail=pd.Series(details[empty]),
            )
        )
    measurable = np.flatnonzero(~empty)
    values = np.zeros((len(measurable), len(names)), dtype=np.float64)
    if len(measurable):
        reference = texture_reference(crops, config.texture_percentile)
        batches = [
            measurable[i : i + config.batch_size] for i in range(0, len(measurable), config.batch_size)
        ]

        tasks = (
            delayed(measure_batch)(
                np.asarray(crops[ids[rows]]), np.asarray(masks[ids[rows]]), list(channels), config, reference
            )
            for rows in batches
        )
        wrap = progress or (
            lambda it, total, desc, **_: show_progress(
                it, total=total, desc=desc, logger=logger, unit="batch"
            )
        )
        start = 0
        for batch_values, batch_names in wrap(
            Parallel(n_jobs=config.n_jobs, return_as="generator")(tasks),
            total=len(batches),
            desc=STAGE,
            disable=None,
        ):
            if batch_names != names:
                raise InvalidImageError(f"{STAGE}: feature names changed between batches; this is a bug")
            values[start : start + len(batch_values)] = batch_values
            start += len(batch_values)
    finite = np.isfinite(values).all(axis=1)
    if not finite.all():
        bad_rows = np.flatnonzero(~finite)
        bad_details = []
        for row in bad_rows:
            bad = [names[j] for j in np.flatnonzero(~np.isfinite(values[row]))]
            more = f" and {len(bad) - 3} more" if len(bad) > 3 else ""  # noqa: PLR2004
            bad_details.append(f"non-finite {', '.join(bad[:3])}{more}")
        rejected.append(
            make_quarantine(
                index.iloc[measurable[bad_rows]],
                key,
                stage=STAGE,
                reason=REASON_NOT_FINITE,
                detail=pd.Series(bad_details),
            )
        )
    accepted_rows = measurable[finite]
    features = pd.concat(
        [
            index.iloc[accepted_rows].reset_index(drop=True),
            pd.DataFrame(values[finite], columns=names),
        ],
        axis=1,
    )
    features, quarantine = finish_stage(STAGE, len(index), features, rejected, key, sort_by=key, log=logger)
    return CellFeatures(features=features, quarantine=quarantine)
