"""Render one synthetic 5-channel Cell Painting field: cells with a phenotype, then technical effects.

Hand-written rather than built on a simulator library (e.g. SimuCell): none is installed, and the
default run needs a field in a few milliseconds with vectorised numpy / scipy.ndimage.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import ndimage

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.effects import TechnicalEffects
from micon.sources.synthetic.phenotypes import PHENOTYPE_PARAMETERS

# Untreated cell geometry (pixels at the default magnification): nuclei ~11 px across, cells ~26 px.
_NUCLEUS_RADIUS_PX = 5.5
_CELL_RADIUS_PX = 13.0
_NUCLEUS_ASPECT = 1.25
_MITO_PER_CELL = 14.0
_MITO_SIGMA_PX = 1.0
_NUCLEOLUS_SIGMA_PX = 0.9
_ER_FREQUENCY = 0.12  # cycles per pixel of the ER network
# Brightness of each channel's structures before gain, in counts; order schema.CHANNELS.
_CHANNEL_COUNTS = {"AGP": 2500.0, "DNA": 6000.0, "ER": 2500.0, "Mito": 3000.0, "RNA": 2000.0}
_AUTOFLUORESCENCE = 0.02  # fraction of a channel's brightness present everywhere
_MAX_COUNT = float(np.iinfo(np.uint16).max)


@dataclass(frozen=True)
class _Cells:
    """Per-cell geometry, arrays of length n (positions and semi-axes in px, angles in radians)."""

    center: np.ndarray  # (n, 2) y, x of the cell
    cell_axes: np.ndarray  # (n, 2)
    cell_angle: np.ndarray
    nucleus_center: np.ndarray  # (n, 2)
    nucleus_axes: np.ndarray  # (n, 2)
    nucleus_angle: np.ndarray


def render_field(
    phenotype: Mapping[str, float] | pd.Series,
    effects: TechnicalEffects,
    *,
    rng: np.random.Generator,
    config: SyntheticScreenConfig,
) -> np.ndarray:
    """Render one field of cells showing ``phenotype`` as imaged under ``effects``.

    Args:
        phenotype: Values of ``PHENOTYPE_PARAMETERS`` (absent ones are 0, the untreated cell).
        effects: The plate's technical effects.
        rng: Source of every random draw (cell count, placement, textures, noise).
        config: Supplies ``field_size_px``, ``mean_cells_per_field`` and ``cell_variability_log_sd``.

    Returns:
        ``(5, H, W) uint16`` in ``schema.CHANNELS`` order (AGP, DNA, ER, Mito, RNA).

    Raises:
        InvalidInputError: ``phenotype`` names an unknown parameter or holds a non-finite value.
    """
    image, _ = render_field_with_nuclei(phenotype, effects, rng=rng, config=config)
    return image


def render_field_with_nuclei(
    phenotype: Mapping[str, float] | pd.Series,
    effects: TechnicalEffects,
    *,
    rng: np.random.Generator,
    config: SyntheticScreenConfig,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a field as ``render_field`` does and also return where the nuclei are.

    Returns:
        ``(image, nucleus_centers)``: ``(5, H, W) uint16`` and ``(n_cells, 2) float64`` (y, x) in px.

    Raises:
        InvalidInputError: ``phenotype`` names an unknown parameter or holds a non-finite value.
    """
    p = _phenotype_values(phenotype)
    size = config.field_size_px
    cells = _place_cells(p, effects.cell_size_scale, rng=rng, config=config)
    signal = _draw_cells(p, cells, rng=rng, size=size, variability=config.cell_variability_log_sd)
    return _apply_effects(signal, effects, rng=rng), cells.nucleus_center.copy()


def _phenotype_values(phenotype: Mapping[str, float] | pd.Series) -> dict[str, float]:
    """Return every phenotype parameter as a float (absent ones 0), rejecting unknown names."""
    unknown = sorted(set(phenotype.keys()) - set(PHENOTYPE_PARAMETERS))
    if unknown:
        raise InvalidInputError(
            f"unknown phenotype parameter(s) {unknown}; known: {list(PHENOTYPE_PARAMETERS)}"
        )
    values = {name: float(phenotype.get(name, 0.0)) for name in PHENOTYPE_PARAMETERS}
    bad = {k: v for k, v in values.items() if not math.isfinite(v)}
    if bad:
        raise InvalidInputError(f"phenotype parameter(s) not finite: {bad}")
    return values


def _place_cells(
    p: Mapping[str, float], size_scale: float, *, rng: np.random.Generator, config: SyntheticScreenConfig
) -> _Cells:
    """Draw cell count, sizes and shapes, and place the cells at random, mostly not touching."""
    size, v = config.field_size_px, config.cell_variability_log_sd
    n = max(1, int(rng.poisson(config.mean_cells_per_field * math.exp(0.35 * p["cell_density"]))))
    jitter = np.exp(rng.normal(0.0, v, n))
    nucleus_r = _NUCLEUS_RADIUS_PX * math.exp(0.25 * p["nucleus_size"]) * size_scale * jitter
    nucleus_r *= np.exp(rng.normal(0.0, v / 2, n))
    cell_r = np.maximum(
        _CELL_RADIUS_PX * math.exp(0.25 * p["cell_size"]) * size_scale * jitter, 1.7 * nucleus_r
    )
    cell_aspect = 1.0 + np.abs(rng.normal(0.0, 0.15, n))
    nucleus_aspect = np.clip(
        _NUCLEUS_ASPECT * math.exp(0.35 * p["nucleus_elongation"]) * np.exp(rng.normal(0.0, v, n)), 1.0, 3.0
    )
    cell_axes = np.stack([cell_r * np.sqrt(cell_aspect), cell_r / np.sqrt(cell_aspect)], axis=1)
    nucleus_axes = np.stack(
        [nucleus_r * np.sqrt(nucleus_aspect), nucleus_r / np.sqrt(nucleus_aspect)], axis=1
    )
    cell_angle = rng.uniform(0.0, np.pi, n)
    nucleus_angle = cell_angle + rng.normal(0.0, 0.3, n)
    # Rejection sampling, 64 candidates per cell at once: keep the first far enough from placed cells.
    margin = np.minimum(nucleus_axes[:, 0] + 2.0, size / 2 - 1)
    placed: list[int] = []
    centers = np.zeros((n, 2))
    for i in range(n):
        candidates = rng.uniform(margin[i], size - margin[i], (64, 2))
        if placed:
            gaps = np.linalg.norm(candidates[:, None] - centers[placed][None], axis=2)
            ok = np.all(gaps >= 0.95 * (cell_axes[i, 0] + cell_axes[placed, 0])[None], axis=1)
            if not ok.any():
                continue
            candidates = candidates[ok]
        centers[i] = candidates[0]
        placed.append(i)
    keep = np.asarray(placed, dtype=int)
    room = np.maximum(cell_axes[keep, 1] - nucleus_axes[keep, 0], 0.0)[:, None]
    shift = np.clip(rng.normal(0.0, 0.2, (len(keep), 2)), -0.5, 0.5) * room
    nucleus_center = np.clip(centers[keep] + shift, margin[keep, None], size - margin[keep, None])
    return _Cells(
        center=centers[keep],
        cell_axes=cell_axes[keep],
        cell_angle=cell_angle[keep],
        nucleus_center=nucleus_center,
        nucleus_axes=nucleus_axes[keep],
        nucleus_angle=nucleus_angle[keep],
    )


def _draw_cells(
    p: Mapping[str, float], cells: _Cells, *, rng: np.random.Generator, size: int, variability: float
) -> np.ndarray:
    """Return the noise-free stain signal ``(5, H, W) float32`` in counts, before technical effects."""
    n = len(cells.center)
    outline = 1.0 + 0.08 * _bandpass_noise(rng, size, 0.03, 0.6)  # irregular cell borders
    cell_rho, owner = _elliptic_radius(cells.center, cells.cell_axes, cells.cell_angle, size)
    cell_rho = cell_rho * outline
    nuc_rho, nuc_owner = _elliptic_radius(cells.nucleus_center, cells.nucleus_axes, cells.nucleus_angle, size)
    cell_w = np.clip((1.0 - cell_rho) * 8.0, 0.0, 1.0)
    nuc_w = np.clip((1.0 - nuc_rho) * 5.0, 0.0, 1.0)
    cyto_w = cell_w * (1.0 - nuc_w)
    bright = np.exp(rng.normal(0.0, variability, (len(schema.CHANNELS), max(n, 1)))).astype(np.float32)

    def level(channel: str) -> float:
        return _CHANNEL_COUNTS[channel] * math.exp(0.3 * p[f"{channel.lower()}_intensity"])

    # Nucleoli: 1 + Poisson spots in the inner nucleus; RNA-bright and DNA-poor.
    n_nucleoli = 1 + rng.poisson(1.5 * math.exp(0.6 * p["rna_nucleoli"]), n)
    owner_of = np.repeat(np.arange(n), n_nucleoli)
    r, phi = 0.55 * np.sqrt(rng.uniform(0, 1, len(owner_of))), rng.uniform(0, 2 * np.pi, len(owner_of))
    spots = _ellipse_points(cells.nucleus_center, cells.nucleus_axes, cells.nucleus_angle, owner_of, r, phi)
    nucleoli = np.clip(_spot_image(spots, np.ones(len(spots)), _NUCLEOLUS_SIGMA_PX, size), 0.0, 1.5) * nuc_w

    dome = np.sqrt(np.clip(1.0 - nuc_rho**2, 0.0, 1.0))
    chromatin = 0.18 * math.exp(0.7 * p["dna_texture"])
    granules = np.clip(1.0 + min(chromatin, 0.7) * _bandpass_noise(rng, size, 0.22, 0.4), 0.2, None)
    dna = (
        level("DNA") * bright[1][nuc_owner] * nuc_w * (0.55 + 0.45 * dome) * granules * (1 - 0.45 * nucleoli)
    )

    rim_weight = 0.5 + 0.4 * math.tanh(1.2 * p["agp_rim"])
    rim = np.exp(-(((cell_rho - 0.9) / 0.09) ** 2))
    fibres = np.clip(0.55 + 0.25 * _bandpass_noise(rng, size, 0.2, 0.5), 0.0, None) * cell_w
    agp = level("AGP") * bright[0][owner] * (rim_weight * 1.6 * rim + (1 - rim_weight) * fibres)

    er_frequency = _ER_FREQUENCY * math.exp(0.35 * p["er_texture_frequency"])
    network = np.exp(-((_bandpass_noise(rng, size, er_frequency, 0.3) / 0.5) ** 2))  # lines at zero crossings
    er_profile = np.exp(-(0.5 + 2.0 * p["er_perinuclear"]) * np.clip(cell_rho - 0.4, 0.0, 1.0))
    er = level("ER") * bright[2][owner] * cyto_w * np.clip(er_profile, 0.0, 3.0) * (0.3 + 0.7 * network)

    n_mito = rng.poisson(
        _MITO_PER_CELL * math.exp(0.5 * p["mito_count"]) * (cells.cell_axes.prod(axis=1) / 169.0)
    )
    owner_of = np.repeat(np.arange(n), n_mito)
    inner = np.clip(cells.nucleus_axes[:, 0] / cells.cell_axes[:, 1], 0.2, 0.8)[owner_of] + 0.05
    t = rng.uniform(0, 1, len(owner_of)) ** math.exp(0.8 * p["mito_perinuclear"])
    r, phi = inner + (0.95 - inner) * t, rng.uniform(0, 2 * np.pi, len(owner_of))
    spots = _ellipse_points(cells.center, cells.cell_axes, cells.cell_angle, owner_of, r, phi)
    sigma = float(np.clip(_MITO_SIGMA_PX * math.exp(0.35 * p["mito_spot_size"]), 0.5, 3.0))
    weights = np.exp(rng.normal(0.0, 0.3, len(spots)))
    mito_spots = _spot_image(spots, weights, sigma, size)
    mito = level("Mito") * bright[3][owner] * (0.15 * cyto_w + np.clip(mito_spots, 0.0, 2.0) * cell_w)

    nucleolus_level = 1.2 * math.exp(0.3 * p["rna_nucleoli"])
    cytoplasmic_rna = 0.45 * math.exp(0.5 * p["rna_cytoplasm"])
    rna = (
        level("RNA")
        * bright[4][owner]
        * (cytoplasmic_rna * cyto_w + 0.25 * nuc_w + nucleolus_level * nucleoli)
    )

    signal = np.stack([agp, dna, er, mito, rna]).astype(np.float32)
    floor = np.array([_CHANNEL_COUNTS[c] * _AUTOFLUORESCENCE for c in schema.CHANNELS], dtype=np.float32)
    return signal + floor[:, None, None]


def _apply_effects(signal: np.ndarray, effects: TechnicalEffects, *, rng: np.random.Generator) -> np.ndarray:
    """Apply gain, vignetting, focus blur, offset and shot + read noise; return ``uint16``."""
    _, height, width = signal.shape
    yy, xx = _grid(height, width)
    cy, cx = effects.vignetting_center
    radius2 = ((yy / height - cy) ** 2 + (xx / width - cx) ** 2) / 0.5
    illumination = 1.0 - effects.vignetting * np.clip(radius2, 0.0, 1.0)
    gain = np.asarray(effects.gain, dtype=np.float32)[:, None, None]
    image = signal * gain * illumination[None]
    if effects.blur_sigma_px > 0.05:
        image = ndimage.gaussian_filter(
            image, sigma=(0.0, effects.blur_sigma_px, effects.blur_sigma_px), truncate=3.0
        )
    variance = effects.shot_noise_factor * image + effects.read_noise_sd_counts**2
    image += np.sqrt(variance) * rng.standard_normal(image.shape, dtype=np.float32)
    image += np.asarray(effects.offset_counts, dtype=np.float32)[:, None, None]
    return np.clip(np.rint(image), 0.0, _MAX_COUNT).astype(np.uint16)


def _elliptic_radius(
    centers: np.ndarray, axes: np.ndarray, angles: np.ndarray, size: int, *, reach: float = 1.5
) -> tuple[np.ndarray, np.ndarray]:
    """Return, per pixel, the smallest normalised elliptic radius over the ellipses and which one it is.

    Each ellipse is evaluated only in its bounding box out to ``reach`` radii (cells barely overlap),
    which is ~20x cheaper than whole-field arrays; pixels no ellipse reaches get radius ``reach``.
    """
    rho2 = np.full((size, size), reach * reach, dtype=np.float32)
    owner = np.zeros((size, size), dtype=np.intp)
    for i, ((cy, cx), (a, b), angle) in enumerate(zip(centers, axes, angles, strict=True)):
        half = math.ceil(reach * a) + 1
        y0, y1 = max(0, int(cy) - half), min(size, int(cy) + half + 1)
        x0, x1 = max(0, int(cx) - half), min(size, int(cx) + half + 1)
        if y0 >= y1 or x0 >= x1:
            continue
        dy = np.arange(y0, y1, dtype=np.float32)[:, None] - np.float32(cy)
        dx = np.arange(x0, x1, dtype=np.float32)[None, :] - np.float32(cx)
        cos, sin = np.float32(math.cos(angle)), np.float32(math.sin(angle))
        u = (dx * cos + dy * sin) / np.float32(a)
        v = (dy * cos - dx * sin) / np.float32(b)
        local = u * u + v * v
        window, window_owner = rho2[y0:y1, x0:x1], owner[y0:y1, x0:x1]
        closer = local < window
        window[closer] = local[closer]
        window_owner[closer] = i
    return np.sqrt(rho2), owner


def _ellipse_points(
    centers: np.ndarray,
    axes: np.ndarray,
    angles: np.ndarray,
    owner: np.ndarray,
    r: np.ndarray,
    phi: np.ndarray,
) -> np.ndarray:
    """Return points ``(k, 2)`` (y, x) at normalised radius ``r`` and angle ``phi`` of ellipses ``owner``."""
    u, v = r * axes[owner, 0] * np.cos(phi), r * axes[owner, 1] * np.sin(phi)
    cos, sin = np.cos(angles[owner]), np.sin(angles[owner])
    return np.stack([centers[owner, 0] + u * sin + v * cos, centers[owner, 1] + u * cos - v * sin], axis=1)


def _spot_image(points: np.ndarray, weights: np.ndarray, sigma: float, size: int) -> np.ndarray:
    """Return Gaussian spots of peak ~``weight`` at ``points`` (y, x), as ``(size, size) float32``."""
    image = np.zeros((size, size), dtype=np.float32)
    idx = np.rint(points).astype(int)
    inside = np.all((idx >= 0) & (idx < size), axis=1)
    np.add.at(image, (idx[inside, 0], idx[inside, 1]), weights[inside])
    return ndimage.gaussian_filter(image, sigma, truncate=3.0) * np.float32(2 * np.pi * sigma**2)


def _bandpass_noise(
    rng: np.random.Generator, size: int, frequency: float, relative_bandwidth: float
) -> np.ndarray:
    """Return Gaussian noise band-passed around ``frequency`` (cycles/px), zero mean, unit sd, float32."""
    spectrum = np.fft.rfft2(rng.standard_normal((size, size), dtype=np.float32))
    radial = _radial_frequency(size)
    bandwidth = max(frequency * relative_bandwidth, 1.0 / size)
    spectrum *= np.exp(-0.5 * ((radial - frequency) / bandwidth) ** 2)
    noise = np.fft.irfft2(spectrum, s=(size, size)).astype(np.float32)
    return (noise - noise.mean()) / max(float(noise.std()), 1e-12)


@functools.lru_cache(maxsize=8)
def _radial_frequency(size: int) -> np.ndarray:
    """Return the radial frequency (cycles/px) of each ``rfft2`` coefficient of a ``size x size`` image."""
    fy, fx = np.fft.fftfreq(size)[:, None], np.fft.rfftfreq(size)[None, :]
    return np.sqrt(fy**2 + fx**2)


@functools.lru_cache(maxsize=8)
def _grid(height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Return read-only pixel-centre coordinate grids ``(yy, xx)``, float32."""
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float32)
    yy.flags.writeable = False
    xx.flags.writeable = False
    return yy, xx
