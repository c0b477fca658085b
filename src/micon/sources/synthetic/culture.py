"""The cultures of the synthetic screen: each well's control state and each site's drawn, placed cells.

A site's cells are drawn from a seeded generator of their own (the site key and the screen seed), apart
from any pixel rendering, so the known truth of every well can be computed at generation time and the
renderer later draws exactly these cells.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.quarantine import require_columns
from micon.sources.synthetic.biology import (
    LATENT_VARIABLES,
    ControlState,
    Treatment,
    density_change,
    draw_cell_states,
    subpopulation_weights,
)
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.layout import well_position

# Untreated cell geometry at unit pixel scale: nuclei ~11 px across, cells ~26 px.
NUCLEUS_RADIUS_PX = 5.5
CELL_RADIUS_PX = 13.0
_NUCLEUS_ASPECT = 1.25
_CELL_ASPECT = 1.35
_PLACEMENT_CANDIDATES = 64
# Per-cell stain uptake scatter (log sd), a nuisance independent of the latent state.
_STAIN_LOG_SD = 0.1


@dataclass(frozen=True)
class SiteCells:
    """The placed cells of one site; every array has one row per cell (pixels in the field's frame).

    Attributes:
        latent: ``(n, V)`` latent variables (``biology.LATENT_VARIABLES``).
        subpopulation: ``(n,)`` subpopulation index (``biology.SUBPOPULATIONS``).
        center: ``(n, 2)`` cell centre (y, x).
        cell_axes: ``(n, 2)`` cell semi-axes.
        cell_angle: ``(n,)`` cell orientation, radians.
        nucleus_center: ``(n, 2)``.
        nucleus_axes: ``(n, 2)``.
        nucleus_angle: ``(n,)``.
        stain: ``(5, n)`` per-cell, per-channel stain uptake factor (``schema.CHANNELS`` order).
    """

    latent: np.ndarray
    subpopulation: np.ndarray
    center: np.ndarray
    cell_axes: np.ndarray
    cell_angle: np.ndarray
    nucleus_center: np.ndarray
    nucleus_axes: np.ndarray
    nucleus_angle: np.ndarray
    stain: np.ndarray

    def __len__(self) -> int:
        return len(self.center)


def sample_control_states(
    plate_table: pd.DataFrame, well_table: pd.DataFrame, config: SyntheticScreenConfig
) -> dict[tuple[str, str], ControlState]:
    """Draw each well's untreated state: source + batch + plate shifts, proliferation, well position.

    ``mean = s_source + s_batch + s_plate + edge * e_edge`` with ``s ~ N(0, sd^2 I)`` per level;
    proliferation (subpopulation shares) per source; density (log-fold of the seeding) per source plus
    the well's position: an edge-well shift (evaporation) and a smooth plate gradient (temperature
    and seeding gradients across the plate), each plate's gradient direction seeded by its id.

    Returns:
        ``{(plate, well): ControlState}`` for every well of ``well_table``.

    Raises:
        MissingColumnsError: A key column is absent.
    """
    require_columns(plate_table, schema.PLATE_KEY, table_name="plate_table")
    require_columns(well_table, [schema.PLATE, schema.WELL], table_name="well_table")
    n_vars = len(LATENT_VARIABLES)
    plate_level: dict[str, tuple[np.ndarray, np.ndarray, float, np.ndarray]] = {}
    for source, batch, plate in plate_table.loc[:, list(schema.PLATE_KEY)].itertuples(index=False):
        src = level_rng(config.seed, "culture_source", source)
        src_mean = src.normal(0.0, config.source_state_sd, n_vars)
        weights = subpopulation_weights(float(src.normal(0.0, config.source_proliferation_sd)))
        src_density = float(src.normal(0.0, config.source_density_log_sd))
        bat = level_rng(config.seed, "culture_batch", batch)
        bat_mean = bat.normal(0.0, config.batch_state_sd, n_vars)
        plt = level_rng(config.seed, "culture_plate", plate)
        plate_mean = plt.normal(0.0, config.plate_state_sd, n_vars)
        angle = plt.uniform(0.0, 2 * np.pi)
        gradient = config.plate_density_gradient * np.array([math.sin(angle), math.cos(angle)])
        plate_level[str(plate)] = (src_mean + bat_mean + plate_mean, weights, src_density, gradient)
    # Edge wells: evaporation concentrates medium; cells there are more stressed and less dense.
    edge_shift = np.zeros(n_vars)
    edge_shift[LATENT_VARIABLES.index("er_load")] = 0.15
    edge_shift[LATENT_VARIABLES.index("cell_size")] = 0.1
    states: dict[tuple[str, str], ControlState] = {}
    for plate, well in well_table.loc[:, [schema.PLATE, schema.WELL]].itertuples(index=False):
        mean, weights, density, gradient = plate_level[str(plate)]
        position, is_edge = well_position(str(well))
        states[(str(plate), str(well))] = ControlState(
            mean=mean + edge_shift * is_edge,
            weights=weights,
            density=density + float(gradient @ position) + config.edge_density_shift * is_edge,
        )
    return states


def draw_site_cells(
    control: ControlState,
    treatment: Treatment,
    *,
    pixel_scale: float,
    rng: np.random.Generator,
    config: SyntheticScreenConfig,
) -> SiteCells:
    """Draw and place one site's cells: count, latent states, geometry from the states, positions.

    The expected count is ``mean_cells_per_field * exp(density + treatment density change) /
    pixel_scale^2`` (a larger pixel scale images a smaller area). Cells that find no room in the field
    (64 candidate positions each) are not part of the site, so the returned cells are exactly those the
    renderer draws.

    Returns:
        The placed cells (at least one is drawn; none may fit only in a pathological field).
    """
    density = control.density + density_change(control, treatment, treatment_model=config.treatment_model)
    expected = config.mean_cells_per_field * math.exp(density) / pixel_scale**2
    n = max(1, int(rng.poisson(expected)))
    states = draw_cell_states(
        n,
        control,
        treatment,
        rng=rng,
        cell_variability_sd=config.cell_variability_sd,
        response_variability_log_sd=config.response_variability_log_sd,
        phenotype_strength=config.phenotype_strength,
        treatment_model=config.treatment_model,
    )
    z = states.latent
    v = {name: z[:, i] for i, name in enumerate(LATENT_VARIABLES)}
    cell_r = CELL_RADIUS_PX * pixel_scale * np.exp(0.5 * np.clip(v["cell_size"], -2.0, 2.0))
    nucleus_r = NUCLEUS_RADIUS_PX * pixel_scale * np.exp(0.5 * np.clip(v["nucleus_size"], -2.0, 2.0))
    cell_r = np.maximum(cell_r, 1.6 * nucleus_r)
    cell_aspect = np.clip(
        1.0 + (_CELL_ASPECT - 1.0) * np.exp(-np.clip(v["cell_rounding"], -3.0, 3.0)), 1.0, 3.0
    ) * np.exp(np.abs(rng.normal(0.0, 0.1, n)))
    nucleus_aspect = np.clip(
        _NUCLEUS_ASPECT * np.exp(rng.normal(0.0, 0.1, n) - 0.1 * v["cell_rounding"]), 1.0, 2.5
    )
    cell_axes = np.stack([cell_r * np.sqrt(cell_aspect), cell_r / np.sqrt(cell_aspect)], axis=1)
    nucleus_axes = np.stack(
        [nucleus_r * np.sqrt(nucleus_aspect), nucleus_r / np.sqrt(nucleus_aspect)], axis=1
    )
    cell_angle = rng.uniform(0.0, np.pi, n)
    nucleus_angle = cell_angle + rng.normal(0.0, 0.3, n)
    stain = np.exp(rng.normal(0.0, _STAIN_LOG_SD, (len(schema.CHANNELS), n)))
    size = config.field_size_px
    margin = np.minimum(nucleus_axes[:, 0] + 2.0, size / 2 - 1)
    candidates = rng.uniform(0.0, 1.0, (n, _PLACEMENT_CANDIDATES, 2))
    placed: list[int] = []
    centers = np.zeros((n, 2))
    for i in range(n):
        options = margin[i] + candidates[i] * (size - 2 * margin[i])
        if placed:
            gaps = np.linalg.norm(options[:, None] - centers[placed][None], axis=2)
            ok = np.all(gaps >= 0.9 * (cell_axes[i, 0] + cell_axes[placed, 0])[None], axis=1)
            if not ok.any():
                continue
            options = options[ok]
        centers[i] = options[0]
        placed.append(i)
    keep = np.asarray(placed, dtype=int)
    room = np.maximum(cell_axes[:, 1] - nucleus_axes[:, 0], 0.0)[:, None]
    shift = np.clip(rng.normal(0.0, 0.2, (n, 2)), -0.5, 0.5) * room
    nucleus_center = np.clip(centers + shift, margin[:, None], size - margin[:, None])
    return SiteCells(
        latent=z[keep],
        subpopulation=states.subpopulation[keep],
        center=centers[keep],
        cell_axes=cell_axes[keep],
        cell_angle=cell_angle[keep],
        nucleus_center=nucleus_center[keep],
        nucleus_axes=nucleus_axes[keep],
        nucleus_angle=nucleus_angle[keep],
        stain=stain[:, keep],
    )


def site_rng(seed: int, plate: str, well: str, site: str, stream: str) -> np.random.Generator:
    """Return the generator of one site's ``stream`` (``"cells"`` or ``"pixels"``)."""
    return np.random.default_rng([seed, zlib.crc32(f"{stream}:{plate}/{well}/{site}".encode())])


def level_rng(seed: int, level: str, name: str) -> np.random.Generator:
    """Return the generator of one level (source, batch, plate, well ...) named ``name``."""
    return np.random.default_rng([seed, zlib.crc32(f"{level}:{name}".encode())])
