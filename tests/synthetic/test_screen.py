from __future__ import annotations

import pickle
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidInputError
from micon.sources.synthetic import (
    DMSO_MOA,
    SYNTHETIC_PROFILE,
    SyntheticScreen,
    SyntheticScreenConfig,
    generate_screen,
)
from micon.sources.synthetic import screen as screen_module


def _keys_of(index: pd.DataFrame, row: int) -> list[str]:
    site = index.iloc[row]
    return [
        schema.image_key(site[schema.path_name_column(ch)], site[schema.file_name_column(ch)])
        for ch in schema.CHANNELS
    ]


def test_generate_screen_tables_follow_contracts(tiny_screen: SyntheticScreen) -> None:
    config = tiny_screen.config
    n_plates = config.n_sources * config.n_batches_per_source * config.n_plates_per_batch
    n_wells_per_plate = config.n_compounds + config.n_invalid_compounds + config.n_dmso_wells_per_plate
    assert len(tiny_screen.plate_table) == n_plates
    assert len(tiny_screen.well_table) == n_plates * n_wells_per_plate
    assert len(tiny_screen.image_index) == len(tiny_screen.well_table) * config.sites_per_well
    assert set(tiny_screen.effects) == set(tiny_screen.plate_table[schema.PLATE])
    assert list(tiny_screen.compound_annotations[schema.JCP2022]) == list(
        tiny_screen.compound_table[schema.JCP2022]
    )
    assert set(tiny_screen.well_table[schema.JCP2022]) == set(tiny_screen.compound_table[schema.JCP2022])
    assert len(tiny_screen.well_truth) == len(tiny_screen.well_table)


def test_generate_screen_wells_carry_their_compound_moa(tiny_screen: SyntheticScreen) -> None:
    wells = tiny_screen.well_table
    assert list(wells.columns) == [schema.SOURCE, schema.PLATE, schema.WELL, schema.JCP2022, schema.MOA]
    assert wells[schema.MOA].notna().all()
    assert (wells.loc[wells[schema.JCP2022] == schema.DMSO_JCP2022, schema.MOA] == DMSO_MOA).all()
    moa = tiny_screen.compound_annotations.set_index(schema.JCP2022)[schema.MOA]
    assert (wells[schema.MOA] == wells[schema.JCP2022].map(moa)).all()
    assert SYNTHETIC_PROFILE.well_annotations == (schema.MOA,)


def test_generate_screen_image_index_load_data_columns(tiny_screen: SyntheticScreen) -> None:
    index = tiny_screen.image_index
    channel_columns = [
        col for ch in schema.CHANNELS for col in (schema.file_name_column(ch), schema.path_name_column(ch))
    ]
    assert list(index.columns) == [
        schema.SOURCE, schema.BATCH, schema.PLATE, schema.WELL, schema.SITE, *channel_columns
    ]  # fmt: skip
    assert (index[schema.SITE] == "1").all()
    first = index.iloc[0]
    plate, well = first[schema.PLATE], first[schema.WELL]
    assert first[schema.file_name_column("DNA")] == f"{plate}_{well}_s1_DNA.tiff"
    assert first[schema.path_name_column("DNA")] == f"{first[schema.SOURCE]}/{first[schema.BATCH]}/{plate}"
    assert not index.duplicated(list(schema.SITE_KEY)).any()


def test_generate_screen_fields_keyed_by_image_key_return_one_channel(tiny_screen: SyntheticScreen) -> None:
    index = tiny_screen.image_index
    assert len(tiny_screen.fields) == len(index) * len(schema.CHANNELS)
    assert set(tiny_screen.fields) == {key for row in range(len(index)) for key in _keys_of(index, row)}
    size = tiny_screen.config.field_size_px
    channels = [tiny_screen.fields[key]() for key in _keys_of(index, 0)]
    for image in channels:
        assert image.shape == (size, size)
        assert image.dtype == np.uint16
    assert not np.array_equal(channels[0], channels[1])


def test_generate_screen_same_config_identical_tables_and_pixels_in_any_order(
    tiny_screen: SyntheticScreen, tiny_config: SyntheticScreenConfig
) -> None:
    again = generate_screen(tiny_config)
    for name in (
        "compound_table",
        "plate_table",
        "well_table",
        "image_index",
        "compound_annotations",
        "well_truth",
    ):
        pd.testing.assert_frame_equal(getattr(tiny_screen, name), getattr(again, name))
    keys = [*_keys_of(tiny_screen.image_index, 0), *_keys_of(tiny_screen.image_index, 5)]
    for key in reversed(keys):  # the second screen renders in the opposite order
        np.testing.assert_array_equal(again.fields[key](), tiny_screen.fields[key]())


def test_generate_screen_other_seed_different_tables_and_pixels(
    tiny_screen: SyntheticScreen, make_config: Callable[..., SyntheticScreenConfig]
) -> None:
    other = generate_screen(make_config(seed=1))
    assert not other.well_table.equals(tiny_screen.well_table)
    assert not other.well_truth.equals(tiny_screen.well_truth)
    key = sorted(set(other.fields) & set(tiny_screen.fields))[0]
    assert not np.array_equal(other.fields[key](), tiny_screen.fields[key]())


def test_generate_screen_channels_of_one_site_render_once(
    make_config: Callable[..., SyntheticScreenConfig], monkeypatch: pytest.MonkeyPatch
) -> None:
    calls: list[int] = []
    original = screen_module.render_field

    def counting(*args: object, **kwargs: object) -> np.ndarray:
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(screen_module, "render_field", counting)
    screen = generate_screen(make_config())
    images = [screen.fields[key]() for key in _keys_of(screen.image_index, 0)]
    assert len(calls) == 1
    images[0][:] = 0  # returned arrays are copies: the cache stays intact
    assert screen.fields[_keys_of(screen.image_index, 0)[0]]().any()


def test_generate_screen_fields_survive_pickle(tiny_screen: SyntheticScreen) -> None:
    key = _keys_of(tiny_screen.image_index, 2)[1]
    restored = pickle.loads(pickle.dumps(tiny_screen.fields))
    np.testing.assert_array_equal(restored[key](), tiny_screen.fields[key]())


def test_site_renderer_unknown_site_raises_naming_it(tiny_screen: SyntheticScreen) -> None:
    renderer = next(iter(tiny_screen.fields.values())).renderer
    with pytest.raises(InvalidInputError, match="SYN999999"):
        renderer.render_site("SYN999999", "A01", "1")
