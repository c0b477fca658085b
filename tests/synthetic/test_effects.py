from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import MissingColumnsError
from micon.sources.synthetic import (
    SyntheticScreen,
    SyntheticScreenConfig,
    TechnicalEffects,
    generate_compounds,
    generate_layout,
    sample_technical_effects,
)


def _plates(config: SyntheticScreenConfig) -> pd.DataFrame:
    return generate_layout(generate_compounds(config), config)[0]


def test_sample_technical_effects_one_entry_per_plate(tiny_config: SyntheticScreenConfig) -> None:
    plates = _plates(tiny_config)
    effects = sample_technical_effects(plates, tiny_config)
    assert set(effects) == set(plates[schema.PLATE])
    for value in effects.values():
        assert isinstance(value, TechnicalEffects)
        assert len(value.gain) == len(value.offset_counts) == len(schema.CHANNELS)
        assert all(g > 0 for g in value.gain)
        assert all(0.0 <= v < 1.0 for v in value.vignetting)
        assert all(0.0 <= b <= 2 * tiny_config.max_blur_sigma_px + 1.0 for b in value.blur_sigma_px)
        assert len(value.gamma) == len(value.background_counts) == len(schema.CHANNELS)
        assert np.allclose(np.diag(value.crosstalk), 1.0)
        assert value.pixel_scale > 0


def test_sample_technical_effects_same_seed_identical_other_seed_different(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    plates = _plates(make_config())
    assert sample_technical_effects(plates, make_config()) == sample_technical_effects(plates, make_config())
    assert sample_technical_effects(plates, make_config()) != sample_technical_effects(
        plates, make_config(seed=5)
    )


def test_sample_technical_effects_source_spread_exceeds_within_source_spread(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    config = make_config(n_sources=4, n_batches_per_source=3)
    plates = _plates(config)
    effects = sample_technical_effects(plates, config)
    log_gain = pd.DataFrame(
        np.log([effects[p].gain for p in plates[schema.PLATE]]), index=plates[schema.SOURCE].to_numpy()
    )
    within = log_gain.groupby(level=0).std().mean().mean()
    between = log_gain.groupby(level=0).mean().std().mean()
    assert between > 2 * within
    # Sources differ several-fold in some channel's intensity.
    source_gain = np.exp(log_gain.groupby(level=0).mean())
    assert (source_gain.max() / source_gain.min()).max() > 2.0


def test_sample_technical_effects_zero_sizes_give_unit_gain(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    config = make_config(source_gain_log_sd=0.0, batch_gain_log_sd=0.0, plate_gain_log_sd=0.0)
    effects = sample_technical_effects(_plates(config), config)
    assert all(e.gain == (1.0,) * len(schema.CHANNELS) for e in effects.values())


def test_sample_technical_effects_missing_batch_column_raises_naming_it(tiny_config) -> None:
    with pytest.raises(MissingColumnsError, match=schema.BATCH):
        sample_technical_effects(pd.DataFrame({schema.SOURCE: ["s"], schema.PLATE: ["p"]}), tiny_config)


def test_technical_effects_raw_well_intensity_neighbours_share_source(tiny_screen: SyntheticScreen) -> None:
    index = tiny_screen.image_index
    channel_means = []
    for row in index.itertuples(index=False):
        site = row._asdict()
        channel_means.append(
            [
                tiny_screen.fields[
                    schema.image_key(site[schema.path_name_column(ch)], site[schema.file_name_column(ch)])
                ]().mean()
                for ch in schema.CHANNELS
            ]
        )
    features = np.log(np.asarray(channel_means))
    distance = np.linalg.norm(features[:, None] - features[None], axis=2)
    np.fill_diagonal(distance, np.inf)
    neighbour = distance.argmin(axis=1)
    source = index[schema.SOURCE].to_numpy()
    compound = index.merge(tiny_screen.well_table, on=list(schema.WELL_KEY))[schema.JCP2022].to_numpy()
    treated = compound != schema.DMSO_JCP2022
    assert (source[neighbour] == source).mean() > 0.8
    # Naive features find the source far more often than a replicate of the compound.
    assert (compound[neighbour] == compound)[treated].mean() < 0.5 * (source[neighbour] == source).mean()


def test_sample_technical_effects_sources_differ_in_more_than_gain_and_offset(
    make_config: Callable[..., SyntheticScreenConfig],
) -> None:
    config = make_config(n_sources=3, n_batches_per_source=1, n_plates_per_batch=1)
    effects = list(sample_technical_effects(_plates(config), config).values())
    for name in ("gamma", "illumination_center", "blur_sigma_px", "pixel_scale", "crosstalk"):
        values = [np.asarray(getattr(e, name), dtype=float) for e in effects]
        assert not all(np.allclose(values[0], v) for v in values[1:]), name


def test_technical_effects_well_gain_edge_wells_brighter(tiny_config: SyntheticScreenConfig) -> None:
    effects = next(iter(sample_technical_effects(_plates(tiny_config), tiny_config).values()))
    rng = np.random.default_rng(0)
    edge = effects.well_gain("A12", rng=rng, well_gain_log_sd=0.0)
    inner = effects.well_gain("H12", rng=rng, well_gain_log_sd=0.0)
    gradient = np.asarray(effects.intensity_gradient) @ np.array([-0.5 - (7 / 15 - 0.5), 0.0])
    np.testing.assert_allclose(np.log(edge / inner), effects.edge_gain + gradient, atol=1e-9)
