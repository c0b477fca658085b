import numpy as np
import pandas as pd
import pytest

from micon.errors import InvalidConfigError, InvalidImageError, MissingColumnsError
from micon.imaging import extract_crops


@pytest.fixture
def field() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 60000, size=(3, 40, 50)).astype(np.uint16)


def test_extract_crops_inside_field_equal_source_pixels(field):
    centroids = pd.DataFrame({"y": [10.2, 20.0, 29.6], "x": [10.0, 25.4, 39.5], "area_px": [1, 2, 3]})
    crops, kept = extract_crops(field, centroids, crop_size_px=8)
    assert crops.shape == (3, 3, 8, 8)
    assert crops.dtype == np.uint16
    assert crops.flags.c_contiguous
    pd.testing.assert_frame_equal(kept, centroids)
    # rounded centres (10, 10), (20, 25), (30, 40) sit at pixel 4 of each 8-px crop
    for crop, (r, c) in zip(crops, [(10, 10), (20, 25), (30, 40)], strict=True):
        np.testing.assert_array_equal(crop, field[:, r - 4 : r + 4, c - 4 : c + 4])


def test_extract_crops_odd_size_centred(field):
    crops, _ = extract_crops(field, pd.DataFrame({"y": [20.0], "x": [20.0]}), crop_size_px=5)
    np.testing.assert_array_equal(crops[0], field[:, 18:23, 18:23])
    assert crops[0, 1, 2, 2] == field[1, 20, 20]


def test_extract_crops_near_border_skipped(field):
    centroids = pd.DataFrame({"y": [3.0, 20.0, 38.0, 20.0, 4.0], "x": [20.0, 20.0, 20.0, 47.0, 4.0]})
    crops, kept = extract_crops(field, centroids, crop_size_px=8)
    assert crops.shape == (2, 3, 8, 8)  # (20, 20) and (4, 4): 4 - 4 = 0 is the first row/column
    np.testing.assert_array_equal(kept["y"], [20.0, 4.0])
    np.testing.assert_array_equal(crops[1], field[:, 0:8, 0:8])


def test_extract_crops_no_centroids_empty(field):
    crops, kept = extract_crops(field, pd.DataFrame({"y": [], "x": []}), crop_size_px=8)
    assert crops.shape == (0, 3, 8, 8)
    assert kept.empty


def test_extract_crops_crop_larger_than_field_empty(field):
    crops, kept = extract_crops(field, pd.DataFrame({"y": [20.0], "x": [25.0]}), crop_size_px=64)
    assert crops.shape == (0, 3, 64, 64)
    assert kept.empty


def test_extract_crops_float_field_rounded_uint16():
    field = np.full((1, 10, 10), 2.6)
    crops, _ = extract_crops(field, pd.DataFrame({"y": [5.0], "x": [5.0]}), crop_size_px=4)
    assert crops.dtype == np.uint16
    assert (crops == 3).all()


def test_extract_crops_2d_field_raises():
    with pytest.raises(InvalidImageError, match=r"\(10, 10\)"):
        extract_crops(np.zeros((10, 10)), pd.DataFrame({"y": [5.0], "x": [5.0]}), crop_size_px=4)


def test_extract_crops_missing_column_raises(field):
    with pytest.raises(MissingColumnsError, match="'x'"):
        extract_crops(field, pd.DataFrame({"y": [5.0]}), crop_size_px=4)


def test_extract_crops_bad_size_raises(field):
    with pytest.raises(InvalidConfigError, match="crop_size_px"):
        extract_crops(field, pd.DataFrame({"y": [5.0], "x": [5.0]}), crop_size_px=0)
