"""Technical effects of the synthetic screen: optics and detector per source, drift per batch and plate.

Besides per-channel gains and offsets (which a per-plate DMSO scaling removes), each source has its
own non-linear detector response (gamma and saturation), spectral bleed-through between adjacent
dyes (its filter set), illumination field *shape* (off-centre,
anisotropic vignetting and a tilt, per channel), focus blur per channel, pixel size (cells look bigger
or smaller) and background; plates add an intensity gradient and edge wells an evaporation gain. None
of these is undone by a per-plate gain and offset.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.quarantine import require_columns
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.culture import level_rng
from micon.sources.synthetic.layout import well_position

logger = logging.getLogger(__name__)

# Relative spreads of the batch level around its source.
_BATCH_OFFSET_JITTER = 0.15
_BATCH_BLUR_SD_PX = 0.1
_BATCH_VIGNETTING_SD = 0.03
_VIGNETTING_CENTER_SD = 0.12
_CHANNEL_CENTER_SD = 0.03  # chromatic shift of the illumination centre between channels
_CHANNEL_BLUR_SD = 0.15  # relative focus difference between channels (chromatic aberration)
_SOURCE_NOISE_LOG_SD = 0.3
# Spectrally adjacent (receiving, emitting) channel pairs of the Cell Painting dyes: ConA-488 and
# SYTO14 overlap; SYTO14 bleeds into the phalloidin/WGA 555-568 window and back; WGA/phalloidin into
# MitoTracker Deep Red. Each source's filter set sets its own bleed-through fractions.
_CROSSTALK_PAIRS: tuple[tuple[str, str], ...] = (
    ("ER", "RNA"), ("RNA", "ER"), ("AGP", "RNA"), ("RNA", "AGP"), ("Mito", "AGP")
)  # fmt: skip


@dataclass(frozen=True, kw_only=True)
class TechnicalEffects:
    """How one plate's imaging distorts the biology; applied by ``render.render_field``.

    Per-channel tuples are in ``schema.CHANNELS`` order.

    Attributes:
        gain: Multiplicative intensity gain per channel (source x batch x plate).
        offset_counts: Additive camera offset per channel, counts.
        background_counts: Medium / plastic autofluorescence per channel, counts before gain (it is
            illuminated and blurred with the cells).
        crosstalk: ``(5, 5)`` bleed-through: channel ``c`` records ``sum_d crosstalk[c][d] * signal_d``
            (identity plus the source's bleed between spectrally adjacent dyes).
        gamma: Exponent of the detector response per channel (1: linear).
        saturation_counts: Scale of the detector's soft saturation ``S (1 - exp(-x / S))``, counts.
        vignetting: Fraction of intensity lost at the field corner per channel.
        illumination_center: Per channel ``(y, x)`` centre of the illumination, fractions of the field.
        illumination_aspect: Anisotropy of the vignetting (x-radius / y-radius).
        illumination_tilt: ``(y, x)`` linear slope of the illumination across the field.
        blur_sigma_px: Gaussian focus blur per channel, pixels.
        read_noise_sd_counts: Gaussian read noise, counts.
        shot_noise_factor: Variance of the signal-dependent noise per count of signal.
        pixel_scale: Size of a cell in pixels relative to the reference microscope (magnification).
        intensity_gradient: ``(y, x)`` log-gain slope across the plate (row, column in [-0.5, 0.5]).
        edge_gain: Log-gain of edge wells (evaporation concentrates the dyes).
    """

    gain: tuple[float, ...]
    offset_counts: tuple[float, ...]
    background_counts: tuple[float, ...]
    crosstalk: tuple[tuple[float, ...], ...]
    gamma: tuple[float, ...]
    saturation_counts: float
    vignetting: tuple[float, ...]
    illumination_center: tuple[tuple[float, float], ...]
    illumination_aspect: float
    illumination_tilt: tuple[float, float]
    blur_sigma_px: tuple[float, ...]
    read_noise_sd_counts: float
    shot_noise_factor: float
    pixel_scale: float
    intensity_gradient: tuple[float, float]
    edge_gain: float

    def well_gain(self, well: str, *, rng: np.random.Generator, well_gain_log_sd: float) -> np.ndarray:
        """Return one well's per-channel gain ``(5,)``: plate gradient, edge evaporation, well scatter."""
        position, is_edge = well_position(well)
        log_gain = float(np.asarray(self.intensity_gradient) @ position) + self.edge_gain * is_edge
        return np.exp(log_gain + rng.normal(0.0, well_gain_log_sd, len(schema.CHANNELS)))


def sample_technical_effects(
    plate_table: pd.DataFrame, config: SyntheticScreenConfig
) -> dict[str, TechnicalEffects]:
    """Draw each plate's technical effects from its source, batch and plate levels.

    Sources differ in per-channel gain (log-normal, ``source_gain_log_sd``), offset, background, gamma,
    illumination shape, blur, noise and pixel size; batches add ``batch_gain_log_sd`` gains and small
    jitter of offset, vignetting and focus; plates add ``plate_gain_log_sd`` gains and an intensity
    gradient. Every draw is seeded by ``config.seed`` and the level's id, so a plate's effects do not
    depend on which other plates are in the table.

    Args:
        plate_table: One row per plate with ``schema.PLATE_KEY`` columns.
        config: Effect sizes and seed.

    Returns:
        ``{plate id: TechnicalEffects}`` for every plate of ``plate_table``.

    Raises:
        MissingColumnsError: ``plate_table`` lacks a ``schema.PLATE_KEY`` column.
    """
    require_columns(plate_table, schema.PLATE_KEY, table_name="plate_table")
    n_channels = len(schema.CHANNELS)
    effects: dict[str, TechnicalEffects] = {}
    for source, batch, plate in plate_table.loc[:, list(schema.PLATE_KEY)].itertuples(index=False):
        src = level_rng(config.seed, "source", source)
        src_log_gain = src.normal(0.0, config.source_gain_log_sd, n_channels)
        src_offset = src.uniform(0.1, 1.0, n_channels) * config.source_offset_max_counts
        background = src.uniform(0.2, 1.0, n_channels) * config.background_max_counts
        gamma = np.exp(src.normal(0.0, config.gamma_log_sd, n_channels))
        src_vignetting = src.uniform(0.3, 1.0, n_channels) * config.max_vignetting
        center = np.clip(0.5 + src.normal(0.0, _VIGNETTING_CENTER_SD, 2), 0.15, 0.85)
        centers = np.clip(center + src.normal(0.0, _CHANNEL_CENTER_SD, (n_channels, 2)), 0.1, 0.9)
        aspect = float(np.exp(src.normal(0.0, 0.25)))
        tilt = src.uniform(-1.0, 1.0, 2) * config.max_illumination_tilt
        src_blur = src.uniform(0.2, 1.0) * config.max_blur_sigma_px
        channel_blur = np.exp(src.normal(0.0, _CHANNEL_BLUR_SD, n_channels))
        src_noise = float(np.exp(src.normal(0.0, _SOURCE_NOISE_LOG_SD)))
        pixel_scale = float(np.exp(src.normal(0.0, config.source_pixel_size_log_sd)))
        crosstalk = np.eye(n_channels)
        for receiver, emitter in _CROSSTALK_PAIRS:
            crosstalk[schema.CHANNELS.index(receiver), schema.CHANNELS.index(emitter)] = src.uniform(
                0.0, config.max_crosstalk
            )

        bat = level_rng(config.seed, "batch", batch)
        bat_log_gain = bat.normal(0.0, config.batch_gain_log_sd, n_channels)
        bat_offset = 1.0 + bat.normal(0.0, _BATCH_OFFSET_JITTER, n_channels)
        vignetting = np.clip(src_vignetting + bat.normal(0.0, _BATCH_VIGNETTING_SD), 0.0, 0.95)
        blur = np.maximum(0.0, (src_blur + bat.normal(0.0, _BATCH_BLUR_SD_PX)) * channel_blur)

        plt = level_rng(config.seed, "plate", plate)
        plate_log_gain = plt.normal(0.0, config.plate_gain_log_sd, n_channels)
        angle = plt.uniform(0.0, 2 * np.pi)
        gradient = config.plate_intensity_gradient * np.array([np.sin(angle), np.cos(angle)])

        effects[str(plate)] = TechnicalEffects(
            gain=_floats(np.exp(src_log_gain + bat_log_gain + plate_log_gain)),
            offset_counts=_floats(np.clip(src_offset * bat_offset, 0.0, None)),
            background_counts=_floats(background),
            crosstalk=tuple(_floats(row) for row in crosstalk),
            gamma=_floats(gamma),
            saturation_counts=config.saturation_counts,
            vignetting=_floats(vignetting),
            illumination_center=tuple((float(y), float(x)) for y, x in centers),
            illumination_aspect=aspect,
            illumination_tilt=(float(tilt[0]), float(tilt[1])),
            blur_sigma_px=_floats(blur),
            read_noise_sd_counts=config.read_noise_sd_counts * src_noise,
            shot_noise_factor=src_noise,
            pixel_scale=pixel_scale,
            intensity_gradient=(float(gradient[0]), float(gradient[1])),
            edge_gain=config.edge_intensity_gain,
        )
    logger.info("sampled technical effects for %d plates", len(effects))
    return effects


def ideal_effects() -> TechnicalEffects:
    """Return neutral effects: linear unit gain, flat illumination, no blur, noise, background or bias."""
    n_channels = len(schema.CHANNELS)
    return TechnicalEffects(
        gain=(1.0,) * n_channels,
        offset_counts=(0.0,) * n_channels,
        background_counts=(0.0,) * n_channels,
        crosstalk=tuple(_floats(row) for row in np.eye(n_channels)),
        gamma=(1.0,) * n_channels,
        saturation_counts=float("inf"),
        vignetting=(0.0,) * n_channels,
        illumination_center=((0.5, 0.5),) * n_channels,
        illumination_aspect=1.0,
        illumination_tilt=(0.0, 0.0),
        blur_sigma_px=(0.0,) * n_channels,
        read_noise_sd_counts=0.0,
        shot_noise_factor=0.0,
        pixel_scale=1.0,
        intensity_gradient=(0.0, 0.0),
        edge_gain=0.0,
    )


def _floats(values: np.ndarray) -> tuple[float, ...]:
    return tuple(float(v) for v in values)
