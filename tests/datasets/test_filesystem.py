import uuid

import fsspec
import numpy as np
import pytest
import torch
from kedro.io.core import DatasetError

from micon.datasets import TiffImageDataset, TorchCheckpointDataset
from micon.datasets._filesystem import temporary_path, write_atomically


@pytest.fixture(params=["file", "memory"])
def fs_root(request, tmp_path):
    """A fresh folder on the local filesystem or on fsspec's in-memory one."""
    fs = fsspec.filesystem(request.param, **({"auto_mkdir": True} if request.param == "file" else {}))
    root = tmp_path.as_posix() if request.param == "file" else f"/micon-test-{uuid.uuid4().hex}"
    fs.makedirs(root, exist_ok=True)
    yield fs, root
    if request.param == "memory" and fs.exists(root):
        fs.rm(root, recursive=True)


def _listing(fs, root) -> list[str]:
    """Names of every file and folder below ``root`` (not ``root`` itself)."""
    top = fs._strip_protocol(root).rstrip("/")
    return sorted(p.rsplit("/", 1)[-1] for p in fs.find(root, withdirs=True) if p.rstrip("/") != top)


def _write_then_fail(fs, content: bytes):
    def write(tmp_path: str) -> None:
        with fs.open(tmp_path, mode="wb") as handle:
            handle.write(content)
        raise RuntimeError("disk full")

    return write


class TestWriteAtomically:
    def test_file_is_written_and_replaced(self, fs_root):
        fs, root = fs_root
        target = f"{root}/a.bin"
        for content in (b"first", b"second"):
            write_atomically(fs, target, lambda p, c=content: fs.pipe_file(p, c), what="blob")
        assert fs.cat_file(target) == b"second"
        assert _listing(fs, root) == ["a.bin"]

    def test_failed_file_write_leaves_no_file_and_no_temporary(self, fs_root):
        fs, root = fs_root
        target = f"{root}/a.bin"
        with pytest.raises(
            DatasetError, match=r"Cannot write blob '.*a\.bin': RuntimeError: disk full"
        ) as info:
            write_atomically(fs, target, _write_then_fail(fs, b"half"), what="blob")
        assert isinstance(info.value.__cause__, RuntimeError)
        assert _listing(fs, root) == []

    def test_failed_file_write_keeps_the_previous_file(self, fs_root):
        fs, root = fs_root
        target = f"{root}/a.bin"
        fs.pipe_file(target, b"old")
        with pytest.raises(DatasetError):
            write_atomically(fs, target, _write_then_fail(fs, b"new"), what="blob")
        assert fs.cat_file(target) == b"old"
        assert _listing(fs, root) == ["a.bin"]

    def test_failed_folder_write_leaves_no_folder_and_no_partial(self, fs_root):
        fs, root = fs_root
        target = f"{root}/store"

        def write(tmp_path: str) -> None:
            fs.pipe_file(f"{tmp_path}/part", b"x")
            raise RuntimeError("renderer crashed")

        with pytest.raises(DatasetError, match="renderer crashed"):
            write_atomically(fs, target, write, what="store", folder=True)
        assert _listing(fs, root) == []

    def test_folder_replaces_the_old_one_and_a_stale_partial(self, fs_root):
        fs, root = fs_root
        target = f"{root}/store"
        fs.pipe_file(f"{target}/old", b"1")
        fs.pipe_file(f"{temporary_path(target, folder=True)}/stale", b"2")
        write_atomically(fs, target, lambda p: fs.pipe_file(f"{p}/new", b"3"), what="store", folder=True)
        assert _listing(fs, root) == ["new", "store"]

    def test_failure_in_a_version_folder_prunes_it(self, fs_root):
        fs, root = fs_root
        target = f"{root}/model.pt/2024-01-01T00.00.00.000Z/model.pt"
        fs.makedirs(target.rsplit("/", 1)[0], exist_ok=True)
        with pytest.raises(DatasetError):
            write_atomically(fs, target, _write_then_fail(fs, b"x"), what="blob", prune_parent=True)
        assert _listing(fs, root) == ["model.pt"]

    def test_dataset_error_and_interrupt_pass_unchanged_after_clean_up(self, fs_root):
        fs, root = fs_root
        for error in (DatasetError("bad chunk 3"), KeyboardInterrupt()):

            def write(tmp_path: str, error=error) -> None:
                fs.pipe_file(tmp_path, b"x")
                raise error

            with pytest.raises(type(error)) as info:
                write_atomically(fs, f"{root}/a.bin", write, what="blob")
            assert info.value is error
            assert _listing(fs, root) == []

    def test_file_temporary_is_a_hidden_sibling(self):
        tmp = temporary_path("/data/plate/a.tiff", folder=False)
        assert tmp.startswith("/data/plate/.a.tiff.") and tmp.endswith(".partial")
        assert temporary_path("/data/store", folder=True) == "/data/store.partial"


class TestDatasetsOnMemoryFilesystem:
    def test_checkpoint_round_trip_and_failed_save(self):
        root = f"memory:///micon-test-{uuid.uuid4().hex}"  # Kedro reads the path after "memory://"
        dataset = TorchCheckpointDataset(filepath=f"{root}/model.pt")
        dataset.save({"config": {"d": 1}, "state_dict": {"w": torch.ones(2)}})
        with pytest.raises(DatasetError, match="model.pt"):
            dataset.save({"config": lambda: 0})
        assert dataset.load()["config"] == {"d": 1}
        fs = fsspec.filesystem("memory")
        assert _listing(fs, root.removeprefix("memory:/")) == ["model.pt"]
        fs.rm(root.removeprefix("memory:/"), recursive=True)

    def test_tiff_failed_save_leaves_nothing(self):
        root = f"memory:///micon-test-{uuid.uuid4().hex}"  # Kedro reads the path after "memory://"
        dataset = TiffImageDataset(filepath=f"{root}/a.tiff", save_args={"compression": "no-such-codec"})
        with pytest.raises(DatasetError, match="Cannot write TIFF image .*a.tiff"):
            dataset.save(np.zeros((4, 4), dtype=np.uint16))
        assert not dataset.exists()
        fs = fsspec.filesystem("memory")
        assert not fs.exists(root.removeprefix("memory:/")) or not fs.find(root.removeprefix("memory:/"))
