from pathlib import Path

import numpy as np
import pytest
import tifffile
from kedro.io.core import DatasetError
from kedro_datasets.partitions import PartitionedDataset

from micon.datasets import FileStoreDataset, TiffImageDataset
from tests.shared_data import require_shared


@pytest.fixture
def image() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 65535, size=(12, 9), dtype=np.uint16)


@pytest.fixture
def tiff_dataset(tmp_path: Path) -> TiffImageDataset:
    return TiffImageDataset(filepath=(tmp_path / "plate" / "a.tiff").as_posix())


class TestTiffImageDataset:
    def test_save_and_load(self, tiff_dataset, image):
        tiff_dataset.save(image)
        reloaded = tiff_dataset.load()
        assert reloaded.dtype == np.uint16
        np.testing.assert_array_equal(reloaded, image)

    def test_save_and_load_nd(self, tmp_path):
        stack = np.arange(2 * 3 * 4, dtype=np.float32).reshape(2, 3, 4)
        dataset = TiffImageDataset(filepath=(tmp_path / "stack.tiff").as_posix())
        dataset.save(stack)
        np.testing.assert_array_equal(dataset.load(), stack)

    def test_save_args_compression(self, tmp_path, image):
        dataset = TiffImageDataset(
            filepath=(tmp_path / "z.tiff").as_posix(), save_args={"compression": "zlib"}
        )
        dataset.save(image)
        np.testing.assert_array_equal(dataset.load(), image)

    def test_exists(self, tiff_dataset, image):
        assert not tiff_dataset.exists()
        tiff_dataset.save(image)
        assert tiff_dataset.exists()

    def test_save_leaves_no_temporary_file(self, tiff_dataset, image, tmp_path):
        tiff_dataset.save(image)
        tiff_dataset.save(image + 1)  # overwrite in place
        assert sorted(p.name for p in (tmp_path / "plate").iterdir()) == ["a.tiff"]
        np.testing.assert_array_equal(tiff_dataset.load(), image + 1)

    def test_load_missing_file_names_path(self, tiff_dataset):
        with pytest.raises(DatasetError, match="a.tiff"):
            tiff_dataset.load()

    def test_load_corrupt_file_names_path(self, tmp_path):
        path = tmp_path / "bad.tiff"
        path.write_bytes(b"not a tiff at all")
        with pytest.raises(DatasetError, match="bad.tiff"):
            TiffImageDataset(filepath=path.as_posix()).load()

    def test_save_non_array_raises(self, tiff_dataset):
        with pytest.raises(DatasetError, match="a.tiff"):
            tiff_dataset.save([1, 2, 3])

    def test_describe_in_repr(self, tiff_dataset):
        assert "a.tiff" in str(tiff_dataset)


class TestTiffImageDatasetPartitioned:
    def test_partitioned_round_trip_is_lazy(self, tmp_path, image):
        store = PartitionedDataset(path=(tmp_path / "images").as_posix(), dataset=TiffImageDataset)
        calls = []

        def render() -> np.ndarray:
            calls.append(1)
            return image + 7

        store.save({"src1/plate1/r01c01f01-ch1.tiff": image, "src1/plate1/r01c01f01-ch2.tiff": render})
        assert calls == [1]
        loaded = store.load()
        assert sorted(loaded) == ["src1/plate1/r01c01f01-ch1.tiff", "src1/plate1/r01c01f01-ch2.tiff"]
        assert all(callable(v) for v in loaded.values())
        np.testing.assert_array_equal(loaded["src1/plate1/r01c01f01-ch1.tiff"](), image)
        np.testing.assert_array_equal(loaded["src1/plate1/r01c01f01-ch2.tiff"](), image + 7)

    def test_partitioned_corrupt_partition_raises_on_load_naming_path(self, tmp_path, image):
        root = tmp_path / "images"
        store = PartitionedDataset(path=root.as_posix(), dataset={"type": "micon.datasets.TiffImageDataset"})
        store.save({"p/good.tiff": image})
        (root / "p" / "broken.tiff").write_bytes(b"\x00" * 10)
        loaded = store.load()  # listing succeeds: partitions load lazily
        np.testing.assert_array_equal(loaded["p/good.tiff"](), image)
        with pytest.raises(DatasetError, match="broken.tiff"):
            loaded["p/broken.tiff"]()


@pytest.mark.realdata
def test_load_reads_the_real_lzw_compressed_phenix_field_through_the_dataset_and_the_file_store():
    """Phenix exports (and many JUMP sources) are LZW-compressed: tifffile decodes them with imagecodecs."""
    folder = require_shared("fields/phenix_field_BR00143976/images/orig")
    name = "r03c03f03p01-ch5sk1fk1fl1.tiff"  # ch5: DNA
    with tifffile.TiffFile(folder / name) as tiff:
        assert tiff.pages[0].compression == tifffile.COMPRESSION.LZW
    image = TiffImageDataset(filepath=str(folder / name)).load()
    assert image.shape == (1080, 1080) and image.dtype == np.uint16
    assert image.max() > image.min()  # decoded, not blank
    np.testing.assert_array_equal(FileStoreDataset(root=str(folder)).load().read_array(name), image)
