"""micon.datasets.FileStore on the S3 emulator: anonymous reads and folder listings of the gallery layout."""

from __future__ import annotations

import pandas as pd
import pytest
from kedro.io.core import DatasetError

from micon import schema
from micon.datasets import FileStoreDataset
from micon.sources.jump.cpg0016 import load_data_key
from tests.jump.conftest import BUCKET, PLATE_WITHOUT_LOAD_DATA, PLATES_WITH_IMAGES, REAL_LOAD_DATA
from tests.shared_data import require_shared

pytestmark = pytest.mark.realdata


@pytest.fixture
def gallery_store(jump_gallery):
    return FileStoreDataset(
        root=f"s3://{BUCKET}",
        fs_args={"anon": True, "client_kwargs": {"endpoint_url": jump_gallery.endpoint_url}},
    ).load()


def test_gallery_store_reads_the_real_load_data_anonymously(gallery_store):
    table = gallery_store.read_parquet(load_data_key(*PLATES_WITH_IMAGES[0]))
    real = pd.read_parquet(require_shared(REAL_LOAD_DATA))
    pd.testing.assert_frame_equal(
        table.iloc[:2].reset_index(drop=True), real.astype("str"), check_dtype=False
    )


def test_gallery_store_existing_and_reads_by_key(gallery_store, jump_gallery):
    keys = [load_data_key(*plate) for plate in (*PLATES_WITH_IMAGES, PLATE_WITHOUT_LOAD_DATA)]
    assert gallery_store.existing(keys) == set(keys[:-1])
    source, batch, plate = PLATES_WITH_IMAGES[1]
    illum_key = f"cpg0016-jump/{source}/images/{batch}/illum/{plate}/{plate}_IllumDNA.npy"
    assert illum_key in gallery_store
    assert (gallery_store.read_array(illum_key) == jump_gallery.illum[plate, schema.NUCLEAR_CHANNEL]).all()
    with pytest.raises(DatasetError, match=keys[-1]):
        gallery_store.read_parquet(keys[-1])
