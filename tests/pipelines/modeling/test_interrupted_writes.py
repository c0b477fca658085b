"""A run killed while it writes the crop store: the next modeling run refuses the mismatched pair.

On disk as the catalog keeps them: a versioned crop index (``AtomicParquetDataset``) and a versioned crop
store (``CropStoreDataset``). A first extraction writes both; a second writes its index and is killed
(SIGKILL) while writing its store, so the latest index is the second's and the latest complete store the
first's. Before write ids were recorded, ``embed_cell_crops`` embedded the first extraction's crops under
the second's index without a word.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from kedro.io.core import Version

from micon import schema
from micon.datasets import AtomicParquetDataset, CropStoreDataset
from micon.errors import MismatchedOutputsError
from micon.metadata.provenance import CHECKPOINT_ID, CROP_STORE_ID, checkpoint_digest, recorded_id
from micon.pipelines.data_engineering.nodes import measure_cellprofiler_features
from micon.pipelines.modeling.nodes import embed_cell_crops
from micon.training.methods import get_method
from micon.training.runner import build_untrained_checkpoint
from tests.parameters import parameter
from tests.training.conftest import _build_screen, tiny_model_config_of

# Saves one extraction (argv: index path, store path, npy of crops, extraction number, "kill" or "ok")
# as extract_cell_crops' outputs are saved: the index first, then the store, chunk by chunk.
_SAVE_EXTRACTION = """
import os, signal, sys
import numpy as np, pandas as pd
from kedro.io.core import Version
from micon.datasets import AtomicParquetDataset, CropStoreDataset
from micon.metadata.provenance import CROP_STORE_ID, content_digest, with_ids

class LabelledCrops:  # what extract_cell_crops returns for the store: crops, channels, write id
    def __init__(self, crops, channels, write_id):
        self.crops, self.channels, self.write_id = crops, channels, write_id

index_path, store_path, crops_path, number, mode = sys.argv[1:]
crops = np.load(crops_path)
index = pd.read_parquet(crops_path + ".index.parquet")
if number == "2":  # the second extraction found other cells: other wells, other crops
    index = index.iloc[::-1].reset_index(drop=True)
    index["Metadata_CropID"] = np.arange(len(index))
    crops = np.ascontiguousarray(crops[::-1])
write_id = content_digest([index, crops])
AtomicParquetDataset(filepath=index_path, version=Version(None, None)).save(
    with_ids(index, **{CROP_STORE_ID: write_id})
)

def chunks():
    yield crops[: len(crops) // 2]
    if mode == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    yield crops[len(crops) // 2 :]

store = CropStoreDataset(filepath=store_path, version=Version(None, None))
store.save(LabelledCrops(chunks(), ("AGP", "DNA", "ER", "Mito", "RNA"), write_id))
"""


def _save_extraction(tmp_path: Path, number: str, mode: str) -> int:
    script = textwrap.dedent(_SAVE_EXTRACTION)
    args = [str(tmp_path / "crop_index.parquet"), str(tmp_path / "crop_store"), str(tmp_path / "crops.npy")]
    result = subprocess.run([sys.executable, "-c", script, *args, number, mode], check=False, timeout=120)
    return result.returncode


def _write_inputs(tmp_path: Path) -> None:
    crops, crop_index = _build_screen()
    np.save(tmp_path / "crops.npy", crops[:40])
    crop_index.iloc[:40].to_parquet(str(tmp_path / "crops.npy") + ".index.parquet")


@pytest.fixture(scope="module")
def saved_then_killed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write extraction 1 completely, then extraction 2 killed while writing its store (do not modify)."""
    tmp_path = tmp_path_factory.mktemp("killed")
    _write_inputs(tmp_path)
    assert _save_extraction(tmp_path, "1", "ok") == 0
    assert _save_extraction(tmp_path, "2", "kill") == -9
    return tmp_path


def _load(folder: Path) -> tuple[pd.DataFrame, object]:
    index = AtomicParquetDataset(filepath=str(folder / "crop_index.parquet"), version=Version(None, None))
    store = CropStoreDataset(filepath=str(folder / "crop_store"), version=Version(None, None))
    return index.load(), store.load()


def _untrained_checkpoint() -> dict:
    config = tiny_model_config_of("micon")
    spec = get_method("untrained")
    config = dataclasses.replace(config, parts=spec.model_parts, embedding=spec.embedding)
    return build_untrained_checkpoint(config, method="untrained", seed=0)


def test_killed_crop_store_write_leaves_previous_store_complete_and_no_partial(saved_then_killed):
    index, store = _load(saved_then_killed)
    versions = sorted((saved_then_killed / "crop_store").iterdir())
    assert len(versions) == 2  # the killed save's version folder holds only its .partial
    assert not (versions[-1] / "crop_store").exists()
    assert store.shape[0] == 40  # the first, complete store is the latest loadable one
    assert recorded_id(index, CROP_STORE_ID) != store.write_id


def test_embed_cell_crops_refuses_index_and_store_of_different_writes(saved_then_killed):
    index, store = _load(saved_then_killed)
    params = {**parameter("modeling.embedding"), "batch_size": 16}
    with pytest.raises(MismatchedOutputsError, match="crop_index .*crop_store") as raised:
        embed_cell_crops(_untrained_checkpoint(), store, index, params)
    message = str(raised.value)
    assert recorded_id(index, CROP_STORE_ID) in message and store.write_id in message
    assert "data_engineering" in message


def test_measure_cellprofiler_features_refuses_store_of_other_write(saved_then_killed):
    index, store = _load(saved_then_killed)
    with pytest.raises(MismatchedOutputsError, match="crop_store"):
        measure_cellprofiler_features(store, store, index, parameter("data_engineering.cell_features"))


def test_complete_pair_embeds_and_records_store_and_checkpoint(tmp_path: Path):
    _write_inputs(tmp_path)
    assert _save_extraction(tmp_path, "1", "ok") == 0
    index, store = _load(tmp_path)
    checkpoint = _untrained_checkpoint()
    params = {**parameter("modeling.embedding"), "batch_size": 16}
    embeddings = embed_cell_crops(checkpoint, store, index, params)
    assert embeddings[schema.CROP_ID].tolist() == list(range(40))
    assert recorded_id(embeddings, CROP_STORE_ID) == store.write_id
    assert recorded_id(embeddings, CHECKPOINT_ID) == checkpoint_digest(checkpoint)
    # The ids survive the parquet round trip of the catalog's dataset.
    dataset = AtomicParquetDataset(filepath=str(tmp_path / "emb.parquet"), version=Version(None, None))
    dataset.save(embeddings)
    assert recorded_id(dataset.load(), CHECKPOINT_ID) == checkpoint_digest(checkpoint)


@pytest.mark.slow
def test_session_modeling_after_crop_store_write_interrupted_refuses_to_embed(tmp_path, monkeypatch):
    """The reported failure, end to end: the next `--pipelines modeling` run stops instead of embedding."""
    from kedro.framework.session import KedroSession  # noqa: PLC0415

    from micon.metadata.provenance import content_digest, with_ids  # noqa: PLC0415
    from tests.kedro_project import temporary_project  # noqa: PLC0415

    project = temporary_project(tmp_path, monkeypatch)
    with KedroSession.create(project_path=project, env="test") as session:
        session.run(pipeline_names=["synthetic", "data_engineering"])
        catalog = session.load_context().catalog
    # A second extraction saved its index, then was killed while writing its store.
    index = catalog.load("crop_index")
    reordered = index.iloc[::-1].reset_index(drop=True)
    catalog.save("crop_index", with_ids(reordered, **{CROP_STORE_ID: content_digest([reordered])}))
    with KedroSession.create(project_path=project, env="test") as session:
        with pytest.raises(MismatchedOutputsError, match="crop_index .*crop_store"):
            session.run(pipeline_names=["modeling"])
    assert not (project / "data/test/07_model_output/micon_crop_embeddings.parquet").exists()
