"""Render one synthetic 5-channel Cell Painting field from its drawn cells, then the technical effects.

Hand-written rather than built on a simulator library (e.g. SimuCell): none is installed, and the
default run needs a field in a few milliseconds with vectorised numpy / scipy.ndimage.
"""

from __future__ import annotations

import functools
import math

import numpy as np
from scipy import ndimage

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.synthetic.biology import LATENT_VARIABLES
from micon.sources.synthetic.culture import SiteCells
from micon.sources.synthetic.effects import TechnicalEffects

_MITO_PER_CELL = 14.0
_MITO_SIGMA_PX = 1.0
_NUCLEOLUS_SIGMA_PX = 0.9
_ER_FREQUENCY = 0.12  # cycles per pixel of the ER network at unit pixel scale
# Brightness of each channel's structures before gain, in counts; order schema.CHANNELS.
_CHANNEL_COUNTS = {"AGP": 2500.0, "DNA": 6000.0, "ER": 2500.0, "Mito": 3000.0, "RNA": 2000.0}
_MAX_COUNT = float(np.iinfo(np.uint16).max)


def render_field(
    cells: SiteCells,
    effects: TechnicalEffects,
    *,
    well_gain: np.ndarray | None = None,
    rng: np.random.Generator,
    field_size_px: int,
) -> np.ndarray:
    """Render one field of the given cells as imaged under ``effects``.

    Args:
        cells: The site's placed cells and their latent states (``culture.draw_site_cells``).
        effects: The plate's technical effects.
        well_gain: Per-channel gain of the well (plate gradient, edge, scatter); None for 1.
        rng: Source of the pixel-level draws (textures, organelle positions, noise).
        field_size_px: Height and width of the field.

    Returns:
        ``(5, H, W) uint16`` in ``schema.CHANNELS`` order (AGP, DNA, ER, Mito, RNA).

    Raises:
        InvalidInputError: A cell's latent state is not finite.
    """
    image, _ = render_field_with_nuclei(
        cells, effects, well_gain=well_gain, rng=rng, field_size_px=field_size_px
    )
    return image


def render_field_with_nuclei(
    cells: SiteCells,
    effects: TechnicalEffects,
    *,
    well_gain: np.ndarray | None = None,
    rng: np.random.Generator,
    field_size_px: int,
) -> tuple[np.ndarray, np.ndarray]:
    """Render a field as ``render_field`` does and also return where the rendered nuclei are.

    Returns:
        ``(image, nucleus_centers)``: ``(5, H, W) uint16`` and ``(n_cells, 2) float64`` (y, x) in px,
        one row per cell of ``cells``.

    Raises:
        InvalidInputError: A cell's latent state is not finite.
    """
    if not np.isfinite(cells.latent).all():
        bad = np.argwhere(~np.isfinite(cells.latent))[0]
        raise InvalidInputError(
            f"cell {bad[0]}'s latent {LATENT_VARIABLES[bad[1]]} is {cells.latent[tuple(bad)]}, not finite"
        )
    signal = _draw_cells(cells, effects, rng=rng, size=field_size_px)
    gain = np.ones(len(schema.CHANNELS)) if well_gain is None else np.asarray(well_gain, dtype=float)
    return _apply_effects(signal, effects, gain, rng=rng), cells.nucleus_center.copy()


def _draw_cells(
    cells: SiteCells, effects: TechnicalEffects, *, rng: np.random.Generator, size: int
) -> np.ndarray:
    """Return the noise-free stain signal ``(5, H, W) float32`` in counts, before technical effects.

    Each latent variable acts on its compartment (docs/synthetic.md, "From state to pixels"):
    per-cell scalars are spread over the cell's pixels through the ownership maps.
    """
    n = len(cells)
    z = {name: cells.latent[:, i] for i, name in enumerate(LATENT_VARIABLES)}
    scale = effects.pixel_scale
    outline = 1.0 + 0.08 * _bandpass_noise(rng, size, 0.03 / scale, 0.6)  # irregular cell borders
    cell_rho, owner = _elliptic_radius(cells.center, cells.cell_axes, cells.cell_angle, size)
    cell_rho = cell_rho * outline
    nuc_rho, nuc_owner = _elliptic_radius(cells.nucleus_center, cells.nucleus_axes, cells.nucleus_angle, size)
    cell_w = np.clip((1.0 - cell_rho) * 8.0, 0.0, 1.0)
    nuc_w = np.clip((1.0 - nuc_rho) * 5.0, 0.0, 1.0)
    cyto_w = cell_w * (1.0 - nuc_w)
    stain = cells.stain.astype(np.float32)

    def per_cell(values: np.ndarray, owners: np.ndarray) -> np.ndarray:
        return np.asarray(values, dtype=np.float32)[owners]

    # Nucleoli: 1 + Poisson spots in the inner nucleus; RNA-bright and DNA-poor.
    n_nucleoli = 1 + rng.poisson(1.5 * np.exp(0.6 * np.clip(z["nucleolar_rna"], -3, 3)), n)
    owner_of = np.repeat(np.arange(n), n_nucleoli)
    r, phi = 0.55 * np.sqrt(rng.uniform(0, 1, len(owner_of))), rng.uniform(0, 2 * np.pi, len(owner_of))
    spots = _ellipse_points(cells.nucleus_center, cells.nucleus_axes, cells.nucleus_angle, owner_of, r, phi)
    nucleolus_weight = np.exp(0.3 * np.clip(z["nucleolar_rna"], -3, 3))[owner_of]
    nucleoli = _spot_image(spots, nucleolus_weight, _NUCLEOLUS_SIGMA_PX * scale, size)
    nucleoli = np.clip(nucleoli, 0.0, 2.0) * nuc_w

    # DNA: content / area sets the concentration; condensation sharpens it and adds granularity.
    dome = np.sqrt(np.clip(1.0 - nuc_rho**2, 0.0, 1.0))
    condensation = np.clip(z["chromatin_condensation"], -3, 3)
    dna_level = np.exp(np.clip(z["dna_content"] - z["nucleus_size"], -3, 3) + 0.15 * condensation)
    granularity = np.clip(0.18 * np.exp(0.5 * condensation), 0.03, 0.8)
    texture = _bandpass_noise(rng, size, 0.22 / scale, 0.4)
    granules = np.clip(1.0 + per_cell(granularity, nuc_owner) * texture, 0.2, None)
    peak = per_cell(0.45 + 0.15 * np.tanh(condensation), nuc_owner)
    dna = (
        _CHANNEL_COUNTS["DNA"] * per_cell(dna_level * stain[1], nuc_owner) * nuc_w
        * (1.0 - peak + peak * dome) * granules * (1 - 0.45 * np.clip(nucleoli, 0, 1))
    )  # fmt: skip

    # Actin: bundled fibres (organisation +) or diffuse cytoplasm; a cortical rim grows with rounding.
    actin = np.clip(z["actin_organisation"], -3, 3)
    rounding = np.clip(z["cell_rounding"], -3, 3)
    rim_weight = 0.35 + 0.25 * np.tanh(0.8 * rounding)
    fibre_contrast = np.clip(0.3 * np.exp(0.5 * actin), 0.05, 1.2)
    fibres = 1.0 + per_cell(fibre_contrast, owner) * _bandpass_noise(rng, size, 0.2 / scale, 0.5)
    rim = np.exp(-(((cell_rho - 0.9) / 0.09) ** 2))
    agp_level = np.exp(0.3 * actin + 0.2 * rounding)
    cortex = per_cell(rim_weight, owner) * 1.6 * rim
    cytoplasm = per_cell(1 - rim_weight, owner) * np.clip(fibres, 0, None) * cell_w
    agp = _CHANNEL_COUNTS["AGP"] * per_cell(agp_level * stain[0], owner) * (cortex + cytoplasm)

    # ER: a reticular network; load raises its brightness and packs it around the nucleus.
    er_load = np.clip(z["er_load"], -3, 3)
    network = np.exp(-((_bandpass_noise(rng, size, _ER_FREQUENCY / scale, 0.3) / 0.5) ** 2))
    decay = per_cell(np.clip(0.5 + 1.2 * er_load, -0.5, 4.0), owner)
    er_profile = np.clip(np.exp(-decay * np.clip(cell_rho - 0.4, 0.0, 1.0)), 0.0, 3.0)
    er = (
        _CHANNEL_COUNTS["ER"] * per_cell(np.exp(0.6 * er_load) * stain[2], owner)
        * cyto_w * er_profile * (0.3 + 0.7 * network)
    )  # fmt: skip

    # Mitochondria: spots (count ~ mass x area), brightness ~ membrane potential (MitoTracker uptake).
    area = cells.cell_axes.prod(axis=1) / (169.0 * scale**2)
    n_mito = rng.poisson(_MITO_PER_CELL * np.exp(np.clip(z["mito_mass"], -3, 3)) * area)
    owner_of = np.repeat(np.arange(n), n_mito)
    inner = np.clip(cells.nucleus_axes[:, 0] / cells.cell_axes[:, 1], 0.2, 0.8)[owner_of] + 0.05
    t = rng.uniform(0, 1, len(owner_of))
    r, phi = inner + (0.95 - inner) * t, rng.uniform(0, 2 * np.pi, len(owner_of))
    spots = _ellipse_points(cells.center, cells.cell_axes, cells.cell_angle, owner_of, r, phi)
    potential = np.exp(0.8 * np.clip(z["mito_potential"], -3, 3))
    weights = np.exp(rng.normal(0.0, 0.3, len(spots))) * potential[owner_of]
    mito_spots = _spot_image(spots, weights, _MITO_SIGMA_PX * scale, size)
    mito = (
        _CHANNEL_COUNTS["Mito"] * per_cell(stain[3], owner)
        * (0.15 * per_cell(potential, owner) * cyto_w + np.clip(mito_spots, 0.0, 6.0) * cell_w)
    )  # fmt: skip

    # RNA: nucleoli and cytoplasmic RNA.
    cytoplasmic = 0.45 * np.exp(0.6 * np.clip(z["cytoplasmic_rna"], -3, 3))
    rna = (
        _CHANNEL_COUNTS["RNA"] * per_cell(stain[4], owner)
        * (per_cell(cytoplasmic, owner) * cyto_w + 0.25 * nuc_w + 1.2 * nucleoli)
    )  # fmt: skip
    return np.stack([agp, dna, er, mito, rna]).astype(np.float32)


def _apply_effects(
    signal: np.ndarray, effects: TechnicalEffects, well_gain: np.ndarray, *, rng: np.random.Generator
) -> np.ndarray:
    """Apply illumination, background, blur, gain, detector non-linearity, noise and offset; ``uint16``.

    The order follows the light path: each channel records some of its spectral neighbours' light
    (bleed-through), the illumination field excites cells and medium alike, the
    optics blur the emitted light, the detector scales it, responds non-linearly (gamma, then soft
    saturation), adds shot and read noise and its offset.
    """
    n_channels, height, width = signal.shape
    signal = np.tensordot(np.asarray(effects.crosstalk, dtype=np.float32), signal, axes=1)
    yy, xx = _grid(height, width)
    y, x = yy / height, xx / width
    background = np.asarray(effects.background_counts, dtype=np.float32)[:, None, None]
    image = np.empty_like(signal)
    for c in range(n_channels):
        cy, cx = effects.illumination_center[c]
        radius2 = ((y - cy) ** 2 + ((x - cx) / effects.illumination_aspect) ** 2) / 0.5
        tilt = 1.0 + effects.illumination_tilt[0] * (y - 0.5) + effects.illumination_tilt[1] * (x - 0.5)
        illumination = (1.0 - effects.vignetting[c] * np.clip(radius2, 0.0, 1.0)) * np.clip(tilt, 0.3, None)
        channel = (signal[c] + background[c]) * illumination
        sigma = effects.blur_sigma_px[c]
        image[c] = ndimage.gaussian_filter(channel, sigma, truncate=3.0) if sigma > 0.05 else channel
    gain = (np.asarray(effects.gain, dtype=np.float32) * well_gain.astype(np.float32))[:, None, None]
    gamma = np.asarray(effects.gamma, dtype=np.float32)[:, None, None]
    # Gamma around a reference level of 1000 counts, so it bends the response without rescaling it.
    image = 1000.0 * (np.clip(image * gain, 0.0, None) / 1000.0) ** gamma
    if np.isfinite(effects.saturation_counts):
        s = np.float32(effects.saturation_counts)
        image = s * -np.expm1(-image / s)
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
