import pickle
from pathlib import Path

import pytest
import torch
from kedro.io.core import DatasetError, Version

from micon.datasets import TorchCheckpointDataset


@pytest.fixture
def checkpoint() -> dict:
    return {
        "method": "micon",
        "config": {"embedding_dim": 4, "channels": ["AGP", "DNA"], "dropout": 0.1},
        "state_dict": {
            "encoder.weight": torch.arange(8, dtype=torch.float32).reshape(2, 4),
            "b": torch.ones(2),
        },
    }


@pytest.fixture
def filepath(tmp_path: Path) -> str:
    return (tmp_path / "model.pt").as_posix()


@pytest.fixture
def checkpoint_dataset(filepath) -> TorchCheckpointDataset:
    return TorchCheckpointDataset(filepath=filepath)


@pytest.fixture
def versioned_checkpoint_dataset(filepath) -> TorchCheckpointDataset:
    return TorchCheckpointDataset(filepath=filepath, version=Version(None, None))


def _assert_same(loaded: dict, expected: dict) -> None:
    assert loaded["method"] == expected["method"]
    assert loaded["config"] == expected["config"]
    assert set(loaded["state_dict"]) == set(expected["state_dict"])
    for name, tensor in expected["state_dict"].items():
        assert torch.equal(loaded["state_dict"][name], tensor)
        assert loaded["state_dict"][name].device.type == "cpu"


class _NotAllowed:
    pass


class TestTorchCheckpointDataset:
    def test_save_and_load(self, checkpoint_dataset, checkpoint, tmp_path):
        checkpoint_dataset.save(checkpoint)
        _assert_same(checkpoint_dataset.load(), checkpoint)
        assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]

    def test_exists(self, checkpoint_dataset, checkpoint):
        assert not checkpoint_dataset.exists()
        checkpoint_dataset.save(checkpoint)
        assert checkpoint_dataset.exists()

    def test_save_non_dict_raises(self, checkpoint_dataset):
        with pytest.raises(DatasetError, match="model.pt"):
            checkpoint_dataset.save(torch.zeros(2))

    def test_load_corrupt_names_path(self, checkpoint_dataset, filepath):
        Path(filepath).write_bytes(b"garbage")
        with pytest.raises(DatasetError, match="model.pt"):
            checkpoint_dataset.load()

    def test_load_refuses_arbitrary_objects(self, checkpoint_dataset, filepath):
        torch.save({"config": {}, "obj": _NotAllowed()}, filepath, pickle_module=pickle)
        with pytest.raises(DatasetError, match="model.pt"):
            checkpoint_dataset.load()

    def test_fixed_load_args_refused(self, filepath):
        with pytest.raises(DatasetError, match="weights_only"):
            TorchCheckpointDataset(filepath=filepath, load_args={"weights_only": False})

    def test_failed_save_keeps_previous_file(self, checkpoint_dataset, checkpoint, tmp_path):
        checkpoint_dataset.save(checkpoint)
        with pytest.raises(DatasetError):
            checkpoint_dataset.save({"config": lambda: 0})  # torch.save cannot pickle a lambda
        _assert_same(checkpoint_dataset.load(), checkpoint)
        assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]


class TestTorchCheckpointDatasetVersioned:
    def test_save_and_load(self, versioned_checkpoint_dataset, checkpoint):
        versioned_checkpoint_dataset.save(checkpoint)
        _assert_same(versioned_checkpoint_dataset.load(), checkpoint)

    def test_no_versions(self, versioned_checkpoint_dataset):
        pattern = r"Did not find any versions for .*TorchCheckpointDataset\(.+\)"
        with pytest.raises(DatasetError, match=pattern):
            versioned_checkpoint_dataset.load()

    def test_exists(self, versioned_checkpoint_dataset, checkpoint):
        assert not versioned_checkpoint_dataset.exists()
        versioned_checkpoint_dataset.save(checkpoint)
        assert versioned_checkpoint_dataset.exists()

    def test_prevent_overwrite(self, filepath, checkpoint):
        dataset = TorchCheckpointDataset(filepath=filepath, version=Version(None, "2024-01-01T00.00.00.000Z"))
        dataset.save(checkpoint)
        pattern = (
            r"Save path \'.+\' for .*TorchCheckpointDataset\(.+\) must not exist if versioning is enabled"
        )
        with pytest.raises(DatasetError, match=pattern):
            dataset.save(checkpoint)

    def test_failed_save_leaves_no_loadable_version(self, filepath):
        dataset = TorchCheckpointDataset(filepath=filepath, version=Version(None, None))
        with pytest.raises(DatasetError):
            dataset.save({"config": lambda: 0})
        assert not dataset.exists()
        with pytest.raises(DatasetError, match="Did not find any versions"):
            TorchCheckpointDataset(filepath=filepath, version=Version(None, None)).load()
