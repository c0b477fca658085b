"""The synthetic screen: compound, plate, well and image tables, the known truth, and lazy images.

Generation draws every site's cells at once (cheap: no pixels), so each well's realised mean latent
state is known (``well_truth``); the images are rendered later, on demand, from exactly those cells.
"""

from __future__ import annotations

import dataclasses
import logging
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.jump.cpg0016 import JUMP_PROFILE
from micon.sources.synthetic.biology import (
    LATENT_VARIABLES,
    UNTREATED,
    ControlState,
    Treatment,
    density_change,
)
from micon.sources.synthetic.compounds import generate_compound_annotations, generate_compounds, treatment_of
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.culture import (
    SiteCells,
    draw_site_cells,
    level_rng,
    sample_control_states,
    site_rng,
)
from micon.sources.synthetic.effects import TechnicalEffects, sample_technical_effects
from micon.sources.synthetic.layout import generate_layout
from micon.sources.synthetic.library import DMSO_MOA, LIBRARY
from micon.sources.synthetic.render import render_field

logger = logging.getLogger(__name__)

# The synthetic screen models a JUMP cpg0016 screen: its five Cell Painting channels, DMSO wells on every
# plate, held-out sources, batches and compounds; its wells carry their compound's mechanism of action.
SYNTHETIC_PROFILE = dataclasses.replace(JUMP_PROFILE, name="synthetic", well_annotations=(schema.MOA,))

#: Prefix of the known-truth columns of ``SyntheticScreen.well_truth``.
TRUTH_PREFIX = "truth_"
#: Column of ``well_truth`` with the well's number of cells (all sites): metadata, not a truth feature
#: (a raw count beside z-like latent variables would dominate any cosine similarity of the truth).
CELL_COUNT_COLUMN = "Metadata_CellsDrawn"

# Sites whose 5-channel field stays rendered: the 5 channel callables of a site then render it once.
_CACHED_SITES = 8


@dataclass(frozen=True, kw_only=True)
class SyntheticScreen:
    """A generated screen in the JUMP layout (see docs/architecture.md for the table contracts).

    Attributes:
        config: The settings it was generated from.
        compound_table: One row per compound (JCP2022, SMILES, InChIKey), DMSO last.
        plate_table: One row per plate (source, batch, plate, plate type).
        well_table: One row per well (source, plate, well, JCP2022, MoA).
        image_index: One row per site, load_data style: site key, batch, file and path name per channel.
        compound_annotations: One row per compound: JCP2022, MoA, name, programme, potency, efficacy,
            response at the screened dose, active flag (``compounds.generate_compound_annotations``).
        well_truth: One row per well: source, plate, well, JCP2022, one ``truth_<variable>`` column per
            ``biology.LATENT_VARIABLES`` (the mean over the well's cells, all sites), ``truth_density``
            (the well's log-fold seeding density incl. the treatment's change, mean over sites) and
            ``Metadata_CellsDrawn`` (the well's cells, all sites; metadata, so not scored as a feature).
        effects: Each plate's technical effects.
        fields: ``{image key: callable}``; each call renders (seeded per site) one channel,
            ``(H, W) uint16``; keys are ``schema.image_key(PathName_Orig{ch}, FileName_Orig{ch})``.
    """

    config: SyntheticScreenConfig
    compound_table: pd.DataFrame
    plate_table: pd.DataFrame
    well_table: pd.DataFrame
    image_index: pd.DataFrame
    compound_annotations: pd.DataFrame
    well_truth: pd.DataFrame
    effects: dict[str, TechnicalEffects]
    fields: dict[str, Callable[[], np.ndarray]]


class _SiteRenderer:
    """Render 5-channel fields of the screen's sites from their drawn cells, keeping the last few cached."""

    def __init__(
        self,
        *,
        config: SyntheticScreenConfig,
        cells: dict[tuple[str, str, str], SiteCells],
        effects: dict[str, TechnicalEffects],
        well_gains: dict[tuple[str, str], np.ndarray],
    ) -> None:
        self._config = config
        self._cells = cells
        self._effects = effects
        self._well_gains = well_gains
        self._cache: OrderedDict[tuple[str, str, str], np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, object]:
        # A lock cannot be pickled and the cache need not travel: drop both.
        state = self.__dict__.copy()
        del state["_lock"], state["_cache"]
        return state

    def __setstate__(self, state: dict[str, object]) -> None:
        self.__dict__.update(state)
        self._cache = OrderedDict()
        self._lock = threading.Lock()

    def site_cells(self, plate: str, well: str, site: str) -> SiteCells:
        """Return the drawn cells of one site.

        Raises:
            InvalidInputError: The site is not in the screen.
        """
        try:
            return self._cells[(plate, well, site)]
        except KeyError as exc:
            raise InvalidInputError(f"site {plate}/{well}/s{site} is not in the synthetic screen") from exc

    def render_site(self, plate: str, well: str, site: str) -> np.ndarray:
        """Return the read-only ``(5, H, W) uint16`` field of one site (rendered once while cached)."""
        key = (plate, well, site)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        cells = self.site_cells(plate, well, site)
        image = render_field(
            cells,
            self._effects[plate],
            well_gain=self._well_gains[(plate, well)],
            rng=site_rng(self._config.seed, plate, well, site, "pixels"),
            field_size_px=self._config.field_size_px,
        )
        image.flags.writeable = False
        with self._lock:
            self._cache[key] = image
            while len(self._cache) > _CACHED_SITES:
                self._cache.popitem(last=False)
        return image


@dataclass(frozen=True)
class _ChannelImage:
    """A picklable zero-argument callable returning one channel of one site as ``(H, W) uint16``."""

    renderer: _SiteRenderer
    plate: str
    well: str
    site: str
    channel_index: int

    def __call__(self) -> np.ndarray:
        return self.renderer.render_site(self.plate, self.well, self.site)[self.channel_index].copy()


def generate_screen(config: SyntheticScreenConfig) -> SyntheticScreen:
    """Generate the synthetic screen: tables, every site's cells and the known truth; images lazily.

    The same config gives identical tables, truth and pixels, in any rendering order: a site's cells
    come from a generator seeded by the screen seed and the site key, its pixels from another.

    Args:
        config: Screen settings.

    Returns:
        The screen's tables, known truth, technical effects and image callables.
    """
    compound_table = generate_compounds(config)
    annotations = generate_compound_annotations(config)
    plate_table, well_table = generate_layout(compound_table, config)
    moa_of = dict(zip(annotations[schema.JCP2022], annotations[schema.MOA], strict=True))
    well_table[schema.MOA] = well_table[schema.JCP2022].map(moa_of).fillna(DMSO_MOA)
    effects = sample_technical_effects(plate_table, config)
    controls = sample_control_states(plate_table, well_table, config)
    treatments = _treatments(annotations, config)
    image_index = build_image_index(plate_table, well_table, sites_per_well=config.sites_per_well)
    cells: dict[tuple[str, str, str], SiteCells] = {}
    well_gains: dict[tuple[str, str], np.ndarray] = {}
    for plate, well, jcp in well_table[[schema.PLATE, schema.WELL, schema.JCP2022]].itertuples(index=False):
        well_gains[(plate, well)] = effects[plate].well_gain(
            well,
            rng=level_rng(config.seed, "well_gain", f"{plate}/{well}"),
            well_gain_log_sd=config.well_gain_log_sd,
        )
        for site in range(1, config.sites_per_well + 1):
            cells[(plate, well, str(site))] = draw_site_cells(
                controls[(plate, well)],
                treatments[jcp],
                pixel_scale=effects[plate].pixel_scale,
                rng=site_rng(config.seed, plate, well, str(site), "cells"),
                config=config,
            )
    well_truth = _well_truth(well_table, cells, controls, treatments, config)
    renderer = _SiteRenderer(config=config, cells=cells, effects=effects, well_gains=well_gains)
    fields: dict[str, Callable[[], np.ndarray]] = {}
    for row in image_index.itertuples(index=False):
        site = row._asdict()
        for index, channel in enumerate(schema.CHANNELS):
            key = schema.image_key(
                site[schema.path_name_column(channel)], site[schema.file_name_column(channel)]
            )
            fields[key] = _ChannelImage(
                renderer, site[schema.PLATE], site[schema.WELL], site[schema.SITE], index
            )
    logger.info(
        "synthetic screen: %d compounds, %d plates, %d wells, %d sites, %d cells, %d channel images",
        len(compound_table), len(plate_table), len(well_table), len(image_index),
        int(well_truth[CELL_COUNT_COLUMN].sum()), len(fields),
    )  # fmt: skip
    return SyntheticScreen(
        config=config,
        compound_table=compound_table,
        plate_table=plate_table,
        well_table=well_table,
        image_index=image_index,
        compound_annotations=annotations,
        well_truth=well_truth,
        effects=effects,
        fields=fields,
    )


def truth_columns() -> list[str]:
    """Return the latent-state columns of ``SyntheticScreen.well_truth`` (``truth_<variable>``)."""
    return [f"{TRUTH_PREFIX}{name}" for name in LATENT_VARIABLES]


def _treatments(annotations: pd.DataFrame, config: SyntheticScreenConfig) -> dict[str, Treatment]:
    """Return each compound id's treatment at the screened dose (DMSO: untreated)."""
    by_name = {c.name: c for c in LIBRARY}
    return {
        jcp: treatment_of(by_name[name], config) if name in by_name else UNTREATED
        for jcp, name in zip(annotations[schema.JCP2022], annotations["name"], strict=True)
    }


def _well_truth(
    well_table: pd.DataFrame,
    cells: dict[tuple[str, str, str], SiteCells],
    controls: dict[tuple[str, str], ControlState],
    treatments: dict[str, Treatment],
    config: SyntheticScreenConfig,
) -> pd.DataFrame:
    """Return one row per well: its key, compound, mean latent state, density and cell count."""
    sites = [str(s) for s in range(1, config.sites_per_well + 1)]
    means, densities, counts = [], [], []
    for plate, well, jcp in well_table[[schema.PLATE, schema.WELL, schema.JCP2022]].itertuples(index=False):
        latent = np.concatenate([cells[(plate, well, s)].latent for s in sites])
        means.append(latent.mean(axis=0))
        counts.append(len(latent))
        control = controls[(plate, well)]
        change = density_change(control, treatments[jcp], treatment_model=config.treatment_model)
        densities.append(control.density + change)
    truth = well_table[[schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022]].copy()
    truth[truth_columns()] = np.asarray(means)
    truth[f"{TRUTH_PREFIX}density"] = densities
    truth[CELL_COUNT_COLUMN] = np.asarray(counts, dtype=np.int64)
    return truth.reset_index(drop=True)


def build_image_index(
    plate_table: pd.DataFrame, well_table: pd.DataFrame, *, sites_per_well: int
) -> pd.DataFrame:
    """Return the load_data-style image index: one row per site of every well.

    Args:
        plate_table: One row per plate with ``schema.PLATE_KEY``.
        well_table: One row per well with ``schema.SOURCE, PLATE, WELL``.
        sites_per_well: Sites imaged per well (``Metadata_Site`` is "1" ... as strings).

    Returns:
        One row per site with ``schema.SOURCE, BATCH, PLATE, WELL, SITE`` and, per channel,
        ``FileName_Orig{ch}`` = ``{plate}_{well}_s{site}_{ch}.tiff`` and
        ``PathName_Orig{ch}`` = ``{source}/{batch}/{plate}``.
    """
    wells = well_table[[schema.SOURCE, schema.PLATE, schema.WELL]].merge(
        plate_table[list(schema.PLATE_KEY)],
        on=[schema.SOURCE, schema.PLATE],
        how="left",
        validate="many_to_one",
    )
    sites = pd.DataFrame({schema.SITE: [str(s) for s in range(1, sites_per_well + 1)]})
    index = wells.merge(sites, how="cross")
    index = index[[schema.SOURCE, schema.BATCH, schema.PLATE, schema.WELL, schema.SITE]]
    stem = index[schema.PLATE] + "_" + index[schema.WELL] + "_s" + index[schema.SITE]
    folder = index[schema.SOURCE] + "/" + index[schema.BATCH] + "/" + index[schema.PLATE]
    columns = {}
    for channel in schema.CHANNELS:
        columns[schema.file_name_column(channel)] = stem + f"_{channel}.tiff"
        columns[schema.path_name_column(channel)] = folder
    return pd.concat([index, pd.DataFrame(columns, index=index.index)], axis=1).reset_index(drop=True)
