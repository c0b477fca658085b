from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.synthetic import (
    CELL_COUNT_COLUMN,
    LATENT_VARIABLES,
    SiteCells,
    SyntheticScreen,
    SyntheticScreenConfig,
    TechnicalEffects,
    draw_site_cells,
    ideal_effects,
    render_field,
    render_field_with_nuclei,
)
from micon.sources.synthetic.biology import UNTREATED, ControlState, subpopulation_weights
from tests.parameters import make_config

CONFIG = make_config(
    SyntheticScreenConfig, "synthetic", env="base", field_size_px=128, mean_cells_per_field=10.0
)
EFFECTS = dataclasses.replace(
    ideal_effects(),
    gain=(1.5, 0.8, 1.0, 2.0, 1.2),
    offset_counts=(150.0, 200.0, 120.0, 180.0, 100.0),
    background_counts=(50.0,) * 5,
    gamma=(1.1, 0.9, 1.0, 1.0, 1.2),
    saturation_counts=30000.0,
    vignetting=(0.3,) * 5,
    illumination_center=((0.45, 0.55),) * 5,
    blur_sigma_px=(0.8,) * 5,
    read_noise_sd_counts=20.0,
    shot_noise_factor=1.0,
)


def _cells(seed: int, *, shift: dict[str, float] | None = None, pixel_scale: float = 1.0) -> SiteCells:
    mean = np.zeros(len(LATENT_VARIABLES))
    for name, value in (shift or {}).items():
        mean[LATENT_VARIABLES.index(name)] = value
    control = ControlState(mean=mean, weights=subpopulation_weights(0.0), density=0.0)
    return draw_site_cells(
        control, UNTREATED, pixel_scale=pixel_scale, rng=np.random.default_rng(seed), config=CONFIG
    )


def _render(cells: SiteCells, effects: TechnicalEffects = EFFECTS, seed: int = 0) -> np.ndarray:
    return render_field(cells, effects, rng=np.random.default_rng(seed), field_size_px=128)


def _nucleus_areas(dna: np.ndarray) -> list[int]:
    return [r.area for r in regionprops(label(dna > threshold_otsu(dna))) if r.area >= 15]


def test_render_field_returns_uint16_channels_first() -> None:
    image = _render(_cells(0))
    assert image.shape == (len(schema.CHANNELS), 128, 128)
    assert image.dtype == np.uint16
    assert schema.CHANNELS.index("DNA") == 1


def test_render_field_same_cells_and_seed_identical_pixels_other_seed_different() -> None:
    cells = _cells(7)
    np.testing.assert_array_equal(_render(cells, seed=1), _render(cells, seed=1))
    assert not np.array_equal(_render(cells, seed=1), _render(cells, seed=2))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_render_field_with_nuclei_draws_every_cell_otsu_finds_them(seed: int) -> None:
    cells = _cells(seed)
    image, centers = render_field_with_nuclei(
        cells, EFFECTS, rng=np.random.default_rng(seed), field_size_px=128
    )
    np.testing.assert_array_equal(centers, cells.nucleus_center)
    dna = image[schema.CHANNELS.index("DNA")]
    labels = label(dna > threshold_otsu(dna))
    n_found = sum(1 for r in regionprops(labels) if r.area >= 15)
    assert abs(n_found - len(centers)) <= max(1, round(0.25 * len(centers)))
    hits = labels[np.rint(centers[:, 0]).astype(int), np.rint(centers[:, 1]).astype(int)]
    assert (hits > 0).mean() >= 0.85
    diameters = 2 * np.sqrt(np.asarray(_nucleus_areas(dna)) / np.pi)
    assert 8.0 <= np.median(diameters) <= 15.0


def test_render_field_channels_show_their_compartments() -> None:
    cells = _cells(3)
    image = _render(cells, ideal_effects()).astype(float)
    agp, dna, er, mito, rna = image
    yy, xx = np.rint(cells.nucleus_center).astype(int).T
    assert np.median(dna[yy, xx]) > 10 * max(np.median(dna), 1.0)
    assert np.median(dna[yy, xx]) > np.median(er[yy, xx])
    for channel in (agp, er, mito, rna):
        assert channel.max() > 5 * max(np.median(channel), 1.0)


def test_render_field_nucleus_size_latent_changes_nuclear_area() -> None:
    small = _render(_cells(4, shift={"nucleus_size": -0.8}), ideal_effects())
    large = _render(_cells(4, shift={"nucleus_size": 0.8}), ideal_effects())
    assert np.median(_nucleus_areas(large[1])) > 1.8 * np.median(_nucleus_areas(small[1]))


def test_render_field_pixel_scale_makes_cells_bigger() -> None:
    small = _render(_cells(5, pixel_scale=0.8), ideal_effects())
    large = _render(_cells(5, pixel_scale=1.25), ideal_effects())
    assert np.median(_nucleus_areas(large[1])) > 1.8 * np.median(_nucleus_areas(small[1]))


def test_render_field_mito_potential_latent_dims_mitotracker() -> None:
    low = _render(_cells(6, shift={"mito_potential": -1.0}), ideal_effects()).astype(float)
    high = _render(_cells(6, shift={"mito_potential": 1.0}), ideal_effects()).astype(float)
    mito = schema.CHANNELS.index("Mito")
    assert high[mito].mean() > 2.5 * low[mito].mean()


def test_render_field_technical_gain_scales_linear_detector() -> None:
    bright = dataclasses.replace(ideal_effects(), gain=(3.0,) * 5)
    cells = _cells(6)
    base = _render(cells, ideal_effects()).astype(float)
    scaled = _render(cells, bright).astype(float)
    np.testing.assert_allclose(scaled.mean(axis=(1, 2)), 3 * base.mean(axis=(1, 2)), rtol=0.01)


def test_render_field_gamma_and_saturation_not_undone_by_gain_and_offset() -> None:
    cells = _cells(8)
    linear = _render(cells, ideal_effects()).astype(float)
    bent = _render(cells, dataclasses.replace(ideal_effects(), gamma=(0.8,) * 5, saturation_counts=8000.0))
    for c in range(len(schema.CHANNELS)):
        slope, intercept = np.polyfit(linear[c].ravel(), bent[c].astype(float).ravel(), 1)
        residual = bent[c] - (slope * linear[c] + intercept)
        assert residual.std() > 0.02 * bent[c].std()


def test_render_field_non_finite_latent_raises_naming_variable() -> None:
    cells = _cells(0)
    latent = cells.latent.copy()
    latent[0, LATENT_VARIABLES.index("er_load")] = np.nan
    with pytest.raises(InvalidInputError, match="er_load"):
        _render(dataclasses.replace(cells, latent=latent))


def test_generate_screen_rendered_nuclei_equal_truth_cell_count(tiny_screen: SyntheticScreen) -> None:
    renderer = next(iter(tiny_screen.fields.values())).renderer
    truth = tiny_screen.well_truth.set_index([schema.PLATE, schema.WELL])
    for row in tiny_screen.image_index.head(6).itertuples(index=False):
        site = row._asdict()
        plate, well = site[schema.PLATE], site[schema.WELL]
        cells = renderer.site_cells(plate, well, site[schema.SITE])
        _, centers = render_field_with_nuclei(
            cells,
            tiny_screen.effects[plate],
            rng=np.random.default_rng(0),
            field_size_px=tiny_screen.config.field_size_px,
        )
        assert len(centers) == truth.loc[(plate, well), CELL_COUNT_COLUMN]  # one site per well here
        np.testing.assert_allclose(
            cells.latent.mean(axis=0),
            truth.loc[(plate, well), [f"truth_{v}" for v in LATENT_VARIABLES]].to_numpy(dtype=float),
        )
