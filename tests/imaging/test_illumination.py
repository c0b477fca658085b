import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile

from micon import schema
from micon.datasets import FileStoreDataset
from micon.errors import InvalidConfigError, InvalidImageError, InvalidInputError
from micon.imaging.illumination import (
    CorrectedFields,
    correct_illumination,
    corrected_image_loaders,
    illumination_keys_of,
)


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


def _index(**illum: str | None) -> pd.DataFrame:
    """Two sites, channels DNA (corrected by the plate's function) and ER (read as stored)."""
    table = pd.DataFrame(
        {
            schema.file_name_column("DNA"): ["s1-dna.tiff", "s2-dna.tiff"],
            schema.path_name_column("DNA"): ["images/P1/", "images/P1"],
            schema.file_name_column("ER"): ["s1-er.tiff", "s2-er.tiff"],
            schema.path_name_column("ER"): ["images/P1", "images/P1"],
            schema.illum_file_name_column("DNA"): ["P1_IllumDNA.npy"] * 2,
            schema.illum_path_name_column("DNA"): ["illum/P1"] * 2,
        }
    )
    for column, value in illum.items():
        table[column] = value
    return table


def test_illumination_keys_of_pairs_corrected_channels_and_leaves_the_others_uncorrected():
    pairs = illumination_keys_of(_index())
    assert pairs == {
        "images/P1/s1-dna.tiff": "illum/P1/P1_IllumDNA.npy",
        "images/P1/s2-dna.tiff": "illum/P1/P1_IllumDNA.npy",
        "images/P1/s1-er.tiff": None,
        "images/P1/s2-er.tiff": None,
    }


def test_illumination_keys_of_names_the_image_without_a_function_and_refuses_no_channels():
    index = _index()
    index.loc[1, schema.illum_file_name_column("DNA")] = None
    with pytest.raises(InvalidInputError, match=r"images/P1/s2-dna\.tiff.*1 such image"):
        illumination_keys_of(index)
    with pytest.raises(InvalidInputError, match="no FileName_Orig"):
        illumination_keys_of(pd.DataFrame({schema.SITE: ["1"]}))


def test_corrected_fields_read_in_place_from_a_file_store_survive_pickling(tmp_path: Path):
    """What a worker process gets: the mapping pickled, the store and the index's keys with it."""
    (tmp_path / "images/P1").mkdir(parents=True)
    (tmp_path / "illum/P1").mkdir(parents=True)
    for site, value in (("s1", 40), ("s2", 60)):
        tifffile.imwrite(tmp_path / f"images/P1/{site}-dna.tiff", np.full((3, 3), value, dtype=np.uint16))
        tifffile.imwrite(tmp_path / f"images/P1/{site}-er.tiff", np.full((3, 3), 7, dtype=np.uint16))
    np.save(tmp_path / "illum/P1/P1_IllumDNA.npy", np.full((3, 3), 2.0, dtype=np.float32))
    store = FileStoreDataset(root=str(tmp_path)).load()
    fields = pickle.loads(pickle.dumps(CorrectedFields(illumination_keys_of(_index()), store.read_array)))
    assert len(fields) == 4 and "images/P1/s1-dna.tiff" in fields and "other.tiff" not in fields
    assert fields.illumination_key("images/P1/s2-er.tiff") is None
    np.testing.assert_array_equal(fields["images/P1/s2-dna.tiff"](), np.full((3, 3), 30, dtype=np.uint16))
    np.testing.assert_array_equal(fields["images/P1/s1-er.tiff"](), np.full((3, 3), 7, dtype=np.uint16))
    with pytest.raises(KeyError):
        fields["other.tiff"]
