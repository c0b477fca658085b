import numpy as np
import pytest

from micon.errors import InvalidConfigError
from micon.imaging import check_channel_shapes, check_field
from micon.imaging.qc import FieldQcConfig, check_saturation, conform_channel_dtype
from tests.parameters import make_config

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


QC = make_config(FieldQcConfig, "data_engineering.crops.qc")


def test_conform_channel_dtype_uint16_unchanged():
    image = np.arange(16, dtype=np.uint16).reshape(4, 4)
    converted, problem = conform_channel_dtype(image, QC, key=KEY)
    assert problem is None and converted is image


@pytest.mark.parametrize("dtype", [np.uint8, np.float32, np.float64, np.int32])
def test_conform_channel_dtype_other_dtype_without_conversion_wrong_dtype(dtype):
    converted, (reason, detail) = conform_channel_dtype(np.ones((4, 4), dtype=dtype), QC, key=KEY)
    assert converted is None
    assert reason == "wrong_dtype"
    assert np.dtype(dtype).name in detail and "dtype_conversion" in detail


def test_conform_channel_dtype_rescale_maps_full_range():
    qc = make_config(
        FieldQcConfig,
        "data_engineering.crops.qc",
        dtype_conversion={"uint8": "rescale", "float32": "rescale"},
    )
    image, _ = conform_channel_dtype(np.array([[0, 255]], dtype=np.uint8), qc, key=KEY)
    assert image.tolist() == [[0, 65535]]
    image, _ = conform_channel_dtype(np.array([[0.0, 0.5, 1.0]], dtype=np.float32), qc, key=KEY)
    assert image.tolist() == [[0, 32768, 65535]]
    _, (reason, _) = conform_channel_dtype(np.array([[0.0, 2.0]], dtype=np.float32), qc, key=KEY)
    assert reason == "out_of_range"


def test_conform_channel_dtype_cast_keeps_integral_values_only():
    qc = make_config(FieldQcConfig, "data_engineering.crops.qc", dtype_conversion={"float64": "cast"})
    image, _ = conform_channel_dtype(np.array([[3.0, 4000.0]]), qc, key=KEY)
    assert image.dtype == np.uint16 and image.tolist() == [[3, 4000]]
    _, (reason, _) = conform_channel_dtype(np.array([[0.5, 1.0]]), qc, key=KEY)
    assert reason == "out_of_range"


def test_check_saturation_mostly_clipped_channel_named():
    field = np.random.default_rng(0).integers(0, 4000, size=(2, 10, 10)).astype(np.uint16)
    assert check_saturation(field, max_fraction=0.1, key=KEY, channels=["AGP", "DNA"]) is None
    field[1, :6] = 4095  # a 12-bit camera clipping
    reason, detail = check_saturation(field, max_fraction=0.1, key=KEY, channels=["AGP", "DNA"])
    assert reason == "saturated" and "DNA 60.0%" in detail and KEY in detail


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"dtype_conversion": {"uint8": "stretch"}}, "uint8"),
        ({"dtype_conversion": {"str": "cast"}}, "str"),
        ({"max_saturated_fraction": 1.5}, "max_saturated_fraction"),
    ],
)
def test_field_qc_config_bad_value_raises(kwargs, match):
    with pytest.raises(InvalidConfigError, match=match):
        make_config(FieldQcConfig, "data_engineering.crops.qc", **kwargs)
