"""micon.datasets.Atomic*: kedro-datasets' file datasets whose saves are complete or absent."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import matplotlib as mpl
import pandas as pd
import pytest
from kedro.io.core import DatasetError, Version

from micon.datasets import (
    AtomicCSVDataset,
    AtomicJSONDataset,
    AtomicMatplotlibDataset,
    AtomicParquetDataset,
    AtomicTextDataset,
)

mpl.use("Agg")

FRAME = pd.DataFrame({"Metadata_Well": ["A01", "B02"], "value": [1.5, 2.5]})


def _frame(value: float) -> pd.DataFrame:
    return FRAME.assign(value=value)


def _visible_files(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*") if p.is_file())


class TestAtomicParquetDatasetVersioned:
    def test_round_trip_and_exists(self, tmp_path: Path):
        dataset = AtomicParquetDataset(filepath=str(tmp_path / "t.parquet"), version=Version(None, None))
        assert not dataset.exists()
        dataset.save(_frame(1.0))
        assert dataset.exists()
        pd.testing.assert_frame_equal(dataset.load(), _frame(1.0))
        # Only the final file is left: no temporary sibling.
        assert [Path(p).name for p in _visible_files(tmp_path)] == ["t.parquet"]

    def test_no_versions_raises(self, tmp_path: Path):
        dataset = AtomicParquetDataset(filepath=str(tmp_path / "t.parquet"), version=Version(None, None))
        with pytest.raises(DatasetError, match="versions"):
            dataset.load()

    def test_second_save_to_one_version_refused(self, tmp_path: Path):
        version = Version(None, "2026-01-01T00.00.00.000Z")
        AtomicParquetDataset(filepath=str(tmp_path / "t.parquet"), version=version).save(_frame(1.0))
        with pytest.raises(DatasetError, match="must not exist"):
            AtomicParquetDataset(filepath=str(tmp_path / "t.parquet"), version=version).save(_frame(2.0))

    def test_save_interrupted_by_exception_keeps_previous_version(self, tmp_path: Path, monkeypatch):
        path = str(tmp_path / "t.parquet")
        AtomicParquetDataset(filepath=path, version=Version(None, None)).save(_frame(1.0))
        dataset = AtomicParquetDataset(filepath=path, version=Version(None, None))

        def fail_midway(self, *args, **kwargs):
            raise OSError("disk full")

        monkeypatch.setattr(pd.DataFrame, "to_parquet", fail_midway)
        with pytest.raises(DatasetError, match="disk full"):
            dataset.save(_frame(2.0))
        monkeypatch.undo()
        assert len(_visible_files(tmp_path)) == 1  # the failed version folder is gone, nothing partial left
        loaded = AtomicParquetDataset(filepath=path, version=Version(None, None)).load()
        pd.testing.assert_frame_equal(loaded, _frame(1.0))


# A child process saves a complete first version, then is killed (SIGKILL) after writing 2 bytes of the
# second: what an interrupted `kedro run` leaves behind.
_KILL_DURING_SAVE = """
import os, signal, sys
import pandas as pd
from kedro.io.core import Version
from kedro_datasets.pandas import ParquetDataset
from micon.datasets import AtomicParquetDataset

cls = AtomicParquetDataset if sys.argv[2] == "atomic" else ParquetDataset
frame = pd.DataFrame({"Metadata_Well": ["A01", "B02"], "value": [1.5, 2.5]})
cls(filepath=sys.argv[1], version=Version(None, None)).save(frame)
dataset = cls(filepath=sys.argv[1], version=Version(None, "9999-12-31T23.59.59.999Z"))
real_open = dataset._fs.open

def killed_open(path, mode="rb", **kwargs):
    handle = real_open(path, mode, **kwargs)
    if "w" in mode:
        handle.write(b"PA")
        handle.flush()
        os.kill(os.getpid(), signal.SIGKILL)
    return handle

dataset._fs.open = killed_open
dataset.save(frame.assign(value=0.0))
"""


def _save_killed_midway(path: Path, kind: str) -> None:
    script = textwrap.dedent(_KILL_DURING_SAVE)
    result = subprocess.run([sys.executable, "-c", script, str(path), kind], check=False, timeout=120)
    assert result.returncode == -9  # killed, as a user's kill -9 would


def test_atomic_parquet_killed_during_save_latest_version_is_previous_complete_one(tmp_path: Path):
    path = tmp_path / "table.parquet"
    _save_killed_midway(path, "atomic")
    loaded = AtomicParquetDataset(filepath=str(path), version=Version(None, None)).load()
    pd.testing.assert_frame_equal(loaded, FRAME)
    # The interrupted version exposes no file under the dataset's name (at most a hidden partial).
    visible = [p for p in _visible_files(tmp_path) if not Path(p).name.startswith(".")]
    assert len(visible) == 1


def test_upstream_parquet_killed_during_save_exposes_the_partial_version(tmp_path: Path):
    """The failure the atomic datasets fix: kedro-datasets' own save leaves a 2-byte latest version."""
    path = tmp_path / "table.parquet"
    _save_killed_midway(path, "upstream")
    latest = sorted(path.glob("*/table.parquet"))[-1]
    assert latest.stat().st_size == 2
    with pytest.raises(DatasetError):
        AtomicParquetDataset(filepath=str(path), version=Version(None, None)).load()


@pytest.mark.parametrize(
    ("cls", "data", "name"),
    [
        (AtomicCSVDataset, FRAME, "t.csv"),
        (AtomicJSONDataset, {"n": 1, "ids": ["a"]}, "t.json"),
        (AtomicTextDataset, "<html></html>", "t.html"),
    ],
)
def test_atomic_datasets_round_trip_versioned_and_unversioned(tmp_path: Path, cls, data, name):
    versioned = cls(filepath=str(tmp_path / "v" / name), version=Version(None, None))
    versioned.save(data)
    plain = cls(filepath=str(tmp_path / "u" / name))
    plain.save(data)
    plain.save(data)  # an unversioned save replaces the file in one move
    for dataset in (versioned, plain):
        loaded = dataset.load()
        if isinstance(data, pd.DataFrame):
            pd.testing.assert_frame_equal(loaded, data)
        else:
            assert loaded == data
    assert all(not Path(p).name.startswith(".") for p in _visible_files(tmp_path))


def test_atomic_matplotlib_dataset_saves_one_figure(tmp_path: Path):
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure = plt.figure()
    dataset = AtomicMatplotlibDataset(filepath=str(tmp_path / "p.png"), version=Version(None, None))
    dataset.save(figure)
    plt.close(figure)
    (saved,) = _visible_files(tmp_path)
    assert saved.endswith("p.png") and (tmp_path / saved).read_bytes()[:4] == b"\x89PNG"
