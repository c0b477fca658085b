from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import tifffile
from kedro.io.core import DatasetError

from micon.datasets import FileStore, FileStoreDataset
from micon.datasets._filesystem import PathOutsideRootError


@pytest.fixture
def store(tmp_path: Path) -> FileStore:
    (tmp_path / "plate" / "Images").mkdir(parents=True)
    tifffile.imwrite(
        tmp_path / "plate/Images/r01c01f01-ch1.tiff", np.arange(12, dtype=np.uint16).reshape(3, 4)
    )
    np.save(tmp_path / "plate/illum.npy", np.full((3, 4), 1.5, dtype=np.float32))
    np.save(tmp_path / "plate/objects.npy", np.array([{"a": 1}], dtype=object))
    pd.DataFrame({"Metadata_Well": ["A01"]}).to_parquet(tmp_path / "plate/load_data.parquet")
    (tmp_path / "plate/notes.txt").write_text("x")
    return FileStoreDataset(root=str(tmp_path)).load()


def test_file_store_reads_tiff_npy_and_parquet_by_key(store):
    np.testing.assert_array_equal(
        store.read_array("plate/Images/r01c01f01-ch1.tiff"), np.arange(12, dtype=np.uint16).reshape(3, 4)
    )
    assert store.loader("plate/illum.npy")().dtype == np.float32
    assert store.read_parquet("plate/load_data.parquet")["Metadata_Well"].tolist() == ["A01"]


def test_file_store_existing_lists_each_folder_once(store):
    keys = ["plate/illum.npy", "plate/missing.npy", "plate/Images/r01c01f01-ch1.tiff", "nowhere/a.tiff"]
    assert store.existing(keys) == {"plate/illum.npy", "plate/Images/r01c01f01-ch1.tiff"}
    assert "plate/illum.npy" in store and "plate/missing.npy" not in store and 3 not in store


def test_file_store_missing_file_raises_naming_key(store):
    with pytest.raises(DatasetError, match="plate/missing.tiff"):
        store.read_array("plate/missing.tiff")


def test_file_store_refuses_pickled_arrays_and_other_types(store):
    with pytest.raises(DatasetError, match="Cannot decode 'plate/objects.npy'"):
        store.read_array("plate/objects.npy")
    with pytest.raises(DatasetError, match="neither an image"):
        store.read_array("plate/notes.txt")
    with pytest.raises(DatasetError, match="Cannot read parquet 'plate/notes.txt'"):
        store.read_parquet("plate/notes.txt")


def test_file_store_dataset_is_read_only_and_exists(tmp_path: Path):
    dataset = FileStoreDataset(root=str(tmp_path))
    assert dataset.exists()
    assert not FileStoreDataset(root=str(tmp_path / "absent")).exists()
    with pytest.raises(DatasetError, match="read-only"):
        dataset.save(FileStoreDataset(root=str(tmp_path)).load())
    assert dataset._describe()["protocol"] == "file"


def test_file_store_dataset_local_mirror_accepts_the_s3_arguments_of_the_jump_catalog(tmp_path: Path):
    np.save(tmp_path / "illum.npy", np.ones((2, 2)))
    dataset = FileStoreDataset(
        root=str(tmp_path), fs_args={"anon": True, "client_kwargs": {"endpoint_url": None}}
    )
    assert dataset.load().existing(["illum.npy"]) == {"illum.npy"}


# --- paths confined to the root ---------------------------------------------------------------------------

SECRET = b"root:x:0:0:secret-line\n"


@pytest.fixture
def mirror(tmp_path: Path) -> tuple[FileStore, Path]:
    """A local mirror with one image, a link inside it to that image, and a link out of it to a secret."""
    root = tmp_path / "mirror"
    (root / "plate").mkdir(parents=True)
    tifffile.imwrite(root / "plate/a.tiff", np.ones((2, 2), dtype=np.uint16))
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (root / "plate/escape.tiff").symlink_to(tmp_path / "secret.txt")
    (root / "plate/alias.tiff").symlink_to(root / "plate/a.tiff")
    return FileStoreDataset(root=str(root)).load(), tmp_path


@pytest.mark.parametrize(
    "key",
    ["../secret.txt", "plate/../../secret.txt", "/etc/passwd", "..", "", "s3://bucket/x", "plate/\x00"],
)
def test_file_store_key_leaving_the_root_is_refused_before_reading(mirror, key):
    store, _ = mirror
    assert store.is_outside_root(key)
    assert key not in store
    assert store.existing([key, "plate/a.tiff"]) == {"plate/a.tiff"}
    with pytest.raises(PathOutsideRootError, match="refused") as raised:
        store.read_bytes(key)
    assert raised.value.quarantine_reason == "path_outside_root"


def test_file_store_link_out_of_a_local_root_is_refused_and_its_content_never_shown(mirror):
    store, _ = mirror
    assert store.is_outside_root("plate/escape.tiff")
    assert store.existing(["plate/escape.tiff"]) == set()
    with pytest.raises(PathOutsideRootError, match="link that leaves it") as raised:
        store.read_array("plate/escape.tiff")
    assert "secret" not in str(raised.value)


def test_file_store_normalised_keys_and_links_inside_the_root_are_read(mirror):
    store, _ = mirror
    assert store.read_array("plate/./alias.tiff").shape == (2, 2)
    assert store.read_array("plate//x/../a.tiff").shape == (2, 2)


def test_file_store_decode_error_does_not_quote_the_file(tmp_path: Path):
    (tmp_path / "fake.tiff").write_bytes(SECRET)
    store = FileStoreDataset(root=str(tmp_path)).load()
    with pytest.raises(DatasetError, match="Cannot decode 'fake.tiff'") as raised:
        store.read_array("fake.tiff")
    assert "root:x" not in str(raised.value) and "<bytes>" in str(raised.value)
