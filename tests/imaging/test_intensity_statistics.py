from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.errors import InvalidImageError, MissingColumnsError
from micon.imaging.intensity_statistics import intensity_feature_names, measure_intensity_statistics

CHANNELS = ("A", "B")


def _store() -> tuple[np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(0)
    crops = rng.integers(0, 1000, size=(3, 2, 8, 8)).astype(np.uint16)
    masks = np.zeros((3, 2, 8, 8), dtype=np.uint8)
    masks[:, 1, 2:6, 1:7] = 1  # cell
    masks[:, 0, 3:5, 3:5] = 1  # nucleus
    index = pd.DataFrame({schema.CROP_ID: [1, 0], schema.PLATE: ["p", "p"]})
    return crops, masks, index


def test_intensity_feature_names_channel_major() -> None:
    assert intensity_feature_names(CHANNELS)[:6] == [
        "Intensity_mean_A", "Intensity_sd_A", "Intensity_p10_A", "Intensity_p50_A", "Intensity_p90_A",
        "Intensity_mean_B",
    ]  # fmt: skip


def test_measure_intensity_statistics_values_inside_cell_mask_against_numpy() -> None:
    crops, masks, index = _store()
    table = measure_intensity_statistics(crops, masks, index, channels=CHANNELS)
    assert list(table.columns) == [schema.CROP_ID, schema.PLATE, *intensity_feature_names(CHANNELS)]
    assert table[schema.CROP_ID].tolist() == [1, 0]  # crop_index order
    for row, crop_id in enumerate([1, 0]):
        for c, channel in enumerate(CHANNELS):
            inside = crops[crop_id, c][masks[crop_id, 1] > 0].astype(float)
            assert table.loc[row, f"Intensity_mean_{channel}"] == pytest.approx(inside.mean())
            assert table.loc[row, f"Intensity_sd_{channel}"] == pytest.approx(inside.std())
            assert table.loc[row, f"Intensity_p90_{channel}"] == pytest.approx(np.percentile(inside, 90))
            assert table.loc[row, f"Intensity_p10_{channel}"] == pytest.approx(np.percentile(inside, 10))


def test_measure_intensity_statistics_missing_crop_id_raises_naming_it() -> None:
    crops, masks, index = _store()
    with pytest.raises(MissingColumnsError, match=schema.CROP_ID):
        measure_intensity_statistics(crops, masks, index.drop(columns=schema.CROP_ID), channels=CHANNELS)


def test_measure_intensity_statistics_wrong_channel_count_raises() -> None:
    crops, masks, index = _store()
    with pytest.raises(InvalidImageError, match="channels"):
        measure_intensity_statistics(crops, masks, index, channels=("A",))


def test_measure_intensity_statistics_crop_id_outside_store_raises() -> None:
    crops, masks, _ = _store()
    with pytest.raises(InvalidImageError, match="3 crops"):
        measure_intensity_statistics(crops, masks, pd.DataFrame({schema.CROP_ID: [5]}), channels=CHANNELS)


def test_measure_intensity_statistics_empty_cell_mask_raises_naming_the_crop() -> None:
    crops, masks, index = _store()
    masks[2, 1] = 0  # crop 2: empty cell mask, which extraction never writes
    index = pd.DataFrame({schema.CROP_ID: [1, 2], schema.PLATE: ["p", "q"]})
    with pytest.raises(InvalidImageError, match=r"empty cell mask \(crop ids \[2\]"):
        measure_intensity_statistics(crops, masks, index, channels=CHANNELS)
