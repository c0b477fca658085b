import socket

import numpy as np
import pandas as pd
import pytest

from micon import schema
from micon.datasets import CropStoreDataset, CropStoreWriterDataset
from micon.errors import InvalidConfigError
from micon.imaging import CropExtractionConfig, extract_crop_table
from micon.imaging.crops import StoredCrops
from micon.imaging.extraction import MASK_PLANES
from micon.imaging.parallel_extraction import ExtractionClusterConfig, extract_crops_to_store, plan_parts
from micon.training.data import read_crops
from tests.imaging.test_extraction import NUCLEI, STAINS, _field, _site_row, _store
from tests.parameters import make_config


@pytest.fixture
def config() -> CropExtractionConfig:
    return make_config(
        CropExtractionConfig,
        "data_engineering.crops",
        crop_size_px=16,
        nuclei={**NUCLEI, "min_area_px": 20, "gaussian_sigma_px": 1.0},
    )


@pytest.fixture
def screen(disc_image):
    """Two plates: three sites on plate_1, one on plate_2."""
    wells_sites = [("A01", "1"), ("A01", "2"), ("B02", "1"), ("C03", "1")]
    rows = [_site_row(w, s) for w, s in wells_sites]
    rows[3][schema.PLATE] = "plate_2"
    sites = pd.DataFrame(rows)
    return sites, _store(wells_sites, [_field(disc_image, i) for i in range(len(wells_sites))])


def _cluster(**overrides) -> ExtractionClusterConfig:
    return make_config(ExtractionClusterConfig, "data_engineering.extraction", **overrides)


def _extract(sites, images, config, cluster, crops_path, masks_path, **store_args):
    crops_writer = CropStoreWriterDataset(filepath=crops_path, **store_args).load()
    masks_writer = CropStoreWriterDataset(filepath=masks_path, **store_args).load()
    stored = extract_crops_to_store(
        sites, images, config, cluster, **STAINS, crops_writer=crops_writer, masks_writer=masks_writer
    )
    crop_store = CropStoreDataset(filepath=crops_path, **store_args)
    mask_store = CropStoreDataset(filepath=masks_path, **store_args)
    crop_store.save(StoredCrops(stored.crop_parts, tuple(STAINS["channels"]), "w", None))
    mask_store.save(StoredCrops(stored.mask_parts, MASK_PLANES, "w", None))
    return stored, crop_store.load(), mask_store.load()


def test_plan_parts_keeps_plates_apart_and_covers_every_site(screen):
    sites, _ = screen
    parts = plan_parts(sites, sites_per_part=2)
    assert [p.positions.tolist() for p in parts] == [[0, 1], [2], [3]]
    assert [p.name for p in parts] == [
        "000000-source_1_plate_1-0000",
        "000001-source_1_plate_1-0001",
        "000002-source_1_plate_2-0000",
    ]


def test_in_process_parts_give_the_crops_of_one_pass(screen, config, tmp_path):
    sites, images = screen
    whole = extract_crop_table(sites, images, config, **STAINS)
    stored, crops, masks = _extract(
        sites, images, config, _cluster(n_workers=0, sites_per_part=2), f"{tmp_path}/c", f"{tmp_path}/m"
    )
    assert crops.crops.n_parts == 3 and masks.dtype == np.bool_
    ids = stored.crop_index[schema.CROP_ID].to_numpy()
    np.testing.assert_array_equal(crops.read(ids), whole.crops)
    np.testing.assert_array_equal(masks.read(ids), whole.masks.astype(bool))
    pd.testing.assert_frame_equal(stored.crop_index, whole.crop_index)
    pd.testing.assert_frame_equal(stored.site_summary, whole.site_summary)


def test_invalid_cluster_config_names_the_field():
    with pytest.raises(InvalidConfigError, match="sites_per_part"):
        _cluster(sites_per_part=0)
    with pytest.raises(InvalidConfigError, match="scheduler_address"):
        _cluster(scheduler_address=" ")


@pytest.fixture
def s3_endpoint():
    """A moto S3 server on 127.0.0.1 (a free port) with a bucket 'crops', stopped after the test."""
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    endpoint = f"http://127.0.0.1:{port}"
    try:
        import boto3  # noqa: PLC0415

        client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_bucket(Bucket="crops")
        yield endpoint
    finally:
        server.stop()


def _s3_options(endpoint: str) -> dict:
    return {
        "key": "testing",
        "secret": "testing",
        "client_kwargs": {"endpoint_url": endpoint, "region_name": "us-east-1"},
    }


@pytest.fixture
def dask_scheduler():
    """An existing Dask cluster of two workers (threads of this process: no process start, no imports)."""
    from distributed import LocalCluster  # noqa: PLC0415

    with LocalCluster(n_workers=2, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        yield cluster.scheduler_address


def test_two_dask_workers_write_the_store_to_s3_and_the_loader_reads_it(
    screen, config, s3_endpoint, dask_scheduler
):
    """The extraction runs on the cluster at ``scheduler_address``; (the LocalCluster it starts by default
    is exercised by benchmarks/bench_extraction_scale.py: starting worker processes costs seconds)."""
    sites, images = screen
    whole = extract_crop_table(sites, images, config, **STAINS)
    options = _s3_options(s3_endpoint)
    store_args = {
        "credentials": {k: options[k] for k in ("key", "secret")},
        "fs_args": {k: v for k, v in options.items() if k not in ("key", "secret")},
    }
    stored, crops, masks = _extract(
        sites,
        images,
        config,
        _cluster(scheduler_address=dask_scheduler, sites_per_part=1),
        "s3://crops/run/crop_store",
        "s3://crops/run/crop_masks",
        **store_args,
    )
    assert crops.crops.n_parts == 4
    ids = stored.crop_index[schema.CROP_ID].to_numpy()
    np.testing.assert_array_equal(crops[ids], whole.crops)
    np.testing.assert_array_equal(masks[ids], whole.masks.astype(bool))
    batch = read_crops(crops, ids[::-1].copy())
    assert batch.shape == whole.crops.shape
    np.testing.assert_array_equal(batch.numpy(), whole.crops[::-1].astype(np.float32))
