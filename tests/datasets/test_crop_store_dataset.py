import json
import pickle
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from kedro.io.core import DatasetError, Version

from micon.datasets import (
    CropArray,
    CropPart,
    CropStoreDataset,
    CropStoreWriter,
    CropStoreWriterDataset,
    ShardedCrops,
)
from micon.imaging.crops import StoredCrops

CHANNELS = ["AGP", "DNA", "ER", "Mito", "RNA"]


@pytest.fixture
def crops() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 65535, size=(7, 5, 6, 6), dtype=np.uint16)


@pytest.fixture
def store_path(tmp_path: Path) -> str:
    return (tmp_path / "crop_store").as_posix()


@pytest.fixture
def crop_store(store_path) -> CropStoreDataset:
    return CropStoreDataset(filepath=store_path, channels=CHANNELS)


@pytest.fixture
def versioned_crop_store(store_path, load_version, save_version) -> CropStoreDataset:
    return CropStoreDataset(
        filepath=store_path, channels=CHANNELS, version=Version(load_version, save_version)
    )


@pytest.fixture(params=[None])
def load_version(request):
    return request.param


@pytest.fixture(params=[None])
def save_version(request):
    return request.param


def _named(crops, channels=CHANNELS) -> SimpleNamespace:
    """Crops with their channel names, as the extraction stage saves them."""
    return SimpleNamespace(crops=crops, channels=channels)


def _chunks_then_fail(crops: np.ndarray):
    yield crops[:3]
    raise RuntimeError("renderer crashed")


class TestCropStoreDataset:
    def test_save_and_load(self, crop_store, crops, store_path):
        crop_store.save(crops)
        loaded = crop_store.load()
        assert isinstance(loaded, CropArray)
        assert isinstance(loaded.crops, ShardedCrops)
        assert loaded.channels == tuple(CHANNELS)
        assert loaded.shape == crops.shape
        assert loaded.dtype == np.uint16
        np.testing.assert_array_equal(loaded, crops)
        assert sorted(p.name for p in Path(store_path).iterdir()) == ["_COMPLETE", "meta.json", "parts"]
        meta = json.loads((Path(store_path) / "meta.json").read_text())
        assert {k: meta[k] for k in ("format", "shape", "dtype", "channels")} == {
            "format": "micon-crop-store/2",
            "shape": [7, 5, 6, 6],
            "dtype": "uint16",
            "channels": CHANNELS,
        }
        (part,) = meta["parts"]
        shard_files = [
            p for p in (Path(store_path) / "parts" / part["name"] / part["token"]).rglob("*") if p.is_file()
        ]
        assert sorted(p.name for p in shard_files) == ["0", "zarr.json"]  # one shard per part

    def test_masks_are_stored_as_booleans(self, store_path, crops):
        dataset = CropStoreDataset(filepath=store_path)
        dataset.save(_named(crops[:, :2] > 30000, ["Nuclei", "Cells"]))
        loaded = dataset.load()
        assert loaded.dtype == np.bool_
        np.testing.assert_array_equal(loaded[[4, 1]], crops[[4, 1], :2] > 30000)

    def test_crops_are_compressed_losslessly_with_blosc_lz4(self, store_path):
        # smooth pixels, as a cell's: they compress; the crops read back bit for bit
        yy, xx = np.mgrid[:32, :32]
        smooth = (1000 + 20 * yy + 7 * xx).astype(np.uint16)
        crops = np.stack([np.stack([smooth + 100 * c + i for c in range(5)]) for i in range(32)])
        dataset = CropStoreDataset(filepath=store_path, channels=CHANNELS)
        dataset.save(crops)
        np.testing.assert_array_equal(dataset.load()[:], crops)
        meta = json.loads((Path(store_path) / "meta.json").read_text())
        folder = Path(store_path) / "parts" / meta["parts"][0]["name"] / meta["parts"][0]["token"]
        codecs = json.loads((folder / "zarr.json").read_text())["codecs"][0]["configuration"]["codecs"]
        assert {"name": "blosc"}.items() <= codecs[-1].items()
        assert codecs[-1]["configuration"]["cname"] == "lz4"
        stored = sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())
        assert stored < crops.nbytes / 2

    def test_load_is_read_only(self, crop_store, crops):
        crop_store.save(crops)
        loaded = crop_store.load()
        assert not np.asarray(loaded).flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            loaded[0, 0, 0, 0] = 1
        with pytest.raises(ValueError, match="read-only"):
            loaded[0][0, 0, 0] = 1

    def test_save_iterable_of_chunks(self, crop_store, crops):
        crop_store.save(iter([crops[:2], crops[2:2], crops[2:]]))
        np.testing.assert_array_equal(crop_store.load(), crops)

    def test_save_in_small_write_blocks(self, store_path, crops):
        dataset = CropStoreDataset(filepath=store_path, save_args={"part_crops": 3, "chunk_crops": 2})
        dataset.save(_named(crops[:, :, ::-1]))  # non-contiguous view
        np.testing.assert_array_equal(dataset.load(), crops[:, :, ::-1])

    def test_save_empty_array(self, crop_store):
        crop_store.save(np.zeros((0, 5, 6, 6), dtype=np.uint16))
        loaded = crop_store.load()
        assert loaded.shape == (0, 5, 6, 6)
        assert len(loaded) == 0
        assert loaded.channels == tuple(CHANNELS)
        assert not np.asarray(loaded).flags.writeable
        assert pickle.loads(pickle.dumps(loaded)).shape == (0, 5, 6, 6)

    def test_save_empty_iterable_raises(self, crop_store, store_path):
        with pytest.raises(DatasetError, match="no chunk"):
            crop_store.save(iter([]))
        assert not Path(store_path).exists()

    def test_exists(self, crop_store, crops):
        assert not crop_store.exists()
        crop_store.save(crops)
        assert crop_store.exists()

    def test_overwrite_unversioned(self, crop_store, crops, tmp_path):
        crop_store.save(crops)
        crop_store.save(crops[:2])
        assert crop_store.load().shape == (2, 5, 6, 6)
        assert sorted(p.name for p in tmp_path.iterdir()) == ["crop_store"]

    @pytest.mark.parametrize(
        ("bad", "match"),
        [
            (np.zeros((2, 5, 6, 6), dtype=np.float32), "float32"),
            (np.zeros((5, 6, 6), dtype=np.uint16), "N, C, H, W"),
            (np.zeros((2, 3, 6, 6), dtype=np.uint16), "3 channels"),
            ([[1, 2]], "list"),
        ],
    )
    def test_save_invalid_chunk_raises(self, crop_store, store_path, bad, match):
        with pytest.raises(DatasetError, match=match):
            crop_store.save(bad if isinstance(bad, np.ndarray) else iter(bad))
        assert not Path(store_path).exists()
        assert not Path(store_path + ".partial").exists()

    def test_save_inconsistent_chunks_raises(self, crop_store, crops, store_path):
        with pytest.raises(DatasetError, match=r"chunk 1 has \(C, H, W\)"):
            crop_store.save([crops[:2], crops[2:, :, :4, :4]])
        assert not Path(store_path).exists()

    def test_interrupted_save_leaves_nothing(self, crop_store, crops, store_path):
        with pytest.raises(DatasetError, match="renderer crashed"):
            crop_store.save(_chunks_then_fail(crops))
        assert not Path(store_path).exists()
        assert not Path(store_path + ".partial").exists()
        assert not crop_store.exists()

    def test_stale_partial_is_replaced(self, crop_store, crops, store_path):
        stale = Path(store_path + ".partial")
        stale.mkdir(parents=True)
        (stale / "crops.u16").write_bytes(b"\x01\x02" * 999)
        crop_store.save(crops)
        np.testing.assert_array_equal(crop_store.load(), crops)
        assert not stale.exists()

    def test_load_missing_marker_names_path(self, crop_store, crops, store_path):
        crop_store.save(crops)
        (Path(store_path) / "_COMPLETE").unlink()
        assert not crop_store.exists()
        with pytest.raises(DatasetError, match=r"crop_store.*_COMPLETE"):
            crop_store.load()

    def test_load_of_a_meta_that_does_not_add_up_raises(self, crop_store, crops, store_path):
        crop_store.save(crops)
        meta_path = Path(store_path) / "meta.json"
        meta = json.loads(meta_path.read_text())
        meta["shape"][0] += 1
        meta_path.write_text(json.dumps(meta))
        with pytest.raises(DatasetError, match="parts add up"):
            crop_store.load()

    def test_preview(self, crop_store, crops):
        crop_store.save(crops)
        preview = json.loads(crop_store.preview())
        assert preview == {
            "count": 7,
            "shape": [7, 5, 6, 6],
            "dtype": "uint16",
            "channels": CHANNELS,
            "parts": 1,
        }

    @pytest.mark.parametrize(
        ("kwargs", "match"),
        [
            ({"channels": []}, "channels"),
            ({"save_args": {"bogus": 1}}, "bogus"),
            ({"save_args": {"part_crops": 0}}, "part_crops"),
        ],
    )
    def test_invalid_arguments_raise(self, store_path, kwargs, match):
        with pytest.raises(DatasetError, match=match):
            CropStoreDataset(filepath=store_path, **kwargs)

    def test_describe_in_repr(self, crop_store):
        assert "crop_store" in str(crop_store)

    def test_from_catalog_config(self, store_path, crops):
        from kedro.io import DataCatalog

        catalog = DataCatalog.from_config(
            {
                "crop_store": {
                    "type": "micon.datasets.CropStoreDataset",
                    "filepath": store_path,
                    "versioned": True,
                }
            }
        )
        catalog.save("crop_store", _named(crops))
        loaded = catalog.load("crop_store")
        np.testing.assert_array_equal(loaded, crops)
        assert loaded.channels == tuple(CHANNELS)


class TestCropStoreChannels:
    def test_channels_come_with_the_data(self, store_path, crops):
        dataset = CropStoreDataset(filepath=store_path)
        dataset.save(_named(iter([crops[:3], crops[3:]]), channels=("A", "B", "C", "D", "E")))
        loaded = dataset.load()
        assert loaded.channels == ("A", "B", "C", "D", "E")
        assert json.loads((Path(store_path) / "meta.json").read_text())["channels"] == [
            "A",
            "B",
            "C",
            "D",
            "E",
        ]
        assert json.loads(dataset.preview())["channels"] == ["A", "B", "C", "D", "E"]

    def test_loaded_store_saves_elsewhere_with_its_channels(self, crop_store, crops, tmp_path):
        crop_store.save(crops)
        copy = CropStoreDataset(
            filepath=(tmp_path / "copy").as_posix(), save_args={"part_crops": 3, "chunk_crops": 2}
        )
        copy.save(crop_store.load())
        loaded = copy.load()
        np.testing.assert_array_equal(loaded, crops)
        assert loaded.channels == tuple(CHANNELS)

    def test_bare_array_without_channels_is_refused(self, store_path, crops):
        with pytest.raises(DatasetError, match="without channel names"):
            CropStoreDataset(filepath=store_path).save(crops)
        assert not Path(store_path).exists()

    @pytest.mark.parametrize(
        ("channels", "match"),
        [
            (["AGP", "DNA", "ER", "RNA", "Mito"], "catalog entry gives"),
            ("AGP", "list of names"),
            (["AGP", "AGP", "ER", "Mito", "RNA"], "distinct"),
            ([], "non-empty"),
        ],
    )
    def test_bad_or_mismatched_channels_are_refused(self, crop_store, store_path, crops, channels, match):
        with pytest.raises(DatasetError, match=match):
            crop_store.save(_named(crops, channels=channels))
        assert not Path(store_path).exists()

    def test_channel_count_must_match_the_crops(self, store_path, crops):
        with pytest.raises(DatasetError, match="5 channels, expected 2"):
            CropStoreDataset(filepath=store_path).save(_named(crops, channels=["DNA", "RNA"]))
        assert not Path(store_path).exists()

    def test_store_without_recorded_channels_takes_the_catalogs(self, crop_store, store_path, crops):
        crop_store.save(crops)
        meta_path = Path(store_path) / "meta.json"
        meta_path.write_text(json.dumps({**json.loads(meta_path.read_text()), "channels": None}))
        assert crop_store.load().channels == tuple(CHANNELS)
        with pytest.raises(DatasetError, match="records no channel names"):
            CropStoreDataset(filepath=store_path).load()

    def test_recorded_channels_must_match_the_catalogs(self, store_path, crops):
        CropStoreDataset(filepath=store_path).save(_named(crops, channels=list("ABCDE")))
        with pytest.raises(DatasetError, match="catalog entry gives"):
            CropStoreDataset(filepath=store_path, channels=CHANNELS).load()


class TestCropArray:
    @pytest.fixture
    def loaded(self, crop_store, crops) -> CropArray:
        crop_store.save(crops)
        return crop_store.load()

    @pytest.mark.parametrize(
        "key",
        [
            3,
            -1,
            slice(1, 5),
            slice(None, None, 2),
            np.array([4, 0, 4]),
            [6, 2],
            (slice(None), 0),
            (2, 1, 3, 4),
        ],
        ids=["int", "negative", "slice", "step", "index_array", "list", "tuple", "scalar"],
    )
    def test_indexing_returns_plain_arrays(self, loaded, crops, key):
        item = loaded[key]
        assert type(item) is np.ndarray or np.isscalar(item)
        np.testing.assert_array_equal(item, crops[key])

    def test_behaves_like_the_array(self, loaded, crops):
        assert (loaded.shape, loaded.ndim, loaded.dtype, loaded.size, len(loaded)) == (
            crops.shape,
            4,
            np.uint16,
            crops.size,
            7,
        )
        as_array = np.asarray(loaded)
        assert type(as_array) is np.ndarray
        assert not as_array.flags.writeable
        np.testing.assert_array_equal(np.asarray(loaded, dtype=np.float32), crops.astype(np.float32))
        np.testing.assert_array_equal(np.array(loaded, copy=True), crops)
        assert "AGP" in repr(loaded)

    def test_pickles_as_a_path_not_its_crops(self, loaded, crops):
        payload = pickle.dumps(loaded)
        assert len(payload) < 1000 < crops.nbytes
        restored = pickle.loads(payload)
        assert isinstance(restored.crops, ShardedCrops)
        assert restored.channels == loaded.channels
        np.testing.assert_array_equal(restored[[1, 5]], crops[[1, 5]])

    def test_in_memory_array_is_viewed_read_only_and_checked(self, crops):
        wrapped = CropArray(crops, CHANNELS)
        assert np.shares_memory(np.asarray(wrapped), crops)
        assert crops.flags.writeable
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(wrapped)), crops)
        with pytest.raises(ValueError, match="channels"):
            CropArray(crops, CHANNELS[:2])
        with pytest.raises(ValueError, match="N, C, H, W"):
            CropArray(crops[0], CHANNELS)


class TestCropStoreDatasetVersioned:
    def test_save_and_load(self, versioned_crop_store, crops, store_path):
        versioned_crop_store.save(crops)
        loaded = versioned_crop_store.load()
        assert isinstance(loaded.crops, ShardedCrops)
        np.testing.assert_array_equal(loaded, crops)
        (version_dir,) = Path(store_path).iterdir()
        assert (version_dir / "crop_store" / "_COMPLETE").exists()

    def test_no_versions(self, versioned_crop_store):
        pattern = r"Did not find any versions for .*CropStoreDataset\(.+\)"
        with pytest.raises(DatasetError, match=pattern):
            versioned_crop_store.load()

    def test_exists(self, versioned_crop_store, crops):
        assert not versioned_crop_store.exists()
        versioned_crop_store.save(crops)
        assert versioned_crop_store.exists()

    def test_prevent_overwrite(self, store_path, crops):
        dataset = CropStoreDataset(filepath=store_path, version=Version(None, "2024-01-01T00.00.00.000Z"))
        dataset.save(_named(crops))
        pattern = r"Save path \'.+\' for .*CropStoreDataset\(.+\) must not exist if versioning is enabled"
        with pytest.raises(DatasetError, match=pattern):
            dataset.save(_named(crops))
        np.testing.assert_array_equal(dataset.load(), crops)

    @pytest.mark.parametrize("load_version", ["2019-01-01T23.59.59.999Z"], indirect=True)
    @pytest.mark.parametrize("save_version", ["2019-01-02T00.00.00.000Z"], indirect=True)
    def test_save_version_warning(self, versioned_crop_store, load_version, save_version, crops):
        pattern = (
            f"Save version '{save_version}' did not match load version '{load_version}' "
            r"for .*CropStoreDataset\(.+\)"
        )
        with pytest.warns(UserWarning, match=pattern):
            versioned_crop_store.save(crops)

    def test_latest_version_is_loaded(self, store_path, crops):
        CropStoreDataset(filepath=store_path, version=Version(None, "2024-01-01T00.00.00.000Z")).save(
            _named(crops)
        )
        CropStoreDataset(filepath=store_path, version=Version(None, "2024-01-02T00.00.00.000Z")).save(
            _named(crops[:1])
        )
        assert CropStoreDataset(filepath=store_path, version=Version(None, None)).load().shape[0] == 1
        pinned = CropStoreDataset(filepath=store_path, version=Version("2024-01-01T00.00.00.000Z", None))
        assert pinned.load().shape[0] == 7

    def test_interrupted_save_leaves_no_loadable_version(self, versioned_crop_store, crops, store_path):
        with pytest.raises(DatasetError, match="renderer crashed"):
            versioned_crop_store.save(_chunks_then_fail(crops))
        assert not versioned_crop_store.exists()
        assert list(Path(store_path).rglob("*")) == []
        with pytest.raises(DatasetError, match="Did not find any versions"):
            CropStoreDataset(filepath=store_path, version=Version(None, None)).load()

    def test_interrupted_save_keeps_earlier_version(self, store_path, crops):
        CropStoreDataset(filepath=store_path, version=Version(None, "2024-01-01T00.00.00.000Z")).save(
            _named(crops)
        )
        failing = CropStoreDataset(filepath=store_path, version=Version(None, "2024-01-02T00.00.00.000Z"))
        with pytest.raises(DatasetError):
            failing.save(_named(_chunks_then_fail(crops)))
        latest = CropStoreDataset(filepath=store_path, version=Version(None, None))
        np.testing.assert_array_equal(latest.load(), crops)
        assert [p.name for p in Path(store_path).iterdir()] == ["2024-01-01T00.00.00.000Z"]

    def test_versioning_existing_dataset(self, crop_store, versioned_crop_store, crops):
        crop_store.save(crops)
        assert crop_store.exists()
        with pytest.raises(DatasetError, match="crop_store"):
            versioned_crop_store.save(crops)


class _Extraction:
    """Crops with their channels and the write id of the extraction (as extract_cell_crops returns)."""

    def __init__(self, crops, channels, write_id):
        self.crops, self.channels, self.write_id = crops, channels, write_id


def test_write_id_is_recorded_loaded_and_pickled(store_path, crops):
    import pickle  # noqa: PLC0415

    channels = [f"ch{i}" for i in range(crops.shape[1])]
    dataset = CropStoreDataset(filepath=str(store_path))
    dataset.save(_Extraction(crops, channels, "0123abcd"))
    loaded = dataset.load()
    assert loaded.write_id == "0123abcd"
    assert pickle.loads(pickle.dumps(loaded)).write_id == "0123abcd"
    dataset.save(CropArray(crops, channels))  # no write id: none recorded
    assert dataset.load().write_id is None


class TestCropStoreParts:
    """Crop store v2: parts written by workers, committed atomically, appended, read at random."""

    @staticmethod
    def _writer(path):
        return CropStoreWriter(protocol="file", path=str(path), options={}, chunk_crops=2)

    def test_parts_written_then_committed_read_back_in_order(self, store_path, crops):
        writer = self._writer(store_path)
        second = writer.write_part("plate_2", crops[4:])  # parts may finish in any order
        first = writer.write_part("plate_1", crops[:4])
        dataset = CropStoreDataset(filepath=store_path)
        assert not dataset.exists()  # written parts are invisible until committed
        dataset.save(StoredCrops((first, second), tuple(CHANNELS), "w1", None))
        loaded = dataset.load()
        assert (loaded.shape, loaded.write_id, loaded.crops.n_parts) == (crops.shape, "w1", 2)
        rows = np.array([6, 0, 3, 4, 6])
        np.testing.assert_array_equal(loaded.read(rows), crops[rows])
        np.testing.assert_array_equal(pickle.loads(pickle.dumps(loaded)).read(rows), crops[rows])
        with pytest.raises(IndexError, match="row 7"):
            loaded.read([7])

    def test_parts_too_large_to_cache_are_read_by_runs_of_chunks(self, store_path, crops, monkeypatch):
        writer = self._writer(store_path)
        writer.commit(
            [writer.write_part("p1", crops[:5]), writer.write_part("p2", crops[5:])], channels=CHANNELS
        )
        loaded = CropStoreDataset(filepath=store_path).load()
        monkeypatch.setattr(ShardedCrops, "CACHE_BYTES", 0)
        rows = np.array([4, 0, 1, 6, 4, 5])
        np.testing.assert_array_equal(loaded.read(rows), crops[rows])
        np.testing.assert_array_equal(loaded[1:6], crops[1:6])

    def test_a_plate_is_appended(self, store_path, crops):
        writer = self._writer(store_path)
        writer.commit([writer.write_part("plate_1", crops[:3])], channels=CHANNELS, write_id="a")
        writer.append([writer.write_part("plate_2", crops[3:])], channels=CHANNELS, write_id="b")
        loaded = CropStoreDataset(filepath=store_path).load()
        np.testing.assert_array_equal(loaded, crops)
        assert loaded.write_id == "b"
        with pytest.raises(DatasetError, match="holds channels"):
            writer.append([], channels=list("ABCDE"))
        with pytest.raises(DatasetError, match="repeat"):
            writer.append([writer.write_part("plate_1", crops[:1])], channels=CHANNELS)

    def test_a_failed_part_leaves_nothing_visible(self, store_path, crops, monkeypatch):
        writer = self._writer(store_path)
        kept = writer.write_part("plate_1", crops[:3])

        def fail(*args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr("zarr.core.array.Array.__setitem__", fail)
        with pytest.raises(DatasetError, match=r"part 'plate_2'.*disk full"):
            writer.write_part("plate_2", crops[3:])
        monkeypatch.undo()
        assert not any((Path(store_path) / "parts" / "plate_2").iterdir())
        orphan = CropPart(name="plate_2", token="0" * 32, count=4, chw=crops.shape[1:], dtype="uint16")
        with pytest.raises(DatasetError, match="not fully written"):
            writer.commit([kept, orphan], channels=CHANNELS)
        assert not CropStoreDataset(filepath=store_path).exists()
        writer.commit([kept], channels=CHANNELS)
        np.testing.assert_array_equal(CropStoreDataset(filepath=store_path).load(), crops[:3])

    def test_writer_dataset_writes_into_the_version_the_store_commits(self, store_path, crops):
        version = Version(None, "2026-01-01T00.00.00.000Z")
        writer = CropStoreWriterDataset(filepath=store_path, version=version).load()
        part = writer.write_part("plate_1", crops)
        store = CropStoreDataset(filepath=store_path, version=version)
        store.save(StoredCrops((part,), tuple(CHANNELS), "w", writer.open([part], chw=crops.shape[1:])))
        np.testing.assert_array_equal(
            CropStoreDataset(filepath=store_path, version=Version(None, None)).load(), crops
        )
        with pytest.raises(DatasetError, match="already committed"):
            CropStoreWriterDataset(filepath=store_path, version=version).load()

    def test_uncommitted_version_does_not_shadow_the_latest_complete_one(self, store_path, crops):
        first = Version(None, "2026-01-01T00.00.00.000Z")
        writer = CropStoreWriterDataset(filepath=store_path, version=first).load()
        CropStoreDataset(filepath=store_path, version=first).save(
            StoredCrops((writer.write_part("p", crops[:2]),), tuple(CHANNELS), "w1", None)
        )
        killed = CropStoreWriterDataset(
            filepath=store_path, version=Version(None, "2026-01-02T00.00.00.000Z")
        )
        killed.load().write_part("p", crops)  # the run was killed before its commit
        latest = CropStoreDataset(filepath=store_path, version=Version(None, None))
        assert latest.load().write_id == "w1"

    def test_index_of_another_store_is_refused(self, tmp_path, crops):
        from micon.errors import MismatchedOutputsError  # noqa: PLC0415
        from micon.metadata.provenance import CROP_STORE_ID, require_crops_of_index, with_ids  # noqa: PLC0415

        for name, write_id in (("a", "write-a"), ("b", "write-b")):
            writer = self._writer(tmp_path / name)
            writer.commit([writer.write_part("p", crops)], channels=CHANNELS, write_id=write_id)
        index = with_ids(pd.DataFrame({"Metadata_CropID": range(len(crops))}), **{CROP_STORE_ID: "write-a"})
        require_crops_of_index(
            index, CropStoreDataset(filepath=(tmp_path / "a").as_posix()).load(), "crop_store"
        )
        with pytest.raises(MismatchedOutputsError, match="write-b"):
            require_crops_of_index(
                index, CropStoreDataset(filepath=(tmp_path / "b").as_posix()).load(), "crop_store"
            )
