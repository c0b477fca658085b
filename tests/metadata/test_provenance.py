"""micon.metadata.provenance: content digests and the check that paired outputs come from one write."""

from __future__ import annotations

import io

import numpy as np
import pandas as pd
import pytest
import torch

from micon.errors import MismatchedOutputsError
from micon.metadata.provenance import (
    CHECKPOINT_ID,
    CROP_STORE_ID,
    checkpoint_digest,
    content_digest,
    recorded_id,
    require_crops_of_index,
    require_embeddings_of_checkpoint,
    require_same_write,
    with_ids,
)


def test_content_digest_same_content_same_digest_and_any_change_differs():
    crops = np.arange(2 * 3 * 4 * 4, dtype=np.uint16).reshape(2, 3, 4, 4)
    table = pd.DataFrame({"Metadata_Well": ["A01", "B02"], "x": [1.0, 2.0]})
    digest = content_digest([table, crops])
    assert digest == content_digest([table.copy(), crops.copy()])
    changed = crops.copy()
    changed[1, 2, 3, 3] += 1
    assert digest != content_digest([table, changed])
    assert digest != content_digest([table.iloc[::-1], crops])
    assert digest != content_digest([table, crops.reshape(2, 3, 16)])


def test_content_digest_survives_the_parquet_round_trip(tmp_path):
    table = pd.DataFrame({"Metadata_Well": ["A01", "B02"], "Metadata_CropID": [0, 1]})
    table.to_parquet(tmp_path / "t.parquet")
    assert content_digest([pd.read_parquet(tmp_path / "t.parquet")]) == content_digest([table])


def test_checkpoint_digest_survives_weights_only_round_trip_and_sees_weights():
    checkpoint = {"method": "m", "config": {"dim": 2}, "state_dict": {"w": torch.ones(2, 2)}}
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=True)
    assert checkpoint_digest(loaded) == checkpoint_digest(checkpoint)
    other = {**checkpoint, "state_dict": {"w": torch.full((2, 2), float("nan"))}}
    assert checkpoint_digest(other) != checkpoint_digest(checkpoint)


def test_require_same_write_names_both_outputs_and_ids():
    require_same_write("a1", "a1", first="crop_index", second="crop_store", fix="rerun")
    require_same_write(None, None, first="crop_index", second="crop_store", fix="rerun")
    with pytest.raises(
        MismatchedOutputsError, match=r"crop_index \(write a1\).*crop_store \(write b2\).*rerun"
    ):
        require_same_write("a1", "b2", first="crop_index", second="crop_store", fix="rerun")
    with pytest.raises(MismatchedOutputsError, match="not recorded"):
        require_same_write("a1", None, first="crop_index", second="crop_store", fix="rerun")


def test_require_crops_of_index_reads_the_index_attrs_and_the_store_write_id():
    class Store:
        write_id = "abc"

    index = with_ids(pd.DataFrame({"Metadata_CropID": [0]}), **{CROP_STORE_ID: "abc"})
    assert recorded_id(index, CROP_STORE_ID) == "abc"
    require_crops_of_index(index, Store(), "crop_store")
    with pytest.raises(MismatchedOutputsError, match="crop_masks"):
        require_crops_of_index(with_ids(index.copy(), **{CROP_STORE_ID: "xyz"}), Store(), "crop_masks")


def test_require_embeddings_of_checkpoint_refuses_embeddings_of_another_checkpoint():
    trained = {"method": "micon", "config": {"dim": 2}, "state_dict": {"w": torch.ones(2)}}
    retrained = {**trained, "state_dict": {"w": torch.zeros(2)}}
    embeddings = with_ids(pd.DataFrame({"emb_0000": [0.5]}), **{CHECKPOINT_ID: checkpoint_digest(trained)})
    require_embeddings_of_checkpoint(embeddings, trained, method="micon")
    with pytest.raises(MismatchedOutputsError, match=r"micon.crop_embeddings .*micon.model_checkpoint"):
        require_embeddings_of_checkpoint(embeddings, retrained, method="micon")
