import numpy as np
import pytest

from micon.errors import InvalidConfigError, InvalidImageError
from micon.imaging.illumination import correct_illumination, corrected_image_loaders


def test_correct_illumination_divides_rounds_and_clips_to_uint16():
    image = np.array([[10, 20], [30, 65535], [5, 7]], dtype=np.uint16)
    illum = np.array([[1.0, 2.0], [3.0, 0.5], [2.0, 2.0]], dtype=np.float32)
    corrected = correct_illumination(image, illum)
    assert corrected.dtype == np.uint16
    # 5 / 2 = 2.5 rounds half to even (2); 7 / 2 = 3.5 -> 4; 65535 / 0.5 clips at 65535
    np.testing.assert_array_equal(corrected, [[10, 10], [10, 65535], [2, 4]])


def test_correct_illumination_shape_mismatch_raises_naming_image():
    with pytest.raises(InvalidImageError, match=r"plate/A01.*\(2, 2\).*\(3, 3\)"):
        correct_illumination(np.ones((2, 2)), np.ones((3, 3)), key="plate/A01")


@pytest.mark.parametrize("bad", [0.0, -1.0, np.nan, np.inf])
def test_correct_illumination_non_positive_or_non_finite_function_raises(bad):
    illum = np.ones((2, 2))
    illum[1, 1] = bad
    with pytest.raises(InvalidImageError, match="finite and > 0"):
        correct_illumination(np.ones((2, 2)), illum)


def test_corrected_image_loaders_are_lazy_and_read_each_function_once():
    arrays = {
        "a.tiff": np.full((2, 2), 40, dtype=np.uint16),
        "b.tiff": np.full((2, 2), 60, dtype=np.uint16),
        "raw.tiff": np.full((2, 2), 7, dtype=np.uint16),
        "illum.npy": np.full((2, 2), 2.0),
    }
    reads: list[str] = []

    def read_array(key: str) -> np.ndarray:
        reads.append(key)
        return arrays[key]

    loaders = corrected_image_loaders(
        {"a.tiff": "illum.npy", "b.tiff": "illum.npy", "raw.tiff": None}, read_array
    )
    assert reads == []
    np.testing.assert_array_equal(loaders["a.tiff"](), np.full((2, 2), 20))
    np.testing.assert_array_equal(loaders["b.tiff"](), np.full((2, 2), 30))
    np.testing.assert_array_equal(loaders["raw.tiff"](), np.full((2, 2), 7))
    assert reads.count("illum.npy") == 1
    assert reads.count("a.tiff") == reads.count("b.tiff") == reads.count("raw.tiff") == 1


def test_corrected_image_loaders_cache_size_below_one_raises():
    with pytest.raises(InvalidConfigError, match="illum_cache_size"):
        corrected_image_loaders({}, lambda key: np.ones((1, 1)), illum_cache_size=0)


def test_correct_illumination_non_uint16_image_not_cast_left_to_the_dtype_policy():
    corrected = correct_illumination(np.full((2, 2), 200, dtype=np.uint8), np.full((2, 2), 2.0))
    assert corrected.dtype == np.float64  # the field QC quarantines it as wrong_dtype unless told how
    np.testing.assert_array_equal(corrected, 100.0)
