from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from skimage.filters import threshold_otsu
from skimage.measure import label, regionprops

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.synthetic import (
    SyntheticScreenConfig,
    TechnicalEffects,
    ideal_effects,
    render_field,
    render_field_with_nuclei,
)
from tests.parameters import make_config

CONFIG = make_config(
    SyntheticScreenConfig, "synthetic", env="base", field_size_px=128, mean_cells_per_field=10.0
)
EFFECTS = TechnicalEffects(
    gain=(1.5, 0.8, 1.0, 2.0, 1.2),
    offset_counts=(150.0, 200.0, 120.0, 180.0, 100.0),
    vignetting=0.3,
    vignetting_center=(0.45, 0.55),
    blur_sigma_px=0.8,
    read_noise_sd_counts=20.0,
    shot_noise_factor=1.0,
    cell_size_scale=1.0,
)


def _nucleus_areas(dna: np.ndarray) -> list[int]:
    return [r.area for r in regionprops(label(dna > threshold_otsu(dna))) if r.area >= 15]


def test_render_field_default_returns_uint16_channels_first() -> None:
    image = render_field({}, EFFECTS, rng=np.random.default_rng(0), config=CONFIG)
    assert image.shape == (len(schema.CHANNELS), 128, 128)
    assert image.dtype == np.uint16
    assert schema.CHANNELS.index("DNA") == 1


def test_render_field_same_rng_seed_identical_pixels_other_seed_different() -> None:
    first = render_field({"cell_size": 0.5}, EFFECTS, rng=np.random.default_rng(7), config=CONFIG)
    again = render_field({"cell_size": 0.5}, EFFECTS, rng=np.random.default_rng(7), config=CONFIG)
    other = render_field({"cell_size": 0.5}, EFFECTS, rng=np.random.default_rng(8), config=CONFIG)
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_render_field_with_nuclei_otsu_finds_rendered_nuclei(seed: int) -> None:
    image, centers = render_field_with_nuclei({}, EFFECTS, rng=np.random.default_rng(seed), config=CONFIG)
    dna = image[schema.CHANNELS.index("DNA")]
    labels = label(dna > threshold_otsu(dna))
    n_found = sum(1 for r in regionprops(labels) if r.area >= 15)
    assert abs(n_found - len(centers)) <= max(1, round(0.2 * len(centers)))
    # Every rendered nucleus centre lies inside a detected object; diameters are 8-14 px.
    hits = labels[np.rint(centers[:, 0]).astype(int), np.rint(centers[:, 1]).astype(int)]
    assert (hits > 0).mean() >= 0.9
    diameters = 2 * np.sqrt(np.asarray(_nucleus_areas(dna)) / np.pi)
    assert 8.0 <= np.median(diameters) <= 14.0


def test_render_field_channels_show_their_compartments() -> None:
    image, centers = render_field_with_nuclei(
        {}, ideal_effects(), rng=np.random.default_rng(3), config=CONFIG
    )
    agp, dna, er, mito, rna = image.astype(float)
    yy, xx = np.rint(centers).astype(int).T
    # DNA is bright at nuclei and dark elsewhere; ER and actin are cytoplasmic, so dimmer than DNA there.
    assert np.median(dna[yy, xx]) > 10 * np.median(dna)
    assert np.median(dna[yy, xx]) > np.median(er[yy, xx])
    for channel in (agp, er, mito, rna):
        assert channel.max() > 5 * np.median(channel)


def test_render_field_nucleus_size_phenotype_changes_nuclear_area() -> None:
    small = render_field({"nucleus_size": -1.0}, ideal_effects(), rng=np.random.default_rng(4), config=CONFIG)
    large = render_field({"nucleus_size": 1.0}, ideal_effects(), rng=np.random.default_rng(4), config=CONFIG)
    assert np.median(_nucleus_areas(large[1])) > 1.4 * np.median(_nucleus_areas(small[1]))


def test_render_field_agp_rim_phenotype_moves_actin_to_cell_edge() -> None:
    def rim_ratio(value: float) -> float:
        image, centers = render_field_with_nuclei(
            {"agp_rim": value}, ideal_effects(), rng=np.random.default_rng(5), config=CONFIG
        )
        agp = image[0].astype(float)
        yy, xx = np.rint(centers).astype(int).T
        return float(agp.max() / np.median(agp[yy, xx]))

    assert rim_ratio(1.0) > 1.5 * rim_ratio(-1.0)


def test_render_field_technical_gain_scales_intensity() -> None:
    bright = dataclasses.replace(ideal_effects(), gain=(3.0,) * 5)
    base = render_field({}, ideal_effects(), rng=np.random.default_rng(6), config=CONFIG).astype(float)
    scaled = render_field({}, bright, rng=np.random.default_rng(6), config=CONFIG).astype(float)
    np.testing.assert_allclose(scaled.mean(axis=(1, 2)), 3 * base.mean(axis=(1, 2)), rtol=0.01)


def test_render_field_unknown_parameter_raises_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="nucleus_colour"):
        render_field({"nucleus_colour": 1.0}, EFFECTS, rng=np.random.default_rng(0), config=CONFIG)


def test_render_field_non_finite_parameter_raises_naming_it() -> None:
    with pytest.raises(InvalidInputError, match="cell_size"):
        render_field({"cell_size": float("nan")}, EFFECTS, rng=np.random.default_rng(0), config=CONFIG)
