"""micon.datasets.ConfinedPartitionedDataset: partitions never read or written outside the folder."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import tifffile

from micon.datasets import ConfinedPartitionedDataset, TiffImageDataset
from micon.datasets._filesystem import PathOutsideRootError

SECRET = b"root:x:0:0:secret-line\n"


@pytest.fixture
def images(tmp_path: Path) -> Path:
    root = tmp_path / "images"
    (root / "plate").mkdir(parents=True)
    tifffile.imwrite(root / "plate/a.tiff", np.full((2, 2), 7, dtype=np.uint16))
    (tmp_path / "secret.tiff").write_bytes(SECRET)
    (root / "plate/escape.tiff").symlink_to(tmp_path / "secret.tiff")
    (root / "plate/alias.tiff").symlink_to(root / "plate/a.tiff")
    return root


def _dataset(path: Path) -> ConfinedPartitionedDataset:
    return ConfinedPartitionedDataset(path=str(path), dataset={"type": TiffImageDataset})


def test_link_out_of_the_folder_keeps_its_id_but_its_loader_refuses_without_reading(images):
    loaders = _dataset(images).load()
    assert sorted(loaders) == ["plate/a.tiff", "plate/alias.tiff", "plate/escape.tiff"]
    assert loaders["plate/a.tiff"]()[0, 0] == 7
    assert loaders["plate/alias.tiff"]()[0, 0] == 7  # a link inside the folder is fine
    with pytest.raises(PathOutsideRootError, match="plate/escape.tiff.*leaves") as raised:
        loaders["plate/escape.tiff"]()
    assert raised.value.quarantine_reason == "path_outside_root"
    assert "secret" not in str(raised.value)


def test_save_refuses_ids_leaving_the_folder_before_writing(tmp_path):
    dataset = _dataset(tmp_path / "out")
    image = np.zeros((2, 2), dtype=np.uint16)
    for key in ("../escaped.tiff", "/abs.tiff", "a/../../escaped.tiff"):
        with pytest.raises(PathOutsideRootError):
            dataset.save({"ok.tiff": image, key: image})
    assert not (tmp_path / "escaped.tiff").exists() and not (tmp_path / "out").exists()
    dataset.save({"p/ok.tiff": image})
    assert (tmp_path / "out/p/ok.tiff").is_file()


def test_tiff_dataset_error_does_not_quote_the_file(images):
    from kedro.io.core import DatasetError  # noqa: PLC0415

    with pytest.raises(DatasetError, match="TiffFileError") as raised:
        TiffImageDataset(filepath=str(images.parent / "secret.tiff")).load()
    assert "root:x" not in str(raised.value)


def test_overwrite_save_interrupted_keeps_the_previous_folder_whole(tmp_path):
    dataset = ConfinedPartitionedDataset(
        path=str(tmp_path / "out"), dataset={"type": TiffImageDataset}, overwrite=True
    )
    image = np.full((2, 2), 3, dtype=np.uint16)
    dataset.save({"a.tiff": image, "b.tiff": image})

    def interrupted() -> np.ndarray:
        raise KeyboardInterrupt  # the run is stopped while partitions are being written

    with pytest.raises(KeyboardInterrupt):
        dataset.save({"a.tiff": image * 2, "b.tiff": interrupted, "c.tiff": image})
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no partial folder left
    loaders = dataset.load()
    assert sorted(loaders) == ["a.tiff", "b.tiff"]
    assert loaders["a.tiff"]()[0, 0] == 3
    dataset.save({"c.tiff": image})
    assert sorted(dataset.load()) == ["c.tiff"]
