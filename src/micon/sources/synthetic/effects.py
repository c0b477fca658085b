"""Technical effects of the synthetic screen: strong per source, moderate per batch, small per plate."""

from __future__ import annotations

import logging
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.quarantine import require_columns
from micon.sources.synthetic.config import SyntheticScreenConfig

logger = logging.getLogger(__name__)

# Relative spreads of the batch and plate level around their source (fractions of the source value).
_BATCH_OFFSET_JITTER = 0.15
_BATCH_BLUR_SD_PX = 0.1
_BATCH_VIGNETTING_SD = 0.03
_VIGNETTING_CENTER_SD = 0.08
_SOURCE_NOISE_LOG_SD = 0.3


@dataclass(frozen=True, kw_only=True)
class TechnicalEffects:
    """How one plate's imaging distorts the biology; applied by ``render.render_field``.

    Attributes:
        gain: Per-channel multiplicative intensity gain, in ``schema.CHANNELS`` order.
        offset_counts: Per-channel additive camera offset / background, in counts.
        vignetting: Fraction of intensity lost at the field corner (radial, quadratic).
        vignetting_center: Centre of the illumination, ``(y, x)`` as fractions of the field size.
        blur_sigma_px: Gaussian focus blur, in pixels (0: in focus).
        read_noise_sd_counts: Gaussian read noise, in counts.
        shot_noise_factor: Variance of the signal-dependent (Poisson-like) noise per count of signal.
        cell_size_scale: Multiplier of cell and nucleus size (culture / staining protocol bias).
    """

    gain: tuple[float, ...]
    offset_counts: tuple[float, ...]
    vignetting: float
    vignetting_center: tuple[float, float]
    blur_sigma_px: float
    read_noise_sd_counts: float
    shot_noise_factor: float
    cell_size_scale: float


def sample_technical_effects(
    plate_table: pd.DataFrame, config: SyntheticScreenConfig
) -> dict[str, TechnicalEffects]:
    """Draw each plate's technical effects from its source, batch and plate levels.

    Sources differ several-fold in per-channel gain (log-normal, ``source_gain_log_sd``), in offset,
    vignetting, blur, noise and cell size; batches add ``batch_gain_log_sd`` gains and small jitter;
    plates add ``plate_gain_log_sd`` gains. Every draw is seeded by ``config.seed`` and the level's id,
    so a plate's effects do not depend on which other plates are in the table.

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
        src = _rng(config.seed, "source", source)
        src_log_gain = src.normal(0.0, config.source_gain_log_sd, n_channels)
        src_offset = src.uniform(0.1, 1.0, n_channels) * config.source_offset_max_counts
        src_vignetting = src.uniform(0.0, config.max_vignetting)
        center = np.clip(0.5 + src.normal(0.0, _VIGNETTING_CENTER_SD, 2), 0.2, 0.8)
        src_blur = src.uniform(0.0, config.max_blur_sigma_px)
        src_noise = float(np.exp(src.normal(0.0, _SOURCE_NOISE_LOG_SD)))
        cell_size = float(np.exp(src.normal(0.0, config.source_cell_size_log_sd)))

        bat = _rng(config.seed, "batch", batch)
        bat_log_gain = bat.normal(0.0, config.batch_gain_log_sd, n_channels)
        bat_offset = 1.0 + bat.normal(0.0, _BATCH_OFFSET_JITTER, n_channels)
        vignetting = float(np.clip(src_vignetting + bat.normal(0.0, _BATCH_VIGNETTING_SD), 0.0, 0.95))
        blur = float(max(0.0, src_blur + bat.normal(0.0, _BATCH_BLUR_SD_PX)))

        plt = _rng(config.seed, "plate", plate)
        plate_log_gain = plt.normal(0.0, config.plate_gain_log_sd, n_channels)

        effects[str(plate)] = TechnicalEffects(
            gain=tuple(float(g) for g in np.exp(src_log_gain + bat_log_gain + plate_log_gain)),
            offset_counts=tuple(float(o) for o in np.clip(src_offset * bat_offset, 0.0, None)),
            vignetting=vignetting,
            vignetting_center=(float(center[0]), float(center[1])),
            blur_sigma_px=blur,
            read_noise_sd_counts=config.read_noise_sd_counts * src_noise,
            shot_noise_factor=src_noise,
            cell_size_scale=cell_size,
        )
    logger.info("sampled technical effects for %d plates", len(effects))
    return effects


def ideal_effects() -> TechnicalEffects:
    """Return neutral effects: unit gain, no offset, vignetting, blur, noise or size bias (for inspection)."""
    n_channels = len(schema.CHANNELS)
    return TechnicalEffects(
        gain=(1.0,) * n_channels,
        offset_counts=(0.0,) * n_channels,
        vignetting=0.0,
        vignetting_center=(0.5, 0.5),
        blur_sigma_px=0.0,
        read_noise_sd_counts=0.0,
        shot_noise_factor=0.0,
        cell_size_scale=1.0,
    )


def _rng(seed: int, level: str, name: str) -> np.random.Generator:
    """Return the generator of one level (source, batch or plate) named ``name``."""
    return np.random.default_rng([seed, zlib.crc32(f"{level}:{name}".encode())])
