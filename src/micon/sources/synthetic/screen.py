"""The synthetic screen: compound, plate, well and image tables plus lazily rendered single-channel images."""

from __future__ import annotations

import dataclasses
import logging
import threading
import zlib
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.jump.cpg0016 import JUMP_PROFILE
from micon.sources.synthetic.compounds import generate_compounds
from micon.sources.synthetic.config import SyntheticScreenConfig
from micon.sources.synthetic.effects import TechnicalEffects, sample_technical_effects
from micon.sources.synthetic.layout import generate_layout
from micon.sources.synthetic.phenotypes import compound_phenotypes
from micon.sources.synthetic.render import render_field

logger = logging.getLogger(__name__)

# The synthetic screen models a JUMP cpg0016 screen: its five Cell Painting channels, DMSO wells on every
# plate, held-out sources, batches and compounds.
SYNTHETIC_PROFILE = dataclasses.replace(JUMP_PROFILE, name="synthetic")

# Sites whose 5-channel field stays rendered: the 5 channel callables of a site then render it once.
_CACHED_SITES = 8


@dataclass(frozen=True, kw_only=True)
class SyntheticScreen:
    """A generated screen in the JUMP layout (see docs/architecture.md for the table contracts).

    Attributes:
        config: The settings it was generated from.
        compound_table: One row per compound (JCP2022, SMILES, InChIKey), DMSO last.
        plate_table: One row per plate (source, batch, plate, plate type).
        well_table: One row per well (source, plate, well, JCP2022).
        image_index: One row per site, load_data style: site key, batch, file and path name per channel.
        phenotypes: One row per compound indexed by JCP2022: the phenotype parameters it renders with.
        effects: Each plate's technical effects.
        fields: ``{image key: callable}``; each call renders (seeded per site) one channel,
            ``(H, W) uint16``; keys are ``schema.image_key(PathName_Orig{ch}, FileName_Orig{ch})``.
    """

    config: SyntheticScreenConfig
    compound_table: pd.DataFrame
    plate_table: pd.DataFrame
    well_table: pd.DataFrame
    image_index: pd.DataFrame
    phenotypes: pd.DataFrame
    effects: dict[str, TechnicalEffects]
    fields: dict[str, Callable[[], np.ndarray]]


class _SiteRenderer:
    """Render 5-channel fields of the screen's sites, seeded per site, keeping the last few in a cache."""

    def __init__(
        self,
        *,
        config: SyntheticScreenConfig,
        phenotypes: pd.DataFrame,
        effects: dict[str, TechnicalEffects],
        compound_of_well: dict[tuple[str, str], str],
    ) -> None:
        self._config = config
        self._phenotypes = phenotypes
        self._effects = effects
        self._compound_of_well = compound_of_well
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

    def render_site(self, plate: str, well: str, site: str) -> np.ndarray:
        """Return the read-only ``(5, H, W) uint16`` field of one site (rendered once while cached)."""
        key = (plate, well, site)
        with self._lock:
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
        try:
            phenotype = self._phenotypes.loc[self._compound_of_well[(plate, well)]]
            effects = self._effects[plate]
        except KeyError as exc:
            raise InvalidInputError(f"site {plate}/{well}/s{site} is not in the synthetic screen") from exc
        rng = np.random.default_rng([self._config.seed, zlib.crc32(f"{plate}/{well}/{site}".encode())])
        image = render_field(phenotype, effects, rng=rng, config=self._config)
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
    """Generate the synthetic screen: tables at once, images lazily (one callable per channel image).

    The same config gives identical tables and identical pixels, in any rendering order.

    Args:
        config: Screen settings.

    Returns:
        The screen's tables, phenotypes, technical effects and image callables.
    """
    compound_table = generate_compounds(config)
    phenotypes = compound_phenotypes(compound_table, config)
    plate_table, well_table = generate_layout(compound_table, config)
    effects = sample_technical_effects(plate_table, config)
    image_index = build_image_index(plate_table, well_table, sites_per_well=config.sites_per_well)
    well_columns = well_table[[schema.PLATE, schema.WELL, schema.JCP2022]]
    compound_of_well = {(plate, well): jcp for plate, well, jcp in well_columns.itertuples(index=False)}
    renderer = _SiteRenderer(
        config=config, phenotypes=phenotypes, effects=effects, compound_of_well=compound_of_well
    )
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
        "synthetic screen: %d compounds, %d plates, %d wells, %d sites, %d channel images",
        len(compound_table), len(plate_table), len(well_table), len(image_index), len(fields),
    )  # fmt: skip
    return SyntheticScreen(
        config=config,
        compound_table=compound_table,
        plate_table=plate_table,
        well_table=well_table,
        image_index=image_index,
        phenotypes=phenotypes,
        effects=effects,
        fields=fields,
    )


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
