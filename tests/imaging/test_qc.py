import numpy as np
import pytest

from micon.imaging import check_channel_shapes, check_field

KEY = "src_1/plate_1/A01/1"


@pytest.fixture
def field() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 4000, size=(5, 16, 16)).astype(np.uint16)


def test_check_field_good_field_none(field):
    assert check_field(field, expected_channels=5, key=KEY) is None
    assert check_field(field.astype(np.float32), expected_channels=5, key=KEY) is None


@pytest.mark.parametrize("shape", [(4, 16, 16), (16, 16), (1, 5, 16, 16)])
def test_check_field_wrong_channels_channel_count(shape):
    reason, detail = check_field(np.ones(shape, dtype=np.uint16), expected_channels=5, key=KEY)
    assert reason == "channel_count"
    assert KEY in detail
    assert str(shape) in detail


@pytest.mark.parametrize("dtype", [bool, complex, object])
def test_check_field_non_numeric_wrong_dtype(field, dtype):
    reason, detail = check_field(field.astype(dtype), expected_channels=5, key=KEY)
    assert reason == "wrong_dtype"
    assert KEY in detail
    assert np.dtype(dtype).name in detail


def test_check_field_out_of_uint16_range_wrong_dtype(field):
    widened = field.astype(np.int32)
    widened[2, 0, 0] = 70000
    reason, detail = check_field(widened, expected_channels=5, key=KEY)
    assert reason == "wrong_dtype"
    assert "70000" in detail


def test_check_field_nan_not_finite(field):
    floats = field.astype(np.float64)
    floats[1, 3, 3] = np.nan
    reason, detail = check_field(floats, expected_channels=5, key=KEY)
    assert reason == "not_finite"
    assert KEY in detail


def test_check_field_constant_channel_blank_channel(field):
    field[3] = 7
    reason, detail = check_field(
        field, expected_channels=5, key=KEY, channels=["AGP", "DNA", "ER", "Mito", "RNA"]
    )
    assert reason == "blank_channel"
    assert KEY in detail
    assert "Mito" in detail


def test_check_channel_shapes_equal_none():
    images = {"AGP": np.zeros((8, 8)), "DNA": np.zeros((8, 8))}
    assert check_channel_shapes(images, key=KEY) is None


def test_check_channel_shapes_differ_shape_mismatch():
    images = {"AGP": np.zeros((8, 8)), "DNA": np.zeros((8, 9))}
    reason, detail = check_channel_shapes(images, key=KEY)
    assert reason == "shape_mismatch"
    assert KEY in detail
    assert "DNA=(8, 9)" in detail


def test_check_channel_shapes_3d_image_channel_count():
    reason, detail = check_channel_shapes({"AGP": np.zeros((8, 8, 3))}, key=KEY)
    assert reason == "channel_count"
    assert "AGP" in detail
